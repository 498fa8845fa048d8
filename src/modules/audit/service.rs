//! Reading the trail back: ADMIN of the clinic only.
use std::sync::Arc;

use super::model::{AuditEvent, AuditFilter};
use super::repository::AuditRepository;
use crate::core::auth::{Caller, Role};
use crate::core::error::{AppError, AppResult};
use crate::core::pagination::{ConnectionArgs, Page};

pub struct AuditService {
    events: Arc<dyn AuditRepository>,
}

impl AuditService {
    pub fn new(events: Arc<dyn AuditRepository>) -> Self {
        Self { events }
    }

    fn require_admin(caller: &Caller) -> AppResult<()> {
        if caller.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only an ADMIN may read the audit trail",
            ))
        }
    }

    /// The caller's clinic's events, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
        args: ConnectionArgs,
    ) -> AppResult<Page<AuditEvent>> {
        Self::require_admin(caller)?;
        let request = args.parse_timed()?;
        let rows = self.events.list(caller.clinic_id, filter, &request).await?;
        Ok(Page::from_rows(rows, &request))
    }

    pub async fn count(&self, caller: &Caller, filter: &AuditFilter) -> AppResult<i64> {
        Self::require_admin(caller)?;
        Ok(self.events.count(caller.clinic_id, filter).await?)
    }
}
