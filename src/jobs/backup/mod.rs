//! `clinicgraph backup`: a snapshot of the embedded database, keeping the newest `BACKUP_KEEP`.
//! A snapshot holds every clinic's data, so it is an operator's command (run it from cron or
//! a systemd timer), never something a clinic's account can ask for.
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::db::DbPool;

const PREFIX: &str = "clinicgraph-";
const SUFFIX: &str = ".db";

/// Snapshots into `dir` and deletes all but the newest `keep` snapshots. Named by the time to
/// the millisecond, so names sort by age.
pub async fn run(pool: &DbPool, dir: &Path, keep: usize) -> anyhow::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "{PREFIX}{}{SUFFIX}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3f")
    );
    let target = dir.join(&name);
    if !pool.snapshot_into(&target).await? {
        anyhow::bail!(
            "only the embedded SQLite database is backed up by clinicgraph: back PostgreSQL up \
             with its own tooling (pg_dump, or base backups with WAL archiving)"
        );
    }
    let bytes = std::fs::metadata(&target)?.len();
    let removed = rotate(dir, keep)?;
    Ok(json!({ "file": name, "bytes": bytes, "removed": removed }))
}

fn snapshots(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
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
