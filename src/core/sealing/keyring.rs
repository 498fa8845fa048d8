//! The keyring: data keys by id, one of them current. New values are sealed under the current
//! key; every key of the ring opens what it sealed, so a new key can be made current while
//! values sealed under the old one are still being rewritten (`rotateDataKeys`).
use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::Field;

/// A key's name as it appears in sealed values and in `DATA_KEYS`: 1 to 32 of `A-Z a-z 0-9 _ -`.
pub type KeyId = str;

const MAX_ID_LEN: usize = 32;

struct DataKey {
    id: String,
    cipher: Aes256Gcm,
    /// Input of the per-column blind-index keys; never used to encrypt.
    index_root: Zeroizing<[u8; 32]>,
}

/// Every data key this process holds, and which one seals new values.
pub struct DataKeys {
    keys: Vec<DataKey>,
    current: usize,
}

/// Names the keys, never their material.
impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeys")
            .field("current", &self.current_id())
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

impl DataKeys {
    /// Reads a keyring written as `id:key` entries, the key 32 bytes in standard base64,
    /// separated by commas or white space, the current one marked by a leading `*`:
    /// `*2026-12:…=, 2026-01:…=`. The error names the entry, never the key.
    pub fn parse(text: &str) -> Result<DataKeys, String> {
        let mut keys = Vec::new();
        let mut current = None;
        for (position, entry) in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .enumerate()
        {
            let (marked, entry) = match entry.strip_prefix('*') {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            let Some((id, material)) = entry.split_once(':') else {
                return Err(format!("entry {} is not `id:key`", position + 1));
            };
            if id.is_empty()
                || id.len() > MAX_ID_LEN
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "entry {}: a key id is 1 to {MAX_ID_LEN} of A-Z, a-z, 0-9, _ and -",
                    position + 1
                ));
            }
            let decoded = Zeroizing::new(
                STANDARD
                    .decode(material)
                    .or_else(|_| STANDARD_NO_PAD.decode(material))
                    .map_err(|_| format!("key {id:?} is not base64"))?,
            );
            let material: &[u8; 32] = decoded
                .as_slice()
                .try_into()
                .map_err(|_| format!("key {id:?} must be 32 bytes (256 bits)"))?;
            if keys.iter().any(|k: &DataKey| k.id == id) {
                return Err(format!("key {id:?} is listed twice"));
            }
            if marked {
                if current.is_some() {
                    return Err("more than one key is marked current (`*`)".into());
                }
                current = Some(keys.len());
            }
            keys.push(DataKey::new(id, material));
        }
        if keys.is_empty() {
            return Err("no keys".into());
        }
        let current = match current {
            Some(current) => current,
            None if keys.len() == 1 => 0,
            None => return Err("mark the current key with a leading `*`".into()),
        };
        Ok(DataKeys { keys, current })
    }

    /// A new keyring of one random key named `id`, written as [`DataKeys::parse`] reads it.
    pub fn generate_text(id: &str) -> Zeroizing<String> {
        let mut material = Zeroizing::new([0_u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, material.as_mut());
        Zeroizing::new(format!("*{id}:{}\n", STANDARD.encode(material.as_ref())))
    }

    pub fn current_id(&self) -> &KeyId {
        &self.keys[self.current].id
    }

    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    pub(super) fn current_cipher(&self) -> (&KeyId, &Aes256Gcm) {
        let key = &self.keys[self.current];
        (&key.id, &key.cipher)
    }

    pub(super) fn cipher(&self, id: &KeyId) -> Option<&Aes256Gcm> {
        self.keys.iter().find(|k| k.id == id).map(|k| &k.cipher)
    }

    /// The blind index of `value` in `field` under the current key: what is stored beside the
    /// sealed value and compared on search. Keyed per column (a key derived for this column
    /// only) and per clinic, so equal values in two columns or two clinics do not match.
    pub fn blind_index(&self, field: Field, clinic_id: i64, value: &str) -> String {
        blind_index(&self.keys[self.current], field, clinic_id, value)
    }

    /// The blind index of `value` under every key of the ring: a search matches a row written
    /// under any of them, so a rotation in progress loses no match.
    pub fn blind_indexes(&self, field: Field, clinic_id: i64, value: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| blind_index(key, field, clinic_id, value))
            .collect()
    }
}

impl DataKey {
    fn new(id: &str, material: &[u8; 32]) -> Self {
        // Separate keys for sealing and indexing, both derived from the configured one, so
        // neither use weakens the other.
        let hkdf = Hkdf::<Sha256>::new(Some(b"clinicgraph data key"), material);
        let mut sealing = Zeroizing::new([0_u8; 32]);
        let mut index_root = Zeroizing::new([0_u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 8160: these cannot fail.
        let _ = hkdf.expand(b"seal v1", sealing.as_mut());
        let _ = hkdf.expand(b"blind index v1", index_root.as_mut());
        DataKey {
            id: id.to_owned(),
            cipher: Aes256Gcm::new(sealing.as_ref().into()),
            index_root,
        }
    }
}

fn blind_index(key: &DataKey, field: Field, clinic_id: i64, value: &str) -> String {
    let hkdf = Hkdf::<Sha256>::from_prk(key.index_root.as_ref()).expect("a 32-byte PRK");
    let mut column_key = Zeroizing::new([0_u8; 32]);
    let _ = hkdf.expand_multi_info(
        &[field.table.as_bytes(), b".", field.column.as_bytes()],
        column_key.as_mut(),
    );
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(column_key.as_ref()).expect("any key length");
    mac.update(&clinic_id.to_be_bytes());
    mac.update(value.as_bytes());
    // 128 bits: collisions are out of reach, and the index stays short.
    let digest = mac.finalize().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn the_marked_key_is_current() {
        let keys = DataKeys::parse(&format!("k1:{K1}, *k2:{K2}")).expect("parsed");
        assert_eq!(keys.current_id(), "k2");
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["k1", "k2"]);
        let single = DataKeys::parse(&format!("only:{K1}\n")).expect("parsed");
        assert_eq!(single.current_id(), "only");
    }

    #[test]
    fn bad_keyrings_are_refused_without_echoing_keys() {
        for (text, expected) in [
            ("", "no keys"),
            (&format!("k1:{K1},k2:{K2}") as &str, "mark the current key"),
            (&format!("*k1:{K1},*k2:{K2}"), "more than one"),
            (&format!("k1:{K1},*k1:{K2}"), "listed twice"),
            ("*k1:c2hvcnQ=", "32 bytes"),
            ("*k1", "not `id:key`"),
            ("*k1:not-base64!", "not base64"),
            (&format!("*bad.id!:{K1}"), "a key id"),
        ] {
            let error = DataKeys::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains(K1) && !error.contains(K2), "{error}");
        }
    }

    #[test]
    fn debug_names_ids_only() {
        let keys = DataKeys::parse(&format!("*k1:{K1}")).expect("parsed");
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1") && !shown.contains(K1), "{shown}");
    }

    #[test]
    fn generated_keyrings_parse() {
        let text = DataKeys::generate_text("dev");
        assert_eq!(DataKeys::parse(&text).expect("parsed").current_id(), "dev");
        assert_ne!(*text, *DataKeys::generate_text("dev"));
    }

    #[test]
    fn blind_indexes_differ_by_column_clinic_and_key() {
        let phone = crate::core::sealing::fields::PATIENT_PHONE;
        let notes = crate::core::sealing::fields::PATIENT_INTERNAL_NOTES;
        let keys = DataKeys::parse(&format!("k1:{K1}, *k2:{K2}")).expect("parsed");
        let index = keys.blind_index(phone, 1, "5550100");
        assert_eq!(index, keys.blind_index(phone, 1, "5550100"));
        assert_ne!(index, keys.blind_index(phone, 2, "5550100"));
        assert_ne!(index, keys.blind_index(notes, 1, "5550100"));
        let all = keys.blind_indexes(phone, 1, "5550100");
        assert_eq!(all.len(), 2);
        assert!(all.contains(&index));
        assert_ne!(all[0], all[1]);
    }
}
