//! Rate limits per client IP, per user and, strictly, per login target. Buckets live in Redis
//! when it is configured, so every instance draws on the same allowance; when Redis is
//! unavailable each instance falls back to its own buckets with the same limits — it never
//! stops limiting (a login is never let through unlimited because Redis is down).
mod local;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::Duration;

use self::local::LocalBuckets;
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
    /// Login attempts per client IP.
    LoginIp,
    /// Login attempts per email address.
    LoginEmail,
}

impl Bucket {
    fn as_str(self) -> &'static str {
        match self {
            Bucket::Ip => "ip",
            Bucket::User => "user",
            Bucket::LoginIp => "login-ip",
            Bucket::LoginEmail => "login-email",
        }
    }

    /// Which limit the bucket belongs to, for the refusal counter.
    fn limit(self) -> &'static str {
        match self {
            Bucket::Ip | Bucket::User => "operations",
            Bucket::LoginIp | Bucket::LoginEmail => "login",
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
}

impl RateLimiter {
    pub fn new(limits: RateLimits, redis: Option<Redis>) -> Self {
        Self {
            limits,
            redis,
            local: LocalBuckets::default(),
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

    /// Charges one login attempt to the client IP and to the email tried.
    pub async fn charge_login(&self, ip: IpAddr, email: &str) -> Result<(), Limited> {
        let limit = NonZeroU32::new(self.limits.login_per_minute).unwrap_or(NonZeroU32::MIN);
        // The address itself is personal data: Redis only ever sees a digest of it.
        let email = sha256_hex(&email.trim().to_lowercase());
        let buckets = [
            (Bucket::LoginIp, ip.to_string()),
            (Bucket::LoginEmail, email),
        ];
        self.take(&buckets, limit, 1).await
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
        let limit = buckets.first().map_or("none", |(bucket, _)| bucket.limit());
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
                return Err(refused(limit, Duration::from_micros(retry_us as u64)));
            }
        }
        for (bucket, key) in buckets {
            if let Err(retry_after) = self.local.take(*bucket, key, per_minute, cost) {
                return Err(refused(bucket.limit(), retry_after));
            }
        }
        Ok(())
    }
}

fn refused(limit: &'static str, retry_after: Duration) -> Limited {
    metrics::counter!("rate_limited_total", "limit" => limit).increment(1);
    Limited { retry_after }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, login_per_minute: u32) -> RateLimiter {
        RateLimiter::new(
            RateLimits {
                per_minute,
                login_per_minute,
                trust_forwarded_for: false,
            },
            None,
        )
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn operations_are_counted_by_weight() {
        let limiter = limiter(10, 5);
        assert!(limiter.charge_operations(IP, None, 7).await.is_ok());
        assert!(limiter.charge_operations(IP, None, 3).await.is_ok());
        let refused = limiter.charge_operations(IP, None, 1).await.unwrap_err();
        assert!(refused.retry_after_secs() >= 1);
    }

    #[tokio::test]
    async fn a_user_is_limited_from_any_address() {
        let limiter = limiter(2, 5);
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limiter.charge_operations(IP, Some(1), 2).await.is_ok());
        assert!(limiter.charge_operations(other, Some(1), 1).await.is_err());
        assert!(limiter.charge_operations(other, Some(2), 1).await.is_ok());
    }

    #[tokio::test]
    async fn zero_means_unlimited_for_operations() {
        let limiter = limiter(0, 5);
        for _ in 0..100 {
            assert!(limiter.charge_operations(IP, Some(1), 10).await.is_ok());
        }
    }

    #[tokio::test]
    async fn login_is_limited_per_email_across_addresses() {
        let limiter = limiter(100, 3);
        for i in 0..3 {
            let ip: IpAddr = format!("10.0.0.{i}").parse().unwrap();
            assert!(limiter.charge_login(ip, "Ada@Example.org").await.is_ok());
        }
        let fresh_ip: IpAddr = "10.0.1.1".parse().unwrap();
        assert!(
            limiter
                .charge_login(fresh_ip, "ada@example.org ")
                .await
                .is_err()
        );
        assert!(
            limiter
                .charge_login(fresh_ip, "bob@example.org")
                .await
                .is_ok()
        );
    }
}
