//! Login, tokens and `me`.
use axum::http::StatusCode;
use clinicgraph::core::auth::Role;
use clinicgraph::seed::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::server::Server;
use crate::helpers::{JWT_SECRET, TestApp};
use crate::on_every_backend;

async fn every_demo_account_logs_in_and_sees_itself(app: TestApp) {
    for (email, name, role) in DEMO_ACCOUNTS {
        let response = app.login(email, DEMO_PASSWORD).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        let login = &response.body["data"]["login"];
        assert_eq!(login["user"]["email"], email);
        assert_eq!(login["user"]["role"], role.as_str());
        let token = login["accessToken"].as_str().expect("token");
        let me = app.ok(token, "{ me { email name role } }", json!({})).await;
        assert_eq!(
            me["me"],
            json!({ "email": email, "name": name, "role": role.as_str() })
        );
    }
}

async fn unknown_email_and_wrong_password_fail_alike(app: TestApp) {
    let wrong_password = app.login("admin@demo.clinic", "not-the-password").await;
    let unknown_email = app.login("nobody@demo.clinic", DEMO_PASSWORD).await;
    for response in [&wrong_password, &unknown_email] {
        assert_eq!(
            response.code(),
            Some("INVALID_CREDENTIALS"),
            "{}",
            response.text
        );
        assert!(response.body["data"].is_null());
    }
    assert_eq!(
        wrong_password.body["errors"][0]["message"],
        unknown_email.body["errors"][0]["message"]
    );
}

async fn login_is_case_insensitive_on_email(app: TestApp) {
    let response = app.login("  Admin@Demo.Clinic ", DEMO_PASSWORD).await;
    assert!(
        response.body["data"]["login"]["accessToken"].is_string(),
        "{}",
        response.text
    );
}

async fn everything_but_login_needs_a_token(app: TestApp) {
    for query in [
        "{ me { id } }",
        "{ patients { totalCount } }",
        "{ patientByPatientId(patientId: \"PAT-000001\") { id } }",
    ] {
        let response = app.gql(None, query, json!({})).await;
        assert_eq!(
            response.code(),
            Some("UNAUTHENTICATED"),
            "{query}: {}",
            response.text
        );
    }
    let response = app
        .gql(
            None,
            "mutation { createPatient(input: {name: \"A\", email: \"a@b.co\", phone: \"5551234567\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("UNAUTHENTICATED"),
        "{}",
        response.text
    );
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    exp: i64,
    iat: i64,
    role: &'a str,
    clinic: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    sid: i64,
}

/// The user and the session of a real login, for forged tokens: a token's session must stand,
/// so each forgery below fails for its own reason only.
#[derive(Clone, Copy)]
struct Signer<'a> {
    sub: &'a str,
    sid: i64,
}

fn forge(signer: Signer<'_>, secret: &str, aud: &str, exp_offset: i64) -> String {
    forge_times(signer, secret, aud, -10, exp_offset, None)
}

/// A token with `iat`, `exp` and (if given) `nbf` that many seconds from now.
fn forge_times(
    signer: Signer<'_>,
    secret: &str,
    aud: &str,
    iat: i64,
    exp: i64,
    nbf: Option<i64>,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: "clinicgraph",
        aud,
        sub: signer.sub,
        sid: signer.sid,
        exp: now + exp,
        iat: now + iat,
        role: "ADMIN",
        clinic: 1,
        nbf: nbf.map(|offset| now + offset),
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

async fn bad_tokens_are_unauthenticated(app: TestApp) {
    let valid = app.token(Role::Admin).await;
    let (head, rest) = valid.split_once('.').expect("jwt");
    let (payload, _) = rest.split_once('.').expect("jwt");
    let claims: Value = {
        use base64::Engine;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64");
        serde_json::from_slice(&json).expect("claims")
    };
    let sub = claims["sub"].as_str().expect("sub").to_owned();
    let signer = Signer {
        sub: &sub,
        sid: claims["sid"].as_i64().expect("sid"),
    };
    // alg "none" with an empty signature.
    let none_header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{payload}.");
    let bad_signature = format!("{head}.{payload}.c2lnbmF0dXJl");
    let cases = [
        ("bad signature", bad_signature),
        ("alg none", alg_none),
        (
            "other secret",
            forge(
                signer,
                "a-different-secret-0123456789abcdefgh",
                "clinicgraph-api",
                600,
            ),
        ),
        (
            "expired",
            forge(signer, JWT_SECRET, "clinicgraph-api", -600),
        ),
        (
            "wrong audience",
            forge(signer, JWT_SECRET, "someone-else", 600),
        ),
        // Signed with the right key, but no token the service issues looks like these.
        (
            "valid for 100 years",
            forge(signer, JWT_SECRET, "clinicgraph-api", 100 * 365 * 86_400),
        ),
        (
            "issued in the future",
            forge_times(signer, JWT_SECRET, "clinicgraph-api", 3_600, 3_900, None),
        ),
        (
            "not valid before an hour from now",
            forge_times(signer, JWT_SECRET, "clinicgraph-api", -10, 600, Some(3_600)),
        ),
        (
            "of a session that does not exist",
            forge(
                Signer {
                    sid: signer.sid + 1_000_000,
                    ..signer
                },
                JWT_SECRET,
                "clinicgraph-api",
                600,
            ),
        ),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (what, token) in cases {
        let response = app.gql(Some(&token), "{ me { id } }", json!({})).await;
        assert_eq!(
            response.code(),
            Some("UNAUTHENTICATED"),
            "{what}: {}",
            response.text
        );
    }
    // The right secret and audience is accepted, so the cases above fail for their reason only.
    let forged_ok = forge(signer, JWT_SECRET, "clinicgraph-api", 600);
    let response = app
        .gql(
            Some(&forged_ok),
            "{ patients(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(response.body.get("errors").is_none(), "{}", response.text);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

on_every_backend!(
    every_demo_account_logs_in_and_sees_itself,
    unknown_email_and_wrong_password_fail_alike,
    login_is_case_insensitive_on_email,
    everything_but_login_needs_a_token,
    bad_tokens_are_unauthenticated,
);

/// In development without `JWT_SECRET`, `serve` signs with a secret it keeps in the data
/// folder (beside the SQLite database), so a token from one run of the binary works in the
/// next. SQLite only: with PostgreSQL the data folder is `data` in the working directory,
/// which a test must not write to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_token_outlives_a_restart() {
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .expect("SQLite");
    let env = [("APP_ENV", "development"), ("RATE_LIMIT_PER_MINUTE", "0")];
    let start = || Server::start_unset(&app.database_url, &env, &["JWT_SECRET"], "ready");
    let first = start().await;
    let (_, _, body) = first
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": "admin@demo.clinic", "p": DEMO_PASSWORD }),
        )
        .await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login: {body}"))
        .to_owned();
    first.stop().await;
    let database = app.database_url.trim_start_matches("sqlite://");
    let kept = std::path::Path::new(database)
        .parent()
        .expect("data folder")
        .join("jwt-secret");
    assert!(kept.exists(), "{} was not written", kept.display());

    let second = start().await;
    let data = second.ok(&token, "{ me { email } }", json!({})).await;
    assert_eq!(data["me"]["email"], "admin@demo.clinic");
}
