//! The doctor repository behind the entity cache: reads by id from the cache where possible;
//! an update invalidates the doctor before returning.
use std::sync::Arc;

use async_trait::async_trait;

use super::model::{Doctor, DoctorFilter, DoctorWrite, NewDoctor};
use super::repository::DoctorRepository;
use crate::cache::{EntityCache, Kind};
use crate::core::pagination::{KeyCursor, PageRequest};
use crate::db::DbResult;

pub struct CachedDoctorRepository {
    inner: Arc<dyn DoctorRepository>,
    cache: EntityCache,
}

impl CachedDoctorRepository {
    pub fn new(inner: Arc<dyn DoctorRepository>, cache: EntityCache) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl DoctorRepository for CachedDoctorRepository {
    async fn exists_in_clinic(&self, clinic_id: i64, doctor_id: i64) -> DbResult<bool> {
        Ok(!self.find_many(clinic_id, &[doctor_id]).await?.is_empty())
    }

    async fn find_many(&self, clinic_id: i64, ids: &[i64]) -> DbResult<Vec<Doctor>> {
        self.cache
            .read_through(
                Kind::Doctor,
                clinic_id,
                ids,
                |doctor: &Doctor| doctor.clinic_id == clinic_id,
                |doctor| (doctor.clinic_id, doctor.id),
                async |misses| self.inner.find_many(clinic_id, &misses).await,
            )
            .await
    }

    async fn find_by_user(&self, clinic_id: i64, user_id: i64) -> DbResult<Option<Doctor>> {
        self.inner.find_by_user(clinic_id, user_id).await
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &DoctorFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Doctor>> {
        self.inner.list(clinic_id, filter, page).await
    }

    async fn count(&self, clinic_id: i64, filter: &DoctorFilter) -> DbResult<i64> {
        self.inner.count(clinic_id, filter).await
    }

    async fn insert(&self, doctor: NewDoctor) -> DbResult<Doctor> {
        self.inner.insert(doctor).await
    }

    async fn update(
        &self,
        clinic_id: i64,
        id: i64,
        write: DoctorWrite,
    ) -> DbResult<Option<Doctor>> {
        let updated = self.inner.update(clinic_id, id, write).await?;
        if updated.is_some() {
            self.cache.invalidate(Kind::Doctor, clinic_id, &[id]).await;
        }
        Ok(updated)
    }

    async fn list_ids(&self, clinic_id: i64) -> DbResult<Vec<i64>> {
        self.inner.list_ids(clinic_id).await
    }
}
