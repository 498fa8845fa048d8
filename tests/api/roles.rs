//! What each role may do with patient records.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, patient_input};
use crate::on_both_backends;

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

on_both_backends!(
    staff_write_but_only_admins_delete_and_restore,
    internal_notes_are_for_clinical_staff_only,
    a_patient_sees_only_their_own_record_and_changes_nothing,
);
