//! A deleted patient's appointments and prescriptions go with them: by id they are as unknown as
//! an id that never existed, and no list, count or nested edge shows them, for any role; a
//! restore brings them all back.
use clinicgraph::core::auth::Role;
use clinicgraph::core::ids::{self, NodeType};
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, patient_input};
use crate::on_every_backend;

/// The ids of one patient's records, and their doctor's.
#[derive(Clone)]
struct Records {
    patient: String,
    visit: String,
    rx: String,
    doctor: String,
    /// The visit's day, for lists of the doctor's (the demo doctor has many appointments).
    day: (String, String),
}

/// Each way to the records, as `(way, what it showed)`: `found`, `absent` (a list without
/// them), `null`, or the error code.
async fn ways(app: &TestApp, token: &str, r: &Records) -> Vec<(String, String)> {
    let (from, to) = (&r.day.0, &r.day.1);
    let by_id = [
        (
            "appointment(id)",
            "query($id: ID!) { appointment(id: $id) { id } }",
            &r.visit,
        ),
        (
            "node(appointment)",
            "query($id: ID!) { node(id: $id) { id } }",
            &r.visit,
        ),
        (
            "prescription(id)",
            "query($id: ID!) { prescription(id: $id) { id } }",
            &r.rx,
        ),
        (
            "node(prescription)",
            "query($id: ID!) { node(id: $id) { id } }",
            &r.rx,
        ),
    ];
    let mut shown = Vec::new();
    for (way, query, id) in by_id {
        let response = app.gql(Some(token), query, json!({ "id": id })).await;
        let field = response.body["data"]
            .as_object()
            .and_then(|data| data.values().next().cloned())
            .unwrap_or(Value::Null);
        let what = match (response.code(), field) {
            (Some(code), _) => code.to_owned(),
            (None, Value::Null) => "null".to_owned(),
            (None, found) if found["id"] == json!(id) => "found".to_owned(),
            (None, other) => format!("another record: {other}"),
        };
        shown.push((way.to_owned(), what));
    }
    let lists = [
        (
            "appointments(patientId)",
            "query($p: ID!) { list: appointments(first: 100, filter: { patientId: $p }) { totalCount nodes { id } } }",
            &r.visit,
        ),
        (
            "appointments(doctorId, day)",
            "query($d: ID!, $from: DateTime!, $to: DateTime!) { list: appointments(first: 100, filter: { doctorId: $d, from: $from, to: $to }) { totalCount nodes { id } } }",
            &r.visit,
        ),
        (
            "doctor.appointments(day)",
            "query($d: ID!, $from: DateTime!, $to: DateTime!) { doctor(id: $d) { list: appointments(first: 100, from: $from, to: $to) { totalCount nodes { id patient { id } } } } }",
            &r.visit,
        ),
        (
            "prescriptions(patientId)",
            "query($p: ID!) { list: prescriptions(first: 100, filter: { patientId: $p }) { totalCount nodes { id } } }",
            &r.rx,
        ),
        (
            "prescriptions(prescriberId, medication)",
            "query($d: ID!) { list: prescriptions(first: 100, filter: { prescriberId: $d, medication: \"Αμοξικιλλίνη\" }) { totalCount nodes { id } } }",
            &r.rx,
        ),
    ];
    let variables = json!({ "p": r.patient, "d": r.doctor, "from": from, "to": to });
    for (way, query, id) in lists {
        let response = app.gql(Some(token), query, variables.clone()).await;
        let data = &response.body["data"];
        let list = if data["list"].is_null() {
            &data["doctor"]["list"]
        } else {
            &data["list"]
        };
        let nodes = list["nodes"].as_array().cloned().unwrap_or_default();
        let listed = nodes.iter().any(|node| node["id"] == json!(id));
        let counted = list["totalCount"].as_i64() == Some(nodes.len() as i64);
        let what = match response.code() {
            Some(code) => code.to_owned(),
            None if !counted => format!("totalCount disagrees: {list}"),
            None if listed => "found".to_owned(),
            None => "absent".to_owned(),
        };
        shown.push((way.to_owned(), what));
    }
    shown
}

async fn a_deleted_patients_records_go_and_come_back_with_them(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctor = app.token(Role::Doctor).await;
    let nurse = app.token(Role::Nurse).await;
    let patient = app
        .create_patient(&admin, patient_input("Ζωή Αλεξίου", "zoi@example.com"))
        .await;
    // The demo DOCTOR account's own profile: only its doctor prescribes.
    let grace = "{ doctors(filter: { search: \"Grace Hopper\" }, first: 1) { nodes { id } } }";
    let doctor_id = app.ok(&doctor, grace, json!({})).await["doctors"]["nodes"][0]["id"]
        .as_str()
        .expect("the demo DOCTOR's profile")
        .to_owned();
    let start = at(75, 9, 0);
    let visit = app.scheduled(&nurse, &patient, &doctor_id, &start).await;
    let prescribe = "mutation($i: PrescribeInput!) { prescribe(input: $i) { id } }";
    let input = json!({ "patientId": patient, "appointmentId": visit, "medication": "Αμοξικιλλίνη",
        "dosage": "500 mg", "frequency": "every 8 hours", "route": "oral",
        "startDate": "2026-12-01", "refills": 0 });
    let rx = app.ok(&doctor, prescribe, json!({ "i": input })).await["prescribe"]["id"]
        .as_str()
        .expect("prescribed")
        .to_owned();
    let records = Records {
        patient: patient.clone(),
        visit,
        rx,
        doctor: doctor_id,
        day: (at(75, 0, 0), at(76, 0, 0)),
    };
    // What ways show of records that never existed: the by-id answers a deleted record's must
    // equal.
    let unknown = Records {
        visit: ids::encode(NodeType::Appointment, 987_654),
        rx: ids::encode(NodeType::Prescription, 987_654),
        ..records.clone()
    };
    let readers = [("ADMIN", &admin), ("DOCTOR", &doctor), ("NURSE", &nurse)];
    for (role, token) in readers {
        let shown = ways(&app, token, &records).await;
        assert!(
            shown.iter().all(|(_, what)| what == "found"),
            "{role} before the delete: {shown:?}"
        );
    }

    let delete = "mutation($id: ID!) { deletePatient(id: $id) }";
    app.ok(&admin, delete, json!({ "id": patient })).await;
    for (role, token) in readers {
        let shown = ways(&app, token, &records).await;
        let never = ways(&app, token, &unknown).await;
        for ((way, what), (_, expected)) in shown.iter().zip(&never) {
            assert_eq!(what, expected, "{role}, {way}, after the delete");
        }
    }

    let restore = "mutation($id: ID!) { restorePatient(id: $id) { id } }";
    app.ok(&admin, restore, json!({ "id": patient })).await;
    for (role, token) in readers {
        let shown = ways(&app, token, &records).await;
        assert!(
            shown.iter().all(|(_, what)| what == "found"),
            "{role} after the restore: {shown:?}"
        );
    }
}

on_every_backend!(a_deleted_patients_records_go_and_come_back_with_them,);
