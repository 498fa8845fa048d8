//! Patients' photos and documents in the schema: uploads, the records, their download links.
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::model::{FileKind, FileStatus, PatientFile, PhotoSize};
use super::service::{FileService, UploadRequest};
use crate::audit_trail::{self, AuditAction, AuditEntity};
use crate::core::auth::Role;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Timestamp;
use crate::graphql::upload::Upload;
use crate::modules::job::JobObject;
use crate::modules::patient::WRITERS;

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<FileService>> {
    ctx.data::<Arc<FileService>>()
}

pub(super) fn file_key(id: &ID) -> AppResult<i64> {
    ids::decode_as(NodeType::PatientFile, id).ok_or(AppError::NotFound("file"))
}

fn patient_key(id: &ID) -> AppResult<i64> {
    ids::decode_as(NodeType::Patient, id).ok_or(AppError::PatientNotFound)
}

/// A photo or document of a patient.
#[derive(Clone)]
pub struct PatientFileObject(pub PatientFile);

impl PatientFileObject {
    /// A file being sent to the caller: recorded in the audit trail as read.
    pub fn read(ctx: &Context<'_>, file: PatientFile) -> Self {
        audit_trail::read(ctx, &file);
        Self(file)
    }
}

#[Object(name = "PatientFile")]
impl PatientFileObject {
    /// Opaque global id; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::PatientFile, self.0.id).into()
    }

    async fn kind(&self) -> Result<FileKind> {
        Ok(self
            .0
            .kind()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown file kind")))?)
    }

    async fn status(&self) -> Result<FileStatus> {
        Ok(self
            .0
            .status()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown file status")))?)
    }

    /// The name it was uploaded under (encrypted at rest).
    async fn name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(service(ctx)?.name(&self.0)?)
    }

    /// What the contents are, once processed (a photo is stored as `image/jpeg`); until then,
    /// what the uploader declared.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// In bytes: as announced until processed, then as stored.
    async fn byte_size(&self) -> f64 {
        self.0.byte_size as f64
    }

    /// In pixels for an image; for a PDF, its first page's width in points (1/72 inch).
    async fn width(&self) -> Option<i32> {
        self.0.width
    }

    /// Like `width`.
    async fn height(&self) -> Option<i32> {
        self.0.height
    }

    /// For documents: pages (1 for a scanned image).
    async fn pages(&self) -> Option<i32> {
        self.0.pages
    }

    /// Why a REJECTED file was refused: its code (`UNSUPPORTED_FILE_TYPE`, `FILE_TOO_LARGE`,
    /// `INVALID_FILE`), a colon and a sentence.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The user who uploaded it (a global id).
    async fn uploaded_by(&self) -> ID {
        ids::encode(NodeType::User, self.0.uploaded_by).into()
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at.and_utc().into()
    }

    /// A link to download it (a photo in the size asked for), valid for
    /// `FILES_URL_TTL_SECONDS` (5 minutes by default); null until READY. Each download is
    /// recorded in the audit trail.
    async fn url(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "PhotoSize::Original")] size: PhotoSize,
    ) -> Result<Option<String>> {
        Ok(service(ctx)?.download_link(caller(ctx)?, &self.0, size)?)
    }
}

/// A header to send with an upload's PUT.
#[derive(SimpleObject)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// Where to send a new file's bytes.
#[derive(SimpleObject)]
pub struct UploadTicket {
    /// The file's record, AWAITING_UPLOAD.
    pub file: PatientFileObject,
    /// PUT the bytes here, exactly `byteSize` of them, with `headers`; then `completeUpload`.
    pub url: String,
    pub headers: Vec<HttpHeader>,
    /// The URL works until then.
    pub expires_at: Timestamp,
}

#[derive(InputObject)]
pub struct RequestUploadInput {
    pub patient_id: ID,
    pub kind: FileKind,
    /// The file's name as the user knows it; shown, never used to store it.
    pub name: String,
    /// `image/jpeg`, `image/png`, `image/webp`, or (documents) `application/pdf`. Checked
    /// against the contents when processed.
    pub content_type: String,
    /// In bytes; the upload must be exactly this long.
    pub byte_size: i32,
}

#[derive(Default)]
pub struct FileQuery;

#[Object]
impl FileQuery {
    /// A photo or document, with the rules of its patient's record.
    async fn patient_file(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PatientFileObject>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let file = audit_trail::lookup(ctx, AuditEntity::PatientFile, file_key(&id), |key| {
            service.readable(caller, key)
        })
        .await?;
        Ok(Some(PatientFileObject::read(ctx, file)))
    }
}

#[derive(Default)]
pub struct FileMutation;

#[Object]
impl FileMutation {
    /// Starts adding a photo or document to a patient's record: checks the announced type,
    /// size and the clinic's quota, and answers with where to PUT the bytes (straight to S3
    /// when files are kept there). Then `completeUpload`. Staff who may change patients.
    #[graphql(guard = "RoleGuard::new(WRITERS)")]
    async fn request_upload(
        &self,
        ctx: &Context<'_>,
        input: RequestUploadInput,
    ) -> Result<UploadTicket> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let request = UploadRequest {
            patient_id: patient_key(&input.patient_id)?,
            kind: input.kind,
            name: input.name,
            content_type: input.content_type,
            byte_size: i64::from(input.byte_size),
        };
        let work = service.request_upload(caller, request);
        let upload = audit_trail::create(ctx, AuditAction::RequestUpload, work).await?;
        Ok(UploadTicket {
            file: PatientFileObject(upload.file),
            url: upload.url,
            headers: upload
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            expires_at: upload.expires_at.into(),
        })
    }

    /// The bytes of a requested upload have been sent: the file goes to processing (PENDING,
    /// then READY or REJECTED; `fileUpdated` follows it).
    #[graphql(guard = "RoleGuard::new(WRITERS)")]
    async fn complete_upload(&self, ctx: &Context<'_>, id: ID) -> Result<PatientFileObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let file = audit_trail::write(ctx, AuditAction::CompleteUpload, file_key(&id), |key| {
            service.complete_upload(caller, key)
        })
        .await?;
        Ok(PatientFileObject(file))
    }

    /// A small photo or document in one request (the GraphQL multipart request spec), of at
    /// most `FILES_MULTIPART_MAX_BYTES`; it goes to processing at once. The request must carry
    /// a `GraphQL-Preflight: 1` header, which no cross-site form can send. Staff who may change
    /// patients.
    #[graphql(guard = "RoleGuard::new(WRITERS)")]
    async fn upload_patient_file(
        &self,
        ctx: &Context<'_>,
        patient_id: ID,
        kind: FileKind,
        file: Upload,
    ) -> Result<PatientFileObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let patient_id = patient_key(&patient_id)?;
        let value = file
            .value(ctx)
            .ok_or_else(|| AppError::invalid("file", "no file was sent for this variable"))?;
        let bytes = value.content.to_vec();
        let request = UploadRequest {
            patient_id,
            kind,
            name: value.filename,
            content_type: value
                .content_type
                .unwrap_or_else(|| "application/octet-stream".into()),
            byte_size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        };
        let work = service.upload(caller, request, bytes);
        let file = audit_trail::create(ctx, AuditAction::UploadPatientFile, work).await?;
        Ok(PatientFileObject(file))
    }

    /// Erases a deleted patient's photos and documents from storage, in the background; the
    /// records stay, as the trail of who read what names them. ADMIN only.
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn purge_patient_files(&self, ctx: &Context<'_>, patient_id: ID) -> Result<JobObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = async {
            service
                .purge_patient_files(caller, patient_key(&patient_id)?)
                .await
        };
        let job = audit_trail::create(ctx, AuditAction::PurgePatientFiles, work).await?;
        Ok(JobObject(job))
    }
}
