//! Patients' photos and documents: where they are kept, how large they may be, how long a link
//! to one lasts.
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{DatabaseUrl, Reader};

#[derive(Debug, Clone)]
pub struct FilesConfig {
    pub location: FilesLocation,
    /// The largest photo and document accepted, in bytes.
    pub photo_max_bytes: u64,
    pub document_max_bytes: u64,
    /// What one clinic's files may take in all, in bytes.
    pub clinic_quota_bytes: u64,
    /// How long an upload or download link works.
    pub url_ttl: Duration,
    /// Where clients reach this service (`https://api.clinic.example`), for the links it hands
    /// out; unset, links are paths (`/files/…`) on the address the client called.
    pub public_url: Option<String>,
    /// A GraphQL multipart request's files: at most this many, of at most this many bytes each.
    pub multipart_max_files: usize,
    pub multipart_max_bytes: u64,
}

#[derive(Debug, Clone)]
pub enum FilesLocation {
    /// A local folder (`FILES_DIR`); contents are encrypted with the data keys.
    Local(PathBuf),
    /// An S3 bucket (`FILES_URL=s3://bucket/prefix`), with the usual AWS variables.
    S3(S3Settings),
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// Every key starts with it (no leading or trailing `/`); may be empty.
    pub prefix: String,
    pub region: String,
    /// An S3-compatible server's address (`AWS_ENDPOINT_URL`); unset, AWS's own.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
}

const MIB: u64 = 1024 * 1024;

pub(super) fn read(r: &mut Reader<'_>, database: &DatabaseUrl) -> FilesConfig {
    let location = match (r.raw("FILES_URL"), r.raw("FILES_DIR")) {
        (Some(_), Some(_)) => {
            r.problems
                .push("FILES_URL and FILES_DIR: set one, not both".into());
            FilesLocation::Local(PathBuf::new())
        }
        (Some(url), None) => match parse_s3_url(&url) {
            Some((bucket, prefix)) => FilesLocation::S3(S3Settings {
                bucket,
                prefix,
                region: r.raw("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
                endpoint: r.raw("AWS_ENDPOINT_URL"),
                access_key_id: r.raw("AWS_ACCESS_KEY_ID"),
                secret_access_key: r.raw("AWS_SECRET_ACCESS_KEY").map(SecretString::from),
                session_token: r.raw("AWS_SESSION_TOKEN").map(SecretString::from),
            }),
            None => {
                r.problems
                    .push("FILES_URL: must look like s3://bucket or s3://bucket/prefix".into());
                FilesLocation::Local(PathBuf::new())
            }
        },
        (None, dir) => FilesLocation::Local(
            dir.map_or_else(|| database.data_dir().join("files"), PathBuf::from),
        ),
    };
    let photo_max_bytes = r.parsed("FILES_PHOTO_MAX_BYTES", 10 * MIB);
    let document_max_bytes = r.parsed("FILES_DOCUMENT_MAX_BYTES", 25 * MIB);
    let clinic_quota_bytes = r.parsed("FILES_CLINIC_QUOTA_BYTES", 20 * 1024 * MIB);
    let url_ttl_seconds = r.parsed("FILES_URL_TTL_SECONDS", 300_u64);
    if !(10..=3600).contains(&url_ttl_seconds) {
        r.problems
            .push("FILES_URL_TTL_SECONDS: must be between 10 and 3600".into());
    }
    for (name, value) in [
        ("FILES_PHOTO_MAX_BYTES", photo_max_bytes),
        ("FILES_DOCUMENT_MAX_BYTES", document_max_bytes),
    ] {
        // The processing job holds a file in memory.
        if !(1..=512 * MIB).contains(&value) {
            r.problems
                .push(format!("{name}: must be between 1 and {}", 512 * MIB));
        }
    }
    let public_url = r
        .raw("PUBLIC_URL")
        .map(|url| url.trim_end_matches('/').to_owned());
    if let Some(url) = &public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        r.problems
            .push("PUBLIC_URL: must start with https:// or http://".into());
    }
    let multipart_max_files = r.parsed("FILES_MULTIPART_MAX_FILES", 1_usize);
    let multipart_max_bytes = r.parsed("FILES_MULTIPART_MAX_BYTES", 5 * MIB);
    if !(1..=10).contains(&multipart_max_files) {
        r.problems
            .push("FILES_MULTIPART_MAX_FILES: must be between 1 and 10".into());
    }
    if !(1..=64 * MIB).contains(&multipart_max_bytes) {
        r.problems.push(format!(
            "FILES_MULTIPART_MAX_BYTES: must be between 1 and {}",
            64 * MIB
        ));
    }
    FilesConfig {
        multipart_max_files,
        multipart_max_bytes,
        location,
        photo_max_bytes,
        document_max_bytes,
        clinic_quota_bytes,
        url_ttl: Duration::from_secs(url_ttl_seconds),
        public_url,
    }
}

/// `s3://bucket/some/prefix/` → (`bucket`, `some/prefix`).
fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    valid_bucket.then(|| (bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::parse_s3_url;

    #[test]
    fn an_s3_url_names_a_bucket_and_a_prefix() {
        assert_eq!(
            parse_s3_url("s3://clinic-files/prod/eu/"),
            Some(("clinic-files".into(), "prod/eu".into()))
        );
        assert_eq!(
            parse_s3_url("s3://clinic-files"),
            Some(("clinic-files".into(), String::new()))
        );
        assert_eq!(parse_s3_url("s3://Bad_Bucket/x"), None);
        assert_eq!(parse_s3_url("https://clinic-files"), None);
    }
}
