use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::sessions;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub clinic_id: i64,
    pub generation: i64,
    pub refresh_hash: String,
    pub previous_hash: Option<String>,
    pub rotated_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub client_ip: String,
    pub user_agent: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession {
    pub user_id: i64,
    pub clinic_id: i64,
    pub refresh_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub client_ip: String,
    pub user_agent: Option<String>,
}

/// Why a session ended before its time; stored, and logged, never shown to other users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    LogoutEverywhere,
    Revoked,
    /// A refresh token was used again after it had been replaced: someone holds a copy.
    RefreshTokenReused,
    PasswordChanged,
    AccountDisabled,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::LogoutEverywhere => "logout everywhere",
            EndReason::Revoked => "revoked",
            EndReason::RefreshTokenReused => "refresh token reused",
            EndReason::PasswordChanged => "password changed",
            EndReason::AccountDisabled => "account disabled",
        }
    }
}

/// A session as its owner (or their clinic's ADMIN) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub clinic_id: i64,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// When it ends unless refreshed before.
    pub idle_expires_at: NaiveDateTime,
    pub client_ip: String,
    pub user_agent: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl Session {
    pub fn of(row: &SessionRow, idle: chrono::Duration) -> Self {
        Session {
            id: row.id,
            user_id: row.user_id,
            clinic_id: row.clinic_id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            idle_expires_at: (row.last_used_at + idle).min(row.expires_at),
            client_ip: row.client_ip.clone(),
            user_agent: row.user_agent.clone(),
            revoked_at: row.revoked_at,
        }
    }

    /// Whether it may still be refreshed at `now`.
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at
    }
}

impl crate::audit_trail::Audited for Session {
    fn audit_subject(&self) -> crate::audit_trail::Subject {
        crate::audit_trail::Subject {
            entity: crate::audit_trail::AuditEntity::User,
            id: self.user_id,
            patient_id: None,
        }
    }
}
