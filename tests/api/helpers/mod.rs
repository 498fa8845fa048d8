//! The test harness: a fresh database per test, the real router, and GraphQL helpers.
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use clinicgraph::app::app_state;
use clinicgraph::config::Config;
use clinicgraph::core::auth::Role;
use clinicgraph::db::{DbPool, StatementCounter};
use clinicgraph::jobs::{JobContext, JobQueue};
use clinicgraph::modules::auth::service::NewAccount;
use clinicgraph::modules::clinic::model::NewClinic;
use clinicgraph::modules::registry::{Repositories, Services};
use clinicgraph::seed;
use clinicgraph::shared::Shared;
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

mod booking;
pub mod load;
pub mod raw_sql;
pub mod redis_proxy;
pub mod s3;
pub mod server;
pub mod sink;
pub mod smtp;
pub mod socket;
pub mod subscriber;
pub mod table_rows;
pub mod twins;
pub use booking::{at, demo_patient};

pub const JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";
/// The keyring of the tests' servers (`DATA_KEYS`): one key, `test-1`.
pub const DATA_KEYS: &str = "*test-1:dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// The backend of a test database's URL.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("sqlite://") {
            Backend::Sqlite
        } else if url.starts_with("mysql://") {
            Backend::Mysql
        } else {
            Backend::Postgres
        }
    }
}

/// A database that exists for one test.
pub enum TestDb {
    /// Deleted with its directory when dropped.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
    /// MySQL or MariaDB.
    Mysql {
        admin_url: String,
        name: String,
    },
}

/// Says, where it cannot be missed, that the running test did not run its case because
/// `why` (a server it needs is not configured), with how many have been skipped so far: the
/// test harness would count it as passed. `.ci/run` configures every server, and a configured
/// server that does not answer fails its tests instead.
pub fn skipped(why: &str) {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SKIPPED: AtomicUsize = AtomicUsize::new(0);
    let count = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // Straight to the process's stderr: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED ({count} so far): {test}: {why}");
}

impl TestDb {
    /// An empty database of its own, and its URL; `None` when the backend is not configured
    /// (PostgreSQL without `TEST_DATABASE_URL`, MySQL without `TEST_MYSQL_URL`).
    pub async fn create(backend: Backend) -> Option<(TestDb, String)> {
        Some(match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                (TestDb::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
                    skipped("TEST_DATABASE_URL is not set");
                    return None;
                };
                let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = AsyncPgConnection::establish(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL must reach PostgreSQL");
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                let url = server_url_for(&admin_url, &name);
                (TestDb::Postgres { admin_url, name }, url)
            }
            Backend::Mysql => {
                let Ok(admin_url) = std::env::var("TEST_MYSQL_URL") else {
                    skipped("TEST_MYSQL_URL is not set");
                    return None;
                };
                let name = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = AsyncMysqlConnection::establish(&admin_url)
                    .await
                    .expect("TEST_MYSQL_URL must reach MySQL/MariaDB");
                admin
                    .batch_execute(&format!(
                        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    ))
                    .await
                    .expect("create test database");
                let url = server_url_for(&admin_url, &name);
                (TestDb::Mysql { admin_url, name }, url)
            }
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name, mysql) = match self {
            TestDb::Sqlite { .. } => return,
            TestDb::Postgres { admin_url, name } => (admin_url, name, false),
            TestDb::Mysql { admin_url, name } => (admin_url, name, true),
        };
        {
            let (admin_url, database) = (admin_url.clone(), name.clone());
            // Drop runs outside async code; a short-lived runtime on its own thread does the work.
            let outcome = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    if mysql {
                        let mut conn = AsyncMysqlConnection::establish(&admin_url).await?;
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS `{database}`"))
                            .await?;
                    } else {
                        let mut conn = AsyncPgConnection::establish(&admin_url).await?;
                        conn.batch_execute(&format!(
                            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                        ))
                        .await?;
                    }
                    Ok::<_, anyhow::Error>(())
                })
            })
            .join();
            if !matches!(outcome, Ok(Ok(()))) {
                eprintln!("could not drop test database {name}");
            }
        }
    }
}

/// The running application for one test, seeded with the demo data.
pub struct TestApp {
    pub router: Router,
    pub repos: Repositories,
    pub services: Services,
    /// Every SQL statement the app's pool has sent.
    pub statements: StatementCounter,
    /// The app's pool, for what only its own connections can tell (their prepared statements).
    pub pool: DbPool,
    /// The test database, for server processes started against it.
    pub database_url: String,
    /// The job queue file and the backup folder.
    pub jobs_dir: tempfile::TempDir,
    /// What the in-process workers run jobs with.
    pub job_context: JobContext,
    // Declared last: dropped after the pool inside `router` is gone.
    _db: TestDb,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
    /// The body as sent (compressed bodies are not text).
    pub bytes: Vec<u8>,
}

impl TestResponse {
    /// The `extensions.code` of the first error.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
}

/// `TEST_LOG=<filter>` (e.g. `clinicgraph=debug`) shows the servers' logs with each test's
/// output, which libtest prints for a failing test.
fn log_when_asked() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// `admin_url` with its database replaced by `database` (the URL forms of PostgreSQL and MySQL
/// agree on this).
fn server_url_for(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{database}{query}")
}

impl TestApp {
    /// A fresh app, or `None` when the backend is not configured (PostgreSQL without
    /// `TEST_DATABASE_URL`, MySQL without `TEST_MYSQL_URL`).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    /// Like [`TestApp::spawn`], with extra or overriding environment variables.
    pub async fn spawn_with(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
        log_when_asked();
        let (db, url) = TestDb::create(backend).await?;
        // The job queue and backups of this test, apart from every other test's.
        let jobs_dir = tempfile::tempdir().expect("temp dir");
        let mut vars: HashMap<&str, String> = HashMap::from([
            (
                "JOBS_QUEUE_PATH",
                jobs_dir.path().join("jobs.db").display().to_string(),
            ),
            (
                "BACKUP_DIR",
                jobs_dir.path().join("backups").display().to_string(),
            ),
            (
                "EXPORT_DIR",
                jobs_dir.path().join("exports").display().to_string(),
            ),
            (
                "FILES_DIR",
                jobs_dir.path().join("files").display().to_string(),
            ),
            (
                "OUTBOX_DIR",
                jobs_dir.path().join("outbox").display().to_string(),
            ),
            ("APP_ENV", "test".to_owned()),
            ("DATABASE_URL", url.clone()),
            ("JWT_SECRET", JWT_SECRET.to_owned()),
            ("DATA_KEYS", DATA_KEYS.to_owned()),
            ("DB_POOL_SIZE", "8".to_owned()),
            ("GRAPHIQL", "true".to_owned()),
            // Suites log in and query far more often than a person would; the limits have
            // their own tests, which set them.
            ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
            ("LOGIN_PAIR_DELAY_AFTER", "100000".to_owned()),
            ("LOGIN_PAIR_LOCK_AFTER", "100000".to_owned()),
            ("LOGIN_ACCOUNT_DELAY_AFTER", "100000".to_owned()),
            ("LOGIN_ADDRESS_FAILURE_LIMIT", "100000".to_owned()),
        ]);
        for (name, value) in overrides {
            vars.insert(name, (*value).to_owned());
        }
        // Files go to a bucket or to a folder, not both.
        if vars.contains_key("FILES_URL") {
            vars.remove("FILES_DIR");
        }
        let config = Config::from_lookup(&|name| vars.get(name).cloned()).expect("test config");
        let keys = config.data_keys().expect("data keys");
        clinicgraph::migrate::run(&config.database_url, &keys)
            .await
            .expect("migrations");
        let statements = StatementCounter::default();
        let pool = DbPool::connect_counted(
            &config.database_url,
            config.db_pool_size,
            Some(statements.clone()),
        )
        .await
        .expect("pool");
        let shared = Shared::from_config(&config).expect("shared state");
        let audit_pool = DbPool::connect(&config.database_url, clinicgraph::app::AUDIT_POOL_SIZE)
            .await
            .expect("audit pool");
        let session_pool =
            DbPool::connect(&config.database_url, clinicgraph::app::SESSION_POOL_SIZE)
                .await
                .expect("session pool");
        let repos = Repositories::cached(&pool, &shared.cache, &keys)
            .with_audit_pool(&audit_pool)
            .with_session_pool(&session_pool)
            .with_job_events(&shared.events);
        let queue = JobQueue::open(&config).await.expect("job queue");
        let services =
            Services::new(&config, &repos, &shared, Arc::new(queue.clone())).expect("services");
        // Workers run in this process, as `serve` runs them in development; they stop with the
        // test's runtime.
        let context = JobContext::new(&config, &pool, &services, Arc::new(queue.clone()))
            .expect("job context");
        tokio::spawn(clinicgraph::jobs::run_workers(
            queue,
            context.clone(),
            std::future::pending(),
        ));
        seed::demo(&services).await.expect("demo seed");
        let router =
            clinicgraph::http::router(app_state(&config, pool.clone(), &services, &shared));
        Some(TestApp {
            router,
            repos,
            services,
            statements,
            pool,
            database_url: url,
            jobs_dir,
            job_context: context,
            _db: db,
        })
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
            bytes: bytes.to_vec(),
        }
    }

    /// POSTs a JSON body to /graphql.
    pub async fn post(&self, token: Option<&str>, body: &Value) -> TestResponse {
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::from(body.to_string())).expect("request"))
            .await
    }

    /// Runs one operation and returns its data and how many SQL statements it sent.
    pub async fn counted(&self, token: &str, query: &str, variables: Value) -> (Value, u64) {
        let before = self.statements.get();
        let data = self.ok(token, query, variables).await;
        (data, self.statements.get() - before)
    }

    /// Runs each `(operation, variables)` as `token` and checks that it fails with `code`.
    pub async fn assert_each_fails(&self, token: &str, code: &str, cases: Vec<(&str, Value)>) {
        for (query, variables) in cases {
            let response = self.gql(Some(token), query, variables).await;
            assert_eq!(response.code(), Some(code), "{query}: {}", response.text);
        }
    }

    /// Runs one operation and returns the whole response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> TestResponse {
        self.post(token, &json!({ "query": query, "variables": variables }))
            .await
    }

    /// Runs one operation that must succeed; returns `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.gql(Some(token), query, variables).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "unexpected errors: {}",
            response.text
        );
        response.body["data"].clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken expiresAt user { id email role } } }",
            json!({ "e": email, "p": password }),
        )
        .await
    }

    /// A token for the demo account of `role`, issued by the service directly (for servers
    /// that refuse the `login` document, such as one with an allow-list).
    pub async fn token_without_http(&self, role: Role) -> String {
        let (email, ..) = seed::DEMO_ACCOUNTS
            .iter()
            .find(|(_, _, r)| *r == role)
            .expect("a demo account per role");
        let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
        self.services
            .auth
            .login(
                clinicgraph::modules::auth::service::Client {
                    ip: localhost,
                    user_agent: None,
                },
                email,
                seed::DEMO_PASSWORD,
                |_| {},
            )
            .await
            .expect("login")
            .access_token
    }

    /// A token for the demo account of `role`.
    pub async fn token(&self, role: Role) -> String {
        let (email, ..) = seed::DEMO_ACCOUNTS
            .iter()
            .find(|(_, _, r)| *r == role)
            .expect("a demo account per role");
        let response = self.login(email, seed::DEMO_PASSWORD).await;
        response.body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {}", response.text))
            .to_owned()
    }

    /// Another clinic with its own admin (`admin@other.clinic`), for tenancy tests.
    pub async fn other_clinic_admin(&self) -> String {
        let now = clinicgraph::db::now();
        let clinic = self
            .repos
            .clinics
            .insert(NewClinic {
                name: "Other Clinic".into(),
                timezone: "UTC".into(),
                address: None,
                phone: None,
                created_at: now,
                updated_at: now,
            })
            .await
            .expect("clinic");
        self.services
            .auth
            .create_account(NewAccount {
                clinic_id: clinic.id,
                email: "admin@other.clinic".into(),
                name: "Other Admin".into(),
                role: Role::Admin,
                password: seed::DEMO_PASSWORD.into(),
                patient_id: None,
            })
            .await
            .expect("other admin");
        let response = self.login("admin@other.clinic", seed::DEMO_PASSWORD).await;
        response.body["data"]["login"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a patient as `token` and returns its global id.
    pub async fn create_patient(&self, token: &str, input: Value) -> String {
        let data = self
            .ok(
                token,
                "mutation($input: CreatePatientInput!) { createPatient(input: $input) { id } }",
                json!({ "input": input }),
            )
            .await;
        data["createPatient"]["id"].as_str().expect("id").to_owned()
    }

    /// The demo clinic's key.
    pub async fn demo_clinic_id(&self) -> i64 {
        self.repos
            .clinics
            .find_by_name(seed::DEMO_CLINIC)
            .await
            .expect("query")
            .expect("demo clinic")
            .id
    }

    /// The global id of a demo doctor (for primaryDoctorId).
    pub async fn demo_doctor_ids(&self) -> Vec<String> {
        self.repos
            .doctors
            .list_ids(self.demo_clinic_id().await)
            .await
            .expect("doctors")
            .into_iter()
            .map(|id| clinicgraph::core::ids::encode(clinicgraph::core::ids::NodeType::Doctor, id))
            .collect()
    }
}

/// `text` percent-encoded for a query string (every byte but unreserved ASCII).
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A valid CreatePatientInput with the given email.
pub fn patient_input(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "email": email,
        "phone": "5551234567",
        "bloodGroup": "A_POS",
        "dateOfBirth": "1985-04-12",
    })
}

/// The `field`s of a VALIDATION_FAILED error.
pub fn violated_fields(response: &TestResponse) -> Vec<String> {
    response.body["errors"][0]["extensions"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Declares each listed `async fn name(app: TestApp)` as a test on SQLite, on PostgreSQL and
/// on MySQL/MariaDB, optionally with extra environment
/// (`on_every_backend!(env [("NAME", "value")]; name, …)`).
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $crate::on_every_backend!(env []; $($name),*);
    };
    (env $env:tt; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn_with(
                        $crate::helpers::Backend::Sqlite,
                        &$env,
                    )
                    .await
                    .expect("SQLite is always available");
                    super::$name(app).await;
                }
            )*
        }
        $crate::on_every_backend!(@server postgres, Postgres, $env; $($name),*);
        $crate::on_every_backend!(@server mysql, Mysql, $env; $($name),*);
    };
    (@server $module:ident, $backend:ident, $env:tt; $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn_with(
                        $crate::helpers::Backend::$backend,
                        &$env,
                    )
                    .await
                    {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
