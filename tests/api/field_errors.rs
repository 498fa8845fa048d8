//! Where a field error leaves its `null` (GraphQL spec, "Handling Execution Errors"): at the
//! field when it is nullable, else at the nearest nullable parent, else `data` is null. Over
//! HTTP, as a client with a normalizing cache (`errorPolicy: 'all'`) reads it.
use axum::http::StatusCode;
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, TestResponse};
use crate::on_every_backend;

/// The first patient of the demo clinic.
const FIRST_PATIENT: &str = "UGF0aWVudDox";

fn failed_at(response: &TestResponse, path: serde_json::Value, code: &str) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let errors = response.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{}", response.text);
    assert_eq!(errors[0]["path"], path, "{}", response.text);
    assert_eq!(response.code(), Some(code), "{}", response.text);
}

async fn a_single_nullable_root_field_is_null_not_the_answer(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let response = app
        .gql(
            Some(&token),
            r#"{ patient(id: "bogus") { id } }"#,
            json!({}),
        )
        .await;
    failed_at(&response, json!(["patient"]), "PATIENT_NOT_FOUND");
    assert_eq!(response.body["data"], json!({ "patient": null }));

    let response = app
        .gql(Some(&token), r#"{ node(id: "bogus") { id } }"#, json!({}))
        .await;
    failed_at(&response, json!(["node"]), "NOT_FOUND");
    assert_eq!(response.body["data"], json!({ "node": null }));

    // Beside a field that worked, under an alias.
    let response = app
        .gql(
            Some(&token),
            r#"{ p: patient(id: "bogus") { id } me { email } }"#,
            json!({}),
        )
        .await;
    failed_at(&response, json!(["p"]), "PATIENT_NOT_FOUND");
    assert_eq!(
        response.body["data"],
        json!({ "p": null, "me": { "email": "admin@demo.clinic" } })
    );
}

async fn a_nested_nullable_field_is_null_and_its_object_stays(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    let response = app
        .gql(
            Some(&token),
            "query($id: ID!) { patient(id: $id) { id internalNotes } }",
            json!({ "id": FIRST_PATIENT }),
        )
        .await;
    failed_at(&response, json!(["patient", "internalNotes"]), "FORBIDDEN");
    assert_eq!(
        response.body["data"],
        json!({ "patient": { "id": FIRST_PATIENT, "internalNotes": null } })
    );

    // The object's only field failed: the object is still there.
    let response = app
        .gql(
            Some(&token),
            "query($id: ID!) { patient(id: $id) { ...Notes } } \
             fragment Notes on Patient { internalNotes }",
            json!({ "id": FIRST_PATIENT }),
        )
        .await;
    failed_at(&response, json!(["patient", "internalNotes"]), "FORBIDDEN");
    assert_eq!(
        response.body["data"],
        json!({ "patient": { "internalNotes": null } })
    );
}

async fn a_non_null_field_error_nulls_the_nearest_nullable_parent(app: TestApp) {
    let token = app.token(Role::Admin).await;
    // `appointments` is `AppointmentConnection!`: `patient` (nullable) takes the null.
    let response = app
        .gql(
            Some(&token),
            "query($id: ID!) { patient(id: $id) { id appointments(first: -1) { totalCount } } }",
            json!({ "id": FIRST_PATIENT }),
        )
        .await;
    let errors = response.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{}", response.text);
    assert_eq!(errors[0]["path"], json!(["patient", "appointments"]));
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.body["data"], json!({ "patient": null }));

    // Nothing nullable above a failed `me: User!`: `data` itself is null.
    let response = app.gql(None, "{ me { id } }", json!({})).await;
    assert_eq!(response.body["errors"][0]["path"], json!(["me"]));
    assert!(response.body.get("data").is_some(), "{}", response.text);
    assert!(response.body["data"].is_null(), "{}", response.text);
}

on_every_backend!(
    a_single_nullable_root_field_is_null_not_the_answer,
    a_nested_nullable_field_is_null_and_its_object_stays,
    a_non_null_field_error_nulls_the_nearest_nullable_parent,
);
