//! A prescription with the columns a read asked for (see `db::columns`).
use chrono::{NaiveDate, NaiveDateTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::row::NamedRow;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamp};

use super::model::{Prescription, PrescriptionStatus};
use crate::audit_trail::AuditEntity;
use crate::audit_trail::{Audited, Subject};
use crate::core::pagination::KeyCursor;
use crate::core::sealing::Sealed;
use crate::db::columns::{Columns, decode, read_columns};

crate::table_columns!(NAMES;
    ID = "id",
    CLINIC_ID = "clinic_id",
    PATIENT_ID = "patient_id",
    PRESCRIBER_ID = "prescriber_id",
    APPOINTMENT_ID = "appointment_id",
    MEDICATION = "medication",
    DOSAGE = "dosage",
    FREQUENCY = "frequency",
    ROUTE = "route",
    START_DATE = "start_date",
    END_DATE = "end_date",
    REFILLS = "refills",
    STATUS = "status",
    DISCONTINUED_REASON = "discontinued_reason",
    CREATED_AT = "created_at",
    UPDATED_AT = "updated_at",
);

/// What every read takes: the key, whose data it is (scope and audit trail) and the time it
/// was written (order and cursor).
pub const KEYS: Columns = ID.with(PATIENT_ID).with(CREATED_AT);

/// The columns the GraphQL field `field` of `Prescription` reads besides [`KEYS`]; `None` for
/// a field this does not know, which then reads them all.
pub fn columns_of(field: &str) -> Option<Columns> {
    Some(match field {
        "id" | "patient" | "createdAt" => Columns::of(0),
        "prescriber" => PRESCRIBER_ID,
        "appointment" => APPOINTMENT_ID,
        "medication" => MEDICATION,
        "dosage" => DOSAGE,
        "frequency" => FREQUENCY,
        "route" => ROUTE,
        "startDate" => START_DATE,
        "endDate" => END_DATE,
        "refills" => REFILLS,
        "status" => STATUS,
        "discontinuedReason" => DISCONTINUED_REASON,
        _ => return None,
    })
}

/// A prescription as a read left it: [`KEYS`] always, each other column when the read took
/// it (`None` when not; for a nullable column, `Some(None)` is a NULL that was read).
#[derive(Debug, Clone, PartialEq)]
pub struct PartialPrescription {
    pub id: i64,
    pub patient_id: i64,
    pub created_at: NaiveDateTime,
    pub clinic_id: Option<i64>,
    pub prescriber_id: Option<i64>,
    pub appointment_id: Option<Option<i64>>,
    pub medication: Option<String>,
    pub dosage: Option<Sealed>,
    pub frequency: Option<Sealed>,
    pub route: Option<Sealed>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<Option<NaiveDate>>,
    pub refills: Option<i32>,
    pub status: Option<PrescriptionStatus>,
    pub discontinued_reason: Option<Option<Sealed>>,
    pub updated_at: Option<NaiveDateTime>,
}

impl PartialPrescription {
    pub fn cursor(&self) -> KeyCursor {
        KeyCursor::at(self.created_at, self.id)
    }
}

impl From<Prescription> for PartialPrescription {
    fn from(whole: Prescription) -> Self {
        Self {
            status: Some(whole.status()),
            id: whole.id,
            patient_id: whole.patient_id,
            created_at: whole.created_at,
            clinic_id: Some(whole.clinic_id),
            prescriber_id: Some(whole.prescriber_id),
            appointment_id: Some(whole.appointment_id),
            medication: Some(whole.medication),
            dosage: Some(whole.dosage),
            frequency: Some(whole.frequency),
            route: Some(whole.route),
            start_date: Some(whole.start_date),
            end_date: Some(whole.end_date),
            refills: Some(whole.refills),
            discontinued_reason: Some(whole.discontinued_reason),
            updated_at: Some(whole.updated_at),
        }
    }
}

impl Audited for PartialPrescription {
    fn audit_subject(&self) -> Subject {
        Subject::of_patient(AuditEntity::Prescription, self.id, self.patient_id)
    }
}

/// Rows of any subset of the columns that includes [`KEYS`], each column matched by its name
/// as the row comes (rather than each field searching the row for its column).
impl<DB> QueryableByName<DB> for PartialPrescription
where
    DB: Backend,
    i64: FromSql<BigInt, DB>,
    i32: FromSql<Integer, DB>,
    String: FromSql<Text, DB>,
    NaiveDate: FromSql<Date, DB>,
    NaiveDateTime: FromSql<Timestamp, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        let mut id = None;
        let mut patient_id = None;
        let mut created_at = None;
        let mut read = Self {
            id: 0,
            patient_id: 0,
            created_at: NaiveDateTime::default(),
            clinic_id: None,
            prescriber_id: None,
            appointment_id: None,
            medication: None,
            dosage: None,
            frequency: None,
            route: None,
            start_date: None,
            end_date: None,
            refills: None,
            status: None,
            discontinued_reason: None,
            updated_at: None,
        };
        read_columns(row, |name, value| {
            match name {
                "id" => id = Some(decode::<DB, BigInt, i64>(value)?),
                "patient_id" => patient_id = Some(decode::<DB, BigInt, i64>(value)?),
                "created_at" => created_at = Some(decode::<DB, Timestamp, NaiveDateTime>(value)?),
                "clinic_id" => read.clinic_id = Some(decode::<DB, BigInt, i64>(value)?),
                "prescriber_id" => read.prescriber_id = Some(decode::<DB, BigInt, i64>(value)?),
                "appointment_id" => {
                    read.appointment_id = Some(decode::<DB, Nullable<BigInt>, _>(value)?)
                }
                "medication" => read.medication = Some(decode::<DB, Text, String>(value)?),
                "dosage" => read.dosage = Some(decode::<DB, Text, Sealed>(value)?),
                "frequency" => read.frequency = Some(decode::<DB, Text, Sealed>(value)?),
                "route" => read.route = Some(decode::<DB, Text, Sealed>(value)?),
                "start_date" => read.start_date = Some(decode::<DB, Date, NaiveDate>(value)?),
                "end_date" => read.end_date = Some(decode::<DB, Nullable<Date>, _>(value)?),
                "refills" => read.refills = Some(decode::<DB, Integer, i32>(value)?),
                "status" => {
                    let name = decode::<DB, Text, String>(value)?;
                    read.status = Some(
                        PrescriptionStatus::parse(&name)
                            .ok_or_else(|| format!("unknown prescription status {name}"))?,
                    );
                }
                "discontinued_reason" => {
                    read.discontinued_reason = Some(decode::<DB, Nullable<Text>, _>(value)?)
                }
                "updated_at" => {
                    read.updated_at = Some(decode::<DB, Timestamp, NaiveDateTime>(value)?)
                }
                other => return Err(format!("prescriptions have no column {other:?}").into()),
            }
            Ok(())
        })?;
        match (id, patient_id, created_at) {
            (Some(id), Some(patient_id), Some(created_at)) => Ok(Self {
                id,
                patient_id,
                created_at,
                ..read
            }),
            _ => Err("a read of prescriptions left out a key column".into()),
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
            crate::db::per_parent::column_list::<crate::db::schema::prescriptions::table>()
        );
    }

    /// Every field of the schema's `Prescription` type says what it reads: a field added
    /// without saying so would read every column of every prescription in a list.
    #[test]
    fn every_field_of_the_type_names_its_columns() {
        let fields = crate::schema::fields_of_type("Prescription");
        assert!(fields.len() > 10, "{fields:?}");
        for field in fields {
            assert!(columns_of(&field).is_some(), "{field}");
        }
    }
}
