//! Hostile documents and values: refused with a stable code before anything walks them, the
//! process unharmed. These run on the test's own threads (2 MiB stacks, as a tokio worker's):
//! a document that overflowed the stack again would abort this test binary.
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::server::Server;
use crate::helpers::socket::{Frame, RawSocket};
use crate::helpers::{TestApp, TestResponse, at, demo_patient, urlencode, violated_fields};
use crate::on_every_backend;

/// Refused before anything ran, as a client that accepts `application/json` (or says nothing)
/// is told: a request error is 200 with the errors in the body; a body that is no GraphQL
/// request at all (BAD_REQUEST) is 400. Never with `data`.
fn refused(response: &TestResponse, code: &str) {
    let status = if code == "BAD_REQUEST" {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    assert_eq!(response.status, status, "{:.300}", response.text);
    assert_eq!(response.code(), Some(code), "{:.300}", response.text);
    assert!(
        response.body.get("data").is_none(),
        "{:.300}",
        response.text
    );
    assert!(
        response.body["errors"][0]["extensions"]["requestId"].is_string(),
        "{:.300}",
        response.text
    );
}

async fn get(app: &TestApp, query: &str) -> TestResponse {
    let uri = format!("/graphql?query={}", urlencode(query));
    app.send(
        Request::get(uri)
            .header("accept", "application/json")
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

/// `{ node(id: [[…1…]]) { id } }` and its kin, `levels` deep.
fn deep_documents(levels: usize) -> Vec<(&'static str, String)> {
    let mut fragments = String::from("{ ...F0 }\n");
    for i in 0..levels {
        fragments.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
    }
    fragments.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    vec![
        (
            "lists",
            format!(
                "{{ node(id: {}1{}) {{ id }} }}",
                "[".repeat(levels),
                "]".repeat(levels)
            ),
        ),
        (
            "objects",
            format!(
                "{{ patients(filter: {}\"x\"{}) {{ totalCount }} }}",
                "{search: ".repeat(levels),
                "}".repeat(levels)
            ),
        ),
        (
            "selections",
            format!(
                "{}__typename{}",
                "{ me ".repeat(levels),
                " }".repeat(levels)
            ),
        ),
        ("fragments", fragments),
    ]
}

async fn deeply_nested_documents_are_refused_over_post_and_get(app: TestApp) {
    for levels in [2_000, 10_000, 100_000] {
        for (shape, document) in deep_documents(levels) {
            let response = app.gql(None, &document, json!({})).await;
            if document.len() > clinicgraph::http::MAX_BODY_BYTES {
                // 100,000 fragments do not fit in a request body (the WebSocket takes them).
                assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE, "{shape}");
                continue;
            }
            // The fragment chain is flat text: refused for its length, or once its expansion is
            // measured.
            let code = if shape == "fragments" && levels >= 10_000 {
                "DOCUMENT_TOO_LARGE"
            } else {
                "DOCUMENT_TOO_NESTED"
            };
            refused(&response, code);
            assert!(
                response.text.len() < 1_000,
                "{shape} {levels}: {:.300}",
                response.text
            );
            // A URI holds at most 64 KiB.
            if urlencode(&document).len() < 65_000 {
                refused(&get(&app, &document).await, code);
            }
        }
    }
    // Nested variables are bounded by the JSON reader (128 levels): a request error too.
    let nested = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let body = format!(
        r#"{{"query":"query($id: ID!) {{ node(id: $id) {{ id }} }}","variables":{{"id":{nested}}}}}"#
    );
    let response = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request"),
        )
        .await;
    refused(&response, "BAD_REQUEST");
    // And the server still answers.
    let token = app.token(Role::Admin).await;
    app.ok(&token, "{ me { id } }", json!({})).await;
}

/// The code of the error that ends subscription `id` before it starts: async-graphql answers a
/// refused request with one `next` holding only errors, then `complete`.
async fn refusal_code(socket: &mut RawSocket, id: &str) -> Value {
    let Frame::Json(frame) = socket.next_message().await else {
        panic!("{id}: the socket ended");
    };
    assert_eq!(frame["id"], id, "{frame:.300}");
    assert_eq!(frame["payload"]["data"], Value::Null, "{frame:.300}");
    let code = frame["payload"]["errors"][0]["extensions"]["code"].clone();
    let Frame::Json(complete) = socket.next_message().await else {
        panic!("{id}: the socket ended");
    };
    assert_eq!(complete, json!({ "id": id, "type": "complete" }));
    code
}

/// The same documents as subscriptions over the WebSocket, where no body limit applies: each is
/// answered with an error frame carrying the code, and the server goes on serving.
async fn deeply_nested_documents_are_refused_over_the_websocket(app: TestApp) {
    let server = Server::start(&app.database_url, &[]).await;
    let token = app.token(Role::Admin).await;
    let mut socket = RawSocket::open(&server.ws_url(), None).await.expect("open");
    socket.init(&token).await;
    let mut id = 0;
    for levels in [2_000, 10_000, 100_000] {
        for (shape, document) in deep_documents(levels) {
            id += 1;
            let document = document.replacen('{', "subscription {", 1);
            socket
                .send(json!({ "id": id.to_string(), "type": "subscribe", "payload": { "query": document } }))
                .await;
            let code = refusal_code(&mut socket, &id.to_string()).await;
            assert!(
                code == "DOCUMENT_TOO_NESTED" || code == "DOCUMENT_TOO_LARGE",
                "{shape} {levels}: {code}"
            );
        }
    }
    // A subscription with a control character in a variable is refused the same way.
    socket
        .send(json!({ "id": "text", "type": "subscribe", "payload": {
            "query": "subscription($d: ID) { appointmentChanged(doctorId: $d) { type } }",
            "variables": { "d": "\u{0}" },
        } }))
        .await;
    assert_eq!(refusal_code(&mut socket, "text").await, "VALIDATION_FAILED");
    socket.close().await;
    let (status, _) = server.get_json("/health").await;
    assert_eq!(status, 200, "the server still serves");
}

/// `{...F0}` where each fragment spreads the next twice: 2^levels selections once expanded.
fn fan_out(levels: usize) -> String {
    let mut text = String::from("{ ...F0 }\n");
    for i in 0..levels {
        let next = i + 1;
        text.push_str(&format!(
            "fragment F{i} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    text.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    text
}

async fn fragment_fan_out_is_refused_before_it_is_expanded(app: TestApp) {
    for levels in [23, 30] {
        // Expanded, depth 30 would run for minutes: this bound only tells "not expanded".
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            app.gql(None, &fan_out(levels), json!({})),
        )
        .await
        .unwrap_or_else(|_| panic!("a fan-out of depth {levels} was expanded"));
        refused(&response, "QUERY_TOO_COMPLEX");
    }
    refused(
        &app.gql(None, &fan_out(40), json!({})).await,
        "DOCUMENT_TOO_NESTED",
    );
    // A fragment that spreads itself, directly or through another.
    for cycle in [
        "{ ...A } fragment A on Query { ...A ...A }",
        "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }",
    ] {
        refused(
            &app.gql(None, cycle, json!({})).await,
            "GRAPHQL_VALIDATION_FAILED",
        );
    }
    // A small fan-out is an ordinary document.
    let token = app.token(Role::Admin).await;
    let data = app.ok(&token, &fan_out(3), json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

async fn every_field_counts_towards_complexity_typename_too(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let aliases: String = (0..100).map(|i| format!("a{i}: __typename ")).collect();
    let data = app.ok(&token, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(data["a99"], "Query");
    let typenames = |n: usize| format!("{{ {} }}", "__typename ".repeat(n));
    app.ok(&token, &typenames(5_000), json!({})).await;
    refused(
        &app.gql(Some(&token), &typenames(5_001), json!({})).await,
        "QUERY_TOO_COMPLEX",
    );
}

async fn an_answer_carries_at_most_a_hundred_errors(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let unknown: String = (0..1_000).map(|i| format!("u{i} ")).collect();
    let response = app
        .gql(Some(&token), &format!("{{ {unknown} }}"), json!({}))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{:.300}", response.text);
    let errors = response.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 101, "{:.300}", response.text);
    assert_eq!(errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(errors[100]["extensions"]["code"], "TOO_MANY_ERRORS");
    assert_eq!(errors[100]["message"], "900 more errors were left out");

    // A parse error quotes a short excerpt, not the document: 160 KB in, well under 1 KB out.
    let broken = format!("{{ me {} ", "{ id ".repeat(32_000));
    let response = app.gql(Some(&token), &broken, json!({})).await;
    refused(&response, "DOCUMENT_TOO_NESTED");
    let broken = format!("{{ me {} ", "id ".repeat(53_000));
    let response = app.gql(Some(&token), &broken, json!({})).await;
    refused(&response, "DOCUMENT_TOO_LARGE");
    let broken = format!("{{ me {{ {} ) }} }}", "id ".repeat(4_000));
    let response = app.gql(Some(&token), &broken, json!({})).await;
    refused(&response, "GRAPHQL_PARSE_FAILED");
    assert!(response.text.len() < 1_000, "{:.300}", response.text);
    let message = response.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.starts_with("syntax error at line 1, column "),
        "{message}"
    );
}

async fn control_characters_in_text_inputs_are_refused(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let count = async |app: &TestApp| -> Value {
        app.ok(&admin, "{ doctors { totalCount } }", json!({}))
            .await["doctors"]["totalCount"]
            .clone()
    };
    let before = count(&app).await;
    let create = "mutation($input: CreateDoctorInput!) { createDoctor(input: $input) { id } }";
    // In variables, as a fuzzer sends them, and as literals in the document.
    let response = app
        .gql(
            Some(&admin),
            create,
            json!({ "input": { "name": "\u{0}Dr. Nul", "specialty": "Cardio\tlogy" } }),
        )
        .await;
    refused(&response, "VALIDATION_FAILED");
    let mut fields = violated_fields(&response);
    fields.sort();
    assert_eq!(fields, ["name", "specialty"], "{}", response.text);
    let response = app
        .gql(
            Some(&admin),
            r#"mutation { createDoctor(input: { name: "Dr. \u0000", specialty: "GP" }) { id } }"#,
            json!({}),
        )
        .await;
    refused(&response, "VALIDATION_FAILED");
    assert_eq!(violated_fields(&response), ["name"]);
    assert_eq!(count(&app).await, before, "nothing was written");

    // Filters and ids too.
    let response = app
        .gql(
            Some(&admin),
            "query($s: String) { patients(filter: { search: $s }) { totalCount } }",
            json!({ "s": "zo\u{0}" }),
        )
        .await;
    refused(&response, "VALIDATION_FAILED");
    assert_eq!(violated_fields(&response), ["s"]);
    let response = app
        .gql(
            Some(&admin),
            "{ patients(filter: { search: \"\\u0000\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(violated_fields(&response), ["filter.search"]);

    // Free text keeps its line breaks and tabs.
    let patient = app
        .create_patient(
            &admin,
            json!({
                "name": "Ελένη Παπαδοπούλου", "email": "eleni@example.org", "phone": "5551234567",
                "dateOfBirth": "1980-02-03", "internalNotes": "line one\n\tline two",
            }),
        )
        .await;
    let data = app
        .ok(
            &admin,
            "query($id: ID!) { patient(id: $id) { name internalNotes } }",
            json!({ "id": patient }),
        )
        .await;
    assert_eq!(data["patient"]["internalNotes"], "line one\n\tline two");
    assert_eq!(data["patient"]["name"], "Ελένη Παπαδοπούλου");
}

async fn dates_outside_the_accepted_range_are_refused(app: TestApp) {
    let reception = app.token(Role::Receptionist).await;
    let doctors = app.demo_doctor_ids().await;
    let id = app
        .scheduled(&reception, &demo_patient(3), &doctors[1], &at(40, 10, 0))
        .await;
    let reschedule = "mutation($id: ID!, $at: DateTime!, $m: Int) { rescheduleAppointment(id: $id, input: { scheduledAt: $at, durationMinutes: $m }) { id scheduledAt } }";
    // Not an RFC 3339 timestamp (whose years have four digits): the variable does not fit.
    for instant in [
        "+262142-12-31T23:00:00Z",
        "-0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
    ] {
        let response = app
            .gql(
                Some(&reception),
                reschedule,
                json!({ "id": id, "at": instant, "m": 480 }),
            )
            .await;
        refused(&response, "GRAPHQL_VALIDATION_FAILED");
    }
    // A timestamp whose appointment would end past the last one the schema can express.
    let response = app
        .gql(
            Some(&reception),
            reschedule,
            json!({ "id": id, "at": "9999-12-31T23:00:00Z", "m": 480 }),
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
        ["durationMinutes"],
        "{}",
        response.text
    );
    // Still where it was.
    let data = app
        .ok(
            &reception,
            "query($id: ID!) { node(id: $id) { ... on Appointment { scheduledAt } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["node"]["scheduledAt"], at(40, 10, 0));

    // A filter it cannot apply is refused, never ignored.
    let response = app
        .gql(
            Some(&reception),
            "{ appointments(filter: { from: \"+262142-01-01T00:00:00Z\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert!(response.body.get("data").is_none(), "{}", response.text);
}

on_every_backend!(
    deeply_nested_documents_are_refused_over_post_and_get,
    fragment_fan_out_is_refused_before_it_is_expanded,
    every_field_counts_towards_complexity_typename_too,
    an_answer_carries_at_most_a_hundred_errors,
    control_characters_in_text_inputs_are_refused,
    dates_outside_the_accepted_range_are_refused,
    a_batch_is_held_to_one_complexity_limit,
    deeply_nested_documents_are_refused_over_the_websocket,
);

async fn a_batch_is_held_to_one_complexity_limit(app: TestApp) {
    let token = app.token(Role::Admin).await;
    // 100 patients of 9 selections each: about 900.
    let page = json!({ "query": "{ patients(first: 100) { nodes { id name email phone dateOfBirth bloodGroup createdAt updatedAt } } }" });
    let batch = |n: usize| Value::Array(vec![page.clone(); n]);
    let response = app.post(Some(&token), &batch(5)).await;
    assert_eq!(response.status, StatusCode::OK, "{:.300}", response.text);
    assert_eq!(response.body.as_array().map(Vec::len), Some(5));
    assert!(
        response.body[4]["errors"].is_null(),
        "{:.300}",
        response.text
    );
    // Each alone is far below the limit; together they are over it, and nothing runs.
    // A batch is not one GraphQL-over-HTTP request: refused whole, it is 400 for any client.
    let response = app.post(Some(&token), &batch(6)).await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{:.300}",
        response.text
    );
    assert_eq!(response.code(), Some("QUERY_TOO_COMPLEX"));
    assert!(
        response.body.get("data").is_none(),
        "{:.300}",
        response.text
    );
}
