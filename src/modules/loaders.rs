//! The per-request DataLoader. One is built for each authenticated request, for its caller, so
//! cached rows never cross requests or users. Each module implements `Loader<Key>` for
//! [`BatchLoader`] in its own `loaders.rs`, by calling its service's batch methods (many parents
//! at once): the service decides what the caller may read, as it does for root fields, so every
//! access rule is held once.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

use super::registry::Services;
use crate::core::auth::Caller;
use crate::core::error::AppError;
use crate::graphql::batching::BatchQueue;

pub struct BatchLoader {
    pub services: Services,
    pub caller: Caller,
}

/// The request's DataLoader, with its loads boxed. async-graphql's load future is about 500
/// bytes; awaited inline it would set the size of every field's future of the object whose
/// field loads (a patient's `name` as much as its `appointments`), and an object's fields'
/// futures are allocated side by side (`graphql/eager`): boxing the few loads shrinks them all.
pub struct Loaders(DataLoader<Observed>);

impl Loaders {
    pub async fn load_one<K>(
        &self,
        key: K,
    ) -> Result<Option<<Observed as Loader<K>>::Value>, <Observed as Loader<K>>::Error>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        Observed: Loader<K>,
    {
        Box::pin(self.0.load_one(key)).await
    }

    pub async fn load_many<K>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<K, <Observed as Loader<K>>::Value>, <Observed as Loader<K>>::Error>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        Observed: Loader<K>,
    {
        Box::pin(self.0.load_many(keys)).await
    }
}

/// The batch loader, with each batch's size recorded (`dataloader_batch_size{key}`).
pub struct Observed(BatchLoader);

impl<K> Loader<K> for Observed
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    BatchLoader: Loader<K>,
{
    type Value = <BatchLoader as Loader<K>>::Value;
    type Error = <BatchLoader as Loader<K>>::Error;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, Self::Value>, Self::Error> {
        let key = short_type_name(std::any::type_name::<K>());
        metrics::histogram!("dataloader_batch_size", "key" => key).record(keys.len() as f64);
        self.0.load(keys).await
    }
}

/// A type's name with each path cut to its last part: `ListOf<Appointments>` for
/// `clinicgraph::modules::nested::loaders::ListOf<clinicgraph::modules::appointment::…>`.
fn short_type_name(full: &str) -> String {
    full.split_inclusive(['<', '>', ',', ' '])
        .map(|part| part.rsplit("::").next().unwrap_or(part))
        .collect()
}

/// A loader for one request, and the queue whose batches [`BatchQueue::drive`] runs.
pub fn for_request(services: Services, caller: &Caller) -> (Loaders, BatchQueue) {
    let queue = BatchQueue::default();
    let batch_loader = BatchLoader {
        services,
        caller: caller.clone(),
    };
    // No timer: the queue starts each batch as soon as the request is blocked on it.
    let loader = DataLoader::new(Observed(batch_loader), queue.spawner()).delay(Duration::ZERO);
    (Loaders(loader), queue)
}

/// A loader for a long-lived connection (subscriptions). It keeps no rows between events:
/// async-graphql's loader caches nothing unless asked to. Its batches run as ordinary tasks,
/// since no request future drives a queue here.
pub fn for_connection(services: Services, caller: &Caller) -> Loaders {
    let batch_loader = BatchLoader {
        services,
        caller: caller.clone(),
    };
    Loaders(DataLoader::new(Observed(batch_loader), tokio::spawn))
}

/// The request's loader (present whenever a caller is authenticated).
pub fn loaders<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data_opt::<Loaders>()
        .ok_or_else(|| AppError::Unauthenticated.into())
}

/// Loader errors must be cloneable; async-graphql's error is, and converting here logs an
/// internal failure once per batch rather than once per field.
pub fn load_error(error: AppError) -> async_graphql::Error {
    error.into()
}

/// Groups keys that share everything but the parent id, so each group is one statement.
pub fn group_by_shape<K, S>(keys: &[K], shape: impl Fn(&K) -> (S, i64)) -> HashMap<S, Vec<i64>>
where
    S: Eq + Hash,
{
    let mut groups: HashMap<S, Vec<i64>> = HashMap::new();
    for key in keys {
        let (shape, parent) = shape(key);
        groups.entry(shape).or_default().push(parent);
    }
    groups
}

/// async-graphql hands each field a clone of the value it asked for, out of the batch's map. A
/// loader whose values are rows returns them behind an `Arc`, making that clone a reference
/// count; [`owned`] then takes the rows without copying them, since the batch's map is gone by
/// the time the field runs (a copy is made only if it is not).
pub fn owned<T: Clone>(shared: Arc<T>) -> T {
    Arc::unwrap_or_clone(shared)
}

/// Deals one statement's rows out to the keys of their parents. Rows are gathered by parent id
/// first, so each key (which carries its filter) is hashed once, not once per row.
pub fn deal_out<K, R>(
    found: &mut HashMap<K, Arc<Vec<R>>>,
    rows: impl IntoIterator<Item = R>,
    parent_of: impl Fn(&R) -> Option<i64>,
    key_of: impl Fn(i64) -> K,
) where
    K: Eq + Hash,
{
    let mut by_parent: HashMap<i64, Vec<R>> = HashMap::new();
    for row in rows {
        if let Some(parent) = parent_of(&row) {
            by_parent.entry(parent).or_default().push(row);
        }
    }
    found.extend(
        by_parent
            .into_iter()
            .map(|(parent, rows)| (key_of(parent), Arc::new(rows))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_named_without_its_paths() {
        assert_eq!(short_type_name("a::b::DoctorKey"), "DoctorKey");
        assert_eq!(
            short_type_name("a::nested::ListOf<a::lists::Appointments>"),
            "ListOf<Appointments>"
        );
        assert_eq!(short_type_name("Pair<a::X, b::c::Y>"), "Pair<X, Y>");
    }

    #[test]
    fn rows_go_to_their_parents_keys_in_their_order() {
        let rows = vec![(1, "a"), (2, "b"), (1, "c"), (0, "no parent")];
        let mut found = HashMap::new();
        let parent_of = |row: &(i64, &str)| (row.0 != 0).then_some(row.0);
        deal_out(&mut found, rows, parent_of, |id| ("shape", id));
        assert_eq!(found.len(), 2);
        assert_eq!(*found[&("shape", 1)], [(1, "a"), (1, "c")]);
        assert_eq!(*found[&("shape", 2)], [(2, "b")]);
    }

    #[test]
    fn a_value_no_one_else_holds_is_taken_without_a_copy() {
        let rows = Arc::new(vec![String::from("row")]);
        let at = rows.as_ptr();
        let taken = owned(rows);
        assert_eq!(taken.as_ptr(), at);

        let shared = Arc::new(vec![String::from("row")]);
        let other = shared.clone();
        assert_eq!(owned(shared), *other);
    }
}
