//! Appointment queries, always scoped (clinic, and for a PATIENT their own rows).
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{Appointment, AppointmentFilter, AppointmentStatus, NewAppointment, Slot};
use crate::cache::EntityCache;
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::core::scope::Scope;
use crate::core::sealing::fields::{
    APPOINTMENT_CANCELLATION_REASON, APPOINTMENT_NOTES, APPOINTMENT_REASON,
};
use crate::core::sealing::{DataKeys, ResealBatch, ResealPass};
use crate::db::limit::limited;
use crate::db::schema::{appointments, patients};
use crate::db::{DbPool, DbResult};
use crate::{in_transaction, insert_sealed, keyset, reseal_columns, update_returning, with_conn};

mod booking;

/// The outcome of booking a slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Booking {
    Booked(Appointment),
    /// The slot overlaps this live appointment of the doctor or the patient.
    Clash(i64),
    /// No appointment with that id is in a status the move starts from.
    NotFound,
}

#[async_trait]
pub trait AppointmentRepository: Send + Sync {
    async fn find(&self, scope: &Scope, id: i64) -> DbResult<Option<Appointment>>;
    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Appointment>>;
    /// Rows in traversal order, at most `page.limit + 1`; ordered by start time, then id.
    async fn list(
        &self,
        scope: &Scope,
        filter: &AppointmentFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Appointment>>;
    async fn count(&self, scope: &Scope, filter: &AppointmentFilter) -> DbResult<i64>;
    /// Inserts after checking, in the same write transaction, that the slot is free for the
    /// doctor and the patient.
    async fn book(&self, appointment: NewAppointment) -> DbResult<Booking>;
    /// Moves an appointment in one of `from` to `slot`, with the same overlap rule.
    async fn rebook(
        &self,
        clinic_id: i64,
        id: i64,
        slot: Slot,
        from: &[AppointmentStatus],
        at: NaiveDateTime,
    ) -> DbResult<Booking>;
    /// Changes the status if it is one of `from`; `None` otherwise.
    async fn transition(
        &self,
        clinic_id: i64,
        id: i64,
        from: &[AppointmentStatus],
        to: AppointmentStatus,
        cancellation_reason: Option<String>,
        at: NaiveDateTime,
    ) -> DbResult<Option<Appointment>>;
    /// Bulk insert for seeding (the caller guarantees free slots); the new ids in input order.
    async fn insert_many(&self, rows: Vec<NewAppointment>) -> DbResult<Vec<i64>>;
    /// When the clinic's last appointment ends, if it has any.
    async fn latest_end(&self, clinic_id: i64) -> DbResult<Option<NaiveDateTime>>;
}

pub struct DieselAppointmentRepository {
    pool: DbPool,
    cache: EntityCache,
    /// Seals what is written; reads hand the sealed values on as they are.
    keys: Arc<DataKeys>,
}

impl DieselAppointmentRepository {
    /// Straight to the database.
    pub fn new(pool: DbPool, keys: Arc<DataKeys>) -> Self {
        Self::cached(pool, EntityCache::disabled(), keys)
    }

    /// Reads by id through `cache`; writes keep it current.
    pub fn cached(pool: DbPool, cache: EntityCache, keys: Arc<DataKeys>) -> Self {
        Self { pool, cache, keys }
    }
}

fn names(statuses: &[AppointmentStatus]) -> Vec<&'static str> {
    statuses.iter().map(|s| s.as_str()).collect()
}

/// Narrows a boxed appointments query to the scope and the filter, and to patients who are not
/// deleted (a deleted patient's records go with them).
macro_rules! scoped {
    ($query:expr, $scope:expr, $filter:expr) => {{
        let scope: &Scope = $scope;
        let filter: &AppointmentFilter = $filter;
        let mut query = $query
            .filter(appointments::clinic_id.eq(scope.clinic_id))
            .filter(diesel::dsl::exists(
                patients::table
                    .filter(patients::id.eq(appointments::patient_id))
                    .filter(patients::deleted_at.is_null()),
            ));
        if let Some(own) = scope.patient_id {
            query = query.filter(appointments::patient_id.eq(own));
        }
        if let Some(id) = filter.patient_id {
            query = query.filter(appointments::patient_id.eq(id));
        }
        if let Some(id) = filter.doctor_id {
            query = query.filter(appointments::doctor_id.eq(id));
        }
        if let Some(status) = filter.status {
            query = query.filter(appointments::status.eq(status.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(appointments::scheduled_at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(appointments::scheduled_at.lt(to));
        }
        query
    }};
}

#[async_trait]
impl AppointmentRepository for DieselAppointmentRepository {
    async fn find(&self, scope: &Scope, id: i64) -> DbResult<Option<Appointment>> {
        Ok(self.find_many(scope, &[id]).await?.into_iter().next())
    }

    /// Cached. A cached appointment is admitted by the scope as the query would; a deleted
    /// patient's appointments are forgotten by the deletion (the patient repository's
    /// `soft_delete`), as the query leaves them out.
    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Appointment>> {
        let admits = |a: &Appointment| scope.admits(a.clinic_id, a.patient_id);
        self.cache
            .read(scope.clinic_id, ids, admits, async |misses| {
                with_conn!(&self.pool, |conn| {
                    let query = scoped!(
                        appointments::table
                            .select(Appointment::as_select())
                            .into_boxed(),
                        scope,
                        &AppointmentFilter::default()
                    );
                    Ok(query
                        .filter(appointments::id.eq_any(&misses))
                        .load(conn)
                        .await?)
                })
            })
            .await
    }

    async fn list(
        &self,
        scope: &Scope,
        filter: &AppointmentFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Appointment>> {
        let ascending = page.direction == Direction::Forward;
        let key = page.cursor.as_ref().and_then(KeyCursor::time);
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let rows = page.limit + 1;
        with_conn!(&self.pool, |conn| {
            let query = scoped!(
                appointments::table
                    .select(Appointment::as_select())
                    .into_boxed(),
                scope,
                filter
            );
            let query = keyset!(
                query,
                appointments::scheduled_at,
                appointments::id,
                key,
                cursor_id,
                ascending
            );
            Ok(limited(query, rows).load_rows(conn).await?)
        })
    }

    async fn count(&self, scope: &Scope, filter: &AppointmentFilter) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| {
            let query = scoped!(
                appointments::table
                    .select(diesel::dsl::count_star())
                    .into_boxed(),
                scope,
                filter
            );
            Ok(query.get_result(conn).await?)
        })
    }

    async fn book(&self, appointment: NewAppointment) -> DbResult<Booking> {
        self.book_free_slot(appointment).await
    }

    async fn rebook(
        &self,
        clinic_id: i64,
        id: i64,
        slot: Slot,
        from: &[AppointmentStatus],
        at: NaiveDateTime,
    ) -> DbResult<Booking> {
        let booking = self
            .move_to_free_slot(clinic_id, id, slot, from, at)
            .await?;
        if matches!(booking, Booking::Booked(_)) {
            self.cache.wrote::<Appointment>(clinic_id, id).await;
        }
        Ok(booking)
    }

    async fn transition(
        &self,
        clinic_id: i64,
        id: i64,
        from: &[AppointmentStatus],
        to: AppointmentStatus,
        cancellation_reason: Option<String>,
        at: NaiveDateTime,
    ) -> DbResult<Option<Appointment>> {
        let from = names(from);
        let cancellation_reason = self.keys.seal_optional(
            APPOINTMENT_CANCELLATION_REASON,
            id,
            cancellation_reason.as_deref(),
        );
        let changed = in_transaction!(&self.pool, |conn| Ok(update_returning!(
            conn,
            diesel::update(
                appointments::table
                    .filter(appointments::id.eq(id))
                    .filter(appointments::clinic_id.eq(clinic_id))
                    .filter(appointments::status.eq_any(&from))
            )
            .set((
                appointments::status.eq(to.as_str()),
                appointments::cancellation_reason.eq(cancellation_reason.as_ref()),
                appointments::updated_at.eq(at),
            )),
            appointments,
            id,
            Appointment
        )))?;
        if changed.is_some() {
            self.cache.wrote::<Appointment>(clinic_id, id).await;
        }
        Ok(changed)
    }

    async fn insert_many(&self, rows: Vec<NewAppointment>) -> DbResult<Vec<i64>> {
        let keys = &self.keys;
        in_transaction!(&self.pool, |conn| {
            let mut ids = Vec::with_capacity(rows.len());
            for row in &rows {
                let id = insert_sealed!(conn, appointments, row, |id| row.sealed(keys, id));
                ids.push(id);
            }
            Ok(ids)
        })
    }

    async fn latest_end(&self, clinic_id: i64) -> DbResult<Option<NaiveDateTime>> {
        with_conn!(&self.pool, |conn| Ok(appointments::table
            .filter(appointments::clinic_id.eq(clinic_id))
            .select(diesel::dsl::max(appointments::ends_at))
            .first(conn)
            .await?))
    }
}

/// One batch of a resealing pass (`core::sealing::reseal`) over the appointments `pass`
/// names: every sealed column.
pub async fn reseal(pool: &DbPool, keys: &DataKeys, pass: ResealPass) -> DbResult<ResealBatch> {
    in_transaction!(pool, |conn| {
        Ok(reseal_columns!(conn, keys, &pass, appointments, [
            reason: APPOINTMENT_REASON,
            notes: APPOINTMENT_NOTES,
            cancellation_reason: APPOINTMENT_CANCELLATION_REASON,
        ]))
    })
}
