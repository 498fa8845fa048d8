//! Rate limits per client IP and per user, and the counts of failed logins (`login.rs`).
//! Buckets and counts live in Redis when it is configured, so every instance draws on the same
//! allowance; when Redis is unavailable each instance falls back to its own with the same limits
//! — it never stops limiting (a login is never let through unlimited because Redis is down).
mod local;
mod login;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use self::local::LocalBuckets;
use self::login::{LocalFailures, Outcome};
use crate::config::RateLimits;
use crate::core::text::sha256_hex;
use crate::redis::Redis;

static GCRA: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("gcra.lua")));

/// What a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// GraphQL operations (root fields) per client IP.
    Ip,
    /// GraphQL operations per authenticated user.
    User,
}

impl Bucket {
    fn as_str(self) -> &'static str {
        match self {
            Bucket::Ip => "ip",
            Bucket::User => "user",
        }
    }
}

/// A refused request: when the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds, rounded up (what `Retry-After` carries).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

pub struct RateLimiter {
    limits: RateLimits,
    redis: Option<Redis>,
    local: LocalBuckets,
    /// Failed logins as this process saw them: consulted while Redis is unavailable.
    failures: LocalFailures,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, redis: Option<Redis>) -> Self {
        Self {
            limits,
            redis,
            local: LocalBuckets::default(),
            failures: LocalFailures::default(),
        }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Charges `operations` to the client IP and, when known, to the user.
    pub async fn charge_operations(
        &self,
        ip: IpAddr,
        user_id: Option<i64>,
        operations: u32,
    ) -> Result<(), Limited> {
        let Some(limit) = NonZeroU32::new(self.limits.per_minute) else {
            return Ok(());
        };
        let mut buckets = vec![(Bucket::Ip, ip.to_string())];
        if let Some(user_id) = user_id {
            buckets.push((Bucket::User, user_id.to_string()));
        }
        self.take(&buckets, limit, operations).await
    }

    /// Whether a login for `email` from `ip` may have its password checked, by the failures
    /// counted so far (see `login.rs`). An attempt let through is in flight until its outcome is
    /// told to the [`LoginAttempt`] (or the attempt is dropped, which counts nothing).
    pub async fn login_attempt(
        self: &Arc<Self>,
        ip: IpAddr,
        email: &str,
    ) -> Result<LoginAttempt, Limited> {
        let window = self.limits.login.window;
        let account = account_digest(email);
        let local = self.failures.reserve(window, &account, ip);
        let shared = match &self.redis {
            Some(redis) => login::reserve_shared(redis, window, &account, ip).await,
            None => None,
        };
        let attempt = LoginAttempt {
            limiter: Some(Arc::clone(self)),
            account,
            ip,
            shared: shared.is_some(),
        };
        match login::verdict(&self.limits.login, &shared.unwrap_or(local)) {
            Ok(()) => Ok(attempt),
            Err(wait) => {
                attempt.finish(Outcome::Refused).await;
                Err(refused("login", wait))
            }
        }
    }

    /// Forgets the failed logins counted for `email`, from every address (an ADMIN's unlock).
    /// The address counts stay: they are about the addresses, not the account.
    pub async fn forget_login_failures(&self, email: &str) {
        let account = account_digest(email);
        self.failures.forget_account(&account);
        if let Some(redis) = &self.redis
            && !login::clear_account_shared(redis, &account).await
        {
            tracing::warn!("failed logins could not be cleared in Redis");
        }
    }

    /// Records an attempt's outcome; for a failure, the pair's failures counted now (across
    /// instances when Redis counted it).
    async fn record(&self, account: &str, ip: IpAddr, shared: bool, outcome: Outcome) -> u32 {
        let window = self.limits.login.window;
        let local = self.failures.record(window, account, ip, outcome);
        let shared = match (shared, &self.redis) {
            (true, Some(redis)) => login::record_shared(redis, window, account, ip, outcome).await,
            _ => None,
        };
        shared.unwrap_or(local)
    }

    /// Charges `cost` to every bucket, or to none when one has no room; one round trip.
    async fn take(
        &self,
        buckets: &[(Bucket, String)],
        per_minute: NonZeroU32,
        cost: u32,
    ) -> Result<(), Limited> {
        // A request larger than the whole allowance uses all of it rather than never running.
        let cost = cost.clamp(1, per_minute.get());
        if let Some(redis) = &self.redis {
            let interval_us = 60_000_000 / u64::from(per_minute.get());
            let burst_us = interval_us * u64::from(per_minute.get());
            let mut invocation = GCRA.prepare_invoke();
            for (bucket, key) in buckets {
                invocation.key(redis.key(&format!("rl:{}:{key}", bucket.as_str())));
            }
            invocation.arg(interval_us).arg(burst_us).arg(cost);
            let answer: Option<(i64, i64)> = redis
                .run("rate_limit", async move |mut c| {
                    invocation.invoke_async(&mut c).await
                })
                .await;
            if let Some((allowed, retry_us)) = answer {
                if allowed == 1 {
                    return Ok(());
                }
                return Err(refused(
                    "operations",
                    Duration::from_micros(retry_us as u64),
                ));
            }
        }
        for (bucket, key) in buckets {
            if let Err(retry_after) = self.local.take(*bucket, key, per_minute, cost) {
                return Err(refused("operations", retry_after));
            }
        }
        Ok(())
    }
}

/// The email tried, as the account lookup sees it, by digest: the address itself is personal data,
/// so Redis and the process only ever hold the digest.
fn account_digest(email: &str) -> String {
    sha256_hex(&email.trim().to_lowercase())
}

/// A login whose password is being checked: tell it how that ended.
pub struct LoginAttempt {
    /// `None` once its outcome is recorded.
    limiter: Option<Arc<RateLimiter>>,
    account: String,
    ip: IpAddr,
    /// Whether Redis registered it (and so must hear its outcome).
    shared: bool,
}

impl LoginAttempt {
    /// A wrong password, an unknown email or a disabled account alike; whether this failure
    /// locked the pair of account and address (it is the one that reached the lock).
    pub async fn failed(self) -> bool {
        let lock_after = self
            .limiter
            .as_ref()
            .map_or(0, |limiter| limiter.limits.login.pair_lock_after);
        self.finish(Outcome::Failed).await == lock_after
    }

    /// Clears the pair's failures.
    pub async fn succeeded(self) {
        self.finish(Outcome::Succeeded).await;
    }

    async fn finish(mut self, outcome: Outcome) -> u32 {
        match self.limiter.take() {
            Some(limiter) => {
                limiter
                    .record(&self.account, self.ip, self.shared, outcome)
                    .await
            }
            None => 0,
        }
    }
}

/// An attempt abandoned on its way (an error, a client gone) is no longer in flight.
impl Drop for LoginAttempt {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take() {
            let (account, ip, shared) = (std::mem::take(&mut self.account), self.ip, self.shared);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    limiter.record(&account, ip, shared, Outcome::Refused).await;
                });
            }
        }
    }
}

fn refused(limit: &'static str, retry_after: Duration) -> Limited {
    metrics::counter!("rate_limited_total", "limit" => limit).increment(1);
    Limited { retry_after }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> RateLimiter {
        let login = crate::config::LoginLimits {
            window: Duration::from_secs(900),
            pair_delay_after: 3,
            pair_lock_after: 3,
            account_delay_after: 1000,
            address_failure_limit: 1000,
        };
        RateLimiter::new(
            RateLimits {
                per_minute,
                login,
                trust_forwarded_for: false,
            },
            None,
        )
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn operations_are_counted_by_weight() {
        let limiter = limiter(10);
        assert!(limiter.charge_operations(IP, None, 7).await.is_ok());
        assert!(limiter.charge_operations(IP, None, 3).await.is_ok());
        let refused = limiter.charge_operations(IP, None, 1).await.unwrap_err();
        assert!(refused.retry_after_secs() >= 1);
    }

    #[tokio::test]
    async fn a_user_is_limited_from_any_address() {
        let limiter = limiter(2);
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limiter.charge_operations(IP, Some(1), 2).await.is_ok());
        assert!(limiter.charge_operations(other, Some(1), 1).await.is_err());
        assert!(limiter.charge_operations(other, Some(2), 1).await.is_ok());
    }

    #[tokio::test]
    async fn zero_means_unlimited_for_operations() {
        let limiter = limiter(0);
        for _ in 0..100 {
            assert!(limiter.charge_operations(IP, Some(1), 10).await.is_ok());
        }
    }

    #[tokio::test]
    async fn failures_lock_the_pair_whatever_the_spelling_and_only_the_pair() {
        let limiter = Arc::new(limiter(100));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for spelling in ["Ada@Example.org", "ada@example.org ", "ADA@example.org"] {
            let attempt = limiter.login_attempt(ip, spelling).await.expect("allowed");
            attempt.failed().await;
        }
        assert!(limiter.login_attempt(ip, " ada@example.org").await.is_err());
        let fresh_ip: IpAddr = "10.0.1.1".parse().unwrap();
        assert!(
            limiter
                .login_attempt(fresh_ip, "ada@example.org")
                .await
                .is_ok()
        );
        assert!(limiter.login_attempt(ip, "bob@example.org").await.is_ok());
    }

    #[tokio::test]
    async fn a_success_clears_its_pairs_failures() {
        let limiter = Arc::new(limiter(100));
        for _ in 0..2 {
            let attempt = limiter.login_attempt(IP, "ada@example.org").await.unwrap();
            attempt.failed().await;
        }
        let attempt = limiter.login_attempt(IP, "ada@example.org").await.unwrap();
        attempt.succeeded().await;
        let attempt = limiter.login_attempt(IP, "ada@example.org").await.unwrap();
        attempt.failed().await;
        assert!(limiter.login_attempt(IP, "ada@example.org").await.is_ok());
    }

    /// Attempts sent together each count the others in flight as failures: a burst cannot all
    /// be checked before the first failure is recorded.
    #[tokio::test]
    async fn attempts_in_flight_count_against_their_pair() {
        let limiter = Arc::new(limiter(100));
        let mut in_flight = Vec::new();
        for _ in 0..3 {
            in_flight.push(limiter.login_attempt(IP, "ada@example.org").await.unwrap());
        }
        assert!(limiter.login_attempt(IP, "ada@example.org").await.is_err());
        // Their outcome known (or the attempts dropped), the pair has room again.
        for attempt in in_flight {
            attempt.succeeded().await;
        }
        assert!(limiter.login_attempt(IP, "ada@example.org").await.is_ok());
    }
}
