//! `POST /graphql` following the GraphQL-over-HTTP spec, which async-graphql's defaults do not:
//! content negotiation, status codes by the accepted media type, JSON-only POSTs (the CSRF
//! guard), bounded batches, rate limits, persisted queries, and a request id on every error; and
//! the helpers `GET /graphql` (`graphql_get.rs`) shares.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE, USER_AGENT,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::client_ip::ClientIp;
use super::execution::{
    Answer, NotRun, Prepared, build_request, execute, refused_body, request_error_status,
};
use super::idempotent::{self, Keyed};
use super::multipart;
use super::negotiation::{ResponseFormat, is_json_content_type, negotiate};
use crate::core::context::{Authentication, RequestContext};
use crate::modules::auth::session::service::{Authenticated, SessionService};

pub(super) const API_FORMATS: &[ResponseFormat] =
    &[ResponseFormat::Json, ResponseFormat::GraphqlResponse];
pub(super) const BROWSER_FORMATS: &[ResponseFormat] = &[
    ResponseFormat::Json,
    ResponseFormat::GraphqlResponse,
    ResponseFormat::Html,
];

/// One operation as it arrives in a POST body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Value>,
    /// `persistedQuery` (APQ) lives here.
    extensions: Option<Value>,
}

/// The request id set by the request-id layer.
pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&super::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// The token of an `Authorization: Bearer …` value.
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The caller the `Authorization` header proves, checked against their session; `Err` only
/// when the session could not be read (the database failed).
pub(super) async fn authenticate(
    sessions: &SessionService,
    headers: &HeaderMap,
) -> Result<(Authentication, Option<i64>), crate::core::error::AppError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Ok((Authentication::Anonymous, None));
    };
    let Some(token) = header.to_str().ok().and_then(bearer_token) else {
        return Ok((Authentication::Rejected, None));
    };
    Ok(match sessions.authenticate(token).await? {
        Some(Authenticated {
            caller, session_id, ..
        }) => (Authentication::Authenticated(caller), Some(session_id)),
        None => (Authentication::Rejected, None),
    })
}

/// What the resolvers know of the request, or the answer when its session could not be
/// checked.
pub(super) async fn request_context(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &str,
    client_ip: std::net::IpAddr,
    format: ResponseFormat,
) -> Result<RequestContext, Response> {
    let (authentication, session_id) = authenticate(&state.services.sessions, headers)
        .await
        .map_err(|error| {
            tracing::error!(error = format!("{error:#}"), "checking a session");
            internal_error(format, request_id)
        })?;
    Ok(RequestContext {
        request_id: request_id.to_owned(),
        client_ip,
        authentication,
        session_id,
        // As sent: a header may carry bytes beyond ASCII, which are kept as far as they are
        // UTF-8.
        user_agent: headers
            .get(USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    })
}

/// A response whose body is a single GraphQL error (for failures before execution).
pub(super) fn error_response(
    status: StatusCode,
    format: ResponseFormat,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response {
    let body = json!({
        "errors": [{
            "message": message,
            "extensions": { "code": code, "requestId": request_id },
        }]
    });
    json_response(status, format, body.to_string())
}

/// The answer when the service failed before running anything (the detail is logged by the
/// caller).
pub(super) fn internal_error(format: ResponseFormat, request_id: &str) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format,
        "INTERNAL_SERVER_ERROR",
        "internal server error",
        request_id,
    )
}

/// A JSON text response in the negotiated media type.
pub(super) fn json_response(status: StatusCode, format: ResponseFormat, body: String) -> Response {
    let format = match format {
        ResponseFormat::Html => ResponseFormat::Json,
        other => other,
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

pub(super) fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(ACCEPT).and_then(|v| v.to_str().ok())
}

pub async fn graphql_post(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let request_id = request_id(&headers);
    let Some(format) = negotiate(accept(&headers), API_FORMATS) else {
        return not_acceptable(&request_id);
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let is_multipart = multipart::is_multipart(content_type);
    if is_multipart && !multipart::has_preflight_header(&headers) {
        return error_response(
            StatusCode::BAD_REQUEST,
            format,
            "PREFLIGHT_REQUIRED",
            "a multipart request must carry a `GraphQL-Preflight: 1` header (or \
             `Apollo-Require-Preflight`), which a cross-site form cannot send",
            &request_id,
        );
    }
    if !is_multipart && !is_json_content_type(content_type) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as Content-Type: application/json",
            &request_id,
        );
    }
    // The route takes multipart bodies up to their own limit; a JSON body keeps its own.
    if !is_multipart && body.len() > super::MAX_BODY_BYTES {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format,
            "PAYLOAD_TOO_LARGE",
            &format!(
                "a request body may be at most {} bytes",
                super::MAX_BODY_BYTES
            ),
            &request_id,
        );
    }
    let bad_request = |message: &str| {
        error_response(
            StatusCode::BAD_REQUEST,
            format,
            "BAD_REQUEST",
            message,
            &request_id,
        )
    };
    let (parsed, uploads): (Value, _) = if is_multipart {
        let content_type = content_type.unwrap_or_default();
        match multipart::read(content_type, body, state.multipart).await {
            Ok(operation) => (operation.wire, operation.uploads),
            Err(message) => return bad_request(&message),
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => (value, Vec::new()),
            Err(_) => return bad_request("the body is not valid JSON"),
        }
    };
    let context = match request_context(&state, &headers, &request_id, client_ip, format).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    let prepare = async |item: Value| -> Result<Prepared, NotRun> {
        let wire =
            wire_request(item).map_err(|message| NotRun::malformed("BAD_REQUEST", message))?;
        let query = state
            .persisted
            .resolve(wire.query, wire.extensions.as_ref())
            .await
            .map_err(|refusal| NotRun::malformed(refusal.code, refusal.message))?;
        build_request(&state, query, wire.operation_name, wire.variables, &context)
    };
    match parsed {
        Value::Array(items) => {
            let max_batch = state.limits.max_batch;
            if items.is_empty() || items.len() > max_batch {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format,
                    "BATCH_TOO_LARGE",
                    &format!("a batch holds 1 to {max_batch} operations"),
                    &request_id,
                );
            }
            let mut requests = Vec::with_capacity(items.len());
            let mut complexity = 0_usize;
            for item in items {
                let request = prepare(item).await;
                if let Ok(request) = &request {
                    complexity = complexity.saturating_add(request.complexity(&state).await);
                }
                requests.push(request);
            }
            // The batch's operations share one complexity limit, or ten operations just under
            // it would do ten times the work one request may.
            let limit = state.limits.max_complexity;
            if complexity > limit {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format,
                    "QUERY_TOO_COMPLEX",
                    &format!(
                        "the batch's operations have a complexity of {complexity} together; the \
                         limit is {limit}"
                    ),
                    &request_id,
                );
            }
            let operations = requests
                .iter()
                .map(|r| r.as_ref().map_or(1, Prepared::operations))
                .fold(0_u32, u32::saturating_add);
            if let Err(refusal) = charge(&state, &context, operations, format).await {
                return refusal;
            }
            let keyed = match idempotent::keyed(&headers, &context, requests.iter().flatten()) {
                Ok(keyed) => keyed,
                Err(refusal) => return idempotent::refused(refusal, format, &request_id),
            };
            let Some(keyed) = keyed else {
                return run_batch(&state, requests, &request_id, deadline)
                    .await
                    .into_response(format);
            };
            let work = {
                let (state, request_id) = (state.clone(), request_id.clone());
                async move { run_batch(&state, requests, &request_id, deadline).await }
            };
            idempotent::run(&state, keyed, format, &request_id, work).await
        }
        single => match prepare(single).await {
            Ok(request) => {
                let request = request.with_uploads(uploads);
                let operations = request.operations();
                if let Err(refusal) = charge(&state, &context, operations, format).await {
                    return refusal;
                }
                let keyed = match idempotent::keyed(&headers, &context, [&request]) {
                    Ok(keyed) => keyed,
                    Err(refusal) => return idempotent::refused(refusal, format, &request_id),
                };
                let Some(keyed) = keyed else {
                    let answer = execute(&state, request, &request_id, true, deadline).await;
                    return answer_response(answer, format);
                };
                run_keyed(&state, keyed, request, format, &request_id, deadline).await
            }
            Err(refused) => refused_response(format, &refused, &request_id),
        },
    }
}

/// A POST's answer before it is sent, as an idempotency key stores it.
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub retry_after: Option<u64>,
    /// Whether the same request sent again should get this answer ([`Answer::replayable`]).
    pub replayable: bool,
    /// Never stored: an answer that sets a cookie is not replayable.
    pub set_cookies: Vec<HeaderValue>,
}

impl Reply {
    fn of(answer: Answer, format: ResponseFormat) -> Self {
        Self {
            status: answer_status(&answer, format),
            replayable: answer.replayable(),
            body: answer.body,
            retry_after: answer.retry_after,
            set_cookies: answer.set_cookies,
        }
    }

    pub(super) fn into_response(self, format: ResponseFormat) -> Response {
        with_cookies(
            with_retry_after(
                json_response(self.status, format, self.body),
                self.retry_after,
            ),
            self.set_cookies,
        )
    }
}

fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Runs the operations of a batch one after the other; their answers in one array.
async fn run_batch(
    state: &AppState,
    requests: Vec<Result<Prepared, NotRun>>,
    request_id: &str,
    deadline: tokio::time::Instant,
) -> Reply {
    let mut bodies = Vec::with_capacity(requests.len());
    let mut retry_after = None;
    let mut replayable = true;
    let mut set_cookies = Vec::new();
    for request in requests {
        let body = match request {
            Ok(request) => {
                let answer = execute(state, request, request_id, true, deadline).await;
                retry_after = retry_after.max(answer.retry_after);
                replayable &= answer.replayable();
                set_cookies.extend(answer.set_cookies);
                answer.body
            }
            Err(not_run) => refused_body(&not_run.refused, request_id).to_string(),
        };
        bodies.push(body);
    }
    Reply {
        status: StatusCode::OK,
        body: format!("[{}]", bodies.join(",")),
        retry_after,
        replayable,
        set_cookies,
    }
}

/// Runs one operation under an idempotency key.
async fn run_keyed(
    state: &AppState,
    keyed: Keyed,
    request: Prepared,
    format: ResponseFormat,
    request_id: &str,
    deadline: tokio::time::Instant,
) -> Response {
    let work = {
        let (state, request_id) = (state.clone(), request_id.to_owned());
        async move {
            let answer = execute(&state, request, &request_id, true, deadline).await;
            Reply::of(answer, format)
        }
    };
    idempotent::run(state, keyed, format, request_id, work).await
}

/// Charges the operations to the client's and the user's allowance; a refusal is the whole
/// response (429, `Retry-After`, code RATE_LIMITED), sent before anything runs.
pub(super) async fn charge(
    state: &AppState,
    context: &RequestContext,
    operations: u32,
    format: ResponseFormat,
) -> Result<(), Response> {
    let user_id = match &context.authentication {
        Authentication::Authenticated(caller) => Some(caller.user_id),
        _ => None,
    };
    let Err(limited) = state
        .shared
        .limiter
        .charge_operations(context.client_ip, user_id, operations)
        .await
    else {
        return Ok(());
    };
    let seconds = limited.retry_after_secs();
    let body = json!({
        "errors": [{
            "message": format!("too many requests: retry in {seconds} s"),
            "extensions": {
                "code": "RATE_LIMITED",
                "retryAfter": seconds,
                "requestId": context.request_id,
            },
        }]
    });
    let response = json_response(StatusCode::TOO_MANY_REQUESTS, format, body.to_string());
    Err(with_retry_after(response, Some(seconds)))
}

fn with_retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

pub(super) fn answer_response(answer: Answer, format: ResponseFormat) -> Response {
    let status = answer_status(&answer, format);
    with_cookies(
        with_retry_after(
            json_response(status, format, answer.body),
            answer.retry_after,
        ),
        answer.set_cookies,
    )
}

fn answer_status(answer: &Answer, format: ResponseFormat) -> StatusCode {
    if answer.request_error {
        request_error_status(format)
    } else {
        answer.status
    }
}

pub(super) fn not_acceptable(request_id: &str) -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        ResponseFormat::Json,
        "NOT_ACCEPTABLE",
        "accept application/json or application/graphql-response+json",
        request_id,
    )
}

/// The answer to a request refused before it ran.
pub(super) fn refused_response(
    format: ResponseFormat,
    not_run: &NotRun,
    request_id: &str,
) -> Response {
    let body = refused_body(&not_run.refused, request_id).to_string();
    json_response(not_run.status(format), format, body)
}

fn wire_request(value: Value) -> Result<WireRequest, String> {
    let wire: WireRequest = serde_json::from_value(value)
        .map_err(|_| "each operation must be an object with a string `query`".to_owned())?;
    check_extensions(wire.extensions.as_ref())?;
    Ok(wire)
}

/// `extensions` is a map (GraphQL-over-HTTP, "Request Parameters"), or absent.
pub(super) fn check_extensions(extensions: Option<&Value>) -> Result<(), String> {
    match extensions {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(_) => Err("`extensions` must be an object".to_owned()),
    }
}
