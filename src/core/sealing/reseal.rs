//! Rewriting stored values under the current key: the rotation job (`rotateDataKeys`) and, on
//! upgrade, the sealing of values stored before encryption at rest (`migrate`). Values already
//! under the current key are left as they are, so a pass can be interrupted and run again.
use super::envelope::key_id_of;
use super::{DataKeys, Field, Sealed};

/// Where a stored value stands against the current key.
pub enum Reseal {
    /// Under the current key already.
    Current,
    /// To be replaced by `sealed`, which holds `plaintext` under the current key.
    New { sealed: Sealed, plaintext: String },
    /// Does not open (logged as it failed): left as it is, and counted.
    Unreadable,
}

/// The rows of one batch of a pass.
#[derive(Debug, Clone, Copy)]
pub struct ResealPass {
    /// Rows with ids above this one…
    pub after: i64,
    /// …at most this many…
    pub limit: i64,
    /// …of this clinic only, if set.
    pub clinic_id: Option<i64>,
    /// Whether a value not in the sealed format is plaintext from before encryption at rest
    /// (the upgrade's pass only); otherwise it is unreadable.
    pub plain_allowed: bool,
}

/// What one batch of a pass did.
#[derive(Debug, Default)]
pub struct ResealBatch {
    /// The last row the batch read; `None` past the table's end.
    pub last: Option<i64>,
    pub resealed: u64,
    pub unreadable: u64,
    /// The rows resealed: id, clinic and plaintext (for a blind index to recompute).
    pub rewritten: Vec<(i64, i64, String)>,
}

impl ResealBatch {
    /// Adds the counts of `other`, a batch over another column of the same rows.
    pub fn add(&mut self, other: ResealBatch) {
        self.last = self.last.max(other.last);
        self.resealed += other.resealed;
        self.unreadable += other.unreadable;
    }
}

impl DataKeys {
    /// What to do with `stored`, the content of `field` in row `row`. With `plain_allowed`
    /// (the upgrade's pass only), a value not in the sealed format is plaintext from before
    /// encryption at rest; otherwise it is unreadable.
    pub fn reseal(&self, field: Field, row: i64, stored: &str, plain_allowed: bool) -> Reseal {
        let key = key_id_of(stored);
        if key == Some(self.current_id()) {
            return Reseal::Current;
        }
        let sealed = Sealed(stored.to_owned());
        let plaintext = if key.is_none() && plain_allowed {
            stored.to_owned()
        } else {
            match self.open(field, row, &sealed) {
                Ok(plaintext) => plaintext,
                Err(_) => return Reseal::Unreadable,
            }
        };
        Reseal::New {
            sealed: self.seal(field, row, &plaintext),
            plaintext,
        }
    }
}
