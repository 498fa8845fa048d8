//! The audit trail's storage under a writer's largest batches: every row of one write of
//! thousands of events is stored, with its nullable columns.
use clinicgraph::core::auth::Role;
use clinicgraph::modules::audit::model::{
    AuditAction, AuditEntity, AuditFilter, AuditOutcome, PendingEvent,
};

use crate::helpers::TestApp;
use crate::on_both_backends;

async fn one_write_stores_thousands_of_events(app: TestApp) {
    let clinic_id = app.demo_clinic_id().await;
    let admin = app
        .repos
        .users
        .find_by_email("admin@demo.clinic")
        .await
        .expect("users")
        .expect("the demo admin");
    // More rows than 65,535 bind parameters would allow as a multi-row VALUES.
    let events: Vec<PendingEvent> = (0..6_000)
        .map(|n| PendingEvent {
            occurred_at: clinicgraph::db::now(),
            clinic_id,
            actor_id: admin.id,
            actor_role: Role::Admin,
            action: AuditAction::Read,
            entity: AuditEntity::Patient,
            entity_ids: vec![n, n + 1],
            patient_id: (n % 2 == 0).then_some(n),
            field: (n % 3 == 0).then(|| "email".to_owned()),
            outcome: AuditOutcome::Allowed,
            request_id: format!("bulk-{n}"),
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        })
        .collect();
    app.repos.audit.append(&events).await.expect("one write");
    let all = AuditFilter::default();
    let stored = app.repos.audit.count(clinic_id, &all).await.expect("count");
    assert!(stored >= 6_000, "{stored}");
    let of_patient = AuditFilter {
        patient_id: Some(42),
        ..AuditFilter::default()
    };
    assert_eq!(
        app.repos
            .audit
            .count(clinic_id, &of_patient)
            .await
            .expect("count"),
        1
    );
}

on_both_backends!(one_write_stores_thousands_of_events);
