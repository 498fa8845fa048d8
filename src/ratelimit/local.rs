//! Per-instance buckets: the limiter of the embedded default, and the fallback while Redis is
//! unavailable.
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::Bucket;

/// Forget idle keys every so many checks, so the map does not grow with every address seen.
const PRUNE_EVERY: u64 = 10_000;

#[derive(Default)]
pub(super) struct LocalBuckets {
    limiters: Mutex<HashMap<Bucket, Arc<DefaultKeyedRateLimiter<String>>>>,
    checks: AtomicU64,
}

impl LocalBuckets {
    /// `Err(retry after)` when the bucket has no room for `cost`.
    pub(super) fn take(
        &self,
        bucket: Bucket,
        key: &str,
        per_minute: NonZeroU32,
        cost: u32,
    ) -> Result<(), Duration> {
        let Some(limiter) = self.limiter(bucket, per_minute) else {
            // Poisoned by a panic elsewhere: refuse rather than let everything through.
            return Err(Duration::from_secs(1));
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(&key.to_owned(), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
            Err(_) => Err(Duration::from_secs(60)),
        }
    }

    fn limiter(
        &self,
        bucket: Bucket,
        per_minute: NonZeroU32,
    ) -> Option<Arc<DefaultKeyedRateLimiter<String>>> {
        let mut limiters = self.limiters.lock().ok()?;
        Some(
            limiters
                .entry(bucket)
                .or_insert_with(|| {
                    Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                        per_minute,
                    )))
                })
                .clone(),
        )
    }
}
