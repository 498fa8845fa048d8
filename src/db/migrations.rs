//! Embedded migrations, one history per backend.
use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

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
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let path = path.to_string_lossy().into_owned();
            tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                let mut conn = diesel::SqliteConnection::establish(&path)?;
                // A table rebuild (SQLite's way to change a column) drops the old table, which
                // the tables referencing it must survive; the pragma cannot change inside the
                // migration's transaction. Every change is checked afterwards instead.
                conn.batch_execute("PRAGMA foreign_keys = OFF")?;
                let applied = conn
                    .run_pending_migrations(SQLITE)
                    .map_err(|e| anyhow::anyhow!("running SQLite migrations: {e}"))?
                    .len();
                let broken = diesel::sql_query("PRAGMA foreign_key_check")
                    .load::<ForeignKeyViolation>(&mut conn)?;
                if let Some(first) = broken.first() {
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
