//! The appointment repository behind the entity cache: reads by id from the cache where
//! possible; a move or status change invalidates the appointment before returning.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;

use super::model::{Appointment, AppointmentFilter, AppointmentStatus, NewAppointment, Slot};
use super::repository::{AppointmentRepository, Booking};
use crate::cache::{EntityCache, Kind};
use crate::core::pagination::{KeyCursor, PageRequest};
use crate::core::scope::Scope;
use crate::db::DbResult;

pub struct CachedAppointmentRepository {
    inner: Arc<dyn AppointmentRepository>,
    cache: EntityCache,
}

impl CachedAppointmentRepository {
    pub fn new(inner: Arc<dyn AppointmentRepository>, cache: EntityCache) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl AppointmentRepository for CachedAppointmentRepository {
    async fn find(&self, scope: &Scope, id: i64) -> DbResult<Option<Appointment>> {
        let cached = self
            .cache
            .get_many::<Appointment>(Kind::Appointment, scope.clinic_id, &[id])
            .await;
        if let Some(appointment) = cached.into_values().next() {
            // The database query's rule, applied to the cached row as well.
            return Ok(scope
                .admits(appointment.clinic_id, appointment.patient_id)
                .then_some(appointment));
        }
        let found = self.inner.find(scope, id).await?;
        if let Some(appointment) = &found {
            self.cache
                .fill(
                    Kind::Appointment,
                    [(appointment.clinic_id, appointment.id, appointment)],
                )
                .await;
        }
        Ok(found)
    }

    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Appointment>> {
        // A cached row outside the scope is treated as the database would: not there.
        self.cache
            .read_through(
                Kind::Appointment,
                scope.clinic_id,
                ids,
                |a: &Appointment| scope.admits(a.clinic_id, a.patient_id),
                |a| (a.clinic_id, a.id),
                async |misses| self.inner.find_many(scope, &misses).await,
            )
            .await
    }

    async fn list(
        &self,
        scope: &Scope,
        filter: &AppointmentFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Appointment>> {
        self.inner.list(scope, filter, page).await
    }

    async fn count(&self, scope: &Scope, filter: &AppointmentFilter) -> DbResult<i64> {
        self.inner.count(scope, filter).await
    }

    async fn book(&self, appointment: NewAppointment) -> DbResult<Booking> {
        self.inner.book(appointment).await
    }

    async fn rebook(
        &self,
        clinic_id: i64,
        id: i64,
        slot: Slot,
        from: &[AppointmentStatus],
        at: NaiveDateTime,
    ) -> DbResult<Booking> {
        let booking = self.inner.rebook(clinic_id, id, slot, from, at).await?;
        if matches!(booking, Booking::Booked(_)) {
            self.cache
                .invalidate(Kind::Appointment, clinic_id, &[id])
                .await;
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
        let changed = self
            .inner
            .transition(clinic_id, id, from, to, cancellation_reason, at)
            .await?;
        if changed.is_some() {
            self.cache
                .invalidate(Kind::Appointment, clinic_id, &[id])
                .await;
        }
        Ok(changed)
    }

    async fn insert_many(&self, rows: Vec<NewAppointment>) -> DbResult<Vec<i64>> {
        self.inner.insert_many(rows).await
    }

    async fn latest_end(&self, clinic_id: i64) -> DbResult<Option<NaiveDateTime>> {
        self.inner.latest_end(clinic_id).await
    }
}
