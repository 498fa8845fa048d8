use crate::audit_trail::{AuditEntity, Audited, Subject};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

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

impl Prescription {
    pub fn status(&self) -> PrescriptionStatus {
        // The CHECK constraint admits only known names.
        PrescriptionStatus::parse(&self.status).unwrap_or(PrescriptionStatus::Active)
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = prescriptions, treat_none_as_default_value = false)]
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
