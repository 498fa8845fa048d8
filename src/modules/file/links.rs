//! Short-lived signed links to upload or download one file, for clients that cannot send a
//! bearer token with the request (an `<img src>`, a browser download, a PUT from a worker).
//! A link is a JWT (HS256) in the path, under a key derived from `JWT_SECRET` for this use
//! only, so an access token is never a link and a link never an access token. It names the
//! file, its clinic and patient, the caller it was issued to and what it allows; it expires
//! after `FILES_URL_TTL_SECONDS`.
use std::time::Duration;

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::model::PhotoSize;
use crate::core::auth::{Caller, Role};

const UPLOAD: &str = "clinicgraph-file-upload";
const DOWNLOAD: &str = "clinicgraph-file-download";

pub struct FileLinks {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
    /// `https://api.clinic.example`, or empty for paths.
    base: String,
}

/// What a verified link allows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Link {
    aud: String,
    exp: i64,
    /// The file's id.
    pub file: i64,
    pub clinic: i64,
    pub patient: i64,
    /// Who it was issued to (the audit trail names them on download).
    pub user: i64,
    pub role: Role,
    /// For a PATIENT: their own record, as their token said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<i64>,
    /// For a download: which size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// A link that is forged, altered, expired or meant for the other use.
#[derive(Debug, thiserror::Error)]
#[error("the link is not valid or has expired")]
pub struct InvalidLink;

impl FileLinks {
    pub fn new(secret: &SecretString, ttl: Duration, base: Option<&str>) -> Self {
        // A key of its own: HMAC-SHA256 of a label under the JWT secret.
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"clinicgraph file links v1");
        let key = mac.finalize().into_bytes();
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            ttl,
            base: base.unwrap_or_default().to_owned(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn issue(
        &self,
        audience: &str,
        caller: &Caller,
        file: (i64, i64),
        size: Option<PhotoSize>,
    ) -> anyhow::Result<(String, chrono::DateTime<chrono::Utc>)> {
        let expires_at = chrono::Utc::now() + chrono::Duration::from_std(self.ttl)?;
        let claims = Link {
            aud: audience.to_owned(),
            exp: expires_at.timestamp(),
            file: file.0,
            clinic: caller.clinic_id,
            patient: file.1,
            user: caller.user_id,
            role: caller.role,
            own: caller.patient_id,
            size: size.map(|s| s.as_str().to_owned()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// A link to PUT the bytes of `file` (id, patient id) through this service.
    pub fn upload(
        &self,
        caller: &Caller,
        file: (i64, i64),
    ) -> anyhow::Result<(String, chrono::DateTime<chrono::Utc>)> {
        let (token, expires_at) = self.issue(UPLOAD, caller, file, None)?;
        Ok((format!("{}/files/upload/{token}", self.base), expires_at))
    }

    /// A link to GET `size` of `file` (id, patient id).
    pub fn download(
        &self,
        caller: &Caller,
        file: (i64, i64),
        size: PhotoSize,
    ) -> anyhow::Result<(String, chrono::DateTime<chrono::Utc>)> {
        let (token, expires_at) = self.issue(DOWNLOAD, caller, file, Some(size))?;
        Ok((format!("{}/files/{token}", self.base), expires_at))
    }

    fn verify(&self, audience: &str, token: &str) -> Result<Link, InvalidLink> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        // Links are short: no grace after their end.
        validation.leeway = 0;
        jsonwebtoken::decode::<Link>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| InvalidLink)
    }

    pub fn verify_upload(&self, token: &str) -> Result<Link, InvalidLink> {
        self.verify(UPLOAD, token)
    }

    pub fn verify_download(&self, token: &str) -> Result<Link, InvalidLink> {
        self.verify(DOWNLOAD, token)
    }
}

impl Link {
    /// The caller the link was issued to.
    pub fn caller(&self) -> Caller {
        Caller {
            user_id: self.user,
            clinic_id: self.clinic,
            role: self.role,
            patient_id: self.own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(ttl: u64) -> FileLinks {
        FileLinks::new(
            &SecretString::from("a-test-secret-of-enough-length-0123456789"),
            Duration::from_secs(ttl),
            Some("https://api.example"),
        )
    }

    fn caller() -> Caller {
        Caller {
            user_id: 3,
            clinic_id: 1,
            role: Role::Nurse,
            patient_id: None,
        }
    }

    #[test]
    fn a_link_allows_only_its_own_use() {
        let links = links(60);
        let (url, _) = links
            .download(&caller(), (9, 4), PhotoSize::Thumb)
            .expect("link");
        let token = url
            .strip_prefix("https://api.example/files/")
            .expect("under /files");
        let link = links.verify_download(token).expect("valid");
        assert_eq!((link.file, link.patient, link.clinic), (9, 4, 1));
        assert_eq!(link.size.as_deref(), Some("thumb"));
        assert!(
            links.verify_upload(token).is_err(),
            "a download is no upload"
        );
        let mut altered = token.to_owned();
        altered.insert(token.len() - 3, 'x');
        assert!(links.verify_download(&altered).is_err());
        let other = FileLinks::new(
            &SecretString::from("another-secret-of-enough-length-0123456789"),
            Duration::from_secs(60),
            None,
        );
        assert!(other.verify_download(token).is_err());
    }
}
