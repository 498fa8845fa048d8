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
//! request never holds one of the pool's connections while waiting for another. SQLite runs
//! statements in process, one at a time per connection; it keeps a checkout per statement.
//!
//! A shared connection that the server ended fails every statement on it at once; the first
//! that sees it lost drops it from the request ([`discard_if_lost`]), and their retries
//! (`db::retry`) share the connection checked out next.
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use bb8::RunError;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use tokio::sync::{Mutex, OwnedMappedMutexGuard};

use super::retry::Transient;
use super::unit::Held;
use super::{Checkout, DbError, DbPool, PgPool};

tokio::task_local! {
    static REQUEST_CONNECTION: Arc<RequestConnection>;
}

type PgCheckout<'a> = Checkout<'a, AsyncDieselConnectionManager<AsyncPgConnection>>;

/// The connection of one request, checked out by its first statement (and again after it was
/// lost).
struct RequestConnection {
    pool: PgPool,
    connection: Mutex<Option<Arc<PgCheckout<'static>>>>,
}

/// The current task's read-only request on `pool`, if it runs one.
fn request_on(pool: &PgPool) -> Option<Arc<RequestConnection>> {
    REQUEST_CONNECTION
        .try_with(Arc::clone)
        .ok()
        .filter(|shared| shared.pool.is(pool))
}

/// Whether the current task runs a read-only request on `pool`.
pub fn in_request(pool: &PgPool) -> bool {
    request_on(pool).is_some()
}

/// A connection of `pool` for a statement: a unit of work's inside one (`db::unit`), the
/// request's own inside [`reading`] (the first statement checks it out, those started
/// meanwhile wait for that checkout), a checkout of its own anywhere else.
pub async fn connection(pool: &PgPool) -> Result<PgConnection<'_>, RunError<PoolError>> {
    if let Some(unit) = super::unit::pg_unit(pool).await {
        return Ok(PgConnection::Unit(unit));
    }
    Ok(match request_on(pool) {
        Some(shared) => {
            let mut slot = shared.connection.lock().await;
            let connection = match &*slot {
                Some(connection) => connection.clone(),
                None => slot
                    .insert(Arc::new(shared.pool.get_owned().await?))
                    .clone(),
            };
            PgConnection::Shared(connection)
        }
        None => PgConnection::Own(pool.get().await?),
    })
}

/// After `error` on `connection`: a request's shared connection that was lost is dropped from
/// the request, so that its next statement checks out another. (Another statement may have
/// done so already: the one it checked out stays.)
pub async fn discard_if_lost(pool: &PgPool, connection: &PgConnection<'_>, error: &DbError) {
    let PgConnection::Shared(lost) = connection else {
        return;
    };
    if error.transient() != Some(Transient::ConnectionLost) {
        return;
    }
    if let Some(shared) = request_on(pool) {
        let mut slot = shared.connection.lock().await;
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, lost))
        {
            *slot = None;
        }
    }
}

/// What [`connection`] hands out.
#[expect(
    clippy::large_enum_variant,
    reason = "lives on the stack for one statement, as the checkout did; boxing it would \
              allocate for every statement outside a query"
)]
pub enum PgConnection<'a> {
    Shared(Arc<PgCheckout<'static>>),
    Own(PgCheckout<'a>),
    /// A unit of work's (`db::unit`), held for the statement.
    Unit(OwnedMappedMutexGuard<Held, AsyncPgConnection>),
}

impl Deref for PgConnection<'_> {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        match self {
            PgConnection::Shared(checkout) => checkout,
            PgConnection::Own(checkout) => checkout,
            PgConnection::Unit(connection) => connection,
        }
    }
}

/// Runs `request`, which only reads, with its statements on one connection of `pool`.
pub async fn reading<F: Future>(pool: &DbPool, request: F) -> F::Output {
    match pool {
        DbPool::Postgres(pool) => {
            let shared = Arc::new(RequestConnection {
                pool: pool.clone(),
                connection: Mutex::new(None),
            });
            REQUEST_CONNECTION.scope(shared, request).await
        }
        // No pipelining to gain on SQLite (in process) or MySQL (diesel-async's MySQL
        // connection sends one statement at a time): each statement checks a connection out.
        DbPool::Sqlite(_) | DbPool::Mysql(_) => request.await,
    }
}
