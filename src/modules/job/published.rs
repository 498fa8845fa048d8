//! Job rows that announce their changes, so `jobUpdated` subscribers (on any instance, when
//! Redis carries the events) read the job again at once instead of at their next poll.
use std::sync::Arc;

use async_trait::async_trait;

use super::model::{Job, JobFilter, NewJob};
use super::repository::JobRepository;
use crate::core::pagination::{KeyCursor, PageRequest};
use crate::db::DbResult;
use serde::{Deserialize, Serialize};

use crate::events::{Event, EventBus};

pub struct PublishedJobRepository {
    inner: Arc<dyn JobRepository>,
    events: EventBus,
}

impl PublishedJobRepository {
    pub fn new(inner: Arc<dyn JobRepository>, events: EventBus) -> Self {
        Self { inner, events }
    }

    async fn changed<T>(&self, id: i64, outcome: DbResult<T>) -> DbResult<T> {
        if outcome.is_ok() {
            self.events.publish(JobEvent { job_id: id }).await;
        }
        outcome
    }
}

#[async_trait]
impl JobRepository for PublishedJobRepository {
    async fn insert(&self, job: NewJob) -> DbResult<Job> {
        // Nobody can be subscribed to a job before it exists.
        self.inner.insert(job).await
    }

    async fn insert_once(&self, job: NewJob) -> DbResult<Option<Job>> {
        self.inner.insert_once(job).await
    }

    async fn find(&self, clinic_id: Option<i64>, id: i64) -> DbResult<Option<Job>> {
        self.inner.find(clinic_id, id).await
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &JobFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Job>> {
        self.inner.list(clinic_id, filter, page).await
    }

    async fn count(&self, clinic_id: i64, filter: &JobFilter) -> DbResult<i64> {
        self.inner.count(clinic_id, filter).await
    }

    async fn start(&self, id: i64, attempt: i32) -> DbResult<()> {
        let outcome = self.inner.start(id, attempt).await;
        self.changed(id, outcome).await
    }

    async fn progress(&self, id: i64, percent: i32) -> DbResult<()> {
        let outcome = self.inner.progress(id, percent).await;
        self.changed(id, outcome).await
    }

    async fn succeed(&self, id: i64, result: &str) -> DbResult<()> {
        let outcome = self.inner.succeed(id, result).await;
        self.changed(id, outcome).await
    }

    async fn fail(&self, id: i64, error: &str, last: bool) -> DbResult<()> {
        let outcome = self.inner.fail(id, error, last).await;
        self.changed(id, outcome).await
    }

    async fn requeue(&self, clinic_id: i64, id: i64) -> DbResult<bool> {
        let outcome = self.inner.requeue(clinic_id, id).await;
        self.changed(id, outcome).await
    }

    async fn waiting(&self) -> DbResult<i64> {
        self.inner.waiting().await
    }
}

/// A background job's row changed (status, progress, attempts): subscribers read it again.
/// It carries no data, so it says nothing to whoever may not read the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    pub job_id: i64,
}

impl Event for JobEvent {
    const CHANNEL: &'static str = "jobs";
}
