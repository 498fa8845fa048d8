//! Automatic persisted queries (Apollo APQ) and the allow-list mode.
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use clinicgraph::persisted::hash;
use serde_json::{Value, json};

use crate::helpers::server::{Namespace, redis_url};
use crate::helpers::{Backend, TestApp, TestResponse};

const ME: &str = "query Me { me { email } }";

fn apq(document_hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": document_hash } })
}

async fn by_hash(app: &TestApp, token: &str, document: &str) -> TestResponse {
    app.post(Some(token), &json!({ "extensions": apq(&hash(document)) }))
        .await
}

async fn with_document(app: &TestApp, token: &str, document: &str) -> TestResponse {
    let body = json!({ "query": document, "extensions": apq(&hash(document)) });
    app.post(Some(token), &body).await
}

fn assert_refused(response: &TestResponse, code: &str) {
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{}",
        response.text
    );
    assert_eq!(response.code(), Some(code), "{}", response.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_runs_once_its_document_was_sent() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let token = app.token(Role::Admin).await;
    let unknown = by_hash(&app, &token, ME).await;
    assert_refused(&unknown, "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "PersistedQueryNotFound"
    );

    let registered = with_document(&app, &token, ME).await;
    assert_eq!(
        registered.body["data"]["me"]["email"], "admin@demo.clinic",
        "{}",
        registered.text
    );
    let again = by_hash(&app, &token, ME).await;
    assert_eq!(
        again.body["data"]["me"]["email"], "admin@demo.clinic",
        "{}",
        again.text
    );

    // Over GET too (what lets a CDN cache by URL).
    let extensions = apq(&hash(ME)).to_string();
    let uri = format!(
        "/graphql?extensions={}",
        crate::helpers::urlencode(&extensions)
    );
    let request = Request::get(uri)
        .header("accept", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let get = app.send(request).await;
    assert_eq!(
        get.body["data"]["me"]["email"], "admin@demo.clinic",
        "{}",
        get.text
    );

    let wrong = app
        .post(
            Some(&token),
            &json!({ "query": "{ __typename }", "extensions": apq(&hash(ME)) }),
        )
        .await;
    assert_refused(&wrong, "BAD_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_registered_on_one_instance_run_by_hash_on_another() {
    let Some(url) = redis_url() else { return };
    let namespace = Namespace::new(&url);
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_PREFIX", namespace.prefix.as_str()),
    ];
    let a = TestApp::spawn_with(Backend::Sqlite, &env)
        .await
        .expect("SQLite");
    let b = TestApp::spawn_with(Backend::Sqlite, &env)
        .await
        .expect("SQLite");
    let token_a = a.token(Role::Admin).await;
    let token_b = b.token(Role::Admin).await;
    with_document(&a, &token_a, ME).await;
    let on_b = by_hash(&b, &token_b, ME).await;
    assert_eq!(
        on_b.body["data"]["me"]["email"], "admin@demo.clinic",
        "{}",
        on_b.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_allow_list_only_its_documents_run() {
    let dir = tempfile::tempdir().expect("dir");
    let operation = dir.path().join("me.graphql");
    std::fs::write(&operation, ME).expect("write");
    // The allow-list as the command line generates it from the client's operations.
    let output = Command::new(env!("CARGO_BIN_EXE_clinicgraph"))
        .args(["persisted-queries"])
        .arg(&operation)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list = dir.path().join("allow-list.json");
    std::fs::write(&list, &output.stdout).expect("write");

    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("PERSISTED_QUERIES_ONLY", "true"),
            ("PERSISTED_QUERIES_FILE", list.to_str().expect("path")),
        ],
    )
    .await
    .expect("SQLite");
    // Logging in is an operation too: with the allow-list, tokens come from elsewhere.
    let token = app.token_without_http(Role::Admin).await;
    let listed = by_hash(&app, &token, ME).await;
    assert_eq!(
        listed.body["data"]["me"]["email"], "admin@demo.clinic",
        "{}",
        listed.text
    );
    let in_full = app.gql(Some(&token), ME, json!({})).await;
    assert_eq!(
        in_full.body["data"]["me"]["email"], "admin@demo.clinic",
        "{}",
        in_full.text
    );
    let other = app.gql(Some(&token), "{ me { id } }", json!({})).await;
    assert_refused(&other, "PERSISTED_QUERY_NOT_ALLOWED");
}
