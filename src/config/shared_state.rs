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
    /// How failed logins are slowed and stopped (`ratelimit::login`).
    pub login: LoginLimits,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

/// Failed logins: what each count allows within `window` (see `ratelimit::login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub window: Duration,
    /// Failures of one account from one address before each attempt waits.
    pub pair_delay_after: u32,
    /// Failures of one account from one address that lock the pair.
    pub pair_lock_after: u32,
    /// Failures of one account from all addresses before those addresses wait.
    pub account_delay_after: u32,
    /// Failures from one address, over all accounts, before it waits out its window.
    pub address_failure_limit: u32,
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
    if r.raw("LOGIN_RATE_LIMIT_PER_MINUTE").is_some() {
        r.problems.push(
            "LOGIN_RATE_LIMIT_PER_MINUTE: replaced by LOGIN_PAIR_DELAY_AFTER, \
             LOGIN_PAIR_LOCK_AFTER, LOGIN_ACCOUNT_DELAY_AFTER and LOGIN_ADDRESS_FAILURE_LIMIT \
             (see the README); remove it"
                .into(),
        );
    }
    let login = read_login_limits(r);
    let trust_forwarded_for = r.flag("TRUST_FORWARDED_FOR", false);
    SharedStateConfig {
        redis_url,
        redis_prefix,
        cache_ttl: Duration::from_secs(cache_ttl),
        cache_in_process,
        limits: RateLimits {
            per_minute,
            login,
            trust_forwarded_for,
        },
    }
}

fn read_login_limits(r: &mut Reader<'_>) -> LoginLimits {
    let window = r.parsed("LOGIN_FAILURE_WINDOW_SECONDS", 900_u64);
    let limits = LoginLimits {
        window: Duration::from_secs(window),
        pair_delay_after: r.parsed("LOGIN_PAIR_DELAY_AFTER", 5_u32),
        pair_lock_after: r.parsed("LOGIN_PAIR_LOCK_AFTER", 10_u32),
        account_delay_after: r.parsed("LOGIN_ACCOUNT_DELAY_AFTER", 20_u32),
        address_failure_limit: r.parsed("LOGIN_ADDRESS_FAILURE_LIMIT", 100_u32),
    };
    if !(60..=86_400).contains(&window) {
        r.problems
            .push("LOGIN_FAILURE_WINDOW_SECONDS: must be between 60 and 86400".into());
    }
    for (name, value) in [
        ("LOGIN_PAIR_DELAY_AFTER", limits.pair_delay_after),
        ("LOGIN_PAIR_LOCK_AFTER", limits.pair_lock_after),
        ("LOGIN_ACCOUNT_DELAY_AFTER", limits.account_delay_after),
        ("LOGIN_ADDRESS_FAILURE_LIMIT", limits.address_failure_limit),
    ] {
        if value == 0 {
            r.problems.push(format!(
                "{name}: must be at least 1 (login is always limited)"
            ));
        }
    }
    if limits.pair_lock_after < limits.pair_delay_after {
        r.problems
            .push("LOGIN_PAIR_LOCK_AFTER: must not be below LOGIN_PAIR_DELAY_AFTER".into());
    }
    limits
}
