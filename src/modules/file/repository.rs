//! Patients' file records; the only file code that touches diesel.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{FileFacts, FileKind, FileStatus, NewPatientFile, PatientFile};
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::core::sealing::fields::PATIENT_FILE_NAME;
use crate::core::sealing::{DataKeys, ResealBatch, ResealPass, Sealed};
use crate::db::schema::patient_files;
use crate::db::{DbPool, DbResult, OwnerLock};
use crate::{in_transaction, insert_sealed, keyset, reseal_columns, with_conn};

#[async_trait]
pub trait FileRepository: Send + Sync {
    /// Stores a new file's record, its name sealed, if the clinic's files and it stay within
    /// `quota` bytes (`None` if they would not), counting uploads still awaited only if asked
    /// for since `awaited_since`. Checked and inserted under a lock on the clinic, so uploads
    /// asked for at once cannot pass it between them.
    async fn insert_within(
        &self,
        file: NewPatientFile,
        name: &str,
        quota: i64,
        awaited_since: NaiveDateTime,
    ) -> DbResult<Option<PatientFile>>;
    /// A file of the clinic, purged or not.
    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<PatientFile>>;
    /// The patient's files of `kind` that are not purged, newest first; at most
    /// `page.limit + 1` rows.
    async fn list(
        &self,
        clinic_id: i64,
        patient_id: i64,
        kind: FileKind,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<PatientFile>>;
    async fn count(&self, clinic_id: i64, patient_id: i64, kind: FileKind) -> DbResult<i64>;
    /// The newest READY photo of each of the clinic's patients `patient_ids` that has one.
    async fn photos(&self, clinic_id: i64, patient_ids: &[i64]) -> DbResult<Vec<PatientFile>>;
    /// Moves the file from `from` to `to`; false if it was not in `from`.
    async fn set_status(&self, id: i64, from: FileStatus, to: FileStatus) -> DbResult<bool>;
    /// A processed file: READY with what was found in it.
    async fn accept(&self, id: i64, facts: &FileFacts) -> DbResult<()>;
    /// A refused file: REJECTED with the reason.
    async fn reject(&self, id: i64, reason: &str) -> DbResult<()>;
    /// Each clinic's usage, for `/metrics`, as the quota counts it.
    async fn usage_per_clinic(&self, awaited_since: NaiveDateTime) -> DbResult<Vec<(i64, i64)>>;
    /// Up to `limit` uploads asked for before `before` whose bytes were never completed.
    async fn awaited_before(&self, before: NaiveDateTime, limit: i64)
    -> DbResult<Vec<PatientFile>>;
    /// REJECTED with `reason` if it is still awaiting its upload; whether it was.
    async fn expire_awaited(&self, id: i64, reason: &str) -> DbResult<bool>;
    /// The patient's files still in storage.
    async fn unpurged(&self, clinic_id: i64, patient_id: i64) -> DbResult<Vec<PatientFile>>;
    async fn mark_purged(&self, id: i64, at: NaiveDateTime) -> DbResult<()>;
}

pub struct DieselFileRepository {
    pool: DbPool,
    keys: Arc<DataKeys>,
}

impl DieselFileRepository {
    pub fn new(pool: DbPool, keys: Arc<DataKeys>) -> Self {
        Self { pool, keys }
    }
}

/// A new file's name, sealed once its row has an id.
#[derive(AsChangeset)]
#[diesel(table_name = patient_files)]
struct SealedName {
    name: Sealed,
}

/// Statuses whose bytes count against the quota (with uploads still awaited, if recent).
const HELD: [&str; 2] = ["PENDING", "READY"];

/// The files that count against their clinic's quota: those in storage, and uploads awaited
/// since `$awaited_since` (an older one can no longer arrive). Callers sum their sizes
/// themselves rather than with SQL's SUM, whose type differs by backend (NUMERIC on PostgreSQL and MySQL,
/// INTEGER on SQLite); a clinic keeps thousands of files, not millions.
macro_rules! held_files {
    ($awaited_since:expr) => {
        patient_files::table
            .filter(patient_files::purged_at.is_null())
            .filter(
                patient_files::status.eq_any(HELD).or(patient_files::status
                    .eq(FileStatus::AwaitingUpload.as_str())
                    .and(patient_files::created_at.ge($awaited_since))),
            )
    };
}

#[async_trait]
impl FileRepository for DieselFileRepository {
    async fn insert_within(
        &self,
        file: NewPatientFile,
        name: &str,
        quota: i64,
        awaited_since: NaiveDateTime,
    ) -> DbResult<Option<PatientFile>> {
        let keys = &self.keys;
        let clinic_id = file.clinic_id;
        in_transaction!(&self.pool, |conn| {
            OwnerLock::lock_owner(&mut *conn, "clinics", clinic_id).await?;
            let used: i64 = held_files!(awaited_since)
                .filter(patient_files::clinic_id.eq(clinic_id))
                .select(patient_files::byte_size)
                .load::<i64>(conn)
                .await?
                .into_iter()
                .sum();
            if used.saturating_add(file.byte_size) > quota {
                return Ok(None);
            }
            let id = insert_sealed!(conn, patient_files, &file, |id| SealedName {
                name: keys.seal(PATIENT_FILE_NAME, id, name)
            });
            Ok(Some(
                patient_files::table
                    .find(id)
                    .select(PatientFile::as_select())
                    .get_result(conn)
                    .await?,
            ))
        })
    }

    async fn find(&self, clinic_id: i64, id: i64) -> DbResult<Option<PatientFile>> {
        with_conn!(&self.pool, |conn| Ok(patient_files::table
            .filter(patient_files::clinic_id.eq(clinic_id))
            .filter(patient_files::id.eq(id))
            .select(PatientFile::as_select())
            .first(conn)
            .await
            .optional()?))
    }

    async fn list(
        &self,
        clinic_id: i64,
        patient_id: i64,
        kind: FileKind,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<PatientFile>> {
        // Newest first: forward pages walk back in time.
        let ascending = page.direction == Direction::Backward;
        let key = page.cursor.as_ref().and_then(KeyCursor::time);
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let rows = i64::try_from(page.limit + 1).unwrap_or(i64::MAX);
        with_conn!(&self.pool, |conn| {
            let query = patient_files::table
                .filter(patient_files::clinic_id.eq(clinic_id))
                .filter(patient_files::patient_id.eq(patient_id))
                .filter(patient_files::kind.eq(kind.as_str()))
                .filter(patient_files::purged_at.is_null())
                .select(PatientFile::as_select())
                .into_boxed();
            let query = keyset!(
                query,
                patient_files::created_at,
                patient_files::id,
                key,
                cursor_id,
                ascending
            );
            Ok(query.limit(rows).load(conn).await?)
        })
    }

    async fn count(&self, clinic_id: i64, patient_id: i64, kind: FileKind) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| Ok(patient_files::table
            .filter(patient_files::clinic_id.eq(clinic_id))
            .filter(patient_files::patient_id.eq(patient_id))
            .filter(patient_files::kind.eq(kind.as_str()))
            .filter(patient_files::purged_at.is_null())
            .count()
            .get_result(conn)
            .await?))
    }

    async fn photos(&self, clinic_id: i64, patient_ids: &[i64]) -> DbResult<Vec<PatientFile>> {
        // Every READY photo of these patients, newest first for each: a patient has few, and
        // one statement for any number of patients needs no per-backend "first of each group".
        let rows: Vec<PatientFile> = with_conn!(&self.pool, |conn| Ok(patient_files::table
            .filter(patient_files::clinic_id.eq(clinic_id))
            .filter(patient_files::patient_id.eq_any(patient_ids))
            .filter(patient_files::kind.eq(FileKind::Photo.as_str()))
            .filter(patient_files::status.eq(FileStatus::Ready.as_str()))
            .filter(patient_files::purged_at.is_null())
            .order((patient_files::patient_id, patient_files::id.desc()))
            .select(PatientFile::as_select())
            .load(conn)
            .await?))?;
        let mut newest: Vec<PatientFile> = Vec::with_capacity(patient_ids.len());
        for row in rows {
            if newest
                .last()
                .is_none_or(|last| last.patient_id != row.patient_id)
            {
                newest.push(row);
            }
        }
        Ok(newest)
    }

    async fn set_status(&self, id: i64, from: FileStatus, to: FileStatus) -> DbResult<bool> {
        with_conn!(&self.pool, |conn| Ok(diesel::update(
            patient_files::table
                .filter(patient_files::id.eq(id))
                .filter(patient_files::status.eq(from.as_str()))
        )
        .set(patient_files::status.eq(to.as_str()))
        .execute(conn)
        .await?
            == 1))
    }

    async fn accept(&self, id: i64, facts: &FileFacts) -> DbResult<()> {
        with_conn!(&self.pool, |conn| {
            diesel::update(patient_files::table.find(id))
                .set((
                    facts,
                    patient_files::status.eq(FileStatus::Ready.as_str()),
                    patient_files::reason.eq(None::<String>),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn reject(&self, id: i64, reason: &str) -> DbResult<()> {
        with_conn!(&self.pool, |conn| {
            diesel::update(patient_files::table.find(id))
                .set((
                    patient_files::status.eq(FileStatus::Rejected.as_str()),
                    patient_files::reason.eq(reason),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    async fn usage_per_clinic(&self, awaited_since: NaiveDateTime) -> DbResult<Vec<(i64, i64)>> {
        with_conn!(&self.pool, |conn| {
            let rows: Vec<(i64, i64)> = held_files!(awaited_since)
                .order(patient_files::clinic_id)
                .select((patient_files::clinic_id, patient_files::byte_size))
                .load(conn)
                .await?;
            let mut totals: Vec<(i64, i64)> = Vec::new();
            for (clinic, size) in rows {
                match totals.last_mut() {
                    Some((last, total)) if *last == clinic => *total += size,
                    _ => totals.push((clinic, size)),
                }
            }
            Ok(totals)
        })
    }

    async fn awaited_before(
        &self,
        before: NaiveDateTime,
        limit: i64,
    ) -> DbResult<Vec<PatientFile>> {
        with_conn!(&self.pool, |conn| Ok(patient_files::table
            .filter(patient_files::status.eq(FileStatus::AwaitingUpload.as_str()))
            .filter(patient_files::created_at.lt(before))
            .order(patient_files::id)
            .limit(limit)
            .select(PatientFile::as_select())
            .load(conn)
            .await?))
    }

    async fn expire_awaited(&self, id: i64, reason: &str) -> DbResult<bool> {
        with_conn!(&self.pool, |conn| Ok(diesel::update(
            patient_files::table
                .filter(patient_files::id.eq(id))
                .filter(patient_files::status.eq(FileStatus::AwaitingUpload.as_str()))
        )
        .set((
            patient_files::status.eq(FileStatus::Rejected.as_str()),
            patient_files::reason.eq(reason),
        ))
        .execute(conn)
        .await?
            == 1))
    }

    async fn unpurged(&self, clinic_id: i64, patient_id: i64) -> DbResult<Vec<PatientFile>> {
        with_conn!(&self.pool, |conn| Ok(patient_files::table
            .filter(patient_files::clinic_id.eq(clinic_id))
            .filter(patient_files::patient_id.eq(patient_id))
            .filter(patient_files::purged_at.is_null())
            .order(patient_files::id)
            .select(PatientFile::as_select())
            .load(conn)
            .await?))
    }

    async fn mark_purged(&self, id: i64, at: NaiveDateTime) -> DbResult<()> {
        with_conn!(&self.pool, |conn| {
            diesel::update(patient_files::table.find(id))
                .set(patient_files::purged_at.eq(Some(at)))
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}

/// One batch of a resealing pass (`modules::resealing`) over the files' names.
pub async fn reseal(pool: &DbPool, keys: &DataKeys, pass: ResealPass) -> DbResult<ResealBatch> {
    in_transaction!(pool, |conn| {
        Ok(reseal_columns!(conn, keys, &pass, patient_files, [
            name: PATIENT_FILE_NAME,
        ]))
    })
}
