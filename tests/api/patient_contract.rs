//! The create and update contract of a patient, as the seed's API states it: phone required,
//! date of birth optional.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, patient_input, violated_fields};
use crate::on_every_backend;

const CREATE: &str =
    "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id name phone dateOfBirth } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdatePatientInput!) { updatePatient(id: $id, input: $i) { phone dateOfBirth } }";

async fn a_patient_is_created_without_a_date_of_birth(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    let input =
        json!({ "name": " Noor Singh ", "email": "Noor@Example.com", "phone": "555-000-1111" });
    let created = app.ok(&token, CREATE, json!({ "i": input })).await["createPatient"].clone();
    assert_eq!(created["name"], "Noor Singh");
    assert_eq!(created["phone"], "5550001111");
    assert_eq!(created["dateOfBirth"], json!(null));

    let id = created["id"].as_str().expect("id");
    let read = app
        .ok(
            &token,
            "query($id: ID!) { patient(id: $id) { dateOfBirth } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["patient"]["dateOfBirth"], json!(null));
}

async fn a_phone_is_required_on_create(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let mut without = patient_input("Ann", "ann@example.com");
    without.as_object_mut().expect("object").remove("phone");
    let response = app.gql(Some(&token), CREATE, json!({ "i": without })).await;
    // A request error, for a client without `Accept`: 200, no `data`.
    assert_eq!(response.status, 200, "{}", response.text);
    assert!(response.body.get("data").is_none(), "{}", response.text);
    assert_eq!(response.code(), Some("GRAPHQL_VALIDATION_FAILED"));
    assert!(response.text.contains("phone"), "{}", response.text);

    let mut null = patient_input("Ann", "ann@example.com");
    null["phone"] = json!(null);
    let response = app.gql(Some(&token), CREATE, json!({ "i": null })).await;
    assert_eq!(response.code(), Some("GRAPHQL_VALIDATION_FAILED"));

    // A phone given but blank is a rule of the contract, reported with the other violations.
    let input = json!({ "name": "", "email": "nope", "phone": "  " });
    let response = app.gql(Some(&token), CREATE, json!({ "i": input })).await;
    assert_eq!(
        response.code(),
        Some("VALIDATION_FAILED"),
        "{}",
        response.text
    );
    assert_eq!(violated_fields(&response), ["name", "email", "phone"]);
}

async fn a_date_of_birth_in_the_future_is_refused(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let mut input = patient_input("Ann", "ann@example.com");
    input["dateOfBirth"] = json!("2999-01-01");
    let response = app.gql(Some(&token), CREATE, json!({ "i": input })).await;
    assert_eq!(response.code(), Some("VALIDATION_FAILED"));
    assert_eq!(violated_fields(&response), ["dateOfBirth"]);
}

async fn an_update_changes_the_phone_but_never_clears_it(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    let id = app
        .create_patient(&token, patient_input("Ann", "ann@example.com"))
        .await;
    let changed = app
        .ok(
            &token,
            UPDATE,
            json!({ "id": id, "i": { "phone": "(555) 222 3333" } }),
        )
        .await;
    assert_eq!(changed["updatePatient"]["phone"], "5552223333");

    let response = app
        .gql(
            Some(&token),
            UPDATE,
            json!({ "id": id, "i": { "phone": null } }),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("VALIDATION_FAILED"),
        "{}",
        response.text
    );
    assert_eq!(violated_fields(&response), ["phone"]);
    assert_eq!(
        response.body["errors"][0]["extensions"]["fields"][0]["message"],
        "cannot be null"
    );

    let response = app
        .gql(
            Some(&token),
            UPDATE,
            json!({ "id": id, "i": { "phone": "12", "dateOfBirth": "2999-01-01" } }),
        )
        .await;
    assert_eq!(violated_fields(&response), ["phone", "dateOfBirth"]);

    let kept = app
        .ok(
            &token,
            "query($id: ID!) { patient(id: $id) { phone } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(kept["patient"]["phone"], "5552223333");
}

async fn an_update_clears_the_date_of_birth(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    let id = app
        .create_patient(&token, patient_input("Ann", "ann@example.com"))
        .await;
    let cleared = app
        .ok(
            &token,
            UPDATE,
            json!({ "id": id, "i": { "dateOfBirth": null } }),
        )
        .await;
    assert_eq!(
        cleared["updatePatient"],
        json!({ "phone": "5551234567", "dateOfBirth": null })
    );
    let set = app
        .ok(
            &token,
            UPDATE,
            json!({ "id": id, "i": { "dateOfBirth": "1970-03-04" } }),
        )
        .await;
    assert_eq!(set["updatePatient"]["dateOfBirth"], "1970-03-04");
}

on_every_backend!(
    a_patient_is_created_without_a_date_of_birth,
    a_phone_is_required_on_create,
    a_date_of_birth_in_the_future_is_refused,
    an_update_changes_the_phone_but_never_clears_it,
    an_update_clears_the_date_of_birth,
);
