//! The audit trail: what a nested query and each mutation record, what refusals record, who may
//! read the trail, and that nothing can change it.
use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use clinicgraph::core::auth::Role;
use clinicgraph::seed::DEMO_ACCOUNTS;
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, demo_patient, patient_input, raw_sql};
use crate::on_every_backend;

const EVENTS: &str = "query($f: AuditEventFilter, $first: Int, $after: String) {
  auditEvents(filter: $f, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id occurredAt actor { id email role } action entityType entityIds patientIds patientId
            field outcome requestId clientIp }
  }
}";

fn email_of(role: Role) -> &'static str {
    DEMO_ACCOUNTS
        .iter()
        .find(|(_, _, r)| *r == role)
        .map(|(email, ..)| *email)
        .expect("a demo account per role")
}

/// The trail as `admin` reads it, once everything recorded so far is written.
async fn trail(app: &TestApp, admin: &str, filter: Value) -> Vec<Value> {
    app.services.audit_writer.flush().await;
    let data = app
        .ok(admin, EVENTS, json!({ "f": filter, "first": 100 }))
        .await;
    data["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone()
}

fn ids(value: &Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .expect("a list of ids")
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// (action, entity type, record ids, patient ids, field, outcome) of an event.
type Shape = (
    String,
    String,
    Vec<String>,
    Vec<String>,
    Option<String>,
    String,
);

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn shape(event: &Value) -> Shape {
    let patients = ids(&event["patientIds"]);
    // The deprecated single patient: there when the event is about exactly one.
    let single = match patients.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    };
    assert_eq!(text(&event["patientId"]), single, "{event}");
    (
        event["action"].as_str().expect("action").to_owned(),
        event["entityType"].as_str().expect("type").to_owned(),
        ids(&event["entityIds"]),
        patients,
        text(&event["field"]),
        event["outcome"].as_str().expect("outcome").to_owned(),
    )
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    ids.sort();
    ids.dedup();
    ids
}

fn allowed(action: &str, entity: &str, ids: &[&str], patients: &[&str]) -> Shape {
    (
        action.into(),
        entity.into(),
        sorted(ids),
        sorted(patients),
        None,
        "ALLOWED".into(),
    )
}

fn denied(action: &str, entity: &str, ids: &[&str], field: Option<&str>) -> Shape {
    (
        action.into(),
        entity.into(),
        ids.iter().map(|id| (*id).to_owned()).collect(),
        // A refused field of a patient names the patient; other refusals name none.
        if action == "READ" && entity == "PATIENT" && field.is_some() {
            sorted(ids)
        } else {
            Vec::new()
        },
        field.map(str::to_owned),
        "DENIED".into(),
    )
}

async fn my_id(app: &TestApp, token: &str) -> String {
    app.ok(token, "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

const NESTED: &str = "{ patients(first: 5) { nodes { id name
  appointments(first: 10) { nodes { id doctor { name } } }
  prescriptions(first: 10) { nodes { id medication } }
} } }";

async fn a_nested_query_records_each_patients_records_it_returned(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let admin = app.token(Role::Admin).await;
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {doctor}"))
        .header("x-request-id", "audit-nested-1")
        .body(Body::from(json!({ "query": NESTED }).to_string()))
        .expect("request");
    let response = app.send(request).await;
    assert!(response.body.get("errors").is_none(), "{}", response.text);
    // The trail records the server's id for the request, never the one the client sent.
    let request_id = response
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_owned();
    assert_ne!(request_id, "audit-nested-1");

    // Per kind of record: the records read, and the patients they belong to.
    let mut patients = Vec::new();
    let mut appointments = (Vec::new(), Vec::new());
    let mut prescriptions = (Vec::new(), Vec::new());
    for patient in response.body["data"]["patients"]["nodes"]
        .as_array()
        .expect("patients")
    {
        let id = patient["id"].as_str().expect("id");
        patients.push(id);
        for (list, (records, owners)) in [
            ("appointments", &mut appointments),
            ("prescriptions", &mut prescriptions),
        ] {
            for node in patient[list]["nodes"].as_array().expect("nodes") {
                records.push(node["id"].as_str().expect("id"));
                owners.push(id);
            }
        }
    }
    // The demo data gives these patients visits and prescriptions: otherwise this proves little.
    assert!(patients.len() > 1, "{}", response.text);
    assert!(appointments.0.len() > 1 && prescriptions.0.len() > 1);
    assert!(
        appointments
            .1
            .iter()
            .any(|owner| *owner != appointments.1[0])
    );
    let expected = BTreeSet::from([
        allowed("READ", "PATIENT", &patients, &patients),
        allowed("READ", "APPOINTMENT", &appointments.0, &appointments.1),
        allowed("READ", "PRESCRIPTION", &prescriptions.0, &prescriptions.1),
    ]);

    let events = trail(&app, &admin, json!({ "action": "READ" })).await;
    let recorded: BTreeSet<Shape> = events.iter().map(shape).collect();
    assert_eq!(recorded, expected);
    assert_eq!(events.len(), 3, "one event per kind of record");

    // Each patient's events are found by the patient, whichever other patients they name:
    // the patient, and their appointments and prescriptions when they have any.
    for patient in &patients {
        let about = trail(&app, &admin, json!({ "patientId": patient })).await;
        let kinds: BTreeSet<&str> = about
            .iter()
            .map(|event| event["entityType"].as_str().expect("type"))
            .collect();
        let mut expected = BTreeSet::from(["PATIENT"]);
        if appointments.1.contains(patient) {
            expected.insert("APPOINTMENT");
        }
        if prescriptions.1.contains(patient) {
            expected.insert("PRESCRIPTION");
        }
        assert_eq!(kinds, expected, "{patient}: {about:?}");
    }
    let doctor_id = my_id(&app, &doctor).await;
    for event in &events {
        assert_eq!(
            event["actor"],
            json!({ "id": doctor_id, "email": email_of(Role::Doctor), "role": "DOCTOR" })
        );
        assert_eq!(event["requestId"], request_id.as_str());
        let ip = event["clientIp"].as_str().expect("ip");
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
    }
}

/// The trail finds a patient's events through the requests that named the patient, and keeps
/// of a request's events only those that name the patient themselves.
async fn a_patient_finds_only_the_events_that_name_them(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    let admin = app.token(Role::Admin).await;
    let (a, b) = (demo_patient(1), demo_patient(2));
    let read = "query($a: ID!, $b: ID!) {
      a: patient(id: $a) { name }
      b: patient(id: $b) { appointments(first: 5) { nodes { id } } }
    }";
    let data = app.ok(&doctor, read, json!({ "a": a, "b": b })).await;
    let appointments: Vec<&str> = data["b"]["appointments"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["id"].as_str().expect("id"))
        .collect();
    assert!(!appointments.is_empty(), "the demo patient has visits");

    let both = allowed("READ", "PATIENT", &[&a, &b], &[&a, &b]);
    let visits = allowed("READ", "APPOINTMENT", &appointments, &[&b]);
    let found = |events: Vec<Value>| events.iter().map(shape).collect::<BTreeSet<Shape>>();
    let about_a = trail(&app, &admin, json!({ "patientId": a })).await;
    assert_eq!(found(about_a), BTreeSet::from([both.clone()]));
    let about_b = trail(&app, &admin, json!({ "patientId": b })).await;
    assert_eq!(found(about_b), BTreeSet::from([both, visits]));
    let count = app
        .ok(
            &admin,
            EVENTS,
            json!({ "f": { "patientId": a }, "first": 1 }),
        )
        .await;
    assert_eq!(count["auditEvents"]["totalCount"], 1);
}

const CREATE_DOCTOR: &str =
    "mutation { createDoctor(input: {name: \"Dr. Audit\", specialty: \"Dermatology\"}) { id } }";

/// Runs `query` as `token` and returns the id at `data.<field>.id`.
async fn id_from(app: &TestApp, token: &str, query: &str, variables: Value, field: &str) -> String {
    app.ok(token, query, variables).await[field]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{field} returned no id"))
        .to_owned()
}

async fn each_mutation_records_its_action(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let nurse = app.token(Role::Nurse).await;
    let doctor = app.token(Role::Doctor).await;
    let doctors = app.demo_doctor_ids().await;
    let mut expected = BTreeSet::new();

    let patient = app
        .create_patient(&nurse, patient_input("Audit Person", "audit@example.com"))
        .await;
    let p = patient.as_str();
    expected.insert(allowed("CREATE_PATIENT", "PATIENT", &[p], &[p]));
    let update =
        "mutation($id: ID!) { updatePatient(id: $id, input: {phone: \"5550000000\"}) { id } }";
    app.ok(&nurse, update, json!({ "id": p })).await;
    expected.insert(allowed("UPDATE_PATIENT", "PATIENT", &[p], &[p]));
    app.ok(
        &admin,
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": p }),
    )
    .await;
    expected.insert(allowed("DELETE_PATIENT", "PATIENT", &[p], &[p]));
    let restore = "mutation($id: ID!) { restorePatient(id: $id) { id } }";
    app.ok(&admin, restore, json!({ "id": p })).await;
    expected.insert(allowed("RESTORE_PATIENT", "PATIENT", &[p], &[p]));

    let new_doctor = id_from(&app, &admin, CREATE_DOCTOR, json!({}), "createDoctor").await;
    expected.insert(allowed("CREATE_DOCTOR", "DOCTOR", &[&new_doctor], &[]));
    let update =
        "mutation($id: ID!) { updateDoctor(id: $id, input: {specialty: \"Oncology\"}) { id } }";
    app.ok(&admin, update, json!({ "id": new_doctor })).await;
    expected.insert(allowed("UPDATE_DOCTOR", "DOCTOR", &[&new_doctor], &[]));

    let visit = app.scheduled(&nurse, p, &doctors[0], &at(40, 9, 0)).await;
    let v = visit.as_str();
    expected.insert(allowed("SCHEDULE_APPOINTMENT", "APPOINTMENT", &[v], &[p]));
    let reschedule = "mutation($id: ID!, $at: DateTime!) { rescheduleAppointment(id: $id, input: {scheduledAt: $at}) { id } }";
    app.ok(&nurse, reschedule, json!({ "id": v, "at": at(41, 9, 0) }))
        .await;
    expected.insert(allowed("RESCHEDULE_APPOINTMENT", "APPOINTMENT", &[v], &[p]));
    for (token, mutation, action) in [
        (&nurse, "confirmAppointment", "CONFIRM_APPOINTMENT"),
        (&nurse, "checkInAppointment", "CHECK_IN_APPOINTMENT"),
        (&doctor, "completeAppointment", "COMPLETE_APPOINTMENT"),
    ] {
        let response = app.move_appointment(token, mutation, v).await;
        assert!(response.body.get("errors").is_none(), "{}", response.text);
        expected.insert(allowed(action, "APPOINTMENT", &[v], &[p]));
    }
    for (days, mutation, action) in [
        (42, "cancelAppointment", "CANCEL_APPOINTMENT"),
        (43, "markNoShow", "MARK_NO_SHOW"),
    ] {
        let other = app.scheduled(&nurse, p, &doctors[0], &at(days, 9, 0)).await;
        expected.insert(allowed(
            "SCHEDULE_APPOINTMENT",
            "APPOINTMENT",
            &[&other],
            &[p],
        ));
        let response = app.move_appointment(&nurse, mutation, &other).await;
        assert!(response.body.get("errors").is_none(), "{}", response.text);
        expected.insert(allowed(action, "APPOINTMENT", &[&other], &[p]));
    }

    let prescribe = "mutation($p: ID!) { prescribe(input: {patientId: $p, medication: \"Ibuprofen\",
        dosage: \"400 mg\", frequency: \"daily\", route: \"oral\", startDate: \"2026-12-01\"}) { id } }";
    let rx = id_from(&app, &doctor, prescribe, json!({ "p": p }), "prescribe").await;
    expected.insert(allowed("PRESCRIBE", "PRESCRIPTION", &[&rx], &[p]));
    let discontinue =
        "mutation($id: ID!) { discontinuePrescription(id: $id, reason: \"done\") { id } }";
    app.ok(&doctor, discontinue, json!({ "id": rx })).await;
    expected.insert(allowed(
        "DISCONTINUE_PRESCRIPTION",
        "PRESCRIPTION",
        &[&rx],
        &[p],
    ));

    let events = trail(&app, &admin, json!({})).await;
    // Two schedules of the same patient in one request would share an event; here each
    // mutation is its own request, so its own event.
    let writes: Vec<Shape> = events
        .iter()
        .map(shape)
        .filter(|shape| shape.0 != "READ")
        .collect();
    assert_eq!(writes.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(writes.len(), 17, "{writes:?}");
}

async fn refusals_are_recorded_and_refused_data_is_not(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let reception = app.token(Role::Receptionist).await;
    let reception_id = my_id(&app, &reception).await;
    let p1 = demo_patient(1);

    let nosy = "query($id: ID!) { patient(id: $id) { name internalNotes
        prescriptions { nodes { id medication } } } }";
    let response = app.gql(Some(&reception), nosy, json!({ "id": p1 })).await;
    let codes: Vec<&str> = response.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .collect();
    assert_eq!(codes, ["FORBIDDEN", "FORBIDDEN"], "{}", response.text);
    let response = app
        .gql(
            Some(&reception),
            "mutation($id: ID!) { deletePatient(id: $id) }",
            json!({ "id": p1 }),
        )
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"));
    let response = app
        .gql(
            Some(&reception),
            "{ prescriptions { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"));

    let events = trail(&app, &admin, json!({ "actorId": reception_id })).await;
    let recorded: BTreeSet<Shape> = events.iter().map(shape).collect();
    let expected = BTreeSet::from([
        allowed("READ", "PATIENT", &[&p1], &[&p1]),
        denied("READ", "PATIENT", &[&p1], Some("internalNotes")),
        denied("READ", "PATIENT", &[&p1], Some("prescriptions")),
        denied("DELETE_PATIENT", "PATIENT", &[], None),
        denied("READ", "PRESCRIPTION", &[], Some("prescriptions")),
    ]);
    assert_eq!(recorded, expected);

    // Another clinic's admin asking for this clinic's patient: refused as not found, recorded
    // in their clinic's trail against the id they sent, and nothing in this clinic's.
    let other = app.other_clinic_admin().await;
    let other_id = my_id(&app, &other).await;
    let response = app
        .gql(
            Some(&other),
            "query($id: ID!) { patient(id: $id) { name } }",
            json!({ "id": p1 }),
        )
        .await;
    assert_eq!(response.code(), Some("PATIENT_NOT_FOUND"));
    let theirs: Vec<Shape> = trail(&app, &other, json!({}))
        .await
        .iter()
        .map(shape)
        .collect();
    assert_eq!(theirs, [denied("READ", "PATIENT", &[&p1], None)]);
    let ours = trail(&app, &admin, json!({ "actorId": other_id })).await;
    assert_eq!(ours, Vec::<Value>::new());
    let about_p1 = trail(&app, &admin, json!({ "patientId": p1 })).await;
    assert!(
        about_p1.iter().all(|e| e["actor"]["id"] != json!(other_id)),
        "{about_p1:?}"
    );
}

async fn only_an_admin_reads_the_trail_with_filters_and_pages(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctor = app.token(Role::Doctor).await;
    let nurse = app.token(Role::Nurse).await;
    let read = "query($id: ID!) { patient(id: $id) { name } }";
    for (token, patient) in [(&doctor, 1), (&doctor, 2), (&nurse, 2)] {
        app.ok(token, read, json!({ "id": demo_patient(patient) }))
            .await;
    }
    for role in [Role::Doctor, Role::Nurse, Role::Receptionist, Role::Patient] {
        let token = app.token(role).await;
        let response = app.gql(Some(&token), EVENTS, json!({})).await;
        assert_eq!(
            response.code(),
            Some("FORBIDDEN"),
            "{role:?}: {}",
            response.text
        );
    }

    let about_2 = trail(&app, &admin, json!({ "patientId": demo_patient(2) })).await;
    assert_eq!(about_2.len(), 2);
    let nurse_id = my_id(&app, &nurse).await;
    let by_nurse = trail(&app, &admin, json!({ "actorId": nurse_id })).await;
    assert_eq!(by_nurse.len(), 1);
    assert_eq!(by_nurse[0]["entityIds"], json!([demo_patient(2)]));
    let all = trail(&app, &admin, json!({ "action": "READ" })).await;
    assert_eq!(all.len(), 3);
    let newest = all[0]["occurredAt"].as_str().expect("time").to_owned();
    let oldest = all[2]["occurredAt"].as_str().expect("time").to_owned();
    assert!(newest >= oldest, "newest first");
    let since = trail(&app, &admin, json!({ "from": newest })).await;
    assert!(
        since
            .iter()
            .all(|e| e["occurredAt"].as_str() >= Some(newest.as_str()))
    );
    assert!(!since.is_empty());
    let before = trail(&app, &admin, json!({ "to": oldest })).await;
    assert_eq!(before, Vec::<Value>::new());
    assert!(
        trail(&app, &admin, json!({ "action": "PRESCRIBE" }))
            .await
            .is_empty()
    );

    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .ok(
                &admin,
                EVENTS,
                json!({ "f": { "action": "READ" }, "first": 1, "after": after }),
            )
            .await;
        let page = &data["auditEvents"];
        assert_eq!(page["totalCount"], 3);
        seen.push(page["nodes"][0]["id"].clone());
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let listed: Vec<Value> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, listed);
}

async fn the_trail_cannot_be_changed(app: TestApp) {
    let doctor = app.token(Role::Doctor).await;
    app.ok(
        &doctor,
        "query($id: ID!) { patient(id: $id) { name } }",
        json!({ "id": demo_patient(1) }),
    )
    .await;
    let admin = app.token(Role::Admin).await;
    assert_eq!(trail(&app, &admin, json!({})).await.len(), 1);
    // Nor the index of the patients each event names, which would hide events from the
    // patient filter.
    for sql in [
        "UPDATE audit_events SET actor_email = 'someone@else'",
        "DELETE FROM audit_events",
        "UPDATE audit_event_patients SET patient_id = 0",
        "DELETE FROM audit_event_patients",
    ] {
        let error = raw_sql::execute(&app.database_url, sql)
            .await
            .expect_err(sql);
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    if app.database_url.starts_with("postgres") {
        for sql in ["TRUNCATE audit_events", "TRUNCATE audit_event_patients"] {
            let error = raw_sql::execute(&app.database_url, sql)
                .await
                .expect_err(sql);
            assert!(error.contains("append-only"), "{sql}: {error}");
        }
    }
    // Nor through the API: no mutation names the trail.
    let sdl = clinicgraph::schema::sdl();
    let mutations = sdl
        .split("type Mutation {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("a Mutation type");
    assert!(!mutations.to_lowercase().contains("audit"), "{mutations}");
}

on_every_backend!(
    a_nested_query_records_each_patients_records_it_returned,
    a_patient_finds_only_the_events_that_name_them,
    each_mutation_records_its_action,
    refusals_are_recorded_and_refused_data_is_not,
    only_an_admin_reads_the_trail_with_filters_and_pages,
    the_trail_cannot_be_changed,
);
