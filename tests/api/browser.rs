//! What browsers and proxies see: CORS only for configured origins (never a wildcard with
//! credentials), compression of large answers, and headers that keep health data out of caches.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::config::Config;
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResponse};

async fn preflight(app: &TestApp, origin: &str) -> TestResponse {
    let request = Request::options("/graphql")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .body(Body::empty())
        .expect("request");
    app.send(request).await
}

fn header<'a>(response: &'a TestResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_origins_may_call_from_a_browser() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[(
            "CORS_ORIGINS",
            "https://app.example.org, https://admin.example.org",
        )],
    )
    .await
    .expect("SQLite");
    let allowed = preflight(&app, "https://app.example.org").await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://app.example.org")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials"),
        Some("true")
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");

    let other = preflight(&app, "https://evil.example.com").await;
    assert_eq!(header(&other, "access-control-allow-origin"), None);

    let unconfigured = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let response = preflight(&unconfigured, "https://app.example.org").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

/// A browser app using Apollo Client with a name and version, or the CSRF and multipart
/// conventions' preflight headers, is let through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_clients_headers_pass_the_preflight() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("CORS_ORIGINS", "https://app.example.org")],
    )
    .await
    .expect("SQLite");
    let sent = "content-type,authorization,apollographql-client-name,\
                apollographql-client-version,apollo-require-preflight,x-apollo-operation-name";
    let request = Request::options("/graphql")
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", sent)
        .body(Body::empty())
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::OK);
    let allowed = header(&response, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in sent.split(',') {
        assert!(
            allowed.split(',').any(|a| a.trim() == name),
            "{name} not in {allowed}"
        );
    }
}

#[test]
fn a_wildcard_origin_cannot_be_mixed_with_named_ones() {
    let vars = std::collections::HashMap::from([("CORS_ORIGINS", "*, https://app.example.org")]);
    let error =
        Config::from_lookup(&|name| vars.get(name).map(|v| v.to_string())).expect_err("refused");
    assert!(error.to_string().contains("CORS_ORIGINS"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_are_compressed_and_nothing_is_cached() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let token = app.token(Role::Admin).await;
    let query = json!({ "query": "{ patients(first: 50) { nodes { name email phone } } }" });
    let send = |encoding: &'static str| {
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept-encoding", encoding)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(query.to_string()))
            .expect("request");
        app.send(request)
    };
    let plain = send("identity").await;
    let gzip = send("gzip").await;
    let brotli = send("br").await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert_eq!(header(&gzip, "content-encoding"), Some("gzip"));
    assert_eq!(header(&brotli, "content-encoding"), Some("br"));
    assert_eq!(
        header(&send("gzip, deflate, br").await, "content-encoding"),
        Some("gzip"),
        "on a tie the cheaper encoding"
    );
    assert_eq!(
        header(&send("gzip;q=0.5, br").await, "content-encoding"),
        Some("br")
    );
    for response in [&plain, &gzip, &brotli] {
        assert_eq!(header(response, "vary"), Some("accept-encoding"));
    }
    let mut from_gzip = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzip.bytes[..]),
        &mut from_gzip,
    )
    .expect("gzip decodes");
    let mut from_brotli = Vec::new();
    brotli::BrotliDecompress(&mut &brotli.bytes[..], &mut from_brotli).expect("brotli decodes");
    assert_eq!(from_gzip, plain.bytes, "the same answer, compressed");
    assert_eq!(from_brotli, plain.bytes, "the same answer, compressed");
    assert!(
        plain.body["data"]["patients"]["nodes"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
    );
    assert!(
        gzip.bytes.len() < plain.bytes.len() / 2 && brotli.bytes.len() < plain.bytes.len() / 2,
        "{} and {} vs {}",
        gzip.bytes.len(),
        brotli.bytes.len(),
        plain.bytes.len()
    );

    let small = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .body(Body::from(json!({ "query": "{ __typename }" }).to_string()))
        .expect("request");
    let small = app.send(small).await;
    assert_eq!(
        header(&small, "content-encoding"),
        None,
        "too small to gain"
    );
    for response in [&plain, &small] {
        assert_eq!(header(response, "cache-control"), Some("no-store"));
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(response, "x-frame-options"), Some("DENY"));
        assert_eq!(header(response, "referrer-policy"), Some("no-referrer"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_can_be_left_to_a_proxy() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("COMPRESS_RESPONSES", "false")])
        .await
        .expect("SQLite");
    let token = app.token(Role::Admin).await;
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip, br")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(
            json!({ "query": "{ patients(first: 50) { nodes { name email phone } } }" })
                .to_string(),
        ))
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert!(response.text.len() > 1024, "large enough to compress");
    assert_eq!(header(&response, "content-encoding"), None);
}
