//! Rate limits as one instance applies them (in process, as in the embedded default): counted
//! by operations, per client address and per user. Failed logins: `login_limits.rs`. The same
//! limits shared by two instances through Redis are tested in `scale_out.rs`.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse};
use crate::on_every_backend;

/// POSTs `body` as coming from `ip` (the app trusts `X-Forwarded-For` in these tests).
async fn from(app: &TestApp, ip: &str, token: Option<&str>, body: Value) -> TestResponse {
    let mut request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("x-forwarded-for", format!("203.0.113.9, {ip}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

fn assert_limited(response: &TestResponse) {
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.text
    );
    assert_eq!(response.code(), Some("RATE_LIMITED"), "{}", response.text);
    let seconds = response.body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    let header = response.headers.get("retry-after").expect("Retry-After");
    assert_eq!(header.to_str().unwrap(), seconds.to_string());
}

async fn aliases_and_batched_operations_count_one_by_one(app: TestApp) {
    let three_aliases = json!({ "query": "{ a: __typename b: __typename c: __typename }" });
    let ok = from(&app, "10.0.0.1", None, three_aliases.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // 3 of 5 used: a batch of three single operations does not fit.
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }, { "query": "{ __typename }" }]);
    assert_limited(&from(&app, "10.0.0.1", None, batch).await);
    // Another address has its own allowance.
    let other = from(&app, "10.0.0.2", None, three_aliases).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
}

async fn a_user_is_limited_whichever_address_they_use(app: TestApp) {
    let token = app.token(Role::Doctor).await;
    let query = json!({ "query": "{ a: me { id } b: me { id } }" });
    for ip in ["10.0.1.1", "10.0.1.2"] {
        let ok = from(&app, ip, Some(&token), query.clone()).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    }
    assert_limited(&from(&app, "10.0.1.3", Some(&token), query).await);
}

mod limited {
    use super::*;
    on_every_backend!(
        env [
            ("RATE_LIMIT_PER_MINUTE", "5"),
            ("TRUST_FORWARDED_FOR", "true"),
        ];
        aliases_and_batched_operations_count_one_by_one,
    );
}

mod per_user {
    use super::*;
    on_every_backend!(
        env [("RATE_LIMIT_PER_MINUTE", "5"), ("TRUST_FORWARDED_FOR", "true")];
        a_user_is_limited_whichever_address_they_use,
    );
}
