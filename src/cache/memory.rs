//! The in-process store for the embedded default (one process, no Redis).
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::sync::Cache;

use super::{CacheStore, TOMBSTONE_TTL};

/// A live entry, or a tombstone (`None`) left by a write.
#[derive(Clone)]
struct Entry {
    bytes: Option<Vec<u8>>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct MemoryStore(Cache<String, Entry>);

impl MemoryStore {
    /// Holds at most `capacity` entries, evicting the least useful first.
    pub fn new(capacity: u64) -> Self {
        Self(
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
        )
    }
}

#[async_trait]
impl CacheStore for MemoryStore {
    async fn get_many(&self, keys: &[String]) -> Vec<Option<Vec<u8>>> {
        keys.iter()
            .map(|key| self.0.get(key).and_then(|entry| entry.bytes))
            .collect()
    }

    async fn fill(&self, entries: Vec<(String, Vec<u8>)>, ttl: Duration) {
        for (key, bytes) in entries {
            // Only where absent: a tombstone must win over a fill that raced it.
            self.0.entry(key).or_insert(Entry {
                bytes: Some(bytes),
                ttl,
            });
        }
    }

    async fn invalidate(&self, keys: &[String]) {
        for key in keys {
            self.0.insert(
                key.clone(),
                Entry {
                    bytes: None,
                    ttl: TOMBSTONE_TTL,
                },
            );
        }
    }
}
