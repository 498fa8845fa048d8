use crate::audit_trail::{AuditEntity, Audited, Subject};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::core::sealing::fields::{
    PRESCRIPTION_DISCONTINUED_REASON, PRESCRIPTION_DOSAGE, PRESCRIPTION_FREQUENCY,
    PRESCRIPTION_ROUTE,
};
use crate::core::sealing::{DataKeys, Sealed};
use crate::db::schema::prescriptions;

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrescriptionStatus {
    Active,
    Completed,
    Discontinued,
}

impl PrescriptionStatus {
    pub const ALL: [PrescriptionStatus; 3] = [
        PrescriptionStatus::Active,
        PrescriptionStatus::Completed,
        PrescriptionStatus::Discontinued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PrescriptionStatus::Active => "ACTIVE",
            PrescriptionStatus::Completed => "COMPLETED",
            PrescriptionStatus::Discontinued => "DISCONTINUED",
        }
    }

    pub fn parse(value: &str) -> Option<PrescriptionStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = prescriptions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Prescription {
    pub id: i64,
    pub clinic_id: i64,
    pub patient_id: i64,
    pub prescriber_id: i64,
    pub appointment_id: Option<i64>,
    /// Plain: found by substring (`PrescriptionFilter::medication`).
    pub medication: String,
    /// Sealed, as are `frequency`, `route` and `discontinued_reason` (`core::sealing`).
    pub dosage: Sealed,
    pub frequency: Sealed,
    pub route: Sealed,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub refills: i32,
    pub status: String,
    pub discontinued_reason: Option<Sealed>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Prescription {
    pub fn status(&self) -> PrescriptionStatus {
        // The CHECK constraint admits only known names.
        PrescriptionStatus::parse(&self.status).unwrap_or(PrescriptionStatus::Active)
    }
}

/// A prescription to store, its free text in plaintext: the repository seals it with the new
/// row's id ([`NewPrescription::sealed`]).
#[derive(Debug, Clone)]
pub struct NewPrescription {
    pub clinic_id: i64,
    pub patient_id: i64,
    pub prescriber_id: i64,
    pub appointment_id: Option<i64>,
    pub medication: String,
    pub dosage: String,
    pub frequency: String,
    pub route: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub refills: i32,
    pub status: String,
    pub discontinued_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The columns of a new prescription written as they are. The sealed ones are NOT NULL: they
/// hold an empty placeholder until the same transaction writes the sealed values.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = prescriptions)]
pub struct PlainPrescriptionColumns<'a> {
    pub clinic_id: i64,
    pub patient_id: i64,
    pub prescriber_id: i64,
    pub appointment_id: Option<i64>,
    pub medication: &'a str,
    pub dosage: &'static str,
    pub frequency: &'static str,
    pub route: &'static str,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub refills: i32,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The sealed columns of one prescription.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = prescriptions, treat_none_as_null = true)]
pub struct SealedPrescriptionColumns {
    pub dosage: Sealed,
    pub frequency: Sealed,
    pub route: Sealed,
    pub discontinued_reason: Option<Sealed>,
}

impl NewPrescription {
    pub fn plain(&self) -> PlainPrescriptionColumns<'_> {
        PlainPrescriptionColumns {
            clinic_id: self.clinic_id,
            patient_id: self.patient_id,
            prescriber_id: self.prescriber_id,
            appointment_id: self.appointment_id,
            medication: &self.medication,
            dosage: "",
            frequency: "",
            route: "",
            start_date: self.start_date,
            end_date: self.end_date,
            refills: self.refills,
            status: &self.status,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The free text sealed for row `id`, under the current key.
    pub fn sealed(&self, keys: &DataKeys, id: i64) -> SealedPrescriptionColumns {
        SealedPrescriptionColumns {
            dosage: keys.seal(PRESCRIPTION_DOSAGE, id, &self.dosage),
            frequency: keys.seal(PRESCRIPTION_FREQUENCY, id, &self.frequency),
            route: keys.seal(PRESCRIPTION_ROUTE, id, &self.route),
            discontinued_reason: keys.seal_optional(
                PRESCRIPTION_DISCONTINUED_REASON,
                id,
                self.discontinued_reason.as_deref(),
            ),
        }
    }
}

/// Filters of prescription lists; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PrescriptionFilter {
    pub patient_id: Option<i64>,
    pub prescriber_id: Option<i64>,
    pub appointment_id: Option<i64>,
    pub status: Option<PrescriptionStatus>,
    /// Case-insensitive substring of the medication name (ASCII folding on SQLite).
    pub medication: Option<String>,
}

impl Audited for Prescription {
    fn audit_subject(&self) -> Subject {
        Subject::of_patient(AuditEntity::Prescription, self.id, self.patient_id)
    }
}
