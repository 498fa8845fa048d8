//! What each role may do with patient records.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, at, demo_patient, patient_input};
use crate::on_every_backend;

const CREATE: &str = "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }";
const UPDATE: &str =
    "mutation($id: ID!) { updatePatient(id: $id, input: {phone: \"5550001111\"}) { phone } }";
const DELETE: &str = "mutation($id: ID!) { deletePatient(id: $id) }";
const RESTORE: &str = "mutation($id: ID!) { restorePatient(id: $id) { id } }";

async fn staff_write_but_only_admins_delete_and_restore(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    for (n, role) in [Role::Admin, Role::Doctor, Role::Nurse, Role::Receptionist]
        .into_iter()
        .enumerate()
    {
        let token = app.token(role).await;
        let email = format!("staff{n}@example.com");
        let id = app
            .create_patient(&token, patient_input("Staff Made", &email))
            .await;
        let updated = app.ok(&token, UPDATE, json!({ "id": id })).await;
        assert_eq!(updated["updatePatient"]["phone"], "5550001111", "{role:?}");
        let delete = app.gql(Some(&token), DELETE, json!({ "id": id })).await;
        if role == Role::Admin {
            assert_eq!(delete.body["data"]["deletePatient"], true);
            let restored = app.ok(&token, RESTORE, json!({ "id": id })).await;
            assert_eq!(restored["restorePatient"]["id"], id);
        } else {
            assert_eq!(
                delete.code(),
                Some("FORBIDDEN"),
                "{role:?}: {}",
                delete.text
            );
            app.ok(&admin, DELETE, json!({ "id": id })).await;
            let restore = app.gql(Some(&token), RESTORE, json!({ "id": id })).await;
            assert_eq!(restore.code(), Some("FORBIDDEN"), "{role:?}");
        }
    }
}

async fn internal_notes_are_for_clinical_staff_only(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let mut input = patient_input("Noted", "noted@example.com");
    input["internalNotes"] = json!("Anxious about needles");
    let id = app.create_patient(&admin, input).await;
    let read = "query($id: ID!) { patient(id: $id) { name internalNotes } }";
    for role in [Role::Admin, Role::Doctor, Role::Nurse] {
        let token = app.token(role).await;
        let data = app.ok(&token, read, json!({ "id": id })).await;
        assert_eq!(
            data["patient"]["internalNotes"], "Anxious about needles",
            "{role:?}"
        );
    }
    let reception = app.token(Role::Receptionist).await;
    let response = app.gql(Some(&reception), read, json!({ "id": id })).await;
    assert_eq!(response.code(), Some("FORBIDDEN"), "{}", response.text);
    assert_eq!(
        response.body["errors"][0]["path"],
        json!(["patient", "internalNotes"])
    );
    // The rest of the record is still served.
    assert_eq!(
        response.body["data"]["patient"],
        json!({ "name": "Noted", "internalNotes": null })
    );
    let mut write = patient_input("Sneaky", "sneaky@example.com");
    write["internalNotes"] = json!("written by reception");
    let response = app
        .gql(Some(&reception), CREATE, json!({ "i": write }))
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"));
}

async fn a_patient_sees_only_their_own_record_and_changes_nothing(app: TestApp) {
    let token = app.token(Role::Patient).await;
    let me = app
        .ok(
            &token,
            "{ me { role patient { id patientId name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["role"], "PATIENT");
    let own_id = me["me"]["patient"]["id"]
        .as_str()
        .expect("linked record")
        .to_owned();
    assert_eq!(me["me"]["patient"]["patientId"], "PAT-000001");

    let list = app
        .ok(
            &token,
            "{ patients(first: 100) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        list["patients"],
        json!({ "totalCount": 1, "nodes": [{ "id": own_id }] })
    );

    let other = clinicgraph::core::ids::encode(clinicgraph::core::ids::NodeType::Patient, 2);
    let response = app
        .gql(
            Some(&token),
            "query($id: ID!) { patient(id: $id) { id } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(response.code(), Some("PATIENT_NOT_FOUND"));
    let response = app
        .gql(
            Some(&token),
            "{ patientByPatientId(patientId: \"PAT-000002\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(response.code(), Some("PATIENT_NOT_FOUND"));

    let response = app
        .gql(
            Some(&token),
            "query($id: ID!) { patient(id: $id) { internalNotes } }",
            json!({ "id": own_id }),
        )
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"));

    for (query, variables) in [
        (
            CREATE,
            json!({ "i": patient_input("Me Too", "metoo@example.com") }),
        ),
        (UPDATE, json!({ "id": own_id })),
        (DELETE, json!({ "id": own_id })),
    ] {
        let response = app.gql(Some(&token), query, variables).await;
        assert_eq!(
            response.code(),
            Some("FORBIDDEN"),
            "{query}: {}",
            response.text
        );
    }
}

/// `Appointment.notes` is clinical: ADMIN, DOCTOR and NURSE read and write it; for the others
/// it is FORBIDDEN on every path to an appointment, and the rest of the record is served.
async fn appointment_notes_are_for_clinical_staff_on_every_path(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let doctors = app.demo_doctor_ids().await;
    // PAT-000001 is the demo PATIENT account's own record, so that role reaches it too.
    let patient = demo_patient(1);
    let schedule =
        "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id notes } }";
    let input = |notes: &str, day: i64| {
        json!({ "i": { "patientId": patient, "doctorId": doctors[0], "scheduledAt": at(day, 9, 0),
            "durationMinutes": 30, "notes": notes } })
    };
    let made = app.ok(&admin, schedule, input("Query melanoma", 400)).await;
    let id = made["scheduleAppointment"]["id"].clone();
    assert_eq!(made["scheduleAppointment"]["notes"], "Query melanoma");
    let paths = [
        (
            "appointment",
            "query($id: ID!) { appointment(id: $id) { id notes } }",
            json!({ "id": id }),
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on Appointment { notes } } }",
            json!({ "id": id }),
        ),
        (
            "appointments",
            "query($p: ID!) { appointments(first: 100, filter: { patientId: $p }) { nodes { id notes } } }",
            json!({ "p": patient }),
        ),
        (
            "patient",
            "query($p: ID!) { patient(id: $p) { appointments(first: 100) { nodes { id notes } } } }",
            json!({ "p": patient }),
        ),
        (
            "doctor",
            "query($d: ID!) { doctor(id: $d) { appointments(first: 100) { nodes { id notes } } } }",
            json!({ "d": doctors[0] }),
        ),
    ];
    let found = |data: &serde_json::Value| -> serde_json::Value {
        let text = data.to_string();
        assert!(text.contains(id.as_str().expect("id")), "{text}");
        // The appointment's notes, wherever it sits in the answer.
        let mut notes = serde_json::Value::Null;
        let mut stack = vec![data.clone()];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if map.get("id") == Some(&id) {
                        notes = map.get("notes").cloned().unwrap_or_default();
                    }
                    stack.extend(map.into_values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        notes
    };
    for role in [Role::Admin, Role::Doctor, Role::Nurse] {
        let token = app.token(role).await;
        for (path, query, variables) in &paths {
            let data = app.ok(&token, query, variables.clone()).await;
            assert_eq!(found(&data), "Query melanoma", "{role:?} {path}");
        }
    }
    for role in [Role::Receptionist, Role::Patient] {
        let token = app.token(role).await;
        for (path, query, variables) in &paths {
            let response = app.gql(Some(&token), query, variables.clone()).await;
            assert_eq!(
                response.code(),
                Some("FORBIDDEN"),
                "{role:?} {path}: {}",
                response.text
            );
            let path_of_error = response.body["errors"][0]["path"].as_array().cloned();
            assert_eq!(
                path_of_error.and_then(|p| p.last().cloned()),
                Some(json!("notes")),
                "{role:?} {path}"
            );
            assert_eq!(found(&response.body["data"]), serde_json::Value::Null);
        }
    }
    // Nor may a RECEPTIONIST write notes they could not read.
    let reception = app.token(Role::Receptionist).await;
    let response = app
        .gql(
            Some(&reception),
            schedule,
            input("Written at the desk", 401),
        )
        .await;
    assert_eq!(response.code(), Some("FORBIDDEN"), "{}", response.text);
    let without = json!({ "i": { "patientId": patient, "doctorId": doctors[0],
        "scheduledAt": at(402, 9, 0), "durationMinutes": 30 } });
    let booked = app
        .ok(
            &reception,
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
            without,
        )
        .await;
    assert!(booked["scheduleAppointment"]["id"].is_string());
}

on_every_backend!(
    appointment_notes_are_for_clinical_staff_on_every_path,
    staff_write_but_only_admins_delete_and_restore,
    internal_notes_are_for_clinical_staff_only,
    a_patient_sees_only_their_own_record_and_changes_nothing,
);
