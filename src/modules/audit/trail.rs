//! What one request saw and did, gathered while it runs. Resolvers and guards record here;
//! [`super::extension`] hands the whole trail to the writer when the request ends, so the
//! reads of one request cost one write, off the request's path.
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Context;

use super::model::{AuditAction, AuditEntity, AuditOutcome, Audited, PendingEvent, Subject};
use crate::core::context::RequestContext;
use crate::core::error::AppError;

/// Events that differ only in their records are one event naming them all: a page of 20
/// patients with their appointments is a few dozen rows, not hundreds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Group {
    action: AuditAction,
    entity: AuditEntity,
    patient_id: Option<i64>,
    field: Option<String>,
    outcome: AuditOutcome,
}

#[derive(Default)]
struct Gathered {
    events: Vec<PendingEvent>,
    index: HashMap<Group, usize>,
}

/// The events of one request (or of one event of a subscription).
#[derive(Default)]
pub struct AuditTrail {
    gathered: Mutex<Gathered>,
}

impl AuditTrail {
    fn add(&self, ctx: &Context<'_>, group: Group, entity_id: Option<i64>) {
        let Some(request) = ctx.data_opt::<RequestContext>() else {
            return;
        };
        // Without a caller nothing was read or changed: every field needs one.
        let Ok(caller) = request.caller() else {
            return;
        };
        let mut gathered = self.gathered.lock().unwrap_or_else(PoisonError::into_inner);
        let Gathered { events, index } = &mut *gathered;
        let position = *index.entry(group.clone()).or_insert_with(|| {
            events.push(PendingEvent {
                occurred_at: crate::db::now(),
                clinic_id: caller.clinic_id,
                actor_id: caller.user_id,
                actor_role: caller.role,
                action: group.action,
                entity: group.entity,
                entity_ids: Vec::new(),
                patient_id: group.patient_id,
                field: group.field,
                outcome: group.outcome,
                request_id: request.request_id.clone(),
                client_ip: request.client_ip,
            });
            events.len() - 1
        });
        if let Some(id) = entity_id {
            let ids = &mut events[position].entity_ids;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    /// Everything gathered so far, leaving the trail empty.
    pub fn take(&self) -> Vec<PendingEvent> {
        let mut gathered = self.gathered.lock().unwrap_or_else(PoisonError::into_inner);
        gathered.index.clear();
        std::mem::take(&mut gathered.events)
    }
}

fn trail<'a>(ctx: &Context<'a>) -> Option<&'a Arc<AuditTrail>> {
    ctx.data_opt::<Arc<AuditTrail>>()
}

/// `record` is being sent to the caller.
pub fn read(ctx: &Context<'_>, record: &impl Audited) {
    let Some(trail) = trail(ctx) else { return };
    let subject = record.audit_subject();
    let group = Group {
        action: AuditAction::Read,
        entity: subject.entity,
        patient_id: subject.patient_id,
        field: None,
        outcome: AuditOutcome::Allowed,
    };
    trail.add(ctx, group, Some(subject.id));
}

/// Reads one record of `entity` by the id the caller sent. A refusal ("not found": either it
/// does not exist or it is not theirs to see) is recorded against that id, which is the
/// caller's own input, so naming it leaks nothing. The record read is recorded by the object
/// that carries it to the caller.
pub async fn lookup<T, Fut>(
    ctx: &Context<'_>,
    entity: AuditEntity,
    key: Result<i64, AppError>,
    work: impl FnOnce(i64) -> Fut,
) -> Result<T, AppError>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    let id = key?;
    let outcome = work(id).await;
    if let (Err(error), Some(trail)) = (&outcome, trail(ctx))
        && is_refusal(error)
    {
        let group = Group {
            action: AuditAction::Read,
            entity,
            patient_id: None,
            field: None,
            outcome: AuditOutcome::Denied,
        };
        trail.add(ctx, group, Some(id));
    }
    outcome
}

/// What a guard that refuses the current field was guarding.
#[derive(Debug, Clone, Copy)]
pub enum Refused {
    /// A field of this record.
    FieldOf(Subject),
    /// A root field reading records of this type.
    Read(AuditEntity),
    /// A root mutation, found by name; a guard anywhere else records nothing.
    Mutation,
}

/// A guard refused the current field.
pub fn refused(ctx: &Context<'_>, refused: Refused) {
    let Some(trail) = trail(ctx) else { return };
    let field = ctx.item.node.name.node.as_str();
    let (action, entity, patient_id, id, field) = match refused {
        Refused::FieldOf(subject) => (
            AuditAction::Read,
            subject.entity,
            subject.patient_id,
            Some(subject.id),
            Some(field.to_owned()),
        ),
        Refused::Read(entity) => (
            AuditAction::Read,
            entity,
            None,
            None,
            Some(field.to_owned()),
        ),
        Refused::Mutation => {
            let is_root = ctx.path_node.is_some_and(|node| node.parent.is_none());
            let Some(action) = AuditAction::of_mutation(field).filter(|_| is_root) else {
                return;
            };
            (action, action.entity(), None, None, None)
        }
    };
    let group = Group {
        action,
        entity,
        patient_id,
        field,
        outcome: AuditOutcome::Denied,
    };
    trail.add(ctx, group, id);
}

/// Whether an error is the service refusing access (rather than bad input or a fault).
fn is_refusal(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Forbidden(_)
            | AppError::NotFound(_)
            | AppError::PatientNotFound
            | AppError::Unauthenticated
    )
}

/// The outcome of a mutation: the record it wrote, or why it was refused. `target` is the
/// record the caller named, if any. Failures that are not refusals (invalid input, conflicts)
/// changed nothing and revealed nothing, so they leave no event.
pub fn changed<T: Audited>(
    ctx: &Context<'_>,
    action: AuditAction,
    target: Option<i64>,
    outcome: &Result<T, AppError>,
) {
    let Some(trail) = trail(ctx) else { return };
    let (patient_id, id, outcome) = match outcome {
        Ok(record) => {
            let subject = record.audit_subject();
            (subject.patient_id, Some(subject.id), AuditOutcome::Allowed)
        }
        Err(error) if is_refusal(error) => (None, target, AuditOutcome::Denied),
        Err(_) => return,
    };
    let group = Group {
        action,
        entity: action.entity(),
        patient_id,
        field: None,
        outcome,
    };
    trail.add(ctx, group, id);
}

/// Runs a write on the record `target` names and records its outcome. A target that names no
/// record (a malformed or foreign id) is refused as not found, and recorded so.
pub async fn write<T, Fut>(
    ctx: &Context<'_>,
    action: AuditAction,
    target: Result<i64, AppError>,
    work: impl FnOnce(i64) -> Fut,
) -> Result<T, AppError>
where
    T: Audited,
    Fut: Future<Output = Result<T, AppError>>,
{
    let key = target.as_ref().ok().copied();
    let outcome = match target {
        Ok(key) => work(key).await,
        Err(error) => Err(error),
    };
    changed(ctx, action, key, &outcome);
    outcome
}

/// Runs a write that creates a record and records its outcome.
pub async fn create<T: Audited>(
    ctx: &Context<'_>,
    action: AuditAction,
    work: impl Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let outcome = work.await;
    changed(ctx, action, None, &outcome);
    outcome
}
