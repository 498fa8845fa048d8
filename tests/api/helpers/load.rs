//! A read load on a server process while something fails underneath it, and what the
//! server's `/metrics` said afterwards: shared by the tests of each backend's failures.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::patient_input;
use super::server::Server;

/// The value of the `/metrics` sample named exactly `sample` (with its labels), 0 if absent.
pub fn sample(metrics: &str, sample: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A page of patients with a nested list: statements pipelined on one shared connection.
pub const NESTED_READ: &str = "{ patients(first: 5) { totalCount edges { node { id name \
     appointments(first: 3) { edges { node { id status } } } } } } }";

/// Reads `NESTED_READ` in `clients` loops until `stop`; returns each failed answer.
pub fn read_load(
    server: &Arc<Server>,
    token: &str,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(usize, Vec<String>)>> {
    (0..clients)
        .map(|_| {
            let (server, token, stop) = (server.clone(), token.to_owned(), stop.clone());
            tokio::spawn(async move {
                let (mut reads, mut failures) = (0, Vec::new());
                while !AtomicBool::load(&stop, Ordering::Relaxed) {
                    let (status, _, body) = server.gql(Some(&token), NESTED_READ, json!({})).await;
                    reads += 1;
                    if status != 200 || body.get("errors").is_some() {
                        failures.push(format!("{status} {body}"));
                    }
                }
                (reads, failures)
            })
        })
        .collect()
}

/// A server for a read load: a small pool, and no rate limit (the readers are one user at one
/// address, and would be limited as fast as the machine runs them).
pub const UNLIMITED_LOAD: [(&str, &str); 2] =
    [("DB_POOL_SIZE", "4"), ("RATE_LIMIT_PER_MINUTE", "0")];

/// Waits for the readers of [`read_load`]: all their reads, and the failed answers.
pub async fn finish(
    readers: Vec<tokio::task::JoinHandle<(usize, Vec<String>)>>,
) -> (usize, Vec<String>) {
    let (mut reads, mut failures) = (0, Vec::new());
    for reader in readers {
        let (done, failed) = reader.await.expect("reader");
        reads += done;
        failures.extend(failed);
    }
    (reads, failures)
}

/// Creates a patient named `name` through `server` right after its database connections were
/// ended: the mutation succeeds and writes once, and `/metrics` counts a retry for a lost
/// connection and none given up.
pub async fn created_once_after_lost_connections(
    server: &Server,
    token: &str,
    name: &str,
    email: &str,
) {
    let data = server
        .ok(
            token,
            "mutation($input: CreatePatientInput!) { createPatient(input: $input) { name } }",
            json!({ "input": patient_input(name, email) }),
        )
        .await;
    assert_eq!(data["createPatient"]["name"], name);
    let counted = server
        .ok(
            token,
            "query($search: String) { patients(filter: { search: $search }) { totalCount } }",
            json!({ "search": name.to_lowercase() }),
        )
        .await;
    assert_eq!(counted["patients"]["totalCount"], 1);
    let metrics = server.text("/metrics").await;
    assert!(
        sample(&metrics, "db_retries_total{reason=\"connection_lost\"}") >= 1.0,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "db_retries_exhausted_total"), 0.0);
}

/// Creates a patient through a server on `database_url` whose patient inserts fail at first
/// (a trigger the test installed): the mutation succeeds and writes once, the clinic's
/// live-patient counter moved once (the unfiltered count equals a count of the rows, as every
/// email has an @), and `/metrics` counts a retry for each of `reasons`.
pub async fn created_once_after_failed_attempts(database_url: &str, reasons: &[&str]) {
    const COUNT: &str =
        "query($search: String) { patients(filter: { search: $search }) { totalCount } }";
    let server = Server::start(database_url, &[]).await;
    let token = server.login("admin@demo.clinic").await;
    let data = server
        .ok(
            &token,
            "mutation($input: CreatePatientInput!) { createPatient(input: $input) { name } }",
            json!({ "input": patient_input("Rerun Transaction", "rerun.transaction@example.org") }),
        )
        .await;
    assert_eq!(data["createPatient"]["name"], "Rerun Transaction");
    let counted = server
        .ok(&token, COUNT, json!({ "search": "rerun transaction" }))
        .await;
    assert_eq!(counted["patients"]["totalCount"], 1, "written once");
    let counter = server.ok(&token, COUNT, json!({})).await;
    let rows = server.ok(&token, COUNT, json!({ "search": "@" })).await;
    assert_eq!(counter, rows);
    let metrics = server.text("/metrics").await;
    for reason in reasons {
        assert!(
            sample(
                &metrics,
                &format!("db_retries_total{{reason=\"{reason}\"}}")
            ) >= 1.0,
            "{reason}: {metrics}"
        );
    }
}
