//! Sessions: starting one at login, rotating its refresh token, ending it, listing them, and
//! the check every request's access token passes through. Every rule about sessions is here.
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::model::{EndReason, NewSession, Session, SessionRow};
use super::refresh_token::{self, RefreshTokens};
use super::repository::{LiveAt, SessionRepository};
use super::standing::{Standing, Standings};
use crate::config::SessionSettings;
use crate::core::auth::{Caller, Role, TokenService};
use crate::core::error::{AppError, AppResult};
use crate::core::pagination::{ConnectionArgs, Page};
use crate::core::throttle::Throttle;
use crate::db;
use crate::modules::auth::model::{User, UserRow};
use crate::modules::auth::repository::UserRepository;

/// The longest user agent kept: enough to tell browsers apart, and no more of what a client
/// may send.
const MAX_USER_AGENT_CHARS: usize = 256;

/// How often a process deletes sessions long ended, at most (on a login).
const SWEEP_EVERY_SECS: i64 = 3_600;

/// What a login or a refresh hands the client.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_token: String,
    /// When the refresh token stops working unless used (the idle end, or the absolute end).
    pub refresh_expires_at: DateTime<Utc>,
    pub session: Session,
    pub user: User,
}

/// A request's access token, checked against its session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user as their account is now (a role changed since the token was issued counts).
    pub caller: Caller,
    pub session_id: i64,
    /// When the access token expires (long-lived connections end then at the latest).
    pub expires_at: DateTime<Utc>,
}

pub struct SessionService {
    sessions: Arc<dyn SessionRepository>,
    users: Arc<dyn UserRepository>,
    tokens: Arc<TokenService>,
    refresh_tokens: RefreshTokens,
    settings: SessionSettings,
    standings: Standings,
    /// How often this process deletes sessions long ended.
    sweeps: Throttle,
}

fn duration(std: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(std).unwrap_or(chrono::Duration::MAX)
}

impl SessionService {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        users: Arc<dyn UserRepository>,
        tokens: Arc<TokenService>,
        refresh_tokens: RefreshTokens,
        settings: SessionSettings,
    ) -> Self {
        Self {
            sessions,
            users,
            tokens,
            refresh_tokens,
            settings,
            standings: Standings::new(),
            sweeps: Throttle::new(SWEEP_EVERY_SECS),
        }
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn idle(&self) -> chrono::Duration {
        duration(self.settings.idle)
    }

    /// Starts a session for `user`, who has just proven who they are.
    pub async fn start(
        &self,
        user: User,
        client_ip: IpAddr,
        user_agent: Option<&str>,
    ) -> AppResult<Issued> {
        self.sweep_now_and_then();
        let now = db::now();
        let user_agent = user_agent
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect::<String>())
            .filter(|agent| !agent.trim().is_empty());
        // The first token is made from the row's id and creation time, so the row is written
        // with a placeholder hash and given the real one as generation 0 is "rotated" in: a
        // hash that no token has, so nothing can refresh before that.
        let row = self
            .sessions
            .insert(NewSession {
                user_id: user.id,
                clinic_id: user.clinic_id,
                refresh_hash: "-".into(),
                created_at: now,
                last_used_at: now,
                expires_at: now + duration(self.settings.lifetime),
                client_ip: client_ip.to_string(),
                user_agent,
            })
            .await?;
        let token = self.refresh_tokens.token(row.id, 1, row.created_at);
        if !self
            .sessions
            .rotate(row.id, 0, &refresh_token::hash(&token), "-", now)
            .await?
        {
            return Err(AppError::internal(anyhow::anyhow!(
                "session {} changed while it was started",
                row.id
            )));
        }
        let row = SessionRow {
            generation: 1,
            rotated_at: Some(now),
            ..row
        };
        self.issue(&row, user, token, now)
    }

    fn issue(
        &self,
        row: &SessionRow,
        user: User,
        refresh_token: String,
        issued_at: NaiveDateTime,
    ) -> AppResult<Issued> {
        let (access_token, expires_at) = self
            .tokens
            .issue(&user.caller(), row.id, issued_at.and_utc())
            .map_err(AppError::Internal)?;
        let session = Session::of(row, self.idle());
        Ok(Issued {
            access_token,
            expires_at,
            refresh_token,
            refresh_expires_at: session.idle_expires_at.and_utc(),
            session,
            user,
        })
    }

    /// Exchanges a refresh token for a new access token and a new refresh token; the one sent
    /// stops working. The replaced token sent again within the grace window gets the same
    /// answer (a client that lost it retries); sent again later, it ends the session: two
    /// holders of one session's token means one of them stole it (RFC 9700 §4.14.2). That end
    /// is stored before the request fails, and stays.
    pub async fn refresh(&self, token: &str) -> AppResult<Issued> {
        let presented = RefreshTokens::parse(token).ok_or(AppError::InvalidRefreshToken)?;
        let sent_hash = refresh_token::hash(token);
        // Twice at most: a refresh that loses the race to rotate reads the winner's answer.
        for _ in 0..2 {
            let Some((row, user_row)) = self.sessions.with_user(presented.session_id).await? else {
                return Err(AppError::InvalidRefreshToken);
            };
            if !self.refresh_tokens.is_genuine(&presented, row.created_at) {
                return Err(AppError::InvalidRefreshToken);
            }
            let now = db::now();
            let user = match self.standing_of(&row, &user_row, now) {
                Standing::Active(_) => User::try_from(&user_row).map_err(AppError::Internal)?,
                Standing::Ended => {
                    if user_row.disabled_at.is_some() && row.revoked_at.is_none() {
                        self.end(row.id, EndReason::AccountDisabled).await?;
                    }
                    return Err(AppError::InvalidRefreshToken);
                }
            };
            let current = presented.generation == row.generation && sent_hash == row.refresh_hash;
            if current {
                let next = self
                    .refresh_tokens
                    .token(row.id, row.generation + 1, row.created_at);
                if self
                    .sessions
                    .rotate(
                        row.id,
                        row.generation,
                        &refresh_token::hash(&next),
                        &sent_hash,
                        now,
                    )
                    .await?
                {
                    let row = SessionRow {
                        generation: row.generation + 1,
                        rotated_at: Some(now),
                        last_used_at: now,
                        ..row
                    };
                    return self.issue(&row, user, next, now);
                }
                // Another refresh with the same token rotated it first: read its answer.
                continue;
            }
            let replaced = presented.generation + 1 == row.generation
                && row.previous_hash.as_deref() == Some(sent_hash.as_str());
            if let (true, Some(rotated_at)) = (replaced, row.rotated_at)
                && now - rotated_at <= duration(self.settings.reuse_grace)
            {
                let current = self
                    .refresh_tokens
                    .token(row.id, row.generation, row.created_at);
                return self.issue(&row, user, current, rotated_at);
            }
            tracing::warn!(
                session_id = row.id,
                user_id = row.user_id,
                "a replaced refresh token was used again: the session is ended"
            );
            self.end(row.id, EndReason::RefreshTokenReused).await?;
            return Err(AppError::InvalidRefreshToken);
        }
        Err(AppError::InvalidRefreshToken)
    }

    /// Whether the session stands at `now`, and who its user is now.
    fn standing_of(&self, row: &SessionRow, user: &UserRow, now: NaiveDateTime) -> Standing {
        let session = Session::of(row, self.idle());
        // Live: not revoked, and before both its idle and its absolute end.
        if !session.is_live(now) || user.disabled_at.is_some() || user.clinic_id != row.clinic_id {
            return Standing::Ended;
        }
        match User::try_from(user) {
            Ok(user) => Standing::Active(user.caller()),
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "an account that cannot be read"
                );
                Standing::Ended
            }
        }
    }

    async fn standing(&self, session_id: i64) -> AppResult<Standing> {
        if let Some(standing) = self.standings.get(session_id) {
            return Ok(standing);
        }
        let standing = match self.sessions.with_user(session_id).await? {
            Some((row, user)) => self.standing_of(&row, &user, db::now()),
            None => Standing::Ended,
        };
        self.standings.keep(session_id, standing.clone());
        Ok(standing)
    }

    /// The caller an access token stands for, if its session still stands: `None` for a
    /// token that is invalid, expired, or of a session that ended or whose account was
    /// disabled. The caller's role and clinic are the account's as they are now.
    pub async fn authenticate(&self, access_token: &str) -> AppResult<Option<Authenticated>> {
        let verified = match self.tokens.verify(access_token) {
            Ok(verified) => verified,
            Err(reason) => {
                tracing::debug!(%reason, "rejected access token");
                return Ok(None);
            }
        };
        match self.standing(verified.session_id).await? {
            Standing::Active(caller) if caller.user_id == verified.caller.user_id => {
                Ok(Some(Authenticated {
                    caller,
                    session_id: verified.session_id,
                    expires_at: verified.expires_at,
                }))
            }
            _ => {
                tracing::debug!(
                    session_id = verified.session_id,
                    "access token of an ended session"
                );
                Ok(None)
            }
        }
    }

    /// Whether the session still stands for the same user in the same role and clinic (a
    /// subscription socket is closed when it no longer does).
    pub async fn still_stands(&self, session_id: i64, caller: &Caller) -> AppResult<bool> {
        Ok(matches!(
            self.standing(session_id).await?,
            Standing::Active(now) if now == *caller
        ))
    }

    async fn end(&self, session_id: i64, reason: EndReason) -> AppResult<bool> {
        let ended = self.sessions.revoke(session_id, db::now(), reason).await?;
        self.standings.ended(session_id);
        Ok(ended)
    }

    /// Ends every session of `user_id` but `except`; how many ended. For rules of other
    /// parts of this module (a changed password, a disabled account).
    pub async fn end_all_of(
        &self,
        user_id: i64,
        except: Option<i64>,
        reason: EndReason,
    ) -> AppResult<usize> {
        let ended = self
            .sessions
            .revoke_all(user_id, except, db::now(), reason)
            .await?;
        for id in &ended {
            self.standings.ended(*id);
        }
        Ok(ended.len())
    }

    /// A session the caller may see: their own, or, for an ADMIN, one of a user of their
    /// clinic. Anything else is "not found".
    async fn visible(&self, caller: &Caller, session_id: i64) -> AppResult<SessionRow> {
        let row = self
            .sessions
            .find(session_id)
            .await?
            .ok_or(AppError::NotFound("session"))?;
        let own = row.user_id == caller.user_id && row.clinic_id == caller.clinic_id;
        let clinics = caller.role == Role::Admin && row.clinic_id == caller.clinic_id;
        if own || clinics {
            Ok(row)
        } else {
            Err(AppError::NotFound("session"))
        }
    }

    /// Ends a session: one of the caller's own, or, for an ADMIN, of a user of their clinic.
    pub async fn revoke(&self, caller: &Caller, session_id: i64) -> AppResult<Session> {
        let row = self.visible(caller, session_id).await?;
        self.end(row.id, EndReason::Revoked).await?;
        let row = self.visible(caller, session_id).await?;
        Ok(Session::of(&row, self.idle()))
    }

    /// Ends the caller's session `current` (the one their token belongs to).
    pub async fn logout(&self, caller: &Caller, current: i64) -> AppResult<Session> {
        let row = self.visible(caller, current).await?;
        if row.user_id != caller.user_id {
            return Err(AppError::NotFound("session"));
        }
        self.end(row.id, EndReason::Logout).await?;
        let row = self.visible(caller, current).await?;
        Ok(Session::of(&row, self.idle()))
    }

    /// Ends every session of the caller, the current one included; how many ended.
    pub async fn logout_everywhere(&self, caller: &Caller) -> AppResult<usize> {
        self.end_all_of(caller.user_id, None, EndReason::LogoutEverywhere)
            .await
    }

    /// Whose sessions the caller may list: their own, or an ADMIN those of their clinic's
    /// users. Another clinic's user is "not found".
    async fn owner(&self, caller: &Caller, user_id: i64) -> AppResult<LiveAt> {
        let allowed = user_id == caller.user_id
            || (caller.role == Role::Admin
                && self.users.find(caller.clinic_id, user_id).await?.is_some());
        if !allowed {
            return Err(AppError::NotFound("user"));
        }
        let now = db::now();
        Ok(LiveAt {
            user_id,
            clinic_id: caller.clinic_id,
            now,
            idle_since: now - self.idle(),
        })
    }

    /// The live sessions of `user_id`, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        user_id: i64,
        args: ConnectionArgs,
    ) -> AppResult<Page<Session>> {
        let of = self.owner(caller, user_id).await?;
        let request = args.parse::<i64>()?;
        let rows = self
            .sessions
            .live(of, request.cursor, request.limit + 1)
            .await?;
        let sessions = rows
            .iter()
            .map(|row| Session::of(row, self.idle()))
            .collect();
        Ok(Page::from_rows(sessions, &request))
    }

    pub async fn count(&self, caller: &Caller, user_id: i64) -> AppResult<i64> {
        let of = self.owner(caller, user_id).await?;
        Ok(self.sessions.count_live(of).await?)
    }

    /// Deletes, in the background and at most every [`SWEEP_EVERY_SECS`] per process,
    /// sessions that ended more than a lifetime ago (kept that long for whoever looks into an
    /// incident).
    fn sweep_now_and_then(&self) {
        if !self.sweeps.due() {
            return;
        }
        let sessions = self.sessions.clone();
        let before = db::now() - duration(self.settings.lifetime);
        let idle_before = before - self.idle();
        tokio::spawn(async move {
            match sessions.delete_ended(before, idle_before).await {
                Ok(deleted) => tracing::debug!(deleted, "sessions long ended deleted"),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "deleting ended sessions")
                }
            }
        });
    }
}
