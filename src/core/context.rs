//! What every resolver knows about the request it serves.
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::auth::Caller;
use super::error::{AppError, AppResult};

/// Attached to each GraphQL request by the HTTP layer.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    /// The client's address, for rate limits (never logged with personal data).
    pub client_ip: IpAddr,
    pub authentication: Authentication,
    /// The session the access token belongs to, when one was accepted.
    pub session_id: Option<i64>,
    /// The client's `User-Agent`, for the session a login starts (never logged).
    pub user_agent: Option<String>,
}

/// When a long-lived connection's token expires; its subscriptions end then.
#[derive(Debug, Clone, Copy)]
pub struct SessionExpiry(pub DateTime<Utc>);

impl SessionExpiry {
    /// Resolves when the connection's token expires (never, outside a connection): a stream
    /// ends there, so a revoked role does not keep listening.
    pub fn reached(
        ctx: &async_graphql::Context<'_>,
    ) -> futures_util::future::BoxFuture<'static, ()> {
        use futures_util::FutureExt;
        match ctx.data_opt::<SessionExpiry>() {
            Some(expiry) => {
                let left = (expiry.0 - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(left).boxed()
            }
            None => std::future::pending().boxed(),
        }
    }
}

/// The outcome of reading the `Authorization` header.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// No credentials were sent.
    Anonymous,
    Authenticated(Caller),
    /// Credentials were sent but are invalid (bad signature, expired, wrong audience, ...).
    Rejected,
}

impl RequestContext {
    /// The caller's session, or UNAUTHENTICATED.
    pub fn session_id(&self) -> AppResult<i64> {
        self.session_id.ok_or(AppError::Unauthenticated)
    }

    /// The authenticated caller, or UNAUTHENTICATED.
    pub fn caller(&self) -> AppResult<&Caller> {
        match &self.authentication {
            Authentication::Authenticated(caller) => Ok(caller),
            Authentication::Anonymous | Authentication::Rejected => Err(AppError::Unauthenticated),
        }
    }
}
