//! The patient repository behind the entity cache: reads by id are served from the cache where
//! possible, and every write that changes a record invalidates it before returning.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;

use super::model::{Patient, PatientCursor, PatientFilter, PatientOrder, PatientWrite};
use super::repository::PatientRepository;
use crate::cache::{EntityCache, Kind};
use crate::core::pagination::PageRequest;
use crate::core::scope::Scope;
use crate::db::DbResult;

pub struct CachedPatientRepository {
    inner: Arc<dyn PatientRepository>,
    cache: EntityCache,
}

impl CachedPatientRepository {
    pub fn new(inner: Arc<dyn PatientRepository>, cache: EntityCache) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl PatientRepository for CachedPatientRepository {
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<Patient>> {
        let cached = self
            .cache
            .get_many::<Patient>(Kind::Patient, clinic_id, &[id])
            .await;
        if let Some(patient) = cached.into_values().find(|p| p.clinic_id == clinic_id) {
            return Ok(Some(patient));
        }
        // The single-row query, not the batch one: it is what PostgreSQL has prepared.
        let found = self.inner.find(clinic_id, id).await?;
        if let Some(patient) = &found {
            self.cache
                .fill(Kind::Patient, [(patient.clinic_id, patient.id, patient)])
                .await;
        }
        Ok(found)
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &PatientFilter,
        order: PatientOrder,
        page: &PageRequest<PatientCursor>,
    ) -> DbResult<Vec<Patient>> {
        self.inner.list(clinic_id, filter, order, page).await
    }

    async fn count(&self, clinic_id: i64, filter: &PatientFilter) -> DbResult<i64> {
        self.inner.count(clinic_id, filter).await
    }

    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Patient>> {
        let ids: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|&id| scope.patient_id.is_none_or(|own| own == id))
            .collect();
        // The database query's rule, applied to cached rows as well.
        self.cache
            .read_through(
                Kind::Patient,
                scope.clinic_id,
                &ids,
                |patient: &Patient| scope.admits(patient.clinic_id, patient.id),
                |patient| (patient.clinic_id, patient.id),
                async |misses| self.inner.find_many(scope, &misses).await,
            )
            .await
    }

    async fn list_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
        per_parent: usize,
    ) -> DbResult<Vec<Patient>> {
        self.inner
            .list_per_doctor(scope, doctor_ids, per_parent)
            .await
    }

    async fn count_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
    ) -> DbResult<Vec<(i64, i64)>> {
        self.inner.count_per_doctor(scope, doctor_ids).await
    }

    async fn insert(&self, clinic_id: i64, write: PatientWrite) -> DbResult<Patient> {
        self.inner.insert(clinic_id, write).await
    }

    async fn insert_many(&self, clinic_id: i64, writes: Vec<PatientWrite>) -> DbResult<Vec<i64>> {
        self.inner.insert_many(clinic_id, writes).await
    }

    async fn update(
        &self,
        clinic_id: i64,
        id: i64,
        seen_at: NaiveDateTime,
        write: PatientWrite,
    ) -> DbResult<Option<Patient>> {
        let updated = self.inner.update(clinic_id, id, seen_at, write).await?;
        if updated.is_some() {
            self.cache.invalidate(Kind::Patient, clinic_id, &[id]).await;
        }
        Ok(updated)
    }

    async fn soft_delete(&self, clinic_id: i64, id: i64, at: NaiveDateTime) -> DbResult<bool> {
        let deleted = self.inner.soft_delete(clinic_id, id, at).await?;
        if deleted {
            self.cache.invalidate(Kind::Patient, clinic_id, &[id]).await;
        }
        Ok(deleted)
    }

    async fn restore(
        &self,
        clinic_id: i64,
        id: i64,
        at: NaiveDateTime,
    ) -> DbResult<Option<Patient>> {
        let restored = self.inner.restore(clinic_id, id, at).await?;
        if restored.is_some() {
            self.cache.invalidate(Kind::Patient, clinic_id, &[id]).await;
        }
        Ok(restored)
    }
}
