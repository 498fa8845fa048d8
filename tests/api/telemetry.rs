//! What leaves the process for observability: spans to an OTLP collector and error events to
//! Sentry, each received by a fake endpoint here, and neither carrying personal data.
use std::collections::HashMap;
use std::time::Duration;

use clinicgraph::core::auth::Role;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

use crate::helpers::server::Server;
use crate::helpers::sink::Sink;
use crate::helpers::{Backend, TestApp};

const PATIENTS: &str = "query PatientsWithVisits($search: String) { \
    patients(first: 3, filter: { search: $search }) { \
        nodes { id name email appointments(first: 2) { nodes { id status } } } } }";

/// POSTs [`PATIENTS`] as a client would (with its operation name, a token and a forwarded
/// client address); returns the request id the server gave it and the body.
async fn post(server: &Server, token: &str, variables: Value) -> (String, Value) {
    let response = server
        .client()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({
            "query": PATIENTS,
            "operationName": "PatientsWithVisits",
            "variables": variables,
        }))
        .send()
        .await
        .expect("server answers");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id")
        .to_owned();
    (request_id, response.json().await.expect("JSON"))
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attribute(attributes, key)? {
        AnyValue::StringValue(text) => Some(text),
        _ => None,
    }
}

/// Every string the response holds (names, emails, ids), which must not reach the spans.
fn strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => found.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
        Value::Object(fields) => fields.values().for_each(|v| strings(v, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_without_personal_data_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    spans_reach_the_collector_without_personal_data(app, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_without_personal_data_postgres() {
    if let Some(app) = TestApp::spawn(Backend::Postgres).await {
        spans_reach_the_collector_without_personal_data(app, "postgresql").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_without_personal_data_mysql() {
    if let Some(app) = TestApp::spawn(Backend::Mysql).await {
        spans_reach_the_collector_without_personal_data(app, "mysql").await;
    }
}

/// One query through a real server, stopped right after: its request, operation, resolvers
/// and statements arrive as one trace, and no value from the request or the answer does.
async fn spans_reach_the_collector_without_personal_data(app: TestApp, system: &str) {
    let collector = Sink::start("/v1/traces", "").await;
    // A minute between batches: only the flush at shutdown can deliver them in time.
    let server = Server::start(
        &app.database_url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ("TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let token = app.token(Role::Admin).await;
    let (request_id, body) = post(&server, &token, json!({ "search": "Adams" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let mut private = Vec::new();
    strings(&body["data"], &mut private);
    assert!(
        private.iter().any(|s| s.contains('@')),
        "no email returned: {body}"
    );
    assert!(server.stop().await.success(), "clean exit");

    let bodies = collector.wait_for_bodies(Duration::from_secs(5)).await;
    assert!(!bodies.is_empty(), "no spans exported at shutdown");
    let mut spans: Vec<Span> = Vec::new();
    for raw in &bodies {
        let exported = String::from_utf8_lossy(raw);
        for secret in private
            .iter()
            .chain([&token, &"Adams".to_owned(), &"203.0.113.9".to_owned()])
        {
            assert!(
                !exported.contains(secret.as_str()),
                "{secret:?} exported in a span"
            );
        }
        let export = ExportTraceServiceRequest::decode(raw.as_ref()).expect("OTLP protobuf");
        for resource in export.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| text(&r.attributes, "service.name"));
            assert_eq!(service, Some("clinicgraph"));
            spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
        }
    }
    let named = |name: &'static str| spans.iter().filter(move |s| s.name == name);

    let request = named("request")
        .find(|s| text(&s.attributes, "request_id") == Some(request_id.as_str()))
        .expect("the HTTP request's span");
    let operation = named("graphql.operation")
        .next()
        .expect("the operation's span");
    assert_eq!(operation.parent_span_id, request.span_id);
    assert_eq!(
        text(&operation.attributes, "graphql.operation.name"),
        Some("PatientsWithVisits")
    );
    assert_eq!(
        text(&operation.attributes, "graphql.operation.type"),
        Some("query")
    );
    assert_eq!(
        text(&operation.attributes, "request_id"),
        Some(request_id.as_str())
    );

    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let under_operation = |span: &Span| {
        let mut parent = span.parent_span_id.as_slice();
        while let Some(next) = by_id.get(parent) {
            if next.span_id == operation.span_id {
                return true;
            }
            parent = next.parent_span_id.as_slice();
        }
        false
    };
    let resolvers: Vec<_> = named("graphql.resolve")
        .filter(|s| under_operation(s))
        .filter_map(|s| text(&s.attributes, "graphql.field.path"))
        .collect();
    // Fields that load something, once per parent; not leaves, not each element of a list.
    assert!(resolvers.contains(&"patients"), "{resolvers:?}");
    assert!(
        resolvers.contains(&"patients.nodes.0.appointments"),
        "{resolvers:?}"
    );
    assert!(
        !resolvers
            .iter()
            .any(|p| p.ends_with(".name") || p.ends_with("nodes.0")),
        "{resolvers:?}"
    );

    let statements: Vec<&Span> = named("db.query").filter(|s| under_operation(s)).collect();
    assert!(
        !statements.is_empty(),
        "no SQL statement under the operation"
    );
    for statement in &statements {
        assert_eq!(statement.trace_id, request.trace_id);
        assert_eq!(text(&statement.attributes, "db.system.name"), Some(system));
        let sql = text(&statement.attributes, "db.query.text").expect("SQL text");
        assert!(sql.starts_with("SELECT"), "{sql}");
        assert!(!sql.contains("binds"), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_errors_reach_sentry_tagged_and_scrubbed() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let sentry = Sink::start("/api/1/envelope/", "{}").await;
    let dsn = format!("http://public@127.0.0.1:{}/1", sentry.port);
    let server = Server::start(
        &app.database_url,
        &[
            ("SENTRY_DSN", dsn.as_str()),
            ("TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let token = app.token(Role::Admin).await;
    let (_, body) = post(&server, &token, json!({ "search": "Adams" })).await;
    assert!(
        body.get("errors").is_none(),
        "served with SENTRY_DSN set: {body}"
    );
    assert!(sentry.bodies().is_empty(), "a successful request reported");

    // Break the database under the running server: its next patient query fails inside.
    // The server's audit writer may hold the write lock for the first request's reads, so wait
    // for it as the server's own connections do.
    let path = app.database_url.trim_start_matches("sqlite://");
    let mut conn =
        <diesel::SqliteConnection as diesel::Connection>::establish(path).expect("open SQLite");
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "PRAGMA busy_timeout = 10000; ALTER TABLE patients RENAME TO patients_gone",
    )
    .expect("rename");
    let search = "zoe.adams@example.org";
    let (request_id, body) = post(&server, &token, json!({ "search": search })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        request_id.as_str()
    );

    let envelopes = sentry.wait_for_bodies(Duration::from_secs(10)).await;
    let envelope = envelopes
        .iter()
        .map(|raw| String::from_utf8_lossy(raw).into_owned())
        .find(|text| text.contains("internal error"))
        .unwrap_or_else(|| panic!("no internal error reported: {envelopes:?}"));
    // An envelope is a header line and then items, each a header line and a payload line.
    let event: Value = envelope
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|item| item.get("event_id").is_some() && item.get("message").is_some())
        .unwrap_or_else(|| panic!("no event item in {envelope}"));
    // Error is the default level, which the SDK leaves out.
    assert!(
        event.get("level").is_none_or(|level| level == "error"),
        "{event}"
    );
    assert_eq!(event["environment"], "test");
    assert_eq!(event["tags"]["request_id"], request_id.as_str());
    for secret in [token.as_str(), search, "203.0.113.9", "Bearer"] {
        assert!(
            !envelope.contains(secret),
            "{secret:?} sent to Sentry: {envelope}"
        );
    }
    drop(server);
}
