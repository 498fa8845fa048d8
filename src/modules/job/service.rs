//! Jobs for callers: asking for one, watching it, and (ADMIN) listing and retrying them. A user
//! sees only their clinic's jobs, and only their own unless ADMIN.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::model::{
    ExportFormat, ExportRequest, Job, JobFilter, JobKind, JobStatus, NewJob, Notice, NoticeRequest,
    ReportRequest,
};
use super::published::JobEvent;
use super::repository::JobRepository;
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult};
use crate::core::pagination::{ConnectionArgs, Page};
use crate::events::EventBus;
use crate::modules::appointment::Appointment;
use crate::modules::appointment::AppointmentChange;
use crate::modules::appointment::AppointmentNotifier;
use crate::modules::patient::PatientFilter;
use crate::modules::patient::PatientService;

/// Hands a job to the workers; behind a trait so the service is tested without a queue.
#[async_trait]
pub trait JobSink: Send + Sync {
    /// `run_at`: not before then (a reminder); `None`: at once.
    async fn enqueue(&self, job_id: i64, run_at: Option<NaiveDateTime>) -> anyhow::Result<()>;
}

/// How often a `jobUpdated` subscriber reads its job when no event says it changed: events
/// do not reach it from a worker in another process without Redis.
const UPDATE_POLL: Duration = Duration::from_secs(2);

pub struct JobService {
    jobs: Arc<dyn JobRepository>,
    sink: Arc<dyn JobSink>,
    events: EventBus,
    /// Checks the filter of an export as it checks the `patients` list's.
    patients: Arc<PatientService>,
}

/// What a subscriber sees of a job.
fn changed(before: &Job, after: &Job) -> bool {
    (
        &before.status,
        before.progress,
        before.attempts,
        &before.error,
    ) != (&after.status, after.progress, after.attempts, &after.error)
}

fn new_job(
    caller: &Caller,
    kind: JobKind,
    payload: Option<String>,
    run_at: Option<NaiveDateTime>,
) -> NewJob {
    NewJob::queued(caller.clinic_id, caller.user_id, kind, payload, run_at)
}

/// Why a job is FAILED that never reached a worker.
const QUEUE_REFUSED: &str = "the job queue did not accept the job";

fn require_admin(caller: &Caller) -> AppResult<()> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden("only an ADMIN may do this with jobs"))
    }
}

impl JobService {
    pub fn new(
        jobs: Arc<dyn JobRepository>,
        sink: Arc<dyn JobSink>,
        events: EventBus,
        patients: Arc<PatientService>,
    ) -> Self {
        Self {
            jobs,
            sink,
            events,
            patients,
        }
    }

    /// A queued job's row, for the worker that took it (any clinic's: the job was authorized
    /// when it was requested).
    pub async fn claim(&self, id: i64) -> AppResult<Option<Job>> {
        Ok(self.jobs.find(None, id).await?)
    }

    /// A worker started attempt `attempt` of the job.
    pub async fn start(&self, id: i64, attempt: i32) -> AppResult<()> {
        Ok(self.jobs.start(id, attempt).await?)
    }

    pub async fn progress(&self, id: i64, percent: i32) -> AppResult<()> {
        Ok(self.jobs.progress(id, percent).await?)
    }

    pub async fn succeed(&self, id: i64, result: &str) -> AppResult<()> {
        Ok(self.jobs.succeed(id, result).await?)
    }

    /// The attempt failed: back to QUEUED (`last` false) or FAILED for good.
    pub async fn fail(&self, id: i64, error: &str, last: bool) -> AppResult<()> {
        Ok(self.jobs.fail(id, error, last).await?)
    }

    /// Stores `job` unless a job with its `dedupe_key` exists, and hands it to the workers;
    /// false if it existed.
    pub async fn queue_once(&self, job: NewJob) -> anyhow::Result<bool> {
        let Some(job) = self.jobs.insert_once(job).await? else {
            return Ok(false);
        };
        self.hand_over(job).await?;
        Ok(true)
    }

    /// Jobs waiting to run, across clinics: an operator's figure (`/metrics`), no caller's.
    pub async fn waiting(&self) -> AppResult<i64> {
        Ok(self.jobs.waiting().await?)
    }

    /// Another clinic's job, or another user's for a non-ADMIN, is "not found".
    pub async fn get(&self, caller: &Caller, id: i64) -> AppResult<Job> {
        self.jobs
            .find(Some(caller.clinic_id), id)
            .await?
            .filter(|job| caller.role == Role::Admin || job.requested_by == caller.user_id)
            .ok_or(AppError::NotFound("job"))
    }

    /// The job as it is now, then each time it changes, until it has SUCCEEDED or FAILED.
    /// Another clinic's job, or another user's for a non-ADMIN, is "not found".
    pub async fn updates(
        &self,
        caller: &Caller,
        id: i64,
    ) -> AppResult<impl Stream<Item = Job> + use<>> {
        // Listening before the first read, so no change slips between the two.
        let events = self.events.subscribe::<JobEvent>();
        let first = self.get(caller, id).await?;
        let jobs = self.jobs.clone();
        let clinic_id = caller.clinic_id;
        let state = (Some(first), None::<Job>, events);
        Ok(futures_util::stream::unfold(
            state,
            move |(pending, last, mut events)| {
                let jobs = jobs.clone();
                async move {
                    if let Some(job) = pending {
                        return Some((job.clone(), (None, Some(job), events)));
                    }
                    let last = last?;
                    if matches!(
                        last.status(),
                        Some(JobStatus::Succeeded | JobStatus::Failed)
                    ) {
                        return None;
                    }
                    loop {
                        tokio::select! {
                            received = events.recv() => match received {
                                Ok(event) if event.job_id != id => continue,
                                Err(RecvError::Closed) => return None,
                                // Ours, or missed ones that may have been: read it again.
                                Ok(_) | Err(RecvError::Lagged(_)) => {}
                            },
                            () = tokio::time::sleep(UPDATE_POLL) => {}
                        }
                        let now = match jobs.find(Some(clinic_id), id).await {
                            Ok(Some(job)) => job,
                            Ok(None) => return None,
                            Err(error) => {
                                tracing::warn!(job_id = id, error = %error, "reading a watched job");
                                continue;
                            }
                        };
                        if changed(&last, &now) {
                            return Some((now.clone(), (None, Some(now), events)));
                        }
                    }
                }
            },
        ))
    }

    pub async fn list(
        &self,
        caller: &Caller,
        filter: &JobFilter,
        args: ConnectionArgs,
    ) -> AppResult<Page<Job>> {
        require_admin(caller)?;
        let request = args.parse_timed()?;
        let rows = self.jobs.list(caller.clinic_id, filter, &request).await?;
        Ok(Page::from_rows(rows, &request))
    }

    pub async fn count(&self, caller: &Caller, filter: &JobFilter) -> AppResult<i64> {
        require_admin(caller)?;
        Ok(self.jobs.count(caller.clinic_id, filter).await?)
    }

    /// Queues a FAILED job again, its attempts counted from zero.
    pub async fn retry(&self, caller: &Caller, id: i64) -> AppResult<Job> {
        require_admin(caller)?;
        let job = self.get(caller, id).await?;
        if !self.jobs.requeue(caller.clinic_id, id).await? {
            let current = job.status().map_or("UNKNOWN", JobStatus::as_str);
            return Err(AppError::InvalidStateTransition {
                entity: "a job",
                action: "retry",
                current,
            });
        }
        self.hand_over(job).await?;
        self.get(caller, id).await
    }

    /// Starts writing the clinic's patients matching `filter` to a file; answers at once.
    pub async fn export_patients(
        &self,
        caller: &Caller,
        format: ExportFormat,
        filter: PatientFilter,
    ) -> AppResult<Job> {
        require_admin(caller)?;
        let filter = self.patients.filter(caller, filter).await?;
        let payload =
            serde_json::to_string(&ExportRequest { format, filter }).map_err(AppError::internal)?;
        self.submit(caller, JobKind::ExportPatients, Some(payload), None)
            .await
    }

    /// Starts sealing the clinic's health data again under the current data key; answers at
    /// once. Two such jobs at once do no harm: each skips what the other has done.
    pub async fn rotate_data_keys(&self, caller: &Caller) -> AppResult<Job> {
        require_admin(caller)?;
        self.submit(caller, JobKind::RotateDataKeys, None, None)
            .await
    }

    /// Queues the processing of an uploaded file, which the caller was allowed to upload
    /// (`FileService` decided); answers at once.
    pub async fn process_file(&self, caller: &Caller, file_id: i64) -> AppResult<Job> {
        let payload = serde_json::json!({ "fileId": file_id }).to_string();
        self.submit(caller, JobKind::ProcessFile, Some(payload), None)
            .await
    }

    /// Queues the erasure of a deleted patient's files, which the caller was allowed to ask
    /// for (`FileService` decided); answers at once.
    pub async fn purge_patient_files(&self, caller: &Caller, patient_id: i64) -> AppResult<Job> {
        require_admin(caller)?;
        let payload = serde_json::json!({ "patientId": patient_id }).to_string();
        self.submit(caller, JobKind::PurgePatientFiles, Some(payload), None)
            .await
    }

    /// Starts a report of the clinic's days `from` to `to` (both included, in its time zone);
    /// answers at once.
    pub async fn clinic_report(
        &self,
        caller: &Caller,
        from: NaiveDate,
        to: NaiveDate,
    ) -> AppResult<Job> {
        require_admin(caller)?;
        if to < from {
            return Err(AppError::invalid("to", "must not be before `from`"));
        }
        // The report runs to the start of the next day, which must exist.
        if to.succ_opt().is_none() {
            return Err(AppError::invalid(
                "to",
                "must be before the last day of year 9999",
            ));
        }
        if (to - from).num_days() >= MAX_REPORT_DAYS {
            return Err(AppError::invalid(
                "to",
                format!("a report covers at most {MAX_REPORT_DAYS} days"),
            ));
        }
        let request = ReportRequest {
            from,
            to,
            daily: false,
        };
        let payload = serde_json::to_string(&request).map_err(AppError::internal)?;
        self.submit(caller, JobKind::ClinicReport, Some(payload), None)
            .await
    }

    async fn submit(
        &self,
        caller: &Caller,
        kind: JobKind,
        payload: Option<String>,
        run_at: Option<NaiveDateTime>,
    ) -> AppResult<Job> {
        let job = self
            .jobs
            .insert(new_job(caller, kind, payload, run_at))
            .await?;
        self.hand_over(job).await
    }

    /// Like `submit`, unless a job with `key` exists; `None` then.
    async fn submit_once(&self, job: NewJob, key: String) -> AppResult<Option<Job>> {
        let job = NewJob {
            dedupe_key: Some(key),
            ..job
        };
        let Some(job) = self.jobs.insert_once(job).await? else {
            return Ok(None);
        };
        self.hand_over(job).await.map(Some)
    }

    /// Gives a stored job to the workers. A queue that does not take it (Redis away) leaves
    /// it FAILED with the reason, so nobody waits for it in vain and `retryJob` queues it
    /// again; whoever asked for it is answered with the job as it now stands, not an error.
    async fn hand_over(&self, job: Job) -> AppResult<Job> {
        let Err(error) = self.sink.enqueue(job.id, job.run_at).await else {
            return Ok(job);
        };
        tracing::warn!(job_id = job.id, error = ?error, "{QUEUE_REFUSED}");
        self.jobs.fail(job.id, QUEUE_REFUSED, true).await?;
        self.jobs
            .find(None, job.id)
            .await?
            .ok_or(AppError::NotFound("job"))
    }
}

/// The longest period one report covers (a leap year).
const MAX_REPORT_DAYS: i64 = 366;

/// A reminder goes out this long before the appointment.
const REMINDER_LEAD: chrono::TimeDelta = chrono::TimeDelta::hours(24);

#[async_trait]
impl AppointmentNotifier for JobService {
    /// An email for each scheduled, rescheduled or cancelled appointment, and a reminder due
    /// `REMINDER_LEAD` before a (re)scheduled one. A reminder already queued for an earlier
    /// time is not touched: it finds the appointment moved when it runs, and skips. One for
    /// the same time is not queued twice (an appointment moved away and back).
    async fn appointment_changed(
        &self,
        caller: &Caller,
        change: AppointmentChange,
        appointment: &Appointment,
    ) {
        let notice = match change {
            AppointmentChange::Scheduled => Notice::Scheduled,
            AppointmentChange::Rescheduled => Notice::Rescheduled,
            AppointmentChange::Cancelled => Notice::Cancelled,
            AppointmentChange::StatusChanged => return,
        };
        let mut emails = vec![(JobKind::AppointmentNotice, notice, None)];
        let due = appointment.scheduled_at - REMINDER_LEAD;
        // Booked less than a day ahead, there is no moment for a reminder: the notice is it.
        if notice != Notice::Cancelled && due > crate::db::now() {
            emails.push((JobKind::AppointmentReminder, Notice::Reminder, Some(due)));
        }
        for (kind, notice, run_at) in emails {
            let request = NoticeRequest {
                notice,
                appointment_id: appointment.id,
                scheduled_at: appointment.scheduled_at,
            };
            let payload = match serde_json::to_string(&request) {
                Ok(payload) => Some(payload),
                Err(error) => {
                    tracing::error!(%error, "encoding an appointment email's payload");
                    continue;
                }
            };
            let queued = if notice == Notice::Reminder {
                // Moved away and back: the reminder queued for that time still holds.
                let key = format!("reminder:{}:{}", appointment.id, appointment.scheduled_at);
                let job = new_job(caller, kind, payload, run_at);
                self.submit_once(job, key).await.map(|_| ())
            } else {
                self.submit(caller, kind, payload, run_at).await.map(|_| ())
            };
            // The job, if its row exists, is FAILED and can be retried; nothing more to do.
            if let Err(error) = queued {
                tracing::error!(
                    appointment_id = appointment.id,
                    kind = kind.as_str(),
                    error = ?error,
                    "queueing an appointment email"
                );
            }
        }
    }
}
