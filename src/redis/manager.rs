//! bb8 connection management for Redis: bb8-redis's manager, plus breakage detection. It never
//! reports a connection as broken, so after Redis restarts the pool would keep handing out dead connections. Here each
//! connection remembers the generation it was made in, and any failure advances the generation:
//! every older connection is then dropped when it comes back to the pool.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bb8::ManageConnection;
use bb8_redis::RedisConnectionManager;
use redis::RedisError;
use redis::aio::MultiplexedConnection;

#[derive(Clone, Default)]
pub(super) struct Generation(Arc<AtomicU64>);

impl Generation {
    pub(super) fn advance(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub(super) struct ConnectionManager {
    inner: RedisConnectionManager,
    generation: Generation,
}

impl ConnectionManager {
    pub(super) fn new(inner: RedisConnectionManager, generation: Generation) -> Self {
        Self { inner, generation }
    }
}

pub(super) struct Connection {
    pub(super) connection: MultiplexedConnection,
    generation: u64,
}

impl ManageConnection for ConnectionManager {
    type Connection = Connection;
    type Error = RedisError;

    async fn connect(&self) -> Result<Connection, RedisError> {
        let generation = self.generation.current();
        let connection = self.inner.connect().await?;
        Ok(Connection {
            connection,
            generation,
        })
    }

    async fn is_valid(&self, conn: &mut Connection) -> Result<(), RedisError> {
        self.inner.is_valid(&mut conn.connection).await
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.generation != self.generation.current()
    }
}
