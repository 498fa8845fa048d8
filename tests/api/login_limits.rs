//! Failed logins are slowed and stopped without locking out a clinic or a user: successes never
//! count, a pair of account and address is locked after its own failures only, an address with
//! no failures for an account is never held back for it, and an address guessing across many
//! accounts is slowed. One instance here (in process, as the embedded default); shared by two
//! instances through Redis in `scale_out.rs`.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use clinicgraph::seed::{DEMO_ACCOUNTS, DEMO_PASSWORD};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};
use crate::on_every_backend;

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// A login as coming from `ip` (the app trusts `X-Forwarded-For` in these tests).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> TestResponse {
    let body = json!({ "query": LOGIN, "variables": { "e": email, "p": password } });
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(Body::from(body.to_string()))
        .expect("request");
    app.send(request).await
}

fn logged_in(response: &TestResponse) -> bool {
    response.body["data"]["login"]["accessToken"].is_string()
}

/// The answer with what may differ between two refusals left out: the request id, and the wait
/// (checked apart: the window's remaining seconds may tick between two requests).
fn answer(response: &TestResponse) -> (StatusCode, Value) {
    let mut body = response.body.clone();
    if let Some(errors) = body["errors"].as_array_mut() {
        for error in errors {
            if let Some(extensions) = error["extensions"].as_object_mut() {
                extensions.remove("requestId");
                extensions.remove("retryAfter");
            }
        }
    }
    (response.status, body)
}

fn retry_after(response: &TestResponse) -> i64 {
    response.body["errors"][0]["extensions"]["retryAfter"]
        .as_i64()
        .unwrap_or_else(|| panic!("no retryAfter: {}", response.text))
}

async fn a_clinic_behind_one_address_always_logs_in(app: TestApp) {
    // Thirty logins from the front desk's one address in well under a minute, with a colleague
    // mistyping a password now and then.
    for round in 0..30 {
        let (email, _, _) = DEMO_ACCOUNTS[round % DEMO_ACCOUNTS.len()];
        if round % 7 == 3 {
            let typo = login_from(&app, "198.51.100.7", email, "not-the-password").await;
            assert_eq!(typo.code(), Some("INVALID_CREDENTIALS"), "{}", typo.text);
        }
        let response = login_from(&app, "198.51.100.7", email, DEMO_PASSWORD).await;
        assert!(logged_in(&response), "login {round}: {}", response.text);
    }
}

async fn guessing_locks_only_the_guessing_pair(app: TestApp) {
    let doctor = "doctor@demo.clinic";
    let guesser = "203.0.113.66";
    // LOGIN_PAIR_LOCK_AFTER=4, and no delay before it, in these tests' settings.
    for guess in 0..4 {
        let refused = login_from(&app, guesser, doctor, &format!("guess-{guess}")).await;
        assert_eq!(
            refused.code(),
            Some("INVALID_CREDENTIALS"),
            "{}",
            refused.text
        );
    }
    let wrong = login_from(&app, guesser, doctor, "guess-4").await;
    assert_eq!(
        wrong.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        wrong.text
    );
    assert_eq!(wrong.code(), Some("RATE_LIMITED"), "{}", wrong.text);
    // The right password from the locked pair gets the very same answer.
    let right = login_from(&app, guesser, doctor, DEMO_PASSWORD).await;
    assert_eq!(answer(&right), answer(&wrong));
    assert!((retry_after(&right) - retry_after(&wrong)).abs() <= 1);
    // The doctor, at their own desk, is not locked out; nor is anyone else at the guesser's.
    let own_desk = login_from(&app, "198.51.100.20", doctor, DEMO_PASSWORD).await;
    assert!(logged_in(&own_desk), "{}", own_desk.text);
    let colleague = login_from(&app, guesser, "nurse@demo.clinic", DEMO_PASSWORD).await;
    assert!(logged_in(&colleague), "{}", colleague.text);
    // An unknown email is counted and locked alike: the answers say nothing of accounts.
    for guess in 0..4 {
        let refused = login_from(&app, guesser, "nobody@demo.clinic", &guess.to_string()).await;
        assert_eq!(
            refused.code(),
            Some("INVALID_CREDENTIALS"),
            "{}",
            refused.text
        );
    }
    let unknown = login_from(&app, guesser, "nobody@demo.clinic", "x").await;
    assert_eq!(answer(&unknown), answer(&wrong));
    assert!((retry_after(&unknown) - retry_after(&wrong)).abs() <= 1);
}

async fn a_burst_of_guesses_cannot_slip_past_the_lock(app: TestApp) {
    // Twelve guesses at once: each counts those still being checked as failures, so no more
    // than the lock allows (4) have their passwords checked.
    let guesses = (0..12).map(|n| {
        let app = &app;
        async move {
            login_from(
                app,
                "203.0.113.77",
                "admin@demo.clinic",
                &format!("burst-{n}"),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|a| a.code() == Some("INVALID_CREDENTIALS"))
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.code() == Some("RATE_LIMITED"))
        .count();
    assert!(checked <= 4, "{checked} guesses checked");
    assert_eq!(checked + refused, 12);
    let right = login_from(&app, "203.0.113.77", "admin@demo.clinic", DEMO_PASSWORD).await;
    assert_eq!(right.code(), Some("RATE_LIMITED"), "{}", right.text);
}

async fn an_admin_unlocks_a_locked_pair(app: TestApp) {
    let guesser = "203.0.113.88";
    for guess in 0..5 {
        login_from(
            &app,
            guesser,
            "nurse@demo.clinic",
            &format!("guess-{guess}"),
        )
        .await;
    }
    let locked = login_from(&app, guesser, "nurse@demo.clinic", DEMO_PASSWORD).await;
    assert_eq!(locked.code(), Some("RATE_LIMITED"), "{}", locked.text);

    let nurse = app.token(Role::Nurse).await;
    let nurse_id = app.ok(&nurse, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let unlock = "mutation($id: ID!) { unlockUser(id: $id) { id email } }";
    let variables = json!({ "id": nurse_id });
    // Only an ADMIN of the user's own clinic.
    let doctor = app.token(Role::Doctor).await;
    let refused = app.gql(Some(&doctor), unlock, variables.clone()).await;
    assert_eq!(refused.code(), Some("FORBIDDEN"), "{}", refused.text);
    let stranger = app.other_clinic_admin().await;
    let refused = app.gql(Some(&stranger), unlock, variables.clone()).await;
    assert_eq!(refused.code(), Some("NOT_FOUND"), "{}", refused.text);
    let still = login_from(&app, guesser, "nurse@demo.clinic", DEMO_PASSWORD).await;
    assert_eq!(still.code(), Some("RATE_LIMITED"), "{}", still.text);

    let admin = app.token(Role::Admin).await;
    let unlocked = app.ok(&admin, unlock, variables).await;
    assert_eq!(unlocked["unlockUser"]["email"], "nurse@demo.clinic");
    let again = login_from(&app, guesser, "nurse@demo.clinic", DEMO_PASSWORD).await;
    assert!(logged_in(&again), "{}", again.text);

    // The unlock is in the audit trail, naming the user, and so is the DOCTOR's refused try
    // (newest first; the other clinic's ADMIN's is in that clinic's trail).
    app.services.audit_writer.flush().await;
    let events = "query { auditEvents(filter: { action: UNLOCK_USER }, first: 5) { nodes { entityType entityIds outcome actor { email } } } }";
    let trail = app.ok(&admin, events, json!({})).await;
    assert_eq!(
        trail["auditEvents"]["nodes"],
        json!([
            { "entityType": "USER", "entityIds": [nurse_id], "outcome": "ALLOWED",
              "actor": { "email": "admin@demo.clinic" } },
            { "entityType": "USER", "entityIds": [], "outcome": "DENIED",
              "actor": { "email": "doctor@demo.clinic" } },
        ])
    );
    // So is the lock, once (the fifth guess was refused unchecked), naming the account
    // guessed at and the address the guesses came from.
    let events = "query { auditEvents(filter: { action: LOGIN_LOCKED }, first: 5) { nodes { entityType entityIds outcome clientIp actor { email } } } }";
    let trail = app.ok(&admin, events, json!({})).await;
    assert_eq!(
        trail["auditEvents"]["nodes"],
        json!([
            { "entityType": "USER", "entityIds": [nurse_id], "outcome": "DENIED",
              "clientIp": guesser, "actor": { "email": "nurse@demo.clinic" } },
        ])
    );
}

async fn guessing_across_accounts_slows_the_address(app: TestApp) {
    let stuffer = "203.0.113.99";
    // LOGIN_ADDRESS_FAILURE_LIMIT=8 in these tests' settings.
    for n in 0..8 {
        let email = format!("user{n}@example.org");
        let refused = login_from(&app, stuffer, &email, "Summer2026!").await;
        assert_eq!(
            refused.code(),
            Some("INVALID_CREDENTIALS"),
            "{}",
            refused.text
        );
    }
    let next = login_from(&app, stuffer, "admin@demo.clinic", DEMO_PASSWORD).await;
    assert_eq!(next.code(), Some("RATE_LIMITED"), "{}", next.text);
    let elsewhere = login_from(&app, "198.51.100.30", "admin@demo.clinic", DEMO_PASSWORD).await;
    assert!(logged_in(&elsewhere), "{}", elsewhere.text);
}

async fn an_account_guessed_from_many_addresses_still_logs_in_from_a_clean_one(app: TestApp) {
    let admin = "admin@demo.clinic";
    // LOGIN_ACCOUNT_DELAY_AFTER=3: past it, addresses that failed for the account wait.
    for n in 0..3 {
        let ip = format!("203.0.113.{}", 10 + n);
        let refused = login_from(&app, &ip, admin, "wrong").await;
        assert_eq!(
            refused.code(),
            Some("INVALID_CREDENTIALS"),
            "{}",
            refused.text
        );
    }
    let again = login_from(&app, "203.0.113.10", admin, DEMO_PASSWORD).await;
    assert_eq!(again.code(), Some("RATE_LIMITED"), "{}", again.text);
    let clean = login_from(&app, "198.51.100.40", admin, DEMO_PASSWORD).await;
    assert!(logged_in(&clean), "{}", clean.text);
}

/// Settings that take each count to its limit within a test, the others out of reach.
mod pairs {
    use super::*;
    on_every_backend!(
        env [
            ("TRUST_FORWARDED_FOR", "true"),
            ("LOGIN_PAIR_DELAY_AFTER", "4"),
            ("LOGIN_PAIR_LOCK_AFTER", "4"),
            ("LOGIN_ACCOUNT_DELAY_AFTER", "1000"),
            ("LOGIN_ADDRESS_FAILURE_LIMIT", "1000"),
        ];
        a_clinic_behind_one_address_always_logs_in,
        guessing_locks_only_the_guessing_pair,
        a_burst_of_guesses_cannot_slip_past_the_lock,
        an_admin_unlocks_a_locked_pair,
    );
}

mod addresses {
    use super::*;
    on_every_backend!(
        env [("TRUST_FORWARDED_FOR", "true"), ("LOGIN_ADDRESS_FAILURE_LIMIT", "8")];
        guessing_across_accounts_slows_the_address,
    );
}

mod accounts {
    use super::*;
    on_every_backend!(
        env [("TRUST_FORWARDED_FOR", "true"), ("LOGIN_ACCOUNT_DELAY_AFTER", "3")];
        an_account_guessed_from_many_addresses_still_logs_in_from_a_clean_one,
    );
}
