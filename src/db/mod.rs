//! Database access: one pool enum over the supported backends (PostgreSQL, SQLite,
//! MySQL/MariaDB) and the macros that run one repository body on whichever is configured. The
//! body is expanded once per backend and checked by diesel against each; what the backends
//! spell differently lives here, not in repositories: reading back an inserted or updated row
//! ([`insert_returning!`], [`update_returning!`], [`LastInsertId`]), the row locks MySQL needs
//! where the others have a constraint ([`RowLocks`]), per-parent lists (`per_parent`) and the
//! texts of transient failures (`retry`).
use std::time::Duration;

use diesel::SqliteConnection;
use diesel::result::DatabaseErrorKind;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::BoxFuture;

use crate::config::DatabaseUrl;

pub mod columns;
pub mod limit;
pub mod migrations;
pub mod per_parent;
mod pool;
pub mod retry;
pub mod schema;
mod sealed;
pub mod shared;
pub mod text;
pub mod unit;

pub use pool::{Checkout, Pool, StatementCounter};
pub use unit::Transactions;

pub type SqliteAsync = SyncConnectionWrapper<SqliteConnection>;
pub type PgAsync = AsyncPgConnection;
pub type PgPool = Pool<AsyncDieselConnectionManager<AsyncPgConnection>>;
pub type SqlitePool = Pool<AsyncDieselConnectionManager<SqliteAsync>>;
pub type MysqlAsync = AsyncMysqlConnection;
pub type MysqlPool = Pool<AsyncDieselConnectionManager<AsyncMysqlConnection>>;

/// A pool of connections to the configured database.
#[derive(Clone)]
pub enum DbPool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
    Mysql(MysqlPool),
}

/// What a repository call can fail with. Unique violations are singled out because services turn
/// them into domain errors (e.g. DUPLICATE_EMAIL).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The constraint name (PostgreSQL), key name (MySQL) or message (SQLite) of a violated
    /// unique index.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    /// The constraint name of a violated exclusion constraint (PostgreSQL only).
    #[error("exclusion constraint violated: {0}")]
    ExclusionViolation(String),
    #[error("database query failed")]
    Query(#[source] diesel::result::Error),
    #[error("no database connection available")]
    Pool(#[source] bb8::RunError<PoolError>),
    /// The connection was lost while a transaction committed: it may or may not have.
    #[error("the connection was lost while committing")]
    CommitOutcomeUnknown(#[source] Box<DbError>),
}

impl DbError {
    /// Whether this is a unique violation of the index or columns named by `marker`.
    pub fn is_unique_violation_of(&self, marker: &str) -> bool {
        matches!(self, DbError::UniqueViolation(detail) if detail.contains(marker))
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::UniqueViolation(match info.constraint_name() {
                    Some(name) => name.to_owned(),
                    None => unique_key_of(info.message()).to_owned(),
                })
            }
            diesel::result::Error::DatabaseError(DatabaseErrorKind::ExclusionViolation, info) => {
                DbError::ExclusionViolation(info.constraint_name().unwrap_or_default().to_owned())
            }
            other => DbError::Query(other),
        }
    }
}

/// The index a unique violation names, from the message of a backend that gives no constraint
/// name. MySQL's message quotes the duplicate values (an email, say), which must not travel
/// into errors and logs: only the key is kept (`… for key 'name'`, MySQL 8 writes
/// `'table.name'`). SQLite's names the columns and no values, and is kept whole.
fn unique_key_of(message: &str) -> &str {
    match message.rsplit_once(" for key '") {
        Some((_, key)) => key.trim_end_matches('\''),
        None => message,
    }
}

impl From<bb8::RunError<PoolError>> for DbError {
    fn from(error: bb8::RunError<PoolError>) -> Self {
        DbError::Pool(error)
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A repository failure reaching a service is internal: the services turn the failures a user
/// can cause (unique violations, say) into domain errors before this applies. Here, not in
/// `core`, so the bottom layer names no database type.
impl From<DbError> for crate::core::error::AppError {
    fn from(error: DbError) -> Self {
        crate::core::error::AppError::Internal(error.into())
    }
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend is configured.
/// The body is expanded once per backend, so diesel checks it against each. For reads (and
/// writes that may be repeated): a transient failure runs the body again on a fresh connection
/// ([`retry`]).
#[macro_export]
macro_rules! with_conn {
    ($pool:expr, |$conn:ident| $body:expr) => {
        $crate::__on_connection!($crate::db::retry::Rerun::Whole, $pool, |$conn| $body)
    };
}

/// Like [`with_conn!`], for a write outside a transaction: once sent, it may have committed
/// whatever the answer was, so it runs again only when no connection could be had.
#[macro_export]
macro_rules! single_write {
    ($pool:expr, |$conn:ident| $body:expr) => {
        $crate::__on_connection!($crate::db::retry::Rerun::UnlessSent, $pool, |$conn| $body)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __on_connection {
    ($rerun:expr, $pool:expr, |$conn:ident| $body:expr) => {
        $crate::__retrying!($rerun, |retry| {
            match $pool {
                $crate::db::DbPool::Postgres(pool) => {
                    // A read-only request's statements share its connection (`db::shared`).
                    let connection = retry.checkout($crate::db::shared::connection(pool)).await?;
                    let body = async |$conn: &mut &$crate::db::PgAsync| {
                        let outcome: $crate::db::DbResult<_> = $body;
                        outcome
                    };
                    let outcome = body(&mut &*connection).await;
                    if let Err(error) = &outcome {
                        $crate::db::shared::discard_if_lost(pool, &connection, error).await;
                    }
                    outcome
                }
                $crate::db::DbPool::Sqlite(pool) => {
                    let mut pooled = retry.checkout($crate::db::unit::sqlite(pool)).await?;
                    let body = async |$conn: &mut $crate::db::SqliteAsync| {
                        let outcome: $crate::db::DbResult<_> = $body;
                        outcome
                    };
                    body(&mut *pooled).await
                }
                $crate::db::DbPool::Mysql(pool) => {
                    let mut pooled = retry.checkout($crate::db::unit::mysql(pool)).await?;
                    let body = async |$conn: &mut $crate::db::MysqlAsync| {
                        let outcome: $crate::db::DbResult<_> = $body;
                        outcome
                    };
                    let outcome = body(&mut *pooled).await;
                    $crate::db::retire_if_lost(&mut *pooled, &outcome);
                    outcome
                }
            }
        })
    };
}

/// Like [`with_conn!`], inside a transaction: a unit of work that commits or rolls back as a
/// whole. SQLite takes the write lock up front (`BEGIN IMMEDIATE`): a read-then-write
/// transaction that upgrades its lock later fails with "database is locked" under concurrency.
/// Inside a service's unit of work ([`unit`]) it is a savepoint of the unit's transaction.
///
/// A transient failure rolls the transaction back and runs the whole body again, so the body
/// must only read what it is given (it is an async closure over its inputs, called once per
/// attempt); a connection lost while committing is not retried ([`retry::settled`]).
#[macro_export]
macro_rules! in_transaction {
    ($pool:expr, |$conn:ident| $body:expr) => {
        $crate::__retrying!($crate::db::retry::Rerun::Whole, |retry| {
            match $pool {
                $crate::db::DbPool::Postgres(pool) => {
                    use diesel_async::AsyncConnection as _;
                    debug_assert!(
                        !$crate::db::shared::in_request(pool),
                        "a read-only request holds its connection: a transaction would wait for another"
                    );
                    let mut pooled = retry.checkout($crate::db::unit::pg(pool)).await?;
                    // Inside a unit of work, a savepoint: what commits is the unit.
                    let in_unit = pooled.in_unit();
                    // Mutable for bodies that change what they captured.
                    #[allow(unused_mut)]
                    let mut body = async |$conn: &mut $crate::db::PgAsync| {
                        let outcome: $crate::db::DbResult<_> = $body;
                        outcome
                    };
                    let mut committing = false;
                    let outcome = pooled
                        .transaction(async |$conn| -> $crate::db::DbResult<_> {
                            let outcome = body($conn).await;
                            committing = outcome.is_ok() && !in_unit;
                            outcome
                        })
                        .await;
                    $crate::db::retry::settled(outcome, committing)
                }
                $crate::db::DbPool::Sqlite(pool) => {
                    use diesel_async::AsyncConnection as _;
                    let mut pooled = retry.checkout($crate::db::unit::sqlite(pool)).await?;
                    #[allow(unused_mut)]
                    let mut body = async |$conn: &mut $crate::db::SqliteAsync| {
                        let outcome: $crate::db::DbResult<_> = $body;
                        outcome
                    };
                    let mut committing = false;
                    let outcome = if pooled.in_unit() {
                        // A savepoint in the unit's transaction, which holds the write lock.
                        pooled
                            .transaction(async |$conn| -> $crate::db::DbResult<_> { body($conn).await })
                            .await
                    } else {
                        pooled
                            .immediate_transaction(async |$conn| -> $crate::db::DbResult<_> {
                                let outcome = body($conn).await;
                                committing = outcome.is_ok();
                                outcome
                            })
                            .await
                    };
                    $crate::db::retry::settled(outcome, committing)
                }
                $crate::db::DbPool::Mysql(pool) => {
                    use diesel_async::AsyncConnection as _;
                    let mut pooled = retry.checkout($crate::db::unit::mysql(pool)).await?;
                    let in_unit = pooled.in_unit();
                    #[allow(unused_mut)]
                    let mut body = async |$conn: &mut $crate::db::MysqlAsync| {
                        let outcome: $crate::db::DbResult<_> = $body;
                        outcome
                    };
                    let mut committing = false;
                    let outcome = pooled
                        .transaction(async |$conn| -> $crate::db::DbResult<_> {
                            let outcome = body($conn).await;
                            committing = outcome.is_ok() && !in_unit;
                            outcome
                        })
                        .await;
                    $crate::db::retire_if_lost(&mut *pooled, &outcome);
                    $crate::db::retry::settled(outcome, committing)
                }
            }
        })
    };
}

/// After `outcome` on a MySQL connection: one found lost is marked broken, so that the pool
/// drops it instead of handing it out again. A MySQL connection notices a closed socket only
/// when used, and diesel-async's pool judges one by its transaction state alone, so without
/// this every connection the server had ended (a restart, `KILL`, `wait_timeout`) would fail
/// one request after another.
pub fn retire_if_lost<T>(conn: &mut MysqlAsync, outcome: &DbResult<T>) {
    use diesel_async::TransactionManager as _;
    if let Err(error) = outcome
        && error.transient() == Some(retry::Transient::ConnectionLost)
    {
        <MysqlAsync as diesel_async::AsyncConnection>::TransactionManager::transaction_manager_status_mut(conn)
            .set_in_error();
    }
}

/// How long a checkout waits for a connection before the request fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

fn pool_builder<M: bb8::ManageConnection>(size: u32) -> bb8::Builder<M> {
    bb8::Pool::builder()
        .max_size(size)
        .connection_timeout(CHECKOUT_TIMEOUT)
}

/// The id the connection's last insert into `table` made. Each backend spells it its own way;
/// with it an insert reads its row back the same way on all of them (MySQL has no
/// `RETURNING`). On PostgreSQL it is the table's own sequence (`currval`), not `lastval()`,
/// which a trigger drawing from another sequence would change; SQLite's and MySQL's values are
/// restored when a trigger ends.
pub trait LastInsertId {
    fn last_insert_id(
        &mut self,
        table: &'static str,
    ) -> impl std::future::Future<Output = DbResult<i64>> + Send;
}

macro_rules! last_insert_id {
    ($connection:ty, |$table:ident| $sql:expr) => {
        impl LastInsertId for $connection {
            fn last_insert_id(
                &mut self,
                $table: &'static str,
            ) -> impl std::future::Future<Output = DbResult<i64>> + Send {
                use diesel_async::RunQueryDsl as _;
                async move {
                    Ok(
                        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&$sql))
                            .get_result(self)
                            .await?,
                    )
                }
            }
        }
    };
}

last_insert_id!(AsyncPgConnection, |table| format!(
    "currval(pg_get_serial_sequence('{table}', 'id'))"
));
last_insert_id!(&AsyncPgConnection, |table| format!(
    "currval(pg_get_serial_sequence('{table}', 'id'))"
));
last_insert_id!(SqliteAsync, |_table| "last_insert_rowid()");
last_insert_id!(AsyncMysqlConnection, |_table| {
    "CAST(LAST_INSERT_ID() AS SIGNED)"
});

/// Write locks, inside a transaction, on rows whose lock serialises a rule that the schema
/// states on one backend only. The no-double-booking rule is an exclusion constraint on
/// PostgreSQL, and SQLite's write transactions run one at a time (`BEGIN IMMEDIATE`): neither
/// needs a lock. MySQL has no exclusion constraint, so a booking locks its doctor's and
/// patient's rows (`SELECT … FOR UPDATE`) before it checks the slot: bookings of one doctor or
/// one patient then check and insert one after the other. Locking the parties, rather than the
/// gap of the time range, keeps the lock independent of indexes and of the isolation level.
pub trait RowLocks {
    /// Locks the rows `ids` of `table`, a table name of the schema (never client text); by
    /// default nothing, for the backends that need no lock.
    fn lock_rows<'a>(
        &'a mut self,
        _table: &'static str,
        _ids: &'a [i64],
    ) -> impl std::future::Future<Output = DbResult<()>> + Send + 'a {
        std::future::ready(Ok(()))
    }
}

impl RowLocks for AsyncPgConnection {}

impl RowLocks for SqliteAsync {}

impl RowLocks for AsyncMysqlConnection {
    fn lock_rows<'a>(
        &'a mut self,
        table: &'static str,
        ids: &'a [i64],
    ) -> impl std::future::Future<Output = DbResult<()>> + Send + 'a {
        use diesel_async::RunQueryDsl as _;
        let mut ids = ids.to_vec();
        // One order for every locker, so two never wait for each other's rows.
        ids.sort_unstable();
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT id FROM {table} WHERE id IN ({}) FOR UPDATE",
            list.join(", ")
        );
        async move {
            if !ids.is_empty() {
                diesel::sql_query(sql).execute(self).await?;
            }
            Ok(())
        }
    }
}

/// A lock, inside a transaction, on the row that owns a total which a write checks before it
/// adds to it (a clinic's stored bytes against its quota): `SELECT … FOR UPDATE` on PostgreSQL
/// and MySQL, so a second writer reads the total only once the first has committed. SQLite's
/// write transactions run one at a time (`BEGIN IMMEDIATE`) and need none. Unlike
/// [`RowLocks`], every backend but SQLite takes it: no constraint states such a rule.
pub trait OwnerLock {
    /// Locks the row `id` of `table`, a table name of the schema (never client text).
    fn lock_owner(
        &mut self,
        table: &'static str,
        id: i64,
    ) -> impl std::future::Future<Output = DbResult<()>> + Send;
}

/// `OwnerLock` on a server backend, whose statement differs only by its placeholder.
macro_rules! owner_lock_for_update {
    ($connection:ty, $placeholder:literal) => {
        impl OwnerLock for $connection {
            fn lock_owner(
                &mut self,
                table: &'static str,
                id: i64,
            ) -> impl std::future::Future<Output = DbResult<()>> + Send {
                use diesel_async::RunQueryDsl as _;
                let sql = format!(
                    concat!("SELECT id FROM {} WHERE id = ", $placeholder, " FOR UPDATE"),
                    table
                );
                async move {
                    diesel::sql_query(sql)
                        .bind::<diesel::sql_types::BigInt, _>(id)
                        .execute(self)
                        .await?;
                    Ok(())
                }
            }
        }
    };
}

owner_lock_for_update!(AsyncPgConnection, "$1");
owner_lock_for_update!(AsyncMysqlConnection, "?");

impl OwnerLock for SqliteAsync {
    fn lock_owner(
        &mut self,
        _table: &'static str,
        _id: i64,
    ) -> impl std::future::Future<Output = DbResult<()>> + Send {
        std::future::ready(Ok(()))
    }
}

/// Inserts `$values` into the table `$table` (its schema module) and reads the new row back as
/// `$row`: two statements on every backend, as MySQL has no `RETURNING`. Inside the body of
/// [`with_conn!`] and its siblings, whose `conn` it takes.
#[macro_export]
macro_rules! insert_returning {
    ($conn:ident, $table:ident, $values:expr, $row:ty) => {{
        let id = $crate::insert_id!($conn, $table, $values);
        $table::table
            .find(id)
            .select(<$row>::as_select())
            .get_result::<$row>($conn)
            .await?
    }};
}

/// Runs the UPDATE `$update`, which names at most the row `$id` of `$table`, and reads that row
/// back as `$row` if it matched it (`None` otherwise): MySQL has no `RETURNING`. MySQL counts
/// the rows an UPDATE matched, as the others do, because diesel-async asks for it
/// (`CLIENT_FOUND_ROWS`).
#[macro_export]
macro_rules! update_returning {
    ($conn:ident, $update:expr, $table:ident, $id:expr, $row:ty) => {{
        if $update.execute($conn).await? == 0 {
            None
        } else {
            Some(
                $table::table
                    .find($id)
                    .select(<$row>::as_select())
                    .get_result::<$row>($conn)
                    .await?,
            )
        }
    }};
}

/// Inserts `$values` into `$table`; the id of the new row.
#[macro_export]
macro_rules! insert_id {
    ($conn:ident, $table:ident, $values:expr) => {{
        diesel::insert_into($table::table)
            .values($values)
            .execute($conn)
            .await?;
        $crate::db::LastInsertId::last_insert_id($conn, stringify!($table)).await?
    }};
}

/// Inserts `$values` into `$table`, then writes the sealed columns that `$sealed` makes for
/// the new row's id (a sealed value is bound to its row, whose id the insert makes, so the
/// plaintext is never written); the new id. Inside the caller's transaction.
#[macro_export]
macro_rules! insert_sealed {
    ($conn:ident, $table:ident, $values:expr, $sealed:expr) => {{
        let id = $crate::insert_id!($conn, $table, $values);
        let sealed = ($sealed)(id);
        diesel::update($table::table.find(id))
            .set(&sealed)
            .execute($conn)
            .await?;
        id
    }};
}

/// One batch of a resealing pass (`core::sealing::reseal`) over `$column` of `$table` (sealed
/// as `$field`), the rows `$pass` names: each value not under the current key rewritten under
/// it. A value changed since it was read is left to its writer, who
/// sealed it under the current key. A `ResealBatch`; inside the caller's transaction.
#[macro_export]
macro_rules! reseal_column {
    ($conn:ident, $keys:expr, $pass:expr, $table:ident, $column:ident, $field:expr) => {{
        let pass: &$crate::core::sealing::ResealPass = $pass;
        let query = $table::table
            .filter($table::id.gt(pass.after))
            .order($table::id)
            .limit(pass.limit)
            .select(($table::id, $table::clinic_id, $table::$column.nullable()));
        let rows: Vec<(i64, i64, Option<String>)> = match pass.clinic_id {
            Some(clinic_id) => {
                query
                    .filter($table::clinic_id.eq(clinic_id))
                    .load($conn)
                    .await?
            }
            None => query.load($conn).await?,
        };
        let mut batch = $crate::core::sealing::ResealBatch::default();
        for (id, clinic_id, stored) in rows {
            batch.last = Some(id);
            let Some(stored) = stored else { continue };
            match $keys.reseal($field, id, &stored, pass.plain_allowed) {
                $crate::core::sealing::Reseal::Current => {}
                $crate::core::sealing::Reseal::Unreadable => batch.unreadable += 1,
                $crate::core::sealing::Reseal::New { sealed, plaintext } => {
                    let changed = diesel::update(
                        $table::table
                            .filter($table::id.eq(id))
                            .filter($table::$column.eq(&stored)),
                    )
                    .set($table::$column.eq(&sealed))
                    .execute($conn)
                    .await?;
                    if changed == 1 {
                        batch.resealed += 1;
                        batch.rewritten.push((id, clinic_id, plaintext));
                    }
                }
            }
        }
        batch
    }};
}

/// [`reseal_column!`] over each `$column` (sealed as `$field`) of `$table`, for the same
/// rows: the batches added up.
#[macro_export]
macro_rules! reseal_columns {
    ($conn:ident, $keys:expr, $pass:expr, $table:ident, [$($column:ident: $field:expr),+ $(,)?]) => {{
        let mut batch = $crate::core::sealing::ResealBatch::default();
        $(
            batch.add($crate::reseal_column!($conn, $keys, $pass, $table, $column, $field));
        )+
        batch
    }};
}

/// Orders a boxed query by (`$column`, `$id`) and, given a cursor `Some(key)` with `$cursor_id`,
/// keeps the rows after it in that order: `(column, id) > (key, cursor id)`, spelled out because
/// SQLite and diesel lack row-value comparison. `$ascending` false reverses both.
#[macro_export]
macro_rules! keyset {
    ($query:expr, $column:expr, $id:expr, $key:expr, $cursor_id:expr, $ascending:expr) => {{
        let mut query = $query;
        if let Some(key) = $key {
            let cursor_id: i64 = $cursor_id;
            query = if $ascending {
                query.filter(
                    $column
                        .gt(key.clone())
                        .or($column.eq(key).and($id.gt(cursor_id))),
                )
            } else {
                query.filter(
                    $column
                        .lt(key.clone())
                        .or($column.eq(key).and($id.lt(cursor_id))),
                )
            };
        }
        if $ascending {
            query.order(($column.asc(), $id.asc()))
        } else {
            query.order(($column.desc(), $id.desc()))
        }
    }};
}

/// Per-connection SQLite settings. `optimize` keeps planner statistics current (bounded by
/// `analysis_limit`): without them SQLite picks the clinic index for "the first rows of these
/// patients" and scans every appointment of the clinic (10 ms instead of 0.1 ms per batch).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
     PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;";

/// What each backend does to a connection it has just opened.
trait ConnectionSetup: PoolableConnection + SimpleAsyncConnection + 'static {
    fn set_up(&mut self) -> BoxFuture<'_, diesel::QueryResult<()>>;
}

impl ConnectionSetup for AsyncPgConnection {
    fn set_up(&mut self) -> BoxFuture<'_, diesel::QueryResult<()>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

impl ConnectionSetup for SqliteAsync {
    fn set_up(&mut self) -> BoxFuture<'_, diesel::QueryResult<()>> {
        Box::pin(async move {
            self.batch_execute(SQLITE_PRAGMAS).await?;
            self.spawn_blocking(text::register_on_sqlite).await
        })
    }
}

/// Every MySQL session speaks UTC (times are stored as UTC without a zone, as on the other
/// backends), refuses what it would otherwise truncate or guess (strict mode), compares text
/// exactly unless a column says otherwise (the tables' utf8mb4_bin), and reads as PostgreSQL
/// does: each statement sees what committed before it (READ COMMITTED, not InnoDB's default
/// REPEATABLE READ, under which a transaction that waited for a lock would check a slot
/// against a snapshot older than the booking that held it).
const MYSQL_SESSION: &str = "SET time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY', \
     NAMES utf8mb4 COLLATE utf8mb4_bin; \
     SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

impl ConnectionSetup for AsyncMysqlConnection {
    fn set_up(&mut self) -> BoxFuture<'_, diesel::QueryResult<()>> {
        Box::pin(async move { self.batch_execute(MYSQL_SESSION).await })
    }
}

/// How connections are opened and checked out.
fn manager_config<C: ConnectionSetup>() -> ManagerConfig<C> {
    let mut config = ManagerConfig::<C>::default();
    // Checked-out connections are not pinged: a ping per checkout would double the statements
    // of every request. One already known to be closed (its server ended it: a restart,
    // `pg_terminate_backend`) is passed over for another; one that is not yet known fails its
    // statement, which `retry` runs again on another.
    config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| {
        Box::pin(std::future::ready(if conn.is_broken() {
            Err(diesel::result::Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new("connection closed".to_owned()),
            ))
        } else {
            Ok(())
        }))
    }));
    config.custom_setup = Box::new(move |url| {
        Box::pin(async move {
            let mut conn = C::establish(url).await?;
            conn.set_up()
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    config
}

impl DbPool {
    /// Opens a pool for `url`; a SQLite file (and its folder) is created if missing.
    pub async fn connect(url: &DatabaseUrl, size: u32) -> anyhow::Result<DbPool> {
        Self::connect_counted(url, size, None).await
    }

    /// Like [`DbPool::connect`], counting every statement in `counter`.
    pub async fn connect_counted(
        url: &DatabaseUrl,
        size: u32,
        counter: Option<StatementCounter>,
    ) -> anyhow::Result<DbPool> {
        match url {
            DatabaseUrl::Postgres(url) => {
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
                    url.clone(),
                    manager_config(),
                );
                let pool = pool_builder(size)
                    .build(manager)
                    .await
                    .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?;
                Ok(DbPool::Postgres(Pool::new(
                    pool,
                    size,
                    CHECKOUT_TIMEOUT,
                    counter,
                    "postgresql",
                )))
            }
            DatabaseUrl::Mysql(url) => {
                let manager = AsyncDieselConnectionManager::<AsyncMysqlConnection>::new_with_config(
                    url.clone(),
                    manager_config(),
                );
                let pool = pool_builder(size)
                    .build(manager)
                    .await
                    .map_err(|e| anyhow::anyhow!("connecting to MySQL: {e}"))?;
                Ok(DbPool::Mysql(Pool::new(
                    pool,
                    size,
                    CHECKOUT_TIMEOUT,
                    counter,
                    "mysql",
                )))
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                let manager = AsyncDieselConnectionManager::<SqliteAsync>::new_with_config(
                    path.to_string_lossy(),
                    manager_config(),
                );
                let pool = pool_builder(size).build(manager).await.map_err(|e| {
                    anyhow::anyhow!("opening SQLite database {}: {e}", path.display())
                })?;
                Ok(DbPool::Sqlite(Pool::new(
                    pool,
                    size,
                    CHECKOUT_TIMEOUT,
                    counter,
                    "sqlite",
                )))
            }
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> DbResult<()> {
        use diesel_async::RunQueryDsl;
        with_conn!(self, |conn| {
            diesel::sql_query("SELECT 1").execute(conn).await?;
            Ok(())
        })
    }

    /// Refreshes SQLite's planner statistics where the data changed much (a no-op on
    /// PostgreSQL, whose autovacuum does this). Long-lived pooled connections only run it when
    /// opened, so the server also calls this periodically.
    pub async fn optimize(&self) -> DbResult<()> {
        use diesel_async::SimpleAsyncConnection as _;
        if let DbPool::Sqlite(pool) = self {
            let mut conn = pool.get().await?;
            conn.batch_execute("PRAGMA optimize;").await?;
        }
        Ok(())
    }

    /// How many tables the database holds (a restore goes only into an empty one).
    pub async fn table_count(&self) -> DbResult<i64> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            tables: i64,
        }
        let sql = match self {
            DbPool::Postgres(_) => {
                "SELECT count(*) AS tables FROM information_schema.tables \
                 WHERE table_schema = current_schema()"
            }
            DbPool::Sqlite(_) => {
                "SELECT count(*) AS tables FROM sqlite_master \
                 WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            DbPool::Mysql(_) => {
                "SELECT CAST(count(*) AS SIGNED) AS tables FROM information_schema.tables \
                 WHERE table_schema = DATABASE()"
            }
        };
        with_conn!(self, |conn| Ok(diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .await?
            .tables))
    }

    /// An online, consistent copy of the embedded database into a new file (SQLite's
    /// `VACUUM INTO`); `false` on the server databases, which their own tools dump.
    pub async fn snapshot_into(&self, target: &std::path::Path) -> DbResult<bool> {
        use diesel_async::SimpleAsyncConnection as _;
        let DbPool::Sqlite(pool) = self else {
            return Ok(false);
        };
        // A quoted SQL string: the only character to escape is the quote itself.
        let target = target.to_string_lossy().replace('\'', "''");
        let mut conn = pool.get().await?;
        conn.batch_execute(&format!("VACUUM INTO '{target}'"))
            .await?;
        Ok(true)
    }

    /// Connections open and idle, for the pool gauges on `/metrics`.
    pub fn usage(&self) -> (u32, u32) {
        let state = match self {
            DbPool::Postgres(pool) => pool.state(),
            DbPool::Sqlite(pool) => pool.state(),
            DbPool::Mysql(pool) => pool.state(),
        };
        (state.connections, state.idle_connections)
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DbPool::Postgres(_) => "postgres",
            DbPool::Sqlite(_) => "sqlite",
            DbPool::Mysql(_) => "mysql",
        }
    }
}

/// The current time as stored: UTC, truncated to microseconds so it round-trips exactly through
/// both databases (keyset cursors compare it for equality).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::unique_key_of;

    #[test]
    fn a_mysql_unique_violation_keeps_the_key_and_not_the_values() {
        assert_eq!(
            unique_key_of("Duplicate entry '7-zoë@example.org' for key 'patients_live_email_key'"),
            "patients_live_email_key"
        );
        assert_eq!(
            unique_key_of("Duplicate entry 'a' for key 'patients.patients_live_email_key'"),
            "patients.patients_live_email_key"
        );
        assert_eq!(
            unique_key_of("UNIQUE constraint failed: patients.clinic_id, patients.email"),
            "UNIQUE constraint failed: patients.clinic_id, patients.email"
        );
    }
}
