//! Login, token issue and user accounts.
use std::net::IpAddr;
use std::sync::Arc;

use super::model::{NewUser, User, UserRow};
use super::repository::UserRepository;
use super::session::model::EndReason;
use super::session::service::{Issued, SessionService};
use crate::core::auth::{Caller, Role, hash_password, verify_password};
use crate::core::error::{AppError, AppResult, FieldViolation};
use crate::core::text::normalize_email;
use crate::db;
use crate::modules::patient::PatientService;
use crate::ratelimit::RateLimiter;

pub const MIN_PASSWORD_LENGTH: usize = 12;

/// Who is logging in, as the request shows it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub ip: IpAddr,
    pub user_agent: Option<&'a str>,
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

/// A password of at least [`MIN_PASSWORD_LENGTH`] characters, or why not (as `field`).
fn long_enough(field: &str, password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(AppError::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_LENGTH} characters"),
        ));
    }
    Ok(())
}

pub struct AuthService {
    users: Arc<dyn UserRepository>,
    /// A PATIENT account's record must be a patient of the account's clinic.
    patients: Arc<PatientService>,
    sessions: Arc<SessionService>,
    limiter: Arc<RateLimiter>,
    /// Verified against when the email is unknown, so both failures cost the same time.
    decoy_hash: String,
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        patients: Arc<PatientService>,
        sessions: Arc<SessionService>,
        limiter: Arc<RateLimiter>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            users,
            patients,
            sessions,
            limiter,
            decoy_hash: hash_password("decoy password that matches nothing")?,
        })
    }

    /// Unknown email and wrong password fail alike (INVALID_CREDENTIALS) and take similar time.
    /// Failed attempts are counted per account and address, per account and per address
    /// (`ratelimit::login`); an attempt those counts hold back is refused (RATE_LIMITED) before
    /// its password is checked, so its answer is the same whether the password was right.
    /// Successful logins count nothing: a clinic behind one address is never held back by its
    /// own staff. A login starts a session (`session::service`).
    /// `locked` hears of an account these failures have just locked for the address.
    pub async fn login(
        &self,
        client: Client<'_>,
        email: &str,
        password: &str,
        locked: impl FnOnce(&User),
    ) -> AppResult<Issued> {
        let row = self
            .check_password(client.ip, email, password, locked)
            .await?;
        let user = User::try_from(&row).map_err(AppError::Internal)?;
        self.sessions
            .start(user, client.ip, client.user_agent)
            .await
    }

    /// The account `email` names if `password` is its password, counted as a login attempt
    /// from `client_ip` (see [`AuthService::login`]).
    async fn check_password(
        &self,
        client_ip: IpAddr,
        email: &str,
        password: &str,
        locked: impl FnOnce(&User),
    ) -> AppResult<UserRow> {
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
        match row {
            Some(row) if matches && row.disabled_at.is_none() => {
                attempt.succeeded().await;
                Ok(row)
            }
            row => {
                let now_locked = attempt.failed().await;
                if let (true, Some(row)) = (now_locked, row)
                    && let Ok(user) = User::try_from(&row)
                {
                    locked(&user);
                }
                Err(AppError::InvalidCredentials)
            }
        }
    }

    /// Replaces the caller's password, given the current one (a wrong one is counted as a
    /// failed login), and ends the caller's other sessions: whoever else knew the old password
    /// is signed out. The session `current` stays.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: i64,
        client_ip: IpAddr,
        current_password: &str,
        new_password: &str,
        locked: impl FnOnce(&User),
    ) -> AppResult<User> {
        let me = self.me(caller).await?;
        long_enough("newPassword", new_password)?;
        let row = self
            .check_password(client_ip, &me.email, current_password, locked)
            .await?;
        self.replace_password(&row, new_password, Some(current))
            .await?;
        Ok(me)
    }

    async fn replace_password(
        &self,
        row: &UserRow,
        password: &str,
        keep_session: Option<i64>,
    ) -> AppResult<()> {
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::Internal)?;
        self.users.set_password(row.id, &hash, db::now()).await?;
        self.sessions
            .end_all_of(row.id, keep_session, EndReason::PasswordChanged)
            .await?;
        Ok(())
    }

    /// Sets the password of the account with `email` and ends all its sessions; operators'
    /// CLI (a forgotten password, a suspected leak).
    pub async fn reset_password(&self, email: &str, password: &str) -> AppResult<()> {
        long_enough("password", password)?;
        let (email, row) = self.account(email).await?;
        self.replace_password(&row, password, None).await?;
        self.limiter.forget_login_failures(&email).await;
        Ok(())
    }

    /// The account with `email` (operators' commands), or NOT_FOUND; with the address as
    /// stored.
    async fn account(&self, email: &str) -> AppResult<(String, UserRow)> {
        let email = normalize_email(email).map_err(|m| AppError::invalid("email", m))?;
        let row = self
            .users
            .find_by_email(&email)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok((email, row))
    }

    /// Gives a staff account another staff role; operators' CLI. Its sessions carry on with
    /// the new role within seconds (`session::standing`). PATIENT accounts are tied to their
    /// record and change no role, nor does staff become PATIENT.
    pub async fn set_role(&self, email: &str, role: Role) -> AppResult<User> {
        let (email, row) = self.account(email).await?;
        let user = User::try_from(&row).map_err(AppError::Internal)?;
        if user.role == Role::Patient || role == Role::Patient {
            return Err(AppError::invalid(
                "role",
                "only staff roles change: a PATIENT account belongs to its patient record",
            ));
        }
        let row = self
            .users
            .set_role(&email, role.as_str(), db::now())
            .await?
            .ok_or(AppError::NotFound("user"))?;
        User::try_from(&row).map_err(AppError::Internal)
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
        if let Err(AppError::Validation(short)) = long_enough("password", &account.password) {
            problems.extend(short);
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

    /// Stops (or, with `false`, lets again) the account with `email` signing in, and ends its
    /// sessions (their tokens are refused within seconds); operators' CLI.
    pub async fn set_disabled(&self, email: &str, disabled: bool) -> AppResult<()> {
        let (email, row) = self.account(email).await?;
        let now = db::now();
        if !self
            .users
            .set_disabled(&email, disabled.then_some(now), now)
            .await?
        {
            return Err(AppError::NotFound("user"));
        }
        if disabled {
            self.sessions
                .end_all_of(row.id, None, EndReason::AccountDisabled)
                .await?;
        }
        Ok(())
    }

    /// Ends the account with `email` for good: it cannot sign in, what identified it is
    /// erased, and the address is free for a new account; operators' CLI. The audit trail
    /// keeps the email its events were recorded with.
    pub async fn delete_account(&self, email: &str) -> AppResult<()> {
        let (email, row) = self.account(email).await?;
        if !self.users.erase(&email, db::now()).await? {
            return Err(AppError::NotFound("user"));
        }
        self.sessions
            .end_all_of(row.id, None, EndReason::AccountDisabled)
            .await?;
        Ok(())
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
