use crate::audit_trail::{Audited, Subject};
use crate::cache::{Cached, Kind};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::patients;

/// ABO blood group with Rh factor (`O_POS` is O positive).
#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
pub enum BloodGroup {
    #[graphql(name = "O_POS")]
    OPos,
    #[graphql(name = "O_NEG")]
    ONeg,
    #[graphql(name = "A_POS")]
    APos,
    #[graphql(name = "A_NEG")]
    ANeg,
    #[graphql(name = "B_POS")]
    BPos,
    #[graphql(name = "B_NEG")]
    BNeg,
    #[graphql(name = "AB_POS")]
    AbPos,
    #[graphql(name = "AB_NEG")]
    AbNeg,
}

impl BloodGroup {
    pub const ALL: [BloodGroup; 8] = [
        BloodGroup::OPos,
        BloodGroup::ONeg,
        BloodGroup::APos,
        BloodGroup::ANeg,
        BloodGroup::BPos,
        BloodGroup::BNeg,
        BloodGroup::AbPos,
        BloodGroup::AbNeg,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BloodGroup::OPos => "O_POS",
            BloodGroup::ONeg => "O_NEG",
            BloodGroup::APos => "A_POS",
            BloodGroup::ANeg => "A_NEG",
            BloodGroup::BPos => "B_POS",
            BloodGroup::BNeg => "B_NEG",
            BloodGroup::AbPos => "AB_POS",
            BloodGroup::AbNeg => "AB_NEG",
        }
    }

    pub fn parse(value: &str) -> Option<BloodGroup> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }
}

/// Column list of raw (per-parent) queries; must name every field of [`Patient`].
pub const COLUMNS: &str = "id, clinic_id, primary_doctor_id, name, email, phone, blood_group, \
     date_of_birth, internal_notes, created_at, updated_at";

/// A patient record as stored.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, QueryableByName, Serialize, Deserialize,
)]
#[diesel(table_name = patients)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Patient {
    pub id: i64,
    pub clinic_id: i64,
    pub primary_doctor_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub blood_group: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub internal_notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Patient {
    /// The human-readable id: a formatting of the database-assigned key, hence unique and
    /// race-free by construction (no counting, no second write).
    pub fn patient_number(&self) -> String {
        format_patient_number(self.id)
    }

    pub fn blood_group(&self) -> Option<BloodGroup> {
        self.blood_group.as_deref().and_then(BloodGroup::parse)
    }
}

pub fn format_patient_number(id: i64) -> String {
    format!("PAT-{id:06}")
}

/// The key of a human-readable patient id; only the canonical spelling is accepted.
pub fn parse_patient_number(number: &str) -> Option<i64> {
    let id: i64 = number.strip_prefix("PAT-")?.parse().ok()?;
    (id > 0 && format_patient_number(id) == number).then_some(id)
}

/// The validated fields of a patient, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientFields {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub blood_group: Option<BloodGroup>,
    pub date_of_birth: Option<NaiveDate>,
    pub internal_notes: Option<String>,
    pub primary_doctor_id: Option<i64>,
}

impl PatientFields {
    pub fn of(patient: &Patient) -> PatientFields {
        PatientFields {
            name: patient.name.clone(),
            email: patient.email.clone(),
            phone: patient.phone.clone(),
            blood_group: patient.blood_group(),
            date_of_birth: patient.date_of_birth,
            internal_notes: patient.internal_notes.clone(),
            primary_doctor_id: patient.primary_doctor_id,
        }
    }

    /// What `search` matches: name, email and phone, folded (case and accents). The unit separator keeps a
    /// search from matching across two fields.
    pub fn search_text(&self) -> String {
        crate::core::text::fold(&format!(
            "{}\u{1f}{}\u{1f}{}",
            self.name,
            self.email,
            self.phone.as_deref().unwrap_or("")
        ))
    }
}

/// The columns written on create and update.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = patients)]
#[diesel(treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct PatientWrite {
    pub primary_doctor_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub blood_group: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub internal_notes: Option<String>,
    pub search_text: String,
    pub updated_at: NaiveDateTime,
}

impl PatientWrite {
    pub fn new(fields: &PatientFields, now: NaiveDateTime) -> PatientWrite {
        PatientWrite {
            primary_doctor_id: fields.primary_doctor_id,
            name: fields.name.clone(),
            email: fields.email.clone(),
            phone: fields.phone.clone(),
            blood_group: fields.blood_group.map(|g| g.as_str().to_owned()),
            date_of_birth: fields.date_of_birth,
            internal_notes: fields.internal_notes.clone(),
            search_text: fields.search_text(),
            updated_at: now,
        }
    }
}

/// Filters of the patient list; every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientFilter {
    pub search: Option<String>,
    pub blood_group: Option<BloodGroup>,
    pub primary_doctor_id: Option<i64>,
    /// Set by the service, never by clients: a PATIENT lists only their own record.
    pub only_id: Option<i64>,
}

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatientOrderField {
    #[default]
    CreatedAt,
    Name,
}

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    Asc,
    #[default]
    Desc,
}

/// The order of the patient list; `id` always breaks ties so the order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatientOrder {
    pub field: PatientOrderField,
    pub direction: OrderDirection,
}

/// Where a page starts: the sort value and id of the row before it. Carries the order it was
/// made for, so a cursor from one order cannot be replayed against another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientCursor {
    #[serde(rename = "o")]
    pub order: String,
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "i")]
    pub id: i64,
}

const CURSOR_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl PatientCursor {
    pub fn for_patient(patient: &Patient, order: PatientOrder) -> PatientCursor {
        let key = match order.field {
            PatientOrderField::CreatedAt => {
                patient.created_at.format(CURSOR_TIME_FORMAT).to_string()
            }
            PatientOrderField::Name => patient.name.clone(),
        };
        PatientCursor {
            order: order_tag(order),
            key,
            id: patient.id,
        }
    }

    pub fn matches(&self, order: PatientOrder) -> bool {
        self.order == order_tag(order)
            && match order.field {
                PatientOrderField::CreatedAt => self.created_at().is_some(),
                PatientOrderField::Name => true,
            }
    }

    pub fn created_at(&self) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(&self.key, CURSOR_TIME_FORMAT).ok()
    }
}

fn order_tag(order: PatientOrder) -> String {
    format!("{:?}:{:?}", order.field, order.direction)
}

impl Audited for Patient {
    fn audit_subject(&self) -> Subject {
        Subject::patient(self.id)
    }
}

impl Cached for Patient {
    const KIND: Kind = Kind::Patient;

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
    fn patient_numbers_round_trip_only_in_canonical_form() {
        assert_eq!(format_patient_number(42), "PAT-000042");
        assert_eq!(parse_patient_number("PAT-000042"), Some(42));
        assert_eq!(format_patient_number(12_345_678), "PAT-12345678");
        assert_eq!(parse_patient_number("PAT-12345678"), Some(12_345_678));
        for bad in [
            "PAT-42",
            "pat-000042",
            "PAT-0000042",
            "PAT-",
            "000042",
            "PAT--00001",
        ] {
            assert_eq!(parse_patient_number(bad), None, "{bad}");
        }
    }
}
