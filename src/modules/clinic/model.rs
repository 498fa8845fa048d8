use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cache::{Cached, Kind};
use crate::db::schema::clinics;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = clinics)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Clinic {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = clinics)]
pub struct NewClinic {
    pub name: String,
    pub timezone: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Cached for Clinic {
    const KIND: Kind = Kind::Clinic;

    fn clinic_id(&self) -> i64 {
        self.id
    }

    fn id(&self) -> i64 {
        self.id
    }

    /// A clinic is its own tenant.
    fn tenant(_clinic_id: i64, id: i64) -> i64 {
        id
    }
}
