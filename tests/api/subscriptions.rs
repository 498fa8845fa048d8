//! `appointmentChanged` over `/graphql/ws`, with the `graphql-ws` client from npm, across two
//! server processes on one Redis: changes made on one instance reach subscribers on the other,
//! and nobody hears of what they may not read.
use std::time::Duration;

use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::server::{Namespace, Server, redis_url};
use crate::helpers::subscriber::Subscriber;
use crate::helpers::{Backend, TestApp, at, demo_patient, patient_input};

const CHANGES: &str = "subscription($doctor: ID, $patient: ID) {
  appointmentChanged(doctorId: $doctor, patientId: $patient) {
    type appointment { id status patient { name } doctor { name } }
  } }";
const SCHEDULE: &str =
    "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }";
const WAIT: Duration = Duration::from_secs(15);

struct Cluster {
    app: TestApp,
    a: Server,
    b: Server,
    _namespace: Namespace,
}

async fn cluster() -> Option<Cluster> {
    let redis = redis_url()?;
    let app = TestApp::spawn(Backend::Postgres).await?;
    let namespace = Namespace::new(&redis);
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", &namespace.prefix),
    ];
    let a = Server::start(&app.database_url, &env).await;
    let b = Server::start(&app.database_url, &env).await;
    Some(Cluster {
        app,
        a,
        b,
        _namespace: namespace,
    })
}

/// Schedules through `server`; returns the appointment's id.
async fn schedule(server: &Server, token: &str, patient: &str, doctor: &str, day: i64) -> String {
    let input = json!({ "patientId": patient, "doctorId": doctor, "scheduledAt": at(day, 10, 0), "durationMinutes": 30 });
    let data = server.ok(token, SCHEDULE, json!({ "i": input })).await;
    data["scheduleAppointment"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn change(event: &Value) -> (&str, &str) {
    let change = &event["data"]["appointmentChanged"];
    (
        change["type"].as_str().unwrap_or("?"),
        change["appointment"]["id"].as_str().unwrap_or("?"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_one_instance_hears_of_changes_made_on_the_other() {
    let Some(Cluster { app, a, b, .. }) = cluster().await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let subscriber =
        Subscriber::start(&a.ws_url(), Some(&admin), CHANGES, json!({}), 4, WAIT).await;

    let id = schedule(&b, &admin, &demo_patient(2), &doctors[0], 300).await;
    let moved = json!({ "id": id, "i": { "scheduledAt": at(301, 11, 0) } });
    b.ok(&admin, "mutation($id: ID!, $i: RescheduleAppointmentInput!) { rescheduleAppointment(id: $id, input: $i) { id } }", moved).await;
    b.ok(
        &admin,
        "mutation($id: ID!) { confirmAppointment(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    b.ok(
        &admin,
        "mutation($id: ID!) { cancelAppointment(id: $id, reason: \"Unwell\") { id } }",
        json!({ "id": id }),
    )
    .await;

    let (events, complete) = subscriber.events().await;
    assert!(complete, "{events:?}");
    let changes: Vec<(&str, &str)> = events.iter().map(change).collect();
    assert_eq!(
        changes,
        [
            ("SCHEDULED", id.as_str()),
            ("RESCHEDULED", id.as_str()),
            ("STATUS_CHANGED", id.as_str()),
            ("CANCELLED", id.as_str()),
        ]
    );
    let last = &events[3]["data"]["appointmentChanged"]["appointment"];
    assert_eq!(last["status"], "CANCELLED");
    // Nested fields resolve as in queries.
    assert!(last["patient"]["name"].is_string(), "{last}");
    assert!(last["doctor"]["name"].is_string(), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_hear_only_of_what_they_may_read() {
    let Some(Cluster { app, a, b, .. }) = cluster().await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let other_admin = app.other_clinic_admin().await;
    let patient = app.token(Role::Patient).await;
    let own = demo_patient(1);
    let ws = a.ws_url();
    let as_patient = Subscriber::start(&ws, Some(&patient), CHANGES, json!({}), 1, WAIT).await;
    let filtered = Subscriber::start(
        &ws,
        Some(&admin),
        CHANGES,
        json!({ "patient": own }),
        1,
        WAIT,
    )
    .await;
    let other_clinic =
        Subscriber::start(&ws, Some(&other_admin), CHANGES, json!({}), 1, WAIT).await;

    // In order: someone else's appointment, the patient's own, then one of the other clinic.
    schedule(&b, &admin, &demo_patient(2), &doctors[0], 310).await;
    let mine = schedule(&b, &admin, &own, &doctors[1], 311).await;
    let their_doctor = b
        .ok(&other_admin, "mutation { createDoctor(input: { name: \"Dr. Other\", specialty: \"General\" }) { id } }", json!({}))
        .await["createDoctor"]["id"]
        .as_str()
        .expect("doctor")
        .to_owned();
    let their_patient = b
        .ok(
            &other_admin,
            "mutation($input: CreatePatientInput!) { createPatient(input: $input) { id } }",
            json!({ "input": patient_input("Other Patient", "other.patient@example.com") }),
        )
        .await["createPatient"]["id"]
        .as_str()
        .expect("patient")
        .to_owned();
    let theirs = schedule(&b, &other_admin, &their_patient, &their_doctor, 312).await;

    for (subscriber, expected) in [
        (as_patient, &mine),
        (filtered, &mine),
        (other_clinic, &theirs),
    ] {
        let (events, complete) = subscriber.events().await;
        assert!(complete, "{events:?}");
        assert_eq!(change(&events[0]), ("SCHEDULED", expected.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_events_reach_subscribers_of_the_same_process() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let server = Server::start(&app.database_url, &[]).await;
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let subscriber =
        Subscriber::start(&server.ws_url(), Some(&admin), CHANGES, json!({}), 1, WAIT).await;
    let id = schedule(&server, &admin, &demo_patient(3), &doctors[0], 320).await;
    let (events, complete) = subscriber.events().await;
    assert!(complete, "{events:?}");
    assert_eq!(change(&events[0]), ("SCHEDULED", id.as_str()));

    // The appointment the event carried is in the audit trail as read by the subscriber (the
    // mutation that scheduled it records SCHEDULE_APPOINTMENT, not a read).
    let reads = "{ auditEvents(filter: {action: READ}) { nodes { entityType entityIds } } }";
    let read = json!({ "entityType": "APPOINTMENT", "entityIds": [id] });
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let nodes = server.ok(&admin, reads, json!({})).await["auditEvents"]["nodes"].clone();
        if nodes.as_array().is_some_and(|nodes| nodes.contains(&read)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{nodes}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_and_mutations_are_refused_over_the_socket() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let server = Server::start(&app.database_url, &[]).await;
    let admin = app.token(Role::Admin).await;
    for document in [
        "{ me { id } }",
        "mutation { login(email: \"a@b.c\", password: \"x\") { accessToken } }",
    ] {
        let outcome = Subscriber::outcome(&server.ws_url(), &admin, document).await;
        // Refused before it runs: a result with the error and no data.
        let error = &outcome["payload"]["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_REQUEST",
            "{document}: {outcome}"
        );
        assert_eq!(outcome["payload"]["data"], Value::Null, "{outcome}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_a_valid_token_is_closed() {
    let Some(Cluster { a, .. }) = cluster().await else {
        return;
    };
    let refused = Subscriber::outcome(&a.ws_url(), "not-a-token", CHANGES).await;
    // The close code graphql-transport-ws gives a refused `connection_init`, as the npm
    // client reports it (a protocol error would be 4400).
    assert_eq!(refused["type"], "closed", "{refused}");
    assert_eq!(refused["code"], 4403, "{refused}");
    assert_eq!(refused["reason"], "Forbidden", "{refused}");
}

/// `notes` in an `appointmentChanged` event follows the field's rule: FORBIDDEN for a
/// RECEPTIONIST, served to a DOCTOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_appointment_notes_follow_the_fields_rule() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let server = Server::start(&app.database_url, &[]).await;
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    let query = "subscription { appointmentChanged { type appointment { id notes } } }";
    let mut subscribers = Vec::new();
    for role in [Role::Receptionist, Role::Doctor] {
        let token = app.token(role).await;
        let subscriber =
            Subscriber::start(&server.ws_url(), Some(&token), query, json!({}), 1, WAIT).await;
        subscribers.push((role, subscriber));
    }
    let input = json!({ "patientId": demo_patient(3), "doctorId": doctors[0],
        "scheduledAt": at(330, 10, 0), "durationMinutes": 30, "notes": "Biopsy results" });
    server.ok(&admin, SCHEDULE, json!({ "i": input })).await;
    for (role, subscriber) in subscribers {
        let (events, complete) = subscriber.events().await;
        assert!(complete, "{role:?}: {events:?}");
        let event = &events[0];
        let notes = &event["data"]["appointmentChanged"]["appointment"]["notes"];
        if role == Role::Doctor {
            assert_eq!(notes, "Biopsy results", "{event}");
        } else {
            assert_eq!(notes, &Value::Null, "{event}");
            assert_eq!(
                event["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{event}"
            );
        }
    }
}

/// A socket whose session ends (here, a logout from another tab) is closed within seconds
/// with 4403, rather than streaming until its access token expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_closed_when_its_session_ends() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let server = Server::start(&app.database_url, &[]).await;
    let admin = app.token(Role::Admin).await;
    let subscriber = Subscriber::start(
        &server.ws_url(),
        Some(&admin),
        CHANGES,
        json!({}),
        1,
        Duration::from_secs(10),
    )
    .await;
    let logged_out = std::time::Instant::now();
    server
        .ok(&admin, "mutation { logout { id } }", json!({}))
        .await;
    let ended = subscriber.ended().await;
    assert_eq!(ended["type"], "closed", "{ended}");
    assert_eq!(ended["code"], 4403, "{ended}");
    assert!(
        logged_out.elapsed() < Duration::from_secs(3),
        "closed after {:?}",
        logged_out.elapsed()
    );
}
