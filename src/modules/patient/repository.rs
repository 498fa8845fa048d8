//! Patient queries. The only patient code that touches diesel; every query is scoped to a clinic
//! and, except `restore`, to live (not soft-deleted) records.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Untyped;
use diesel_async::RunQueryDsl;

use super::model::COLUMNS;
use super::model::{
    OrderDirection, Patient, PatientCursor, PatientFilter, PatientOrder, PatientOrderField,
    PatientWrite, PlainPatientColumns, search_text,
};
use crate::cache::{EntityCache, Kind};
use crate::core::pagination::{Direction, PageRequest};
use crate::core::scope::Scope;
use crate::core::sealing::fields::{PATIENT_DATE_OF_BIRTH, PATIENT_INTERNAL_NOTES, PATIENT_PHONE};
use crate::core::sealing::{DataKeys, ResealBatch, ResealPass, Sealed};
use crate::core::text::escape_like;
use crate::db::limit::limited;
use crate::db::per_parent::PerParentQuery;
use crate::db::schema::{appointments, clinic_patient_counts, patients};
use crate::db::{DbPool, DbResult};
use crate::{
    in_transaction, insert_sealed, keyset, reseal_column, reseal_columns, update_returning,
    with_conn,
};

#[async_trait]
pub trait PatientRepository: Send + Sync {
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<Patient>>;
    /// Rows in traversal order (reversed for backward pages), at most `page.limit + 1`.
    async fn list(
        &self,
        clinic_id: i64,
        filter: &PatientFilter,
        order: PatientOrder,
        page: &PageRequest<PatientCursor>,
    ) -> DbResult<Vec<Patient>>;
    async fn count(&self, clinic_id: i64, filter: &PatientFilter) -> DbResult<i64>;
    /// Live patients among `ids`, within the scope.
    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Patient>>;
    /// The first `per_parent` live patients (by name) of each primary doctor, in one statement.
    async fn list_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
        per_parent: usize,
    ) -> DbResult<Vec<Patient>>;
    /// How many live patients (within the scope) each of `doctor_ids` is the primary doctor
    /// of, in one statement; doctors without any are left out.
    async fn count_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
    ) -> DbResult<Vec<(i64, i64)>>;
    async fn insert(&self, clinic_id: i64, write: PatientWrite) -> DbResult<Patient>;
    /// Bulk insert for seeding, in one transaction; returns the new ids in input order.
    async fn insert_many(&self, clinic_id: i64, writes: Vec<PatientWrite>) -> DbResult<Vec<i64>>;
    /// Writes `write` only if the record is still live and unchanged since `seen_at`
    /// (optimistic concurrency); `None` otherwise.
    async fn update(
        &self,
        clinic_id: i64,
        id: i64,
        seen_at: NaiveDateTime,
        write: PatientWrite,
    ) -> DbResult<Option<Patient>>;
    async fn soft_delete(&self, clinic_id: i64, id: i64, at: NaiveDateTime) -> DbResult<bool>;
    /// Undeletes a soft-deleted record; `None` if there was no deleted record with that id.
    async fn restore(
        &self,
        clinic_id: i64,
        id: i64,
        at: NaiveDateTime,
    ) -> DbResult<Option<Patient>>;
}

pub struct DieselPatientRepository {
    pool: DbPool,
    cache: EntityCache,
    /// Seals what is written; reads hand the sealed values on as they are.
    keys: Arc<DataKeys>,
}

impl DieselPatientRepository {
    /// Straight to the database.
    pub fn new(pool: DbPool, keys: Arc<DataKeys>) -> Self {
        Self::cached(pool, EntityCache::disabled(), keys)
    }

    /// Reads by id through `cache`; writes keep it current.
    pub fn cached(pool: DbPool, cache: EntityCache, keys: Arc<DataKeys>) -> Self {
        Self { pool, cache, keys }
    }
}

#[derive(Insertable)]
#[diesel(table_name = patients, treat_none_as_default_value = false)]
struct NewPatientRow {
    clinic_id: i64,
    #[diesel(embed)]
    write: PlainPatientColumns,
    created_at: NaiveDateTime,
}

impl NewPatientRow {
    fn new(clinic_id: i64, write: PlainPatientColumns) -> Self {
        let created_at = write.updated_at;
        NewPatientRow {
            clinic_id,
            write,
            created_at,
        }
    }
}

/// Moves a clinic's live-patient counter by `$delta` inside the caller's transaction, so it
/// changes exactly when the rows do (the counter row's lock orders concurrent writers). The
/// clinic's insert wrote the row; a clinic without one fails the write rather than let the
/// count drift.
macro_rules! add_live_patients {
    ($conn:expr, $clinic_id:expr, $delta:expr) => {{
        let delta: i64 = $delta;
        let counted = diesel::update(clinic_patient_counts::table.find($clinic_id))
            .set(
                clinic_patient_counts::live_patients
                    .eq(clinic_patient_counts::live_patients + delta),
            )
            .execute($conn)
            .await?;
        if counted != 1 {
            return Err(diesel::result::Error::NotFound.into());
        }
    }};
}

/// Narrows a boxed patients query to a clinic's live records matching `filter`.
macro_rules! filtered {
    ($query:expr, $clinic_id:expr, $filter:expr) => {{
        let filter: &PatientFilter = $filter;
        let mut query = $query
            .filter(patients::clinic_id.eq($clinic_id))
            .filter(patients::deleted_at.is_null());
        if let Some(search) = &filter.search {
            let pattern = format!("%{}%", escape_like(search));
            let text = patients::search_text.like(pattern).escape('\\');
            query = if filter.phone_indexes.is_empty() {
                query.filter(text)
            } else {
                query.filter(
                    text.nullable()
                        .or(patients::phone_index.eq_any(filter.phone_indexes.clone())),
                )
            };
        }
        if let Some(group) = filter.blood_group {
            query = query.filter(patients::blood_group.eq(group.as_str()));
        }
        if let Some(doctor_id) = filter.primary_doctor_id {
            query = query.filter(patients::primary_doctor_id.eq(doctor_id));
        }
        if let Some(id) = filter.only_id {
            query = query.filter(patients::id.eq(id));
        }
        query
    }};
}

#[async_trait]
impl PatientRepository for DieselPatientRepository {
    /// Cached; a miss is read by the single-row query, which is what PostgreSQL has prepared
    /// for this read.
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<Patient>> {
        let in_clinic = |patient: &Patient| patient.clinic_id == clinic_id;
        let found = self
            .cache
            .read(clinic_id, &[id], in_clinic, async |_| {
                with_conn!(&self.pool, |conn| Ok(patients::table
                    .filter(patients::id.eq(id))
                    .filter(patients::clinic_id.eq(clinic_id))
                    .filter(patients::deleted_at.is_null())
                    .select(Patient::as_select())
                    .first(conn)
                    .await
                    .optional()?
                    .into_iter()
                    .collect()))
            })
            .await?;
        Ok(found.into_iter().next())
    }

    async fn list(
        &self,
        clinic_id: i64,
        filter: &PatientFilter,
        order: PatientOrder,
        page: &PageRequest<PatientCursor>,
    ) -> DbResult<Vec<Patient>> {
        // Reading backward walks the order in reverse, then the page is flipped back.
        let ascending =
            (order.direction == OrderDirection::Asc) == (page.direction == Direction::Forward);
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let rows = page.limit + 1;
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                patients::table.select(Patient::as_select()).into_boxed(),
                clinic_id,
                filter
            );
            let query = match order.field {
                PatientOrderField::CreatedAt => {
                    let key = page.cursor.as_ref().and_then(PatientCursor::created_at);
                    keyset!(
                        query,
                        patients::created_at,
                        patients::id,
                        key,
                        cursor_id,
                        ascending
                    )
                }
                PatientOrderField::Name => {
                    let key = page.cursor.as_ref().map(|c| c.key.clone());
                    keyset!(
                        query,
                        patients::name,
                        patients::id,
                        key,
                        cursor_id,
                        ascending
                    )
                }
            };
            Ok(limited(query, rows).load_rows(conn).await?)
        })
    }

    async fn count(&self, clinic_id: i64, filter: &PatientFilter) -> DbResult<i64> {
        if *filter == PatientFilter::default() {
            // Every live patient: the maintained counter answers without scanning.
            return with_conn!(&self.pool, |conn| {
                let counted: Option<i64> = clinic_patient_counts::table
                    .find(clinic_id)
                    .select(clinic_patient_counts::live_patients)
                    .first(conn)
                    .await
                    .optional()?;
                Ok(counted.unwrap_or(0))
            });
        }
        with_conn!(&self.pool, |conn| {
            let query = filtered!(
                patients::table
                    .select(diesel::dsl::count_star())
                    .into_boxed(),
                clinic_id,
                filter
            );
            Ok(query.get_result(conn).await?)
        })
    }

    /// Cached.
    async fn find_many(&self, scope: &Scope, ids: &[i64]) -> DbResult<Vec<Patient>> {
        let ids: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|&id| scope.patient_id.is_none_or(|own| own == id))
            .collect();
        let admits = |patient: &Patient| scope.admits(patient.clinic_id, patient.id);
        self.cache
            .read(scope.clinic_id, &ids, admits, async |misses| {
                with_conn!(&self.pool, |conn| Ok(patients::table
                    .filter(patients::clinic_id.eq(scope.clinic_id))
                    .filter(patients::deleted_at.is_null())
                    .filter(patients::id.eq_any(&misses))
                    .select(Patient::as_select())
                    .load(conn)
                    .await?))
            })
            .await
    }

    async fn list_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
        per_parent: usize,
    ) -> DbResult<Vec<Patient>> {
        let mut query = PerParentQuery::<Untyped>::new(
            "patients",
            COLUMNS,
            "primary_doctor_id",
            doctor_ids,
            "name, id",
            per_parent,
        )
        .in_clinic("clinic_id", scope.clinic_id)
        .is_null("deleted_at");
        if let Some(own) = scope.patient_id {
            query = query.eq_id("id", own);
        }
        with_conn!(&self.pool, |conn| Ok((&query)
            .load::<Patient>(conn)
            .await?))
    }

    async fn count_per_doctor(
        &self,
        scope: &Scope,
        doctor_ids: &[i64],
    ) -> DbResult<Vec<(i64, i64)>> {
        let doctor_ids = doctor_ids.to_vec();
        with_conn!(&self.pool, |conn| {
            let mut query = patients::table
                .filter(patients::clinic_id.eq(scope.clinic_id))
                .filter(patients::deleted_at.is_null())
                .filter(patients::primary_doctor_id.eq_any(&doctor_ids))
                .group_by(patients::primary_doctor_id)
                .select((patients::primary_doctor_id, diesel::dsl::count_star()))
                .into_boxed();
            if let Some(own) = scope.patient_id {
                query = query.filter(patients::id.eq(own));
            }
            let rows: Vec<(Option<i64>, i64)> = query.load(conn).await?;
            Ok(rows
                .into_iter()
                .filter_map(|(doctor, count)| doctor.map(|doctor| (doctor, count)))
                .collect())
        })
    }

    async fn insert(&self, clinic_id: i64, write: PatientWrite) -> DbResult<Patient> {
        let row = NewPatientRow::new(clinic_id, write.plain.clone());
        let keys = &self.keys;
        in_transaction!(&self.pool, |conn| {
            let id = insert_sealed!(conn, patients, &row, |id| write.sealed(keys, clinic_id, id));
            let patient = patients::table
                .find(id)
                .select(Patient::as_select())
                .get_result(conn)
                .await?;
            add_live_patients!(conn, clinic_id, 1);
            Ok(patient)
        })
    }

    async fn insert_many(&self, clinic_id: i64, writes: Vec<PatientWrite>) -> DbResult<Vec<i64>> {
        let rows: Vec<(NewPatientRow, PatientWrite)> = writes
            .into_iter()
            .map(|w| (NewPatientRow::new(clinic_id, w.plain.clone()), w))
            .collect();
        let keys = &self.keys;
        // Row by row inside one transaction: diesel-async cannot batch-insert into SQLite, and
        // one transaction keeps it fast and all-or-nothing on every backend.
        in_transaction!(&self.pool, |conn| {
            let mut ids = Vec::with_capacity(rows.len());
            for (row, write) in &rows {
                let id =
                    insert_sealed!(conn, patients, row, |id| write.sealed(keys, clinic_id, id));
                ids.push(id);
            }
            add_live_patients!(conn, clinic_id, ids.len() as i64);
            Ok(ids)
        })
    }

    async fn update(
        &self,
        clinic_id: i64,
        id: i64,
        seen_at: NaiveDateTime,
        write: PatientWrite,
    ) -> DbResult<Option<Patient>> {
        let sealed = write.sealed(&self.keys, clinic_id, id);
        let updated = in_transaction!(&self.pool, |conn| Ok(update_returning!(
            conn,
            diesel::update(
                patients::table
                    .filter(patients::id.eq(id))
                    .filter(patients::clinic_id.eq(clinic_id))
                    .filter(patients::deleted_at.is_null())
                    .filter(patients::updated_at.eq(seen_at))
            )
            .set((&write.plain, &sealed)),
            patients,
            id,
            Patient
        )))?;
        if updated.is_some() {
            self.cache.wrote::<Patient>(clinic_id, id).await;
        }
        Ok(updated)
    }

    /// A deleted patient's appointments go with them: queries leave them out, and the entity
    /// cache forgets them here, as their own writes would make it.
    async fn soft_delete(&self, clinic_id: i64, id: i64, at: NaiveDateTime) -> DbResult<bool> {
        let cached = self.cache.enabled();
        let deleted = in_transaction!(&self.pool, |conn| {
            let changed = diesel::update(
                patients::table
                    .filter(patients::id.eq(id))
                    .filter(patients::clinic_id.eq(clinic_id))
                    .filter(patients::deleted_at.is_null()),
            )
            .set((patients::deleted_at.eq(at), patients::updated_at.eq(at)))
            .execute(conn)
            .await?;
            if changed == 0 {
                return Ok(None);
            }
            add_live_patients!(conn, clinic_id, -1);
            let appointment_ids: Vec<i64> = if cached {
                appointments::table
                    .filter(appointments::patient_id.eq(id))
                    .select(appointments::id)
                    .load(conn)
                    .await?
            } else {
                Vec::new()
            };
            Ok(Some(appointment_ids))
        })?;
        let Some(appointment_ids) = deleted else {
            return Ok(false);
        };
        self.cache.wrote::<Patient>(clinic_id, id).await;
        self.cache
            .invalidate(Kind::Appointment, clinic_id, &appointment_ids)
            .await;
        Ok(true)
    }

    async fn restore(
        &self,
        clinic_id: i64,
        id: i64,
        at: NaiveDateTime,
    ) -> DbResult<Option<Patient>> {
        let restored = in_transaction!(&self.pool, |conn| {
            let restored = update_returning!(
                conn,
                diesel::update(
                    patients::table
                        .filter(patients::id.eq(id))
                        .filter(patients::clinic_id.eq(clinic_id))
                        .filter(patients::deleted_at.is_not_null()),
                )
                .set((
                    patients::deleted_at.eq(None::<NaiveDateTime>),
                    patients::updated_at.eq(at),
                )),
                patients,
                id,
                Patient
            );
            if restored.is_some() {
                add_live_patients!(conn, clinic_id, 1);
            }
            Ok(restored)
        })?;
        if restored.is_some() {
            self.cache.wrote::<Patient>(clinic_id, id).await;
        }
        Ok(restored)
    }
}

/// Recomputes the search key of up to `limit` patients with ids above `after`, soft-deleted ones
/// included (a restore brings them back); returns the last id read, `None` past the last row.
/// A row changed since it was read keeps the key that its writer computed.
pub async fn rebuild_search_keys(pool: &DbPool, after: i64, limit: i64) -> DbResult<Option<i64>> {
    in_transaction!(pool, |conn| {
        let rows: Vec<Patient> = patients::table
            .filter(patients::id.gt(after))
            .order(patients::id)
            .limit(limit)
            .select(Patient::as_select())
            .load(conn)
            .await?;
        for row in &rows {
            diesel::update(
                patients::table
                    .filter(patients::id.eq(row.id))
                    .filter(patients::updated_at.eq(row.updated_at)),
            )
            .set(patients::search_text.eq(search_text(&row.name, &row.email)))
            .execute(conn)
            .await?;
        }
        Ok(rows.last().map(|row| row.id))
    })
}

/// Writes the blind index of `$phone` into patient `$id`'s row.
macro_rules! set_phone_index {
    ($conn:ident, $keys:expr, $id:expr, $clinic_id:expr, $phone:expr) => {
        diesel::update(patients::table.find($id))
            .set(patients::phone_index.eq($keys.blind_index(PATIENT_PHONE, $clinic_id, $phone)))
            .execute($conn)
            .await?
    };
}

/// One batch of a resealing pass (`core::sealing::reseal`) over the patients `pass` names,
/// soft-deleted ones included: every sealed column, and the
/// blind index of each phone rewritten.
pub async fn reseal(pool: &DbPool, keys: &DataKeys, pass: ResealPass) -> DbResult<ResealBatch> {
    in_transaction!(pool, |conn| {
        let mut batch = reseal_column!(conn, keys, &pass, patients, phone, PATIENT_PHONE);
        for (id, clinic_id, phone) in std::mem::take(&mut batch.rewritten) {
            set_phone_index!(conn, keys, id, clinic_id, &phone);
        }
        if let (true, Some(last)) = (pass.plain_allowed, batch.last) {
            // On upgrade, also the sealed phones without an index: a migration reverted and
            // applied again drops the indexes and keeps the values. (The phones just sealed
            // have theirs.)
            let unindexed: Vec<(i64, i64, Option<Sealed>)> = patients::table
                .filter(patients::id.gt(pass.after))
                .filter(patients::id.le(last))
                .filter(patients::phone.is_not_null())
                .filter(patients::phone_index.is_null())
                .select((patients::id, patients::clinic_id, patients::phone))
                .load(conn)
                .await?;
            for (id, clinic_id, sealed) in unindexed {
                if let Ok(Some(phone)) = keys.open_optional(PATIENT_PHONE, id, sealed.as_ref()) {
                    set_phone_index!(conn, keys, id, clinic_id, &phone);
                }
            }
        }
        batch.add(reseal_columns!(conn, keys, &pass, patients, [
            date_of_birth: PATIENT_DATE_OF_BIRTH,
            internal_notes: PATIENT_INTERNAL_NOTES,
        ]));
        Ok(batch)
    })
}
