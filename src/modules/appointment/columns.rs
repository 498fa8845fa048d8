//! An appointment with the columns a read asked for (see `db::columns`).
use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::row::NamedRow;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use super::model::{Appointment, AppointmentStatus};
use crate::audit_trail::AuditEntity;
use crate::audit_trail::{Audited, Subject};
use crate::core::pagination::KeyCursor;
use crate::core::sealing::Sealed;
use crate::db::columns::{Columns, decode, read_columns};

crate::table_columns!(NAMES;
    ID = "id",
    CLINIC_ID = "clinic_id",
    PATIENT_ID = "patient_id",
    DOCTOR_ID = "doctor_id",
    SCHEDULED_AT = "scheduled_at",
    ENDS_AT = "ends_at",
    DURATION_MINUTES = "duration_minutes",
    STATUS = "status",
    REASON = "reason",
    NOTES = "notes",
    CANCELLATION_REASON = "cancellation_reason",
    CREATED_AT = "created_at",
    UPDATED_AT = "updated_at",
);

/// What every read takes: the key, whose data it is (scope and audit trail), the doctor (the
/// doctor-parent lists and the `doctor` field) and the start (order and cursor).
pub const KEYS: Columns = ID.with(PATIENT_ID).with(DOCTOR_ID).with(SCHEDULED_AT);

/// The columns the GraphQL field `field` of `Appointment` reads besides [`KEYS`]; `None` for a
/// field this does not know, which then reads them all.
pub fn columns_of(field: &str) -> Option<Columns> {
    let none = Columns::of(0);
    Some(match field {
        "id" | "patient" | "doctor" | "scheduledAt" | "prescriptions" => none,
        "clinic" => CLINIC_ID,
        "durationMinutes" => DURATION_MINUTES,
        "endsAt" => ENDS_AT,
        "status" => STATUS,
        "reason" => REASON,
        "notes" => NOTES,
        "cancellationReason" => CANCELLATION_REASON,
        "createdAt" => CREATED_AT,
        "updatedAt" => UPDATED_AT,
        _ => return None,
    })
}

/// An appointment as a read left it: [`KEYS`] always, each other column when the read took
/// it (`None` when not; for a nullable column, `Some(None)` is a NULL that was read).
#[derive(Debug, Clone, PartialEq)]
pub struct PartialAppointment {
    pub id: i64,
    pub patient_id: i64,
    pub doctor_id: i64,
    pub scheduled_at: NaiveDateTime,
    pub clinic_id: Option<i64>,
    pub ends_at: Option<NaiveDateTime>,
    pub duration_minutes: Option<i32>,
    pub status: Option<AppointmentStatus>,
    pub reason: Option<Option<Sealed>>,
    pub notes: Option<Option<Sealed>>,
    pub cancellation_reason: Option<Option<Sealed>>,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

impl PartialAppointment {
    pub fn cursor(&self) -> KeyCursor {
        KeyCursor::at(self.scheduled_at, self.id)
    }
}

impl From<Appointment> for PartialAppointment {
    fn from(whole: Appointment) -> Self {
        Self {
            status: Some(whole.status()),
            id: whole.id,
            patient_id: whole.patient_id,
            doctor_id: whole.doctor_id,
            scheduled_at: whole.scheduled_at,
            clinic_id: Some(whole.clinic_id),
            ends_at: Some(whole.ends_at),
            duration_minutes: Some(whole.duration_minutes),
            reason: Some(whole.reason),
            notes: Some(whole.notes),
            cancellation_reason: Some(whole.cancellation_reason),
            created_at: Some(whole.created_at),
            updated_at: Some(whole.updated_at),
        }
    }
}

impl Audited for PartialAppointment {
    fn audit_subject(&self) -> Subject {
        Subject::of_patient(AuditEntity::Appointment, self.id, self.patient_id)
    }
}

/// Rows of any subset of the columns that includes [`KEYS`], each column matched by its name
/// as the row comes (rather than each field searching the row for its column).
impl<DB> QueryableByName<DB> for PartialAppointment
where
    DB: Backend,
    i64: FromSql<BigInt, DB>,
    i32: FromSql<Integer, DB>,
    String: FromSql<Text, DB>,
    NaiveDateTime: FromSql<Timestamp, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        let mut id = None;
        let mut patient_id = None;
        let mut doctor_id = None;
        let mut scheduled_at = None;
        let mut read = Self {
            id: 0,
            patient_id: 0,
            doctor_id: 0,
            scheduled_at: NaiveDateTime::default(),
            clinic_id: None,
            ends_at: None,
            duration_minutes: None,
            status: None,
            reason: None,
            notes: None,
            cancellation_reason: None,
            created_at: None,
            updated_at: None,
        };
        read_columns(row, |name, value| {
            match name {
                "id" => id = Some(decode::<DB, BigInt, i64>(value)?),
                "patient_id" => patient_id = Some(decode::<DB, BigInt, i64>(value)?),
                "doctor_id" => doctor_id = Some(decode::<DB, BigInt, i64>(value)?),
                "scheduled_at" => {
                    scheduled_at = Some(decode::<DB, Timestamp, NaiveDateTime>(value)?)
                }
                "clinic_id" => read.clinic_id = Some(decode::<DB, BigInt, i64>(value)?),
                "ends_at" => read.ends_at = Some(decode::<DB, Timestamp, NaiveDateTime>(value)?),
                "duration_minutes" => {
                    read.duration_minutes = Some(decode::<DB, Integer, i32>(value)?)
                }
                "status" => {
                    let name = decode::<DB, Text, String>(value)?;
                    read.status = Some(
                        AppointmentStatus::parse(&name)
                            .ok_or_else(|| format!("unknown appointment status {name}"))?,
                    );
                }
                "reason" => {
                    read.reason = Some(decode::<DB, Nullable<Text>, Option<Sealed>>(value)?)
                }
                "notes" => read.notes = Some(decode::<DB, Nullable<Text>, Option<Sealed>>(value)?),
                "cancellation_reason" => {
                    read.cancellation_reason =
                        Some(decode::<DB, Nullable<Text>, Option<Sealed>>(value)?)
                }
                "created_at" => {
                    read.created_at = Some(decode::<DB, Timestamp, NaiveDateTime>(value)?)
                }
                "updated_at" => {
                    read.updated_at = Some(decode::<DB, Timestamp, NaiveDateTime>(value)?)
                }
                other => return Err(format!("appointments have no column {other:?}").into()),
            }
            Ok(())
        })?;
        match (id, patient_id, doctor_id, scheduled_at) {
            (Some(id), Some(patient_id), Some(doctor_id), Some(scheduled_at)) => Ok(Self {
                id,
                patient_id,
                doctor_id,
                scheduled_at,
                ..read
            }),
            _ => Err("a read of appointments left out a key column".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_list_is_the_table_in_order() {
        assert_eq!(
            Columns::ALL.select_list(NAMES),
            crate::db::per_parent::column_list::<crate::db::schema::appointments::table>()
        );
    }

    /// Every field of the schema's `Appointment` type says what it reads: a field added without
    /// saying so would read every column of every appointment in a list.
    #[test]
    fn every_field_of_the_type_names_its_columns() {
        let fields = crate::schema::fields_of_type("Appointment");
        assert!(fields.len() > 10, "{fields:?}");
        for field in fields {
            assert!(columns_of(&field).is_some(), "{field}");
        }
    }
}
