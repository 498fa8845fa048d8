//! Identity: roles, the authenticated caller, JWT access tokens and password hashing.
use std::str::FromStr;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The role of a user account; it decides what the user may do.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Doctor,
    Nurse,
    Receptionist,
    Patient,
}

impl Role {
    pub const STAFF: &'static [Role] =
        &[Role::Admin, Role::Doctor, Role::Nurse, Role::Receptionist];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Doctor => "DOCTOR",
            Role::Nurse => "NURSE",
            Role::Receptionist => "RECEPTIONIST",
            Role::Patient => "PATIENT",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_uppercase().as_str() {
            "ADMIN" => Ok(Role::Admin),
            "DOCTOR" => Ok(Role::Doctor),
            "NURSE" => Ok(Role::Nurse),
            "RECEPTIONIST" => Ok(Role::Receptionist),
            "PATIENT" => Ok(Role::Patient),
            other => Err(format!(
                "unknown role {other:?} (expected ADMIN, DOCTOR, NURSE, RECEPTIONIST or PATIENT)"
            )),
        }
    }
}

/// The authenticated user a request acts for, as proven by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub clinic_id: i64,
    pub role: Role,
    /// For a PATIENT: their own patient record.
    pub patient_id: Option<i64>,
}

impl Caller {
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    iat: i64,
    role: Role,
    clinic: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patient: Option<i64>,
    /// The session the token was issued for: it is refused once the session ends.
    sid: i64,
}

/// What a verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The caller as the token was issued; whoever serves the request reads the account's
    /// current standing through [`Verified::session_id`] (a role may have changed since).
    pub caller: Caller,
    pub session_id: i64,
    pub expires_at: DateTime<Utc>,
}

/// Why a token was refused; logged at debug level, never sent (the client just gets
/// UNAUTHENTICATED).
#[derive(Debug, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidToken(String);

/// Issues and verifies HS256 access tokens.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    /// Tokens already verified, with what they said: a client sends the same token with every
    /// request until it expires, and checking its signature again was a sixth of the work of
    /// answering a single-record query. Keyed by the whole token, signature included, so only
    /// that exact token finds its entry; an entry is used only before the token's expiry.
    verified: moka::sync::Cache<String, Verified>,
}

/// How many verified tokens are kept (one per active session; about 3 MB).
const VERIFIED_TOKENS: u64 = 10_000;

/// Clock skew allowed between instances, for `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: u64 = 5;

const ISSUER: &str = "clinicgraph";
const AUDIENCE: &str = "clinicgraph-api";

impl TokenService {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        // A `nbf` is checked when a token carries one (ours do not).
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_TOKENS)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// A signed token for `caller` in `session_id`, issued at `issued_at` (whole seconds), and
    /// the moment it expires. The same arguments give the same token: a refresh retried within
    /// its grace window gets the answer it lost.
    pub fn issue(
        &self,
        caller: &Caller,
        session_id: i64,
        issued_at: DateTime<Utc>,
    ) -> anyhow::Result<(String, DateTime<Utc>)> {
        // Whole seconds, so `expiresAt` is exactly the token's `exp`.
        let now = DateTime::from_timestamp(issued_at.timestamp(), 0).unwrap_or_default();
        let expires_at = now + chrono::Duration::from_std(self.ttl)?;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: caller.user_id.to_string(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            role: caller.role,
            clinic: caller.clinic_id,
            patient: caller.patient_id,
            sid: session_id,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry; what the token says, and
    /// the moment it stops being valid (long-lived connections end then). Whether its session
    /// still stands is the sessions' question, not the token's.
    pub fn verify(&self, token: &str) -> Result<Verified, InvalidToken> {
        if let Some(verified) = self.verified.get(token)
            && Utc::now() < verified.expires_at
        {
            return Ok(verified);
        }
        let verified = self.verify_signed(token)?;
        self.verified.insert(token.to_owned(), verified.clone());
        Ok(verified)
    }

    /// The full check: signature, algorithm, issuer, audience, expiry and `nbf` (5 s of
    /// leeway), and that the token looks like one this service issues: not issued in the
    /// future, and living no longer than the configured lifetime (a token signed with the key
    /// but made to last a century is refused).
    fn verify_signed(&self, token: &str) -> Result<Verified, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        let claims = data.claims;
        let leeway = LEEWAY_SECONDS as i64;
        if claims.iat > Utc::now().timestamp() + leeway {
            return Err(InvalidToken("issued in the future".into()));
        }
        let lifetime = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        if claims.exp.saturating_sub(claims.iat) > lifetime.saturating_add(leeway) {
            return Err(InvalidToken(
                "lives longer than tokens are issued for".into(),
            ));
        }
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| InvalidToken("subject is not a user id".into()))?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| InvalidToken("expiry out of range".into()))?;
        let caller = Caller {
            user_id,
            clinic_id: claims.clinic,
            role: claims.role,
            patient_id: claims.patient,
        };
        Ok(Verified {
            caller,
            session_id: claims.sid,
            expires_at,
        })
    }
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hashed = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"));
    release_hashing_memory();
    hashed
}

/// Checks a password against a stored hash; a malformed hash is a non-match.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let matches = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    release_hashing_memory();
    matches
}

/// Argon2 works in 19 MiB of memory (its default, OWASP's minimum), and mimalloc kept what it
/// freed resident: a server that had started (one hash) and served one login (one more) held
/// 56 MB while idle, 35 MB when the memory is collected right after each hash.
fn release_hashing_memory() {
    // SAFETY: mi_collect takes no pointers and may be called at any time on any thread; it
    // only frees memory that nothing refers to any more.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> TokenService {
        TokenService::new(
            &SecretString::from("a-test-secret-that-is-long-enough-0123456789"),
            Duration::from_secs(60),
        )
    }

    fn caller() -> Caller {
        Caller {
            user_id: 7,
            clinic_id: 3,
            role: Role::Nurse,
            patient_id: None,
        }
    }

    #[test]
    fn issued_tokens_verify() {
        let tokens = service();
        let (token, _) = tokens.issue(&caller(), 11, Utc::now()).expect("issue");
        let verified = tokens.verify(&token).expect("verify");
        assert_eq!((verified.caller, verified.session_id), (caller(), 11));
    }

    #[test]
    fn the_same_issue_gives_the_same_token() {
        let tokens = service();
        let at = Utc::now();
        assert_eq!(
            tokens.issue(&caller(), 11, at).expect("issue"),
            tokens.issue(&caller(), 11, at).expect("again")
        );
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let other = TokenService::new(
            &SecretString::from("another-secret-that-is-long-enough-9876543210"),
            Duration::from_secs(60),
        );
        let (token, _) = other.issue(&caller(), 1, Utc::now()).expect("issue");
        assert!(service().verify(&token).is_err());
    }

    #[test]
    fn a_verified_token_is_known_only_by_its_exact_text() {
        let tokens = service();
        let (token, _) = tokens.issue(&caller(), 1, Utc::now()).expect("issue");
        assert_eq!(tokens.verify(&token).expect("verify").caller, caller());
        assert_eq!(tokens.verify(&token).expect("again").caller, caller());
        // The same claims with a signature one character off.
        let mut forged = token.clone();
        let last = forged.pop().expect("not empty");
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(tokens.verify(&forged).is_err());
    }

    #[test]
    fn a_kept_token_past_its_expiry_is_checked_in_full() {
        let tokens = service();
        let kept = |expires_at| Verified {
            caller: caller(),
            session_id: 1,
            expires_at,
        };
        let expired = Utc::now() - chrono::Duration::seconds(1);
        tokens
            .verified
            .insert("not-a-token".to_owned(), kept(expired));
        assert!(
            tokens.verify("not-a-token").is_err(),
            "expired: checked again"
        );
        let valid = Utc::now() + chrono::Duration::seconds(60);
        tokens
            .verified
            .insert("not-a-token".to_owned(), kept(valid));
        assert_eq!(tokens.verify("not-a-token").expect("kept").caller, caller());
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("battery staple", &hash));
        assert!(!verify_password("correct horse", "not-a-hash"));
    }
}
