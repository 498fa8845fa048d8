//! Where finished exports and reports live: made in a scratch file in `EXPORT_DIR` (local to
//! the worker), then published to the file store (`crate::storage`) under `exports/<name>`,
//! from which every API instance serves them, whichever host the worker ran on.
use std::io::Write;
use std::path::PathBuf;

use crate::storage::{ByteStream, FileStorage};

/// The store's folder of exports and reports.
const FOLDER: &str = "exports";

pub struct ExportFiles {
    scratch: PathBuf,
    files: FileStorage,
}

/// A file being made; removed when dropped, whether it was published or the job failed.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn writer(&self) -> anyhow::Result<Box<dyn Write + Send>> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // Patients' data until it is in the store: the owner's alone.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        Ok(Box::new(std::io::BufWriter::new(options.open(&self.path)?)))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ExportFiles {
    pub fn new(scratch: PathBuf, files: FileStorage) -> Self {
        Self { scratch, files }
    }

    /// The file's key in the store. Names are made by the jobs, never by clients; anything
    /// else is refused all the same.
    fn key(name: &str) -> anyhow::Result<String> {
        anyhow::ensure!(
            !name.is_empty()
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "not an export file name"
        );
        Ok(format!("{FOLDER}/{name}"))
    }

    /// A scratch file to write `name` into. Every attempt at a job uses the same one, so an
    /// attempt whose worker was killed leaves nothing behind once another has run.
    pub fn scratch(&self, name: &str) -> anyhow::Result<Scratch> {
        Self::key(name)?;
        std::fs::create_dir_all(&self.scratch)
            .map_err(|error| anyhow::anyhow!("EXPORT_DIR {}: {error}", self.scratch.display()))?;
        let path = self.scratch.join(format!("{name}.partial"));
        Ok(Scratch { path })
    }

    /// Publishes the finished `scratch` as `name`, replacing an earlier attempt's; returns its
    /// size in bytes.
    pub async fn publish(&self, name: &str, scratch: Scratch) -> anyhow::Result<u64> {
        self.files.put_file(&Self::key(name)?, &scratch.path).await
    }

    /// The file's contents, or `None` if there is none (never written, or expired and removed).
    pub async fn open(&self, name: &str) -> anyhow::Result<Option<ByteStream>> {
        self.files.read_stream(&Self::key(name)?).await
    }

    pub async fn remove(&self, name: &str) -> anyhow::Result<()> {
        self.files.delete(&Self::key(name)?).await
    }

    /// Removes the files written more than `ttl` ago, which nobody may download any more;
    /// returns how many.
    pub async fn sweep(&self, ttl: std::time::Duration) -> anyhow::Result<usize> {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let Some(cutoff) = chrono::Utc::now().checked_sub_signed(ttl) else {
            return Ok(0);
        };
        let mut removed = 0;
        for file in self.files.list(FOLDER).await? {
            if file.modified < cutoff {
                self.files.delete(&file.key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::ExportFiles;
    use crate::storage::FileStorage;

    #[tokio::test]
    async fn a_scratch_file_is_its_owners_alone_and_gone_once_published() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStorage::local_for_tests(&dir.path().join("files"));
        let exports = ExportFiles::new(dir.path().join("scratch"), store);

        let scratch = exports.scratch("patients-job1.csv").expect("scratch");
        let mut writer = scratch.writer().expect("writer");
        writeln!(writer, "Ζωή Παπαδοπούλου").expect("write");
        drop(writer);
        let path = scratch.path.clone();
        let mode = std::fs::metadata(&path)
            .expect("scratch file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let bytes = exports
            .publish("patients-job1.csv", scratch)
            .await
            .expect("published");
        assert_eq!(bytes, "Ζωή Παπαδοπούλου\n".len() as u64);
        assert!(!path.exists(), "the scratch file is removed");

        for name in ["../passwd", ".hidden", "", "a/b.csv"] {
            assert!(exports.scratch(name).is_err(), "{name:?}");
        }
    }
}
