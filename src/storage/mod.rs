//! Where files live: patients' photos and documents, exports and reports. One interface, the
//! `object_store` crate's, over a local folder (the default, beside the SQLite database) or an
//! S3 bucket (`FILES_URL`). Instances on different hosts share the bucket; a local folder is
//! for one host.
//!
//! At rest: in the local folder every file is sealed with the data keys (`core::sealing`),
//! bound to its key in the store; on S3 every write asks for server-side encryption (SSE-S3),
//! and so does every upload link handed out (its signature covers the header).
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::{HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::ExposeSecret;

use crate::config::{FilesLocation, S3Settings};
use crate::core::sealing::DataKeys;

/// A store's failure; callers log it and answer with a generic error.
pub type StorageError = anyhow::Error;

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
