//! `clinicgraph backup` and `clinicgraph restore`: a consistent snapshot of the whole
//! database, kept in the file store (`crate::storage`, under `backups/`) with the newest
//! `BACKUP_KEEP`, and its restoration into an empty database. A snapshot holds every clinic's
//! data, so both are an operator's commands (run `backup` from cron or a systemd timer), never
//! something a clinic's account can ask for.
//!
//! The snapshot is made in a scratch file in `BACKUP_DIR` and then copied into the store: on S3
//! it outlives the host that made it, and in the local folder it is sealed with the data keys
//! like every stored file.
//!
//! Each backend is snapshotted its own way: SQLite by `VACUUM INTO` (a file that is itself a
//! database), PostgreSQL by `pg_dump`'s custom format, MySQL/MariaDB by `mariadb-dump` (or
//! `mysqldump`) in one transaction.
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::DatabaseUrl;
use crate::db::DbPool;
use crate::storage::FileStorage;

mod tools;

const PREFIX: &str = "clinicgraph-";
/// The store's folder of snapshots.
const FOLDER: &str = "backups";
/// The file name endings of the three kinds of snapshot.
const SUFFIXES: [&str; 3] = [".db", ".pgdump", ".sql"];

fn suffix(url: &DatabaseUrl) -> &'static str {
    match url {
        DatabaseUrl::Sqlite(_) => SUFFIXES[0],
        DatabaseUrl::Postgres(_) => SUFFIXES[1],
        DatabaseUrl::Mysql(_) => SUFFIXES[2],
    }
}

/// Snapshots the database of `url` (open as `pool`) into the store `files`, by way of a scratch
/// file in `scratch`, and deletes all but the newest `keep` snapshots there. Named by the time
/// to the millisecond, so names sort by age. Nothing is published until the snapshot is whole:
/// a failed one leaves nothing that looks like a backup.
pub async fn run(
    url: &DatabaseUrl,
    pool: &DbPool,
    files: &FileStorage,
    scratch: &Path,
    keep: usize,
) -> anyhow::Result<Value> {
    make_scratch_dir(scratch)?;
    let name = format!(
        "{PREFIX}{}{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"),
        suffix(url)
    );
    let partial = ScratchFile(scratch.join(format!(".{name}.partial")));
    let _ = std::fs::remove_file(&partial.0);
    match url {
        DatabaseUrl::Sqlite(_) => {
            let done = pool.snapshot_into(&partial.0).await?;
            anyhow::ensure!(done, "the pool is not the embedded database's");
        }
        DatabaseUrl::Postgres(url) => {
            tools::pg_dump(&tools::Server::parse(url)?, &partial.0).await?
        }
        DatabaseUrl::Mysql(url) => {
            tools::mysql_dump(&tools::Server::parse(url)?, &partial.0).await?
        }
    }
    // Every clinic's data, even while it waits in the scratch folder: readable by the
    // operator's account only, whatever the tools chose.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial.0, std::fs::Permissions::from_mode(0o600))?;
    }
    let bytes = files
        .put_file(&format!("{FOLDER}/{name}"), &partial.0)
        .await?;
    let removed = rotate(files, keep).await?;
    Ok(json!({ "file": name, "bytes": bytes, "removed": removed }))
}

fn make_scratch_dir(scratch: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(scratch)
        .map_err(|error| anyhow::anyhow!("BACKUP_DIR {}: {error}", scratch.display()))
}

/// A scratch file, removed when dropped (the snapshot is in the store by then, or failed).
struct ScratchFile(PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The snapshots in the store, oldest first.
pub async fn list(files: &FileStorage) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = files
        .list(FOLDER)
        .await?
        .into_iter()
        .filter_map(|file| {
            file.key
                .strip_prefix(FOLDER)
                .and_then(|rest| rest.strip_prefix('/'))
                .map(str::to_owned)
        })
        .filter(|name| is_snapshot(name))
        .collect();
    // The timestamp leads the name, so names sort by age.
    names.sort();
    Ok(names)
}

fn is_snapshot(name: &str) -> bool {
    name.starts_with(PREFIX)
        && SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
        && !name.contains('/')
}

/// Deletes the oldest snapshots beyond `keep`; returns how many.
async fn rotate(files: &FileStorage, keep: usize) -> anyhow::Result<usize> {
    let names = list(files).await?;
    let excess = names.len().saturating_sub(keep);
    for old in &names[..excess] {
        files.delete(&format!("{FOLDER}/{old}")).await?;
    }
    Ok(excess)
}

/// Restores `snapshot` (a name `clinicgraph backup` printed, kept in the store; or the path of
/// a snapshot file) into the database of `url`. A snapshot from the store is copied to a
/// scratch file in `scratch` first.
pub async fn restore_named(
    url: &DatabaseUrl,
    files: &FileStorage,
    scratch: &Path,
    snapshot: &str,
) -> anyhow::Result<()> {
    let local = Path::new(snapshot);
    if local.is_file() {
        return restore(url, local).await;
    }
    let name = snapshot.strip_prefix("backups/").unwrap_or(snapshot);
    anyhow::ensure!(
        is_snapshot(name),
        "{snapshot} is neither a file nor the name of a snapshot (`clinicgraph backup --list`)"
    );
    make_scratch_dir(scratch)?;
    // The snapshot's own name, so that `restore` tells its kind by the ending.
    let copy = ScratchFile(scratch.join(name));
    anyhow::ensure!(
        files.get_file(&format!("{FOLDER}/{name}"), &copy.0).await?,
        "there is no snapshot {name} in the file store"
    );
    restore(url, &copy.0).await
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
