//! Background jobs on the real queue: a mutation answers at once, a worker runs the job to
//! SUCCEEDED; a failing job is retried, kept as FAILED and revived by `retryJob`; who sees
//! which jobs; `clinicgraph worker` on its own.
use std::path::Path;
use std::time::{Duration, Instant};

use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::server::Server;
use crate::helpers::{Backend, TestApp};

const JOB: &str = "query($id: ID!) { job(id: $id) { id kind status progress attempts error result startedAt finishedAt } }";
pub const EXPORT: &str =
    "mutation($f: PatientFilter) { exportPatients(format: CSV, filter: $f) { id kind status } }";
const WAIT: Duration = Duration::from_secs(30);

/// Polls `job(id)` until its status is `status`.
pub async fn job_until(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    let read = || async { app.ok(token, JOB, json!({ "id": id })).await["job"].clone() };
    until_status(read, status).await
}

/// Like [`job_until`], asking a server process.
pub async fn job_until_on(server: &Server, token: &str, id: &str, status: &str) -> Value {
    let read = || async { server.ok(token, JOB, json!({ "id": id })).await["job"].clone() };
    until_status(read, status).await
}

/// Reads the job with `read` until it is in `status`.
async fn until_status<F: std::future::Future<Output = Value>>(
    read: impl Fn() -> F,
    status: &str,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let job = read().await;
        if job["status"] == status {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job never reached {status}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The files in `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_kept_as_failed_and_revived_by_retry_job() {
    // The export folder cannot be created while a file stands where its parent should be.
    let scratch = tempfile::tempdir().expect("temp dir");
    let blocker = scratch.path().join("blocker");
    std::fs::write(&blocker, b"not a folder").expect("blocker");
    let export_dir = blocker.join("exports");
    let export_dir_text = export_dir.display().to_string();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("JOB_MAX_ATTEMPTS", "3"),
            ("EXPORT_DIR", export_dir_text.as_str()),
        ],
    )
    .await
    .expect("SQLite");
    let admin = app.token(Role::Admin).await;
    let queued = app.ok(&admin, EXPORT, json!({})).await["exportPatients"].clone();
    let id = queued["id"].as_str().expect("id").to_owned();
    let failed = job_until(&app, &admin, &id, "FAILED").await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    assert!(
        failed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    assert_eq!(failed["result"], Value::Null);
    // Dead: nothing runs it again by itself.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = app.ok(&admin, JOB, json!({ "id": id })).await["job"].clone();
    assert_eq!(
        (still["status"].clone(), still["attempts"].clone()),
        (json!("FAILED"), json!(3))
    );

    std::fs::remove_file(&blocker).expect("remove the blocker");
    let retry = "mutation($id: ID!) { retryJob(id: $id) { id status attempts } }";
    let revived = app.ok(&admin, retry, json!({ "id": id })).await["retryJob"].clone();
    assert_eq!(
        revived,
        json!({ "id": id, "status": "QUEUED", "attempts": 0 })
    );
    let done = job_until(&app, &admin, &id, "SUCCEEDED").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["error"], Value::Null);
    // Published to the file store; nothing is left in the scratch folder.
    assert_eq!(
        files_in(&app.jobs_dir.path().join("files/exports")),
        [done["result"]["file"].as_str().expect("file")]
    );
    assert!(files_in(&export_dir).is_empty());

    // Only a FAILED job can be retried.
    let response = app.gql(Some(&admin), retry, json!({ "id": id })).await;
    assert_eq!(
        response.code(),
        Some("INVALID_STATE_TRANSITION"),
        "{}",
        response.text
    );
    let metrics = app
        .send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .text;
    for line in [
        "jobs_finished_total{kind=\"EXPORT_PATIENTS\",outcome=\"retried\"} 2",
        "jobs_finished_total{kind=\"EXPORT_PATIENTS\",outcome=\"failed\"} 1",
        "job_queue_depth 0",
    ] {
        assert!(metrics.contains(line), "{line} not in /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_seen_by_their_clinic_and_listed_for_admins_only() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let admin = app.token(Role::Admin).await;
    let doctor = app.token(Role::Doctor).await;
    let other = app.other_clinic_admin().await;
    let id = app.ok(&admin, EXPORT, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    job_until(&app, &admin, &id, "SUCCEEDED").await;

    for (token, who) in [(&doctor, "another user"), (&other, "another clinic")] {
        let response = app.gql(Some(token), JOB, json!({ "id": id })).await;
        assert_eq!(
            response.code(),
            Some("NOT_FOUND"),
            "{who}: {}",
            response.text
        );
    }
    for query in [
        "{ jobs { nodes { id } } }",
        "mutation { exportPatients(format: CSV) { id } }",
    ] {
        let response = app.gql(Some(&doctor), query, json!({})).await;
        assert_eq!(
            response.code(),
            Some("FORBIDDEN"),
            "{query}: {}",
            response.text
        );
    }
    let list = "query($s: JobStatus, $k: JobKind) { jobs(status: $s, kind: $k) { totalCount nodes { id } } }";
    let listed = app
        .ok(
            &admin,
            list,
            json!({ "s": "SUCCEEDED", "k": "EXPORT_PATIENTS" }),
        )
        .await;
    assert_eq!(
        listed["jobs"],
        json!({ "totalCount": 1, "nodes": [{ "id": id }] })
    );
    let none = app.ok(&admin, list, json!({ "s": "FAILED" })).await;
    assert_eq!(none["jobs"]["totalCount"], 0);
    let theirs = app.ok(&other, list, json!({})).await;
    assert_eq!(theirs["jobs"]["totalCount"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_runs_jobs_the_api_process_only_queues() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let queue = app.jobs_dir.path().join("shared-queue.db");
    let queue = queue.display().to_string();
    // One host: the two processes share the local file store (each has a scratch folder of
    // its own).
    let files = app.jobs_dir.path().join("shared-files");
    let files = files.display().to_string();
    let env = [
        ("WORKERS_IN_PROCESS", "false"),
        ("JOBS_QUEUE_PATH", queue.as_str()),
        ("FILES_DIR", files.as_str()),
    ];
    let api = Server::start(&app.database_url, &env).await;
    let admin = app.token_without_http(Role::Admin).await;
    let id = api.ok(&admin, EXPORT, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Nobody runs it yet.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = api.ok(&admin, JOB, json!({ "id": id })).await["job"]["status"].clone();
    assert_eq!(waiting, "QUEUED");

    let worker = Server::start_worker(&app.database_url, &env);
    let deadline = Instant::now() + WAIT;
    loop {
        let job = api.ok(&admin, JOB, json!({ "id": id })).await["job"].clone();
        if job["status"] == "SUCCEEDED" {
            let text = download(&api, &admin, &id).await;
            assert_eq!(json!(text.lines().count() - 1), job["result"]["rows"]);
            break;
        }
        assert!(Instant::now() < deadline, "the worker never ran it: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGTERM: the worker stops cleanly.
    let status = worker.stop().await;
    assert!(status.success(), "{status}");
}

/// `GET /exports/{id}` from `api` as `token`: the export's text.
pub async fn download(api: &Server, token: &str, id: &str) -> String {
    let response = api
        .client()
        .get(api.url(&format!("/exports/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    response.text().await.expect("the export")
}

/// Sends SIGKILL: the process gets no chance to tidy up.
fn kill_hard(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_is_killed_mid_job_completes_on_another_worker_once() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let clinic_id = app.demo_clinic_id().await;
    // Enough rows for the export to take a while, so it can be caught half-way.
    clinicgraph::seed::bulk_patients(&app.services, clinic_id, 10_000)
        .await
        .expect("bulk patients");
    let shared = app.jobs_dir.path();
    let queue = shared.join("shared-queue.db").display().to_string();
    let scratch = shared.join("shared-scratch");
    let scratch_text = scratch.display().to_string();
    let files = shared.join("shared-files");
    let files_text = files.display().to_string();
    let env = [
        ("WORKERS_IN_PROCESS", "false"),
        ("JOBS_QUEUE_PATH", queue.as_str()),
        ("EXPORT_DIR", scratch_text.as_str()),
        ("FILES_DIR", files_text.as_str()),
    ];
    let api = Server::start(&app.database_url, &env).await;
    let first = Server::start_worker(&app.database_url, &env);
    let admin = app.token_without_http(Role::Admin).await;
    let id = api.ok(&admin, EXPORT, json!({})).await["exportPatients"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let deadline = Instant::now() + WAIT;
    loop {
        let job = api.ok(&admin, JOB, json!({ "id": id })).await["job"].clone();
        let progress = job["progress"].as_i64().unwrap_or(0);
        if job["status"] == "RUNNING" && progress > 0 {
            assert!(progress < 100, "{job}");
            kill_hard(first.pid());
            break;
        }
        assert_ne!(
            job["status"], "SUCCEEDED",
            "finished before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the first worker never got going: {job}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first);

    // The dead worker's heartbeats stop; the second notices and takes the job over.
    let _second = Server::start_worker(&app.database_url, &env);
    let deadline = Instant::now() + Duration::from_secs(90);
    let job = loop {
        let job = api.ok(&admin, JOB, json!({ "id": id })).await["job"].clone();
        if job["status"] == "SUCCEEDED" {
            break job;
        }
        assert!(Instant::now() < deadline, "nobody finished the job: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["attempts"], 2, "{job}");
    // Once in effect: one complete file, no leftovers of the killed attempt (its scratch file
    // had the same name as the second's, which replaced it).
    assert_eq!(
        files_in(&files.join("exports")),
        [job["result"]["file"].as_str().expect("file")]
    );
    assert!(files_in(&scratch).is_empty(), "{:?}", files_in(&scratch));
    let text = download(&api, &admin, &id).await;
    let rows = text.lines().count() - 1;
    assert_eq!(json!(rows), job["result"]["rows"]);
    assert!(rows > 10_000, "{rows}");
}
