//! The audit trail's storage under a writer's largest batches: every row of one write of
//! thousands of events is stored, with its nullable columns and the patients it names.
use clinicgraph::core::auth::Role;
use clinicgraph::modules::audit::model::{
    AuditAction, AuditEntity, AuditFilter, AuditOutcome, PendingEvent,
};

use crate::helpers::TestApp;
use crate::on_every_backend;

/// `count` reads by the demo clinic's admin, each a request of its own; every other one names
/// patients, every third a field.
pub(crate) async fn demo_admin_reads(app: &TestApp, count: i64) -> Vec<PendingEvent> {
    let clinic_id = app.demo_clinic_id().await;
    let admin = app
        .repos
        .users
        .find_by_email("admin@demo.clinic")
        .await
        .expect("users")
        .expect("the demo admin");
    (0..count)
        .map(|n| PendingEvent {
            occurred_at: clinicgraph::db::now(),
            clinic_id,
            actor_id: admin.id,
            actor_role: Role::Admin,
            action: AuditAction::Read,
            entity: AuditEntity::Patient,
            entity_ids: vec![n, n + 1],
            patient_ids: if n % 2 == 0 {
                vec![n, n + 1]
            } else {
                Vec::new()
            },
            field: (n % 3 == 0).then(|| "email".to_owned()),
            outcome: AuditOutcome::Allowed,
            request_id: format!("bulk-{n}"),
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        })
        .collect()
}

async fn one_write_stores_thousands_of_events(app: TestApp) {
    let clinic_id = app.demo_clinic_id().await;
    // More rows than 65,535 bind parameters would allow as a multi-row VALUES.
    let events = demo_admin_reads(&app, 6_000).await;
    app.repos.audit.append(&events).await.expect("one write");
    let all = AuditFilter::default();
    let stored = app.repos.audit.count(clinic_id, &all).await.expect("count");
    assert!(stored >= 6_000, "{stored}");
    // Each patient named, first or not, finds exactly its event: 4 is not found in "40,41".
    for patient in [4, 5, 42, 43, 5_999] {
        let of_patient = AuditFilter {
            patient_id: Some(patient),
            ..AuditFilter::default()
        };
        let count = app.repos.audit.count(clinic_id, &of_patient).await;
        assert_eq!(count.expect("count"), 1, "patient {patient}");
    }
}

on_every_backend!(one_write_stores_thousands_of_events);
