//! The workers: take a job id from the queue, run the job its row describes, and keep the row
//! up to date. Failed attempts are retried with exponential back-off up to `JOB_MAX_ATTEMPTS`;
//! the last failure leaves the job FAILED with its error (and dead in the queue, never run
//! again unless `retryJob` queues it anew).
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::layers::retry::backoff::{ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{BackoffRetryPolicy, HasherRng, RetryPolicy};
use apalis::prelude::*;

use super::export;
use super::export_files::ExportFiles;
use super::mail::{Mailer, Outbox, SmtpMailer};
use super::pdf::PdfFonts;
use super::queue::{JobMessage, JobQueue};
use super::{files, housekeeping, notify, report, rotate_keys, schedule};
use crate::config::Config;
use crate::db::DbPool;
use crate::modules::clinic::model::Clinic;
use crate::modules::job::model::{Job, JobKind, JobStatus};
use crate::modules::job::service::JobSink;
use crate::modules::registry::Services;

/// What a job may use. Jobs read and write through the services, as requests do; a job acts
/// for its clinic, having been authorized when it was requested.
#[derive(Clone)]
pub struct JobContext {
    pub services: Services,
    /// For jobs that queue others (a daily report, the next day's).
    pub queue: Arc<dyn JobSink>,
    pub exports: Arc<ExportFiles>,
    /// How long a finished export or report may be downloaded (`EXPORT_TTL_HOURS`).
    pub export_ttl: Duration,
    /// The fonts of PDF exports and reports (`PDF_FONT` adds one).
    pub pdf_fonts: Arc<PdfFonts>,
    pub mailer: Arc<dyn Mailer>,
    /// The address appointment emails come from, under the clinic's name.
    pub mail_from: lettre::Address,
    pub pool: DbPool,
    pub max_attempts: u32,
}

impl JobContext {
    pub fn new(
        config: &Config,
        pool: &DbPool,
        services: &Services,
        queue: Arc<dyn JobSink>,
    ) -> anyhow::Result<Self> {
        let mail = &config.jobs.mail;
        let mailer: Arc<dyn Mailer> = match &mail.smtp_url {
            Some(url) => Arc::new(SmtpMailer::new(url)?),
            None => {
                if config.is_production() {
                    tracing::warn!("SMTP_URL is not set: appointment emails go to the outbox only");
                }
                Arc::new(Outbox::new(mail.outbox_dir.clone()))
            }
        };
        let pdf_fonts = match &config.jobs.pdf_font {
            Some(path) => PdfFonts::with_fallback(path)?,
            None => PdfFonts::builtin(),
        };
        Ok(Self {
            pdf_fonts: Arc::new(pdf_fonts),
            services: services.clone(),
            queue,
            exports: Arc::new(ExportFiles::new(
                config.jobs.export_dir.clone(),
                services.storage.clone(),
            )),
            export_ttl: config.jobs.export_ttl,
            mailer,
            mail_from: mail.from.clone(),
            pool: pool.clone(),
            max_attempts: config.jobs.max_attempts,
        })
    }

    /// The clinic the job is for.
    pub async fn clinic_of(&self, job: &Job) -> anyhow::Result<Clinic> {
        self.services
            .clinics
            .find(job.clinic_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the job's clinic is gone"))
    }
}

/// The first retry waits this long; each next one twice as long, up to a minute.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LONGEST_WAIT: Duration = Duration::from_secs(60);
/// Jobs one process runs at once.
const CONCURRENCY: usize = 4;
/// How often an idle worker looks for work.
const POLL: Duration = Duration::from_millis(500);
/// On SIGTERM, how long the job in hand may take to finish; shorter than the time after which
/// other workers would take it over (`HEARTBEAT` × `MISSED_HEARTBEATS`).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(12);

async fn run_job(
    message: JobMessage,
    attempt: Attempt,
    context: Data<JobContext>,
) -> Result<(), BoxDynError> {
    let attempt = u32::try_from(attempt.current()).unwrap_or(u32::MAX).max(1);
    let Some(job) = context.services.jobs.claim(message.job_id).await? else {
        tracing::warn!(job_id = message.job_id, "queued job has no row; skipped");
        return Ok(());
    };
    // At least once: a job whose worker died after finishing may come round again.
    if job.status() == Some(JobStatus::Succeeded) {
        return Ok(());
    }
    let kind = job.kind.clone();
    context
        .services
        .jobs
        .start(job.id, i32::try_from(attempt).unwrap_or(i32::MAX))
        .await?;
    let started = Instant::now();
    let outcome = perform(&context, &job).await;
    metrics::histogram!("job_duration_seconds", "kind" => kind.clone())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(result) => {
            context
                .services
                .jobs
                .succeed(job.id, &result.to_string())
                .await?;
            metrics::counter!("jobs_finished_total", "kind" => kind, "outcome" => "succeeded")
                .increment(1);
            Ok(())
        }
        Err(error) => {
            let last = attempt >= context.max_attempts;
            let message = format!("{error:#}");
            tracing::warn!(job_id = job.id, attempt, last, error = %message, "job attempt failed");
            context.services.jobs.fail(job.id, &message, last).await?;
            let outcome = if last { "failed" } else { "retried" };
            metrics::counter!("jobs_finished_total", "kind" => kind, "outcome" => outcome)
                .increment(1);
            if last {
                // Dead: neither the retry layer nor the queue's own retries run it again.
                Err(AbortError::new(std::io::Error::other(message)).into())
            } else {
                Err(std::io::Error::other(message).into())
            }
        }
    }
}

async fn perform(context: &JobContext, job: &Job) -> anyhow::Result<serde_json::Value> {
    match job.kind() {
        // Queued by an earlier version, when a clinic's ADMIN could ask for one: a snapshot
        // holds every clinic's data, so only an operator makes one now.
        Some(JobKind::BackupDatabase) => {
            anyhow::bail!("backups are made by the operator's `clinicgraph backup` command")
        }
        Some(JobKind::ExportPatients) => export::run(context, job).await,
        Some(JobKind::AppointmentNotice | JobKind::AppointmentReminder) => {
            notify::run(context, job).await
        }
        Some(JobKind::ClinicReport) => report::run(context, job).await,
        Some(JobKind::RotateDataKeys) => rotate_keys::run(context, job).await,
        Some(JobKind::ProcessFile) => files::process(context, job).await,
        Some(JobKind::PurgePatientFiles) => files::purge(context, job).await,
        None => anyhow::bail!("unknown job kind {:?}", job.kind),
    }
}

fn retry_policy(max_attempts: u32) -> anyhow::Result<BackoffRetryPolicy<ExponentialBackoff>> {
    let mut backoff =
        ExponentialBackoffMaker::new(FIRST_RETRY, LONGEST_WAIT, 0.5, HasherRng::default())
            .map_err(|e| anyhow::anyhow!("job back-off: {e}"))?;
    let retries = usize::try_from(max_attempts.saturating_sub(1)).unwrap_or(0);
    Ok(RetryPolicy::retries(retries).with_backoff(backoff.make_backoff()))
}

/// A name no other live worker has (the queue refuses a second worker of the same name).
fn worker_name() -> String {
    format!(
        "clinicgraph-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Runs the workers until `shutdown` resolves; then the jobs in hand finish (for at most
/// `SHUTDOWN_GRACE`) and nothing new is taken.
pub async fn run_workers(
    queue: JobQueue,
    context: JobContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let policy = retry_policy(context.max_attempts)?;
    let signal = async move {
        shutdown.await;
        Ok(())
    };
    let keeper = tokio::spawn(schedule::keep_daily_reports(context.clone()));
    let tidier = tokio::spawn(housekeeping::keep_tidy(context.clone()));
    // A worker whose queue fails (Redis away longer than one reconnection tries) ends; it is
    // started again, so that the queue is used once it is back. Starting waits for the queue's
    // next reconnection, so this is no busy loop.
    let monitor = Monitor::new()
        .shutdown_timeout(SHUTDOWN_GRACE)
        .should_restart(|_, _| true);
    let monitor = match queue {
        JobQueue::Redis(storage) => monitor.register(move |_| {
            WorkerBuilder::new(worker_name())
                .backend(storage.clone().poll_with_interval(POLL))
                .data(context.clone())
                .concurrency(CONCURRENCY)
                .retry(policy.clone())
                .build(run_job)
        }),
        JobQueue::Sqlite(storage) => monitor.register(move |_| {
            WorkerBuilder::new(worker_name())
                .backend(storage.clone().poll_with_interval(POLL))
                .data(context.clone())
                .concurrency(CONCURRENCY)
                .retry(policy.clone())
                .build(run_job)
        }),
    };
    let stopped = monitor
        .run_with_signal(signal)
        .await
        .map_err(|e| anyhow::anyhow!("job workers stopped: {e}"));
    keeper.abort();
    tidier.abort();
    stopped
}
