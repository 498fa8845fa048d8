//! Background jobs as clients see them: what was asked, where it stands, what it produced.
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
    /// An online snapshot of the embedded SQLite database into the backup folder.
    BackupDatabase,
    /// The clinic's patients (those matching a filter) written to a file to download.
    ExportPatients,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::BackupDatabase => "BACKUP_DATABASE",
            JobKind::ExportPatients => "EXPORT_PATIENTS",
        }
    }

    pub fn parse(stored: &str) -> Option<JobKind> {
        [JobKind::BackupDatabase, JobKind::ExportPatients]
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
}

/// What an export job was asked for (its payload).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExportRequest {
    pub format: ExportFormat,
    pub filter: crate::modules::patient::model::PatientFilter,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
}
