//! What the trail records: actions, kinds of record, outcomes, and how a record names itself.
//! Every feature module describes its records in these terms (`Audited`), so the trail needs
//! to know none of them.
use std::net::IpAddr;

use chrono::NaiveDateTime;

use crate::core::auth::Role;

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
    /// An ADMIN had the clinic's health data sealed again under the current data key.
    RotateDataKeys,
    /// An ADMIN lifted the failed-login counts of an account.
    UnlockUser,
    /// Failed logins locked an account for an address. The actor is the account the guesses
    /// were aimed at (no one signed in), the client address the one they came from.
    LoginLocked,
    /// A user ended their session.
    Logout,
    /// A user ended all their sessions.
    LogoutEverywhere,
    /// A user, or their clinic's ADMIN, ended one of the user's sessions.
    RevokeSession,
    /// A user replaced their password (their other sessions ended).
    ChangePassword,
    /// A staff member asked to upload a patient's photo or document.
    RequestUpload,
    /// The upload's bytes were handed to processing.
    CompleteUpload,
    /// A photo or document sent in a GraphQL multipart request.
    UploadPatientFile,
    /// A patient's photo or document was downloaded (through its link).
    DownloadFile,
    /// An ADMIN had a deleted patient's files erased from storage.
    PurgePatientFiles,
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
    (
        AuditAction::RotateDataKeys,
        "ROTATE_DATA_KEYS",
        Some("rotateDataKeys"),
    ),
    (AuditAction::UnlockUser, "UNLOCK_USER", Some("unlockUser")),
    (AuditAction::LoginLocked, "LOGIN_LOCKED", None),
    (AuditAction::Logout, "LOGOUT", Some("logout")),
    (
        AuditAction::LogoutEverywhere,
        "LOGOUT_EVERYWHERE",
        Some("logoutEverywhere"),
    ),
    (
        AuditAction::RevokeSession,
        "REVOKE_SESSION",
        Some("revokeSession"),
    ),
    (
        AuditAction::ChangePassword,
        "CHANGE_PASSWORD",
        Some("changePassword"),
    ),
    (
        AuditAction::RequestUpload,
        "REQUEST_UPLOAD",
        Some("requestUpload"),
    ),
    (
        AuditAction::CompleteUpload,
        "COMPLETE_UPLOAD",
        Some("completeUpload"),
    ),
    (
        AuditAction::UploadPatientFile,
        "UPLOAD_PATIENT_FILE",
        Some("uploadPatientFile"),
    ),
    (AuditAction::DownloadFile, "DOWNLOAD_FILE", None),
    (
        AuditAction::PurgePatientFiles,
        "PURGE_PATIENT_FILES",
        Some("purgePatientFiles"),
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
            | AuditAction::ClinicReport
            | AuditAction::RotateDataKeys => AuditEntity::Job,
            AuditAction::UnlockUser
            | AuditAction::LoginLocked
            | AuditAction::Logout
            | AuditAction::LogoutEverywhere
            | AuditAction::RevokeSession
            | AuditAction::ChangePassword => AuditEntity::User,
            AuditAction::RequestUpload
            | AuditAction::CompleteUpload
            | AuditAction::UploadPatientFile
            | AuditAction::DownloadFile => AuditEntity::PatientFile,
            AuditAction::PurgePatientFiles => AuditEntity::Job,
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
    /// A user account.
    User,
    /// A patient's photo or document.
    PatientFile,
}

impl AuditEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEntity::Patient => "PATIENT",
            AuditEntity::Appointment => "APPOINTMENT",
            AuditEntity::Prescription => "PRESCRIPTION",
            AuditEntity::Doctor => "DOCTOR",
            AuditEntity::Job => "JOB",
            AuditEntity::User => "USER",
            AuditEntity::PatientFile => "PATIENT_FILE",
        }
    }

    pub fn parse(stored: &str) -> Option<AuditEntity> {
        [
            AuditEntity::Patient,
            AuditEntity::Appointment,
            AuditEntity::Prescription,
            AuditEntity::Doctor,
            AuditEntity::Job,
            AuditEntity::User,
            AuditEntity::PatientFile,
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

/// A record as the audit trail names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subject {
    pub entity: AuditEntity,
    pub id: i64,
    /// The patient whose data this is (none for a doctor).
    pub patient_id: Option<i64>,
}

/// Records the trail can name.
pub trait Audited {
    fn audit_subject(&self) -> Subject;
}

impl Audited for Subject {
    fn audit_subject(&self) -> Subject {
        *self
    }
}

impl Subject {
    /// A record of `entity` that holds data of the patient `patient_id`.
    pub fn of_patient(entity: AuditEntity, id: i64, patient_id: i64) -> Subject {
        Subject {
            entity,
            id,
            patient_id: Some(patient_id),
        }
    }

    pub fn patient(id: i64) -> Subject {
        Subject {
            entity: AuditEntity::Patient,
            id,
            patient_id: Some(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
