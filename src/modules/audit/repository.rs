//! The audit trail's storage: appends and pages, nothing that changes a row.
use std::collections::HashMap;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{AuditEvent, AuditFilter, NewAuditEvent, PendingEvent};
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::db::schema::{audit_events, users};
use crate::db::{DbPool, DbResult};
use crate::{keyset, with_conn};

#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Stores `events`, with each actor's current email.
    async fn append(&self, events: &[PendingEvent]) -> DbResult<()>;
    /// The clinic's events matching `filter`, newest first; at most `page.limit + 1` rows.
    async fn list(
        &self,
        clinic_id: i64,
        filter: &AuditFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<AuditEvent>>;
    async fn count(&self, clinic_id: i64, filter: &AuditFilter) -> DbResult<i64>;
}

pub struct DieselAuditRepository {
    pool: DbPool,
}

impl DieselAuditRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

/// Rows per PostgreSQL INSERT: 13 bound columns each stays below its 65,535 parameters.
const ROWS_PER_INSERT: usize = 2_000;

macro_rules! filtered {
    ($query:expr, $clinic_id:expr, $filter:expr) => {{
        let filter: &AuditFilter = $filter;
        let mut query = $query.filter(audit_events::clinic_id.eq($clinic_id));
        if let Some(patient_id) = filter.patient_id {
            query = query.filter(audit_events::patient_id.eq(patient_id));
        }
        if let Some(actor_id) = filter.actor_id {
            query = query.filter(audit_events::actor_id.eq(actor_id));
        }
        if let Some(action) = filter.action {
            query = query.filter(audit_events::action.eq(action.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(audit_events::occurred_at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(audit_events::occurred_at.lt(to));
        }
        query
    }};
}

#[async_trait]
impl AuditRepository for DieselAuditRepository {
    async fn append(&self, events: &[PendingEvent]) -> DbResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut actor_ids: Vec<i64> = events.iter().map(|event| event.actor_id).collect();
        actor_ids.sort_unstable();
        actor_ids.dedup();
        let emails: HashMap<i64, String> = with_conn!(&self.pool, |conn| users::table
            .filter(users::id.eq_any(&actor_ids))
            .select((users::id, users::email))
            .load::<(i64, String)>(conn)
            .await?
            .into_iter()
            .collect());
        let rows: Vec<NewAuditEvent> = events
            .iter()
            .map(|event| {
                let email = emails.get(&event.actor_id).cloned().unwrap_or_default();
                NewAuditEvent::new(event, email)
            })
            .collect();
        match &self.pool {
            DbPool::Postgres(pool) => {
                let mut conn = pool.get().await?;
                for chunk in rows.chunks(ROWS_PER_INSERT) {
                    diesel::insert_into(audit_events::table)
                        .values(chunk)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }
            // diesel-async has no multi-row INSERT for SQLite; one transaction makes the rows
            // one write all the same.
            DbPool::Sqlite(pool) => {
                let mut conn = pool.get().await?;
                conn.immediate_transaction(async |conn| -> DbResult<()> {
                    for row in &rows {
                        diesel::insert_into(audit_events::table)
                            .values(row)
                            .execute(conn)
                            .await?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &AuditFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<AuditEvent>> {
        // Newest first: forward pages walk back in time.
        let ascending = page.direction == Direction::Backward;
        let key = page.cursor.as_ref().and_then(KeyCursor::time);
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let limit = i64::try_from(page.limit + 1).unwrap_or(i64::MAX);
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                audit_events::table
                    .select(AuditEvent::as_select())
                    .into_boxed(),
                clinic_id,
                filter
            );
            let query = keyset!(
                query,
                audit_events::occurred_at,
                audit_events::id,
                key,
                cursor_id,
                ascending
            );
            Ok(query.limit(limit).load(conn).await?)
        })
    }

    async fn count(&self, clinic_id: i64, filter: &AuditFilter) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                audit_events::table
                    .select(diesel::dsl::count_star())
                    .into_boxed(),
                clinic_id,
                filter
            );
            Ok(query.get_result(conn).await?)
        })
    }
}
