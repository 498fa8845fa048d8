//! Prescription queries, always scoped (clinic, and for a PATIENT their own rows).
use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::sync::Arc;

use super::model::{NewPrescription, Prescription, PrescriptionFilter, PrescriptionStatus};
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::core::scope::Scope;
use crate::core::sealing::fields::{
    PRESCRIPTION_DISCONTINUED_REASON, PRESCRIPTION_DOSAGE, PRESCRIPTION_FREQUENCY,
    PRESCRIPTION_ROUTE,
};
use crate::core::sealing::{DataKeys, ResealBatch, ResealPass};
use crate::core::text::escape_like;
use crate::db::limit::limited;
use crate::db::schema::{patients, prescriptions};
use crate::db::text::lower;
use crate::db::{DbPool, DbResult};
use crate::{in_transaction, insert_sealed, keyset, reseal_columns, update_returning, with_conn};

#[async_trait]
pub trait PrescriptionRepository: Send + Sync {
    async fn find(&self, scope: &Scope, id: i64) -> DbResult<Option<Prescription>>;
    /// Rows in traversal order, at most `page.limit + 1`; newest first.
    async fn list(
        &self,
        scope: &Scope,
        filter: &PrescriptionFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Prescription>>;
    async fn count(&self, scope: &Scope, filter: &PrescriptionFilter) -> DbResult<i64>;
    async fn insert(&self, prescription: NewPrescription) -> DbResult<Prescription>;
    async fn insert_many(&self, rows: Vec<NewPrescription>) -> DbResult<usize>;
    /// ACTIVE -> DISCONTINUED; `None` if it was not ACTIVE (or does not exist).
    async fn discontinue(
        &self,
        clinic_id: i64,
        id: i64,
        reason: String,
        at: NaiveDateTime,
    ) -> DbResult<Option<Prescription>>;
}

pub struct DieselPrescriptionRepository {
    pool: DbPool,
    /// Seals what is written; reads hand the sealed values on as they are.
    keys: Arc<DataKeys>,
}

impl DieselPrescriptionRepository {
    pub fn new(pool: DbPool, keys: Arc<DataKeys>) -> Self {
        Self { pool, keys }
    }
}

/// Narrows a boxed prescriptions query to the scope and the filter, and to patients who are not
/// deleted (a deleted patient's records go with them).
macro_rules! scoped {
    ($query:expr, $scope:expr, $filter:expr) => {{
        let scope: &Scope = $scope;
        let filter: &PrescriptionFilter = $filter;
        let mut query = $query
            .filter(prescriptions::clinic_id.eq(scope.clinic_id))
            .filter(diesel::dsl::exists(
                patients::table
                    .filter(patients::id.eq(prescriptions::patient_id))
                    .filter(patients::deleted_at.is_null()),
            ));
        if let Some(own) = scope.patient_id {
            query = query.filter(prescriptions::patient_id.eq(own));
        }
        if let Some(id) = filter.patient_id {
            query = query.filter(prescriptions::patient_id.eq(id));
        }
        if let Some(id) = filter.prescriber_id {
            query = query.filter(prescriptions::prescriber_id.eq(id));
        }
        if let Some(id) = filter.appointment_id {
            query = query.filter(prescriptions::appointment_id.eq(id));
        }
        if let Some(status) = filter.status {
            query = query.filter(prescriptions::status.eq(status.as_str()));
        }
        if let Some(medication) = &filter.medication {
            let pattern = format!("%{}%", escape_like(&medication.to_lowercase()));
            query = query.filter(lower(prescriptions::medication).like(pattern).escape('\\'));
        }
        query
    }};
}

#[async_trait]
impl PrescriptionRepository for DieselPrescriptionRepository {
    async fn find(&self, scope: &Scope, id: i64) -> DbResult<Option<Prescription>> {
        with_conn!(&self.pool, |conn| {
            let query = scoped!(
                prescriptions::table
                    .select(Prescription::as_select())
                    .into_boxed(),
                scope,
                &PrescriptionFilter::default()
            );
            Ok(query
                .filter(prescriptions::id.eq(id))
                .first(conn)
                .await
                .optional()?)
        })
    }

    async fn list(
        &self,
        scope: &Scope,
        filter: &PrescriptionFilter,
        page: &PageRequest<KeyCursor>,
    ) -> DbResult<Vec<Prescription>> {
        // Newest first: reading forward walks created_at downwards.
        let ascending = page.direction == Direction::Backward;
        let key = page.cursor.as_ref().and_then(KeyCursor::time);
        let cursor_id = page.cursor.as_ref().map_or(0, |c| c.id);
        let rows = page.limit + 1;
        with_conn!(&self.pool, |conn| {
            let query = scoped!(
                prescriptions::table
                    .select(Prescription::as_select())
                    .into_boxed(),
                scope,
                filter
            );
            let query = keyset!(
                query,
                prescriptions::created_at,
                prescriptions::id,
                key,
                cursor_id,
                ascending
            );
            Ok(limited(query, rows).load_rows(conn).await?)
        })
    }

    async fn count(&self, scope: &Scope, filter: &PrescriptionFilter) -> DbResult<i64> {
        with_conn!(&self.pool, |conn| {
            let query = scoped!(
                prescriptions::table
                    .select(diesel::dsl::count_star())
                    .into_boxed(),
                scope,
                filter
            );
            Ok(query.get_result(conn).await?)
        })
    }

    async fn insert(&self, prescription: NewPrescription) -> DbResult<Prescription> {
        let keys = &self.keys;
        in_transaction!(&self.pool, |conn| {
            let plain = prescription.plain();
            let id = insert_sealed!(conn, prescriptions, &plain, |id| prescription
                .sealed(keys, id));
            Ok(prescriptions::table
                .find(id)
                .select(Prescription::as_select())
                .get_result(conn)
                .await?)
        })
    }

    async fn insert_many(&self, rows: Vec<NewPrescription>) -> DbResult<usize> {
        let keys = &self.keys;
        in_transaction!(&self.pool, |conn| {
            for row in &rows {
                insert_sealed!(conn, prescriptions, &row.plain(), |id| row.sealed(keys, id));
            }
            Ok(rows.len())
        })
    }

    async fn discontinue(
        &self,
        clinic_id: i64,
        id: i64,
        reason: String,
        at: NaiveDateTime,
    ) -> DbResult<Option<Prescription>> {
        let reason = self
            .keys
            .seal(PRESCRIPTION_DISCONTINUED_REASON, id, &reason);
        in_transaction!(&self.pool, |conn| Ok(update_returning!(
            conn,
            diesel::update(
                prescriptions::table
                    .filter(prescriptions::id.eq(id))
                    .filter(prescriptions::clinic_id.eq(clinic_id))
                    .filter(prescriptions::status.eq(PrescriptionStatus::Active.as_str()))
            )
            .set((
                prescriptions::status.eq(PrescriptionStatus::Discontinued.as_str()),
                prescriptions::discontinued_reason.eq(Some(&reason)),
                prescriptions::updated_at.eq(at),
            )),
            prescriptions,
            id,
            Prescription
        )))
    }
}

/// One batch of a resealing pass (`core::sealing::reseal`) over the prescriptions `pass`
/// names: every sealed column.
pub async fn reseal(pool: &DbPool, keys: &DataKeys, pass: ResealPass) -> DbResult<ResealBatch> {
    in_transaction!(pool, |conn| {
        Ok(reseal_columns!(conn, keys, &pass, prescriptions, [
            dosage: PRESCRIPTION_DOSAGE,
            frequency: PRESCRIPTION_FREQUENCY,
            route: PRESCRIPTION_ROUTE,
            discontinued_reason: PRESCRIPTION_DISCONTINUED_REASON,
        ]))
    })
}
