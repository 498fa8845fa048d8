//! Whole files sealed for a store that does not encrypt them itself (the local folder of
//! patients' photos and documents). Bytes rather than text: `cg1b`, the key id's length (one
//! byte) and the id, then nonce, ciphertext and tag. The associated data is the object's key in
//! the store, so a file moved to another patient's key does not open.
use aes_gcm::Nonce;
use aes_gcm::aead::AeadInPlace;

use super::{DataKeys, UnreadableReason};

const MAGIC: &[u8] = b"cg1b";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

impl DataKeys {
    /// `contents` sealed under the current key, bound to `object` (its key in the store).
    pub fn seal_blob(&self, object: &str, contents: &[u8]) -> Vec<u8> {
        let (id, cipher) = self.current_cipher();
        let mut nonce = [0_u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let header = MAGIC.len() + 1 + id.len();
        let mut sealed = Vec::with_capacity(header + NONCE_LEN + contents.len() + TAG_LEN);
        sealed.extend_from_slice(MAGIC);
        // Key ids are at most 32 bytes (`keyring::MAX_ID_LEN`).
        sealed.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        sealed.extend_from_slice(id.as_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(contents);
        let body = header + NONCE_LEN;
        // Encryption fails only for messages beyond 64 GiB; files are capped far below.
        let tag = cipher
            .encrypt_in_place_detached(&Nonce::from(nonce), object.as_bytes(), &mut sealed[body..])
            .expect("a file within the cipher's limits");
        sealed.extend_from_slice(&tag);
        sealed
    }

    /// The contents of a file sealed by [`DataKeys::seal_blob`] for `object`, opened in place.
    /// A failure is logged with the object's key, never its contents.
    pub fn open_blob(
        &self,
        object: &str,
        mut sealed: Vec<u8>,
    ) -> Result<Vec<u8>, UnreadableReason> {
        let opened = (|| {
            let rest = sealed
                .strip_prefix(MAGIC)
                .ok_or(UnreadableReason::Malformed)?;
            let (&id_len, rest) = rest.split_first().ok_or(UnreadableReason::Malformed)?;
            let id_len = usize::from(id_len);
            if rest.len() < id_len + NONCE_LEN + TAG_LEN {
                return Err(UnreadableReason::Malformed);
            }
            let id =
                std::str::from_utf8(&rest[..id_len]).map_err(|_| UnreadableReason::Malformed)?;
            let cipher = self.cipher(id).ok_or(UnreadableReason::UnknownKey)?;
            let body = MAGIC.len() + 1 + id_len;
            let nonce: [u8; NONCE_LEN] = sealed[body..body + NONCE_LEN]
                .try_into()
                .map_err(|_| UnreadableReason::Malformed)?;
            let tag_at = sealed.len() - TAG_LEN;
            let tag: [u8; TAG_LEN] = sealed[tag_at..]
                .try_into()
                .map_err(|_| UnreadableReason::Malformed)?;
            cipher
                .decrypt_in_place_detached(
                    &Nonce::from(nonce),
                    object.as_bytes(),
                    &mut sealed[body + NONCE_LEN..tag_at],
                    &tag.into(),
                )
                .map_err(|_| UnreadableReason::Tampered)?;
            Ok(body + NONCE_LEN..tag_at)
        })();
        match opened {
            Ok(range) => {
                sealed.truncate(range.end);
                sealed.drain(..range.start);
                Ok(sealed)
            }
            Err(reason) => {
                tracing::error!(
                    object,
                    reason = reason.as_str(),
                    "a stored file could not be decrypted"
                );
                Err(reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::sealing::{DataKeys, UnreadableReason};

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn a_file_opens_under_its_own_key_only() {
        let ring = DataKeys::parse(&format!("*k1:{K1}")).expect("keyring");
        let contents = b"%PDF-1.7 referral for \xce\x95\xce\xbb\xce\xad\xce\xbd\xce\xb7".to_vec();
        let sealed = ring.seal_blob("1/2/abc/original", &contents);
        assert!(sealed.starts_with(b"cg1b\x02k1"));
        assert!(!sealed.windows(8).any(|w| w == b"referral"));
        assert_eq!(
            ring.open_blob("1/2/abc/original", sealed.clone()),
            Ok(contents)
        );
        assert_eq!(
            ring.open_blob("1/3/abc/original", sealed.clone()),
            Err(UnreadableReason::Tampered)
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 20;
        altered[last] ^= 1;
        assert_eq!(
            ring.open_blob("1/2/abc/original", altered),
            Err(UnreadableReason::Tampered)
        );
        assert_eq!(
            ring.open_blob("1/2/abc/original", sealed[..10].to_vec()),
            Err(UnreadableReason::Malformed)
        );
        let rotated = DataKeys::parse(&format!("k1:{K1},*k2:{K2}")).expect("keyring");
        assert!(
            rotated
                .open_blob("1/2/abc/original", sealed.clone())
                .is_ok()
        );
        let other = DataKeys::parse(&format!("*k2:{K2}")).expect("keyring");
        assert_eq!(
            other.open_blob("1/2/abc/original", sealed),
            Err(UnreadableReason::UnknownKey)
        );
    }
}
