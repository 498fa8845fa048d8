//! The shared store: one Redis for every instance, so a write on one instance invalidates what
//! the others would read.
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{CacheStore, TOMBSTONE_TTL};
use crate::redis::Redis;

/// Invalidations that could not be sent are remembered (up to this many) and sent first once
/// Redis answers again, so an entry written before an outage is not served after it.
const MAX_PENDING_INVALIDATIONS: usize = 10_000;

pub struct RedisStore {
    redis: Redis,
    pending: Mutex<HashSet<String>>,
}

impl RedisStore {
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            pending: Mutex::new(HashSet::new()),
        }
    }

    fn full_keys(&self, keys: &[String]) -> Vec<String> {
        keys.iter()
            .map(|k| self.redis.key(&format!("cache:{k}")))
            .collect()
    }

    fn remember(&self, keys: Vec<String>) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        for key in keys {
            if pending.len() >= MAX_PENDING_INVALIDATIONS {
                tracing::error!(
                    "too many invalidations pending while Redis is unavailable; some cached \
                     entries may be served stale until their TTL ends"
                );
                metrics::counter!("cache_invalidations_lost_total").increment(1);
                return;
            }
            pending.insert(key);
        }
    }

    /// Sends remembered invalidations; false while Redis is still unavailable.
    async fn flush_pending(&self) -> bool {
        let keys: Vec<String> = match self.pending.lock() {
            Ok(pending) if !pending.is_empty() => pending.iter().cloned().collect(),
            _ => return true,
        };
        if self.send_tombstones(&keys).await {
            if let Ok(mut pending) = self.pending.lock() {
                for key in &keys {
                    pending.remove(key);
                }
            }
            true
        } else {
            false
        }
    }

    async fn send_tombstones(&self, full_keys: &[String]) -> bool {
        let mut pipe = redis::pipe();
        for key in full_keys {
            pipe.cmd("SET")
                .arg(key)
                .arg(b"".as_slice())
                .arg("PX")
                .arg(TOMBSTONE_TTL.as_millis() as u64)
                .ignore();
        }
        self.redis
            .run("cache_invalidate", async move |mut c| {
                pipe.query_async::<()>(&mut c).await
            })
            .await
            .is_some()
    }
}

#[async_trait]
impl CacheStore for RedisStore {
    async fn get_many(&self, keys: &[String]) -> Vec<Option<Vec<u8>>> {
        if !self.flush_pending().await {
            return vec![None; keys.len()];
        }
        let full = self.full_keys(keys);
        let values: Option<Vec<Option<Vec<u8>>>> = self
            .redis
            .run("cache_get", async move |mut c| {
                redis::cmd("MGET").arg(&full).query_async(&mut c).await
            })
            .await;
        match values {
            Some(values) if values.len() == keys.len() => values
                .into_iter()
                .map(|v| v.filter(|bytes| !bytes.is_empty()))
                .collect(),
            _ => vec![None; keys.len()],
        }
    }

    async fn fill(&self, entries: Vec<(String, Vec<u8>)>, ttl: Duration) {
        let mut pipe = redis::pipe();
        for (key, bytes) in entries {
            pipe.cmd("SET")
                .arg(self.redis.key(&format!("cache:{key}")))
                .arg(bytes)
                .arg("NX")
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .ignore();
        }
        // A failed fill only costs a later miss.
        let _ = self
            .redis
            .run("cache_fill", async move |mut c| {
                pipe.query_async::<()>(&mut c).await
            })
            .await;
    }

    async fn invalidate(&self, keys: &[String]) {
        let full = self.full_keys(keys);
        if !self.send_tombstones(&full).await {
            self.remember(full);
        }
    }
}
