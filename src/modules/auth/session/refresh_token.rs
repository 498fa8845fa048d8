//! Refresh tokens: `cgr1.<session>.<generation>.<mac>`, where the MAC (HMAC-SHA256 under a key
//! derived from `JWT_SECRET`) covers the session, its generation and its creation time.
//!
//! Derived rather than random so that a refresh retried within the grace window can be given
//! the very token its lost answer held, while the database keeps only hashes: the token for a
//! generation can be made again from the secret, never from what the database holds. The
//! creation time in the MAC means a token can never name another session that got the same id.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "cgr1";

/// A token's parts as sent, before its MAC is checked against the session it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub session_id: i64,
    pub generation: i64,
    mac: Vec<u8>,
}

/// Makes and checks refresh tokens.
pub struct RefreshTokens {
    key: Vec<u8>,
}

impl RefreshTokens {
    pub fn new(secret: &SecretString) -> Self {
        // A key of its own, so a refresh token's MAC can never serve as an access token's
        // signature or the other way round.
        let mut derive = HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        derive.update(b"clinicgraph refresh tokens v1");
        Self {
            key: derive.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, session_id: i64, generation: i64, created_at: NaiveDateTime) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        let micros = created_at.and_utc().timestamp_micros();
        mac.update(format!("{session_id}.{generation}.{micros}").as_bytes());
        mac
    }

    /// The token of `generation` of the session `session_id` created at `created_at`.
    pub fn token(&self, session_id: i64, generation: i64, created_at: NaiveDateTime) -> String {
        let mac = self
            .mac(session_id, generation, created_at)
            .finalize()
            .into_bytes();
        format!(
            "{PREFIX}.{session_id}.{generation}.{}",
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The parts of something sent as a refresh token; `None` if it cannot be one.
    pub fn parse(text: &str) -> Option<Presented> {
        let mut parts = text.trim().split('.');
        if parts.next()? != PREFIX {
            return None;
        }
        let session_id = parts.next()?.parse().ok()?;
        let generation = parts.next()?.parse().ok()?;
        let mac = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Presented {
            session_id,
            generation,
            mac,
        })
    }

    /// Whether `presented` was made here for the session created at `created_at` (compared in
    /// constant time).
    pub fn is_genuine(&self, presented: &Presented, created_at: NaiveDateTime) -> bool {
        self.mac(presented.session_id, presented.generation, created_at)
            .verify_slice(&presented.mac)
            .is_ok()
    }
}

/// What the database keeps of a refresh token.
pub fn hash(token: &str) -> String {
    crate::core::text::sha256_hex(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> RefreshTokens {
        RefreshTokens::new(&SecretString::from(
            "a-test-secret-that-is-long-enough-0123456789",
        ))
    }

    fn created() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 123_456_000)
            .expect("time")
            .naive_utc()
    }

    #[test]
    fn a_token_reads_back_and_is_genuine_only_for_its_session() {
        let tokens = tokens();
        let token = tokens.token(42, 3, created());
        let presented = RefreshTokens::parse(&token).expect("parses");
        assert_eq!((presented.session_id, presented.generation), (42, 3));
        assert!(tokens.is_genuine(&presented, created()));
        // The same id, another session (created at another moment).
        let later = created() + chrono::Duration::microseconds(1);
        assert!(!tokens.is_genuine(&presented, later));
        // Another generation claimed with this MAC.
        let forged = token.replacen(".3.", ".4.", 1);
        let forged = RefreshTokens::parse(&forged).expect("parses");
        assert!(!tokens.is_genuine(&forged, created()));
    }

    #[test]
    fn the_same_generation_gives_the_same_token() {
        assert_eq!(
            tokens().token(7, 1, created()),
            tokens().token(7, 1, created())
        );
        assert_ne!(
            tokens().token(7, 1, created()),
            tokens().token(7, 2, created())
        );
    }

    #[test]
    fn what_is_not_a_token_does_not_parse() {
        for text in [
            "",
            "cgr1",
            "cgr1.1.1",
            "cgr1.x.1.AA",
            "cgr2.1.1.AA",
            "cgr1.1.1.AA.x",
        ] {
            assert_eq!(RefreshTokens::parse(text), None, "{text:?}");
        }
    }
}
