//! The audit trail of one request: what it saw and did, gathered while it runs. Resolvers and
//! guards record here; `modules::audit`'s extension hands the whole trail to its writer when
//! the request ends, so the
//! reads of one request cost one write, off the request's path.
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Context;

mod record;

use crate::core::auth::Role;
use crate::core::context::RequestContext;
use crate::core::error::AppError;
pub use record::{AuditAction, AuditEntity, AuditOutcome, Audited, PendingEvent, Subject};

/// Events that differ only in their records are one event naming them all, and the patients
/// they belong to: a page of 20 patients with their appointments and prescriptions is three
/// rows, one per kind of record.
#[derive(Debug)]
struct Group {
    action: AuditAction,
    entity: AuditEntity,
    field: Option<String>,
    outcome: AuditOutcome,
}

impl Group {
    fn holds(&self, event: &PendingEvent) -> bool {
        self.action == event.action
            && self.entity == event.entity
            && self.outcome == event.outcome
            && self.field == event.field
    }
}

/// One record acted on, and the patient whose data it is.
#[derive(Debug, Clone, Copy)]
struct Record {
    id: Option<i64>,
    patient_id: Option<i64>,
}

impl Record {
    const NONE: Record = Record {
        id: None,
        patient_id: None,
    };

    fn of(subject: Subject) -> Record {
        Record {
            id: Some(subject.id),
            patient_id: subject.patient_id,
        }
    }
}

/// The events of one request (or of one event of a subscription).
#[derive(Default)]
pub struct AuditTrail {
    events: Mutex<Vec<PendingEvent>>,
}

impl AuditTrail {
    fn add(&self, ctx: &Context<'_>, group: Group, record: Record) {
        let Some(request) = ctx.data_opt::<RequestContext>() else {
            return;
        };
        // Without a caller nothing was read or changed: every field needs one.
        let Ok(caller) = request.caller() else {
            return;
        };
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        // A request makes a handful of groups, so a scan is cheaper than hashing per record.
        let position = match events.iter().position(|event| group.holds(event)) {
            Some(position) => position,
            None => {
                events.push(PendingEvent {
                    occurred_at: crate::db::now(),
                    clinic_id: caller.clinic_id,
                    actor_id: caller.user_id,
                    actor_role: caller.role,
                    action: group.action,
                    entity: group.entity,
                    entity_ids: Vec::new(),
                    patient_ids: Vec::new(),
                    field: group.field,
                    outcome: group.outcome,
                    request_id: request.request_id.clone(),
                    client_ip: request.client_ip,
                });
                events.len() - 1
            }
        };
        let event = &mut events[position];
        event.entity_ids.extend(record.id);
        event.patient_ids.extend(record.patient_id);
    }

    /// Everything gathered so far, leaving the trail empty. A record or patient met twice
    /// (one patient's ten appointments) is named once.
    pub fn take(&self) -> Vec<PendingEvent> {
        let mut events =
            std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner));
        for event in &mut events {
            for ids in [&mut event.entity_ids, &mut event.patient_ids] {
                ids.sort_unstable();
                ids.dedup();
            }
        }
        events
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
        field: None,
        outcome: AuditOutcome::Allowed,
    };
    trail.add(ctx, group, Record::of(subject));
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
            field: None,
            outcome: AuditOutcome::Denied,
        };
        let record = Record {
            id: Some(id),
            patient_id: None,
        };
        trail.add(ctx, group, record);
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
    let field = ctx.field().name();
    let (action, entity, record, field) = match refused {
        Refused::FieldOf(subject) => (
            AuditAction::Read,
            subject.entity,
            Record::of(subject),
            Some(field.to_owned()),
        ),
        Refused::Read(entity) => (
            AuditAction::Read,
            entity,
            Record::NONE,
            Some(field.to_owned()),
        ),
        Refused::Mutation => {
            let is_root = ctx.path_node.is_some_and(|node| node.parent.is_none());
            let Some(action) = AuditAction::of_mutation(field).filter(|_| is_root) else {
                return;
            };
            (action, action.entity(), Record::NONE, None)
        }
    };
    let group = Group {
        action,
        entity,
        field,
        outcome: AuditOutcome::Denied,
    };
    trail.add(ctx, group, record);
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
    let (record, outcome) = match outcome {
        Ok(record) => (Record::of(record.audit_subject()), AuditOutcome::Allowed),
        Err(error) if is_refusal(error) => {
            let record = Record {
                id: target,
                patient_id: None,
            };
            (record, AuditOutcome::Denied)
        }
        Err(_) => return,
    };
    let group = Group {
        action,
        entity: action.entity(),
        field: None,
        outcome,
    };
    trail.add(ctx, group, record);
}

/// Failed logins from the request's address locked the account `user_id` (of `clinic_id`,
/// in `role`) for that address. No one is signed in: the account the guesses were aimed at is
/// named as the actor, and the request's address is where they came from.
pub fn login_locked(ctx: &Context<'_>, user_id: i64, clinic_id: i64, role: Role) {
    let (Some(trail), Some(request)) = (trail(ctx), ctx.data_opt::<RequestContext>()) else {
        return;
    };
    let event = PendingEvent {
        occurred_at: crate::db::now(),
        clinic_id,
        actor_id: user_id,
        actor_role: role,
        action: AuditAction::LoginLocked,
        entity: AuditEntity::User,
        entity_ids: vec![user_id],
        patient_ids: Vec::new(),
        field: None,
        outcome: AuditOutcome::Denied,
        request_id: request.request_id.clone(),
        client_ip: request.client_ip,
    };
    trail
        .events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(event);
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
