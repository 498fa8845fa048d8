//! Background jobs: where their queue lives, who runs them, how often a failing one is tried,
//! and the scratch folders of backups and exports (both end up in the file store).
use std::path::PathBuf;
use std::time::Duration;

use super::mail::{self, MailConfig};
use super::{DatabaseUrl, Reader};

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `serve` also runs the workers; `clinicgraph worker` runs them on their own.
    pub workers_in_process: bool,
    /// Tries of a failing job, the first included, before it is kept as FAILED.
    pub max_attempts: u32,
    /// The queue's own SQLite file, used when there is no `REDIS_URL`.
    pub queue_path: PathBuf,
    /// Where `clinicgraph backup` makes a snapshot before it goes to the file store.
    pub backup_dir: PathBuf,
    /// Backups kept in the file store; older ones are deleted after each new one.
    pub backup_keep: usize,
    /// Where a worker writes an export or report before it goes to the file store.
    pub export_dir: PathBuf,
    /// How long a finished export can be downloaded.
    pub export_ttl: Duration,
    /// A font file for the characters the PDFs' own font lacks (CJK, for one).
    pub pdf_font: Option<PathBuf>,
    pub mail: MailConfig,
}

pub(super) fn read(r: &mut Reader<'_>, production: bool, database: &DatabaseUrl) -> JobsConfig {
    // A production deployment scales workers apart (`clinicgraph worker`); on a developer's
    // machine one `cargo run` should do everything.
    let workers_in_process = r.flag("WORKERS_IN_PROCESS", !production);
    let max_attempts = r.parsed("JOB_MAX_ATTEMPTS", 5_u32);
    if !(1..=25).contains(&max_attempts) {
        r.problems
            .push("JOB_MAX_ATTEMPTS: must be between 1 and 25".into());
    }
    let data_dir = database.data_dir();
    let queue_path = r
        .raw("JOBS_QUEUE_PATH")
        .map_or_else(|| data_dir.join("clinicgraph-jobs.db"), PathBuf::from);
    let backup_dir = r
        .raw("BACKUP_DIR")
        .map_or_else(|| data_dir.join("backups"), PathBuf::from);
    let backup_keep = r.parsed("BACKUP_KEEP", 7_usize);
    if backup_keep == 0 {
        r.problems.push("BACKUP_KEEP: must be at least 1".into());
    }
    let export_dir = r
        .raw("EXPORT_DIR")
        .map_or_else(|| data_dir.join("exports"), PathBuf::from);
    let export_ttl_hours = r.parsed("EXPORT_TTL_HOURS", 24_u64);
    let pdf_font = r.raw("PDF_FONT").map(PathBuf::from);
    if let Some(path) = &pdf_font
        && !path.is_file()
    {
        r.problems
            .push(format!("PDF_FONT: {} is not a file", path.display()));
    }
    JobsConfig {
        pdf_font,
        mail: mail::read(r, &data_dir),
        export_dir,
        export_ttl: Duration::from_secs(export_ttl_hours.saturating_mul(3600)),
        workers_in_process,
        max_attempts,
        queue_path,
        backup_dir,
        backup_keep,
    }
}
