//! `login`, `me` and `unlockUser`.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::model::User;
use super::service::{AuthService, Client};
use super::session::resolvers::LoginPayload;
use crate::audit_trail;
use crate::audit_trail::AuditAction;
use crate::core::auth::Role;
use crate::core::context::RequestContext;
use crate::core::error::AppError;
use crate::core::ids::{self, NodeType};
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Timestamp;
use crate::modules::patient::PatientObject;
use crate::modules::patient::PatientService;

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Arc<AuthService>> {
    ctx.data::<Arc<AuthService>>()
}

/// A user account of the caller's clinic.
pub struct UserObject(pub User);

#[Object(name = "User")]
impl UserObject {
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::User, self.0.id).into()
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn role(&self) -> Role {
        self.0.role
    }

    /// For a PATIENT account: their own patient record.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Option<PatientObject>> {
        let Some(patient_id) = self.0.patient_id else {
            return Ok(None);
        };
        let patient = ctx
            .data::<Arc<PatientService>>()?
            .get(caller(ctx)?, patient_id)
            .await?;
        Ok(Some(PatientObject::read(ctx, patient)))
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at.and_utc().into()
    }
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The caller.
    async fn me(&self, ctx: &Context<'_>) -> Result<UserObject> {
        Ok(UserObject(service(ctx)?.me(caller(ctx)?).await?))
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Exchanges email and password for a new session's tokens: an access token and a
    /// refresh token (see `refreshSession`). With `refreshSession`, the only operations that
    /// need no access token.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(secret)] password: String,
    ) -> Result<LoginPayload> {
        let request = ctx.data::<RequestContext>()?;
        let client = Client {
            ip: request.client_ip,
            user_agent: request.user_agent.as_deref(),
        };
        let locked = |user: &User| {
            audit_trail::login_locked(ctx, user.id, user.clinic_id, user.role);
        };
        let issued = service(ctx)?
            .login(client, &email, &password, locked)
            .await?;
        LoginPayload::issued(ctx, issued)
    }

    /// Lifts the failed-login limits of a user of the clinic: a pair of account and address
    /// locked by wrong passwords may try again at once (ADMIN). Locks otherwise end with
    /// `LOGIN_FAILURE_WINDOW_SECONDS`.
    #[graphql(guard = "RoleGuard::new(&[Role::Admin])")]
    async fn unlock_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserObject> {
        let (service, caller) = (service(ctx)?, caller(ctx)?);
        let key = ids::decode_as(NodeType::User, &id).ok_or(AppError::NotFound("user"));
        let user = audit_trail::write(ctx, AuditAction::UnlockUser, key, |id| {
            service.unlock(caller, id)
        })
        .await?;
        Ok(UserObject(user))
    }
}
