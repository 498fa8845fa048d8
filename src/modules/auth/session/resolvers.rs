//! `refreshSession`, `logout`, `logoutEverywhere`, `mySessions`, `userSessions`,
//! `revokeSession` and `changePassword`; and the answer a login or a refresh gives.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use futures_util::TryFutureExt;

use super::cookie;
use super::model::Session;
use super::service::{Issued, SessionService};
use crate::audit_trail;
use crate::audit_trail::AuditAction;
use crate::core::context::RequestContext;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::ConnectionArgs;
use crate::graphql::connection::{Connection, page_cost, respond};
use crate::graphql::guards::caller;
use crate::graphql::scalars::Timestamp;
use crate::modules::auth::resolvers::UserObject;
use crate::modules::auth::service::AuthService;

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<SessionService>> {
    ctx.data::<Arc<SessionService>>()
}

fn session_key(id: &ID) -> AppResult<i64> {
    id.parse().map_err(|_| AppError::NotFound("session"))
}

/// A signed-in session: one login on one device, continued by refreshes.
#[derive(Clone)]
pub struct SessionObject {
    session: Session,
    current: bool,
}

impl SessionObject {
    fn of(ctx: &Context<'_>, session: Session) -> Self {
        let current = ctx
            .data_opt::<RequestContext>()
            .and_then(|request| request.session_id)
            == Some(session.id);
        Self { session, current }
    }
}

#[Object(name = "Session")]
impl SessionObject {
    async fn id(&self) -> ID {
        self.session.id.to_string().into()
    }

    /// When the login that started it happened.
    async fn created_at(&self) -> Timestamp {
        self.session.created_at.and_utc().into()
    }

    /// When it was last refreshed (or started): its access tokens were issued then.
    async fn last_used_at(&self) -> Timestamp {
        self.session.last_used_at.and_utc().into()
    }

    /// When it ends however active it is (`SESSION_LIFETIME_SECONDS` after the login).
    async fn expires_at(&self) -> Timestamp {
        self.session.expires_at.and_utc().into()
    }

    /// When it ends unless refreshed before (`SESSION_IDLE_SECONDS` after its last use).
    async fn idle_expires_at(&self) -> Timestamp {
        self.session.idle_expires_at.and_utc().into()
    }

    /// The client address the login came from.
    async fn ip_address(&self) -> &str {
        &self.session.client_ip
    }

    /// The `User-Agent` the login was sent with, as sent (at most 256 characters).
    async fn user_agent(&self) -> Option<&str> {
        self.session.user_agent.as_deref()
    }

    /// Whether this is the session of the token the request was sent with.
    async fn current(&self) -> bool {
        self.current
    }

    /// When it was ended (logout, revocation, a changed password); null while it stands.
    async fn revoked_at(&self) -> Option<Timestamp> {
        self.session.revoked_at.map(|at| at.and_utc().into())
    }
}

impl crate::audit_trail::Audited for SessionObject {
    fn audit_subject(&self) -> crate::audit_trail::Subject {
        self.session.audit_subject()
    }
}

/// A session's tokens: the access token for the `Authorization` header, and the refresh token
/// that gets the next pair (`refreshSession`, or `POST /auth/refresh` with the cookie).
#[derive(SimpleObject)]
pub struct LoginPayload {
    /// Send as `Authorization: Bearer <accessToken>` until `expiresAt`.
    pub access_token: String,
    pub expires_at: Timestamp,
    /// Exchanged for new tokens by `refreshSession` before `refreshExpiresAt`; each use
    /// replaces it, and an old one used again ends the session. Browsers also receive it as
    /// the `HttpOnly` cookie `cg_refresh`, sent only to `POST /auth/refresh`.
    pub refresh_token: String,
    pub refresh_expires_at: Timestamp,
    pub session: SessionObject,
    pub user: UserObject,
}

impl LoginPayload {
    /// The answer of a login or a refresh; sets the refresh cookie on the HTTP answer.
    pub fn issued(ctx: &Context<'_>, issued: Issued) -> Result<Self> {
        let secure = service(ctx)?.settings().cookie_secure;
        ctx.append_http_header(
            axum::http::header::SET_COOKIE,
            cookie::set(
                &issued.refresh_token,
                issued.session.expires_at.and_utc(),
                secure,
            ),
        );
        Ok(Self {
            access_token: issued.access_token,
            expires_at: issued.expires_at.into(),
            refresh_token: issued.refresh_token,
            refresh_expires_at: issued.refresh_expires_at.into(),
            session: SessionObject {
                session: issued.session,
                current: true,
            },
            user: UserObject(issued.user),
        })
    }
}

fn clear_cookie(ctx: &Context<'_>) -> Result<()> {
    let secure = service(ctx)?.settings().cookie_secure;
    ctx.append_http_header(axum::http::header::SET_COOKIE, cookie::clear(secure));
    Ok(())
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The caller's live sessions, newest first.
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn my_sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<SessionObject>> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        sessions_of(ctx, service, caller.user_id, first, after).await
    }

    /// The live sessions of a user of the caller's clinic, newest first: the caller's own, or
    /// for an ADMIN anyone's of the clinic. Another user is "not found".
    #[graphql(complexity = "page_cost(first, None, child_complexity)")]
    async fn user_sessions(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<SessionObject>> {
        let service = service(ctx)?;
        let user_id = ids::decode_as(NodeType::User, &user_id).ok_or(AppError::NotFound("user"))?;
        sessions_of(ctx, service, user_id, first, after).await
    }
}

async fn sessions_of(
    ctx: &Context<'_>,
    service: &SessionService,
    user_id: i64,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<SessionObject>> {
    let caller = caller(ctx)?;
    let args = ConnectionArgs {
        first,
        after,
        ..Default::default()
    };
    let page = service.list(caller, user_id, args).await?;
    let count = service.count(caller, user_id);
    let cursor = |session: &Session| session.id;
    respond(ctx, page, count, cursor, |session| {
        SessionObject::of(ctx, session)
    })
    .await
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Exchanges a refresh token for a new access token and a new refresh token; the one sent
    /// stops working. Needs no access token. Sent again within a few seconds (a lost answer),
    /// the same token gets the same answer; sent again later, it ends the session, since
    /// someone else holds a copy: INVALID_REFRESH_TOKEN, and the user signs in again.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<LoginPayload> {
        match service(ctx)?.refresh(&refresh_token).await {
            Ok(issued) => LoginPayload::issued(ctx, issued),
            Err(error) => {
                clear_cookie(ctx)?;
                Err(error.into())
            }
        }
    }

    /// Ends the session of the token the request was sent with: its access and refresh tokens
    /// stop working (on every instance within seconds), and the refresh cookie is cleared.
    async fn logout(&self, ctx: &Context<'_>) -> Result<SessionObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let current = ctx.data::<RequestContext>()?.session_id()?;
        // The trail names the user whose session it was (a session id is no record of its
        // own there).
        let ended = service
            .logout(caller, current)
            .map_ok(|session| SessionObject {
                session,
                current: true,
            });
        let session = audit_trail::create(ctx, AuditAction::Logout, ended).await?;
        clear_cookie(ctx)?;
        Ok(session)
    }

    /// Ends every session of the caller, this one included; how many ended.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> Result<i32> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let ended = service.logout_everywhere(caller).await?;
        let me = crate::audit_trail::Subject {
            entity: crate::audit_trail::AuditEntity::User,
            id: caller.user_id,
            patient_id: None,
        };
        audit_trail::changed(
            ctx,
            AuditAction::LogoutEverywhere,
            None,
            &Ok::<_, AppError>(me),
        );
        clear_cookie(ctx)?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Ends a session: one of the caller's own, or for an ADMIN one of a user of their
    /// clinic. Another's is "not found".
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<SessionObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let revoked = async { service.revoke(caller, session_key(&id)?).await };
        let session = audit_trail::create(ctx, AuditAction::RevokeSession, revoked).await?;
        Ok(SessionObject::of(ctx, session))
    }

    /// Replaces the caller's password (at least 12 characters), given the current one, and
    /// ends their other sessions; this one stays. A wrong current password counts as a
    /// failed login.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] current_password: String,
        #[graphql(secret)] new_password: String,
    ) -> Result<UserObject> {
        let caller = caller(ctx)?;
        let request = ctx.data::<RequestContext>()?;
        let auth = ctx.data::<Arc<AuthService>>()?;
        let current = request.session_id()?;
        let user = audit_trail::write(ctx, AuditAction::ChangePassword, Ok(caller.user_id), |_| {
            auth.change_password(
                caller,
                current,
                request.client_ip,
                &current_password,
                &new_password,
                |user| audit_trail::login_locked(ctx, user.id, user.clinic_id, user.role),
            )
        })
        .await?;
        Ok(UserObject(user))
    }
}
