use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit_trail::{AuditEntity, Audited, Subject};
use crate::core::auth::{Caller, Role};
use crate::db::schema::users;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct UserRow {
    pub id: i64,
    pub clinic_id: i64,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub role: String,
    pub patient_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set by an operator: the account cannot sign in.
    pub disabled_at: Option<NaiveDateTime>,
}

/// A user account as the rest of the service sees it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub clinic_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub patient_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl Audited for User {
    fn audit_subject(&self) -> Subject {
        Subject {
            entity: AuditEntity::User,
            id: self.id,
            patient_id: None,
        }
    }
}

impl User {
    pub fn caller(&self) -> Caller {
        Caller {
            user_id: self.id,
            clinic_id: self.clinic_id,
            role: self.role,
            patient_id: self.patient_id,
        }
    }
}

impl TryFrom<&UserRow> for User {
    type Error = anyhow::Error;

    fn try_from(row: &UserRow) -> Result<Self, Self::Error> {
        Ok(User {
            id: row.id,
            clinic_id: row.clinic_id,
            email: row.email.clone(),
            name: row.name.clone(),
            role: row
                .role
                .parse()
                .map_err(|e: String| anyhow::anyhow!("user {}: {e}", row.id))?,
            patient_id: row.patient_id,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub clinic_id: i64,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub role: String,
    pub patient_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
