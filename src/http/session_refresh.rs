//! `POST /auth/refresh`: a browser's refresh, with the token from the `HttpOnly` cookie that
//! `login` and every refresh set (its `Path` is this endpoint, so no other request carries
//! it). Guarded against cross-site requests as `/graphql` is: a JSON content type only, which a
//! form cannot send and a cross-origin script cannot send without CORS allowing it; and the
//! cookie is `SameSite=Strict`. A native client may send `{"refreshToken": …}` instead, or use
//! the `refreshSession` mutation.
//!
//! The answer holds the new access token; the new refresh token goes into the cookie only,
//! unless the token came in the body.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::client_ip::ClientIp;
use super::execution::{internal_problem, problem};
use super::graphql::request_id;
use super::negotiation::is_json_content_type;
use crate::core::error::AppError;
use crate::modules::auth::session::cookie;

fn with_cookie(mut response: Response, value: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&headers);
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !is_json_content_type(content_type) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as Content-Type: application/json",
            &request_id,
        );
    }
    if let Err(limited) = state
        .shared
        .limiter
        .charge_operations(client_ip, None, 1)
        .await
    {
        let seconds = limited.retry_after_secs();
        let mut response = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            &format!("too many requests: retry in {seconds} s"),
            &request_id,
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "the body must be a JSON object: {} or {\"refreshToken\": \"…\"}",
                    &request_id,
                );
            }
        }
    };
    let in_body = parsed.get("refreshToken").and_then(Value::as_str);
    let in_cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(cookie::read);
    let sessions = &state.services.sessions;
    let secure = sessions.settings().cookie_secure;
    let Some(token) = in_body.or(in_cookie) else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "INVALID_REFRESH_TOKEN",
            "send the refresh token: the cg_refresh cookie, or {\"refreshToken\": \"…\"}",
            &request_id,
        );
    };
    match sessions.refresh(token).await {
        Ok(issued) => {
            let mut answer = json!({
                "accessToken": issued.access_token,
                "expiresAt": issued.expires_at.to_rfc3339(),
                "refreshExpiresAt": issued.refresh_expires_at.to_rfc3339(),
            });
            if in_body.is_some() {
                answer["refreshToken"] = json!(issued.refresh_token);
            }
            let response = (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                answer.to_string(),
            )
                .into_response();
            let expires_at = issued.session.expires_at.and_utc();
            with_cookie(
                response,
                cookie::set(&issued.refresh_token, expires_at, secure),
            )
        }
        Err(error @ AppError::InvalidRefreshToken) => with_cookie(
            problem(
                StatusCode::UNAUTHORIZED,
                error.code(),
                &error.to_string(),
                &request_id,
            ),
            cookie::clear(secure),
        ),
        Err(error) => internal_problem(&error, "refreshing a session", &request_id),
    }
}
