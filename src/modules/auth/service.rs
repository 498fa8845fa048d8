//! Login, token issue and user accounts.
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::model::{NewUser, User, UserRow};
use super::repository::UserRepository;
use crate::core::auth::{Caller, Role, TokenService, hash_password, verify_password};
use crate::core::error::{AppError, AppResult, FieldViolation};
use crate::core::text::normalize_email;
use crate::db;
use crate::modules::patient::PatientService;
use crate::ratelimit::RateLimiter;

pub const MIN_PASSWORD_LENGTH: usize = 12;

/// A successful login.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// What an operator (or the demo seed) gives to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub clinic_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
    pub patient_id: Option<i64>,
}

pub struct AuthService {
    users: Arc<dyn UserRepository>,
    /// A PATIENT account's record must be a patient of the account's clinic.
    patients: Arc<PatientService>,
    tokens: Arc<TokenService>,
    limiter: Arc<RateLimiter>,
    /// Verified against when the email is unknown, so both failures cost the same time.
    decoy_hash: String,
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        patients: Arc<PatientService>,
        tokens: Arc<TokenService>,
        limiter: Arc<RateLimiter>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            users,
            patients,
            tokens,
            limiter,
            decoy_hash: hash_password("decoy password that matches nothing")?,
        })
    }

    /// Unknown email and wrong password fail alike (INVALID_CREDENTIALS) and take similar time.
    /// Failed attempts are counted per account and address, per account and per address
    /// (`ratelimit::login`); an attempt those counts hold back is refused (RATE_LIMITED) before
    /// its password is checked, so its answer is the same whether the password was right.
    /// Successful logins count nothing: a clinic behind one address is never held back by its
    /// own staff.
    pub async fn login(
        &self,
        client_ip: IpAddr,
        email: &str,
        password: &str,
    ) -> AppResult<Session> {
        // Keyed by the address as the account lookup sees it, so spelling variants of one
        // address share one allowance.
        let target = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let attempt = self
            .limiter
            .login_attempt(client_ip, &target)
            .await
            .map_err(|limited| AppError::RateLimited {
                retry_after_secs: limited.retry_after_secs(),
            })?;
        let row = match normalize_email(email) {
            Ok(email) => self.users.find_by_email(&email).await?,
            Err(_) => None,
        };
        let hash = row
            .as_ref()
            .map_or_else(|| self.decoy_hash.clone(), |r| r.password_hash.clone());
        let password = password.to_owned();
        // argon2 is deliberately slow: keep it off the async worker threads.
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(AppError::internal)?;
        // A disabled account fails like a wrong password: the answer says nothing of accounts.
        let row = match row {
            Some(row) if matches && row.disabled_at.is_none() => row,
            _ => {
                attempt.failed().await;
                return Err(AppError::InvalidCredentials);
            }
        };
        attempt.succeeded().await;
        let user = User::try_from(&row).map_err(AppError::Internal)?;
        let (access_token, expires_at) = self
            .tokens
            .issue(&user.caller())
            .map_err(AppError::Internal)?;
        Ok(Session {
            access_token,
            expires_at,
            user,
        })
    }

    /// Lifts the failed-login counts of an account of the caller's clinic (ADMIN): a pair of
    /// account and address locked by guesses may try again at once. Another clinic's account is
    /// "not found".
    pub async fn unlock(&self, caller: &Caller, id: i64) -> AppResult<User> {
        if caller.role != Role::Admin {
            return Err(AppError::forbidden("only an ADMIN may unlock accounts"));
        }
        let user = self
            .find_user(caller.clinic_id, id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        self.limiter.forget_login_failures(&user.email).await;
        Ok(user)
    }

    /// The caller's own account.
    pub async fn me(&self, caller: &Caller) -> AppResult<User> {
        self.find_user(caller.clinic_id, caller.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)
    }

    /// A user of the caller's clinic: an ADMIN sees every account, others only their own.
    pub async fn user(&self, caller: &Caller, id: i64) -> AppResult<User> {
        if caller.role != Role::Admin && caller.user_id != id {
            return Err(AppError::NotFound("user"));
        }
        self.find_user(caller.clinic_id, id)
            .await?
            .ok_or(AppError::NotFound("user"))
    }

    async fn find_user(&self, clinic_id: i64, id: i64) -> AppResult<Option<User>> {
        match self.users.find(clinic_id, id).await? {
            Some(row) => Ok(Some(User::try_from(&row).map_err(AppError::Internal)?)),
            None => Ok(None),
        }
    }

    /// Creates an account (operators' CLI and the demo seed; there is no public sign-up).
    pub async fn create_account(&self, account: NewAccount) -> AppResult<User> {
        let mut problems = Vec::new();
        let email = normalize_email(&account.email).unwrap_or_else(|message| {
            problems.push(FieldViolation::new("email", message));
            String::new()
        });
        let name = account.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            problems.push(FieldViolation::new("name", "must be 1 to 200 characters"));
        }
        if account.password.chars().count() < MIN_PASSWORD_LENGTH {
            problems.push(FieldViolation::new(
                "password",
                format!("must be at least {MIN_PASSWORD_LENGTH} characters"),
            ));
        }
        match (account.role == Role::Patient, account.patient_id) {
            (true, Some(patient_id)) => {
                let own = self
                    .patients
                    .find_in_clinic(account.clinic_id, patient_id)
                    .await?;
                if own.is_none() {
                    problems.push(FieldViolation::new(
                        "patientId",
                        "is not a patient of the account's clinic",
                    ));
                }
            }
            (false, None) => {}
            _ => problems.push(FieldViolation::new(
                "patientId",
                "a PATIENT account needs its patient record; staff accounts have none",
            )),
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        let password = account.password;
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::Internal)?;
        let now = db::now();
        let row: UserRow = self
            .users
            .insert(NewUser {
                clinic_id: account.clinic_id,
                email,
                password_hash,
                name,
                role: account.role.as_str().to_owned(),
                patient_id: account.patient_id,
                created_at: now,
                updated_at: now,
            })
            .await
            .map_err(|e| {
                if e.is_unique_violation_of("email") {
                    AppError::invalid("email", "is already used by another account")
                } else {
                    e.into()
                }
            })?;
        User::try_from(&row).map_err(AppError::Internal)
    }

    /// Stops (or, with `false`, lets again) the account with `email` signing in; operators'
    /// CLI. Tokens already issued run out within `JWT_TTL_SECONDS`.
    pub async fn set_disabled(&self, email: &str, disabled: bool) -> AppResult<()> {
        let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
        let now = db::now();
        if self
            .users
            .set_disabled(&email, disabled.then_some(now), now)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound("user"))
        }
    }

    /// Ends the account with `email` for good: it cannot sign in, what identified it is
    /// erased, and the address is free for a new account; operators' CLI. The audit trail
    /// keeps the email its events were recorded with.
    pub async fn delete_account(&self, email: &str) -> AppResult<()> {
        let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
        if self.users.erase(&email, db::now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("user"))
        }
    }

    pub async fn any_users(&self) -> AppResult<bool> {
        Ok(self.users.any_exist().await?)
    }

    /// Whether an account has `email`, disabled or not: the demo seed's idempotency.
    pub async fn account_exists(&self, email: &str) -> AppResult<bool> {
        let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
        Ok(self.users.find_by_email(&email).await?.is_some())
    }
}
