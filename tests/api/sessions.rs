//! Sessions as clients meet them: a login starts one and sets the refresh cookie; a refresh
//! rotates the refresh token, a replaced token used again after its grace window ends the
//! session; logout, logoutEverywhere, revokeSession and changePassword end sessions at once;
//! a changed role or a disabled account takes effect within seconds; `POST /auth/refresh`
//! serves browsers from the cookie.
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::SET_COOKIE;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use clinicgraph::seed::DEMO_PASSWORD;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};
use crate::on_every_backend;

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken expiresAt refreshToken refreshExpiresAt session { id current ipAddress userAgent expiresAt idleExpiresAt } user { id email } } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken expiresAt refreshToken session { id } user { email } } }";
const ME: &str = "{ me { email role } }";
const MY_SESSIONS: &str = "{ mySessions { totalCount nodes { id current userAgent revokedAt } } }";
const REVOKE: &str = "mutation($id: ID!) { revokeSession(id: $id) { id revokedAt current } }";
const NURSE: &str = "nurse@demo.clinic";

/// A login as a browser sends it; the whole response (headers included).
async fn login_with_agent(app: &TestApp, email: &str, password: &str, agent: &str) -> TestResponse {
    let body = json!({ "query": LOGIN, "variables": { "e": email, "p": password } });
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("user-agent", agent)
        .body(Body::from(body.to_string()))
        .expect("request");
    app.send(request).await
}

/// `data.login` of a successful login.
async fn login(app: &TestApp, email: &str) -> Value {
    let response = login_with_agent(app, email, DEMO_PASSWORD, "tests/1.0").await;
    let login = response.body["data"]["login"].clone();
    assert!(login["accessToken"].is_string(), "{}", response.text);
    login
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
}

async fn refresh(app: &TestApp, token: &str) -> TestResponse {
    app.gql(None, REFRESH, json!({ "t": token })).await
}

/// Whether `token` is accepted (and the request otherwise fine), or refused as
/// UNAUTHENTICATED; anything else fails the test.
async fn accepted(app: &TestApp, token: &str) -> bool {
    let response = app.gql(Some(token), ME, json!({})).await;
    if response.body["data"]["me"]["email"].is_string() {
        return true;
    }
    assert_eq!(
        response.code(),
        Some("UNAUTHENTICATED"),
        "{}",
        response.text
    );
    false
}

/// Asks `check` until it holds, for at most `within`; how long it took.
async fn within<F: AsyncFn() -> bool>(within: Duration, check: F) -> Duration {
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "did not hold within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn set_cookies(response: &TestResponse) -> Vec<String> {
    response
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().expect("ASCII").to_owned())
        .collect()
}

async fn a_login_starts_a_session_and_sets_the_refresh_cookie(app: TestApp) {
    let response = login_with_agent(&app, NURSE, DEMO_PASSWORD, "Mozilla/5.0 (Ünïcode)").await;
    let login = &response.body["data"]["login"];
    let refresh_token = text(login, "refreshToken");
    assert!(refresh_token.starts_with("cgr1."), "{refresh_token}");
    assert_eq!(login["session"]["current"], true);
    assert_eq!(login["session"]["userAgent"], "Mozilla/5.0 (Ünïcode)");
    assert!(
        text(&login["session"], "ipAddress")
            .parse::<std::net::IpAddr>()
            .is_ok()
    );
    // The refresh token lives until the idle end, which is before the absolute end.
    assert_eq!(login["refreshExpiresAt"], login["session"]["idleExpiresAt"]);
    assert!(text(&login["session"], "idleExpiresAt") < text(&login["session"], "expiresAt"));

    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(
        cookie.starts_with(&format!("cg_refresh={refresh_token}; ")),
        "{cookie}"
    );
    for attribute in [
        "Path=/auth/refresh",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ] {
        assert!(
            cookie.split("; ").any(|part| part == attribute),
            "{attribute} missing: {cookie}"
        );
    }

    let access = text(login, "accessToken");
    let sessions = app.ok(access, MY_SESSIONS, json!({})).await;
    assert_eq!(sessions["mySessions"]["totalCount"], 1);
    assert_eq!(
        sessions["mySessions"]["nodes"][0],
        json!({ "id": login["session"]["id"], "current": true,
                "userAgent": "Mozilla/5.0 (Ünïcode)", "revokedAt": null })
    );
    // A wrong password starts nothing and sets no cookie.
    let refused = login_with_agent(&app, NURSE, "wrong password", "tests").await;
    assert_eq!(refused.code(), Some("INVALID_CREDENTIALS"));
    assert!(set_cookies(&refused).is_empty());
}

async fn a_refresh_rotates_and_a_replaced_token_used_late_ends_the_session(app: TestApp) {
    let first = login(&app, NURSE).await;
    let r1 = text(&first, "refreshToken");

    let response = refresh(&app, r1).await;
    let second = response.body["data"]["refreshSession"].clone();
    let (a2, r2) = (text(&second, "accessToken"), text(&second, "refreshToken"));
    assert_ne!(r2, r1);
    assert_eq!(second["session"]["id"], first["session"]["id"]);
    assert_eq!(second["user"]["email"], NURSE);
    assert!(accepted(&app, a2).await);
    assert!(set_cookies(&response)[0].starts_with(&format!("cg_refresh={r2};")));

    // Sent again at once (the client lost the answer): the same answer, and nothing ends.
    let retried = refresh(&app, r1).await;
    assert_eq!(
        retried.body["data"]["refreshSession"], second,
        "{}",
        retried.text
    );

    // Sent again after the grace window (1 s here): someone holds a copy; the session ends.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let reused = refresh(&app, r1).await;
    assert_eq!(
        reused.code(),
        Some("INVALID_REFRESH_TOKEN"),
        "{}",
        reused.text
    );
    assert!(
        set_cookies(&reused)[0].contains("Max-Age=0"),
        "the cookie is cleared"
    );
    let after = refresh(&app, r2).await;
    assert_eq!(
        after.code(),
        Some("INVALID_REFRESH_TOKEN"),
        "{}",
        after.text
    );
    assert!(
        !accepted(&app, a2).await,
        "the session's access token still works"
    );
    assert!(!accepted(&app, text(&first, "accessToken")).await);

    // Nothing else is a refresh token.
    let forged = format!("{}x", &r2[..r2.len() - 1]);
    for token in ["", "not-a-token", "cgr1.1.1.AAAA", forged.as_str()] {
        let refused = refresh(&app, token).await;
        assert_eq!(refused.code(), Some("INVALID_REFRESH_TOKEN"), "{token:?}");
    }
}

async fn concurrent_refreshes_with_one_token_get_one_answer(app: TestApp) {
    let login = login(&app, NURSE).await;
    let token = text(&login, "refreshToken").to_owned();
    let answers = futures_util::future::join_all((0..6).map(|_| refresh(&app, &token))).await;
    let tokens: std::collections::HashSet<String> = answers
        .iter()
        .map(|answer| text(&answer.body["data"]["refreshSession"], "refreshToken").to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let next = tokens.into_iter().next().expect("one");
    assert!(refresh(&app, &next).await.body["data"]["refreshSession"].is_object());
}

async fn logout_ends_this_session_only_and_clears_the_cookie(app: TestApp) {
    let mine = login(&app, NURSE).await;
    let other = login(&app, NURSE).await;
    let access = text(&mine, "accessToken");
    let response = app
        .gql(
            Some(access),
            "mutation { logout { id current revokedAt } }",
            json!({}),
        )
        .await;
    let ended = &response.body["data"]["logout"];
    assert_eq!(ended["id"], mine["session"]["id"], "{}", response.text);
    assert!(ended["revokedAt"].is_string());
    assert!(set_cookies(&response)[0].contains("Max-Age=0"));
    assert!(!accepted(&app, access).await);
    // Everything else that takes the token follows the session: an export's download too.
    let download = Request::get("/exports/1")
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .expect("request");
    let download = app.send(download).await;
    assert_eq!(
        download.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        download.text
    );
    let refused = refresh(&app, text(&mine, "refreshToken")).await;
    assert_eq!(refused.code(), Some("INVALID_REFRESH_TOKEN"));
    // The user's other session carries on.
    assert!(accepted(&app, text(&other, "accessToken")).await);
    assert!(
        refresh(&app, text(&other, "refreshToken")).await.body["data"]["refreshSession"]
            .is_object()
    );
}

async fn logout_everywhere_ends_every_session_of_the_user(app: TestApp) {
    let one = login(&app, NURSE).await;
    let two = login(&app, NURSE).await;
    let admin = app.token(Role::Admin).await;
    let data = app
        .ok(
            text(&one, "accessToken"),
            "mutation { logoutEverywhere }",
            json!({}),
        )
        .await;
    assert_eq!(data["logoutEverywhere"], 2);
    for session in [&one, &two] {
        assert!(!accepted(&app, text(session, "accessToken")).await);
        let refused = refresh(&app, text(session, "refreshToken")).await;
        assert_eq!(refused.code(), Some("INVALID_REFRESH_TOKEN"));
    }
    assert!(accepted(&app, &admin).await, "another user's session");
}

async fn sessions_are_seen_and_ended_by_their_user_and_their_clinics_admin(app: TestApp) {
    let here = login(&app, NURSE).await;
    let there = login(&app, NURSE).await;
    let nurse = text(&here, "accessToken");
    let nurse_id = here["user"]["id"].clone();
    let listed = app.ok(nurse, MY_SESSIONS, json!({})).await;
    assert_eq!(listed["mySessions"]["totalCount"], 2);
    let current: Vec<bool> = listed["mySessions"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["current"].as_bool().expect("current"))
        .collect();
    // Newest first: the other session, then this one.
    assert_eq!(current, [false, true]);

    // Another user of the clinic, and an ADMIN of another clinic, see none of them.
    let receptionist = app.token(Role::Receptionist).await;
    let stranger = app.other_clinic_admin().await;
    let theirs = json!({ "id": there["session"]["id"] });
    let of_nurse = "query($u: ID!) { userSessions(userId: $u) { totalCount } }";
    for outsider in [&receptionist, &stranger] {
        let refused = app.gql(Some(outsider), REVOKE, theirs.clone()).await;
        assert_eq!(refused.code(), Some("NOT_FOUND"), "{}", refused.text);
        let refused = app
            .gql(Some(outsider), of_nurse, json!({ "u": nurse_id }))
            .await;
        assert_eq!(refused.code(), Some("NOT_FOUND"), "{}", refused.text);
    }
    assert!(accepted(&app, text(&there, "accessToken")).await);

    // The user ends one of their own sessions.
    let revoked = app.ok(nurse, REVOKE, theirs).await;
    assert!(revoked["revokeSession"]["revokedAt"].is_string());
    assert!(!accepted(&app, text(&there, "accessToken")).await);

    // Their clinic's ADMIN sees and ends the remaining one.
    let admin = app.token(Role::Admin).await;
    let seen = app.ok(&admin, of_nurse, json!({ "u": nurse_id })).await;
    assert_eq!(seen["userSessions"]["totalCount"], 1);
    app.ok(&admin, REVOKE, json!({ "id": here["session"]["id"] }))
        .await;
    assert!(!accepted(&app, nurse).await);
    let none = app.ok(&admin, of_nurse, json!({ "u": nurse_id })).await;
    assert_eq!(none["userSessions"]["totalCount"], 0);

    // Both are in the audit trail, as the actors did them.
    app.services.audit_writer.flush().await;
    let events = "query { auditEvents(filter: { action: REVOKE_SESSION }, first: 10) { nodes { outcome entityIds actor { email } } } }";
    let trail = app.ok(&admin, events, json!({})).await;
    let nodes = &trail["auditEvents"]["nodes"];
    assert_eq!(
        nodes,
        &json!([
            { "outcome": "ALLOWED", "entityIds": [nurse_id], "actor": { "email": "admin@demo.clinic" } },
            { "outcome": "ALLOWED", "entityIds": [nurse_id], "actor": { "email": NURSE } },
            { "outcome": "DENIED", "entityIds": [], "actor": { "email": "reception@demo.clinic" } },
        ]),
        "{nodes}"
    );
}

async fn a_changed_password_ends_the_other_sessions(app: TestApp) {
    let mine = login(&app, NURSE).await;
    let other = login(&app, NURSE).await;
    let access = text(&mine, "accessToken");
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { email } }";
    let wrong = app
        .gql(
            Some(access),
            change,
            json!({ "c": "not my password", "n": "a brand new password" }),
        )
        .await;
    assert_eq!(wrong.code(), Some("INVALID_CREDENTIALS"), "{}", wrong.text);
    let short = app
        .gql(
            Some(access),
            change,
            json!({ "c": DEMO_PASSWORD, "n": "short" }),
        )
        .await;
    assert_eq!(short.code(), Some("VALIDATION_FAILED"), "{}", short.text);
    assert!(
        accepted(&app, text(&other, "accessToken")).await,
        "nothing changed yet"
    );

    let changed = app
        .ok(
            access,
            change,
            json!({ "c": DEMO_PASSWORD, "n": "a brand new password" }),
        )
        .await;
    assert_eq!(changed["changePassword"]["email"], NURSE);
    assert!(!accepted(&app, text(&other, "accessToken")).await);
    let refused = refresh(&app, text(&other, "refreshToken")).await;
    assert_eq!(refused.code(), Some("INVALID_REFRESH_TOKEN"));
    assert!(accepted(&app, access).await, "this session stays");
    let old = app.login(NURSE, DEMO_PASSWORD).await;
    assert_eq!(old.code(), Some("INVALID_CREDENTIALS"));
    let new = app.login(NURSE, "a brand new password").await;
    assert!(
        new.body["data"]["login"]["accessToken"].is_string(),
        "{}",
        new.text
    );
}

async fn a_changed_role_and_a_disabled_account_take_effect_within_seconds(app: TestApp) {
    let login = login(&app, NURSE).await;
    let token = text(&login, "accessToken").to_owned();
    // A NURSE reads prescriptions; a RECEPTIONIST does not.
    let prescriptions = "{ prescriptions(first: 1) { totalCount } }";
    let reads = async || {
        let response = app.gql(Some(&token), prescriptions, json!({})).await;
        match response.code() {
            None => true,
            Some("FORBIDDEN") => false,
            Some(other) => panic!("{other}: {}", response.text),
        }
    };
    assert!(reads().await);
    app.services
        .auth
        .set_role(NURSE, Role::Receptionist)
        .await
        .expect("role changed");
    // The same token, the new role's rights.
    within(Duration::from_secs(3), async || !reads().await).await;
    assert_eq!(
        app.ok(&token, ME, json!({})).await["me"]["role"],
        "RECEPTIONIST"
    );

    app.services
        .auth
        .set_disabled(NURSE, true)
        .await
        .expect("disabled");
    within(Duration::from_secs(3), async || {
        !accepted(&app, &token).await
    })
    .await;
    let refused = refresh(&app, text(&login, "refreshToken")).await;
    assert_eq!(refused.code(), Some("INVALID_REFRESH_TOKEN"));
}

/// `POST /auth/refresh` as a browser sends it.
async fn post_refresh(
    app: &TestApp,
    content_type: &str,
    cookie: Option<&str>,
    body: &str,
) -> TestResponse {
    let mut request = Request::post("/auth/refresh").header("content-type", content_type);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("theme=dark; cg_refresh={cookie}"));
    }
    app.send(request.body(Body::from(body.to_owned())).expect("request"))
        .await
}

async fn the_refresh_endpoint_serves_browsers_from_the_cookie(app: TestApp) {
    let login = login(&app, NURSE).await;
    let r1 = text(&login, "refreshToken");
    let answer = post_refresh(&app, "application/json", Some(r1), "{}").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(accepted(&app, text(&answer.body, "accessToken")).await);
    assert!(
        answer.body.get("refreshToken").is_none(),
        "the token stays out of JavaScript: {}",
        answer.text
    );
    let cookie = &set_cookies(&answer)[0];
    let r2 = cookie
        .strip_prefix("cg_refresh=")
        .and_then(|rest| rest.split(';').next())
        .expect("a refresh cookie");
    assert_ne!(r2, r1);
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

    // A form or a simple cross-site request cannot use it.
    let form = post_refresh(&app, "text/plain", Some(r2), "{}").await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let none = post_refresh(&app, "application/json", None, "{}").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.code(), Some("INVALID_REFRESH_TOKEN"));
    let garbage = post_refresh(&app, "application/json", None, "[1]").await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);

    // A native client sends the token in the body and gets the next one there.
    let body = json!({ "refreshToken": r2 }).to_string();
    let native = post_refresh(&app, "application/json", None, &body).await;
    assert_eq!(native.status, StatusCode::OK, "{}", native.text);
    assert!(text(&native.body, "refreshToken").starts_with("cgr1."));
}

/// A user agent is the client's to fill: a long one, beyond ASCII, is kept to its first 256
/// characters on every backend alike.
async fn a_long_user_agent_is_kept_to_its_start(app: TestApp) {
    let agent = format!("Ωmega/5.0 ({})", "x".repeat(5_000));
    let kept: String = agent.chars().take(256).collect();
    let response = login_with_agent(&app, NURSE, DEMO_PASSWORD, &agent).await;
    let login = &response.body["data"]["login"];
    assert_eq!(
        login["session"]["userAgent"],
        kept.as_str(),
        "{}",
        response.text
    );
    let token = text(login, "accessToken");
    let sessions = app.ok(token, MY_SESSIONS, json!({})).await;
    assert_eq!(
        sessions["mySessions"]["nodes"][0]["userAgent"],
        kept.as_str()
    );
}

on_every_backend!(
    env [("REFRESH_REUSE_GRACE_SECONDS", "1")];
    a_long_user_agent_is_kept_to_its_start,
    a_login_starts_a_session_and_sets_the_refresh_cookie,
    a_refresh_rotates_and_a_replaced_token_used_late_ends_the_session,
    concurrent_refreshes_with_one_token_get_one_answer,
    logout_ends_this_session_only_and_clears_the_cookie,
    logout_everywhere_ends_every_session_of_the_user,
    sessions_are_seen_and_ended_by_their_user_and_their_clinics_admin,
    a_changed_password_ends_the_other_sessions,
    a_changed_role_and_a_disabled_account_take_effect_within_seconds,
    the_refresh_endpoint_serves_browsers_from_the_cookie,
);
