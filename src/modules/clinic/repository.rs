use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{Clinic, NewClinic};
use crate::cache::EntityCache;
use crate::db::schema::{clinic_patient_counts, clinics};
use crate::db::{DbPool, DbResult};
use crate::{in_transaction, insert_returning, with_conn};

#[async_trait]
pub trait ClinicRepository: Send + Sync {
    async fn insert(&self, clinic: NewClinic) -> DbResult<Clinic>;
    async fn find_by_name(&self, name: &str) -> DbResult<Option<Clinic>>;
    async fn find_many(&self, ids: &[i64]) -> DbResult<Vec<Clinic>>;
}

pub struct DieselClinicRepository {
    pool: DbPool,
    cache: EntityCache,
}

impl DieselClinicRepository {
    /// Straight to the database.
    pub fn new(pool: DbPool) -> Self {
        Self::cached(pool, EntityCache::disabled())
    }

    /// Reads by id through `cache`; writes keep it current.
    pub fn cached(pool: DbPool, cache: EntityCache) -> Self {
        Self { pool, cache }
    }
}

#[async_trait]
impl ClinicRepository for DieselClinicRepository {
    /// With its live-patient counter at zero, which patient writes then only update.
    async fn insert(&self, clinic: NewClinic) -> DbResult<Clinic> {
        in_transaction!(&self.pool, |conn| {
            let clinic = insert_returning!(conn, clinics, &clinic, Clinic);
            diesel::insert_into(clinic_patient_counts::table)
                .values((
                    clinic_patient_counts::clinic_id.eq(clinic.id),
                    clinic_patient_counts::live_patients.eq(0_i64),
                ))
                .execute(conn)
                .await?;
            Ok(clinic)
        })
    }

    async fn find_by_name(&self, name: &str) -> DbResult<Option<Clinic>> {
        with_conn!(&self.pool, |conn| Ok(clinics::table
            .filter(clinics::name.eq(name))
            .order(clinics::id.asc())
            .select(Clinic::as_select())
            .first(conn)
            .await
            .optional()?))
    }

    /// Cached. Clinics are created, never changed through the API: nothing invalidates them.
    async fn find_many(&self, ids: &[i64]) -> DbResult<Vec<Clinic>> {
        let own = |clinic: &Clinic| ids.contains(&clinic.id);
        // Each clinic is its own tenant (`Cached::tenant`): the clinic passed is not used.
        self.cache
            .read(0, ids, own, async |misses| {
                with_conn!(&self.pool, |conn| Ok(clinics::table
                    .filter(clinics::id.eq_any(&misses))
                    .select(Clinic::as_select())
                    .load(conn)
                    .await?))
            })
            .await
    }
}
