//! What instances share, through Redis when it is configured and in process otherwise: the
//! entity cache, live events and rate limits.
use std::sync::Arc;

use crate::cache::{EntityCache, MemoryStore, RedisStore};
use crate::config::{Config, DatabaseUrl, SharedStateConfig};
use crate::events::EventBus;
use crate::ratelimit::RateLimiter;
use crate::redis::Redis;

/// What instances share, through Redis when it is configured and in process otherwise.
#[derive(Clone)]
pub struct Shared {
    pub redis: Option<Redis>,
    pub cache: EntityCache,
    pub events: EventBus,
    pub limiter: Arc<RateLimiter>,
}

/// Entries the in-process cache holds at most (a few hundred bytes each).
const MEMORY_CACHE_ENTRIES: u64 = 100_000;

impl Shared {
    /// Must run inside the Tokio runtime: with Redis, it starts the event relay.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        // Installed before anything counts, so no early failure goes uncounted.
        crate::telemetry::metrics();
        let shared = &config.shared;
        let redis = shared
            .redis_url
            .as_ref()
            .map(|url| Redis::new(url, &shared.redis_prefix))
            .transpose()?;
        // Without Redis, a cache in this process is only safe when no other process writes:
        // the embedded SQLite file, or an operator's word for a single PostgreSQL instance.
        let single_process =
            matches!(config.database_url, DatabaseUrl::Sqlite(_)) || shared.cache_in_process;
        let cache = match &redis {
            Some(redis) => {
                EntityCache::new(Arc::new(RedisStore::new(redis.clone())), shared.cache_ttl)
            }
            None if single_process => EntityCache::new(
                Arc::new(MemoryStore::new(MEMORY_CACHE_ENTRIES)),
                shared.cache_ttl,
            ),
            None => {
                tracing::info!(
                    "entity cache off: PostgreSQL without REDIS_URL may be shared by several \
                     instances (set REDIS_URL, or CACHE_IN_PROCESS=true for a single instance)"
                );
                EntityCache::disabled()
            }
        };
        Ok(Self {
            cache,
            events: match &redis {
                Some(redis) => EventBus::shared(redis.clone()),
                None => EventBus::in_process(),
            },
            limiter: Arc::new(RateLimiter::new(shared.limits, redis.clone())),
            redis,
        })
    }

    /// For one-off commands (seeding, accounts): nothing cached, nobody listening.
    pub fn for_commands(config: &SharedStateConfig) -> Self {
        Self {
            redis: None,
            cache: EntityCache::disabled(),
            events: EventBus::in_process(),
            limiter: Arc::new(RateLimiter::new(config.limits, None)),
        }
    }
}
