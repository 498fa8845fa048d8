//! Doctor queries, always scoped to a clinic.
use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Untyped;
use diesel_async::RunQueryDsl;

use super::model::{Doctor, DoctorFilter, DoctorWrite, NewDoctor, doctor_search_text};
use crate::cache::EntityCache;
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::core::text::escape_like;
use crate::db::limit::limited;
use crate::db::per_parent::{PerParentQuery, named_by};
use crate::db::schema::doctors;
use crate::db::{DbPool, DbResult};
use crate::{in_transaction, insert_returning, keyset, update_returning, with_conn};

#[async_trait]
pub trait DoctorRepository: Send + Sync {
    /// Whether `doctor_id` is a doctor of `clinic_id` (another clinic's doctor is "no").
    async fn find_many(&self, clinic_id: i64, ids: &[i64]) -> DbResult<Vec<Doctor>>;
    /// The doctor profile of a user account.
    async fn find_by_user(&self, clinic_id: i64, user_id: i64) -> DbResult<Option<Doctor>>;
    /// Rows in traversal order, at most `page.limit + 1`; by name, then id.
    async fn list(
        &self,
        clinic_id: i64,
        filter: &DoctorFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Doctor>>;
    async fn count(&self, clinic_id: i64, filter: &DoctorFilter) -> DbResult<i64>;
    async fn insert(&self, doctor: NewDoctor) -> DbResult<Doctor>;
    async fn update(&self, clinic_id: i64, id: i64, write: DoctorWrite)
    -> DbResult<Option<Doctor>>;
    async fn list_ids(&self, clinic_id: i64) -> DbResult<Vec<i64>>;
}

pub struct DieselDoctorRepository {
    pool: DbPool,
    cache: EntityCache,
}

impl DieselDoctorRepository {
    /// Straight to the database.
    pub fn new(pool: DbPool) -> Self {
        Self::cached(pool, EntityCache::disabled())
    }

    /// Reads by id through `cache`; writes keep it current.
    pub fn cached(pool: DbPool, cache: EntityCache) -> Self {
        Self { pool, cache }
    }
}

macro_rules! filtered {
    ($query:expr, $clinic_id:expr, $filter:expr) => {{
        let filter: &DoctorFilter = $filter;
        let mut query = $query.filter(doctors::clinic_id.eq($clinic_id));
        if let Some(specialty) = &filter.specialty {
            query = query.filter(doctors::specialty.eq(specialty.clone()));
        }
        if let Some(search) = &filter.search {
            let pattern = format!("%{}%", escape_like(search));
            query = query.filter(doctors::search_text.like(pattern).escape('\\'));
        }
        query
    }};
}

/// The doctors of `clinic_id` that the rows of `names` (a per-parent query selecting a doctor
/// id) name, in a statement that does not wait for those rows' own: PostgreSQL receives it
/// pipelined with theirs (`db::per_parent::named_by`). `None` on SQLite and MySQL, where the
/// caller had better read them by id afterwards: nothing is pipelined there (on SQLite a
/// statement costs no round trip), and doctors by id come from the entity cache where one is
/// on (always on SQLite).
pub async fn doctors_named_by(
    pool: &DbPool,
    clinic_id: i64,
    names: PerParentQuery<Untyped>,
) -> DbResult<Option<Vec<Doctor>>> {
    if !matches!(pool, DbPool::Postgres(_)) {
        return Ok(None);
    }
    with_conn!(pool, |conn| Ok(Some(
        doctors::table
            .filter(doctors::clinic_id.eq(clinic_id))
            .filter(named_by(doctors::id, &names))
            .select(Doctor::as_select())
            .load(conn)
            .await?
    )))
}

#[async_trait]
impl DoctorRepository for DieselDoctorRepository {
    /// Cached.
    async fn find_many(&self, clinic_id: i64, ids: &[i64]) -> DbResult<Vec<Doctor>> {
        let in_clinic = |doctor: &Doctor| doctor.clinic_id == clinic_id;
        self.cache
            .read(clinic_id, ids, in_clinic, async |misses| {
                with_conn!(&self.pool, |conn| Ok(doctors::table
                    .filter(doctors::clinic_id.eq(clinic_id))
                    .filter(doctors::id.eq_any(&misses))
                    .select(Doctor::as_select())
                    .load(conn)
                    .await?))
            })
            .await
    }

    async fn find_by_user(&self, clinic_id: i64, user_id: i64) -> DbResult<Option<Doctor>> {
        with_conn!(&self.pool, |conn| Ok(doctors::table
            .filter(doctors::clinic_id.eq(clinic_id))
            .filter(doctors::user_id.eq(user_id))
            .select(Doctor::as_select())
            .first(conn)
            .await
            .optional()?))
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &DoctorFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Doctor>> {
        let ascending = page.direction == Direction::Forward;
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let rows = page.limit + 1;
        with_conn!(&self.pool, |conn| {
            let key = page.cursor.as_ref().map(|c| c.key.clone());
            let query = filtered!(
                doctors::table.select(Doctor::as_select()).into_boxed(),
                clinic_id,
                filter
            );
            let query = keyset!(query, doctors::name, doctors::id, key, cursor_id, ascending);
            Ok(limited(query, rows).load_rows(conn).await?)
        })
    }

    async fn count(&self, clinic_id: i64, filter: &DoctorFilter) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                doctors::table
                    .select(diesel::dsl::count_star())
                    .into_boxed(),
                clinic_id,
                filter
            );
            Ok(query.get_result(conn).await?)
        })
    }

    async fn insert(&self, doctor: NewDoctor) -> DbResult<Doctor> {
        in_transaction!(&self.pool, |conn| Ok(insert_returning!(
            conn, doctors, &doctor, Doctor
        )))
    }

    async fn update(
        &self,
        clinic_id: i64,
        id: i64,
        write: DoctorWrite,
    ) -> DbResult<Option<Doctor>> {
        let updated = in_transaction!(&self.pool, |conn| Ok(update_returning!(
            conn,
            diesel::update(
                doctors::table
                    .filter(doctors::id.eq(id))
                    .filter(doctors::clinic_id.eq(clinic_id)),
            )
            .set(&write),
            doctors,
            id,
            Doctor
        )))?;
        if updated.is_some() {
            self.cache.wrote::<Doctor>(clinic_id, id).await;
        }
        Ok(updated)
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

/// Recomputes the search key of up to `limit` doctors with ids above `after`; returns the last
/// id read, `None` past the last row. A row changed since it was read keeps the key that its
/// writer computed.
pub async fn rebuild_search_keys(pool: &DbPool, after: i64, limit: i64) -> DbResult<Option<i64>> {
    in_transaction!(pool, |conn| {
        let rows: Vec<Doctor> = doctors::table
            .filter(doctors::id.gt(after))
            .order(doctors::id)
            .limit(limit)
            .select(Doctor::as_select())
            .load(conn)
            .await?;
        for row in &rows {
            diesel::update(
                doctors::table
                    .filter(doctors::id.eq(row.id))
                    .filter(doctors::updated_at.eq(row.updated_at)),
            )
            .set(doctors::search_text.eq(doctor_search_text(
                &row.name,
                row.email.as_deref(),
                &row.specialty,
            )))
            .execute(conn)
            .await?;
        }
        Ok(rows.last().map(|row| row.id))
    })
}
