//! The entity cache inside one instance, in process (the embedded default) and in Redis: reads
//! by id skip the database once cached, a read after a write sees the write, and cached
//! records are scoped exactly as database rows are.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::server::{Namespace, redis_url};
use crate::helpers::{Backend, TestApp, demo_patient};

const PATIENT: &str =
    "query($id: ID!) { patient(id: $id) { name doctor: primaryDoctor { name } } }";

async fn reads_by_id_are_cached_and_a_write_is_seen_at_once(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let id = demo_patient(2);
    let (first, cold) = app.counted(&admin, PATIENT, json!({ "id": id })).await;
    let (again, warm) = app.counted(&admin, PATIENT, json!({ "id": id })).await;
    assert_eq!(first, again);
    assert!(cold >= 1, "the first read goes to the database");
    assert_eq!(warm, 0, "a cached patient and doctor need no statement");

    app.ok(
        &admin,
        "mutation($id: ID!) { updatePatient(id: $id, input: { name: \"Renamed Person\" }) { name } }",
        json!({ "id": id }),
    )
    .await;
    let after = app.ok(&admin, PATIENT, json!({ "id": id })).await;
    assert_eq!(after["patient"]["name"], "Renamed Person");

    app.ok(
        &admin,
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    let deleted = app.gql(Some(&admin), PATIENT, json!({ "id": id })).await;
    assert_eq!(
        deleted.code(),
        Some("PATIENT_NOT_FOUND"),
        "{}",
        deleted.text
    );
}

async fn cached_records_are_scoped_like_database_rows(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let own = demo_patient(1);
    let someone_else = demo_patient(2);
    // Both records are in the cache after these reads.
    for id in [&own, &someone_else] {
        app.ok(&admin, PATIENT, json!({ "id": id })).await;
    }
    let patient = app.token(Role::Patient).await;
    let (mine, statements) = app.counted(&patient, PATIENT, json!({ "id": own })).await;
    assert!(mine["patient"]["name"].is_string());
    assert_eq!(statements, 0, "served from the cache");
    let theirs = app
        .gql(Some(&patient), PATIENT, json!({ "id": someone_else }))
        .await;
    assert_eq!(theirs.code(), Some("PATIENT_NOT_FOUND"), "{}", theirs.text);

    let other_clinic = app.other_clinic_admin().await;
    let foreign = app
        .gql(Some(&other_clinic), PATIENT, json!({ "id": own }))
        .await;
    assert_eq!(
        foreign.code(),
        Some("PATIENT_NOT_FOUND"),
        "{}",
        foreign.text
    );
    // The loader path (node) is cached too, and scoped too.
    let node = app
        .gql(
            Some(&other_clinic),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": own }),
        )
        .await;
    assert_eq!(node.body["data"]["node"], json!(null), "{}", node.text);
}

/// The same rules with the cache in Redis.
async fn in_redis(test: impl AsyncFnOnce(TestApp), backend: Backend) {
    let Some(url) = redis_url() else { return };
    let namespace = Namespace::new(&url);
    let app = TestApp::spawn_with(
        backend,
        &[("REDIS_URL", &url), ("REDIS_PREFIX", &namespace.prefix)],
    )
    .await;
    if let Some(app) = app {
        test(app).await;
    }
}

/// In process: SQLite's default; on PostgreSQL only when the operator vouches for one instance.
mod in_process {
    use super::*;
    crate::on_every_backend!(
        env [("CACHE_IN_PROCESS", "true")];
        reads_by_id_are_cached_and_a_write_is_seen_at_once,
        cached_records_are_scoped_like_database_rows,
    );
}

/// PostgreSQL without Redis may be shared by several instances, whose writes an in-process
/// cache would never hear of: nothing is cached there unless asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_without_redis_caches_nothing_by_default() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let id = json!({ "id": demo_patient(2) });
    app.ok(&admin, PATIENT, id.clone()).await;
    let (_, again) = app.counted(&admin, PATIENT, id).await;
    assert!(
        again >= 1,
        "read from the database again: {again} statements"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_redis_reads_are_cached_and_a_write_is_seen_at_once() {
    in_redis(
        reads_by_id_are_cached_and_a_write_is_seen_at_once,
        Backend::Sqlite,
    )
    .await;
    in_redis(
        reads_by_id_are_cached_and_a_write_is_seen_at_once,
        Backend::Postgres,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_redis_cached_records_are_scoped_like_database_rows() {
    in_redis(
        cached_records_are_scoped_like_database_rows,
        Backend::Sqlite,
    )
    .await;
    in_redis(
        cached_records_are_scoped_like_database_rows,
        Backend::Postgres,
    )
    .await;
}
