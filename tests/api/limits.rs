//! Limits on what one request may ask for: depth, complexity (lists weighed by their page
//! size, aliases counted), batch size and a time limit for queries (introspection: see
//! `introspection.rs`).
use axum::http::StatusCode;
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestResponse};

/// `levels` hops of patient → doctor → patients below a page of patients.
fn deep(levels: usize) -> String {
    let mut selection = "name".to_owned();
    for _ in 0..levels {
        selection = format!("primaryDoctor {{ patients(first: 1) {{ nodes {{ {selection} }} }} }}");
    }
    format!("{{ patients(first: 1) {{ nodes {{ {selection} }} }} }}")
}

/// A request error, as a client that sends no `Accept` (read as `application/json`) is told:
/// 200 with the errors in the body, and no `data`.
fn refused_before_running(response: &TestResponse, code: &str) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.code(), Some(code), "{}", response.text);
    assert!(response.body.get("data").is_none(), "{}", response.text);
}

async fn app_with(env: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, env)
        .await
        .expect("SQLite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_is_limited() {
    let app = app_with(&[]).await;
    let token = app.token(Role::Doctor).await;
    // 12 levels deep (the default limit): allowed.
    app.ok(&token, &deep(3), json!({})).await;
    // 15 levels deep: refused.
    let response = app.gql(Some(&token), &deep(4), json!({})).await;
    refused_before_running(&response, "QUERY_TOO_DEEP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_weighs_lists_by_their_page_size_and_counts_aliases() {
    let app = app_with(&[]).await;
    let token = app.token(Role::Doctor).await;
    let q3: Value =
        serde_json::from_str(include_str!("../../bench/queries/q3.json")).expect("q3.json");
    let nested = |n: usize| {
        q3["query"]
            .as_str()
            .expect("query")
            .replace("first: 20", &format!("first: {n}"))
            .replace("first: 10", &format!("first: {n}"))
    };
    // The nested page of 20 patients with 10 appointments and 10 prescriptions each fits...
    let fits = app
        .gql(Some(&token), q3["query"].as_str().unwrap(), json!({}))
        .await;
    assert_eq!(fits.status, StatusCode::OK, "{}", fits.text);
    assert!(fits.body.get("errors").is_none(), "{}", fits.text);
    // ...a page of 100 with 100 of each does not.
    let response = app.gql(Some(&token), &nested(100), json!({})).await;
    refused_before_running(&response, "QUERY_TOO_COMPLEX");
    // Small fields, but many aliases: counted one by one.
    let aliases: Vec<String> = (0..150)
        .map(|i| format!("a{i}: patients(first: 20) {{ nodes {{ name }} }}"))
        .collect();
    let response = app
        .gql(
            Some(&token),
            &format!("{{ {} }}", aliases.join(" ")),
            json!({}),
        )
        .await;
    refused_before_running(&response, "QUERY_TOO_COMPLEX");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_limited_by_max_batch() {
    let app = app_with(&[("MAX_BATCH", "2")]).await;
    let one = json!({ "query": "{ __typename }" });
    let two = app.post(None, &json!([one, one])).await;
    assert_eq!(two.status, StatusCode::OK, "{}", two.text);
    let three = app.post(None, &json!([one, one, one])).await;
    assert_eq!(three.status, StatusCode::BAD_REQUEST, "{}", three.text);
    assert_eq!(three.code(), Some("BATCH_TOO_LARGE"), "{}", three.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_query_times_out_but_a_mutation_is_never_cut_off() {
    let app = app_with(&[
        ("REQUEST_TIMEOUT_MS", "1"),
        ("MAX_QUERY_COMPLEXITY", "1000000"),
    ])
    .await;
    let token = app.token(Role::Admin).await;
    // Slow on any machine: a single benchmark page (q3) once finished within the millisecond.
    let page = "patients(first: 50) { nodes { id name
        appointments(first: 10) { nodes { scheduledAt status notes doctor { name } } }
        prescriptions(first: 10) { nodes { medication dosage frequency status } } } }";
    let pages: Vec<String> = (0..10).map(|i| format!("p{i}: {page}")).collect();
    let response = app
        .gql(
            Some(&token),
            &format!("{{ {} }}", pages.join(" ")),
            json!({}),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text
    );
    assert_eq!(response.code(), Some("TIMEOUT"), "{}", response.text);
    let created = app
        .gql(
            Some(&token),
            "mutation($input: CreatePatientInput!) { createPatient(input: $input) { name } }",
            json!({ "input": crate::helpers::patient_input("Slow Write", "slow.write@example.com") }),
        )
        .await;
    assert_eq!(
        created.body["data"]["createPatient"]["name"], "Slow Write",
        "{}",
        created.text
    );
}

/// A document is checked against every validation rule until a request with it passes; its
/// later requests skip the rules that only read the document, never those that read the
/// request: each request's variables must fit their types, and complexity is
/// weighed with each request's own page sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_passed_validation_is_still_checked_against_each_requests_values() {
    let app = app_with(&[]).await;
    let token = app.token(Role::Admin).await;
    let query = "query Pages($patients: Int, $appointments: Int, $status: AppointmentStatus, \
                 $filter: AppointmentFilter) { patients(first: $patients) { nodes { name \
                 appointments(first: $appointments, status: $status) { nodes { status } } } } \
                 appointments(first: 1, filter: $filter) { totalCount } }";
    let run = |variables: Value| app.gql(Some(&token), query, variables);
    let passes = json!({
        "patients": 2,
        "appointments": 2,
        "status": "SCHEDULED",
        "filter": { "status": "CANCELLED" },
    });
    for _ in 0..2 {
        let response = run(passes.clone()).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        assert!(response.body.get("errors").is_none(), "{}", response.text);
    }
    for (variables, code, message) in [
        (
            json!({ "patients": "two" }),
            "GRAPHQL_VALIDATION_FAILED",
            "Invalid value for argument \"first\"",
        ),
        (
            json!({ "status": "SOMEDAY" }),
            "GRAPHQL_VALIDATION_FAILED",
            "does not contain the value \"SOMEDAY\"",
        ),
        (
            json!({ "filter": { "when": "now" } }),
            "GRAPHQL_VALIDATION_FAILED",
            "unknown field \"when\"",
        ),
        (
            json!({ "patients": 100, "appointments": 100 }),
            "QUERY_TOO_COMPLEX",
            "Query is too complex.",
        ),
    ] {
        let response = run(variables.clone()).await;
        refused_before_running(&response, code);
        let said = response.body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(said.contains(message), "{variables}: {}", response.text);
    }
    // And the document still answers once the values fit again.
    let response = run(passes).await;
    assert!(response.body.get("errors").is_none(), "{}", response.text);
}
