//! Several instances as one service: two real server processes on one PostgreSQL database and
//! one Redis share the cache (and its invalidation) and the rate limits; Redis going down or
//! slow fails no request.
use std::time::{Duration, Instant};

use clinicgraph::core::auth::Role;
use clinicgraph::seed::DEMO_PASSWORD;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::redis_proxy::RedisProxy;
use crate::helpers::server::{Namespace, Server, redis_url};
use crate::helpers::{Backend, TestApp, at, demo_patient};

const PATIENT: &str = "query($id: ID!) { patient(id: $id) { name } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { status } }";
const SCHEDULE: &str =
    "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id status } }";
const RENAME: &str = "mutation($id: ID!, $name: String!) { updatePatient(id: $id, input: { name: $name }) { name } }";
const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// The sum of a counter's series in a Prometheus text page.
fn counter(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn name(data: &Value) -> String {
    data["patient"]["name"].as_str().expect("a name").to_owned()
}

/// A PostgreSQL test database with the demo data, and Redis; `None` when either is not
/// configured (`.ci/run` configures both).
async fn setup() -> Option<(TestApp, String)> {
    let redis = redis_url()?;
    let app = TestApp::spawn(Backend::Postgres).await?;
    Some((app, redis))
}

/// Changes a name straight in the database, behind every instance's back.
async fn rename_in_database(app: &TestApp, patient_key: i64, name: &str) {
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .expect("database");
    conn.batch_execute(&format!(
        "UPDATE patients SET name = '{name}' WHERE id = {patient_key}"
    ))
    .await
    .expect("update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_cache_and_see_each_others_writes() {
    let Some((app, redis)) = setup().await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", &namespace.prefix),
    ];
    let a = Server::start(&app.database_url, &env).await;
    let b = Server::start(&app.database_url, &env).await;
    let admin = app.token(Role::Admin).await;
    let id = json!({ "id": demo_patient(3) });

    let original = name(&a.ok(&admin, PATIENT, id.clone()).await);
    rename_in_database(&app, 3, "Changed Behind The Cache").await;
    assert_eq!(
        name(&b.ok(&admin, PATIENT, id.clone()).await),
        original,
        "B answers from the entry A put in the shared cache"
    );
    let metrics = b.text("/metrics").await;
    assert!(counter(&metrics, "cache_hits_total") >= 1.0, "{metrics}");

    let renamed = json!({ "id": demo_patient(3), "name": "Written Through B" });
    b.ok(&admin, RENAME, renamed).await;
    assert_eq!(
        name(&a.ok(&admin, PATIENT, id).await),
        "Written Through B",
        "B's write invalidated the entry for A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_succeeding_while_redis_is_down_or_slow() {
    let Some((app, redis)) = setup().await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let proxy = RedisProxy::start(&redis).await;
    let env = [
        ("REDIS_URL", proxy.url.as_str()),
        ("REDIS_PREFIX", &namespace.prefix),
    ];
    let server = Server::start(&app.database_url, &env).await;
    let admin = app.token(Role::Admin).await;
    let id = json!({ "id": demo_patient(4) });
    let before = name(&server.ok(&admin, PATIENT, id.clone()).await);
    let (status, ready) = server.get_json("/ready").await;
    assert_eq!(
        (status, &ready["checks"]["redis"]),
        (200, &json!("ok")),
        "{ready}"
    );

    proxy.cut();
    for _ in 0..5 {
        assert_eq!(name(&server.ok(&admin, PATIENT, id.clone()).await), before);
    }
    let (status, ready) = server.get_json("/ready").await;
    assert_eq!(status, 200, "the database still serves: {ready}");
    assert_eq!(ready["checks"]["redis"], "degraded", "{ready}");
    assert_eq!(ready["checks"]["events"], "degraded", "{ready}");
    assert_eq!(ready["status"], "degraded", "{ready}");
    // A write while Redis is away is seen at once, and not undone when Redis returns.
    let renamed = json!({ "id": demo_patient(4), "name": "Renamed During Outage" });
    server.ok(&admin, RENAME, renamed).await;
    assert_eq!(
        name(&server.ok(&admin, PATIENT, id.clone()).await),
        "Renamed During Outage"
    );

    proxy.stall();
    let started = Instant::now();
    for _ in 0..5 {
        server.ok(&admin, PATIENT, id.clone()).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a silent Redis costs at most its short timeout: {:?}",
        started.elapsed()
    );
    // A booking while Redis is silent is stored; the emails it queues wait on the job queue
    // (in Redis) at most a second each, and are then kept as FAILED jobs to retry.
    let doctor = &app.demo_doctor_ids().await[0];
    let booking = json!({ "i": { "patientId": demo_patient(4), "doctorId": doctor, "scheduledAt": at(40, 9, 0), "durationMinutes": 30 } });
    let started = Instant::now();
    let booked = server.ok(&admin, SCHEDULE, booking).await;
    assert_eq!(
        booked["scheduleAppointment"]["status"], "SCHEDULED",
        "{booked}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a silent job queue held the booking for {:?}",
        started.elapsed()
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, ready) = server.get_json("/ready").await;
        if ready["checks"]["redis"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "Redis not used again: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..3 {
        assert_eq!(
            name(&server.ok(&admin, PATIENT, id.clone()).await),
            "Renamed During Outage",
            "the entry cached before the outage was invalidated once Redis returned"
        );
    }
    // The outage was counted.
    let metrics = server.text("/metrics").await;
    assert!(
        counter(&metrics, "redis_failures_total") >= 1.0,
        "{metrics}"
    );
    assert!(counter(&metrics, "redis_skipped_total") >= 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_across_instances() {
    let Some((app, redis)) = setup().await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", &namespace.prefix),
        ("RATE_LIMIT_PER_MINUTE", "20"),
    ];
    let a = Server::start(&app.database_url, &env).await;
    let b = Server::start(&app.database_url, &env).await;
    let requests = (0..40).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        server.gql(None, "{ __typename }", json!({}))
    });
    let started = std::time::Instant::now();
    let answers = join_all(requests).await;
    // 20 a minute refills one request every 3 s: on a busy machine the burst can outlast that.
    let refilled = (started.elapsed().as_secs_f64() / 3.0).floor() as usize;
    let admitted = answers.iter().filter(|(status, ..)| *status == 200).count();
    assert!(
        (20..=20 + refilled).contains(&admitted),
        "the configured total, not twice it: {admitted} admitted, {refilled} refilled"
    );
    for (status, retry_after, body) in answers.iter().filter(|(s, ..)| *s != 200) {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        let seconds = body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .expect("retryAfter");
        assert!(seconds >= 1, "{body}");
        assert_eq!(retry_after.as_deref(), Some(seconds.to_string().as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_counted_across_instances_and_without_redis() {
    let Some((app, redis)) = setup().await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let proxy = RedisProxy::start(&redis).await;
    let env = [
        ("REDIS_URL", proxy.url.as_str()),
        ("REDIS_PREFIX", &namespace.prefix),
        ("LOGIN_PAIR_DELAY_AFTER", "3"),
        ("LOGIN_PAIR_LOCK_AFTER", "3"),
    ];
    let a = Server::start(&app.database_url, &env).await;
    let b = Server::start(&app.database_url, &env).await;
    let guess = json!({ "e": "admin@demo.clinic", "p": "guessed-password" });
    let mut codes = Vec::new();
    for server in [&a, &b, &a, &b] {
        let (status, retry_after, body) = server.gql(None, LOGIN, guess.clone()).await;
        let code = body["errors"][0]["extensions"]["code"].clone();
        if code == "RATE_LIMITED" {
            assert_eq!(status, 429, "{body}");
            assert!(retry_after.is_some(), "{body}");
        }
        codes.push(code);
    }
    assert_eq!(
        codes,
        [
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "RATE_LIMITED"
        ]
    );
    // An ADMIN's unlock on one instance lifts the lock on the other.
    let admin = app.token(Role::Admin).await;
    let admin_id = a.ok(&admin, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let unlock = "mutation($id: ID!) { unlockUser(id: $id) { id } }";
    a.ok(&admin, unlock, json!({ "id": admin_id })).await;
    let right = json!({ "e": "admin@demo.clinic", "p": DEMO_PASSWORD });
    let (_, _, body) = b.gql(None, LOGIN, right).await;
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");

    // Successes count nothing, on either instance.
    let right = json!({ "e": "nurse@demo.clinic", "p": DEMO_PASSWORD });
    for server in [&a, &b, &a, &b, &a, &b] {
        let (_, _, body) = server.gql(None, LOGIN, right.clone()).await;
        assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    }

    // Without Redis each instance counts on its own: never unlimited.
    proxy.cut();
    let other = json!({ "e": "doctor@demo.clinic", "p": "guessed-password" });
    let mut refused = false;
    for _ in 0..4 {
        let (_, _, body) = a.gql(None, LOGIN, other.clone()).await;
        refused |= body["errors"][0]["extensions"]["code"] == "RATE_LIMITED";
    }
    assert!(refused, "login stayed unlimited while Redis was down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_starts_and_serves_while_redis_is_away() {
    let Some((app, redis)) = setup().await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let proxy = RedisProxy::start(&redis).await;
    proxy.cut();
    let env = [
        ("REDIS_URL", proxy.url.as_str()),
        ("REDIS_PREFIX", &namespace.prefix),
    ];
    // A restart during a Redis outage must not take the instance down with it.
    let server = Server::start_until(&app.database_url, &env, "degraded").await;
    let admin = app.token(Role::Admin).await;
    let id = json!({ "id": demo_patient(4) });
    assert!(!name(&server.ok(&admin, PATIENT, id).await).is_empty());
    let doctor = &app.demo_doctor_ids().await[0];
    let booking = json!({ "i": { "patientId": demo_patient(4), "doctorId": doctor, "scheduledAt": at(41, 9, 0), "durationMinutes": 30 } });
    let booked = server.ok(&admin, SCHEDULE, booking).await;
    assert_eq!(
        booked["scheduleAppointment"]["status"], "SCHEDULED",
        "{booked}"
    );
    // A job asked for while the queue is away is kept, FAILED with the reason, for `retryJob`:
    // the request is answered, not turned into an internal error.
    let export = "mutation { exportPatients(format: CSV) { id status error } }";
    let refused = server.ok(&admin, export, json!({})).await["exportPatients"].clone();
    assert_eq!(refused["status"], "FAILED", "{refused}");
    assert_eq!(
        refused["error"], "the job queue did not accept the job",
        "{refused}"
    );
    // Longer than one reconnection tries for: the workers' queue fails meanwhile, and they must
    // still take jobs once Redis is back.
    tokio::time::sleep(Duration::from_secs(8)).await;

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, ready) = server.get_json("/ready").await;
        if ready["status"] == "ready" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Redis not used once back: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The instance's workers, which started without Redis, take jobs once it is back: a new
    // one, and the refused one once retried.
    let fresh = server.ok(&admin, export, json!({})).await["exportPatients"]["id"].clone();
    let retry = "mutation($id: ID!) { retryJob(id: $id) { id status } }";
    let retried = server
        .ok(&admin, retry, json!({ "id": refused["id"] }))
        .await;
    let status = retried["retryJob"]["status"].as_str();
    assert!(
        matches!(status, Some("QUEUED" | "RUNNING" | "SUCCEEDED")),
        "{retried}"
    );
    for job in [fresh, refused["id"].clone()] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status =
                server.ok(&admin, JOB, json!({ "id": job })).await["job"]["status"].clone();
            if status == "SUCCEEDED" {
                break;
            }
            assert!(Instant::now() < deadline, "the job was never run: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A session ended on one instance is refused by the others within 2 s, with Redis and
/// without it (the database is the truth every instance reads), and so is a session whose
/// account was disabled; a refresh token rotated on one instance is spent on all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_refused_on_every_instance_within_two_seconds() {
    let Some((app, redis)) = setup().await else {
        return;
    };
    let namespace = Namespace::new(&redis);
    let grace = ("REFRESH_REUSE_GRACE_SECONDS", "1");
    let with_redis = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_PREFIX", namespace.prefix.as_str()),
        grace,
    ];
    let without = [grace];
    let a = Server::start(&app.database_url, &with_redis).await;
    let b = Server::start(&app.database_url, &with_redis).await;
    let c = Server::start(&app.database_url, &without).await;
    let me = "{ me { email } }";
    let refused_everywhere = async |token: &str| {
        let started = Instant::now();
        for server in [&b, &c] {
            loop {
                let (_, _, body) = server.gql(Some(token), me, json!({})).await;
                if body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
                    break;
                }
                assert_eq!(body["data"]["me"]["email"], "nurse@demo.clinic", "{body}");
                assert!(
                    started.elapsed() < Duration::from_secs(2),
                    "still accepted after 2 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }";
    let nurse = json!({ "e": "nurse@demo.clinic", "p": DEMO_PASSWORD });
    let anonymous = async |server: &Server, query: &str, variables: Value| {
        let (status, _, body) = server.gql(None, query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    };

    let session = anonymous(&a, login, nurse.clone()).await["login"].clone();
    let token = session["accessToken"].as_str().expect("token");
    for server in [&b, &c] {
        server.ok(token, me, json!({})).await;
    }
    a.ok(token, "mutation { logout { id } }", json!({})).await;
    refused_everywhere(token).await;

    // A refresh on B spends the token on C: used there after the grace window, it ends the
    // session.
    let session = anonymous(&a, login, nurse.clone()).await["login"].clone();
    let refresh = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }";
    let spent = json!({ "t": session["refreshToken"] });
    let renewed = anonymous(&b, refresh, spent.clone()).await["refreshSession"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (_, _, body) = c.gql(None, refresh, spent).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INVALID_REFRESH_TOKEN",
        "{body}"
    );
    refused_everywhere(&renewed).await;

    // An account disabled by the operator's command.
    let session = anonymous(&a, login, nurse).await["login"].clone();
    let token = session["accessToken"].as_str().expect("token");
    app.services
        .auth
        .set_disabled("nurse@demo.clinic", true)
        .await
        .expect("disabled");
    refused_everywhere(token).await;
}
