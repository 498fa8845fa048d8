//! A nested list of every row of a page, loaded when the first row's field asks.
//!
//! Under a page of 20 patients, each patient's `appointments` field asked the request's
//! DataLoader for its own key: 20 calls, each with its own key set, result map and channel,
//! gathered back into one batch. On the nested-page benchmark the DataLoader, with the loads it
//! ran, took a seventh of the server's profile samples; a tenth since (`bench/README.md`).
//!
//! The rows of a page share a [`PageBatch`] per nested list: the first row's field loads its key
//! for every row of the page in one call, and the other rows' fields take their rows from that.
//! A field whose key has another shape (an alias with other arguments) loads on its own, as
//! before; so a field returns what it did, through the same loader.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::dataloader::Loader;
use tokio::sync::OnceCell;

use crate::modules::loaders::{Loaders, Observed};

/// The key of a nested list of one parent.
pub trait PerParentKey: Clone + Eq + Hash + Send + Sync + 'static {
    fn parent(&self) -> i64;
    /// The same list of another parent.
    fn for_parent(&self, parent: i64) -> Self;
}

/// See the module: the lists of one shape for all `parents`.
pub struct PageBatch<K, V> {
    parents: Arc<[i64]>,
    loaded: OnceCell<Option<Loaded<K, V>>>,
}

struct Loaded<K, V> {
    /// The key of the field that loaded them: the others of its shape are in `lists`.
    first: K,
    /// What the loader answered for each parent's key (`None`: it has no rows), until the
    /// parent's field takes it: taken, not cloned, so a field can own its rows.
    lists: Mutex<HashMap<K, Option<V>>>,
}

impl<K: PerParentKey, V> PageBatch<K, V> {
    pub fn new(parents: Arc<[i64]>) -> Self {
        Self {
            parents,
            loaded: OnceCell::new(),
        }
    }

    /// What `loaders.load_one(key)` answers, through `page` when the parent is on one.
    pub async fn load(
        page: Option<&Self>,
        loaders: &Loaders,
        key: K,
    ) -> Result<Option<V>, async_graphql::Error>
    where
        Observed: Loader<K, Value = V, Error = async_graphql::Error>,
    {
        match page {
            Some(page) => page.load_one(loaders, key).await,
            None => loaders.load_one(key).await,
        }
    }

    async fn load_one(&self, loaders: &Loaders, key: K) -> Result<Option<V>, async_graphql::Error>
    where
        Observed: Loader<K, Value = V, Error = async_graphql::Error>,
    {
        let loaded = self
            .loaded
            .get_or_init(|| async {
                let keys: Vec<K> = self.parents.iter().map(|&p| key.for_parent(p)).collect();
                // A failure is reported by each field's own load, below.
                let mut found = loaders.load_many(keys.iter().cloned()).await.ok()?;
                let lists = keys.into_iter().map(|k| {
                    let list = found.remove(&k);
                    (k, list)
                });
                Some(Loaded {
                    first: key.clone(),
                    lists: Mutex::new(lists.collect()),
                })
            })
            .await;
        if let Some(loaded) = loaded
            && key.for_parent(loaded.first.parent()) == loaded.first
        {
            let mut lists = loaded.lists.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(list) = lists.remove(&key) {
                return Ok(list);
            }
        }
        // Another shape, or the same list selected twice on one parent.
        loaders.load_one(key).await
    }
}
