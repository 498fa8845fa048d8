//! Health data encrypted at rest.
//!
//! Clinical free text and the identifying fields nobody searches by substring are stored
//! sealed: encrypted and authenticated with AES-256-GCM under a key of the keyring
//! ([`DataKeys`]), which lives outside the database (`DATA_KEYS`), with a random 96-bit nonce
//! per value. Random nonces bound how many values one key may seal (2^32, NIST SP 800-38D
//! 8.3): a clinic writes far fewer between rotations, and each rotation starts a fresh key. A sealed value names the
//! key that sealed it and is bound to its table, column and row ([`Field`] and the row id as
//! associated data), so a value copied into another row or column does not open. A value that
//! does not open is [`Unreadable`]: the field reports it, never a blank.
//!
//! Phones are found by exact match through a keyed blind index ([`DataKeys::blind_indexes`]).
mod blob;
mod envelope;
mod keyring;
mod reseal;
mod stream;

pub use envelope::{Field, Sealed, Unreadable, UnreadableReason};
pub use keyring::{DataKeys, KeyId};
pub use reseal::{Reseal, ResealBatch, ResealPass};
pub use stream::{CHUNK as STREAM_CHUNK, StreamOpener, StreamSealer};

/// The sealed columns, each with the table it is in; the rotation job walks these.
pub mod fields {
    use super::Field;

    pub const PATIENT_PHONE: Field = Field::new("patients", "phone");
    pub const PATIENT_DATE_OF_BIRTH: Field = Field::new("patients", "date_of_birth");
    pub const PATIENT_INTERNAL_NOTES: Field = Field::new("patients", "internal_notes");
    pub const APPOINTMENT_REASON: Field = Field::new("appointments", "reason");
    pub const APPOINTMENT_NOTES: Field = Field::new("appointments", "notes");
    pub const APPOINTMENT_CANCELLATION_REASON: Field =
        Field::new("appointments", "cancellation_reason");
    pub const PRESCRIPTION_DOSAGE: Field = Field::new("prescriptions", "dosage");
    pub const PRESCRIPTION_FREQUENCY: Field = Field::new("prescriptions", "frequency");
    pub const PRESCRIPTION_ROUTE: Field = Field::new("prescriptions", "route");
    pub const PRESCRIPTION_DISCONTINUED_REASON: Field =
        Field::new("prescriptions", "discontinued_reason");
    /// The name a file was uploaded under ("HIV test 2026-11.pdf" says as much as a note).
    pub const PATIENT_FILE_NAME: Field = Field::new("patient_files", "name");
    /// The answer kept for a replay of an `Idempotency-Key`: it may hold any of the above.
    pub const IDEMPOTENCY_BODY: Field = Field::new("idempotency_keys", "body");
}

/// A fixed keyring for unit tests.
#[cfg(test)]
pub fn test_keys() -> std::sync::Arc<DataKeys> {
    std::sync::Arc::new(
        DataKeys::parse("*test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .expect("test keyring"),
    )
}
