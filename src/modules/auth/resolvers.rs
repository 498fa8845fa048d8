//! `login` and `me`.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::model::User;
use super::service::AuthService;
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

/// A bearer token for the `Authorization` header, and who it is for.
#[derive(SimpleObject)]
pub struct LoginPayload {
    pub access_token: String,
    pub expires_at: Timestamp,
    pub user: UserObject,
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
    /// Exchanges email and password for an access token. The only operation that needs none.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(secret)] password: String,
    ) -> Result<LoginPayload> {
        let client_ip = ctx.data::<RequestContext>()?.client_ip;
        let session = service(ctx)?.login(client_ip, &email, &password).await?;
        Ok(LoginPayload {
            access_token: session.access_token,
            expires_at: session.expires_at.into(),
            user: UserObject(session.user),
        })
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
