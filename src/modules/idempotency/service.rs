//! The rules of keys: one caller's keys in one clinic, kept 24 hours, swept now and then.
use std::sync::Arc;

use super::model::{Claim, Fingerprint, IdempotencyKey, KEPT_FOR, StoredAnswer};
use super::repository::{Horizon, IdempotencyRepository, Owner};
use crate::core::auth::Caller;
use crate::core::error::AppResult;
use crate::core::throttle::Throttle;
use crate::db;

/// A request still running after this long was abandoned (its process stopped before it
/// answered): mutations are not cut off by the request time limit, but none runs this long.
const ABANDONED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// Expired keys are deleted at most this often (seconds), by the first claim after.
const SWEEP_EVERY_SECS: i64 = 600;

pub struct IdempotencyService {
    keys: Arc<dyn IdempotencyRepository>,
    /// When expired keys were last deleted (Unix seconds).
    sweeps: Throttle,
}

impl IdempotencyService {
    pub fn new(keys: Arc<dyn IdempotencyRepository>) -> Self {
        Self {
            keys,
            sweeps: Throttle::new(SWEEP_EVERY_SECS),
        }
    }

    /// Claims `key` for the caller's request with `fingerprint`.
    pub async fn claim(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> AppResult<Claim> {
        self.sweep_now_and_then();
        let now = db::now();
        let horizon = Horizon {
            expired_before: now - KEPT_FOR,
            abandoned_before: now - ABANDONED_AFTER,
        };
        Ok(self
            .keys
            .claim(owner(caller), key, fingerprint, now, horizon)
            .await?)
    }

    /// Stores the answer of the request that claimed `key`, for its retries.
    pub async fn complete(
        &self,
        caller: &Caller,
        key: &IdempotencyKey,
        answer: &StoredAnswer,
    ) -> AppResult<()> {
        Ok(self
            .keys
            .complete(owner(caller), key, answer, db::now())
            .await?)
    }

    /// Frees `key` after a request that left nothing to replay: a retry runs it again.
    pub async fn release(&self, caller: &Caller, key: &IdempotencyKey) -> AppResult<()> {
        Ok(self.keys.release(owner(caller), key).await?)
    }

    /// Deletes expired keys in the background, at most every [`SWEEP_EVERY_SECS`] per process.
    fn sweep_now_and_then(&self) {
        if !self.sweeps.due() {
            return;
        }
        let keys = self.keys.clone();
        tokio::spawn(async move {
            match keys.delete_expired(db::now() - KEPT_FOR).await {
                Ok(deleted) => tracing::debug!(deleted, "expired idempotency keys deleted"),
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "deleting expired idempotency keys"
                    )
                }
            }
        });
    }
}

fn owner(caller: &Caller) -> Owner {
    Owner {
        clinic_id: caller.clinic_id,
        user_id: caller.user_id,
    }
}
