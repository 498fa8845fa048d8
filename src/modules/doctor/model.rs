use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::doctors;

#[derive(Debug, Clone, Queryable, Selectable)]
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
#[diesel(table_name = doctors)]
pub struct NewDoctor {
    pub clinic_id: i64,
    pub user_id: Option<i64>,
    pub name: String,
    pub specialty: String,
    pub license_number: Option<String>,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
