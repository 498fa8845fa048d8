//! Background jobs as clients see them: what was asked, where it stands, what it produced.
use crate::audit_trail::{AuditEntity, Audited, Subject};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::background_jobs;

/// Where a job stands.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a worker (also between a failed attempt and the next).
    Queued,
    Running,
    Succeeded,
    /// Every attempt failed; `retryJob` queues it again.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }

    pub fn parse(stored: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == stored)
    }
}

/// What a job does.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A database snapshot asked for by a clinic's ADMIN in earlier versions; listed for the
    /// jobs of then. Backups are now the operator's `clinicgraph backup` command.
    #[graphql(deprecation = "backups are the operator's `clinicgraph backup` command")]
    BackupDatabase,
    /// The clinic's patients (those matching a filter) written to a file to download.
    ExportPatients,
    /// An email to the patient: their appointment was scheduled, rescheduled or cancelled.
    AppointmentNotice,
    /// An email to the patient 24 hours before their appointment; skipped if it has moved or
    /// been cancelled since.
    AppointmentReminder,
    /// The clinic's figures for a period, as a PDF and in the job's result: asked for with
    /// `clinicReport`, and made every night for the day before.
    ClinicReport,
    /// The clinic's health data sealed again under the current data key (`rotateDataKeys`).
    RotateDataKeys,
    /// An uploaded photo or document checked and processed (`completeUpload`).
    ProcessFile,
    /// A deleted patient's files erased from storage (`purgePatientFiles`).
    PurgePatientFiles,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::BackupDatabase => "BACKUP_DATABASE",
            JobKind::ExportPatients => "EXPORT_PATIENTS",
            JobKind::AppointmentNotice => "APPOINTMENT_NOTICE",
            JobKind::AppointmentReminder => "APPOINTMENT_REMINDER",
            JobKind::ClinicReport => "CLINIC_REPORT",
            JobKind::RotateDataKeys => "ROTATE_DATA_KEYS",
            JobKind::ProcessFile => "PROCESS_FILE",
            JobKind::PurgePatientFiles => "PURGE_PATIENT_FILES",
        }
    }

    pub fn parse(stored: &str) -> Option<JobKind> {
        [
            JobKind::BackupDatabase,
            JobKind::ExportPatients,
            JobKind::AppointmentNotice,
            JobKind::AppointmentReminder,
            JobKind::ClinicReport,
            JobKind::RotateDataKeys,
            JobKind::ProcessFile,
            JobKind::PurgePatientFiles,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == stored)
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = background_jobs)]
pub struct Job {
    pub id: i64,
    pub clinic_id: i64,
    pub requested_by: i64,
    pub kind: String,
    pub status: String,
    pub progress: i32,
    pub attempts: i32,
    pub error: Option<String>,
    pub result: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub payload: Option<String>,
    pub run_at: Option<NaiveDateTime>,
    pub dedupe_key: Option<String>,
}

impl Job {
    pub fn status(&self) -> Option<JobStatus> {
        JobStatus::parse(&self.status)
    }

    pub fn kind(&self) -> Option<JobKind> {
        JobKind::parse(&self.kind)
    }
}

#[derive(Insertable)]
#[diesel(table_name = background_jobs)]
pub struct NewJob {
    pub clinic_id: i64,
    pub requested_by: i64,
    pub kind: String,
    pub status: String,
    pub progress: i32,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub payload: Option<String>,
    pub run_at: Option<NaiveDateTime>,
    pub dedupe_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` for the clinic, asked for by `requested_by`, waiting for a worker (from
    /// `run_at` on, if given).
    pub fn queued(
        clinic_id: i64,
        requested_by: i64,
        kind: JobKind,
        payload: Option<String>,
        run_at: Option<NaiveDateTime>,
    ) -> Self {
        Self {
            clinic_id,
            requested_by,
            kind: kind.as_str().to_owned(),
            status: JobStatus::Queued.as_str().to_owned(),
            progress: 0,
            attempts: 0,
            created_at: crate::db::now(),
            payload,
            run_at,
            dedupe_key: None,
        }
    }
}

/// The file format of an export.
#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
pub enum ExportFormat {
    /// Comma-separated values, UTF-8, with a header row.
    Csv,
    /// An Excel workbook: one sheet, "Patients", with a header row.
    Xlsx,
    /// A printable table (A4 landscape) of the columns people read: patient number, name,
    /// email, phone, blood group and date of birth. Text is in Windows-1252: characters it
    /// lacks print as '?'.
    Pdf,
}

/// What an export job was asked for (its payload).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExportRequest {
    pub format: ExportFormat,
    pub filter: crate::modules::patient::PatientFilter,
}

/// What an appointment email tells the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Notice {
    Scheduled,
    Rescheduled,
    Cancelled,
    Reminder,
}

impl Notice {
    /// Also the name of its template, `templates/email/<name>.txt`.
    pub fn name(self) -> &'static str {
        match self {
            Notice::Scheduled => "appointment_scheduled",
            Notice::Rescheduled => "appointment_rescheduled",
            Notice::Cancelled => "appointment_cancelled",
            Notice::Reminder => "appointment_reminder",
        }
    }
}

/// What an appointment email job was asked for (its payload). `scheduled_at` is the time the
/// email is about: a reminder whose appointment no longer starts then is not sent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NoticeRequest {
    pub notice: Notice,
    pub appointment_id: i64,
    pub scheduled_at: NaiveDateTime,
}

/// What a report job was asked for (its payload): the clinic's days `from` to `to`, both
/// included, in the clinic's time zone. A daily report schedules the next day's when it runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReportRequest {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub daily: bool,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
}

impl Audited for Job {
    fn audit_subject(&self) -> Subject {
        Subject {
            entity: AuditEntity::Job,
            id: self.id,
            patient_id: None,
        }
    }
}
