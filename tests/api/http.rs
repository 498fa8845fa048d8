//! GraphQL over HTTP: media types, status codes, methods, limits, probes.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, patient_input};
use crate::on_every_backend;

fn post(accept: Option<&str>, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post("/graphql").header("content-type", content_type);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.body(body.into()).expect("request")
}

fn get(uri: &str, accept: Option<&str>, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).expect("request")
}

fn content_type(response: &crate::helpers::TestResponse) -> &str {
    response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

const LOGIN: &str = r#"{"query":"mutation { login(email: \"admin@demo.clinic\", password: \"wrong\") { accessToken } }"}"#;

async fn answers_json_unless_graphql_response_json_is_asked_for(app: TestApp) {
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (
            Some("application/graphql-response+json"),
            "application/graphql-response+json",
        ),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            "application/graphql-response+json",
        ),
    ] {
        let response = app.send(post(accept, "application/json", LOGIN)).await;
        assert_eq!(response.status, StatusCode::OK, "{accept:?}");
        assert_eq!(content_type(&response), expected, "{accept:?}");
        assert_eq!(response.code(), Some("INVALID_CREDENTIALS"));
    }
    let refused = app
        .send(post(Some("text/csv"), "application/json", LOGIN))
        .await;
    assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
}

/// GraphQL-over-HTTP: a request error (a document that does not parse, pass validation or
/// its bounds, variables that cannot be coerced or carry control characters) is 400 for
/// `application/graphql-response+json`, and 200 with the errors in the body for
/// `application/json` and for no `Accept` at all (legacy clients read the body whatever the
/// status). Never with `data`.
async fn request_errors_are_400_or_200_by_the_accepted_type_without_data(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let cases = [
        ("{ patients { ", json!({}), "GRAPHQL_PARSE_FAILED"),
        (
            "{ patients { noSuchField } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query($n: Int!) { patients(first: $n) { totalCount } }",
            json!({ "n": "not a number" }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            &*format!("{}{}", "{ a: ".repeat(40), "}".repeat(40)),
            json!({}),
            "DOCUMENT_TOO_NESTED",
        ),
        (
            "query($q: String!) { patients(filter: { search: $q }) { totalCount } }",
            json!({ "q": "a\u{1}b" }),
            "VALIDATION_FAILED",
        ),
    ];
    for (accept, status) in [
        (None, StatusCode::OK),
        (Some("application/json"), StatusCode::OK),
        (
            Some("application/graphql-response+json"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        for (query, variables, code) in &cases {
            let mut request = Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .header("x-request-id", "test-request-1");
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let body = json!({ "query": query, "variables": variables });
            let response = app
                .send(request.body(Body::from(body.to_string())).expect("request"))
                .await;
            assert_eq!(
                response.status, status,
                "{accept:?} {query:.60}: {:.300}",
                response.text
            );
            assert!(
                response.body.get("data").is_none(),
                "{query:.60}: {:.300}",
                response.text
            );
            assert_eq!(response.code(), Some(*code), "{query:.60}");
            // The server's own id, never the one the client sent.
            let request_id = response
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .expect("request id");
            assert_ne!(request_id, "test-request-1");
            assert_eq!(
                response.body["errors"][0]["extensions"]["requestId"],
                request_id
            );
        }
    }
}

/// Whatever the client accepts, a body that is no GraphQL-over-HTTP request at all is 400:
/// parameters missing or of the wrong type, `extensions` included.
async fn extensions_that_are_not_an_object_are_400(app: TestApp) {
    for accept in [
        None,
        Some("application/json"),
        Some("application/graphql-response+json"),
    ] {
        for extensions in [json!("str"), json!(42), json!(true), json!([1])] {
            let body = json!({ "query": "{ __typename }", "extensions": extensions });
            let response = app
                .send(post(accept, "application/json", body.to_string()))
                .await;
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "{accept:?} {extensions}: {}",
                response.text
            );
            assert_eq!(response.code(), Some("BAD_REQUEST"));
            assert_eq!(
                response.body["errors"][0]["message"],
                "`extensions` must be an object"
            );
            let encoded = extensions.to_string().replace('"', "%22");
            let uri = format!("/graphql?query=%7B__typename%7D&extensions={encoded}");
            let response = app.send(get(&uri, accept, None)).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "GET {extensions}");
            assert_eq!(response.code(), Some("BAD_REQUEST"));
        }
    }
    let absent_or_null = json!({ "query": "{ __typename }", "extensions": null });
    let response = app
        .send(post(None, "application/json", absent_or_null.to_string()))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
}

async fn get_runs_queries_and_honours_operation_name(app: TestApp) {
    let token = app.token(Role::Nurse).await;
    let uri = "/graphql?query=query%20A%20%7B%20me%20%7B%20role%20%7D%20%7D%20query%20B%20%7B%20me%20%7B%20email%20%7D%20%7D&operationName=B";
    let response = app.send(get(uri, None, Some(&token))).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(
        response.body["data"],
        json!({ "me": { "email": "nurse@demo.clinic" } })
    );
}

async fn mutations_over_get_are_405(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let mutation = "mutation%20%7B%20deletePatient(id%3A%20%22UGF0aWVudDox%22)%20%7D";
    let response = app
        .send(get(
            &format!("/graphql?query={mutation}"),
            None,
            Some(&token),
        ))
        .await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    // Nothing ran: the patient is still there.
    let data = app
        .ok(
            &token,
            "{ patient(id: \"UGF0aWVudDox\") { patientId } }",
            json!({}),
        )
        .await;
    assert_eq!(data["patient"]["patientId"], "PAT-000001");
}

async fn non_json_posts_are_refused_before_anything_runs(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let before = app
        .ok(&token, "{ patients { totalCount } }", json!({}))
        .await;
    let create = json!({
        "query": "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
        "variables": { "i": patient_input("Csrf Victim", "csrf@example.com") },
    });
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let request = Request::post("/graphql")
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(create.to_string()))
            .expect("request");
        let response = app.send(request).await;
        assert_eq!(
            response.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert_eq!(response.code(), Some("UNSUPPORTED_MEDIA_TYPE"));
    }
    // Multipart carries file uploads, and only with a header no cross-site form can send.
    let request = Request::post("/graphql")
        .header("content-type", "multipart/form-data; boundary=x")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(create.to_string()))
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.code(), Some("PREFLIGHT_REQUIRED"));
    let after = app
        .ok(&token, "{ patients { totalCount } }", json!({}))
        .await;
    assert_eq!(before, after);
}

async fn malformed_bodies_are_400_graphql_errors(app: TestApp) {
    for body in [
        "{not json",
        r#"{"variables": {}}"#,
        r#"{"query": 42}"#,
        "[]",
        r#""text""#,
    ] {
        let response = app.send(post(None, "application/json", body)).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.text
        );
        assert!(response.code().is_some(), "{body}: {}", response.text);
        assert!(response.body["errors"][0]["message"].is_string());
    }
    let variables_not_object = json!({ "query": "{ me { id } }", "variables": [1] });
    let response = app
        .send(post(
            None,
            "application/json",
            variables_not_object.to_string(),
        ))
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
}

async fn batches_hold_at_most_ten_operations(app: TestApp) {
    let token = app.token(Role::Doctor).await;
    let one = json!({ "query": "{ me { role } }" });
    let ten = Value::Array(vec![one.clone(); 10]);
    let response = app.post(Some(&token), &ten).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let answers = response.body.as_array().expect("array");
    assert_eq!(answers.len(), 10);
    assert!(answers.iter().all(|a| a["data"]["me"]["role"] == "DOCTOR"));

    let eleven = Value::Array(vec![one; 11]);
    let response = app.post(Some(&token), &eleven).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.code(), Some("BATCH_TOO_LARGE"));
}

async fn bodies_over_one_mebibyte_are_413(app: TestApp) {
    let padding = "x".repeat(1024 * 1024);
    let body = json!({ "query": "{ me { id } }", "variables": { "pad": padding } });
    let response = app
        .send(post(None, "application/json", body.to_string()))
        .await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn browsers_get_graphiql(app: TestApp) {
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let response = app.send(get("/graphql", Some(browser), None)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(content_type(&response).starts_with("text/html"));
    assert!(
        response.text.contains("graphiql"),
        "{}",
        &response.text[..200.min(response.text.len())]
    );
}

async fn health_and_readiness(app: TestApp) {
    let health = app.send(get("/health", None, None)).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(health.body["uptimeSeconds"].is_u64());
    let ready = app.send(get("/ready", None, None)).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.body["checks"]["database"], "ok");
}

async fn request_ids_are_the_servers_own_whatever_the_client_sends(app: TestApp) {
    let long = format!("{}\t{}", "a".repeat(2000), "b".repeat(1999));
    let mut seen = Vec::new();
    for sent in ["abc-123", long.as_str()] {
        let request = Request::get("/health")
            .header("x-request-id", sent)
            .body(Body::empty())
            .expect("request");
        let response = app.send(request).await;
        let id = response
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("id")
            .to_owned();
        assert_ne!(id, sent);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        seen.push(id);
    }
    assert_ne!(seen[0], seen[1]);
    let response = app.send(post(None, "application/json", LOGIN)).await;
    let generated = response
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("generated id")
        .to_owned();
    assert_eq!(
        response.body["errors"][0]["extensions"]["requestId"],
        generated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_hides_graphiql_and_field_suggestions() {
    let app = TestApp::spawn_with(
        crate::helpers::Backend::Sqlite,
        &[("APP_ENV", "production"), ("GRAPHIQL", "")],
    )
    .await
    .expect("app");
    let browser = "text/html,application/xhtml+xml,*/*;q=0.8";
    let response = app.send(get("/graphql", Some(browser), None)).await;
    assert!(!content_type(&response).starts_with("text/html"));
    assert_eq!(response.status, StatusCode::BAD_REQUEST);

    let token = app.token(Role::Admin).await;
    let response = app
        .gql(Some(&token), "{ patients { totalCont } }", json!({}))
        .await;
    assert_eq!(response.code(), Some("GRAPHQL_VALIDATION_FAILED"));
    let message = response.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(!message.contains("Did you mean"), "{message}");

    let development = TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .expect("app");
    let token = development.token(Role::Admin).await;
    let response = development
        .gql(Some(&token), "{ patients { totalCont } }", json!({}))
        .await;
    let message = response.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("Did you mean"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_naming_the_database_when_it_does_not_answer() {
    use clinicgraph::app::app_state;
    use clinicgraph::config::Config;
    use clinicgraph::db::DbPool;
    use clinicgraph::modules::registry::{Repositories, Services};
    use clinicgraph::shared::Shared;
    use tower::ServiceExt;

    // Nothing listens on port 1: the pool opens, every connection attempt fails.
    let vars = std::collections::HashMap::from([
        ("APP_ENV", "test"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere"),
        ("JWT_SECRET", crate::helpers::JWT_SECRET),
        ("DATA_KEYS", crate::helpers::DATA_KEYS),
    ]);
    let config =
        Config::from_lookup(&|name| vars.get(name).map(|v| v.to_string())).expect("config");
    let pool = DbPool::connect(&config.database_url, 1)
        .await
        .expect("lazy pool");
    let shared = Shared::for_commands(&config.shared);
    let repos = Repositories::diesel(&pool, &config.data_keys().expect("keys"));
    let services = Services::new(
        &config,
        &repos,
        &shared,
        std::sync::Arc::new(clinicgraph::jobs::queue::NoQueue),
    )
    .expect("services");
    let router = clinicgraph::http::router(app_state(&config, pool, &services, &shared));
    let response = router
        .oneshot(Request::get("/ready").body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["failing"], json!(["database"]));
}

on_every_backend!(
    answers_json_unless_graphql_response_json_is_asked_for,
    request_errors_are_400_or_200_by_the_accepted_type_without_data,
    extensions_that_are_not_an_object_are_400,
    get_runs_queries_and_honours_operation_name,
    mutations_over_get_are_405,
    non_json_posts_are_refused_before_anything_runs,
    malformed_bodies_are_400_graphql_errors,
    batches_hold_at_most_ten_operations,
    bodies_over_one_mebibyte_are_413,
    browsers_get_graphiql,
    health_and_readiness,
    request_ids_are_the_servers_own_whatever_the_client_sends,
);

/// `/metrics` after traffic: operations counted by type, root field and outcome, with latency
/// histograms (documents that fail validation are counted without their untrusted field names),
/// DataLoader batch sizes, and the database pool's use and waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_operations_by_root_field_and_outcome() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let token = app.token(Role::Admin).await;
    app.ok(
        &token,
        "{ doctors(first: 1) { nodes { name } } }",
        json!({}),
    )
    .await;
    app.ok(
        &token,
        "{ patients(first: 3) { nodes { primaryDoctor { name } } } }",
        json!({}),
    )
    .await;
    app.gql(Some(&token), "{ noSuchFieldForMetrics }", json!({}))
        .await;
    let page = app
        .send(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .text;
    let has = |needle: &str| page.lines().any(|line| line.starts_with(needle));
    assert!(
        has(r#"graphql_requests_total{type="query",field="doctors",outcome="ok"}"#),
        "{page}"
    );
    assert!(
        has(r#"graphql_requests_total{type="query",field="-",outcome="rejected"}"#),
        "{page}"
    );
    assert!(!page.contains("noSuchFieldForMetrics"), "{page}");
    assert!(
        has(r#"graphql_request_duration_seconds_bucket{type="query",field="doctors",le="#),
        "{page}"
    );
    // Batches, pool use and waits.
    assert!(
        has(r#"dataloader_batch_size_count{key="DoctorKey"}"#),
        "{page}"
    );
    assert!(has("db_pool_wait_seconds_count"), "{page}");
    assert!(has("db_pool_connections"), "{page}");
}

/// With `METRICS_ADDR`, `/metrics` is served there and not on the API's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_served_on_their_own_address() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let server = crate::helpers::server::Server::start(
        &app.database_url,
        &[("METRICS_ADDR", &metrics_addr)],
    )
    .await;
    let (status, _) = server.get_json("/metrics").await;
    assert_eq!(status, 404, "not on the API's address");
    let page = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("metrics answer");
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.text()
            .await
            .expect("text")
            .contains("db_pool_connections")
    );
}

/// In production `/metrics` (failed logins, queue depth) stays off the public port unless an
/// operator turns it on there deliberately; in development it is served beside the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_serves_no_metrics_on_the_api_port_unless_asked() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let cases = [
            (vec![("APP_ENV", "production")], StatusCode::NOT_FOUND),
            (
                vec![("APP_ENV", "production"), ("METRICS_ON_API_PORT", "true")],
                StatusCode::OK,
            ),
            (vec![("APP_ENV", "development")], StatusCode::OK),
        ];
        for (env, expected) in cases {
            let Some(app) = TestApp::spawn_with(backend, &env).await else {
                continue;
            };
            let response = app.send(get("/metrics", None, None)).await;
            assert_eq!(response.status, expected, "{backend:?} {env:?}");
        }
    }
}
