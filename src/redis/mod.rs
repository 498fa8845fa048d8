//! Redis, shared by every instance: cache, rate limits and events. It is an accelerator, never a
//! single point of failure: every command has a short deadline, a failure opens a breaker that
//! sends callers to their fallback at once, and the first command after the back-off probes
//! whether Redis is back.
mod breaker;
mod manager;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::RedisResult;
use redis::aio::MultiplexedConnection;
use secrecy::{ExposeSecret, SecretString};

use self::breaker::Breaker;
use self::manager::{ConnectionManager, Generation};

/// How long any Redis command may take before the caller falls back.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(50);

/// A handle to the shared Redis. Cheap to clone.
#[derive(Clone)]
pub struct Redis(Arc<Inner>);

struct Inner {
    pool: bb8::Pool<ConnectionManager>,
    client: redis::Client,
    prefix: String,
    breaker: Breaker,
    generation: Generation,
}

/// Whether Redis answered the last time it was asked, for `/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisHealth {
    Ok,
    Degraded,
}

impl Redis {
    /// Builds the pool without connecting: the service starts (and serves from the database)
    /// even when Redis is down.
    pub fn new(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())?;
        let generation = Generation::default();
        let manager = ConnectionManager::new(
            bb8_redis::RedisConnectionManager::new(url.expose_secret())?,
            generation.clone(),
        );
        let pool = bb8::Pool::builder()
            .max_size(16)
            .connection_timeout(COMMAND_TIMEOUT)
            .retry_connection(false)
            // A checked-out connection is not pinged: a broken one is replaced after the first
            // failure instead (see `Generation`), which saves a round trip per command.
            .test_on_check_out(false)
            .build_unchecked(manager);
        Ok(Redis(Arc::new(Inner {
            pool,
            client,
            prefix: prefix.to_owned(),
            breaker: Breaker::default(),
            generation,
        })))
    }

    /// A key in this deployment's namespace: several deployments (or test runs) can share one
    /// Redis without seeing each other's keys.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.0.prefix)
    }

    /// Runs one command (or pipeline, or script) within [`COMMAND_TIMEOUT`]. `None` means Redis
    /// is unavailable, slow or failed: the caller uses its fallback. The failure is logged and
    /// counted here, once.
    pub async fn run<T, F, Fut>(&self, what: &'static str, command: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.0.breaker.allows() {
            metrics::counter!("redis_skipped_total", "operation" => what).increment(1);
            return None;
        }
        let attempt = async {
            let connection = self
                .0
                .pool
                .get()
                .await
                .map_err(|e| format!("no connection: {e}"))?;
            // A multiplexed connection is shared by design: clone it and give the slot back.
            let connection = connection.connection.clone();
            command(connection).await.map_err(|e| e.to_string())
        };
        let outcome = match tokio::time::timeout(COMMAND_TIMEOUT, attempt).await {
            Ok(Ok(value)) => {
                self.0.breaker.succeeded();
                return Some(value);
            }
            Ok(Err(error)) => error,
            Err(_) => format!("no answer within {} ms", COMMAND_TIMEOUT.as_millis()),
        };
        self.failed(what, &outcome);
        None
    }

    fn failed(&self, what: &'static str, problem: &str) {
        metrics::counter!("redis_failures_total", "operation" => what).increment(1);
        // Connections made before the failure may be dead (Redis restarted): replace them all.
        self.0.generation.advance();
        if self.0.breaker.failed() {
            tracing::warn!(operation = what, %problem, "Redis unavailable; falling back");
        } else {
            tracing::debug!(operation = what, %problem, "Redis still unavailable");
        }
    }

    /// Pings Redis (for `/ready`), bypassing the breaker so recovery is noticed.
    pub async fn health(&self) -> RedisHealth {
        let ping = async {
            let connection = self.0.pool.get().await.ok()?;
            let mut connection = connection.connection.clone();
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .ok()
        };
        match tokio::time::timeout(COMMAND_TIMEOUT * 4, ping).await {
            Ok(Some(_)) => {
                self.0.breaker.succeeded();
                RedisHealth::Ok
            }
            _ => {
                self.0.generation.advance();
                RedisHealth::Degraded
            }
        }
    }

    /// A dedicated connection for SUBSCRIBE (a subscribed connection cannot run commands, so it
    /// is not taken from the pool).
    pub async fn pubsub(&self) -> RedisResult<redis::aio::PubSub> {
        self.0.client.get_async_pubsub().await
    }
}
