//! Job rows: created by the API, moved along by workers.
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{Job, JobFilter, JobStatus, NewJob};
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::db::limit::limited;
use crate::db::schema::background_jobs;
use crate::db::{DbPool, DbResult, now};
use crate::{in_transaction, insert_returning, keyset, single_write, with_conn};

#[async_trait]
pub trait JobRepository: Send + Sync {
    async fn insert(&self, job: NewJob) -> DbResult<Job>;
    /// Inserts unless a job with the same `dedupe_key` exists; `None` then.
    async fn insert_once(&self, job: NewJob) -> DbResult<Option<Job>>;
    /// A job of the clinic (`None` for a worker, which serves every clinic).
    async fn find(&self, clinic_id: Option<i64>, id: i64) -> DbResult<Option<Job>>;
    /// Newest first, at most `page.limit + 1`.
    async fn list(
        &self,
        clinic_id: i64,
        filter: &JobFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Job>>;
    async fn count(&self, clinic_id: i64, filter: &JobFilter) -> DbResult<i64>;
    /// A worker took the job: RUNNING, this attempt's number.
    async fn start(&self, id: i64, attempt: i32) -> DbResult<()>;
    async fn progress(&self, id: i64, percent: i32) -> DbResult<()>;
    async fn succeed(&self, id: i64, result: &str) -> DbResult<()>;
    /// The attempt failed: back to QUEUED (`last` false) or FAILED for good.
    async fn fail(&self, id: i64, error: &str, last: bool) -> DbResult<()>;
    /// A FAILED job back to QUEUED, attempts from zero; false if it was not FAILED.
    async fn requeue(&self, clinic_id: i64, id: i64) -> DbResult<bool>;
    /// Jobs queued (and due) or running, across clinics (the queue's depth).
    async fn waiting(&self) -> DbResult<i64>;
}

pub struct DieselJobRepository {
    pool: DbPool,
}

impl DieselJobRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

macro_rules! filtered {
    ($query:expr, $clinic_id:expr, $filter:expr) => {{
        let filter: &JobFilter = $filter;
        let mut query = $query.filter(background_jobs::clinic_id.eq($clinic_id));
        if let Some(status) = filter.status {
            query = query.filter(background_jobs::status.eq(status.as_str()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(background_jobs::kind.eq(kind.as_str()));
        }
        query
    }};
}

#[async_trait]
impl JobRepository for DieselJobRepository {
    async fn insert(&self, job: NewJob) -> DbResult<Job> {
        in_transaction!(&self.pool, |conn| Ok(insert_returning!(
            conn,
            background_jobs,
            &job,
            Job
        )))
    }

    /// `None` when a job with the same dedupe key is there already: the insert meets its
    /// unique index, on every backend alike (MySQL has no `ON CONFLICT DO NOTHING` whose
    /// answer tells an insert from a conflict).
    async fn insert_once(&self, job: NewJob) -> DbResult<Option<Job>> {
        let inserted = in_transaction!(&self.pool, |conn| Ok(insert_returning!(
            conn,
            background_jobs,
            &job,
            Job
        )));
        match inserted {
            Ok(job) => Ok(Some(job)),
            Err(error) if error.is_unique_violation_of("dedupe") => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn find(&self, clinic_id: Option<i64>, id: i64) -> DbResult<Option<Job>> {
        with_conn!(&self.pool, |conn| {
            let mut query = background_jobs::table
                .filter(background_jobs::id.eq(id))
                .select(Job::as_select())
                .into_boxed();
            if let Some(clinic_id) = clinic_id {
                query = query.filter(background_jobs::clinic_id.eq(clinic_id));
            }
            Ok(query.first(conn).await.optional()?)
        })
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &JobFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Job>> {
        let ascending = page.direction == Direction::Backward;
        let key = page.cursor.as_ref().and_then(KeyCursor::time);
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let rows = page.limit + 1;
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                background_jobs::table.select(Job::as_select()).into_boxed(),
                clinic_id,
                filter
            );
            let query = keyset!(
                query,
                background_jobs::created_at,
                background_jobs::id,
                key,
                cursor_id,
                ascending
            );
            Ok(limited(query, rows).load_rows(conn).await?)
        })
    }

    async fn count(&self, clinic_id: i64, filter: &JobFilter) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                background_jobs::table
                    .select(diesel::dsl::count_star())
                    .into_boxed(),
                clinic_id,
                filter
            );
            Ok(query.get_result(conn).await?)
        })
    }

    async fn start(&self, id: i64, attempt: i32) -> DbResult<()> {
        single_write!(&self.pool, |conn| {
            diesel::update(background_jobs::table.find(id))
                .set((
                    background_jobs::status.eq(JobStatus::Running.as_str()),
                    background_jobs::attempts.eq(attempt),
                    background_jobs::started_at.eq(Some(now())),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn progress(&self, id: i64, percent: i32) -> DbResult<()> {
        single_write!(&self.pool, |conn| {
            diesel::update(background_jobs::table.find(id))
                .set(background_jobs::progress.eq(percent.clamp(0, 100)))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn succeed(&self, id: i64, result: &str) -> DbResult<()> {
        single_write!(&self.pool, |conn| {
            diesel::update(background_jobs::table.find(id))
                .set((
                    background_jobs::status.eq(JobStatus::Succeeded.as_str()),
                    background_jobs::progress.eq(100),
                    background_jobs::error.eq(None::<String>),
                    background_jobs::result.eq(Some(result)),
                    background_jobs::finished_at.eq(Some(now())),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn fail(&self, id: i64, error: &str, last: bool) -> DbResult<()> {
        let (status, finished_at) = if last {
            (JobStatus::Failed, Some(now()))
        } else {
            (JobStatus::Queued, None)
        };
        single_write!(&self.pool, |conn| {
            diesel::update(background_jobs::table.find(id))
                .set((
                    background_jobs::status.eq(status.as_str()),
                    background_jobs::error.eq(Some(error)),
                    background_jobs::finished_at.eq(finished_at),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn requeue(&self, clinic_id: i64, id: i64) -> DbResult<bool> {
        single_write!(&self.pool, |conn| {
            let changed = diesel::update(
                background_jobs::table
                    .filter(background_jobs::id.eq(id))
                    .filter(background_jobs::clinic_id.eq(clinic_id))
                    .filter(background_jobs::status.eq(JobStatus::Failed.as_str())),
            )
            .set((
                background_jobs::status.eq(JobStatus::Queued.as_str()),
                background_jobs::attempts.eq(0),
                background_jobs::progress.eq(0),
                background_jobs::started_at.eq(None::<chrono::NaiveDateTime>),
                background_jobs::finished_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)
            .await?;
            Ok(changed == 1)
        })
    }

    async fn waiting(&self) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| Ok(background_jobs::table
            .filter(
                background_jobs::status
                    .eq_any([JobStatus::Queued.as_str(), JobStatus::Running.as_str()])
            )
            // A reminder days ahead is not work waiting for a worker.
            .filter(
                background_jobs::run_at
                    .is_null()
                    .or(background_jobs::run_at.le(now()))
            )
            .count()
            .get_result(conn)
            .await?))
    }
}
