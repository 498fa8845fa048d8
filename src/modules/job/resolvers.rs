//! `job`, `jobs`, `retryJob` and the mutations that start jobs.
use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Result};

use super::model::{ExportFormat, Job, JobFilter, JobKind, JobStatus};
use super::service::JobService;
use crate::audit_trail;
use crate::audit_trail::AuditAction;
use crate::core::auth::Role;
use crate::core::error::{AppError, AppResult};
use crate::core::pagination::{ConnectionArgs, KeyCursor};
use crate::graphql::connection::{Connection, page_cost, respond};
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::modules::patient::PatientFilterInput;

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<JobService>> {
    ctx.data::<Arc<JobService>>()
}

pub(super) fn job_key(id: &ID) -> AppResult<i64> {
    id.parse().map_err(|_| AppError::NotFound("job"))
}

/// Work done in the background; poll `job(id)` or subscribe to follow it.
#[derive(Clone)]
pub struct JobObject(pub Job);

#[Object(name = "Job")]
impl JobObject {
    async fn id(&self) -> ID {
        self.0.id.to_string().into()
    }

    async fn kind(&self) -> Result<JobKind> {
        Ok(self
            .0
            .kind()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown job kind")))?)
    }

    async fn status(&self) -> Result<JobStatus> {
        Ok(self
            .0
            .status()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown job status")))?)
    }

    /// 0 to 100.
    async fn progress(&self) -> i32 {
        self.0.progress
    }

    /// Attempts made so far (the current one included while RUNNING).
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// Why the last attempt failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// What the job produced, once SUCCEEDED.
    async fn result(&self) -> Option<Json<serde_json::Value>> {
        self.0
            .result
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .map(Json)
    }

    /// When a delayed job (a reminder) is due; null for one that runs at once.
    async fn run_at(&self) -> Option<Timestamp> {
        self.0.run_at.map(|t| t.and_utc().into())
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at.and_utc().into()
    }

    async fn started_at(&self) -> Option<Timestamp> {
        self.0.started_at.map(|t| t.and_utc().into())
    }

    async fn finished_at(&self) -> Option<Timestamp> {
        self.0.finished_at.map(|t| t.and_utc().into())
    }
}

#[derive(Default)]
pub struct JobQuery;

#[Object]
impl JobQuery {
    /// A job of the caller's clinic: their own, or any for an ADMIN.
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<JobObject>> {
        let job = service(ctx)?.get(caller(ctx)?, job_key(&id)?).await?;
        Ok(Some(JobObject(job)))
    }

    /// The clinic's jobs, newest first. ADMIN only.
    #[graphql(
        guard = "RoleGuard::new(&[Role::Admin])",
        complexity = "page_cost(first, None, child_complexity)"
    )]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        status: Option<JobStatus>,
        kind: Option<JobKind>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<JobObject>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let filter = JobFilter { status, kind };
        let args = ConnectionArgs {
            first,
            after,
            ..Default::default()
        };
        let page = service.list(caller, &filter, args).await?;
        let count = service.count(caller, &filter);
        let cursor = |job: &Job| KeyCursor::at(job.created_at, job.id);
        respond(ctx, page, count, cursor, JobObject).await
    }
}

#[derive(Default)]
pub struct JobMutation;

#[Object]
impl JobMutation {
    /// Queues a FAILED job again. ADMIN only.
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> Result<JobObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let job = audit_trail::write(ctx, AuditAction::RetryJob, job_key(&id), |key| {
            service.retry(caller, key)
        })
        .await?;
        Ok(JobObject(job))
    }

    /// Writes the clinic's patients matching `filter` to a file and answers at once with the
    /// job; once it has SUCCEEDED, `GET /exports/{jobId}` with the same token downloads it (for
    /// `EXPORT_TTL_HOURS`). ADMIN only.
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn export_patients(
        &self,
        ctx: &Context<'_>,
        format: ExportFormat,
        filter: Option<PatientFilterInput>,
    ) -> Result<JobObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let filter = filter.unwrap_or_default().into_filter()?;
        let work = service.export_patients(caller, format, filter);
        let job = audit_trail::create(ctx, AuditAction::ExportPatients, work).await?;
        Ok(JobObject(job))
    }

    /// Seals the clinic's health data again under the current data key (the one marked `*` in
    /// `DATA_KEYS`), in batches, while the API goes on serving; answers at once with the job.
    /// Its result says `done: true` once no value of the clinic is under another key: when
    /// every clinic's job has said so, older keys can leave the keyring. ADMIN only.
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn rotate_data_keys(&self, ctx: &Context<'_>) -> Result<JobObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = service.rotate_data_keys(caller);
        let job = audit_trail::create(ctx, AuditAction::RotateDataKeys, work).await?;
        Ok(JobObject(job))
    }

    /// Reports the clinic's days `from` to `to` (both included, in the clinic's time zone):
    /// appointments by status, the no-show rate, new patients and active prescriptions by
    /// medication, in the job's result and as a PDF (`GET /exports/{jobId}`); answers at once
    /// with the job. At most 366 days. A report of the day before is also made every night.
    /// ADMIN only.
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn clinic_report(&self, ctx: &Context<'_>, from: Date, to: Date) -> Result<JobObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let work = service.clinic_report(caller, from.0, to.0);
        let job = audit_trail::create(ctx, AuditAction::ClinicReport, work).await?;
        Ok(JobObject(job))
    }
}
