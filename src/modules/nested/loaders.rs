//! The DataLoader keys of nested lists, and their loaders: every list's, through the service
//! that owns its records.
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::{Batch, NestedList, PerParentKey};
use crate::db::columns::Columns;
use crate::modules::doctor::{Doctors, WithDoctor, rows_and_named_doctors};
use crate::modules::loaders::{BatchLoader, deal_out, group_by_shape, load_error};

/// The first `fetch` rows of the list `L` under one parent matching `filter`, with `columns`
/// (and the keys), and with their doctors when `with_doctors`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListOf<L: NestedList> {
    pub parent: L::Parent,
    pub id: i64,
    pub filter: L::Filter,
    pub fetch: usize,
    pub columns: Columns,
    pub with_doctors: bool,
}

impl<L: NestedList> PerParentKey for ListOf<L> {
    fn parent(&self) -> i64 {
        self.id
    }

    fn for_parent(&self, parent: i64) -> Self {
        Self {
            id: parent,
            ..self.clone()
        }
    }
}

/// A list's rows as a batch read them, each with its doctor when the selection asked for it
/// (see [`BatchLoader::with_doctors`]).
pub type Rows<L> = Arc<Vec<WithDoctor<<L as NestedList>::Row>>>;

/// The lists `L` of the parents of a page, loaded together (see `page_batch.rs`).
pub type PageList<L> = super::PageBatch<ListOf<L>, Rows<L>>;

impl<L: NestedList> ListOf<L> {
    /// What the keys of one statement share: all but the parent id.
    fn shape(&self) -> (Self, i64) {
        (self.for_parent(0), self.id)
    }
}

impl<L: NestedList> Loader<ListOf<L>> for BatchLoader {
    type Value = Rows<L>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ListOf<L>]) -> Result<HashMap<ListOf<L>, Rows<L>>, Self::Error> {
        let owner = L::owner(&self.services);
        let caller = &self.caller;
        let mut groups = Vec::new();
        let mut doctors = Doctors::new();
        for (shape, ids) in group_by_shape(keys, ListOf::shape) {
            let batch = Batch {
                parent: shape.parent,
                parent_ids: &ids,
                filter: &shape.filter,
                fetch: shape.fetch,
                columns: shape.columns,
            };
            let rows = owner.per_parent(caller, &batch);
            let named = shape
                .with_doctors
                .then(|| owner.doctors_per_parent(caller, &batch));
            let rows = rows_and_named_doctors(rows, named, &mut doctors).await?;
            groups.push((shape, rows));
        }
        let wants = |shape: &ListOf<L>| shape.with_doctors;
        let groups = self
            .with_doctors(groups, wants, L::doctor_of, doctors)
            .await?;
        let mut found = HashMap::new();
        for (shape, rows) in groups {
            let parent_of = |row: &WithDoctor<L::Row>| L::parent_of(shape.parent, &row.row);
            deal_out(&mut found, rows, parent_of, |id| shape.for_parent(id));
        }
        Ok(found)
    }
}

/// How many rows of the list `L` under one parent match `filter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountOf<L: NestedList> {
    pub parent: L::Parent,
    pub id: i64,
    pub filter: L::Filter,
}

impl<L: NestedList> Loader<CountOf<L>> for BatchLoader {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CountOf<L>]) -> Result<HashMap<CountOf<L>, i64>, Self::Error> {
        let owner = L::owner(&self.services);
        let mut found = HashMap::new();
        for ((parent, filter), ids) in
            group_by_shape(keys, |k| ((k.parent, k.filter.clone()), k.id))
        {
            let counts = owner
                .count_per_parent(&self.caller, parent, &ids, &filter)
                .await
                .map_err(load_error)?;
            for (id, count) in counts {
                let key = CountOf {
                    parent,
                    id,
                    filter: filter.clone(),
                };
                found.insert(key, count);
            }
        }
        Ok(found)
    }
}
