//! Patients' files as stored: what kind, where processing stands, what the contents turned out
//! to be.
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit_trail::{AuditEntity, Audited, Subject};
use crate::core::sealing::Sealed;
use crate::db::schema::patient_files;

/// What a file is for.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The patient's photo, to recognise them at the desk: JPEG, PNG or WebP, stored
    /// re-encoded as JPEG (upright, without EXIF or location data), with thumbnails.
    Photo,
    /// A scanned letter, consent form or lab result: a PDF, or an image (JPEG, PNG, WebP),
    /// stored as uploaded.
    Document,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Photo => "PHOTO",
            FileKind::Document => "DOCUMENT",
        }
    }

    pub fn parse(stored: &str) -> Option<FileKind> {
        [FileKind::Photo, FileKind::Document]
            .into_iter()
            .find(|kind| kind.as_str() == stored)
    }
}

/// Where a file stands.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Asked for with `requestUpload`; its bytes have not been confirmed with `completeUpload`.
    AwaitingUpload,
    /// Uploaded; being checked and processed.
    Pending,
    /// Checked and processed: it can be downloaded.
    Ready,
    /// Not accepted; `reason` says why. Nothing of it is kept but this record.
    Rejected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::AwaitingUpload => "AWAITING_UPLOAD",
            FileStatus::Pending => "PENDING",
            FileStatus::Ready => "READY",
            FileStatus::Rejected => "REJECTED",
        }
    }

    pub fn parse(stored: &str) -> Option<FileStatus> {
        [
            FileStatus::AwaitingUpload,
            FileStatus::Pending,
            FileStatus::Ready,
            FileStatus::Rejected,
        ]
        .into_iter()
        .find(|status| status.as_str() == stored)
    }
}

/// The sizes a photo is kept in.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoSize {
    /// At most 128 px on its longer side.
    Thumb,
    /// At most 512 px on its longer side.
    Medium,
    /// As uploaded (upright, re-encoded).
    Original,
}

impl PhotoSize {
    /// The longest side of the size, `None` for the original.
    pub fn pixels(self) -> Option<u32> {
        match self {
            PhotoSize::Thumb => Some(128),
            PhotoSize::Medium => Some(512),
            PhotoSize::Original => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PhotoSize::Thumb => "thumb",
            PhotoSize::Medium => "medium",
            PhotoSize::Original => "original",
        }
    }

    pub fn parse(text: &str) -> Option<PhotoSize> {
        [PhotoSize::Thumb, PhotoSize::Medium, PhotoSize::Original]
            .into_iter()
            .find(|size| size.as_str() == text)
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = patient_files)]
pub struct PatientFile {
    pub id: i64,
    pub clinic_id: i64,
    pub patient_id: i64,
    pub kind: String,
    pub status: String,
    pub name: Sealed,
    /// As declared until processed; then what the contents are.
    pub content_type: String,
    pub byte_size: i64,
    /// An image's pixels; a PDF's first page in points.
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub pages: Option<i32>,
    pub object_key: String,
    pub reason: Option<String>,
    pub uploaded_by: i64,
    pub created_at: NaiveDateTime,
    pub purged_at: Option<NaiveDateTime>,
}

impl PatientFile {
    pub fn kind(&self) -> Option<FileKind> {
        FileKind::parse(&self.kind)
    }

    pub fn status(&self) -> Option<FileStatus> {
        FileStatus::parse(&self.status)
    }

    /// Where the bytes the client sent wait for processing.
    pub fn upload_key(&self) -> String {
        format!("{}/upload", self.object_key)
    }

    /// Where a size of the processed file is kept.
    pub fn stored_key(&self, size: PhotoSize) -> String {
        format!("{}/{}", self.object_key, size.as_str())
    }
}

impl Audited for PatientFile {
    fn audit_subject(&self) -> Subject {
        Subject {
            entity: AuditEntity::PatientFile,
            id: self.id,
            patient_id: Some(self.patient_id),
        }
    }
}

/// A new file's row; its name is sealed once the row has its id.
#[derive(Insertable)]
#[diesel(table_name = patient_files)]
pub struct NewPatientFile {
    pub clinic_id: i64,
    pub patient_id: i64,
    pub kind: &'static str,
    pub status: &'static str,
    pub name: String,
    pub content_type: String,
    pub byte_size: i64,
    pub object_key: String,
    pub uploaded_by: i64,
    pub created_at: NaiveDateTime,
}

/// What processing found in an accepted file.
#[derive(Debug, Clone, PartialEq, AsChangeset)]
#[diesel(table_name = patient_files, treat_none_as_null = true)]
pub struct FileFacts {
    pub content_type: String,
    pub byte_size: i64,
    /// An image's pixels; a PDF's first page in points, rounded.
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub pages: Option<i32>,
}

/// The refusal codes of files, as `extensions.code` and as a rejected file's `reasonCode`.
pub mod codes {
    /// Larger than the kind's limit, or than announced.
    pub const FILE_TOO_LARGE: &str = "FILE_TOO_LARGE";
    /// Not one of the kind's formats, whatever its declared type says.
    pub const UNSUPPORTED_FILE_TYPE: &str = "UNSUPPORTED_FILE_TYPE";
    /// The contents do not decode: truncated, corrupt, or beyond the decoder's limits.
    pub const INVALID_FILE: &str = "INVALID_FILE";
    /// The clinic's files would exceed its storage quota.
    pub const STORAGE_QUOTA_EXCEEDED: &str = "STORAGE_QUOTA_EXCEEDED";
    /// `completeUpload` before the bytes arrived, or for a file no longer awaiting them.
    pub const UPLOAD_NOT_RECEIVED: &str = "UPLOAD_NOT_RECEIVED";
}
