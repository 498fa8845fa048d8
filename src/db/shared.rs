//! One PostgreSQL connection for all the statements of a read-only request.
//!
//! A nested page reads each level with a statement per loader, started together (see
//! `graphql/batching.rs`): a page of patients' appointments and prescriptions is two
//! statements at once. On a connection each, they were two checkouts, two sends and two
//! PostgreSQL backends woken; sending to PostgreSQL was a tenth of the server's time under the
//! nested-page benchmark. On one connection they are pipelined (diesel-async sends statements
//! issued through a shared `&AsyncPgConnection` without waiting for the previous answer, and
//! tokio-postgres writes those queued together in one send), and the request checks out once.
//!
//! Only queries share: they run no transactions, and every statement they send on the pool
//! goes through [`with_conn!`](crate::with_conn), which takes the shared connection, so a
//! request never holds one of the pool's connections while waiting for another. SQLite runs statements in process, one at a
//! time per connection; it keeps a checkout per statement.
use std::future::Future;
use std::sync::Arc;

use bb8::RunError;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use tokio::sync::OnceCell;

use super::{Checkout, DbPool, PgPool};

tokio::task_local! {
    static REQUEST_CONNECTION: Arc<RequestConnection>;
}

/// The connection of one request, checked out by its first statement.
pub struct RequestConnection {
    pool: PgPool,
    connection: OnceCell<Checkout<'static, AsyncDieselConnectionManager<AsyncPgConnection>>>,
}

impl RequestConnection {
    /// The request's connection, if the current task runs a read-only request on `pool`.
    pub fn of(pool: &PgPool) -> Option<Arc<RequestConnection>> {
        REQUEST_CONNECTION
            .try_with(Arc::clone)
            .ok()
            .filter(|shared| shared.pool.is(pool))
    }

    /// The connection: the first statement checks it out, the others started meanwhile wait
    /// for that checkout.
    pub async fn get(&self) -> Result<&AsyncPgConnection, RunError<PoolError>> {
        let checkout = self
            .connection
            .get_or_try_init(|| self.pool.get_owned())
            .await?;
        Ok(checkout)
    }
}

/// Runs `request`, which only reads, with its statements on one connection of `pool`.
pub async fn reading<F: Future>(pool: &DbPool, request: F) -> F::Output {
    match pool {
        DbPool::Postgres(pool) => {
            let shared = Arc::new(RequestConnection {
                pool: pool.clone(),
                connection: OnceCell::new(),
            });
            REQUEST_CONNECTION.scope(shared, request).await
        }
        DbPool::Sqlite(_) => request.await,
    }
}
