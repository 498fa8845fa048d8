//! The audit trail's storage: appends and pages, nothing that changes a row.
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{AuditEvent, AuditFilter, NewAuditEvent, PendingEvent};
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::db::limit::limited;
use crate::db::schema::{audit_event_patients, audit_events, users};
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
    /// The next request's group. Groups count up from a random start per process: no round
    /// trip and no coordination between instances, and each instance's new entries in the two
    /// indexes that hold groups land side by side, at the end of each patient's run, rather
    /// than on pages all over them.
    next_group: AtomicI64,
}

impl DieselAuditRepository {
    pub fn new(pool: DbPool) -> Self {
        // Below 2^62, so that counting up never overflows; far above the ids of the events
        // stored before groups, which are each a group of their own (migration 000011).
        let start = rand::random::<i64>().rem_euclid(1 << 62) | (1 << 61);
        Self {
            pool,
            next_group: AtomicI64::new(start),
        }
    }
}

/// One statement for any number of rows on PostgreSQL, events and their patient index
/// together: each column goes as one array parameter and `UNNEST` turns the arrays back into
/// rows. A multi-row `VALUES` has 13 parameters per row, and PostgreSQL parses and plans all of
/// them on every write, which under load cost more than storing the rows.
///
/// A query type of its own rather than `sql_query`, which diesel never keeps prepared: with it
/// PostgreSQL parsed and planned this statement for every write (a tenth of its CPU per request
/// when each request reads one patient, `bench/README.md`); now each connection prepares it
/// once.
struct UnnestInsert {
    events: UnnestColumns,
    /// The patient index's rows, column by column.
    link_patients: Vec<i64>,
    link_groups: Vec<i64>,
}

impl UnnestInsert {
    /// `links` are the patient index's rows, as (group, patient). The rows' `actor_email` is
    /// not sent: the statement reads each actor's current email itself.
    fn new(rows: Vec<NewAuditEvent>, links: &[(i64, i64)]) -> Self {
        let mut events = UnnestColumns::default();
        for row in rows {
            events.occurred_at.push(row.occurred_at);
            events.clinic_id.push(row.clinic_id);
            events.actor_id.push(row.actor_id);
            events.actor_role.push(row.actor_role);
            events.action.push(row.action);
            events.entity_type.push(row.entity_type);
            events.entity_ids.push(row.entity_ids);
            events.patient_ids.push(row.patient_ids);
            events.field.push(row.field);
            events.outcome.push(row.outcome);
            events.request_id.push(row.request_id);
            events.client_ip.push(row.client_ip);
            events.group_id.push(row.group_id);
        }
        Self {
            events,
            link_patients: links.iter().map(|link| link.1).collect(),
            link_groups: links.iter().map(|link| link.0).collect(),
        }
    }
}

impl diesel::query_builder::QueryId for UnnestInsert {
    type QueryId = ();
    // Cached by its text, which never changes.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for UnnestInsert {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
        let events = &self.events;
        // Each actor's email comes from a subquery per row rather than a join, which could
        // store a write's events in another order than they were sent.
        out.push_sql(
            "WITH stored AS (INSERT INTO audit_events (occurred_at, clinic_id, actor_id, \
             actor_email, actor_role, action, entity_type, entity_ids, patient_ids, field, \
             outcome, request_id, client_ip, group_id) SELECT e.occurred_at, e.clinic_id, \
             e.actor_id, COALESCE((SELECT email FROM users WHERE users.id = e.actor_id), ''), \
             e.actor_role, e.action, e.entity_type, e.entity_ids, e.patient_ids, e.field, \
             e.outcome, e.request_id, e.client_ip, e.group_id FROM UNNEST(",
        );
        out.push_bind_param::<Array<Timestamp>, _>(&events.occurred_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&events.clinic_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&events.actor_id)?;
        for texts in [
            &events.actor_role,
            &events.action,
            &events.entity_type,
            &events.entity_ids,
            &events.patient_ids,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Text>, _>(texts)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&events.field)?;
        for texts in [&events.outcome, &events.request_id, &events.client_ip] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Text>, _>(texts)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&events.group_id)?;
        out.push_sql(
            ") AS e (occurred_at, clinic_id, actor_id, actor_role, action, entity_type, \
             entity_ids, patient_ids, field, outcome, request_id, client_ip, group_id)) \
             INSERT INTO audit_event_patients (patient_id, group_id) SELECT * FROM UNNEST(",
        );
        out.push_bind_param::<Array<BigInt>, _>(&self.link_patients)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.link_groups)?;
        out.push_sql(")");
        Ok(())
    }
}

/// The rows of one write, column by column.
#[derive(Default)]
struct UnnestColumns {
    occurred_at: Vec<chrono::NaiveDateTime>,
    clinic_id: Vec<i64>,
    actor_id: Vec<i64>,
    actor_role: Vec<String>,
    action: Vec<String>,
    entity_type: Vec<String>,
    entity_ids: Vec<String>,
    patient_ids: Vec<String>,
    field: Vec<Option<String>>,
    outcome: Vec<String>,
    request_id: Vec<String>,
    client_ip: Vec<String>,
    group_id: Vec<i64>,
}

macro_rules! filtered {
    ($query:expr, $clinic_id:expr, $filter:expr) => {{
        let filter: &AuditFilter = $filter;
        let mut query = $query.filter(audit_events::clinic_id.eq($clinic_id));
        if let Some(patient_id) = filter.patient_id {
            // The groups (requests) whose events name the patient, from the index the writer
            // keeps; then, of their events, those that name the patient themselves.
            let groups = audit_event_patients::table
                .filter(audit_event_patients::patient_id.eq(patient_id))
                .select(audit_event_patients::group_id);
            // `patient_ids` is `1,2,3`: patient 2 is `,2,` in `,1,2,3,`.
            let listed = ","
                .into_sql::<diesel::sql_types::Text>()
                .concat(audit_events::patient_ids)
                .concat(",");
            query = query
                .filter(audit_events::group_id.eq_any(groups))
                .filter(listed.like(format!("%,{patient_id},%")));
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

impl DieselAuditRepository {
    /// The current email of each actor of `events`.
    async fn actor_emails(&self, events: &[PendingEvent]) -> DbResult<HashMap<i64, String>> {
        let mut actor_ids: Vec<i64> = events.iter().map(|event| event.actor_id).collect();
        actor_ids.sort_unstable();
        actor_ids.dedup();
        with_conn!(&self.pool, |conn| Ok(users::table
            .filter(users::id.eq_any(&actor_ids))
            .select((users::id, users::email))
            .load::<(i64, String)>(conn)
            .await?
            .into_iter()
            .collect()))
    }
}

#[async_trait]
impl AuditRepository for DieselAuditRepository {
    async fn append(&self, events: &[PendingEvent]) -> DbResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // PostgreSQL's statement reads the emails itself: a round trip fewer per write.
        let emails = match &self.pool {
            DbPool::Postgres(_) => HashMap::new(),
            _ => self.actor_emails(events).await?,
        };
        // One group per request: its events name the same patients over and over (a page of
        // patients, their appointments, their prescriptions), and the patient index takes one
        // row per patient and group, written with the events. Should two instances ever hand
        // out the same group, lookups stay exact (each event found through a group is checked
        // for the patient) and a clash in the index fails the write, which the writer retries
        // with new groups.
        let mut groups: HashMap<&str, i64> = HashMap::new();
        let mut links = Vec::new();
        let rows: Vec<NewAuditEvent> = events
            .iter()
            .map(|event| {
                let email = emails.get(&event.actor_id).cloned().unwrap_or_default();
                let group = *groups
                    .entry(event.request_id.as_str())
                    .or_insert_with(|| self.next_group.fetch_add(1, Ordering::Relaxed));
                links.extend(event.patient_ids.iter().map(|&patient| (group, patient)));
                NewAuditEvent::new(event, email, group)
            })
            .collect();
        links.sort_unstable();
        links.dedup();
        match &self.pool {
            DbPool::Postgres(pool) => {
                let mut conn = pool.get().await?;
                UnnestInsert::new(rows, &links).execute(&mut *conn).await?;
                Ok(())
            }
            // One transaction on one blocking thread for the whole batch: statement by statement
            // through diesel-async, each row waited for a blocking thread of its own, and under
            // load the writer fell behind the requests (its queue, and then their latency, grew).
            DbPool::Sqlite(pool) => {
                let mut conn = pool.get().await?;
                conn.spawn_blocking(move |conn| {
                    conn.immediate_transaction(|conn| {
                        for row in &rows {
                            diesel::RunQueryDsl::execute(
                                diesel::insert_into(audit_events::table).values(row),
                                conn,
                            )?;
                        }
                        // Row by row, like the events: one statement the connection prepares
                        // once. Many rows in one multi-row VALUES made a new statement text for
                        // every count of rows, each kept prepared, and under load the server's
                        // peak memory went from 83–118 MB to 127–186 MB (bench/README.md).
                        for &(group, patient) in &links {
                            diesel::RunQueryDsl::execute(
                                diesel::insert_into(audit_event_patients::table).values((
                                    audit_event_patients::group_id.eq(group),
                                    audit_event_patients::patient_id.eq(patient),
                                )),
                                conn,
                            )?;
                        }
                        Ok(())
                    })
                })
                .await?;
                Ok(())
            }
            // Multi-row inserts in one transaction: a round trip per `MYSQL_ROWS` rows rather
            // than per row, each statement far below MySQL's 65,535 placeholders.
            DbPool::Mysql(pool) => {
                use diesel_async::AsyncConnection as _;
                const MYSQL_ROWS: usize = 32;
                let mut conn = pool.get().await?;
                let links: Vec<_> = links
                    .iter()
                    .map(|&(group, patient)| {
                        (
                            audit_event_patients::group_id.eq(group),
                            audit_event_patients::patient_id.eq(patient),
                        )
                    })
                    .collect();
                conn.transaction(async |conn| -> DbResult<()> {
                    for chunk in rows.chunks(MYSQL_ROWS) {
                        diesel::insert_into(audit_events::table)
                            .values(chunk)
                            .execute(conn)
                            .await?;
                    }
                    for chunk in links.chunks(MYSQL_ROWS) {
                        diesel::insert_into(audit_event_patients::table)
                            .values(chunk)
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
        let rows = page.limit + 1;
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
            Ok(limited(query, rows).load_rows(conn).await?)
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
