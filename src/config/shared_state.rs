//! The settings of what instances share: Redis, the entity cache and the rate limits.
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::Reader;

#[derive(Debug, Clone)]
pub struct SharedStateConfig {
    /// Without it, cache, limits and events stay in the process.
    pub redis_url: Option<SecretString>,
    /// Namespace of every key and channel, so deployments can share one Redis.
    pub redis_prefix: String,
    /// Zero disables the entity cache.
    pub cache_ttl: Duration,
    /// Without Redis, cache entities in this process even on PostgreSQL: the operator vouches
    /// that no second instance writes to the database (else it would read stale records).
    pub cache_in_process: bool,
    pub limits: RateLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Operations a client IP (and, separately, a user) may run per minute; 0 = unlimited.
    pub per_minute: u32,
    /// `login` attempts per minute, per client IP and per email.
    pub login_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

pub(super) fn read(r: &mut Reader<'_>) -> SharedStateConfig {
    let redis_url = r.raw("REDIS_URL").map(SecretString::from);
    if let Some(url) = &redis_url {
        let url = url.expose_secret();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            r.problems
                .push("REDIS_URL: must start with redis:// or rediss://".into());
        }
    }
    let redis_prefix = r
        .raw("REDIS_PREFIX")
        .unwrap_or_else(|| "clinicgraph".to_owned());
    if redis_prefix.contains(char::is_whitespace) {
        r.problems
            .push("REDIS_PREFIX: must not contain whitespace".into());
    }
    let cache_ttl = r.parsed("CACHE_TTL_SECONDS", 300_u64);
    let cache_in_process = r.flag("CACHE_IN_PROCESS", false);
    let per_minute = r.parsed("RATE_LIMIT_PER_MINUTE", 600_u32);
    let login_per_minute = r.parsed("LOGIN_RATE_LIMIT_PER_MINUTE", 5_u32);
    if login_per_minute == 0 {
        r.problems.push(
            "LOGIN_RATE_LIMIT_PER_MINUTE: must be at least 1 (login is always limited)".into(),
        );
    }
    let trust_forwarded_for = r.flag("TRUST_FORWARDED_FOR", false);
    SharedStateConfig {
        redis_url,
        redis_prefix,
        cache_ttl: Duration::from_secs(cache_ttl),
        cache_in_process,
        limits: RateLimits {
            per_minute,
            login_per_minute,
            trust_forwarded_for,
        },
    }
}
