//! Real server processes on one database (and one Redis), as behind a load balancer.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{DATA_KEYS, JWT_SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_clinicgraph");

/// `TEST_REDIS_URL`, or `None` (with a note) when it is not set; `.ci/run` always sets it.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        super::skipped("TEST_REDIS_URL is not set");
    }
    url
}

/// A key namespace of its own in the test Redis, so parallel tests never meet; its keys are
/// deleted when it is dropped.
pub struct Namespace {
    pub prefix: String,
    redis_url: String,
}

impl Namespace {
    pub fn new(redis_url: &str) -> Namespace {
        Namespace {
            prefix: format!("cgtest-{}", uuid::Uuid::new_v4().simple()),
            redis_url: redis_url.to_owned(),
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let Ok(mut conn) =
            redis::Client::open(self.redis_url.as_str()).and_then(|client| client.get_connection())
        else {
            return;
        };
        // The cache's keys, and the job queue's (`<prefix>_jobs:…`).
        let mut keys: Vec<String> = Vec::new();
        for pattern in [
            format!("{}:*", self.prefix),
            format!("{}_jobs*", self.prefix),
        ] {
            let found: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query(&mut conn)
                .unwrap_or_default();
            keys.extend(found);
        }
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

/// `clinicgraph` with the test environment; `env` is applied last, so it wins.
fn command(database_url: &str, env: &[(&str, &str)], dir: &tempfile::TempDir) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("APP_ENV", "test")
        .env("DATABASE_URL", database_url)
        .env("MIGRATE_ON_START", "false")
        .env("JWT_SECRET", JWT_SECRET)
        .env("DATA_KEYS", DATA_KEYS)
        .env("JOBS_QUEUE_PATH", dir.path().join("jobs.db"))
        .env("BACKUP_DIR", dir.path().join("backups"))
        .env("EXPORT_DIR", dir.path().join("exports"))
        .env("FILES_DIR", dir.path().join("files"))
        .env("OUTBOX_DIR", dir.path().join("outbox"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    // Files in a bucket: the local folder is not set beside it (the two are exclusive).
    if env.iter().any(|(name, _)| *name == "FILES_URL") {
        command.env_remove("FILES_DIR");
    }
    command
}

/// Runs `clinicgraph <args>` (such as `migrate`) with the test environment to its end.
pub fn run(database_url: &str, env: &[(&str, &str)], args: &[&str]) -> std::process::ExitStatus {
    let dir = tempfile::tempdir().expect("temp dir");
    command(database_url, env, &dir)
        .args(args)
        .status()
        .expect("run clinicgraph")
}

/// A `clinicgraph worker` process, killed when dropped.
pub struct Worker {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Worker {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it as an orchestrator would (SIGTERM) and waits until it has exited.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        terminate(&mut self.child).await
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM and waits (at most 30 s) for the process to exit.
async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(terminated.success(), "SIGTERM not delivered");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait for clinicgraph") {
            return status;
        }
        assert!(Instant::now() < deadline, "clinicgraph did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `clinicgraph serve` process, killed when dropped.
pub struct Server {
    child: Child,
    /// The job queue file and backups of this process.
    _dir: tempfile::TempDir,
    pub base: String,
    client: reqwest::Client,
}

impl Server {
    /// Starts a server on a free port and waits until `/ready` says it is fully ready (with
    /// Redis: relaying events too).
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Server {
        Self::start_until(database_url, env, "ready").await
    }

    /// Like [`Server::start`], waiting until `/ready` reports `status` (`degraded`: serving
    /// without Redis).
    pub async fn start_until(database_url: &str, env: &[(&str, &str)], status: &str) -> Server {
        Self::start_unset(database_url, env, &[], status).await
    }

    /// Like [`Server::start_until`], without the test environment's variables `unset` (such as
    /// `JWT_SECRET`).
    pub async fn start_unset(
        database_url: &str,
        env: &[(&str, &str)],
        unset: &[&str],
        status: &str,
    ) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = command(database_url, env, &dir);
        command.env("BIND_ADDR", format!("127.0.0.1:{port}"));
        for name in unset {
            command.env_remove(name);
        }
        let child = command.arg("serve").spawn().expect("start clinicgraph");
        // reqwest is built with rustls and no default crypto provider (see Cargo.toml).
        clinicgraph::telemetry::install_crypto_provider();
        let server = Server {
            child,
            _dir: dir,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(ready) = server.client.get(server.url("/ready")).send().await
                && let Ok(body) = ready.json::<Value>().await
                && body["status"] == status
            {
                return server;
            }
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server as an orchestrator would (SIGTERM) and waits until it has exited.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        terminate(&mut self.child).await
    }

    /// Starts `clinicgraph worker` (no HTTP) with the same environment rules.
    pub fn start_worker(database_url: &str, env: &[(&str, &str)]) -> Worker {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = command(database_url, env, &dir)
            .arg("worker")
            .spawn()
            .expect("start clinicgraph worker");
        Worker { child, _dir: dir }
    }

    /// The client that the helpers use, for requests they do not cover.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self) -> String {
        format!("{}/graphql/ws", self.base.replacen("http", "ws", 1))
    }

    /// Runs one operation; returns the HTTP status, the `Retry-After` header and the body.
    pub async fn gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Option<String>, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("server answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            status,
            retry_after,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// An access token of the demo account `email` (demo password).
    pub async fn login(&self, email: &str) -> String {
        let (status, _, body) = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                serde_json::json!({ "e": email, "p": clinicgraph::seed::DEMO_PASSWORD }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body}"))
            .to_owned()
    }

    /// Runs one operation that must succeed; returns `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, _, body) = self.gql(Some(token), query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn text(&self, path: &str) -> String {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("answer");
        response.text().await.expect("text")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
