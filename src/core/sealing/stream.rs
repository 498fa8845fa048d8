//! Large files sealed piece by piece, for a store that does not encrypt them itself: exports,
//! reports and database snapshots in the local folder, which may be far larger than memory
//! should hold at once. [`blob`](super::blob) seals a file in one piece; this cuts it into
//! 64 KiB chunks, each sealed on its own with the STREAM construction (Hoang, Reyhanitabar,
//! Rogaway, Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance"),
//! as the `aead` crate implements it: a chunk's nonce holds its position and whether it is the
//! last, so chunks cannot be reordered, dropped or the file cut short without the opening
//! failing.
//!
//! Layout: `cg1s`, the key id's length (one byte) and the id, a 7-byte nonce prefix, then the
//! chunks, each `CHUNK` bytes of ciphertext and a 16-byte tag but the last, which is shorter
//! or as long. The associated data of every chunk is the object's key in the store.
//!
//! Sans I/O: the caller reads and writes; this only turns bytes into bytes.
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};

use super::{DataKeys, UnreadableReason};

const MAGIC: &[u8] = b"cg1s";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const SEALED_CHUNK: usize = CHUNK + TAG_LEN;
/// The STREAM nonce prefix of a 96-bit nonce: 12 bytes less a 4-byte counter and a last flag.
const PREFIX_LEN: usize = 7;

/// Seals one file, chunk by chunk; see the module's notes.
pub struct StreamSealer {
    object: String,
    encryptor: EncryptorBE32<Aes256Gcm>,
}

impl DataKeys {
    /// A sealer for `object` (its key in the store) under the current key, and the header to
    /// write before the first chunk.
    pub fn stream_sealer(&self, object: &str) -> (Vec<u8>, StreamSealer) {
        let (id, cipher) = self.current_cipher();
        let mut prefix = [0_u8; PREFIX_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut prefix);
        let mut header = Vec::with_capacity(MAGIC.len() + 1 + id.len() + PREFIX_LEN);
        header.extend_from_slice(MAGIC);
        // Key ids are at most 32 bytes (`keyring::MAX_ID_LEN`).
        header.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        header.extend_from_slice(id.as_bytes());
        header.extend_from_slice(&prefix);
        let sealer = StreamSealer {
            object: object.to_owned(),
            encryptor: EncryptorBE32::from_aead(cipher.clone(), prefix.as_slice().into()),
        };
        (header, sealer)
    }

    /// An opener for a file sealed by [`DataKeys::stream_sealer`] for `object`.
    pub fn stream_opener(self: &Arc<Self>, object: &str) -> StreamOpener {
        StreamOpener {
            keys: self.clone(),
            object: object.to_owned(),
            state: OpenerState::Header(Vec::new()),
            buffer: Vec::new(),
        }
    }
}

impl StreamSealer {
    /// Seals a chunk that is not the last; it must be exactly [`CHUNK`] bytes.
    pub fn seal(&mut self, mut chunk: Vec<u8>) -> Vec<u8> {
        debug_assert_eq!(chunk.len(), CHUNK);
        // Fails only past 2^32 chunks (256 TiB) or for a buffer that cannot grow.
        self.encryptor
            .encrypt_next_in_place(self.object.as_bytes(), &mut chunk)
            .expect("a chunk within the stream's limits");
        chunk
    }

    /// Seals the last chunk, at most [`CHUNK`] bytes (empty when the file ended on a boundary).
    pub fn seal_last(self, mut chunk: Vec<u8>) -> Vec<u8> {
        debug_assert!(chunk.len() <= CHUNK);
        self.encryptor
            .encrypt_last_in_place(self.object.as_bytes(), &mut chunk)
            .expect("a chunk within the stream's limits");
        chunk
    }
}

enum OpenerState {
    /// The header's bytes so far.
    Header(Vec<u8>),
    Chunks(Box<DecryptorBE32<Aes256Gcm>>),
}

/// Opens a sealed file fed to it in pieces of any size.
pub struct StreamOpener {
    keys: Arc<DataKeys>,
    object: String,
    state: OpenerState,
    /// Sealed bytes not yet opened: a chunk is opened only once bytes after it show that it is
    /// not the last.
    buffer: Vec<u8>,
}

impl StreamOpener {
    /// The key in the store of the file being opened.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// Takes the next sealed bytes; returns what they opened (often nothing, until a chunk is
    /// whole).
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<Vec<u8>, UnreadableReason> {
        if let OpenerState::Header(header) = &mut self.state {
            loop {
                // The fixed part first (magic and the id's length), then the rest it announces.
                let need = if header.len() <= MAGIC.len() {
                    MAGIC.len() + 1
                } else {
                    header_len(header)
                };
                if header.len() >= need {
                    break;
                }
                if bytes.is_empty() {
                    return Ok(Vec::new());
                }
                let take = (need - header.len()).min(bytes.len());
                header.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if header.len() >= MAGIC.len() && !header.starts_with(MAGIC) {
                    return failed(&self.object, UnreadableReason::Malformed);
                }
            }
            let id = std::str::from_utf8(&header[MAGIC.len() + 1..header.len() - PREFIX_LEN]);
            let cipher = match id.map(|id| self.keys.cipher(id)) {
                Ok(Some(cipher)) => cipher.clone(),
                Ok(None) => return failed(&self.object, UnreadableReason::UnknownKey),
                Err(_) => return failed(&self.object, UnreadableReason::Malformed),
            };
            let prefix = &header[header.len() - PREFIX_LEN..];
            let decryptor = DecryptorBE32::from_aead(cipher, prefix.into());
            self.state = OpenerState::Chunks(Box::new(decryptor));
        }
        self.buffer.extend_from_slice(bytes);
        let OpenerState::Chunks(decryptor) = &mut self.state else {
            return Ok(Vec::new());
        };
        let mut opened = Vec::new();
        let mut start = 0;
        while self.buffer.len() - start > SEALED_CHUNK {
            let mut chunk = self.buffer[start..start + SEALED_CHUNK].to_vec();
            if decryptor
                .decrypt_next_in_place(self.object.as_bytes(), &mut chunk)
                .is_err()
            {
                return failed(&self.object, UnreadableReason::Tampered);
            }
            opened.extend_from_slice(&chunk);
            start += SEALED_CHUNK;
        }
        self.buffer.drain(..start);
        Ok(opened)
    }

    /// The end of the sealed bytes: opens the last chunk. A file cut short fails here.
    pub fn finish(mut self) -> Result<Vec<u8>, UnreadableReason> {
        let state = std::mem::replace(&mut self.state, OpenerState::Header(Vec::new()));
        let OpenerState::Chunks(decryptor) = state else {
            return failed(&self.object, UnreadableReason::Malformed);
        };
        let mut last = std::mem::take(&mut self.buffer);
        if last.len() < TAG_LEN {
            return failed(&self.object, UnreadableReason::Malformed);
        }
        match decryptor.decrypt_last_in_place(self.object.as_bytes(), &mut last) {
            Ok(()) => Ok(last),
            Err(_) => failed(&self.object, UnreadableReason::Tampered),
        }
    }
}

/// Logs the failure with the object's key, never its contents.
fn failed<T>(object: &str, reason: UnreadableReason) -> Result<T, UnreadableReason> {
    tracing::error!(
        object,
        reason = reason.as_str(),
        "a stored file could not be decrypted"
    );
    Err(reason)
}

/// The header's whole length once its id length is known (0 before).
fn header_len(header: &[u8]) -> usize {
    match header.get(MAGIC.len()) {
        Some(&id_len) => MAGIC.len() + 1 + usize::from(id_len) + PREFIX_LEN,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{CHUNK, StreamOpener};
    use crate::core::sealing::{DataKeys, UnreadableReason};

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    fn sealed(keys: &DataKeys, object: &str, contents: &[u8]) -> Vec<u8> {
        let (mut out, mut sealer) = keys.stream_sealer(object);
        let mut chunks = contents.chunks(CHUNK).peekable();
        let mut sealer_left = None;
        while let Some(chunk) = chunks.next() {
            if chunks.peek().is_none() {
                sealer_left = Some(chunk);
                break;
            }
            out.extend(sealer.seal(chunk.to_vec()));
        }
        out.extend(sealer.seal_last(sealer_left.unwrap_or_default().to_vec()));
        out
    }

    /// Feeds `sealed` in pieces of `piece` bytes.
    fn opened(
        mut opener: StreamOpener,
        sealed: &[u8],
        piece: usize,
    ) -> Result<Vec<u8>, UnreadableReason> {
        let mut out = Vec::new();
        for bytes in sealed.chunks(piece) {
            out.extend(opener.push(bytes)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn a_stream_opens_whole_however_it_is_cut() {
        let ring = Arc::new(DataKeys::parse(&format!("*k1:{K1}")).expect("keyring"));
        let object = "exports/patients-job7.csv";
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let contents: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let sealed = sealed(&ring, object, &contents);
            assert!(sealed.starts_with(b"cg1s\x02k1"));
            for piece in [1, 5, 1000, CHUNK + 16, sealed.len().max(1)] {
                assert_eq!(
                    opened(ring.stream_opener(object), &sealed, piece).as_deref(),
                    Ok(contents.as_slice()),
                    "{size} bytes in pieces of {piece}"
                );
            }
        }
    }

    #[test]
    fn a_stream_altered_moved_cut_or_under_an_unknown_key_does_not_open() {
        let ring = Arc::new(DataKeys::parse(&format!("*k1:{K1}")).expect("keyring"));
        let object = "backups/clinicgraph-20261207.pgdump";
        let contents = vec![42_u8; 2 * CHUNK + 100];
        let sealed = sealed(&ring, object, &contents);
        let open = |bytes: &[u8], object: &str| opened(ring.stream_opener(object), bytes, 4096);

        assert_eq!(
            open(&sealed, "backups/other.pgdump"),
            Err(UnreadableReason::Tampered)
        );
        let mut altered = sealed.clone();
        altered[100] ^= 1;
        assert_eq!(open(&altered, object), Err(UnreadableReason::Tampered));
        // Cut at a chunk's end: the chunk before was not sealed as the last.
        let header = 4 + 1 + 2 + 7;
        let cut = &sealed[..header + 2 * (CHUNK + 16)];
        assert_eq!(open(cut, object), Err(UnreadableReason::Tampered));
        // Two chunks swapped.
        let mut swapped = sealed[..header].to_vec();
        swapped.extend_from_slice(&sealed[header + CHUNK + 16..header + 2 * (CHUNK + 16)]);
        swapped.extend_from_slice(&sealed[header..header + CHUNK + 16]);
        swapped.extend_from_slice(&sealed[header + 2 * (CHUNK + 16)..]);
        assert_eq!(open(&swapped, object), Err(UnreadableReason::Tampered));
        assert_eq!(open(b"cg1", object), Err(UnreadableReason::Malformed));
        assert_eq!(
            open(b"PK\x03\x04 a zip", object),
            Err(UnreadableReason::Malformed)
        );

        let other = Arc::new(DataKeys::parse(&format!("*k2:{K2}")).expect("keyring"));
        assert_eq!(
            opened(other.stream_opener(object), &sealed, 4096),
            Err(UnreadableReason::UnknownKey)
        );
        // A keyring that still holds the old key opens it after a rotation.
        let rotated = Arc::new(DataKeys::parse(&format!("k1:{K1},*k2:{K2}")).expect("keyring"));
        assert_eq!(
            opened(rotated.stream_opener(object), &sealed, 4096),
            Ok(contents)
        );
    }
}
