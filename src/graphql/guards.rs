//! Role guards and access to the request's caller from resolvers.
use async_graphql::{Context, Guard};

use crate::core::auth::{Caller, Role};
use crate::core::context::RequestContext;
use crate::core::error::{AppError, AppResult};

/// The caller of this request, or UNAUTHENTICATED.
pub fn caller<'a>(ctx: &Context<'a>) -> AppResult<&'a Caller> {
    ctx.data_opt::<RequestContext>()
        .ok_or(AppError::Unauthenticated)?
        .caller()
}

/// Lets a field run only for callers holding one of `roles`; FORBIDDEN otherwise.
pub struct RoleGuard {
    roles: &'static [Role],
}

impl RoleGuard {
    pub fn new(roles: &'static [Role]) -> Self {
        Self { roles }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = caller(ctx)?;
        if caller.has_any_role(self.roles) {
            Ok(())
        } else {
            let allowed: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
            Err(AppError::forbidden(format!(
                "this field needs one of the roles {}",
                allowed.join(", ")
            ))
            .into())
        }
    }
}
