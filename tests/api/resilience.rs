//! What a client meets when something fails for a moment: a mutation sent again under its
//! `Idempotency-Key` runs once; on PostgreSQL, reads and mutations ride out terminated
//! backends, serialization failures inside a transaction, and a restart.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use clinicgraph::db::now;
use clinicgraph::modules::idempotency::model::{Claim, Fingerprint, IdempotencyKey, StoredAnswer};
use clinicgraph::modules::idempotency::repository::{
    DieselIdempotencyRepository, Horizon, IdempotencyRepository, Owner,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::{Value, json};

use clinicgraph::core::error::AppError;
use clinicgraph::db::{DbError, Transactions};
use clinicgraph::modules::clinic::model::NewClinic;
use clinicgraph::modules::clinic::repository::{ClinicRepository, DieselClinicRepository};
use clinicgraph::modules::patient::model::{PatientFields, PatientFilter, PatientWrite};
use clinicgraph::modules::patient::repository::{DieselPatientRepository, PatientRepository};

use crate::helpers::load::{
    UNLIMITED_LOAD, created_once_after_failed_attempts, created_once_after_lost_connections,
    finish, read_load,
};
use crate::helpers::redis_proxy::RedisProxy;
use crate::helpers::server::Server;
use crate::helpers::{Backend, TestApp, TestResponse, patient_input};
use crate::on_every_backend;

const CREATE: &str =
    "mutation($input: CreatePatientInput!) { createPatient(input: $input) { id name email } }";
const COUNT: &str =
    "query($search: String) { patients(filter: { search: $search }) { totalCount } }";
const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

fn create(name: &str, email: &str) -> Value {
    json!({ "query": CREATE, "variables": { "input": patient_input(name, email) } })
}

/// POSTs `body` as `token` with each of `keys` as an `Idempotency-Key` header.
pub async fn post_keyed(
    app: &TestApp,
    token: Option<&str>,
    keys: &[&str],
    body: &Value,
) -> TestResponse {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for key in keys {
        request = request.header("idempotency-key", *key);
    }
    app.send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

async fn count(app: &TestApp, token: &str, search: &str) -> i64 {
    app.ok(token, COUNT, json!({ "search": search })).await["patients"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

pub fn replayed(response: &TestResponse) -> bool {
    response
        .headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

on_every_backend!(
    a_mutation_sent_twice_with_one_key_writes_once,
    a_key_is_checked_only_where_it_applies,
    an_answer_that_ran_nothing_leaves_the_key_free,
    a_key_in_use_expired_or_abandoned,
    a_unit_of_work_commits_rolls_back_and_reruns_as_a_whole,
);

async fn a_mutation_sent_twice_with_one_key_writes_once(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let body = create("Idem Potent", "idem.potent@example.org");
    let first = post_keyed(&app, Some(&admin), &["create-idem-1"], &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.body.get("errors").is_none(), "{}", first.text);
    assert!(!replayed(&first));

    let second = post_keyed(&app, Some(&admin), &["create-idem-1"], &body).await;
    assert_eq!(second.status, first.status);
    assert_eq!(second.bytes, first.bytes, "the first answer, byte for byte");
    assert_eq!(
        second.headers.get("content-type"),
        first.headers.get("content-type")
    );
    assert!(replayed(&second));
    assert_eq!(count(&app, &admin, "idem potent").await, 1);

    // The same request with its variables' keys in another order is the same request.
    let mut input = serde_json::Map::new();
    let sent = patient_input("Idem Potent", "idem.potent@example.org");
    for (key, value) in sent.as_object().expect("object").iter().rev() {
        input.insert(key.clone(), value.clone());
    }
    let reordered = json!({ "variables": { "input": input }, "query": CREATE });
    let third = post_keyed(&app, Some(&admin), &["create-idem-1"], &reordered).await;
    assert_eq!(third.bytes, first.bytes);

    // Another request under the same key is refused, and writes nothing.
    let other = create("Other Potent", "other.potent@example.org");
    let reused = post_keyed(&app, Some(&admin), &["create-idem-1"], &other).await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reused.text
    );
    assert_eq!(reused.code(), Some("IDEMPOTENCY_KEY_REUSED"));
    assert_eq!(count(&app, &admin, "other potent").await, 0);

    // Another caller's key of the same name is theirs.
    let nurse = app.token(Role::Nurse).await;
    let theirs = post_keyed(&app, Some(&nurse), &["create-idem-1"], &other).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert!(theirs.body.get("errors").is_none(), "{}", theirs.text);
    assert!(!replayed(&theirs));
    assert_eq!(count(&app, &admin, "other potent").await, 1);
    assert_eq!(count(&app, &admin, "idem potent").await, 1);
}

async fn a_key_is_checked_only_where_it_applies(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let body = create("Badkey Person", "badkey@example.org");
    let too_long = "k".repeat(256);
    for keys in [
        vec![""],
        vec![too_long.as_str()],
        vec!["with space"],
        vec!["one", "two"],
    ] {
        let response = post_keyed(&app, Some(&admin), &keys, &body).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{keys:?}: {}",
            response.text
        );
        assert_eq!(response.code(), Some("IDEMPOTENCY_KEY_INVALID"), "{keys:?}");
    }
    assert_eq!(count(&app, &admin, "badkey").await, 0);

    // Queries ignore the key, even a malformed one: they run each time.
    let query = json!({ "query": COUNT, "variables": { "search": "adams" } });
    for _ in 0..2 {
        let response = post_keyed(&app, Some(&admin), &["with space"], &query).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        assert!(response.body["data"]["patients"]["totalCount"].is_i64());
        assert!(!replayed(&response));
    }
    // So do anonymous callers: logging in twice gives two tokens.
    let login = json!({
        "query": LOGIN,
        "variables": { "e": "admin@demo.clinic", "p": clinicgraph::seed::DEMO_PASSWORD },
    });
    for _ in 0..2 {
        let response = post_keyed(&app, None, &["login-key"], &login).await;
        assert!(
            response.body["data"]["login"]["accessToken"].is_string(),
            "{}",
            response.text
        );
        assert!(!replayed(&response));
    }
}

async fn an_answer_that_ran_nothing_leaves_the_key_free(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    // A variable that cannot be coerced: a request error, nothing ran.
    let broken = json!({
        "query": CREATE,
        "variables": { "input": { "name": "Free Key", "email": "free.key@example.org", "phone": 5 } },
    });
    let refused = post_keyed(&app, Some(&admin), &["free-key"], &broken).await;
    assert!(refused.body.get("errors").is_some(), "{}", refused.text);
    assert!(refused.body.get("data").is_none(), "{}", refused.text);
    // The key was not kept: the corrected request runs under it.
    let fixed = create("Free Key", "free.key@example.org");
    let ran = post_keyed(&app, Some(&admin), &["free-key"], &fixed).await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);
    assert!(ran.body.get("errors").is_none(), "{}", ran.text);
    assert!(!replayed(&ran));
    assert_eq!(count(&app, &admin, "free key").await, 1);

    // A mutation that answered with its own error is answered so again, without running.
    let duplicate = post_keyed(&app, Some(&admin), &["duplicate-key"], &fixed).await;
    assert_eq!(
        duplicate.code(),
        Some("DUPLICATE_EMAIL"),
        "{}",
        duplicate.text
    );
    let again = post_keyed(&app, Some(&admin), &["duplicate-key"], &fixed).await;
    assert_eq!(again.bytes, duplicate.bytes);
    assert!(replayed(&again));
}

async fn a_key_in_use_expired_or_abandoned(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let caller = app.services.tokens.verify(&admin).expect("token").caller;
    let owner = Owner {
        clinic_id: caller.clinic_id,
        user_id: caller.user_id,
    };
    let keys = DieselIdempotencyRepository::new(app.pool.clone(), app.services.keys.clone());
    let horizon_at = |at| Horizon {
        expired_before: at - chrono::TimeDelta::hours(24),
        abandoned_before: at - chrono::TimeDelta::minutes(2),
    };
    let fingerprint_of = |body: &Value| {
        Fingerprint::of([(
            body["query"].as_str().expect("query"),
            &body["variables"],
            None,
        )])
    };

    // The same request still running under the key (claimed a moment ago, not answered).
    let body = create("Running Key", "running.key@example.org");
    let key = IdempotencyKey::parse(b"running-key").expect("key");
    let claimed = keys
        .claim(
            owner,
            &key,
            &fingerprint_of(&body),
            now(),
            horizon_at(now()),
        )
        .await
        .expect("claim");
    assert_eq!(claimed, Claim::Run);
    let in_flight = post_keyed(&app, Some(&admin), &["running-key"], &body).await;
    assert_eq!(in_flight.status, StatusCode::CONFLICT, "{}", in_flight.text);
    assert_eq!(in_flight.code(), Some("IDEMPOTENCY_KEY_IN_FLIGHT"));
    assert_eq!(count(&app, &admin, "running key").await, 0);

    // Claimed three minutes ago and never answered: its process stopped; the request runs.
    let body = create("Abandoned Key", "abandoned.key@example.org");
    let key = IdempotencyKey::parse(b"abandoned-key").expect("key");
    let then = now() - chrono::TimeDelta::minutes(3);
    keys.claim(owner, &key, &fingerprint_of(&body), then, horizon_at(then))
        .await
        .expect("claim");
    let ran = post_keyed(&app, Some(&admin), &["abandoned-key"], &body).await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);
    assert!(!replayed(&ran));
    assert_eq!(count(&app, &admin, "abandoned key").await, 1);

    // Answered 25 hours ago: expired, so the key is free again, even for another request.
    let body = create("Expired Key", "expired.key@example.org");
    let key = IdempotencyKey::parse(b"expired-key").expect("key");
    let then = now() - chrono::TimeDelta::hours(25);
    let stale = json!({ "query": COUNT, "variables": {} });
    keys.claim(owner, &key, &fingerprint_of(&stale), then, horizon_at(then))
        .await
        .expect("claim");
    let answer = StoredAnswer {
        status: 200,
        content_type: "application/json".into(),
        body: "{}".into(),
    };
    keys.complete(owner, &key, &answer, then)
        .await
        .expect("complete");
    let ran = post_keyed(&app, Some(&admin), &["expired-key"], &body).await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);
    assert!(!replayed(&ran));
    assert_eq!(count(&app, &admin, "expired key").await, 1);
    assert_eq!(
        keys.delete_expired(now() - chrono::TimeDelta::hours(24))
            .await
            .expect("sweep"),
        0,
        "the expired use was replaced"
    );
}

fn new_clinic(name: &str) -> NewClinic {
    NewClinic {
        name: name.to_owned(),
        timezone: "UTC".to_owned(),
        address: None,
        phone: None,
        created_at: now(),
        updated_at: now(),
    }
}

fn new_patient(name: &str, email: &str) -> PatientWrite {
    let fields = PatientFields {
        name: name.to_owned(),
        email: email.to_owned(),
        phone: Some("5551234567".to_owned()),
        blood_group: None,
        date_of_birth: None,
        internal_notes: None,
        primary_doctor_id: None,
    };
    PatientWrite::new(&fields, now())
}

/// Several repository calls as one transaction, as a service says it (`db::Transactions`).
async fn a_unit_of_work_commits_rolls_back_and_reruns_as_a_whole(app: TestApp) {
    let transactions = Transactions::on(&app.pool);
    let clinics = DieselClinicRepository::new(app.pool.clone());
    let patients = DieselPatientRepository::new(app.pool.clone(), app.services.keys.clone());
    let everyone = PatientFilter::default();

    // A clinic and its first patient, whose insert is a transaction of its own (a savepoint
    // here); the unit reads what it wrote.
    let clinic = transactions
        .run(async || {
            let clinic = clinics.insert(new_clinic("Unit Clinic")).await?;
            patients
                .insert(
                    clinic.id,
                    new_patient("Unit Patient", "unit.patient@example.org"),
                )
                .await?;
            let seen = clinics.find_by_name("Unit Clinic").await?;
            assert_eq!(seen.map(|c| c.id), Some(clinic.id));
            Ok::<_, AppError>(clinic)
        })
        .await
        .expect("committed");
    assert_eq!(
        clinics
            .find_by_name("Unit Clinic")
            .await
            .expect("read")
            .map(|c| c.id),
        Some(clinic.id)
    );
    assert_eq!(
        patients.count(clinic.id, &everyone).await.expect("count"),
        1
    );

    // A failure after the writes rolls all of them back.
    let outcome = transactions
        .run(async || {
            let other = clinics.insert(new_clinic("Rolled Back Clinic")).await?;
            patients
                .insert(
                    other.id,
                    new_patient("Rolled Back", "rolled.back@example.org"),
                )
                .await?;
            patients
                .insert(
                    clinic.id,
                    new_patient("Rolled Back", "rolled.back@example.org"),
                )
                .await?;
            Err::<(), _>(AppError::invalid("name", "refused after the writes"))
        })
        .await;
    assert!(
        matches!(outcome, Err(AppError::Validation(_))),
        "{outcome:?}"
    );
    assert!(
        clinics
            .find_by_name("Rolled Back Clinic")
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        patients.count(clinic.id, &everyone).await.expect("count"),
        1
    );

    // A transient failure after a write runs the whole unit again, on a fresh transaction: the
    // first attempt's patient is gone (its email would otherwise clash), the second's stays.
    let mut attempts = 0;
    transactions
        .run(async || {
            attempts += 1;
            patients
                .insert(
                    clinic.id,
                    new_patient("Rerun Patient", "rerun.unit@example.org"),
                )
                .await?;
            if attempts == 1 {
                return Err(AppError::from(DbError::Pool(bb8::RunError::TimedOut)));
            }
            Ok(())
        })
        .await
        .expect("the second attempt");
    assert_eq!(attempts, 2);
    let rerun = PatientFilter {
        search: Some("rerun.unit".to_owned()),
        ..PatientFilter::default()
    };
    assert_eq!(patients.count(clinic.id, &rerun).await.expect("count"), 1);
    // The live-patient counter moved with the rows, once per kept patient.
    assert_eq!(
        patients.count(clinic.id, &everyone).await.expect("count"),
        2
    );
}

/// The test database's name, from its URL.
fn database_name(url: &str) -> String {
    let path = url.rsplit('/').next().expect("a database in the URL");
    path.split('?').next().unwrap_or(path).to_owned()
}

/// Ends every connection to `database` but the caller's; returns how many.
async fn terminate_backends(database: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Terminated {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let mut admin = AsyncPgConnection::establish(&admin_url)
        .await
        .expect("admin connection");
    let terminated: Terminated = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS count \
             FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind::<diesel::sql_types::Text, _>(database),
        &mut admin,
    )
    .await
    .expect("terminate");
    terminated.count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_and_a_mutation_ride_out_terminated_backends() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let database = database_name(&app.database_url);
    let server = Arc::new(Server::start(&app.database_url, &UNLIMITED_LOAD).await);
    let token = server.login("admin@demo.clinic").await;
    let stop = Arc::new(AtomicBool::new(false));
    let readers = read_load(&server, &token, 3, &stop);
    let mut terminated = 0;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        terminated += terminate_backends(&database).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    let (reads, failures) = finish(readers).await;
    assert!(terminated >= 6, "backends terminated: {terminated}");
    assert!(reads >= 20, "reads: {reads}");
    assert!(
        failures.is_empty(),
        "{} of {reads} reads failed: {failures:?}",
        failures.len()
    );

    // A mutation right after its connections were ended: it succeeds, once.
    assert!(terminate_backends(&database).await > 0);
    created_once_after_lost_connections(
        &server,
        &token,
        "After Terminate",
        "after.terminate@example.org",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_transactions_are_rerun_after_conflicts_and_lost_backends() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    // Each new patient's first attempts fail inside the transaction, after its INSERT: a
    // serialization failure, then its backend terminated, then a deadlock. A sequence counts
    // the attempts, as it is not rolled back with them.
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .expect("test database");
    conn.batch_execute(
        "CREATE SEQUENCE injected_failures;
         CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE attempt bigint := nextval('injected_failures');
         BEGIN
           IF attempt = 1 THEN
             RAISE EXCEPTION 'could not serialize access due to concurrent update'
               USING ERRCODE = 'serialization_failure';
           ELSIF attempt = 2 THEN
             PERFORM pg_terminate_backend(pg_backend_pid());
           ELSIF attempt = 3 THEN
             RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER inject_failure AFTER INSERT ON patients
           FOR EACH ROW EXECUTE FUNCTION inject_failure();",
    )
    .await
    .expect("failure injection");
    created_once_after_failed_attempts(
        &app.database_url,
        &["serialization_failure", "connection_lost", "deadlock"],
    )
    .await;
}

/// PostgreSQL restarted under a read load, simulated without touching the PostgreSQL other
/// tests share: the server reaches it through a proxy that, cut, drops every connection and
/// refuses new ones for two seconds, then lets them through again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_recovers_by_itself() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let after_scheme = app
        .database_url
        .split_once("://")
        .map_or(app.database_url.as_str(), |(_, rest)| rest);
    let after_user = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, rest)| rest);
    let upstream = after_user
        .split('/')
        .next()
        .expect("host:port in the test database URL")
        .to_owned();
    let proxy = RedisProxy::forward(&upstream).await;
    let through_proxy = app
        .database_url
        .replacen(&upstream, &proxy.addr.to_string(), 1);
    let server = Arc::new(Server::start(&through_proxy, &UNLIMITED_LOAD).await);
    let token = server.login("admin@demo.clinic").await;

    let stop = Arc::new(AtomicBool::new(false));
    let warm_up = read_load(&server, &token, 2, &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    stop.store(true, Ordering::Relaxed);
    // Requests during the outage may fail (once their retries ran out); they are not counted.
    for reader in warm_up {
        reader.await.expect("reader");
    }

    // Once it is back, every request succeeds, without a restart of the server.
    let stop = Arc::new(AtomicBool::new(false));
    let readers = read_load(&server, &token, 2, &stop);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (reads, failures) = finish(readers).await;
    assert!(reads >= 10, "reads: {reads}");
    assert!(
        failures.is_empty(),
        "{} of {reads} reads failed: {failures:?}",
        failures.len()
    );
    let data = server
        .ok(
            &token,
            CREATE,
            json!({ "input": patient_input("After Restart", "after.restart@example.org") }),
        )
        .await;
    assert_eq!(data["createPatient"]["name"], "After Restart");
    let (status, ready) = server.get_json("/ready").await;
    assert_eq!(status, 200, "{ready}");
}

/// A browser app may send the key across origins, and read whether an answer was replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_send_a_key_and_see_a_replay() {
    let origin = "https://app.example.org";
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CORS_ORIGINS", origin)])
        .await
        .expect("SQLite");
    let preflight = Request::options("/graphql")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization,idempotency-key",
        )
        .body(Body::empty())
        .expect("request");
    let response = app.send(preflight).await;
    assert_eq!(response.status, StatusCode::OK);
    let allowed = response
        .headers
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        allowed
            .split(',')
            .any(|name| name.trim() == "idempotency-key"),
        "{allowed}"
    );

    let admin = app.token(Role::Admin).await;
    let body = create("Browser Key", "browser.key@example.org");
    for attempt in ["first", "replayed"] {
        let request = Request::post("/graphql")
            .header("origin", origin)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {admin}"))
            .header("idempotency-key", "browser-key")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = app.send(request).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        assert_eq!(replayed(&response), attempt == "replayed");
        let exposed = response
            .headers
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(exposed.contains("idempotent-replayed"), "{exposed}");
    }
}
