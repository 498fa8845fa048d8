//! Where files live: patients' photos and documents, exports, reports and database snapshots.
//! One interface, the `object_store` crate's, over a local folder (the default, beside the
//! SQLite database) or an S3 bucket (`FILES_URL`). Instances on different hosts share the
//! bucket; a local folder is for one host.
//!
//! At rest: in the local folder every file is sealed with the data keys (`core::sealing`),
//! bound to its key in the store: in one piece what is read whole (photos, documents), in
//! chunks what is streamed (exports, reports, snapshots: [`FileStorage::put_file`]). On S3
//! every write asks for server-side encryption (SSE-S3), and so does every upload link handed
//! out (its signature covers the header).
use std::path::Path as LocalPath;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::{HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use secrecy::ExposeSecret;

use crate::config::{FilesLocation, S3Settings};
use crate::core::sealing::{DataKeys, STREAM_CHUNK};

/// A store's failure; callers log it and answer with a generic error.
pub type StorageError = anyhow::Error;

/// A file's contents as they are read from the store.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// The parts of a streamed write: S3's smallest but the last.
const PART: usize = 5 * 1024 * 1024;
/// Parts of one file sent at once.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub struct FileStorage {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local {
        store: Arc<LocalFileSystem>,
        keys: Arc<DataKeys>,
    },
    S3 {
        store: Arc<AmazonS3>,
        prefix: String,
    },
}

/// A file found by [`FileStorage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub key: String,
    /// When it was last written.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// How a client sends an upload's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    /// A presigned PUT straight to the bucket, with the headers its signature covers.
    Presigned {
        url: String,
        headers: Vec<(String, String)>,
    },
    /// Through this service's own upload endpoint.
    ThroughService,
}

impl FileStorage {
    pub fn open(location: &FilesLocation, keys: &Arc<DataKeys>) -> anyhow::Result<Self> {
        let backend = match location {
            FilesLocation::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|error| {
                    anyhow::anyhow!("FILES_DIR: cannot create {}: {error}", dir.display())
                })?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|error| anyhow::anyhow!("FILES_DIR {}: {error}", dir.display()))?;
                Backend::Local {
                    store: Arc::new(store),
                    keys: keys.clone(),
                }
            }
            FilesLocation::S3(settings) => Backend::S3 {
                store: Arc::new(s3(settings)?),
                prefix: settings.prefix.clone(),
            },
        };
        Ok(Self { backend })
    }

    /// Whether uploads go straight to the store (S3) rather than through this service.
    pub fn presigns(&self) -> bool {
        matches!(self.backend, Backend::S3 { .. })
    }

    fn path(&self, key: &str) -> Path {
        match &self.backend {
            Backend::Local { .. } => Path::from(key),
            Backend::S3 { prefix, .. } if prefix.is_empty() => Path::from(key),
            Backend::S3 { prefix, .. } => Path::from(format!("{prefix}/{key}")),
        }
    }

    fn store(&self) -> &dyn ObjectStore {
        match &self.backend {
            Backend::Local { store, .. } => store.as_ref(),
            Backend::S3 { store, .. } => store.as_ref(),
        }
    }

    /// The keys that seal files in this store, if it does not encrypt them itself.
    fn sealing(&self) -> Option<&Arc<DataKeys>> {
        match &self.backend {
            Backend::Local { keys, .. } => Some(keys),
            Backend::S3 { .. } => None,
        }
    }

    pub async fn put(&self, key: &str, contents: Vec<u8>) -> Result<(), StorageError> {
        let path = self.path(key);
        match &self.backend {
            Backend::Local { store, keys } => {
                let sealed = keys.seal_blob(key, &contents);
                store.put(&path, PutPayload::from(sealed)).await?;
            }
            Backend::S3 { store, .. } => {
                store.put(&path, PutPayload::from(contents)).await?;
            }
        }
        Ok(())
    }

    /// The file's contents, or `None` when there is no such file. At most `limit` bytes are
    /// read: a larger file is an error, not a memory bill.
    pub async fn get(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path(key);
        let (store, sealing): (&dyn ObjectStore, Option<&DataKeys>) = match &self.backend {
            Backend::Local { store, keys } => (store.as_ref(), Some(keys.as_ref())),
            Backend::S3 { store, .. } => (store.as_ref(), None),
        };
        let found = match store.get(&path).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        // The sealed form is larger by its header, nonce and tag.
        let allowed = limit.saturating_add(if sealing.is_some() { 64 } else { 0 });
        anyhow::ensure!(
            found.meta.size <= allowed,
            "{key} is larger ({} bytes) than the {limit} bytes allowed",
            found.meta.size
        );
        let bytes = found.bytes().await?.to_vec();
        match sealing {
            Some(keys) => keys
                .open_blob(key, bytes)
                .map(Some)
                .map_err(|reason| anyhow::anyhow!("{key} does not decrypt ({})", reason.as_str())),
            None => Ok(Some(bytes)),
        }
    }

    /// The file's stored size in bytes, or `None` when there is none (a sealed file's size
    /// includes its sealing, some 40 bytes).
    pub async fn stored_size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let path = self.path(key);
        let meta = match &self.backend {
            Backend::Local { store, .. } => store.head(&path).await,
            Backend::S3 { store, .. } => store.head(&path).await,
        };
        match meta {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes the file; a file already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key);
        let deleted = match &self.backend {
            Backend::Local { store, .. } => store.delete(&path).await,
            Backend::S3 { store, .. } => store.delete(&path).await,
        };
        match deleted {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Copies the local file `source` into the store as `key`, a part at a time, so its size
    /// is bounded by the store rather than by memory; returns its size in bytes. Nothing is
    /// visible under `key` until the whole file is written. Read it back with
    /// [`FileStorage::read_stream`].
    pub async fn put_file(&self, key: &str, source: &LocalPath) -> Result<u64, StorageError> {
        let upload = self.store().put_multipart(&self.path(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        match self.copy_into(key, source, &mut writer).await {
            Ok(size) => {
                writer.finish().await?;
                Ok(size)
            }
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(key, error = %abort, "abandoning a partial upload");
                }
                Err(error)
            }
        }
    }

    async fn copy_into(
        &self,
        key: &str,
        source: &LocalPath,
        writer: &mut WriteMultipart,
    ) -> Result<u64, StorageError> {
        let mut file = tokio::fs::File::open(source)
            .await
            .map_err(|error| anyhow::anyhow!("{}: {error}", source.display()))?;
        let mut sealer = self.sealing().map(|keys| {
            let (header, sealer) = keys.stream_sealer(key);
            writer.write(&header);
            sealer
        });
        let mut size = 0_u64;
        let mut current = read_up_to(&mut file, STREAM_CHUNK).await?;
        loop {
            size += current.len() as u64;
            // A chunk is the last when no bytes follow it.
            let next = if current.len() < STREAM_CHUNK {
                Vec::new()
            } else {
                read_up_to(&mut file, STREAM_CHUNK).await?
            };
            let last = next.is_empty();
            match (&mut sealer, last) {
                (None, _) => writer.write(&current),
                (Some(sealing), false) => writer.write(&sealing.seal(current)),
                (Some(_), true) => {
                    if let Some(sealing) = sealer.take() {
                        writer.write(&sealing.seal_last(current));
                    }
                }
            }
            writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            if last {
                return Ok(size);
            }
            current = next;
        }
    }

    /// The contents of a file written by [`FileStorage::put_file`], as they arrive from the
    /// store (opened chunk by chunk in the local folder), or `None` when there is no such file.
    /// A file that does not open ends the stream with an error.
    pub async fn read_stream(&self, key: &str) -> Result<Option<ByteStream>, StorageError> {
        let found = match self.store().get(&self.path(key)).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let raw = found.into_stream().map_err(StorageError::from);
        let Some(keys) = self.sealing().cloned() else {
            return Ok(Some(raw.boxed()));
        };
        let opener = keys.stream_opener(key);
        let unreadable = |reason: crate::core::sealing::UnreadableReason, key: &str| {
            anyhow::anyhow!("{key} does not decrypt ({})", reason.as_str())
        };
        // Each step feeds the opener what arrived until a chunk opens; the end of the sealed
        // bytes opens the last chunk. A failure ends the stream.
        let opened = futures_util::stream::unfold(
            (raw, Some(opener)),
            move |(mut raw, opener)| async move {
                let mut opener = opener?;
                loop {
                    let step = match raw.next().await {
                        Some(Ok(bytes)) => match opener.push(&bytes) {
                            Ok(opened) if opened.is_empty() => continue,
                            Ok(opened) => Ok(Bytes::from(opened)),
                            Err(reason) => Err(unreadable(reason, opener.object())),
                        },
                        Some(Err(error)) => Err(error),
                        None => {
                            let key = opener.object().to_owned();
                            let last = opener.finish().map_err(|reason| unreadable(reason, &key));
                            return Some((last.map(Bytes::from), (raw, None)));
                        }
                    };
                    let next = step.is_ok().then_some(opener);
                    return Some((step, (raw, next)));
                }
            },
        );
        Ok(Some(opened.boxed()))
    }

    /// Copies a file written by [`FileStorage::put_file`] to the local file `target`; false
    /// when there is no such file. A partial copy is removed.
    pub async fn get_file(&self, key: &str, target: &LocalPath) -> Result<bool, StorageError> {
        use tokio::io::AsyncWriteExt;
        let Some(mut contents) = self.read_stream(key).await? else {
            return Ok(false);
        };
        let copied = async {
            let mut options = tokio::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            // What comes out of the store is health data: the owner's alone.
            #[cfg(unix)]
            options.mode(0o600);
            let mut file = options.open(target).await?;
            while let Some(bytes) = contents.next().await {
                let bytes: Bytes = bytes?;
                file.write_all(&bytes).await?;
            }
            file.sync_all().await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = copied {
            let _ = tokio::fs::remove_file(target).await;
            return Err(error);
        }
        Ok(true)
    }

    /// The files under `prefix` (a folder, such as `backups`), in no set order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<StoredFile>, StorageError> {
        let found: Vec<_> = self
            .store()
            .list(Some(&self.path(prefix)))
            .try_collect()
            .await?;
        Ok(found
            .into_iter()
            .map(|meta| StoredFile {
                key: self.key_of(&meta.location),
                modified: meta.last_modified,
            })
            .collect())
    }

    /// The key of a path in the store: the path without the bucket's prefix.
    fn key_of(&self, path: &Path) -> String {
        let path = path.as_ref();
        match &self.backend {
            Backend::S3 { prefix, .. } if !prefix.is_empty() => path
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(path)
                .to_owned(),
            _ => path.to_owned(),
        }
    }

    /// Where a client sends the bytes of `key`, of `content_type`.
    pub async fn upload_target(
        &self,
        key: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<UploadTarget, StorageError> {
        let Backend::S3 { store, .. } = &self.backend else {
            return Ok(UploadTarget::ThroughService);
        };
        // object_store leaves Content-Length out of what it signs, so the size is checked when
        // the upload is completed.
        let headers = [
            ("content-type", content_type.to_owned()),
            ("x-amz-server-side-encryption", "AES256".to_owned()),
        ];
        let mut options = SignedUrlOptions::new();
        for (name, value) in &headers {
            options = options.with_signed_header(
                object_store::signer::HeaderName::from_static(name),
                HeaderValue::from_str(value)?,
            );
        }
        let url = store
            .signed_url_opts(Method::PUT, &self.path(key), ttl, &options)
            .await?;
        Ok(UploadTarget::Presigned {
            url: url.to_string(),
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        })
    }
}

/// Up to `limit` bytes of `file`: fewer only at its end.
async fn read_up_to(file: &mut tokio::fs::File, limit: usize) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0; limit];
    let mut filled = 0;
    while filled < limit {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    buffer.truncate(filled);
    Ok(buffer)
}

fn s3(settings: &S3Settings) -> anyhow::Result<AmazonS3> {
    // The bucket's HTTPS client needs the process's TLS provider, which commands that export
    // nothing else (tests, one-off commands) have not chosen yet.
    crate::telemetry::install_crypto_provider();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region)
        .with_config(
            "aws_server_side_encryption".parse::<AmazonS3ConfigKey>()?,
            "AES256",
        );
    if let Some(endpoint) = &settings.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(id) = &settings.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = &settings.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose_secret());
    }
    if let Some(token) = &settings.session_token {
        builder = builder.with_token(token.expose_secret());
    }
    builder
        .build()
        .map_err(|error| anyhow::anyhow!("FILES_URL: {error}"))
}

#[cfg(test)]
impl FileStorage {
    /// A local store in `dir`, sealed with a fixed test key.
    pub(crate) fn local_for_tests(dir: &std::path::Path) -> Self {
        const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let keys = Arc::new(DataKeys::parse(&format!("*k1:{K1}")).expect("keyring"));
        Self::open(&FilesLocation::Local(dir.to_path_buf()), &keys).expect("a local store")
    }
}

#[cfg(test)]
mod tests {
    use super::FileStorage;
    use crate::core::sealing::STREAM_CHUNK;

    /// A file of several chunks goes into the local folder sealed and comes back whole, to a
    /// file only its owner may read.
    #[tokio::test]
    async fn a_streamed_file_round_trips_sealed_through_the_local_folder() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStorage::local_for_tests(&dir.path().join("files"));
        let contents: Vec<u8> = "Ζωή Παπαδοπούλου;"
            .bytes()
            .cycle()
            .take(3 * STREAM_CHUNK + 5)
            .collect();
        let source = dir.path().join("source");
        std::fs::write(&source, &contents).expect("source");

        let size = store.put_file("backups/x.db", &source).await.expect("put");
        assert_eq!(size, contents.len() as u64);
        let stored = std::fs::read(dir.path().join("files/backups/x.db")).expect("stored");
        assert!(stored.starts_with(b"cg1s"));
        assert!(!stored.windows(8).any(|w| w == &contents[..8]));

        let target = dir.path().join("target");
        assert!(store.get_file("backups/x.db", &target).await.expect("get"));
        assert_eq!(std::fs::read(&target).expect("target"), contents);
        let mode = std::fs::metadata(&target)
            .expect("target")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            !store
                .get_file("backups/none.db", &target)
                .await
                .expect("get")
        );
        let listed = store.list("backups").await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, "backups/x.db");
    }
}
