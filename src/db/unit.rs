//! A unit of work: several repository calls that commit or roll back together. A service
//! holds a [`Transactions`] and says what belongs together in one place:
//!
//! ```ignore
//! self.transactions
//!     .run(async || {
//!         let patient = self.patients.insert(clinic_id, write.clone()).await?;
//!         self.audit.note(&patient).await?;
//!         Ok(patient)
//!     })
//!     .await
//! ```
//!
//! The repositories need not know: while the work runs, every statement they send on the pool
//! goes through the unit's connection, inside its transaction (PostgreSQL's, or SQLite's
//! `BEGIN IMMEDIATE`); a repository's own [`in_transaction!`](crate::in_transaction) becomes a
//! savepoint in it. A transient failure (`db::retry`) rolls the whole unit back and runs the
//! work again, so the work must be re-runnable, as the closure's signature makes the compiler
//! check: it is called once per attempt, and calls inside it are not retried on their own.
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use bb8::RunError;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, TransactionManager};
use sync_wrapper::SyncWrapper;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use super::retry::{DbFailure, Rerun, Retry, while_committing};
use super::{Checkout, DbError, DbPool, MysqlPool, PgPool, SqliteAsync, SqlitePool};

type PgManager = AsyncDieselConnectionManager<AsyncPgConnection>;
type SqliteManager = AsyncDieselConnectionManager<SqliteAsync>;
type MysqlManager = AsyncDieselConnectionManager<AsyncMysqlConnection>;

tokio::task_local! {
    static UNIT: Arc<Unit>;
}

/// The unit of work the current task runs.
struct Unit {
    pool: DbPool,
    held: Arc<Mutex<Held>>,
}

/// The connection of a unit of work, inside its transaction.
#[expect(
    clippy::large_enum_variant,
    reason = "one per unit of work, allocated once behind its Arc"
)]
pub enum Held {
    Postgres(Checkout<'static, PgManager>),
    Sqlite(Checkout<'static, SqliteManager>),
    /// diesel-async's MySQL connection is `Send` but not `Sync`; a unit's connection is only
    /// ever reached mutably, through its mutex, which `SyncWrapper` states in the type (and
    /// keeps the guards of the other backends' connections `Send`).
    Mysql(SyncWrapper<Checkout<'static, MysqlManager>>),
}

/// Runs units of work on one pool.
#[derive(Clone)]
pub struct Transactions(Option<DbPool>);

impl Transactions {
    pub fn on(pool: &DbPool) -> Self {
        Self(Some(pool.clone()))
    }

    /// For services tested with fake repositories: the work runs as it is, in no transaction.
    pub fn none() -> Self {
        Self(None)
    }

    /// Runs `work` as one transaction: committed if it succeeds, rolled back if it fails, and
    /// run again as a whole after a transient failure. Inside another unit on the same pool,
    /// it is part of that one.
    pub async fn run<T, E>(&self, mut work: impl AsyncFnMut() -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError> + DbFailure,
    {
        let Some(pool) = &self.0 else {
            return work().await;
        };
        if held_by_unit(|unit| same_pool(unit, pool)).is_some() {
            return work().await;
        }
        let mut retry = Retry::new(Rerun::Whole);
        loop {
            let outcome = attempt(pool, &retry, &mut work).await;
            match retry.after(outcome).await {
                std::ops::ControlFlow::Break(outcome) => return outcome,
                std::ops::ControlFlow::Continue(()) => {}
            }
        }
    }
}

async fn attempt<T, E>(
    pool: &DbPool,
    retry: &Retry,
    work: &mut impl AsyncFnMut() -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DbError>,
{
    let mut held = match pool {
        DbPool::Postgres(pool) => Held::Postgres(
            retry
                .checkout(pool.get_owned())
                .await
                .map_err(DbError::from)?,
        ),
        DbPool::Sqlite(pool) => Held::Sqlite(
            retry
                .checkout(pool.get_owned())
                .await
                .map_err(DbError::from)?,
        ),
        DbPool::Mysql(pool) => Held::Mysql(SyncWrapper::new(
            retry
                .checkout(pool.get_owned())
                .await
                .map_err(DbError::from)?,
        )),
    };
    begin(&mut held).await.map_err(DbError::from)?;
    let held = Arc::new(Mutex::new(held));
    let unit = Arc::new(Unit {
        pool: pool.clone(),
        held: held.clone(),
    });
    let outcome = UNIT.scope(unit, work()).await;
    let mut held = held.lock().await;
    match outcome {
        Ok(value) => match commit(&mut held).await {
            Ok(()) => Ok(value),
            Err(error) => Err(while_committing(error.into()).into()),
        },
        Err(error) => {
            // A connection that cannot roll back is broken: the pool drops it, and the server
            // rolls back what it had.
            let _ = rollback(&mut held).await;
            Err(error)
        }
    }
}

async fn begin(held: &mut Held) -> diesel::QueryResult<()> {
    match held {
        Held::Postgres(conn) => {
            <AsyncPgConnection as AsyncConnection>::TransactionManager::begin_transaction(
                &mut **conn,
            )
            .await
        }
        // The write lock up front, as `in_transaction!` takes it.
        Held::Sqlite(conn) => {
            conn.spawn_blocking(|conn| {
                diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                    conn,
                    "BEGIN IMMEDIATE",
                )
            })
            .await
        }
        Held::Mysql(conn) => {
            <AsyncMysqlConnection as AsyncConnection>::TransactionManager::begin_transaction(
                &mut **conn.get_mut(),
            )
            .await
        }
    }
}

async fn commit(held: &mut Held) -> diesel::QueryResult<()> {
    match held {
        Held::Postgres(conn) => {
            <AsyncPgConnection as AsyncConnection>::TransactionManager::commit_transaction(
                &mut **conn,
            )
            .await
        }
        Held::Sqlite(conn) => {
            <SqliteAsync as AsyncConnection>::TransactionManager::commit_transaction(&mut **conn)
                .await
        }
        Held::Mysql(conn) => {
            <AsyncMysqlConnection as AsyncConnection>::TransactionManager::commit_transaction(
                &mut **conn.get_mut(),
            )
            .await
        }
    }
}

async fn rollback(held: &mut Held) -> diesel::QueryResult<()> {
    match held {
        Held::Postgres(conn) => {
            <AsyncPgConnection as AsyncConnection>::TransactionManager::rollback_transaction(
                &mut **conn,
            )
            .await
        }
        Held::Sqlite(conn) => {
            <SqliteAsync as AsyncConnection>::TransactionManager::rollback_transaction(&mut **conn)
                .await
        }
        Held::Mysql(conn) => {
            <AsyncMysqlConnection as AsyncConnection>::TransactionManager::rollback_transaction(
                &mut **conn.get_mut(),
            )
            .await
        }
    }
}

/// Whether the current task runs a unit of work.
pub(crate) fn active() -> bool {
    UNIT.try_with(|_| ()).is_ok()
}

fn same_pool(a: &DbPool, b: &DbPool) -> bool {
    match (a, b) {
        (DbPool::Postgres(a), DbPool::Postgres(b)) => a.is(b),
        (DbPool::Sqlite(a), DbPool::Sqlite(b)) => a.is(b),
        (DbPool::Mysql(a), DbPool::Mysql(b)) => a.is(b),
        _ => false,
    }
}

/// The connection of the current task's unit of work, if it runs one on the pool that
/// `on_pool` recognises.
fn held_by_unit(on_pool: impl FnOnce(&DbPool) -> bool) -> Option<Arc<Mutex<Held>>> {
    UNIT.try_with(|unit| on_pool(&unit.pool).then(|| unit.held.clone()))
        .ok()
        .flatten()
}

/// A connection for one repository call: the unit's, while the current task runs a unit of
/// work on the pool (held until the call ends), or a checkout of its own.
pub enum Connection<'a, M: bb8::ManageConnection> {
    Own(Checkout<'a, M>),
    Unit(OwnedMappedMutexGuard<Held, M::Connection>),
}

impl<M: bb8::ManageConnection> Connection<'_, M> {
    /// Whether it is a unit's connection, already inside its transaction.
    pub fn in_unit(&self) -> bool {
        matches!(self, Connection::Unit(_))
    }
}

impl<M: bb8::ManageConnection> Deref for Connection<'_, M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        match self {
            Connection::Own(checkout) => checkout,
            Connection::Unit(guard) => guard,
        }
    }
}

impl<M: bb8::ManageConnection> DerefMut for Connection<'_, M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        match self {
            Connection::Own(checkout) => checkout,
            Connection::Unit(guard) => guard,
        }
    }
}

/// The unit's PostgreSQL connection, if the current task runs a unit of work on `pool`.
pub(crate) async fn pg_unit(
    pool: &PgPool,
) -> Option<OwnedMappedMutexGuard<Held, AsyncPgConnection>> {
    let held = held_by_unit(|unit| matches!(unit, DbPool::Postgres(p) if p.is(pool)))?;
    OwnedMutexGuard::try_map(held.lock_owned().await, |held| match held {
        Held::Postgres(conn) => Some(&mut **conn),
        Held::Sqlite(_) | Held::Mysql(_) => None,
    })
    .ok()
}

/// A PostgreSQL connection for a repository call ([`Connection`]).
pub async fn pg(pool: &PgPool) -> Result<Connection<'_, PgManager>, RunError<PoolError>> {
    match pg_unit(pool).await {
        Some(guard) => Ok(Connection::Unit(guard)),
        None => Ok(Connection::Own(pool.get().await?)),
    }
}

/// A SQLite connection for a repository call ([`Connection`]).
pub async fn sqlite(
    pool: &SqlitePool,
) -> Result<Connection<'_, SqliteManager>, RunError<PoolError>> {
    let held = held_by_unit(|unit| matches!(unit, DbPool::Sqlite(p) if p.is(pool)));
    if let Some(held) = held {
        let guard = OwnedMutexGuard::try_map(held.lock_owned().await, |held| match held {
            Held::Sqlite(conn) => Some(&mut **conn),
            Held::Postgres(_) | Held::Mysql(_) => None,
        });
        if let Ok(guard) = guard {
            return Ok(Connection::Unit(guard));
        }
    }
    Ok(Connection::Own(pool.get().await?))
}

/// A MySQL connection for a repository call ([`Connection`]).
pub async fn mysql(pool: &MysqlPool) -> Result<Connection<'_, MysqlManager>, RunError<PoolError>> {
    let held = held_by_unit(|unit| matches!(unit, DbPool::Mysql(p) if p.is(pool)));
    if let Some(held) = held {
        let guard = OwnedMutexGuard::try_map(held.lock_owned().await, |held| match held {
            Held::Mysql(conn) => Some(&mut **conn.get_mut()),
            Held::Postgres(_) | Held::Sqlite(_) => None,
        });
        if let Ok(guard) = guard {
            return Ok(Connection::Unit(guard));
        }
    }
    Ok(Connection::Own(pool.get().await?))
}

impl DbFailure for crate::core::error::AppError {
    fn db_error(&self) -> Option<&DbError> {
        match self {
            crate::core::error::AppError::Internal(error) => error.downcast_ref::<DbError>(),
            _ => None,
        }
    }
}
