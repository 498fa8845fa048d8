//! Prescription queries, always scoped (clinic, and for a PATIENT their own rows).
use std::borrow::Cow;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Untyped;
use diesel_async::RunQueryDsl;

use super::columns::{APPOINTMENT_ID, KEYS, NAMES, PartialPrescription};
use super::model::{NewPrescription, Prescription, PrescriptionFilter, PrescriptionStatus};
use crate::core::pagination::{Direction, KeyCursor, PageRequest};
use crate::core::scope::Scope;
use crate::core::text::escape_like;
use crate::db::columns::{Columns, PreparedSets};
use crate::db::limit::limited;
use crate::db::per_parent::PerParentQuery;
use crate::db::schema::{patients, prescriptions};
use crate::db::text::lower;
use crate::db::{DbPool, DbResult};
use crate::modules::doctor::Doctor;
use crate::modules::doctor::doctors_named_by;
use crate::{in_transaction, keyset, single_write, with_conn};

/// Which rows a per-parent list is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrescriptionParent {
    Patient,
    Appointment,
}

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
    /// The newest `per_parent` prescriptions of each parent, in one statement.
    async fn list_per_parent(
        &self,
        scope: &Scope,
        parent: PrescriptionParent,
        parent_ids: &[i64],
        status: Option<PrescriptionStatus>,
        per_parent: usize,
        columns: Columns,
    ) -> DbResult<Vec<PartialPrescription>>;
    /// The prescribers (doctors of the caller's clinic) of the rows `list_per_parent` returns
    /// for the same arguments, as [`doctors_named_by`] reads them.
    async fn prescribers_per_parent(
        &self,
        scope: &Scope,
        parent: PrescriptionParent,
        parent_ids: &[i64],
        status: Option<PrescriptionStatus>,
        per_parent: usize,
    ) -> DbResult<Option<Vec<Doctor>>>;
    /// `(parent id, count)` for each parent that has matching prescriptions.
    async fn count_per_parent(
        &self,
        scope: &Scope,
        parent: PrescriptionParent,
        parent_ids: &[i64],
        status: Option<PrescriptionStatus>,
    ) -> DbResult<Vec<(i64, i64)>>;
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
    /// The column sets of nested lists whose statements stay prepared.
    prepared_sets: PreparedSets,
}

impl DieselPrescriptionRepository {
    pub fn new(pool: DbPool) -> Self {
        Self {
            pool,
            prepared_sets: PreparedSets::default(),
        }
    }
}

/// `selected` of the newest `per_parent` prescriptions of each parent that `scope` may read,
/// of `status` if given.
fn first_rows(
    scope: &Scope,
    parent: PrescriptionParent,
    parent_ids: &[i64],
    status: Option<PrescriptionStatus>,
    per_parent: usize,
    selected: impl Into<Cow<'static, str>>,
) -> PerParentQuery<Untyped> {
    let parent_column = match parent {
        PrescriptionParent::Patient => "patient_id",
        PrescriptionParent::Appointment => "appointment_id",
    };
    let mut query = PerParentQuery::new(
        "prescriptions",
        selected,
        parent_column,
        parent_ids,
        "created_at DESC, id DESC",
        per_parent,
    )
    .in_clinic("clinic_id", scope.clinic_id);
    // The parent was read as a live record, and an appointment's patient is its
    // prescriptions' patient: no need to look at the patient again.
    if let Some(own) = scope.patient_id {
        query = query.eq_id("patient_id", own);
    }
    if let Some(status) = status {
        query = query.eq_name("status", status.as_str());
    }
    query
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

    async fn list_per_parent(
        &self,
        scope: &Scope,
        parent: PrescriptionParent,
        parent_ids: &[i64],
        status: Option<PrescriptionStatus>,
        per_parent: usize,
        columns: Columns,
    ) -> DbResult<Vec<PartialPrescription>> {
        // The rows are dealt out to their parents by the parent column.
        let columns = match parent {
            PrescriptionParent::Patient => columns.with(KEYS),
            PrescriptionParent::Appointment => columns.with(KEYS).with(APPOINTMENT_ID),
        };
        let selected = columns.select_list(NAMES);
        let mut query = first_rows(scope, parent, parent_ids, status, per_parent, selected);
        if !self.prepared_sets.admit(columns) {
            query = query.unprepared();
        }
        with_conn!(&self.pool, |conn| Ok((&query)
            .load::<PartialPrescription>(conn)
            .await?))
    }

    async fn prescribers_per_parent(
        &self,
        scope: &Scope,
        parent: PrescriptionParent,
        parent_ids: &[i64],
        status: Option<PrescriptionStatus>,
        per_parent: usize,
    ) -> DbResult<Option<Vec<Doctor>>> {
        let names = first_rows(
            scope,
            parent,
            parent_ids,
            status,
            per_parent,
            "prescriber_id",
        );
        doctors_named_by(&self.pool, scope.clinic_id, names).await
    }

    async fn count_per_parent(
        &self,
        scope: &Scope,
        parent: PrescriptionParent,
        parent_ids: &[i64],
        status: Option<PrescriptionStatus>,
    ) -> DbResult<Vec<(i64, i64)>> {
        let ids = parent_ids.to_vec();
        let filter = PrescriptionFilter {
            status,
            ..Default::default()
        };
        with_conn!(&self.pool, |conn| Ok(match parent {
            PrescriptionParent::Patient => {
                scoped!(
                    prescriptions::table
                        .group_by(prescriptions::patient_id)
                        .select((prescriptions::patient_id, diesel::dsl::count_star()))
                        .into_boxed(),
                    scope,
                    &filter
                )
                .filter(prescriptions::patient_id.eq_any(&ids))
                .load(conn)
                .await?
            }
            PrescriptionParent::Appointment => {
                let counts: Vec<(Option<i64>, i64)> = scoped!(
                    prescriptions::table
                        .group_by(prescriptions::appointment_id)
                        .select((prescriptions::appointment_id, diesel::dsl::count_star()))
                        .into_boxed(),
                    scope,
                    &filter
                )
                .filter(prescriptions::appointment_id.eq_any(&ids))
                .load(conn)
                .await?;
                counts
                    .into_iter()
                    .filter_map(|(id, count)| Some((id?, count)))
                    .collect()
            }
        }))
    }

    async fn insert(&self, prescription: NewPrescription) -> DbResult<Prescription> {
        single_write!(&self.pool, |conn| Ok(diesel::insert_into(
            prescriptions::table
        )
        .values(&prescription)
        .returning(Prescription::as_returning())
        .get_result(conn)
        .await?))
    }

    async fn insert_many(&self, rows: Vec<NewPrescription>) -> DbResult<usize> {
        in_transaction!(&self.pool, |conn| {
            for row in &rows {
                diesel::insert_into(prescriptions::table)
                    .values(row)
                    .execute(conn)
                    .await?;
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
        single_write!(&self.pool, |conn| Ok(diesel::update(
            prescriptions::table
                .filter(prescriptions::id.eq(id))
                .filter(prescriptions::clinic_id.eq(clinic_id))
                .filter(prescriptions::status.eq(PrescriptionStatus::Active.as_str()))
        )
        .set((
            prescriptions::status.eq(PrescriptionStatus::Discontinued.as_str()),
            prescriptions::discontinued_reason.eq(Some(reason.as_str())),
            prescriptions::updated_at.eq(at),
        ))
        .returning(Prescription::as_returning())
        .get_result(conn)
        .await
        .optional()?))
    }
}
