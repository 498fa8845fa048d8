//! Keys, the fingerprints of the requests sent under them, and what a claim of a key finds.
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// How long a key holds its first answer.
pub const KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 255;

    /// The key in a header's bytes; `None` if they are not 1 to 255 visible ASCII characters.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let visible = |b: &u8| b.is_ascii_graphic();
        if value.is_empty() || value.len() > Self::MAX_CHARS || !value.iter().all(visible) {
            return None;
        }
        std::str::from_utf8(value)
            .ok()
            .map(|key| Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies a request under a key: a SHA-256 of each operation's query, variables and
/// operation name. Variables are compared as JSON values: the order of an object's keys does
/// not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Of the operations `(query, variables, operation name)` of one POST, in order.
    pub fn of<'a>(
        operations: impl IntoIterator<Item = (&'a str, &'a Value, Option<&'a str>)>,
    ) -> Self {
        let mut hash = Sha256::new();
        for (query, variables, operation_name) in operations {
            // Each part with its length first, so no two requests hash the same text.
            for part in [
                query.to_owned(),
                canonical(variables),
                operation_name.unwrap_or_default().to_owned(),
            ] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part.as_bytes());
            }
        }
        let mut hex = String::with_capacity(64);
        for byte in hash.finalize() {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `value` as JSON text with every object's keys sorted.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.clone(), sorted(value)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// An answer as it was sent: replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its last use expired): the request runs, and its answer is stored.
    Run,
    /// The same request ran under this key: its answer.
    Replay(StoredAnswer),
    /// The same request is still running under this key.
    InFlight,
    /// A different request ran, or runs, under this key.
    Reused,
    /// The same request ran under this key, and its kept answer (stored encrypted) does not
    /// decrypt: logged, and never replayed.
    Unreadable,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        for key in [
            "a",
            "3f9c2a8e-1b7d-4c55-9f0e-2d1c6b7a8e90",
            "key:1/2=3",
            &"x".repeat(255),
        ] {
            assert!(IdempotencyKey::parse(key.as_bytes()).is_some(), "{key}");
        }
        for key in [
            "",
            "with space",
            "tab\there",
            "zoë",
            &"x".repeat(256),
            "line\n",
        ] {
            assert!(IdempotencyKey::parse(key.as_bytes()).is_none(), "{key:?}");
        }
        assert!(IdempotencyKey::parse(&[0xff, 0x41]).is_none());
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_whatever_its_key_order() {
        let query = "mutation($input: CreatePatientInput!) { createPatient(input: $input) { id } }";
        let a = json!({ "input": { "name": "Zoë", "phone": "555" } });
        let b = json!({ "input": { "phone": "555", "name": "Zoë" } });
        assert_eq!(
            Fingerprint::of([(query, &a, None)]),
            Fingerprint::of([(query, &b, None)])
        );
        let other = json!({ "input": { "name": "Zoe", "phone": "555" } });
        assert_ne!(
            Fingerprint::of([(query, &a, None)]),
            Fingerprint::of([(query, &other, None)])
        );
        assert_ne!(
            Fingerprint::of([(query, &a, None)]),
            Fingerprint::of([(query, &a, Some("Create"))])
        );
        assert_eq!(Fingerprint::of([(query, &a, None)]).as_str().len(), 64);
    }
}
