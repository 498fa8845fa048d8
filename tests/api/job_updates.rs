//! Following a job live with `jobUpdated`, and jobs on the Redis queue: an API instance only
//! queues, a `clinicgraph worker` process runs the job, and the subscriber on the API hears it
//! through Redis (or, without Redis, by the subscription reading the job again).
use std::time::Duration;

use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::server::{Namespace, Server, redis_url};
use crate::helpers::subscriber::Subscriber;
use crate::helpers::{Backend, TestApp};
use crate::jobs::EXPORT;

const UPDATES: &str = "subscription($id: ID!) { jobUpdated(id: $id) { id kind status progress attempts error result } }";
const WAIT: Duration = Duration::from_secs(60);

/// Follows an export run by a separate worker process, from the API's WebSocket endpoint.
async fn follow_an_export(app: &TestApp, env: &[(&str, &str)]) -> Vec<Value> {
    let clinic_id = app.demo_clinic_id().await;
    // Several pages, so there is progress to report.
    clinicgraph::seed::bulk_patients(&app.services, clinic_id, 3_000)
        .await
        .expect("bulk patients");
    let mut env = env.to_vec();
    env.push(("WORKERS_IN_PROCESS", "false"));
    let api = Server::start(&app.database_url, &env).await;
    let admin = app.token_without_http(Role::Admin).await;
    let id = api.ok(&admin, EXPORT, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let subscriber = Subscriber::start(
        &api.ws_url(),
        Some(&admin),
        UPDATES,
        json!({ "id": id }),
        1_000,
        WAIT,
    )
    .await;
    let worker = Server::start_worker(&app.database_url, &env);
    let updates: Vec<Value> = subscriber
        .until_complete()
        .await
        .into_iter()
        .map(|payload| payload["data"]["jobUpdated"].clone())
        .collect();
    let status = worker.stop().await;
    assert!(status.success(), "{status}");

    assert!(updates.iter().all(|job| job["id"] == id.as_str()));
    assert_eq!(updates[0]["status"], "QUEUED", "first the job as it is");
    let last = updates.last().expect("updates");
    assert_eq!(last["status"], "SUCCEEDED", "{updates:?}");
    assert_eq!(last["progress"], 100);
    assert!(last["result"]["rows"].as_i64() > Some(3_000), "{last}");
    // Never backwards, and each one a change.
    for pair in updates.windows(2) {
        assert!(
            pair[0]["progress"].as_i64() <= pair[1]["progress"].as_i64(),
            "{pair:?}"
        );
        assert_ne!(pair[0], pair[1], "an update that changed nothing");
    }
    updates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_on_the_redis_queue_runs_on_a_worker_process_and_its_updates_reach_the_api() {
    let Some(redis) = redis_url() else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let namespace = Namespace::new(&redis);
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", namespace.prefix.as_str()),
    ];
    let updates = follow_an_export(&app, &env).await;
    assert!(
        updates.iter().any(|job| job["status"] == "RUNNING"),
        "{updates:?}"
    );
    // The job went through Redis: the queue's keys are under the namespace.
    let client = redis::Client::open(redis.as_str()).expect("redis");
    let mut conn = client.get_connection().expect("redis connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}_jobs*", namespace.prefix))
        .query(&mut conn)
        .expect("KEYS");
    assert!(!keys.is_empty(), "nothing in the Redis queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_subscriber_still_follows_a_job_run_by_another_process() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let queue = app.jobs_dir.path().join("shared-queue.db");
    let queue = queue.display().to_string();
    follow_an_export(&app, &[("JOBS_QUEUE_PATH", queue.as_str())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_jobs_owner_and_the_clinics_admins_may_follow_it() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let server = Server::start(&app.database_url, &[]).await;
    let admin = app.token_without_http(Role::Admin).await;
    let id = server.ok(&admin, EXPORT, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let query = format!("subscription {{ jobUpdated(id: \"{id}\") {{ id status }} }}");
    for token in [
        app.other_clinic_admin().await,
        app.token_without_http(Role::Doctor).await,
    ] {
        let outcome = Subscriber::outcome(&server.ws_url(), &token, &query).await;
        // One result with the error and no data, as for a query.
        assert_eq!(outcome["type"], "next", "{outcome}");
        assert_eq!(
            outcome["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{outcome}"
        );
        assert!(outcome["payload"]["data"].is_null(), "{outcome}");
    }
}
