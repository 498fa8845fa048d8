use super::*;
use std::collections::HashMap;

/// The configuration these variables make (observability's tests use it too).
pub(super) fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(&move |name| map.get(name).cloned())
}

#[test]
fn development_works_with_nothing_set() {
    let config = load(&[]).expect("defaults are valid");
    assert_eq!(config.env, AppEnv::Development);
    assert_eq!(
        config.database_url,
        DatabaseUrl::Sqlite("data/clinicgraph.db".into())
    );
    assert!(config.auth.jwt_secret_generated);
    assert!(config.graphiql);
    assert_eq!(config.auth.token_ttl, Duration::from_secs(900));
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = load(&[
        ("APP_ENV", "production"),
        ("BIND_ADDR", "nowhere"),
        ("DB_POOL_SIZE", "many"),
        ("LOG_FORMAT", "xml"),
        ("WORKER_THREADS", "0"),
    ])
    .unwrap_err();
    let text = errors.to_string();
    for name in [
        "DATABASE_URL",
        "JWT_SECRET",
        "BIND_ADDR",
        "DB_POOL_SIZE",
        "LOG_FORMAT",
        "WORKER_THREADS",
    ] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
}

#[test]
fn production_rejects_a_short_secret_and_defaults_graphiql_off() {
    let errors = load(&[
        ("APP_ENV", "production"),
        ("DATABASE_URL", "postgres://localhost/x"),
        ("JWT_SECRET", "short"),
    ])
    .unwrap_err();
    assert!(errors.to_string().contains("at least 32 bytes"));

    let config = load(&[
        ("APP_ENV", "production"),
        ("DATABASE_URL", "postgres://localhost/x"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("DATA_KEYS", DATA_KEYS),
    ])
    .expect("valid");
    assert!(!config.graphiql);
    assert_eq!(config.log_format, LogFormat::Json);
}

const DATA_KEYS: &str = "*k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn production_requires_the_data_keys_and_names_every_problem_with_them() {
    let production = [
        ("APP_ENV", "production"),
        ("DATABASE_URL", "postgres://localhost/x"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ];
    let missing = load(&production).unwrap_err().to_string();
    assert!(
        missing.contains("DATA_KEYS: required in production"),
        "{missing}"
    );

    let short = [production.as_slice(), &[("DATA_KEYS", "*k1:c2hvcnQ=")]].concat();
    let short = load(&short).unwrap_err().to_string();
    assert!(
        short.contains("DATA_KEYS: key \"k1\" must be 32 bytes"),
        "{short}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("keys");
    std::fs::write(&file, format!("{DATA_KEYS}\n")).expect("write");
    let path = file.display().to_string();
    let both = [
        production.as_slice(),
        &[("DATA_KEYS", DATA_KEYS), ("DATA_KEYS_FILE", path.as_str())],
    ]
    .concat();
    assert!(
        load(&both)
            .unwrap_err()
            .to_string()
            .contains("set one, not both")
    );
    let from_file = [production.as_slice(), &[("DATA_KEYS_FILE", path.as_str())]].concat();
    let config = load(&from_file).expect("valid");
    assert_eq!(config.data_keys().expect("keys").current_id(), "k1");
    // The configuration as logged names the key, never its material.
    let shown = format!("{config:?}");
    assert!(
        shown.contains("k1") && !shown.contains("AAECAwQF"),
        "{shown}"
    );

    // Development goes without: `keep_development_keys` makes one in the data folder.
    let mut config = load(&[(
        "DATABASE_URL",
        &format!("sqlite://{}", dir.path().join("dev.db").display()),
    )])
    .expect("valid");
    assert!(config.data_keys.is_none());
    let kept = config
        .keep_development_keys()
        .expect("made")
        .expect("a file");
    let first = config.data_keys().expect("keys");
    assert_eq!(kept, dir.path().join("data-keys"));
    let mut again = config.clone();
    again.data_keys = None;
    assert_eq!(
        again.keep_development_keys().expect("read"),
        None,
        "made once"
    );
    let second = again.data_keys().expect("keys");
    let sealed = first.seal(crate::core::sealing::fields::PATIENT_PHONE, 1, "5550100");
    assert_eq!(
        second
            .open(crate::core::sealing::fields::PATIENT_PHONE, 1, &sealed)
            .as_deref(),
        Ok("5550100")
    );
}

#[test]
fn database_urls_choose_the_backend() {
    assert!(matches!(
        "postgres://u@h/db".parse::<DatabaseUrl>(),
        Ok(DatabaseUrl::Postgres(_))
    ));
    assert!(matches!(
        "sqlite://x.db".parse::<DatabaseUrl>(),
        Ok(DatabaseUrl::Sqlite(_))
    ));
    assert!(matches!(
        "mysql://u@h/db".parse::<DatabaseUrl>(),
        Ok(DatabaseUrl::Mysql(_))
    ));
    assert!(matches!(
        "mariadb://u@h/db".parse::<DatabaseUrl>(),
        Ok(DatabaseUrl::Mysql(_))
    ));
    assert!("oracle://h/db".parse::<DatabaseUrl>().is_err());
    assert!("sqlite://:memory:".parse::<DatabaseUrl>().is_err());
}

#[test]
fn websocket_limits_have_defaults_and_are_checked() {
    let limits = load(&[]).expect("defaults are valid").websocket;
    assert_eq!(limits.init_timeout, Duration::from_secs(3));
    assert_eq!(limits.keepalive, Duration::from_secs(12));
    assert_eq!((limits.max_per_address, limits.max_total), (100, 10_000));

    let errors = load(&[
        ("WS_INIT_TIMEOUT_MS", "0"),
        ("WS_KEEPALIVE_MS", "soon"),
        ("WS_MAX_CONNECTIONS", "0"),
    ])
    .unwrap_err()
    .to_string();
    for name in [
        "WS_INIT_TIMEOUT_MS: must be between 100 and 60000",
        "WS_KEEPALIVE_MS",
        "WS_MAX_CONNECTIONS: must be at least 1",
        "WS_MAX_CONNECTIONS_PER_IP: must not be more than WS_MAX_CONNECTIONS",
    ] {
        assert!(errors.contains(name), "{name} missing from: {errors}");
    }
}

#[test]
fn graphql_execution_is_eager_unless_plain_is_asked_for() {
    let default = load(&[]).expect("defaults are valid");
    assert_eq!(default.graphql_execution, GraphqlExecution::Eager);
    let plain = load(&[("GRAPHQL_EXECUTION", "plain")]).expect("plain is valid");
    assert_eq!(plain.graphql_execution, GraphqlExecution::Plain);
    let errors = load(&[("GRAPHQL_EXECUTION", "fast")]).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("GRAPHQL_EXECUTION: must be eager or plain"),
        "{errors}"
    );
}

#[test]
fn login_failure_limits_have_defaults_are_checked_and_replace_the_old_setting() {
    let limits = load(&[]).expect("defaults are valid").shared.limits.login;
    assert_eq!(limits.window, Duration::from_secs(900));
    assert_eq!(
        (
            limits.pair_delay_after,
            limits.pair_lock_after,
            limits.account_delay_after,
            limits.address_failure_limit
        ),
        (5, 10, 20, 100)
    );

    let errors = load(&[
        ("LOGIN_FAILURE_WINDOW_SECONDS", "5"),
        ("LOGIN_PAIR_DELAY_AFTER", "6"),
        ("LOGIN_PAIR_LOCK_AFTER", "3"),
        ("LOGIN_ADDRESS_FAILURE_LIMIT", "0"),
        ("LOGIN_RATE_LIMIT_PER_MINUTE", "5"),
    ])
    .unwrap_err()
    .to_string();
    for name in [
        "LOGIN_FAILURE_WINDOW_SECONDS: must be between 60 and 86400",
        "LOGIN_PAIR_LOCK_AFTER: must not be below LOGIN_PAIR_DELAY_AFTER",
        "LOGIN_ADDRESS_FAILURE_LIMIT: must be at least 1",
        "LOGIN_RATE_LIMIT_PER_MINUTE: replaced by",
    ] {
        assert!(errors.contains(name), "{name} missing from: {errors}");
    }
}

#[test]
fn sessions_have_defaults_and_are_checked() {
    let sessions = load(&[]).expect("defaults are valid").auth.sessions;
    assert_eq!(sessions.lifetime, Duration::from_secs(30 * 86_400));
    assert_eq!(sessions.idle, Duration::from_secs(12 * 3_600));
    assert_eq!(sessions.reuse_grace, Duration::from_secs(10));
    assert!(sessions.cookie_secure);
    let development = load(&[("SESSION_COOKIE_SECURE", "false")]).expect("valid");
    assert!(!development.auth.sessions.cookie_secure);

    let errors = load(&[
        ("APP_ENV", "production"),
        ("DATABASE_URL", "postgres://localhost/x"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("SESSION_COOKIE_SECURE", "false"),
        ("SESSION_LIFETIME_SECONDS", "60"),
        ("SESSION_IDLE_SECONDS", "30"),
        ("REFRESH_REUSE_GRACE_SECONDS", "3600"),
    ])
    .unwrap_err()
    .to_string();
    for name in [
        "SESSION_COOKIE_SECURE: may be false only in development",
        "SESSION_LIFETIME_SECONDS: must be between",
        "SESSION_IDLE_SECONDS: must be at least JWT_TTL_SECONDS",
        "REFRESH_REUSE_GRACE_SECONDS: must be between 0 and 60",
    ] {
        assert!(errors.contains(name), "{name} missing from: {errors}");
    }
}
