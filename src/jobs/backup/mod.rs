//! `clinicgraph backup` and `clinicgraph restore`: a consistent snapshot of the whole
//! database, keeping the newest `BACKUP_KEEP`, and its restoration into an empty database. A
//! snapshot holds every clinic's data, so both are an operator's commands (run `backup` from
//! cron or a systemd timer), never something a clinic's account can ask for.
//!
//! Each backend is snapshotted its own way: SQLite by `VACUUM INTO` (a file that is itself a
//! database), PostgreSQL by `pg_dump`'s custom format, MySQL/MariaDB by `mariadb-dump` (or
//! `mysqldump`) in one transaction.
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::DatabaseUrl;
use crate::db::DbPool;

mod tools;

const PREFIX: &str = "clinicgraph-";
/// The file name endings of the three kinds of snapshot.
const SUFFIXES: [&str; 3] = [".db", ".pgdump", ".sql"];

fn suffix(url: &DatabaseUrl) -> &'static str {
    match url {
        DatabaseUrl::Sqlite(_) => SUFFIXES[0],
        DatabaseUrl::Postgres(_) => SUFFIXES[1],
        DatabaseUrl::Mysql(_) => SUFFIXES[2],
    }
}

/// Snapshots the database of `url` (open as `pool`) into `dir` and deletes all but the newest
/// `keep` snapshots. Named by the time to the millisecond, so names sort by age. The snapshot
/// is written under a temporary name and renamed once complete: a failed one leaves nothing
/// that looks like a backup.
pub async fn run(
    url: &DatabaseUrl,
    pool: &DbPool,
    dir: &Path,
    keep: usize,
) -> anyhow::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "{PREFIX}{}{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"),
        suffix(url)
    );
    let target = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_file(&partial);
    let written = match url {
        DatabaseUrl::Sqlite(_) => pool
            .snapshot_into(&partial)
            .await
            .map_err(anyhow::Error::from)
            .and_then(|done| {
                anyhow::ensure!(done, "the pool is not the embedded database's");
                Ok(())
            }),
        DatabaseUrl::Postgres(url) => tools::pg_dump(&tools::Server::parse(url)?, &partial).await,
        DatabaseUrl::Mysql(url) => tools::mysql_dump(&tools::Server::parse(url)?, &partial).await,
    };
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    // Every clinic's data: readable by the operator's account only, whatever the tools chose.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&partial, &target)?;
    let bytes = std::fs::metadata(&target)?.len();
    let removed = rotate(dir, keep)?;
    Ok(json!({ "file": name, "bytes": bytes, "removed": removed }))
}

/// Restores the snapshot `file` into the database of `url`, which must be empty (no tables):
/// a restore never mixes two databases. The snapshot must be of the same backend.
pub async fn restore(url: &DatabaseUrl, file: &Path) -> anyhow::Result<()> {
    let kind = SUFFIXES
        .iter()
        .find(|suffix| file.to_string_lossy().ends_with(*suffix))
        .copied();
    anyhow::ensure!(
        kind == Some(suffix(url)),
        "{} is not a snapshot of this database's kind (a {} file made by `clinicgraph backup`)",
        file.display(),
        suffix(url)
    );
    anyhow::ensure!(file.is_file(), "{} does not exist", file.display());
    match url {
        DatabaseUrl::Sqlite(path) => {
            let has_tables = path.exists() && {
                let pool = DbPool::connect(url, 1).await?;
                pool.table_count().await? > 0
            };
            anyhow::ensure!(
                !has_tables,
                "{} already holds a database: restore into a new path",
                path.display()
            );
            let mut header = [0_u8; 16];
            std::io::Read::read_exact(&mut std::fs::File::open(file)?, &mut header)?;
            anyhow::ensure!(
                &header == b"SQLite format 3\0",
                "{} is not a SQLite database",
                file.display()
            );
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            // An empty database file, and its journal files, give way to the snapshot.
            for leftover in [sidecar(path, "-wal"), sidecar(path, "-shm")] {
                let _ = std::fs::remove_file(leftover);
            }
            std::fs::copy(file, path)?;
        }
        DatabaseUrl::Postgres(server) | DatabaseUrl::Mysql(server) => {
            let pool = DbPool::connect(url, 1).await?;
            let tables = pool.table_count().await?;
            anyhow::ensure!(
                tables == 0,
                "the database already has {tables} table(s): restore into an empty database"
            );
            let server = tools::Server::parse(server)?;
            if matches!(url, DatabaseUrl::Postgres(_)) {
                tools::pg_restore(&server, file).await?;
            } else {
                tools::mysql_restore(&server, file).await?;
            }
        }
    }
    Ok(())
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn snapshots(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && SUFFIXES.iter().any(|s| n.ends_with(s)))
        })
        .collect();
    // The timestamp leads the name, so names sort by age.
    files.sort();
    Ok(files)
}

/// Deletes the oldest snapshots beyond `keep`; returns how many.
fn rotate(dir: &Path, keep: usize) -> anyhow::Result<usize> {
    let files = snapshots(dir)?;
    let excess = files.len().saturating_sub(keep);
    for old in &files[..excess] {
        std::fs::remove_file(old)?;
    }
    Ok(excess)
}
