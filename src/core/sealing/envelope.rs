//! The stored form of a sealed value: `cg1.<key id>.<nonce, ciphertext and tag in base64url>`.
//! Text rather than bytes so that one column type serves every backend and a sealed value
//! reads as one in any dump; `cg1` is the format's version.
use std::fmt;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{DataKeys, KeyId};

const PREFIX: &str = "cg1.";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A sealed column: its table and column, bound to every value in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field {
    pub table: &'static str,
    pub column: &'static str,
}

impl Field {
    pub const fn new(table: &'static str, column: &'static str) -> Self {
        Self { table, column }
    }

    /// The associated data of a value of the row whose key is `row`: what it is bound to.
    /// Table and column names are identifiers, so the separators cannot occur in them.
    fn aad(self, row: impl fmt::Display) -> String {
        format!("{}.{}#{row}", self.table, self.column)
    }
}

/// A value as stored in a sealed column. Cached and published as is: only a holder of the
/// keys reads it.
#[derive(
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    diesel::deserialize::FromSqlRow,
    diesel::expression::AsExpression,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(transparent)]
pub struct Sealed(pub String);

/// Shows the key id only.
impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({:?})", self.key_id().unwrap_or("?"))
    }
}

impl Sealed {
    /// The id of the key the value names, if it is a sealed value at all.
    pub fn key_id(&self) -> Option<&KeyId> {
        key_id_of(&self.0)
    }
}

/// The id of the key `text` names, if it is a sealed value at all.
pub(super) fn key_id_of(text: &str) -> Option<&KeyId> {
    let rest = text.strip_prefix(PREFIX)?;
    rest.split_once('.').map(|(id, _)| id)
}

/// Why a sealed value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreadableReason {
    /// Not in the sealed format at all (written around the service, or truncated).
    Malformed,
    /// Names a key this process does not hold.
    UnknownKey,
    /// Fails authentication: changed, or copied from another row or column.
    Tampered,
    /// Opens, but is not what the field holds (text or a date).
    NotAValue,
}

impl UnreadableReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnreadableReason::Malformed => "malformed",
            UnreadableReason::UnknownKey => "unknown_key",
            UnreadableReason::Tampered => "tampered",
            UnreadableReason::NotAValue => "not_a_value",
        }
    }
}

/// A sealed value that did not open: which one and why, never its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}.{} of row {row} could not be decrypted ({})", field.table, field.column, reason.as_str())]
pub struct Unreadable {
    pub field: Field,
    pub row: i64,
    pub reason: UnreadableReason,
}

impl DataKeys {
    /// `plaintext` sealed under the current key for `field` of row `row`, with a fresh
    /// random nonce.
    pub fn seal(&self, field: Field, row: i64, plaintext: &str) -> Sealed {
        self.seal_bound(field, row, plaintext)
    }

    /// [`DataKeys::seal`] for a row whose key is not one id: `row` spells it out.
    pub fn seal_keyed(&self, field: Field, row: &str, plaintext: &str) -> Sealed {
        self.seal_bound(field, row, plaintext)
    }

    fn seal_bound(&self, field: Field, row: impl fmt::Display, plaintext: &str) -> Sealed {
        let (id, cipher) = self.current_cipher();
        let mut nonce = [0_u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let aad = field.aad(row);
        // Nonce, ciphertext and tag, in one buffer encrypted in place.
        let mut body = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        body.extend_from_slice(&nonce);
        body.extend_from_slice(plaintext.as_bytes());
        // Encryption fails only for messages beyond 64 GiB.
        let tag = cipher
            .encrypt_in_place_detached(&Nonce::from(nonce), aad.as_bytes(), &mut body[NONCE_LEN..])
            .expect("a value within the cipher's limits");
        body.extend_from_slice(&tag);
        let mut text = String::with_capacity(PREFIX.len() + id.len() + 1 + body.len() * 4 / 3 + 4);
        text.push_str(PREFIX);
        text.push_str(id);
        text.push('.');
        URL_SAFE_NO_PAD.encode_string(&body, &mut text);
        Sealed(text)
    }

    /// The plaintext of `sealed`, if it opens as `field` of row `row`. A failure is logged
    /// here, with the record and the reason and never the value, so every one is seen.
    pub fn open(&self, field: Field, row: i64, sealed: &Sealed) -> Result<String, Unreadable> {
        self.open_bound(field, row, sealed)
            .map_err(|reason| Unreadable { field, row, reason })
    }

    /// [`DataKeys::open`] for a value sealed with [`DataKeys::seal_keyed`].
    pub fn open_keyed(
        &self,
        field: Field,
        row: &str,
        sealed: &Sealed,
    ) -> Result<String, UnreadableReason> {
        self.open_bound(field, row, sealed)
    }

    fn open_bound(
        &self,
        field: Field,
        row: impl fmt::Display,
        sealed: &Sealed,
    ) -> Result<String, UnreadableReason> {
        self.try_open(field, &row, sealed).inspect_err(|reason| {
            tracing::error!(
                table = field.table,
                column = field.column,
                row = %row,
                reason = reason.as_str(),
                key = sealed.key_id().unwrap_or("?"),
                "a sealed value could not be decrypted"
            );
        })
    }

    /// [`DataKeys::open`] for a nullable column.
    pub fn open_optional(
        &self,
        field: Field,
        row: i64,
        sealed: Option<&Sealed>,
    ) -> Result<Option<String>, Unreadable> {
        sealed.map(|s| self.open(field, row, s)).transpose()
    }

    /// [`DataKeys::seal`] for a nullable column.
    pub fn seal_optional(&self, field: Field, row: i64, plaintext: Option<&str>) -> Option<Sealed> {
        plaintext.map(|p| self.seal(field, row, p))
    }

    /// Whether `sealed` is under the current key (a rotation leaves it as it is).
    pub fn is_current(&self, sealed: &Sealed) -> bool {
        sealed.key_id() == Some(self.current_id())
    }

    fn try_open(
        &self,
        field: Field,
        row: impl fmt::Display,
        sealed: &Sealed,
    ) -> Result<String, UnreadableReason> {
        let rest = sealed
            .0
            .strip_prefix(PREFIX)
            .ok_or(UnreadableReason::Malformed)?;
        let (id, body) = rest.split_once('.').ok_or(UnreadableReason::Malformed)?;
        let cipher: &Aes256Gcm = self.cipher(id).ok_or(UnreadableReason::UnknownKey)?;
        let mut body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| UnreadableReason::Malformed)?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(UnreadableReason::Malformed);
        }
        let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN]
            .try_into()
            .map_err(|_| UnreadableReason::Malformed)?;
        let tag_at = body.len() - TAG_LEN;
        let tag: [u8; TAG_LEN] = body[tag_at..]
            .try_into()
            .map_err(|_| UnreadableReason::Malformed)?;
        let aad = field.aad(row);
        cipher
            .decrypt_in_place_detached(
                &Nonce::from(nonce),
                aad.as_bytes(),
                &mut body[NONCE_LEN..tag_at],
                &tag.into(),
            )
            .map_err(|_| UnreadableReason::Tampered)?;
        // The plaintext, in place: no copy.
        body.truncate(tag_at);
        body.drain(..NONCE_LEN);
        let plain = body;
        String::from_utf8(plain).map_err(|_| UnreadableReason::NotAValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sealing::fields::{PATIENT_INTERNAL_NOTES, PATIENT_PHONE};

    fn keys(text: &str) -> DataKeys {
        DataKeys::parse(text).expect("keyring")
    }

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn round_trips_with_a_fresh_nonce_each_time() {
        let ring = keys(&format!("*k1:{K1}"));
        let text = "Ελένη: allergic to penicillin — 青霉素";
        let a = ring.seal(PATIENT_INTERNAL_NOTES, 7, text);
        let b = ring.seal(PATIENT_INTERNAL_NOTES, 7, text);
        assert_ne!(a, b);
        assert!(a.0.starts_with("cg1.k1."), "{}", a.0);
        assert!(!a.0.contains("penicillin"));
        assert_eq!(
            ring.open(PATIENT_INTERNAL_NOTES, 7, &a).as_deref(),
            Ok(text)
        );
        assert_eq!(
            ring.open(PATIENT_INTERNAL_NOTES, 7, &b).as_deref(),
            Ok(text)
        );
        assert_eq!(ring.seal(PATIENT_PHONE, 1, "").key_id(), Some("k1"));
        assert_eq!(
            ring.open(PATIENT_PHONE, 1, &ring.seal(PATIENT_PHONE, 1, ""))
                .as_deref(),
            Ok("")
        );
    }

    #[test]
    fn another_row_or_column_does_not_open() {
        let ring = keys(&format!("*k1:{K1}"));
        let sealed = ring.seal(PATIENT_PHONE, 7, "+30 210 555 0100");
        let reason = |r: Result<String, Unreadable>| r.map_err(|e| e.reason);
        assert_eq!(
            reason(ring.open(PATIENT_PHONE, 8, &sealed)),
            Err(UnreadableReason::Tampered)
        );
        assert_eq!(
            reason(ring.open(PATIENT_INTERNAL_NOTES, 7, &sealed)),
            Err(UnreadableReason::Tampered)
        );
    }

    #[test]
    fn tampering_and_unknown_keys_are_told_apart() {
        let ring = keys(&format!("*k1:{K1}"));
        let sealed = ring.seal(PATIENT_PHONE, 7, "5550100");
        let reason = |s: &str| {
            ring.open(PATIENT_PHONE, 7, &Sealed(s.to_owned()))
                .map_err(|e| e.reason)
        };
        let mut flipped = sealed.0.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(reason(&flipped), Err(UnreadableReason::Tampered));
        assert_eq!(reason("5550100"), Err(UnreadableReason::Malformed));
        assert_eq!(reason("cg1.k1.c2hvcnQ"), Err(UnreadableReason::Malformed));
        assert_eq!(reason("cg1.k1.!!!"), Err(UnreadableReason::Malformed));
        let other = keys(&format!("*k2:{K2}"));
        assert_eq!(
            other.open(PATIENT_PHONE, 7, &sealed).map_err(|e| e.reason),
            Err(UnreadableReason::UnknownKey)
        );
        // The same id with other material is tampering as far as anyone can tell.
        let impostor = keys(&format!("*k1:{K2}"));
        assert_eq!(
            impostor
                .open(PATIENT_PHONE, 7, &sealed)
                .map_err(|e| e.reason),
            Err(UnreadableReason::Tampered)
        );
    }

    #[test]
    fn old_keys_open_after_rotation() {
        let old = keys(&format!("*k1:{K1}"));
        let sealed = old.seal(PATIENT_PHONE, 7, "5550100");
        let rotated = keys(&format!("k1:{K1}, *k2:{K2}"));
        assert!(!rotated.is_current(&sealed));
        assert_eq!(
            rotated.open(PATIENT_PHONE, 7, &sealed).as_deref(),
            Ok("5550100")
        );
        let resealed = rotated.seal(PATIENT_PHONE, 7, "5550100");
        assert!(rotated.is_current(&resealed));
        assert_eq!(format!("{resealed:?}"), "Sealed(\"k2\")");
    }
}
