//! Audit events: who saw or changed which health data, when, and whether it was allowed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_events;

pub use crate::audit_trail::{AuditAction, AuditEntity, AuditOutcome, PendingEvent};

// NULL rather than DEFAULT for a missing value: SQLite's multi-row INSERT has no DEFAULT.
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct NewAuditEvent {
    pub occurred_at: NaiveDateTime,
    pub clinic_id: i64,
    pub actor_id: i64,
    pub actor_email: String,
    pub actor_role: String,
    pub action: String,
    pub entity_type: String,
    pub entity_ids: String,
    pub field: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub client_ip: String,
    pub patient_ids: String,
    /// Shared by the events of one request in one write: the trail's patient index names
    /// the group, not each event (migration 000011).
    pub group_id: i64,
}

/// Ids as stored: comma-separated.
fn join_ids(ids: &[i64]) -> String {
    let mut joined = String::with_capacity(ids.len() * 8);
    let mut digits = itoa::Buffer::new();
    for id in ids {
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(digits.format(*id));
    }
    joined
}

fn split_ids(stored: &str) -> Vec<i64> {
    stored.split(',').filter_map(|id| id.parse().ok()).collect()
}

impl NewAuditEvent {
    pub fn new(event: &PendingEvent, actor_email: String, group_id: i64) -> Self {
        Self {
            occurred_at: event.occurred_at,
            clinic_id: event.clinic_id,
            actor_id: event.actor_id,
            actor_email,
            actor_role: event.actor_role.as_str().to_owned(),
            action: event.action.as_str().to_owned(),
            entity_type: event.entity.as_str().to_owned(),
            entity_ids: join_ids(&event.entity_ids),
            patient_ids: join_ids(&event.patient_ids),
            field: event.field.clone(),
            outcome: event.outcome.as_str().to_owned(),
            request_id: event.request_id.clone(),
            client_ip: event.client_ip.to_string(),
            group_id,
        }
    }
}

/// A stored event.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub clinic_id: i64,
    pub actor_id: i64,
    pub actor_email: String,
    pub actor_role: String,
    pub action: String,
    pub entity_type: String,
    pub entity_ids: String,
    pub field: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub client_ip: String,
    pub patient_ids: String,
}

impl AuditEvent {
    pub fn entity_ids(&self) -> Vec<i64> {
        split_ids(&self.entity_ids)
    }

    pub fn patient_ids(&self) -> Vec<i64> {
        split_ids(&self.patient_ids)
    }
}

/// Which events an ADMIN asks for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub patient_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub action: Option<AuditAction>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_but_login_and_refresh_has_an_action() {
        let sdl = crate::schema::sdl();
        let mutations = sdl
            .split("type Mutation {")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("a Mutation type");
        let mut in_description = false;
        let mut names = Vec::new();
        for line in mutations.lines().map(str::trim) {
            if line == "\"\"\"" {
                in_description = !in_description;
            } else if !in_description && !line.is_empty() {
                names.extend(line.split(['(', ':']).next());
            }
        }
        assert!(names.len() > 10, "{names:?}");
        // The two that need no token: nobody is signed in to be the actor.
        let anonymous = ["login", "refreshSession"];
        for name in names.into_iter().filter(|name| !anonymous.contains(name)) {
            assert!(
                AuditAction::of_mutation(name).is_some(),
                "{name} has no audit action"
            );
        }
    }

    #[test]
    fn ids_are_stored_comma_separated() {
        assert_eq!(join_ids(&[]), "");
        assert_eq!(join_ids(&[7]), "7");
        assert_eq!(
            join_ids(&[1, 22, -3, i64::MAX]),
            "1,22,-3,9223372036854775807"
        );
    }
}
