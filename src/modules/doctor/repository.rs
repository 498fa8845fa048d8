use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{Doctor, NewDoctor};
use crate::db::schema::doctors;
use crate::db::{DbPool, DbResult};
use crate::with_conn;

#[async_trait]
pub trait DoctorRepository: Send + Sync {
    /// Whether `doctor_id` is a doctor of `clinic_id` (another clinic's doctor is "no").
    async fn exists_in_clinic(&self, clinic_id: i64, doctor_id: i64) -> DbResult<bool>;
    async fn insert(&self, doctor: NewDoctor) -> DbResult<Doctor>;
    async fn list_ids(&self, clinic_id: i64) -> DbResult<Vec<i64>>;
}

pub struct DieselDoctorRepository {
    pool: DbPool,
}

impl DieselDoctorRepository {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl DoctorRepository for DieselDoctorRepository {
    async fn exists_in_clinic(&self, clinic_id: i64, doctor_id: i64) -> DbResult<bool> {
        with_conn!(&self.pool, |conn| {
            let found: Option<i64> = doctors::table
                .filter(doctors::id.eq(doctor_id))
                .filter(doctors::clinic_id.eq(clinic_id))
                .select(doctors::id)
                .first(conn)
                .await
                .optional()?;
            Ok(found.is_some())
        })
    }

    async fn insert(&self, doctor: NewDoctor) -> DbResult<Doctor> {
        with_conn!(&self.pool, |conn| Ok(diesel::insert_into(doctors::table)
            .values(&doctor)
            .returning(Doctor::as_returning())
            .get_result(conn)
            .await?))
    }

    async fn list_ids(&self, clinic_id: i64) -> DbResult<Vec<i64>> {
        with_conn!(&self.pool, |conn| Ok(doctors::table
            .filter(doctors::clinic_id.eq(clinic_id))
            .order(doctors::id.asc())
            .select(doctors::id)
            .load(conn)
            .await?))
    }
}
