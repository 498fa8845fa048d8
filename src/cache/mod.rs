//! Cache-aside for entity reads by id, shared through Redis when it is configured and kept in
//! process otherwise. Entries are keyed by kind, clinic and id, so a lookup can only ever find a
//! row of the clinic it names; callers still apply their scope to what comes back, exactly as the
//! database query would. A repository declares which of its reads are cached (see [`Cached`]).
//!
//! A write replaces the entry with a short-lived tombstone rather than deleting it, and reads
//! fill only absent keys: a read that fetched the old row just before the write cannot put it
//! back after the write's invalidation (the classic cache-aside race).
mod memory;
mod redis_store;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::memory::MemoryStore;
pub use self::redis_store::RedisStore;

/// How long an invalidated key refuses to be filled again. Longer than any read takes from the
/// database to the cache.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(5);

/// Bumped whenever a cached struct changes shape, so a new release never decodes an old entry.
const FORMAT_VERSION: u32 = 1;

/// What is cached; part of every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Clinic,
    Doctor,
    Patient,
    Appointment,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Clinic => "clinic",
            Kind::Doctor => "doctor",
            Kind::Patient => "patient",
            Kind::Appointment => "appointment",
        }
    }
}

/// A record the entity cache holds. A repository declares a read by ids cached by answering it
/// through [`EntityCache::read`], and a write by telling [`EntityCache::wrote`] once it has
/// committed; its other reads and writes never touch the cache.
pub trait Cached: Serialize + DeserializeOwned {
    const KIND: Kind;
    /// The clinic whose key the record is under; a clinic is its own tenant.
    fn clinic_id(&self) -> i64;
    fn id(&self) -> i64;
    /// The clinic whose keys a read under `clinic_id` looks up for `id`.
    fn tenant(clinic_id: i64, _id: i64) -> i64 {
        clinic_id
    }
}

/// Where entries live. Implementations never fail: an unavailable store behaves as empty (and
/// logs and counts that it is), so reads fall back to the database.
#[async_trait]
pub trait CacheStore: Send + Sync {
    /// The stored bytes of each key, in order; `None` for a miss or a tombstone.
    async fn get_many(&self, keys: &[String]) -> Vec<Option<Vec<u8>>>;
    /// Stores each entry unless its key is present (a live entry or a tombstone).
    async fn fill(&self, entries: Vec<(String, Vec<u8>)>, ttl: Duration);
    /// Replaces each key with a tombstone.
    async fn invalidate(&self, keys: &[String]);
}

/// The entity cache the repositories consult. Cheap to clone.
#[derive(Clone)]
pub struct EntityCache {
    store: Option<Arc<dyn CacheStore>>,
    ttl: Duration,
}

impl EntityCache {
    pub fn new(store: Arc<dyn CacheStore>, ttl: Duration) -> Self {
        Self {
            store: (!ttl.is_zero()).then_some(store),
            ttl,
        }
    }

    /// A cache that never holds anything (`CACHE_TTL_SECONDS=0`, and tests of repositories).
    pub fn disabled() -> Self {
        Self {
            store: None,
            ttl: Duration::ZERO,
        }
    }

    /// Whether it holds anything (a write need not look up what to forget otherwise).
    pub fn enabled(&self) -> bool {
        self.store.is_some()
    }

    fn key(kind: Kind, clinic_id: i64, id: i64) -> String {
        format!("v{FORMAT_VERSION}:{}:{clinic_id}:{id}", kind.as_str())
    }

    /// The cached entities among `ids`; ids not in the map are misses.
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        kind: Kind,
        clinic_id: i64,
        ids: &[i64],
    ) -> HashMap<i64, T> {
        let Some(store) = &self.store else {
            return HashMap::new();
        };
        if ids.is_empty() {
            return HashMap::new();
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|&id| Self::key(kind, clinic_id, id))
            .collect();
        let values = store.get_many(&keys).await;
        let mut found = HashMap::with_capacity(ids.len());
        for (&id, value) in ids.iter().zip(values) {
            let Some(bytes) = value else { continue };
            match postcard::from_bytes(&bytes) {
                Ok(entity) => {
                    found.insert(id, entity);
                }
                Err(error) => {
                    tracing::warn!(kind = kind.as_str(), %error, "undecodable cache entry");
                }
            }
        }
        let hits = found.len() as u64;
        metrics::counter!("cache_hits_total", "kind" => kind.as_str()).increment(hits);
        metrics::counter!("cache_misses_total", "kind" => kind.as_str())
            .increment(ids.len() as u64 - hits);
        found
    }

    /// A read by ids, cached (cache-aside): the records among `ids` of the clinic `clinic_id`
    /// that are cached and that `admits` accepts (the rule `load`'s query applies, so a cached
    /// record reads as the database would answer), then `load` for the misses, whose records
    /// are cached.
    pub async fn read<T, E, Fut>(
        &self,
        clinic_id: i64,
        ids: &[i64],
        admits: impl Fn(&T) -> bool,
        load: impl FnOnce(Vec<i64>) -> Fut,
    ) -> Result<Vec<T>, E>
    where
        T: Cached,
        Fut: Future<Output = Result<Vec<T>, E>>,
    {
        let cached = if ids.iter().all(|&id| T::tenant(clinic_id, id) == clinic_id) {
            self.get_many::<T>(T::KIND, clinic_id, ids).await
        } else {
            // Records that are their own tenants (clinics), each under its own key.
            let mut cached = HashMap::with_capacity(ids.len());
            for &id in ids {
                let tenant = T::tenant(clinic_id, id);
                cached.extend(self.get_many::<T>(T::KIND, tenant, &[id]).await);
            }
            cached
        };
        let misses: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !cached.contains_key(id))
            .collect();
        let mut found: Vec<T> = cached.into_values().filter(|e| admits(e)).collect();
        if !misses.is_empty() {
            let loaded = load(misses).await?;
            self.fill(
                T::KIND,
                loaded
                    .iter()
                    .map(|record| (record.clinic_id(), record.id(), record)),
            )
            .await;
            found.extend(loaded);
        }
        Ok(found)
    }

    /// Forgets the record `id` of `clinic_id` of kind `T`, which a write changed: called after
    /// the write committed and before it returns to the client.
    pub async fn wrote<T: Cached>(&self, clinic_id: i64, id: i64) {
        self.invalidate(T::KIND, clinic_id, &[id]).await;
    }

    /// Stores entities just read from the database.
    pub async fn fill<'a, T: Serialize + 'a>(
        &self,
        kind: Kind,
        entities: impl IntoIterator<Item = (i64, i64, &'a T)>,
    ) {
        let Some(store) = &self.store else { return };
        let entries: Vec<(String, Vec<u8>)> = entities
            .into_iter()
            .filter_map(|(clinic_id, id, entity)| {
                let bytes = postcard::to_allocvec(entity).ok()?;
                Some((Self::key(kind, clinic_id, id), bytes))
            })
            .collect();
        if !entries.is_empty() {
            store.fill(entries, self.ttl).await;
        }
    }

    /// Forgets entities that a write changed. Called after the write committed and before it
    /// returns to the client.
    pub async fn invalidate(&self, kind: Kind, clinic_id: i64, ids: &[i64]) {
        let Some(store) = &self.store else { return };
        let keys: Vec<String> = ids
            .iter()
            .map(|&id| Self::key(kind, clinic_id, id))
            .collect();
        if !keys.is_empty() {
            store.invalidate(&keys).await;
        }
    }
}

#[cfg(test)]
mod tests;
