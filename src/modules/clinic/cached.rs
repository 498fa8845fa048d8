//! The clinic repository behind the entity cache. Clinics are created, never changed through the
//! API, so nothing here needs invalidating.
use std::sync::Arc;

use async_trait::async_trait;

use super::model::{Clinic, NewClinic};
use super::repository::ClinicRepository;
use crate::cache::{EntityCache, Kind};
use crate::db::DbResult;

pub struct CachedClinicRepository {
    inner: Arc<dyn ClinicRepository>,
    cache: EntityCache,
}

impl CachedClinicRepository {
    pub fn new(inner: Arc<dyn ClinicRepository>, cache: EntityCache) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl ClinicRepository for CachedClinicRepository {
    async fn insert(&self, clinic: NewClinic) -> DbResult<Clinic> {
        self.inner.insert(clinic).await
    }

    async fn find_by_name(&self, name: &str) -> DbResult<Option<Clinic>> {
        self.inner.find_by_name(name).await
    }

    async fn find_many(&self, ids: &[i64]) -> DbResult<Vec<Clinic>> {
        let mut found = Vec::with_capacity(ids.len());
        let mut misses = Vec::new();
        // A clinic is its own tenant: its key is (id, id).
        for &id in ids {
            let mut cached = self.cache.get_many::<Clinic>(Kind::Clinic, id, &[id]).await;
            match cached.remove(&id) {
                Some(clinic) if clinic.id == id => found.push(clinic),
                _ => misses.push(id),
            }
        }
        if !misses.is_empty() {
            let loaded = self.inner.find_many(&misses).await?;
            self.cache
                .fill(Kind::Clinic, loaded.iter().map(|c| (c.id, c.id, c)))
                .await;
            found.extend(loaded);
        }
        Ok(found)
    }
}
