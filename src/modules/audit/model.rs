//! Audit events: who saw or changed which health data, when, and whether it was allowed.
use std::net::IpAddr;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::core::auth::Role;
use crate::db::schema::audit_events;

pub use super::subject::{Audited, Subject};

/// What the actor did, or tried to do. Mutations are named after the operation.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Read,
    CreatePatient,
    UpdatePatient,
    DeletePatient,
    RestorePatient,
    CreateDoctor,
    UpdateDoctor,
    ScheduleAppointment,
    RescheduleAppointment,
    ConfirmAppointment,
    CheckInAppointment,
    CompleteAppointment,
    CancelAppointment,
    MarkNoShow,
    Prescribe,
    DiscontinuePrescription,
    RetryJob,
    /// Recorded by earlier versions, whose `backupDatabase` mutation is gone.
    #[graphql(deprecation = "backups are the operator's `clinicgraph backup` command")]
    BackupDatabase,
    ExportPatients,
    ClinicReport,
}

/// Each action with its stored (and GraphQL) name and, for a write, the root mutation field
/// that performs it: a role guard refusing a mutation finds the action here.
const ACTIONS: &[(AuditAction, &str, Option<&str>)] = &[
    (AuditAction::Read, "READ", None),
    (
        AuditAction::CreatePatient,
        "CREATE_PATIENT",
        Some("createPatient"),
    ),
    (
        AuditAction::UpdatePatient,
        "UPDATE_PATIENT",
        Some("updatePatient"),
    ),
    (
        AuditAction::DeletePatient,
        "DELETE_PATIENT",
        Some("deletePatient"),
    ),
    (
        AuditAction::RestorePatient,
        "RESTORE_PATIENT",
        Some("restorePatient"),
    ),
    (
        AuditAction::CreateDoctor,
        "CREATE_DOCTOR",
        Some("createDoctor"),
    ),
    (
        AuditAction::UpdateDoctor,
        "UPDATE_DOCTOR",
        Some("updateDoctor"),
    ),
    (
        AuditAction::ScheduleAppointment,
        "SCHEDULE_APPOINTMENT",
        Some("scheduleAppointment"),
    ),
    (
        AuditAction::RescheduleAppointment,
        "RESCHEDULE_APPOINTMENT",
        Some("rescheduleAppointment"),
    ),
    (
        AuditAction::ConfirmAppointment,
        "CONFIRM_APPOINTMENT",
        Some("confirmAppointment"),
    ),
    (
        AuditAction::CheckInAppointment,
        "CHECK_IN_APPOINTMENT",
        Some("checkInAppointment"),
    ),
    (
        AuditAction::CompleteAppointment,
        "COMPLETE_APPOINTMENT",
        Some("completeAppointment"),
    ),
    (
        AuditAction::CancelAppointment,
        "CANCEL_APPOINTMENT",
        Some("cancelAppointment"),
    ),
    (AuditAction::MarkNoShow, "MARK_NO_SHOW", Some("markNoShow")),
    (AuditAction::Prescribe, "PRESCRIBE", Some("prescribe")),
    (
        AuditAction::DiscontinuePrescription,
        "DISCONTINUE_PRESCRIPTION",
        Some("discontinuePrescription"),
    ),
    (AuditAction::RetryJob, "RETRY_JOB", Some("retryJob")),
    (AuditAction::BackupDatabase, "BACKUP_DATABASE", None),
    (
        AuditAction::ExportPatients,
        "EXPORT_PATIENTS",
        Some("exportPatients"),
    ),
    (
        AuditAction::ClinicReport,
        "CLINIC_REPORT",
        Some("clinicReport"),
    ),
];

impl AuditAction {
    /// The action of a root mutation field, by its schema name.
    pub fn of_mutation(field: &str) -> Option<AuditAction> {
        ACTIONS
            .iter()
            .find(|(_, _, mutation)| *mutation == Some(field))
            .map(|(action, _, _)| *action)
    }

    /// The entity type a mutation acts on (READ: whatever was read).
    pub fn entity(self) -> AuditEntity {
        match self {
            AuditAction::Read
            | AuditAction::CreatePatient
            | AuditAction::UpdatePatient
            | AuditAction::DeletePatient
            | AuditAction::RestorePatient => AuditEntity::Patient,
            AuditAction::CreateDoctor | AuditAction::UpdateDoctor => AuditEntity::Doctor,
            AuditAction::ScheduleAppointment
            | AuditAction::RescheduleAppointment
            | AuditAction::ConfirmAppointment
            | AuditAction::CheckInAppointment
            | AuditAction::CompleteAppointment
            | AuditAction::CancelAppointment
            | AuditAction::MarkNoShow => AuditEntity::Appointment,
            AuditAction::Prescribe | AuditAction::DiscontinuePrescription => {
                AuditEntity::Prescription
            }
            AuditAction::RetryJob
            | AuditAction::BackupDatabase
            | AuditAction::ExportPatients
            | AuditAction::ClinicReport => AuditEntity::Job,
        }
    }

    pub fn as_str(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(action, _, _)| *action == self)
            .map_or("UNKNOWN", |(_, name, _)| name)
    }

    pub fn parse(stored: &str) -> Option<AuditAction> {
        ACTIONS
            .iter()
            .find(|(_, name, _)| *name == stored)
            .map(|(action, _, _)| *action)
    }
}

/// The kind of record an event is about.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEntity {
    Patient,
    Appointment,
    Prescription,
    Doctor,
    Job,
}

impl AuditEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEntity::Patient => "PATIENT",
            AuditEntity::Appointment => "APPOINTMENT",
            AuditEntity::Prescription => "PRESCRIPTION",
            AuditEntity::Doctor => "DOCTOR",
            AuditEntity::Job => "JOB",
        }
    }

    pub fn parse(stored: &str) -> Option<AuditEntity> {
        [
            AuditEntity::Patient,
            AuditEntity::Appointment,
            AuditEntity::Prescription,
            AuditEntity::Doctor,
            AuditEntity::Job,
        ]
        .into_iter()
        .find(|entity| entity.as_str() == stored)
    }
}

/// Whether the access was granted.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Allowed,
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Allowed => "ALLOWED",
            AuditOutcome::Denied => "DENIED",
        }
    }
}

/// An event waiting to be written; the actor's email is looked up when it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub occurred_at: NaiveDateTime,
    pub clinic_id: i64,
    pub actor_id: i64,
    pub actor_role: Role,
    pub action: AuditAction,
    pub entity: AuditEntity,
    pub entity_ids: Vec<i64>,
    /// The patients whose data the records are.
    pub patient_ids: Vec<i64>,
    pub field: Option<String>,
    pub outcome: AuditOutcome,
    pub request_id: String,
    pub client_ip: IpAddr,
}

// NULL rather than DEFAULT for a missing value: SQLite's multi-row INSERT has no DEFAULT.
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct NewAuditEvent {
    pub occurred_at: NaiveDateTime,
    pub clinic_id: i64,
    pub actor_id: i64,
    pub actor_email: String,
    pub actor_role: String,
    pub action: String,
    pub entity_type: String,
    pub entity_ids: String,
    pub field: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub client_ip: String,
    pub patient_ids: String,
    /// Shared by the events of one request in one write: the trail's patient index names
    /// the group, not each event (migration 000011).
    pub group_id: i64,
}

/// Ids as stored: comma-separated.
fn join_ids(ids: &[i64]) -> String {
    let mut joined = String::with_capacity(ids.len() * 8);
    let mut digits = itoa::Buffer::new();
    for id in ids {
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(digits.format(*id));
    }
    joined
}

fn split_ids(stored: &str) -> Vec<i64> {
    stored.split(',').filter_map(|id| id.parse().ok()).collect()
}

impl NewAuditEvent {
    pub fn new(event: &PendingEvent, actor_email: String, group_id: i64) -> Self {
        Self {
            occurred_at: event.occurred_at,
            clinic_id: event.clinic_id,
            actor_id: event.actor_id,
            actor_email,
            actor_role: event.actor_role.as_str().to_owned(),
            action: event.action.as_str().to_owned(),
            entity_type: event.entity.as_str().to_owned(),
            entity_ids: join_ids(&event.entity_ids),
            patient_ids: join_ids(&event.patient_ids),
            field: event.field.clone(),
            outcome: event.outcome.as_str().to_owned(),
            request_id: event.request_id.clone(),
            client_ip: event.client_ip.to_string(),
            group_id,
        }
    }
}

/// A stored event.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub clinic_id: i64,
    pub actor_id: i64,
    pub actor_email: String,
    pub actor_role: String,
    pub action: String,
    pub entity_type: String,
    pub entity_ids: String,
    pub field: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub client_ip: String,
    pub patient_ids: String,
}

impl AuditEvent {
    pub fn entity_ids(&self) -> Vec<i64> {
        split_ids(&self.entity_ids)
    }

    pub fn patient_ids(&self) -> Vec<i64> {
        split_ids(&self.patient_ids)
    }
}

/// Which events an ADMIN asks for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub patient_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub action: Option<AuditAction>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_but_login_has_an_action() {
        let sdl = crate::graphql::sdl();
        let mutations = sdl
            .split("type Mutation {")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("a Mutation type");
        let mut in_description = false;
        let mut names = Vec::new();
        for line in mutations.lines().map(str::trim) {
            if line == "\"\"\"" {
                in_description = !in_description;
            } else if !in_description && !line.is_empty() {
                names.extend(line.split(['(', ':']).next());
            }
        }
        assert!(names.len() > 10, "{names:?}");
        for name in names.into_iter().filter(|name| *name != "login") {
            assert!(
                AuditAction::of_mutation(name).is_some(),
                "{name} has no audit action"
            );
        }
    }

    #[test]
    fn ids_are_stored_comma_separated() {
        assert_eq!(join_ids(&[]), "");
        assert_eq!(join_ids(&[7]), "7");
        assert_eq!(
            join_ids(&[1, 22, -3, i64::MAX]),
            "1,22,-3,9223372036854775807"
        );
    }

    #[test]
    fn stored_names_read_back() {
        for (action, name, _) in ACTIONS {
            assert_eq!(action.as_str(), *name);
            assert_eq!(AuditAction::parse(name), Some(*action));
        }
        for entity in [
            AuditEntity::Patient,
            AuditEntity::Appointment,
            AuditEntity::Prescription,
            AuditEntity::Doctor,
        ] {
            assert_eq!(AuditEntity::parse(entity.as_str()), Some(entity));
        }
    }
}
