//! What a service offers of a nested list of its records: the same three reads for every list,
//! each under the scope the service decides.
use async_trait::async_trait;

use super::{Batch, NestedList, NestedRepository};
use crate::core::auth::Caller;
use crate::core::error::AppResult;
use crate::core::scope::Scope;
use crate::modules::doctor::Doctor;

/// Implemented by the service that owns the records of `L`: it says which of them the caller
/// may read, by the rule its root fields apply; the reads follow from that.
#[async_trait]
pub trait NestedReads<L: NestedList>: Send + Sync {
    /// The rows of `L` the caller may read; FORBIDDEN for a role that reads none.
    fn readable(&self, caller: &Caller) -> AppResult<Scope>;

    fn lists(&self) -> &NestedRepository<L>;

    /// The first `batch.fetch` rows of each parent the caller may read, in one statement.
    async fn per_parent(&self, caller: &Caller, batch: &Batch<'_, L>) -> AppResult<Vec<L::Row>> {
        let scope = self.readable(caller)?;
        Ok(self.lists().rows(&scope, batch).await?)
    }

    /// The doctors of the rows [`Self::per_parent`] returns for the same batch.
    async fn doctors_per_parent(
        &self,
        caller: &Caller,
        batch: &Batch<'_, L>,
    ) -> AppResult<Option<Vec<Doctor>>> {
        let scope = self.readable(caller)?;
        Ok(self.lists().doctors(&scope, batch).await?)
    }

    /// `(parent id, count)` of the rows the caller may read, for each parent that has any.
    async fn count_per_parent(
        &self,
        caller: &Caller,
        parent: L::Parent,
        parent_ids: &[i64],
        filter: &L::Filter,
    ) -> AppResult<Vec<(i64, i64)>> {
        let scope = self.readable(caller)?;
        Ok(self
            .lists()
            .counts(&scope, parent, parent_ids, filter)
            .await?)
    }
}
