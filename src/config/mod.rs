//! Configuration from the environment (and `.env`), checked all at once before anything starts:
//! one message lists every bad variable.
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::core::sealing::DataKeys;
use rand::Rng;
use secrecy::SecretString;

mod data_keys;
mod dev_secret;
mod execution;
mod files;
mod jobs;
mod limits;
mod mail;
mod observability;
mod shared_state;
mod websocket;

pub use execution::GraphqlExecution;
pub use files::{FilesConfig, FilesLocation, S3Settings};
pub use jobs::JobsConfig;
pub use limits::{CorsOrigins, GraphqlLimits};
pub use mail::MailConfig;
pub use observability::ObservabilityConfig;
pub use shared_state::{LoginLimits, RateLimits, SharedStateConfig};
pub use websocket::WebSocketLimits;

/// Where the service runs; decides the defaults that are safe there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl AppEnv {
    /// As written in `APP_ENV`, for reports that name the deployment.
    pub fn name(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Test => "test",
            AppEnv::Production => "production",
        }
    }
}

impl FromStr for AppEnv {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "development" | "dev" => Ok(AppEnv::Development),
            "test" => Ok(AppEnv::Test),
            "production" | "prod" => Ok(AppEnv::Production),
            _ => Err("must be development, test or production".into()),
        }
    }
}

/// The database to use, chosen by the scheme of `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
    /// MySQL 8 or MariaDB 10.11 and later.
    Mysql(String),
}

impl DatabaseUrl {
    /// The folder of the process's own files by default: beside the embedded database, so one
    /// folder holds the whole state; `data` with PostgreSQL.
    pub fn data_dir(&self) -> PathBuf {
        match self {
            DatabaseUrl::Sqlite(path) => path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            DatabaseUrl::Postgres(_) | DatabaseUrl::Mysql(_) => PathBuf::from("data"),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    // A server's URL may carry a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(_) => f.write_str("Postgres(<redacted>)"),
            DatabaseUrl::Mysql(_) => f.write_str("Mysql(<redacted>)"),
            DatabaseUrl::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" {
                Err("sqlite needs a file path (sqlite://path/to/file.db)".into())
            } else {
                Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
            }
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            // mysql_async knows the one scheme.
            Ok(DatabaseUrl::Mysql(url.replacen(
                "mariadb://",
                "mysql://",
                1,
            )))
        } else {
            Err(
                "must start with postgres://, postgresql://, mysql://, mariadb:// or sqlite://"
                    .into(),
            )
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("must be pretty or json".into()),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: AppEnv,
    pub database_url: DatabaseUrl,
    pub db_pool_size: u32,
    /// Threads that run requests; unset, one per core.
    pub worker_threads: Option<usize>,
    pub migrate_on_start: bool,
    pub shared: SharedStateConfig,
    pub limits: GraphqlLimits,
    pub graphql_execution: GraphqlExecution,
    /// Subscription sockets: init timeout, keepalive and caps.
    pub websocket: WebSocketLimits,
    pub cors_origins: CorsOrigins,
    /// Serve `/metrics` on this address only, apart from the API.
    pub metrics_addr: Option<SocketAddr>,
    /// Serve `/metrics` on `bind_addr` beside the API: never with `metrics_addr`, and in
    /// production only when `METRICS_ON_API_PORT` asks for it (the counts it shows, such as
    /// failed logins and queue depth, are not for the public).
    pub metrics_on_api_port: bool,
    /// Only these documents (hash → document) may run, when set.
    pub persisted_allow_list: Option<Arc<HashMap<String, String>>>,
    pub auth: AuthConfig,
    pub bind_addr: SocketAddr,
    pub log_format: LogFormat,
    pub graphiql: bool,
    pub observability: ObservabilityConfig,
    pub jobs: JobsConfig,
    /// Patients' photos and documents.
    pub files: FilesConfig,
    /// The keys of health data at rest; `None` until [`Config::keep_development_keys`] when
    /// none were configured (development and tests only: production requires them).
    pub data_keys: Option<Arc<DataKeys>>,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: SecretString,
    /// True when no secret was configured (development only) and a random one was made;
    /// `serve` then uses the one kept in the data folder ([`Config::keep_development_secret`]).
    pub jwt_secret_generated: bool,
    pub token_ttl: Duration,
    pub sessions: SessionSettings,
}

/// How long sessions last and how their refresh tokens travel.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// From login to the session's absolute end, however active it is.
    pub lifetime: Duration,
    /// A session not refreshed for this long has ended.
    pub idle: Duration,
    /// How long after a rotation the replaced refresh token gets the same answer again (a
    /// client that lost the answer retries); any later use ends the session.
    pub reuse_grace: Duration,
    /// Whether the refresh cookie is `Secure` (off only in development, for plain-HTTP
    /// development servers).
    pub cookie_secure: bool,
}

const MIN_SECRET_BYTES: usize = 32;

/// Every configuration problem found, printed together.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads variables through `lookup` and remembers every problem.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn parsed<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => default,
            Some(value) => match value.trim().parse() {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.problems.push(format!("{name}: {e}"));
                    default
                }
            },
        }
    }

    fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
            Some(_) => {
                self.problems.push(format!("{name}: must be true or false"));
                default
            }
        }
    }
}

impl Config {
    /// Loads `.env` when present, then reads the process environment.
    pub fn from_env() -> Result<Config, ConfigErrors> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let mut r = Reader {
            lookup,
            problems: Vec::new(),
        };
        let env = r.parsed("APP_ENV", AppEnv::Development);
        let production = env == AppEnv::Production;

        let database_url = match r.raw("DATABASE_URL") {
            Some(url) => url.parse().unwrap_or_else(|e| {
                r.problems.push(format!("DATABASE_URL: {e}"));
                DatabaseUrl::Sqlite(PathBuf::new())
            }),
            None if production => {
                r.problems
                    .push("DATABASE_URL: required in production".into());
                DatabaseUrl::Sqlite(PathBuf::new())
            }
            None => DatabaseUrl::Sqlite(PathBuf::from("data/clinicgraph.db")),
        };
        let db_pool_size = r.parsed("DB_POOL_SIZE", 10_u32);
        if db_pool_size == 0 {
            r.problems.push("DB_POOL_SIZE: must be at least 1".into());
        }
        let worker_threads = r
            .raw("WORKER_THREADS")
            .map(|_| r.parsed("WORKER_THREADS", 1_usize));
        if worker_threads == Some(0) {
            r.problems.push("WORKER_THREADS: must be at least 1".into());
        }
        let migrate_on_start = r.flag("MIGRATE_ON_START", true);
        let shared = shared_state::read(&mut r);
        let limits = limits::read(&mut r, production);
        let graphql_execution = r.parsed("GRAPHQL_EXECUTION", GraphqlExecution::Eager);
        let websocket = websocket::read(&mut r);
        let cors_origins = limits::read_cors(&mut r);
        let metrics_addr = r
            .raw("METRICS_ADDR")
            .map(|_| r.parsed("METRICS_ADDR", SocketAddr::from(([127, 0, 0, 1], 9090))));
        let metrics_on_api_port =
            r.flag("METRICS_ON_API_PORT", !production) && metrics_addr.is_none();
        let persisted_allow_list = limits::read_allow_list(&mut r).map(Arc::new);

        let (jwt_secret, jwt_secret_generated) = match r.raw("JWT_SECRET") {
            Some(secret) => {
                if secret.len() < MIN_SECRET_BYTES {
                    r.problems.push(format!(
                        "JWT_SECRET: must be at least {MIN_SECRET_BYTES} bytes"
                    ));
                }
                (SecretString::from(secret), false)
            }
            None if production => {
                r.problems.push(format!(
                    "JWT_SECRET: required in production (at least {MIN_SECRET_BYTES} bytes)"
                ));
                (SecretString::from(String::new()), false)
            }
            None => (SecretString::from(random_secret()), true),
        };
        let ttl_seconds = r.parsed("JWT_TTL_SECONDS", 900_u64);
        if !(60..=86_400).contains(&ttl_seconds) {
            r.problems
                .push("JWT_TTL_SECONDS: must be between 60 and 86400".into());
        }

        let lifetime = r.parsed("SESSION_LIFETIME_SECONDS", 30 * 86_400_u64);
        if !(3_600..=366 * 86_400).contains(&lifetime) {
            r.problems.push(
                "SESSION_LIFETIME_SECONDS: must be between 3600 (an hour) and 31622400 (a year)"
                    .into(),
            );
        }
        let idle = r.parsed("SESSION_IDLE_SECONDS", 12 * 3_600_u64);
        if idle < ttl_seconds || idle > lifetime {
            r.problems.push(
                "SESSION_IDLE_SECONDS: must be at least JWT_TTL_SECONDS (a client refreshes once \
                 per access token) and at most SESSION_LIFETIME_SECONDS"
                    .into(),
            );
        }
        let reuse_grace = r.parsed("REFRESH_REUSE_GRACE_SECONDS", 10_u64);
        if reuse_grace > 60 {
            r.problems
                .push("REFRESH_REUSE_GRACE_SECONDS: must be between 0 and 60".into());
        }
        let cookie_secure = r.flag("SESSION_COOKIE_SECURE", true);
        if env != AppEnv::Development && !cookie_secure {
            r.problems.push(
                "SESSION_COOKIE_SECURE: may be false only in development (the refresh cookie \
                 would travel over plain HTTP)"
                    .into(),
            );
        }

        let bind_addr = r.parsed("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)));
        let log_format = r.parsed(
            "LOG_FORMAT",
            if production {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            },
        );
        let graphiql = r.flag("GRAPHIQL", !production);
        let observability = observability::read(&mut r);
        let jobs = jobs::read(&mut r, production, &database_url);
        let data_keys = data_keys::read(&mut r, production);
        let files = files::read(&mut r, &database_url);

        if !r.problems.is_empty() {
            return Err(ConfigErrors(r.problems));
        }
        Ok(Config {
            env,
            database_url,
            db_pool_size,
            worker_threads,
            migrate_on_start,
            shared,
            limits,
            graphql_execution,
            websocket,
            cors_origins,
            metrics_addr,
            metrics_on_api_port,
            persisted_allow_list,
            auth: AuthConfig {
                jwt_secret,
                jwt_secret_generated,
                token_ttl: Duration::from_secs(ttl_seconds),
                sessions: SessionSettings {
                    lifetime: Duration::from_secs(lifetime),
                    idle: Duration::from_secs(idle),
                    reuse_grace: Duration::from_secs(reuse_grace),
                    cookie_secure,
                },
            },
            bind_addr,
            log_format,
            graphiql,
            observability,
            jobs,
            files,
            data_keys,
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == AppEnv::Production
    }

    /// Without a configured `JWT_SECRET` (development only), signs tokens with the secret kept
    /// in the data folder, made there on first use, so a token outlives a restart. Returns the
    /// file's path when it did.
    pub fn keep_development_secret(&mut self) -> anyhow::Result<Option<PathBuf>> {
        if !self.auth.jwt_secret_generated || self.is_production() {
            return Ok(None);
        }
        let path = self.database_url.data_dir().join(dev_secret::FILE_NAME);
        self.auth.jwt_secret = dev_secret::load_or_create(&path, random_secret)?;
        Ok(Some(path))
    }
}

impl Config {
    /// Without configured data keys (development and tests), uses the keyring kept in the data
    /// folder, made there on first use. Returns the file's path when it made it.
    pub fn keep_development_keys(&mut self) -> anyhow::Result<Option<PathBuf>> {
        if self.data_keys.is_some() {
            return Ok(None);
        }
        anyhow::ensure!(!self.is_production(), "DATA_KEYS: required in production");
        let path = data_keys::path_in(&self.database_url.data_dir());
        let (keys, made) = data_keys::load_or_create(&path)?;
        self.data_keys = Some(keys);
        Ok(made.then_some(path))
    }

    /// The keyring of health data at rest.
    pub fn data_keys(&self) -> anyhow::Result<Arc<DataKeys>> {
        self.data_keys.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "no data keys: set DATA_KEYS (development keeps one in the data folder)"
            )
        })
    }
}

fn random_secret() -> String {
    let mut rng = rand::thread_rng();
    (0..48)
        .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
        .collect()
}

#[cfg(test)]
mod tests;
