//! The database reads of nested lists: the only diesel code they need, the same for every list.
use std::marker::PhantomData;

use diesel::sql_types::Untyped;
use diesel_async::RunQueryDsl;

use super::{Batch, NestedList};
use crate::core::scope::Scope;
use crate::db::columns::PreparedSets;
use crate::db::per_parent::PerParentQuery;
use crate::db::{DbPool, DbResult};
use crate::modules::doctor::Doctor;
use crate::modules::doctor::doctors_named_by;
use crate::with_conn;

/// The reads of the list `L`, always scoped (clinic, and for a PATIENT their own rows).
pub struct NestedRepository<L> {
    pool: DbPool,
    /// The column sets whose statements stay prepared.
    prepared_sets: PreparedSets,
    list: PhantomData<fn() -> L>,
}

impl<L: NestedList> NestedRepository<L> {
    pub fn new(pool: DbPool) -> Self {
        Self {
            pool,
            prepared_sets: PreparedSets::default(),
            list: PhantomData,
        }
    }

    /// `selected` of the first `fetch` rows of each parent that `scope` may read and the
    /// filter keeps, in the list's order.
    fn first_rows(
        scope: &Scope,
        parent: L::Parent,
        parent_ids: &[i64],
        filter: &L::Filter,
        fetch: usize,
        selected: String,
    ) -> PerParentQuery<Untyped> {
        let (parent_column, _) = L::parent_column(parent);
        let mut query = PerParentQuery::new(
            L::TABLE,
            selected,
            parent_column,
            parent_ids,
            L::ORDER_BY,
            fetch,
        )
        .in_clinic("clinic_id", scope.clinic_id);
        if let Some(own) = scope.patient_id {
            // The caller's own record, read as a live one.
            query = query.eq_id("patient_id", own);
        } else if L::checks_patient(parent) {
            query = query.of_live_patient();
        }
        L::filtered(query, filter)
    }

    /// The batch's rows with its columns and the keys, in one statement.
    pub async fn rows(&self, scope: &Scope, batch: &Batch<'_, L>) -> DbResult<Vec<L::Row>> {
        let (_, parent_bit) = L::parent_column(batch.parent);
        let columns = batch.columns.with(L::KEYS).with(parent_bit);
        let selected = columns.select_list(L::COLUMNS);
        let mut query = Self::first_rows(
            scope,
            batch.parent,
            batch.parent_ids,
            batch.filter,
            batch.fetch,
            selected,
        );
        if !self.prepared_sets.admit(columns) {
            query = query.unprepared();
        }
        with_conn!(&self.pool, |conn| Ok((&query).load::<L::Row>(conn).await?))
    }

    /// The doctors (of the caller's clinic) the batch's rows name, as [`doctors_named_by`]
    /// reads them.
    pub async fn doctors(
        &self,
        scope: &Scope,
        batch: &Batch<'_, L>,
    ) -> DbResult<Option<Vec<Doctor>>> {
        let names = Self::first_rows(
            scope,
            batch.parent,
            batch.parent_ids,
            batch.filter,
            batch.fetch,
            L::DOCTOR_COLUMN.to_owned(),
        );
        doctors_named_by(&self.pool, scope.clinic_id, names).await
    }

    /// `(parent id, count)` for each parent that has rows `scope` may read and `filter` keeps.
    pub async fn counts(
        &self,
        scope: &Scope,
        parent: L::Parent,
        parent_ids: &[i64],
        filter: &L::Filter,
    ) -> DbResult<Vec<(i64, i64)>> {
        let counts = Self::first_rows(scope, parent, parent_ids, filter, 0, String::new()).counts();
        with_conn!(&self.pool, |conn| Ok((&counts)
            .load::<(i64, i64)>(conn)
            .await?))
    }
}
