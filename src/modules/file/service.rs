//! The rules of patients' files: who may upload and read them, what is accepted, how large,
//! and how processing moves them along. A file belongs to its patient: whoever may read the
//! patient record may read its files (a PATIENT their own), staff who may change patients may
//! add them, and a deleted patient's files are hidden with them.
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::inspect::{self, Refusal};
use super::links::{FileLinks, Link};
use super::model::{FileKind, FileStatus, NewPatientFile, PatientFile, PhotoSize, codes};
use super::repository::FileRepository;
use crate::config::{Config, FilesConfig};
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult};
use crate::core::pagination::{ConnectionArgs, Page};
use crate::core::sealing::DataKeys;
use crate::core::sealing::fields::PATIENT_FILE_NAME;
use crate::db;
use crate::events::{Event, EventBus};
use crate::modules::job::{Job, JobService};
use crate::modules::patient::{Patient, PatientService};
use crate::storage::{FileStorage, UploadTarget};

/// The declared types each kind accepts; the contents decide in the end.
const PHOTO_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
const DOCUMENT_TYPES: &[&str] = &["application/pdf", "image/jpeg", "image/png", "image/webp"];
const MAX_NAME_CHARS: usize = 255;

/// Staff who may add files to a patient's record: those who may change it.
const UPLOADERS: &[Role] = crate::modules::patient::WRITERS;

pub struct FileService {
    files: Arc<dyn FileRepository>,
    patients: Arc<PatientService>,
    jobs: Arc<JobService>,
    storage: FileStorage,
    links: FileLinks,
    events: EventBus,
    keys: Arc<DataKeys>,
    limits: FileLimits,
}

#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    pub photo_max_bytes: u64,
    pub document_max_bytes: u64,
    pub clinic_quota_bytes: u64,
}

impl FileLimits {
    pub fn of(config: &FilesConfig) -> Self {
        Self {
            photo_max_bytes: config.photo_max_bytes,
            document_max_bytes: config.document_max_bytes,
            clinic_quota_bytes: config.clinic_quota_bytes,
        }
    }

    fn max_bytes(&self, kind: FileKind) -> u64 {
        match kind {
            FileKind::Photo => self.photo_max_bytes,
            FileKind::Document => self.document_max_bytes,
        }
    }
}

/// A new upload: the file's record and where to send its bytes.
pub struct Upload {
    pub file: PatientFile,
    pub url: String,
    /// Headers the PUT must carry (a presigned URL's signature covers them).
    pub headers: Vec<(String, String)>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl crate::audit_trail::Audited for Upload {
    fn audit_subject(&self) -> crate::audit_trail::Subject {
        self.file.audit_subject()
    }
}

/// What a client asked to upload.
pub struct UploadRequest {
    pub patient_id: i64,
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub byte_size: i64,
}

/// A download through a link: the file and the bytes of the size asked for.
pub struct Download {
    pub file: PatientFile,
    pub name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub caller: Caller,
}

/// What the processing job carries.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProcessRequest {
    file_id: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PurgeRequest {
    patient_id: i64,
}

/// A file's status changed: `fileUpdated` subscribers read it again. It carries ids only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEvent {
    pub file_id: i64,
    pub clinic_id: i64,
}

impl Event for FileEvent {
    const CHANNEL: &'static str = "files";
}

fn refused(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::FileRefused {
        code,
        message: message.into(),
    }
}

impl FileService {
    /// Links and limits as `config` sets them.
    pub fn new(
        files: Arc<dyn FileRepository>,
        patients: Arc<PatientService>,
        jobs: Arc<JobService>,
        events: EventBus,
        keys: Arc<DataKeys>,
        storage: FileStorage,
        config: &Config,
    ) -> Self {
        let settings = &config.files;
        Self {
            storage,
            links: FileLinks::new(
                &config.auth.jwt_secret,
                settings.url_ttl,
                settings.public_url.as_deref(),
            ),
            limits: FileLimits::of(settings),
            files,
            patients,
            jobs,
            events,
            keys,
        }
    }

    pub fn links(&self) -> &FileLinks {
        &self.links
    }

    /// The name the file was uploaded under.
    pub fn name(&self, file: &PatientFile) -> AppResult<String> {
        Ok(self.keys.open(PATIENT_FILE_NAME, file.id, &file.name)?)
    }

    fn require_uploader(caller: &Caller) -> AppResult<()> {
        if caller.has_any_role(UPLOADERS) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "your role may not add files to patients",
            ))
        }
    }

    /// Checks what a client announces before any byte is sent (the quota is checked as the
    /// file is recorded).
    fn admit(&self, request: &UploadRequest) -> AppResult<()> {
        let mut problems = Vec::new();
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            problems.push(crate::core::error::FieldViolation::new(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        } else if name.chars().any(char::is_control) {
            problems.push(crate::core::error::FieldViolation::new(
                "name",
                "must not hold control characters",
            ));
        }
        if request.byte_size < 1 {
            problems.push(crate::core::error::FieldViolation::new(
                "byteSize",
                "must be at least 1",
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        let accepted = match request.kind {
            FileKind::Photo => PHOTO_TYPES,
            FileKind::Document => DOCUMENT_TYPES,
        };
        let declared = request.content_type.trim().to_ascii_lowercase();
        if !accepted.contains(&declared.as_str()) {
            return Err(refused(
                codes::UNSUPPORTED_FILE_TYPE,
                format!(
                    "a {} must be one of {}",
                    request.kind.as_str().to_ascii_lowercase(),
                    accepted.join(", ")
                ),
            ));
        }
        let max = self.limits.max_bytes(request.kind);
        let size = u64::try_from(request.byte_size).unwrap_or(0);
        if size > max {
            return Err(refused(
                codes::FILE_TOO_LARGE,
                format!(
                    "a {} may be at most {max} bytes",
                    request.kind.as_str().to_ascii_lowercase()
                ),
            ));
        }
        Ok(())
    }

    async fn create(&self, caller: &Caller, request: &UploadRequest) -> AppResult<PatientFile> {
        Self::require_uploader(caller)?;
        let patient = self.patients.get(caller, request.patient_id).await?;
        self.admit(request)?;
        let row = NewPatientFile {
            clinic_id: caller.clinic_id,
            patient_id: patient.id,
            kind: request.kind.as_str(),
            status: FileStatus::AwaitingUpload.as_str(),
            name: String::new(),
            content_type: request.content_type.trim().to_ascii_lowercase(),
            byte_size: request.byte_size,
            // Generated, never the client's name for the file.
            object_key: format!(
                "{}/{}/{}",
                caller.clinic_id,
                patient.id,
                uuid::Uuid::new_v4().simple()
            ),
            uploaded_by: caller.user_id,
            created_at: db::now(),
        };
        let quota = i64::try_from(self.limits.clinic_quota_bytes).unwrap_or(i64::MAX);
        self.files
            .insert_within(row, request.name.trim(), quota, self.awaited_since())
            .await?
            .ok_or_else(|| {
                refused(
                    codes::STORAGE_QUOTA_EXCEEDED,
                    "the clinic's storage quota is used up: ask an ADMIN to purge deleted \
                     patients' files or to raise the quota",
                )
            })
    }

    /// Records a new file of the patient and says where to send its bytes: straight to the
    /// bucket on S3, else to this service's upload endpoint. Then `complete_upload`.
    pub async fn request_upload(
        &self,
        caller: &Caller,
        request: UploadRequest,
    ) -> AppResult<Upload> {
        let file = self.create(caller, &request).await?;
        let target = self
            .storage
            .upload_target(&file.upload_key(), &file.content_type, self.links.ttl())
            .await
            .map_err(AppError::internal)?;
        let (url, headers, expires_at) = match target {
            UploadTarget::Presigned { url, headers } => {
                let expires_at = chrono::Utc::now()
                    + chrono::Duration::from_std(self.links.ttl()).map_err(AppError::internal)?;
                (url, headers, expires_at)
            }
            UploadTarget::ThroughService => {
                let (url, expires_at) = self
                    .links
                    .upload(caller, (file.id, file.patient_id))
                    .map_err(AppError::internal)?;
                let headers = vec![("content-type".to_owned(), file.content_type.clone())];
                (url, headers, expires_at)
            }
        };
        Ok(Upload {
            file,
            url,
            headers,
            expires_at,
        })
    }

    /// The bytes of an upload sent to this service's endpoint with its link: exactly the
    /// announced size, once.
    pub async fn receive(&self, link: &Link, bytes: Vec<u8>) -> AppResult<()> {
        let file = self.awaiting(&link.caller(), link.file).await?;
        if i64::try_from(bytes.len()).unwrap_or(i64::MAX) != file.byte_size {
            return Err(refused(
                codes::FILE_TOO_LARGE,
                format!(
                    "the body must be exactly the {} bytes announced",
                    file.byte_size
                ),
            ));
        }
        self.storage
            .put(&file.upload_key(), bytes)
            .await
            .map_err(AppError::internal)
    }

    /// A file of the caller's clinic that is waiting for its bytes and that the caller may add
    /// to its patient.
    async fn awaiting(&self, caller: &Caller, id: i64) -> AppResult<PatientFile> {
        Self::require_uploader(caller)?;
        let file = self.readable(caller, id).await?;
        if file.status() != Some(FileStatus::AwaitingUpload) {
            return Err(refused(
                codes::UPLOAD_NOT_RECEIVED,
                "this file is not waiting for an upload",
            ));
        }
        Ok(file)
    }

    /// A file the caller may read: of their clinic, of a live patient they may read, not purged.
    pub async fn readable(&self, caller: &Caller, id: i64) -> AppResult<PatientFile> {
        let not_found = || AppError::NotFound("file");
        let file = self
            .files
            .find(caller.clinic_id, id)
            .await?
            .filter(|file| file.purged_at.is_none())
            .ok_or_else(not_found)?;
        match self.patients.get(caller, file.patient_id).await {
            Ok(_) => Ok(file),
            Err(AppError::PatientNotFound) => Err(not_found()),
            Err(error) => Err(error),
        }
    }

    /// How long an upload is awaited: its link's life, and as long again to complete it. An
    /// upload asked for earlier holds no quota and cannot be completed; the workers mark it
    /// REJECTED ([`FileService::expire_uploads`]).
    pub fn upload_window(&self) -> std::time::Duration {
        self.links.ttl().saturating_mul(2)
    }

    /// Uploads asked for before this are no longer awaited.
    fn awaited_since(&self) -> chrono::NaiveDateTime {
        db::now()
            - chrono::Duration::from_std(self.upload_window()).unwrap_or(chrono::Duration::MAX)
    }

    /// The upload's bytes arrived: the file goes to processing.
    pub async fn complete_upload(&self, caller: &Caller, id: i64) -> AppResult<PatientFile> {
        let file = self.awaiting(caller, id).await?;
        if file.created_at < self.awaited_since() {
            return Err(refused(
                codes::UPLOAD_NOT_RECEIVED,
                "this upload was not completed in time: ask for a new one",
            ));
        }
        let stored = self
            .storage
            .stored_size(&file.upload_key())
            .await
            .map_err(AppError::internal)?;
        let Some(stored) = stored else {
            return Err(refused(
                codes::UPLOAD_NOT_RECEIVED,
                "no bytes have arrived for this file: send them to the upload URL first",
            ));
        };
        // A presigned PUT does not bind its size (this service's own endpoint does).
        if self.storage.presigns() && stored != u64::try_from(file.byte_size).unwrap_or(0) {
            self.storage
                .delete(&file.upload_key())
                .await
                .map_err(AppError::internal)?;
            let reason = format!(
                "the upload was {stored} bytes, not the {} announced",
                file.byte_size
            );
            self.files.reject(file.id, &reason).await?;
            return Err(refused(codes::FILE_TOO_LARGE, reason));
        }
        self.queue_processing(caller, &file).await
    }

    async fn queue_processing(
        &self,
        caller: &Caller,
        file: &PatientFile,
    ) -> AppResult<PatientFile> {
        let moved = self
            .files
            .set_status(file.id, FileStatus::AwaitingUpload, FileStatus::Pending)
            .await?;
        if !moved {
            return Err(refused(
                codes::UPLOAD_NOT_RECEIVED,
                "this file is not waiting for an upload",
            ));
        }
        self.jobs.process_file(caller, file.id).await?;
        self.announce(file).await;
        self.readable(caller, file.id).await
    }

    /// A small file sent inside a GraphQL multipart request: recorded, stored and queued.
    pub async fn upload(
        &self,
        caller: &Caller,
        request: UploadRequest,
        bytes: Vec<u8>,
    ) -> AppResult<PatientFile> {
        let file = self.create(caller, &request).await?;
        self.storage
            .put(&file.upload_key(), bytes)
            .await
            .map_err(AppError::internal)?;
        self.queue_processing(caller, &file).await
    }

    /// The current photo of each of `patient_ids` that has one, by patient: for a caller who
    /// read those patients, so only their clinic's are looked for.
    pub async fn photos(
        &self,
        caller: &Caller,
        patient_ids: &[i64],
    ) -> AppResult<HashMap<i64, PatientFile>> {
        let photos = self.files.photos(caller.clinic_id, patient_ids).await?;
        Ok(photos
            .into_iter()
            .map(|photo| (photo.patient_id, photo))
            .collect())
    }

    /// The patient's documents, newest first, for a caller who read the patient.
    pub async fn documents(
        &self,
        caller: &Caller,
        patient: &Patient,
        args: ConnectionArgs,
    ) -> AppResult<Page<PatientFile>> {
        Self::same_clinic(caller, patient)?;
        let request = args.parse_timed()?;
        let rows = self
            .files
            .list(caller.clinic_id, patient.id, FileKind::Document, &request)
            .await?;
        Ok(Page::from_rows(rows, &request))
    }

    pub async fn count_documents(&self, caller: &Caller, patient: &Patient) -> AppResult<i64> {
        Self::same_clinic(caller, patient)?;
        Ok(self
            .files
            .count(caller.clinic_id, patient.id, FileKind::Document)
            .await?)
    }

    /// A patient record in hand was read for this caller by `PatientService`; this holds only
    /// that it is of their clinic (and, for a PATIENT, their own).
    fn same_clinic(caller: &Caller, patient: &Patient) -> AppResult<()> {
        let own = caller.role != Role::Patient || caller.patient_id == Some(patient.id);
        if patient.clinic_id == caller.clinic_id && own {
            Ok(())
        } else {
            Err(AppError::PatientNotFound)
        }
    }

    /// A link to download `size` of a READY file.
    pub fn download_link(
        &self,
        caller: &Caller,
        file: &PatientFile,
        size: PhotoSize,
    ) -> AppResult<Option<String>> {
        if file.status() != Some(FileStatus::Ready) || file.clinic_id != caller.clinic_id {
            return Ok(None);
        }
        let size = match file.kind() {
            Some(FileKind::Photo) => size,
            _ => PhotoSize::Original,
        };
        let (url, _) = self
            .links
            .download(caller, (file.id, file.patient_id), size)
            .map_err(AppError::internal)?;
        Ok(Some(url))
    }

    /// The file a download link names, checked again now: the caller may still read the
    /// patient, the file is READY and not purged.
    pub async fn download(&self, link: &Link) -> AppResult<Download> {
        let caller = link.caller();
        let file = self.readable(&caller, link.file).await?;
        let size = link
            .size
            .as_deref()
            .and_then(PhotoSize::parse)
            .ok_or(AppError::NotFound("file"))?;
        if file.status() != Some(FileStatus::Ready) || file.patient_id != link.patient {
            return Err(AppError::NotFound("file"));
        }
        let limit = match file.kind() {
            Some(FileKind::Photo) => self.limits.photo_max_bytes,
            _ => self.limits.document_max_bytes,
        }
        // A re-encoded photo may come out larger than it went in.
        .saturating_mul(4);
        let bytes = self
            .storage
            .get(&file.stored_key(size), limit)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("file {} is missing from storage", file.id))
            })?;
        let media_type = file.content_type.clone();
        let name = self.name(&file)?;
        Ok(Download {
            file,
            name,
            media_type,
            bytes,
            caller,
        })
    }

    /// The processing job: checks and processes the file its payload names. At least once:
    /// a file no longer PENDING was done by an earlier run, and is left as it is.
    pub async fn process(&self, job: &Job) -> anyhow::Result<serde_json::Value> {
        let request: ProcessRequest = serde_json::from_str(job.payload.as_deref().unwrap_or(""))?;
        let Some(file) = self.files.find(job.clinic_id, request.file_id).await? else {
            anyhow::bail!("file {} is gone", request.file_id);
        };
        if file.status() != Some(FileStatus::Pending) {
            return Ok(serde_json::json!({ "fileId": file.id, "status": file.status }));
        }
        let kind = file
            .kind()
            .ok_or_else(|| anyhow::anyhow!("file {} has an unknown kind", file.id))?;
        let max = self.limits.max_bytes(kind);
        let bytes = match self.storage.get(&file.upload_key(), max).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => anyhow::bail!("file {}'s upload is missing from storage", file.id),
            Err(error) => {
                // Larger than allowed (a store that does not bind the size): refused.
                tracing::warn!(file_id = file.id, error = %format!("{error:#}"), "reading an upload");
                if self
                    .storage
                    .stored_size(&file.upload_key())
                    .await?
                    .unwrap_or(0)
                    > max
                {
                    let refusal = Refusal {
                        code: codes::FILE_TOO_LARGE,
                        reason: format!("the file is larger than {max} bytes"),
                    };
                    return self.refuse(&file, &refusal).await;
                }
                return Err(error);
            }
        };
        match inspect::inspect_blocking(kind, bytes).await {
            Ok(accepted) => {
                for (size, contents) in accepted.stored {
                    self.storage.put(&file.stored_key(size), contents).await?;
                }
                self.files.accept(file.id, &accepted.facts).await?;
                self.storage.delete(&file.upload_key()).await?;
                self.announce(&file).await;
                Ok(serde_json::json!({ "fileId": file.id, "status": "READY" }))
            }
            Err(refusal) => self.refuse(&file, &refusal).await,
        }
    }

    async fn refuse(
        &self,
        file: &PatientFile,
        refusal: &Refusal,
    ) -> anyhow::Result<serde_json::Value> {
        let reason = format!("{}: {}", refusal.code, refusal.reason);
        self.files.reject(file.id, &reason).await?;
        self.storage.delete(&file.upload_key()).await?;
        self.announce(file).await;
        tracing::info!(
            file_id = file.id,
            code = refusal.code,
            "an uploaded file was rejected"
        );
        Ok(serde_json::json!({ "fileId": file.id, "status": "REJECTED", "code": refusal.code }))
    }

    async fn announce(&self, file: &PatientFile) {
        self.events
            .publish(FileEvent {
                file_id: file.id,
                clinic_id: file.clinic_id,
            })
            .await;
    }

    /// Queues the erasure of a deleted patient's files (ADMIN). A live patient's files stay.
    pub async fn purge_patient_files(&self, caller: &Caller, patient_id: i64) -> AppResult<Job> {
        if caller.role != Role::Admin {
            return Err(AppError::forbidden("only an ADMIN may purge files"));
        }
        if self
            .patients
            .find_in_clinic(caller.clinic_id, patient_id)
            .await?
            .is_some()
        {
            return Err(AppError::InvalidStateTransition {
                entity: "a patient's files",
                action: "purge",
                current: "of a patient not deleted",
            });
        }
        if self
            .files
            .unpurged(caller.clinic_id, patient_id)
            .await?
            .is_empty()
        {
            return Err(AppError::PatientNotFound);
        }
        self.jobs.purge_patient_files(caller, patient_id).await
    }

    /// The purge job: every stored size of each file erased, then the file marked purged.
    pub async fn purge(&self, job: &Job) -> anyhow::Result<serde_json::Value> {
        let request: PurgeRequest = serde_json::from_str(job.payload.as_deref().unwrap_or(""))?;
        let mut purged = 0_u64;
        for file in self
            .files
            .unpurged(job.clinic_id, request.patient_id)
            .await?
        {
            for key in [
                file.upload_key(),
                file.stored_key(PhotoSize::Original),
                file.stored_key(PhotoSize::Medium),
                file.stored_key(PhotoSize::Thumb),
            ] {
                self.storage.delete(&key).await?;
            }
            self.files.mark_purged(file.id, db::now()).await?;
            purged += 1;
        }
        Ok(serde_json::json!({ "patientId": request.patient_id, "purged": purged }))
    }

    /// Each clinic's stored bytes, for `/metrics`, as the quota counts them.
    pub async fn usage_per_clinic(&self) -> AppResult<Vec<(i64, i64)>> {
        Ok(self.files.usage_per_clinic(self.awaited_since()).await?)
    }

    /// Marks the uploads no longer awaited REJECTED (reason: not received in time) and erases
    /// whatever bytes they had sent; returns how many. For the workers' housekeeping: every
    /// worker may run it at once, and each file is expired once.
    pub async fn expire_uploads(&self) -> anyhow::Result<usize> {
        const BATCH: i64 = 500;
        let reason = "the upload was not completed in time";
        let mut expired = 0;
        loop {
            let stale = self
                .files
                .awaited_before(self.awaited_since(), BATCH)
                .await?;
            for file in &stale {
                if self.files.expire_awaited(file.id, reason).await? {
                    self.storage.delete(&file.upload_key()).await?;
                    self.announce(file).await;
                    expired += 1;
                }
            }
            if stale.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return Ok(expired);
            }
        }
    }

    pub fn quota(&self) -> u64 {
        self.limits.clinic_quota_bytes
    }
}

/// How often a watched file is read again even without an event (a lost event, or another
/// instance's without Redis).
const UPDATE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

impl FileService {
    /// The file as it is now, then again whenever its status changes, until it is READY or
    /// REJECTED.
    pub async fn updates(
        self: &Arc<Self>,
        caller: &Caller,
        id: i64,
    ) -> AppResult<impl futures_util::Stream<Item = PatientFile> + use<>> {
        use tokio::sync::broadcast::error::RecvError;
        // Listening before the first read, so no change slips between the two.
        let events = self.events.subscribe::<FileEvent>();
        let first = self.readable(caller, id).await?;
        let service = self.clone();
        let caller = caller.clone();
        let state = (Some(first), None::<PatientFile>, events);
        Ok(futures_util::stream::unfold(
            state,
            move |(pending, last, mut events)| {
                let service = service.clone();
                let caller = caller.clone();
                async move {
                    if let Some(file) = pending {
                        return Some((file.clone(), (None, Some(file), events)));
                    }
                    let last = last?;
                    if matches!(
                        last.status(),
                        Some(FileStatus::Ready | FileStatus::Rejected)
                    ) {
                        return None;
                    }
                    loop {
                        tokio::select! {
                            received = events.recv() => match received {
                                Ok(event) if event.file_id != id => continue,
                                Err(RecvError::Closed) => return None,
                                Ok(_) | Err(RecvError::Lagged(_)) => {}
                            },
                            () = tokio::time::sleep(UPDATE_POLL) => {}
                        }
                        let now = match service.readable(&caller, id).await {
                            Ok(file) => file,
                            // Deleted with its patient, or purged: the stream ends.
                            Err(AppError::NotFound(_)) => return None,
                            Err(error) => {
                                tracing::warn!(file_id = id, error = %error, "reading a watched file");
                                continue;
                            }
                        };
                        if now.status != last.status {
                            return Some((now.clone(), (None, Some(now), events)));
                        }
                    }
                }
            },
        ))
    }
}
