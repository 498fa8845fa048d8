//! `BACKUP_DATABASE`: a snapshot of the embedded database, keeping the newest `BACKUP_KEEP`.
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::db::DbPool;

const PREFIX: &str = "clinicgraph-";
const SUFFIX: &str = ".db";

/// Snapshots into `dir` and deletes all but the newest `keep` snapshots. Named by job and time,
/// so running the same job twice (after a crash) writes one file, not two.
pub async fn run(pool: &DbPool, dir: &Path, keep: usize, job_id: i64) -> anyhow::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let name = format!(
        "{PREFIX}{}-job{job_id}{SUFFIX}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S")
    );
    let target = dir.join(&name);
    if let Some(earlier) = snapshot_of_job(dir, job_id)? {
        // An attempt that died after writing: its file is complete only if the attempt
        // finished, which we cannot know, so it is replaced.
        std::fs::remove_file(earlier)?;
    }
    if !pool.snapshot_into(&target).await? {
        anyhow::bail!("only the embedded SQLite database is backed up by a job");
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

fn snapshot_of_job(dir: &Path, job_id: i64) -> anyhow::Result<Option<PathBuf>> {
    let marker = format!("-job{job_id}{SUFFIX}");
    Ok(snapshots(dir)?.into_iter().find(|path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(&marker))
    }))
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
