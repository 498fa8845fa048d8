use crate::audit_trail::{AuditEntity, Audited, Subject};
use crate::cache::{Cached, Kind};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::doctors;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = doctors)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Doctor {
    pub id: i64,
    pub clinic_id: i64,
    pub user_id: Option<i64>,
    pub name: String,
    pub specialty: String,
    pub license_number: Option<String>,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = doctors, treat_none_as_default_value = false)]
pub struct NewDoctor {
    pub clinic_id: i64,
    pub user_id: Option<i64>,
    pub name: String,
    pub specialty: String,
    pub license_number: Option<String>,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// [`doctor_search_text`] of the fields above.
    pub search_text: String,
}

/// What the doctors' `search` matches: name, email and specialty, folded (case and accents).
pub fn doctor_search_text(name: &str, email: Option<&str>, specialty: &str) -> String {
    crate::core::text::fold(&format!(
        "{name}\u{1f}{}\u{1f}{specialty}",
        email.unwrap_or("")
    ))
}

/// The columns an update writes.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = doctors, treat_none_as_null = true)]
pub struct DoctorWrite {
    pub user_id: Option<i64>,
    pub name: String,
    pub specialty: String,
    pub license_number: Option<String>,
    pub email: Option<String>,
    pub search_text: String,
    pub updated_at: NaiveDateTime,
}

/// Filters of the doctor list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorFilter {
    /// Exact specialty, e.g. "Cardiology".
    pub specialty: Option<String>,
    /// Folded text (case and accents) to find in name, email or specialty.
    pub search: Option<String>,
}

impl Audited for Doctor {
    fn audit_subject(&self) -> Subject {
        Subject {
            entity: AuditEntity::Doctor,
            id: self.id,
            patient_id: None,
        }
    }
}

impl Cached for Doctor {
    const KIND: Kind = Kind::Doctor;

    fn clinic_id(&self) -> i64 {
        self.clinic_id
    }

    fn id(&self) -> i64 {
        self.id
    }
}
