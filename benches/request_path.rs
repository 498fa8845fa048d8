//! The hot request path in process: HTTP parsing, authentication, GraphQL parse and validation,
//! resolvers, DataLoaders, SQL on the embedded SQLite database, and JSON serialisation, for the
//! three request shapes of `bench/queries`. A micro-benchmark: the side-by-side load test is
//! `../shared/bench/compare.sh` (see `bench/README.md`).
use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use clinicgraph::app::app_state;
use clinicgraph::config::Config;
use clinicgraph::db::{DbPool, migrations};
use clinicgraph::modules::registry::{Repositories, Services};
use clinicgraph::shared::Shared;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Bench {
    router: Router,
    token: String,
    _dir: tempfile::TempDir,
}

async fn call(router: &Router, token: Option<&str>, body: &Value) -> Value {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("router");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("json")
}

async fn setup() -> Bench {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars: HashMap<&str, String> = HashMap::from([
        ("APP_ENV", "production".to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
        ),
        (
            "JWT_SECRET",
            "benchmark-secret-0123456789abcdef0123".to_owned(),
        ),
        (
            "DATA_KEYS",
            "*bench:YmVuY2htYXJrLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=".to_owned(),
        ),
    ]);
    let config = Config::from_lookup(&|name| vars.get(name).cloned()).expect("config");
    migrations::run(&config.database_url)
        .await
        .expect("migrations");
    let pool = DbPool::connect(&config.database_url, config.db_pool_size)
        .await
        .expect("pool");
    let shared = Shared::from_config(&config).expect("shared state");
    let keys = config.data_keys().expect("data keys");
    let repos = Repositories::cached(&pool, &shared.cache, &keys);
    let services = Services::new(
        &config,
        &repos,
        &shared,
        std::sync::Arc::new(clinicgraph::jobs::queue::NoQueue),
    )
    .expect("services");
    clinicgraph::seed::demo(&services).await.expect("demo data");
    let router = clinicgraph::http::router(app_state(&config, pool, &services, &shared));
    let login = json!({ "query": "mutation { login(email: \"admin@demo.clinic\", password: \"clinicgraph-demo\") { accessToken } }" });
    let token = call(&router, None, &login).await["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    Bench {
        router,
        token,
        _dir: dir,
    }
}

fn request_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bench = runtime.block_on(setup());
    let first = runtime.block_on(call(
        &bench.router,
        Some(&bench.token),
        &json!({ "query": "{ patients(first: 1) { nodes { id } } }" }),
    ));
    let id = first["data"]["patients"]["nodes"][0]["id"]
        .as_str()
        .expect("a patient")
        .to_owned();
    for (name, text) in [
        ("q1_patient_by_id", include_str!("../bench/queries/q1.json")),
        (
            "q2_page_with_total",
            include_str!("../bench/queries/q2.json"),
        ),
        ("q3_nested_page", include_str!("../bench/queries/q3.json")),
    ] {
        let body: Value =
            serde_json::from_str(&text.replace("__PATIENT_ID__", &id)).expect("query body");
        let answer = runtime.block_on(call(&bench.router, Some(&bench.token), &body));
        assert!(answer.get("errors").is_none(), "{name}: {answer}");
        c.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| call(&bench.router, Some(&bench.token), &body));
        });
    }
}

criterion_group!(benches, request_path);
criterion_main!(benches);
