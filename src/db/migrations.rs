//! Embedded migrations, one history per backend.
use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryDsl, QueryableByName};
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;
use crate::db::schema::{seal_rewrites, search_key_rebuilds};
use crate::db::{DbPool, DbResult};
use crate::{single_write, with_conn};

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const MYSQL: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// Applies every pending migration; returns how many ran. Needs the multi-threaded runtime.
pub async fn run(url: &DatabaseUrl) -> anyhow::Result<usize> {
    match url {
        DatabaseUrl::Postgres(url) => {
            let conn = AsyncPgConnection::establish(url).await?;
            let mut harness = AsyncMigrationHarness::new(conn);
            let applied = harness
                .run_pending_migrations(POSTGRES)
                .map_err(|e| anyhow::anyhow!("running PostgreSQL migrations: {e}"))?;
            Ok(applied.len())
        }
        DatabaseUrl::Mysql(url) => {
            let conn = AsyncMysqlConnection::establish(url).await?;
            let mut harness = AsyncMigrationHarness::new(conn);
            let applied = harness
                .run_pending_migrations(MYSQL)
                .map_err(|e| anyhow::anyhow!("running MySQL migrations: {e}"))?;
            Ok(applied.len())
        }
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let path = path.to_string_lossy().into_owned();
            tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let mut conn = diesel::SqliteConnection::establish(&path)?;
                // A table rebuild (SQLite's way to change a column) drops the old table, which
                // the tables referencing it must survive; the pragma cannot change inside the
                // migration's transaction. Every change is checked afterwards instead. Another
                // process at work on the file (a worker) is waited for, not failed on.
                conn.batch_execute("PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 5000")?;
                let applied = conn
                    .run_pending_migrations(SQLITE)
                    .map_err(|e| anyhow::anyhow!("running SQLite migrations: {e}"))?
                    .len();
                let broken = diesel::RunQueryDsl::load::<ForeignKeyViolation>(
                    diesel::sql_query("PRAGMA foreign_key_check"),
                    &mut conn,
                )?;
                if let [first, ..] = broken.as_slice() {
                    anyhow::bail!(
                        "SQLite migrations left {} broken reference(s), the first in {}",
                        broken.len(),
                        first.table
                    );
                }
                Ok(applied)
            })
            .await?
        }
    }
}

/// A row of SQLite's `PRAGMA foreign_key_check`: a reference whose target is missing.
#[derive(QueryableByName)]
struct ForeignKeyViolation {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table: String,
}

/// The tables whose search keys a migration marked stale, to recompute in Rust.
pub async fn stale_search_keys(pool: &DbPool) -> DbResult<Vec<String>> {
    with_conn!(pool, |conn| Ok(search_key_rebuilds::table
        .select(search_key_rebuilds::target)
        .order(search_key_rebuilds::target)
        .load(conn)
        .await?))
}

/// Records that every search key of `target` is current.
pub async fn search_keys_rebuilt(pool: &DbPool, target: &str) -> DbResult<()> {
    single_write!(pool, |conn| {
        diesel::delete(search_key_rebuilds::table.find(target))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// The tables a migration marked as holding values not yet sealed (`core::sealing`).
pub async fn unsealed_tables(pool: &DbPool) -> DbResult<Vec<String>> {
    with_conn!(pool, |conn| Ok(seal_rewrites::table
        .select(seal_rewrites::target)
        .order(seal_rewrites::target)
        .load(conn)
        .await?))
}

/// Records that every value of `target` is sealed.
pub async fn table_sealed(pool: &DbPool, target: &str) -> DbResult<()> {
    single_write!(pool, |conn| {
        diesel::delete(seal_rewrites::table.find(target))
            .execute(conn)
            .await?;
        Ok(())
    })
}
