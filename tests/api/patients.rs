//! Creating, reading, updating, deleting and restoring patients.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, patient_input, violated_fields};
use crate::on_every_backend;

const FIELDS: &str =
    "id patientId name email phone bloodGroup dateOfBirth internalNotes createdAt updatedAt";

async fn created_patients_read_back_by_id_patient_id_and_node(app: TestApp) {
    let token = app.token(Role::Nurse).await;
    let mut input = patient_input("  Zoë Ünal ", "Zoe.Unal@Example.COM");
    input["phone"] = json!("(555) 987-6543");
    input["internalNotes"] = json!("Prefers morning visits");
    let created = app
        .ok(
            &token,
            &format!(
                "mutation($i: CreatePatientInput!) {{ createPatient(input: $i) {{ {FIELDS} }} }}"
            ),
            json!({ "i": input }),
        )
        .await["createPatient"]
        .clone();
    assert_eq!(created["name"], "Zoë Ünal");
    assert_eq!(created["email"], "zoe.unal@example.com");
    assert_eq!(created["phone"], "5559876543");
    assert_eq!(created["bloodGroup"], "A_POS");
    assert_eq!(created["dateOfBirth"], "1985-04-12");
    assert_eq!(created["internalNotes"], "Prefers morning visits");
    let patient_id = created["patientId"].as_str().expect("patientId");
    assert!(
        patient_id.starts_with("PAT-") && patient_id.len() == 10,
        "{patient_id}"
    );

    let id = created["id"].as_str().expect("id");
    let by_id = app
        .ok(
            &token,
            &format!("query($id: ID!) {{ patient(id: $id) {{ {FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(by_id["patient"], created);
    let by_number = app
        .ok(
            &token,
            &format!("query($p: String!) {{ patientByPatientId(patientId: $p) {{ {FIELDS} }} }}"),
            json!({ "p": patient_id }),
        )
        .await;
    assert_eq!(by_number["patientByPatientId"], created);
    let node = app
        .ok(
            &token,
            "query($id: ID!) { node(id: $id) { id ... on Patient { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(node["node"], json!({ "id": id, "name": "Zoë Ünal" }));
}

async fn every_violation_is_reported_at_once_and_nothing_is_stored(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let before = app
        .ok(&token, "{ patients { totalCount } }", json!({}))
        .await;
    let input = json!({
        "name": "   ",
        "email": "not-an-email",
        "phone": "12345",
        "dateOfBirth": "2999-01-01",
        "primaryDoctorId": "bm90LWEtZG9jdG9y",
    });
    let response = app
        .gql(
            Some(&token),
            "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("VALIDATION_FAILED"),
        "{}",
        response.text
    );
    assert_eq!(
        violated_fields(&response),
        ["name", "email", "phone", "dateOfBirth", "primaryDoctorId"]
    );
    let long_name = "é".repeat(201);
    let response = app
        .gql(
            Some(&token),
            "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
            json!({ "i": patient_input(&long_name, "long@example.com") }),
        )
        .await;
    assert_eq!(violated_fields(&response), ["name"]);
    let after = app
        .ok(&token, "{ patients { totalCount } }", json!({}))
        .await;
    assert_eq!(before, after);
}

async fn bad_enum_and_date_values_are_refused(app: TestApp) {
    let token = app.token(Role::Admin).await;
    for (field, value) in [
        ("bloodGroup", "Z_POS"),
        ("dateOfBirth", "1990-13-45"),
        ("dateOfBirth", "yesterday"),
    ] {
        let mut input = patient_input("Ann", "ann@example.com");
        input[field] = json!(value);
        let response = app
            .gql(
                Some(&token),
                "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        // A request error (variables not coerced): 200 for a client accepting JSON.
        assert_eq!(response.status, 200, "{field}={value}: {}", response.text);
        assert!(response.body.get("data").is_none(), "{}", response.text);
        assert_eq!(response.code(), Some("GRAPHQL_VALIDATION_FAILED"));
    }
}

async fn duplicate_emails_are_refused_per_clinic(app: TestApp) {
    let token = app.token(Role::Admin).await;
    app.create_patient(&token, patient_input("Ann", "ann@example.com"))
        .await;
    let response = app
        .gql(
            Some(&token),
            "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
            json!({ "i": patient_input("Another Ann", "ANN@example.com") }),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("DUPLICATE_EMAIL"),
        "{}",
        response.text
    );

    let other = app.other_clinic_admin().await;
    app.create_patient(&other, patient_input("Ann Elsewhere", "ann@example.com"))
        .await;
}

async fn twelve_concurrent_creates_with_one_email_give_one_patient(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let query = "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }";
    let variables = json!({ "i": patient_input("Racer", "race@example.com") });
    let creates = (0..12).map(|_| app.gql(Some(&token), query, variables.clone()));
    let responses = futures_util::future::join_all(creates).await;
    let mut codes: Vec<Option<&str>> = responses.iter().map(|r| r.code()).collect();
    codes.sort();
    let mut expected = vec![Some("DUPLICATE_EMAIL"); 11];
    expected.insert(0, None);
    assert_eq!(
        codes,
        expected,
        "{:?}",
        responses.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let found = app
        .ok(
            &token,
            "{ patients(filter: {search: \"race@example.com\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(found["patients"]["totalCount"], 1);
}

async fn updates_are_partial_and_validated(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    let id = app
        .create_patient(&token, patient_input("Ann", "ann@example.com"))
        .await;
    let update = "mutation($id: ID!, $i: UpdatePatientInput!) { updatePatient(id: $id, input: $i) { name email phone bloodGroup dateOfBirth } }";
    let data = app
        .ok(
            &token,
            update,
            json!({ "id": id, "i": { "phone": "555 111 2222", "bloodGroup": null } }),
        )
        .await;
    assert_eq!(
        data["updatePatient"],
        json!({ "name": "Ann", "email": "ann@example.com", "phone": "5551112222", "bloodGroup": null, "dateOfBirth": "1985-04-12" })
    );
    let response = app
        .gql(
            Some(&token),
            update,
            json!({ "id": id, "i": { "email": null, "name": "" } }),
        )
        .await;
    assert_eq!(response.code(), Some("VALIDATION_FAILED"));
    assert_eq!(violated_fields(&response), ["name", "email"]);
    app.create_patient(&token, patient_input("Bob", "bob@example.com"))
        .await;
    let response = app
        .gql(
            Some(&token),
            update,
            json!({ "id": id, "i": { "email": "BOB@example.com" } }),
        )
        .await;
    assert_eq!(response.code(), Some("DUPLICATE_EMAIL"));
}

async fn missing_and_deleted_patients_are_not_found(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let id = app
        .create_patient(&token, patient_input("Ann", "ann@example.com"))
        .await;
    let deleted = app
        .ok(
            &token,
            "mutation($id: ID!) { deletePatient(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deletePatient"], true);
    let unknown =
        clinicgraph::core::ids::encode(clinicgraph::core::ids::NodeType::Patient, 999_999);
    app.assert_each_fails(
        &token,
        "PATIENT_NOT_FOUND",
        vec![
            (
                "query($id: ID!) { patient(id: $id) { id } }",
                json!({ "id": id }),
            ),
            (
                "query($id: ID!) { patient(id: $id) { id } }",
                json!({ "id": unknown }),
            ),
            (
                "query($id: ID!) { patient(id: $id) { id } }",
                json!({ "id": "garbage" }),
            ),
            (
                "{ patientByPatientId(patientId: \"PAT-999999\") { id } }",
                json!({}),
            ),
            (
                "mutation($id: ID!) { deletePatient(id: $id) }",
                json!({ "id": id }),
            ),
            (
                "mutation($id: ID!) { updatePatient(id: $id, input: {name: \"X\"}) { id } }",
                json!({ "id": id }),
            ),
        ],
    )
    .await;
    // Deleted patients leave lists and free their email; restoring brings them back.
    let listed = app
        .ok(
            &token,
            "{ patients(filter: {search: \"ann@example.com\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["patients"]["totalCount"], 0);
    let restored = app
        .ok(
            &token,
            "mutation($id: ID!) { restorePatient(id: $id) { id name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        restored["restorePatient"],
        json!({ "id": id, "name": "Ann" })
    );
    let read = app
        .ok(
            &token,
            "query($id: ID!) { patient(id: $id) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["patient"]["name"], "Ann");
}

async fn another_clinics_patients_do_not_exist_for_you(app: TestApp) {
    let ours = app.token(Role::Admin).await;
    let id = app
        .create_patient(&ours, patient_input("Ann", "ann@example.com"))
        .await;
    let theirs = app.other_clinic_admin().await;
    app.assert_each_fails(
        &theirs,
        "PATIENT_NOT_FOUND",
        vec![
            (
                "query($id: ID!) { patient(id: $id) { id } }",
                json!({ "id": id }),
            ),
            (
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            ),
            (
                "{ patientByPatientId(patientId: \"PAT-000001\") { id } }",
                json!({}),
            ),
            (
                "mutation($id: ID!) { updatePatient(id: $id, input: {name: \"X\"}) { id } }",
                json!({ "id": id }),
            ),
            (
                "mutation($id: ID!) { deletePatient(id: $id) }",
                json!({ "id": id }),
            ),
        ],
    )
    .await;
    let list = app
        .ok(
            &theirs,
            "{ patients { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["patients"], json!({ "totalCount": 0, "nodes": [] }));
    // ... and our record is untouched.
    let read = app
        .ok(
            &ours,
            "query($id: ID!) { patient(id: $id) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["patient"]["name"], "Ann");
}

on_every_backend!(
    created_patients_read_back_by_id_patient_id_and_node,
    every_violation_is_reported_at_once_and_nothing_is_stored,
    bad_enum_and_date_values_are_refused,
    duplicate_emails_are_refused_per_clinic,
    twelve_concurrent_creates_with_one_email_give_one_patient,
    updates_are_partial_and_validated,
    missing_and_deleted_patients_are_not_found,
    another_clinics_patients_do_not_exist_for_you,
);
