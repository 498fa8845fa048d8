use crate::audit_trail::{AuditEntity, Audited, Subject};
use crate::cache::{Cached, Kind};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::sealing::fields::{
    APPOINTMENT_CANCELLATION_REASON, APPOINTMENT_NOTES, APPOINTMENT_REASON,
};
use crate::core::sealing::{DataKeys, Sealed};
use crate::db::schema::appointments;

/// Where an appointment is in its life. COMPLETED, CANCELLED and NO_SHOW are final.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    CheckedIn,
    Completed,
    Cancelled,
    NoShow,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 6] = [
        AppointmentStatus::Scheduled,
        AppointmentStatus::Confirmed,
        AppointmentStatus::CheckedIn,
        AppointmentStatus::Completed,
        AppointmentStatus::Cancelled,
        AppointmentStatus::NoShow,
    ];
    /// Statuses that hold their time slot (the others free it).
    pub const ACTIVE: [&'static str; 4] = ["SCHEDULED", "CONFIRMED", "CHECKED_IN", "COMPLETED"];

    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "SCHEDULED",
            AppointmentStatus::Confirmed => "CONFIRMED",
            AppointmentStatus::CheckedIn => "CHECKED_IN",
            AppointmentStatus::Completed => "COMPLETED",
            AppointmentStatus::Cancelled => "CANCELLED",
            AppointmentStatus::NoShow => "NO_SHOW",
        }
    }

    pub fn parse(value: &str) -> Option<AppointmentStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// The moves of the state machine and the statuses each may start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Reschedule,
    Confirm,
    CheckIn,
    Complete,
    Cancel,
    MarkNoShow,
}

impl Transition {
    pub fn allowed_from(self) -> &'static [AppointmentStatus] {
        use AppointmentStatus::*;
        match self {
            Transition::Reschedule | Transition::Cancel | Transition::MarkNoShow => {
                &[Scheduled, Confirmed]
            }
            Transition::Confirm => &[Scheduled],
            Transition::CheckIn => &[Scheduled, Confirmed],
            Transition::Complete => &[CheckedIn],
        }
    }

    /// The status after the move (a reschedule needs confirming again).
    pub fn target(self) -> AppointmentStatus {
        match self {
            Transition::Reschedule => AppointmentStatus::Scheduled,
            Transition::Confirm => AppointmentStatus::Confirmed,
            Transition::CheckIn => AppointmentStatus::CheckedIn,
            Transition::Complete => AppointmentStatus::Completed,
            Transition::Cancel => AppointmentStatus::Cancelled,
            Transition::MarkNoShow => AppointmentStatus::NoShow,
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Transition::Reschedule => "reschedule",
            Transition::Confirm => "confirm",
            Transition::CheckIn => "check in",
            Transition::Complete => "complete",
            Transition::Cancel => "cancel",
            Transition::MarkNoShow => "mark as no-show",
        }
    }
}

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, QueryableByName, Serialize, Deserialize,
)]
#[diesel(table_name = appointments)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Appointment {
    pub id: i64,
    pub clinic_id: i64,
    pub patient_id: i64,
    pub doctor_id: i64,
    pub scheduled_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub duration_minutes: i32,
    pub status: String,
    /// Sealed, as are `notes` and `cancellation_reason` (`core::sealing`).
    pub reason: Option<Sealed>,
    pub notes: Option<Sealed>,
    pub cancellation_reason: Option<Sealed>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Appointment {
    pub fn status(&self) -> AppointmentStatus {
        // The CHECK constraint admits only known names.
        AppointmentStatus::parse(&self.status).unwrap_or(AppointmentStatus::Scheduled)
    }
}

/// An appointment to store. Its free text is not inserted: the repository seals it with the
/// new row's id and writes it in the same transaction ([`NewAppointment::sealed`]).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = appointments)]
pub struct NewAppointment {
    pub clinic_id: i64,
    pub patient_id: i64,
    pub doctor_id: i64,
    pub scheduled_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub duration_minutes: i32,
    pub status: String,
    #[diesel(skip_insertion)]
    pub reason: Option<String>,
    #[diesel(skip_insertion)]
    pub notes: Option<String>,
    #[diesel(skip_insertion)]
    pub cancellation_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The sealed columns of one appointment.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = appointments, treat_none_as_null = true)]
pub struct SealedAppointmentColumns {
    pub reason: Option<Sealed>,
    pub notes: Option<Sealed>,
    pub cancellation_reason: Option<Sealed>,
}

impl NewAppointment {
    /// The free text sealed for row `id`, under the current key.
    pub fn sealed(&self, keys: &DataKeys, id: i64) -> SealedAppointmentColumns {
        SealedAppointmentColumns {
            reason: keys.seal_optional(APPOINTMENT_REASON, id, self.reason.as_deref()),
            notes: keys.seal_optional(APPOINTMENT_NOTES, id, self.notes.as_deref()),
            cancellation_reason: keys.seal_optional(
                APPOINTMENT_CANCELLATION_REASON,
                id,
                self.cancellation_reason.as_deref(),
            ),
        }
    }
}

/// A time slot: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub minutes: i32,
}

/// Filters of appointment lists; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AppointmentFilter {
    pub patient_id: Option<i64>,
    pub doctor_id: Option<i64>,
    pub status: Option<AppointmentStatus>,
    /// Starts at or after.
    pub from: Option<NaiveDateTime>,
    /// Starts before.
    pub to: Option<NaiveDateTime>,
}

impl Audited for Appointment {
    fn audit_subject(&self) -> Subject {
        Subject::of_patient(AuditEntity::Appointment, self.id, self.patient_id)
    }
}

impl Cached for Appointment {
    const KIND: Kind = Kind::Appointment;

    fn clinic_id(&self) -> i64 {
        self.clinic_id
    }

    fn id(&self) -> i64 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_allow_no_move() {
        let moves = [
            Transition::Reschedule,
            Transition::Confirm,
            Transition::CheckIn,
            Transition::Complete,
            Transition::Cancel,
            Transition::MarkNoShow,
        ];
        for status in [
            AppointmentStatus::Completed,
            AppointmentStatus::Cancelled,
            AppointmentStatus::NoShow,
        ] {
            assert!(
                moves.iter().all(|m| !m.allowed_from().contains(&status)),
                "{status:?}"
            );
        }
    }

    #[test]
    fn status_names_round_trip() {
        for status in AppointmentStatus::ALL {
            assert_eq!(AppointmentStatus::parse(status.as_str()), Some(status));
        }
    }
}
