//! Role guards and access to the request's caller from resolvers.
use async_graphql::{Context, Guard};

use crate::audit_trail::{self, Refused};
use crate::audit_trail::{AuditEntity, Audited};
use crate::core::auth::{Caller, Role};
use crate::core::context::RequestContext;
use crate::core::error::{AppError, AppResult};

/// The caller of this request, or UNAUTHENTICATED.
pub fn caller<'a>(ctx: &Context<'a>) -> AppResult<&'a Caller> {
    ctx.data_opt::<RequestContext>()
        .ok_or(AppError::Unauthenticated)?
        .caller()
}

/// Lets a field run only for callers holding one of `roles`; FORBIDDEN otherwise. Refusals
/// of root mutations and of fields of audited records go into the audit trail.
pub struct RoleGuard {
    roles: &'static [Role],
    refused: Refused,
}

impl RoleGuard {
    pub fn new(roles: &'static [Role]) -> Self {
        Self {
            roles,
            refused: Refused::Mutation,
        }
    }

    /// A guard on a field of `record`, so a refusal is recorded against it.
    pub fn of(roles: &'static [Role], record: &impl Audited) -> Self {
        Self {
            roles,
            refused: Refused::FieldOf(record.audit_subject()),
        }
    }

    /// A guard on a root field that reads records of `entity`.
    pub fn reading(roles: &'static [Role], entity: AuditEntity) -> Self {
        Self {
            roles,
            refused: Refused::Read(entity),
        }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = caller(ctx)?;
        if caller.has_any_role(self.roles) {
            Ok(())
        } else {
            audit_trail::refused(ctx, self.refused);
            let allowed: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
            Err(AppError::forbidden(format!(
                "this field needs one of the roles {}",
                allowed.join(", ")
            ))
            .into())
        }
    }
}
