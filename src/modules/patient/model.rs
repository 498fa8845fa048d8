use crate::audit_trail::{Audited, Subject};
use crate::cache::{Cached, Kind};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::sealing::fields::{PATIENT_DATE_OF_BIRTH, PATIENT_INTERNAL_NOTES, PATIENT_PHONE};
use crate::core::sealing::{DataKeys, Sealed, Unreadable, UnreadableReason};
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

/// A patient record as stored: the phone, date of birth and notes sealed (`core::sealing`),
/// read with the keys through the methods of the same names.
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
    pub phone: Option<Sealed>,
    pub blood_group: Option<String>,
    pub date_of_birth: Option<Sealed>,
    pub internal_notes: Option<Sealed>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Patient {
    pub fn phone(&self, keys: &DataKeys) -> Result<Option<String>, Unreadable> {
        keys.open_optional(PATIENT_PHONE, self.id, self.phone.as_ref())
    }

    pub fn date_of_birth(&self, keys: &DataKeys) -> Result<Option<NaiveDate>, Unreadable> {
        let Some(text) =
            keys.open_optional(PATIENT_DATE_OF_BIRTH, self.id, self.date_of_birth.as_ref())?
        else {
            return Ok(None);
        };
        NaiveDate::parse_from_str(&text, DATE_FORMAT)
            .map(Some)
            .map_err(|_| {
                let unreadable = Unreadable {
                    field: PATIENT_DATE_OF_BIRTH,
                    row: self.id,
                    reason: UnreadableReason::NotAValue,
                };
                tracing::error!(row = self.id, "{unreadable}");
                unreadable
            })
    }

    pub fn internal_notes(&self, keys: &DataKeys) -> Result<Option<String>, Unreadable> {
        keys.open_optional(
            PATIENT_INTERNAL_NOTES,
            self.id,
            self.internal_notes.as_ref(),
        )
    }

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

const DATE_FORMAT: &str = "%Y-%m-%d";

impl PatientFields {
    /// The record's fields, opened with `keys`.
    pub fn of(patient: &Patient, keys: &DataKeys) -> Result<PatientFields, Unreadable> {
        Ok(PatientFields {
            name: patient.name.clone(),
            email: patient.email.clone(),
            phone: patient.phone(keys)?,
            blood_group: patient.blood_group(),
            date_of_birth: patient.date_of_birth(keys)?,
            internal_notes: patient.internal_notes(keys)?,
            primary_doctor_id: patient.primary_doctor_id,
        })
    }

    /// What `search` matches by substring: name and email, folded (case and accents). The unit
    /// separator keeps a search from matching across the two. (The phone is sealed; a search
    /// finds it by exact match on its blind index.)
    pub fn search_text(&self) -> String {
        search_text(&self.name, &self.email)
    }
}

/// The search key of a name and an email.
pub fn search_text(name: &str, email: &str) -> String {
    crate::core::text::fold(&format!("{name}\u{1f}{email}"))
}

/// What create and update write: the plain columns as they are, the sealed ones as plaintext
/// the repository seals with the row's id ([`SealedPatientColumns`]).
#[derive(Debug, Clone)]
pub struct PatientWrite {
    pub plain: PlainPatientColumns,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub internal_notes: Option<String>,
}

/// The columns written as they are.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = patients)]
#[diesel(treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct PlainPatientColumns {
    pub primary_doctor_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub blood_group: Option<String>,
    pub search_text: String,
    pub updated_at: NaiveDateTime,
}

/// The sealed columns of one row, and the phone's blind index.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = patients)]
#[diesel(treat_none_as_null = true)]
pub struct SealedPatientColumns {
    pub phone: Option<Sealed>,
    pub phone_index: Option<String>,
    pub date_of_birth: Option<Sealed>,
    pub internal_notes: Option<Sealed>,
}

impl PatientWrite {
    pub fn new(fields: &PatientFields, now: NaiveDateTime) -> PatientWrite {
        PatientWrite {
            plain: PlainPatientColumns {
                primary_doctor_id: fields.primary_doctor_id,
                name: fields.name.clone(),
                email: fields.email.clone(),
                blood_group: fields.blood_group.map(|g| g.as_str().to_owned()),
                search_text: fields.search_text(),
                updated_at: now,
            },
            phone: fields.phone.clone(),
            date_of_birth: fields.date_of_birth,
            internal_notes: fields.internal_notes.clone(),
        }
    }

    /// The sealed columns of row `id` of clinic `clinic_id`, under the current key.
    pub fn sealed(&self, keys: &DataKeys, clinic_id: i64, id: i64) -> SealedPatientColumns {
        SealedPatientColumns {
            phone: keys.seal_optional(PATIENT_PHONE, id, self.phone.as_deref()),
            phone_index: self
                .phone
                .as_deref()
                .map(|phone| keys.blind_index(PATIENT_PHONE, clinic_id, phone)),
            date_of_birth: self.date_of_birth.map(|date| {
                keys.seal(
                    PATIENT_DATE_OF_BIRTH,
                    id,
                    &date.format(DATE_FORMAT).to_string(),
                )
            }),
            internal_notes: keys.seal_optional(
                PATIENT_INTERNAL_NOTES,
                id,
                self.internal_notes.as_deref(),
            ),
        }
    }
}

/// Filters of the patient list; every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientFilter {
    pub search: Option<String>,
    /// Set by the service from `search` when it is a phone number: its blind index under each
    /// key of the ring, matched exactly.
    #[serde(default)]
    pub phone_indexes: Vec<String>,
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
