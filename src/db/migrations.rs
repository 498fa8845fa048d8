//! Embedded migrations, one history per backend.
use diesel::Connection;
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
                let applied = conn
                    .run_pending_migrations(SQLITE)
                    .map_err(|e| anyhow::anyhow!("running SQLite migrations: {e}"))?;
                Ok(applied.len())
            })
            .await?
        }
    }
}
