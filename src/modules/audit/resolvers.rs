//! `auditEvents`: the trail, for the clinic's ADMIN.
use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::model::{AuditAction, AuditEntity, AuditEvent, AuditFilter, AuditOutcome};
use super::service::AuditService;
use crate::core::auth::Role;
use crate::core::error::{AppError, AppResult};
use crate::core::ids::{self, NodeType};
use crate::core::pagination::{ConnectionArgs, KeyCursor};
use crate::graphql::connection::{Connection, page_cost, respond};
use crate::graphql::guards::{RoleGuard, caller};
use crate::graphql::scalars::Timestamp;

/// Who acted, as they were when they did.
#[derive(SimpleObject)]
pub struct AuditActor {
    /// The user's global id.
    pub id: ID,
    pub email: String,
    /// Null only if the stored role is not one this schema knows.
    pub role: Option<Role>,
}

#[derive(Clone)]
pub struct AuditEventObject(pub AuditEvent);

/// A record's id as the rest of the API spells it (jobs are not nodes: plain numbers).
fn record_id(entity: AuditEntity, id: i64) -> ID {
    let node_type = match entity {
        AuditEntity::Patient => NodeType::Patient,
        AuditEntity::Appointment => NodeType::Appointment,
        AuditEntity::Prescription => NodeType::Prescription,
        AuditEntity::Doctor => NodeType::Doctor,
        AuditEntity::User => NodeType::User,
        AuditEntity::PatientFile => NodeType::PatientFile,
        AuditEntity::Job => return id.to_string().into(),
    };
    ids::encode(node_type, id).into()
}

impl AuditEventObject {
    fn entity(&self) -> AppResult<AuditEntity> {
        AuditEntity::parse(&self.0.entity_type)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown audit entity")))
    }
}

/// One access decision: who read or changed which records, when, and whether it was allowed.
/// The reads of one request are one event per patient and kind of record.
#[Object(name = "AuditEvent")]
impl AuditEventObject {
    async fn id(&self) -> ID {
        self.0.id.to_string().into()
    }

    async fn occurred_at(&self) -> Timestamp {
        self.0.occurred_at.and_utc().into()
    }

    async fn actor(&self) -> AuditActor {
        AuditActor {
            id: ids::encode(NodeType::User, self.0.actor_id).into(),
            email: self.0.actor_email.clone(),
            role: self.0.actor_role.parse().ok(),
        }
    }

    async fn action(&self) -> Result<AuditAction> {
        Ok(AuditAction::parse(&self.0.action)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown audit action")))?)
    }

    async fn entity_type(&self) -> Result<AuditEntity> {
        Ok(self.entity()?)
    }

    /// The records acted on (global ids); empty when a refused write named none.
    async fn entity_ids(&self) -> Result<Vec<ID>> {
        let entity = self.entity()?;
        Ok(self
            .0
            .entity_ids()
            .into_iter()
            .map(|id| record_id(entity, id))
            .collect())
    }

    /// The patients whose data the records are (global ids); empty for records that are no
    /// patient's data.
    async fn patient_ids(&self) -> Vec<ID> {
        self.0
            .patient_ids()
            .into_iter()
            .map(|id| ids::encode(NodeType::Patient, id).into())
            .collect()
    }

    /// The patient whose data this is (global id), when the event is about exactly one.
    #[graphql(
        deprecation = "An event names every patient whose records it covers: use `patientIds`."
    )]
    async fn patient_id(&self) -> Option<ID> {
        match self.0.patient_ids().as_slice() {
            [only] => Some(ids::encode(NodeType::Patient, *only).into()),
            _ => None,
        }
    }

    /// For a refused read of one field: the field.
    async fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    async fn outcome(&self) -> AuditOutcome {
        if self.0.outcome == AuditOutcome::Denied.as_str() {
            AuditOutcome::Denied
        } else {
            AuditOutcome::Allowed
        }
    }

    /// The `X-Request-Id` of the request, to find its log lines.
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }

    async fn client_ip(&self) -> &str {
        &self.0.client_ip
    }
}

/// Which events to list; every part optional.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    /// Events about this patient's data.
    pub patient_id: Option<ID>,
    /// Events of this user (a user's global id).
    pub actor_id: Option<ID>,
    pub action: Option<AuditAction>,
    /// From this time on (inclusive).
    pub from: Option<Timestamp>,
    /// Before this time (exclusive).
    pub to: Option<Timestamp>,
}

impl AuditEventFilter {
    /// An id of another type matches nothing rather than being an error, like any filter.
    fn into_filter(self) -> AuditFilter {
        AuditFilter {
            patient_id: self
                .patient_id
                .map(|id| ids::decode_as(NodeType::Patient, &id).unwrap_or(-1)),
            actor_id: self
                .actor_id
                .map(|id| ids::decode_as(NodeType::User, &id).unwrap_or(-1)),
            action: self.action,
            from: self.from.map(|t| t.0.naive_utc()),
            to: self.to.map(|t| t.0.naive_utc()),
        }
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Who saw or changed what in the caller's clinic, newest first. ADMIN only.
    #[graphql(
        guard = "RoleGuard::new(&[Role::Admin])",
        complexity = "page_cost(first, None, child_complexity)"
    )]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<AuditEventObject>> {
        let args = ConnectionArgs {
            first,
            after,
            ..Default::default()
        };
        let filter = filter.unwrap_or_default().into_filter();
        let caller = caller(ctx)?;
        let service = ctx.data::<Arc<AuditService>>()?;
        let page = service.list(caller, &filter, args).await?;
        let count = service.count(caller, &filter);
        let cursor = |event: &AuditEvent| KeyCursor::at(event.occurred_at, event.id);
        respond(ctx, page, count, cursor, AuditEventObject).await
    }
}
