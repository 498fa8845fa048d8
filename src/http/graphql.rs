//! `/graphql` following the GraphQL-over-HTTP spec, which async-graphql's defaults do not:
//! content negotiation, 400 for request errors, no mutations over GET, JSON-only POSTs (the CSRF
//! guard), bounded batches, and a request id on every error.
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request as GqlRequest, Variables};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::negotiation::{ResponseFormat, is_json_content_type, negotiate};
use crate::app::Repositories;
use crate::core::auth::TokenService;
use crate::core::context::{Authentication, RequestContext};
use crate::core::scope::Scope;
use crate::graphql::batching::BatchQueue;
use crate::graphql::loaders;

/// Most operations one batched POST may carry.
pub const MAX_BATCH: usize = 10;

const API_FORMATS: &[ResponseFormat] = &[ResponseFormat::Json, ResponseFormat::GraphqlResponse];
const BROWSER_FORMATS: &[ResponseFormat] = &[
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
}

/// One operation as it arrives in a GET query string (variables JSON-encoded).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

/// The request id set by the request-id layer.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

fn authenticate(tokens: &TokenService, headers: &HeaderMap) -> Authentication {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Authentication::Anonymous;
    };
    let token = header.to_str().ok().and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    });
    match token.map(|t| tokens.verify(t)) {
        Some(Ok(caller)) => Authentication::Authenticated(caller),
        Some(Err(reason)) => {
            tracing::debug!(%reason, "rejected access token");
            Authentication::Rejected
        }
        None => Authentication::Rejected,
    }
}

/// A response whose body is a single GraphQL error (for failures before execution).
fn error_response(
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
    json_response(status, format, &body)
}

fn json_response(status: StatusCode, format: ResponseFormat, body: &Value) -> Response {
    let format = match format {
        ResponseFormat::Html => ResponseFormat::Json,
        other => other,
    };
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(ACCEPT).and_then(|v| v.to_str().ok())
}

pub async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&headers);
    let Some(format) = negotiate(accept(&headers), API_FORMATS) else {
        return not_acceptable(&request_id);
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !is_json_content_type(content_type) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as Content-Type: application/json",
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
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return bad_request("the body is not valid JSON"),
    };
    let context = RequestContext {
        request_id: request_id.clone(),
        authentication: authenticate(&state.tokens, &headers),
    };
    match parsed {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format,
                    "BATCH_TOO_LARGE",
                    &format!("a batch holds 1 to {MAX_BATCH} operations"),
                    &request_id,
                );
            }
            let mut bodies = Vec::with_capacity(items.len());
            for item in items {
                let body = match wire_request(item) {
                    Ok(wire) => match build_request(
                        &state.repositories,
                        wire.query,
                        wire.operation_name,
                        wire.variables,
                        &context,
                    ) {
                        Ok(request) => execute(&state, request, &request_id, true).await.1,
                        Err(message) => problem_body("BAD_REQUEST", &message, &request_id),
                    },
                    Err(message) => problem_body("BAD_REQUEST", &message, &request_id),
                };
                bodies.push(body);
            }
            json_response(StatusCode::OK, format, &Value::Array(bodies))
        }
        single => {
            let request = wire_request(single).and_then(|wire| {
                build_request(
                    &state.repositories,
                    wire.query,
                    wire.operation_name,
                    wire.variables,
                    &context,
                )
            });
            match request {
                Ok(request) => {
                    let (status, body) = execute(&state, request, &request_id, true).await;
                    json_response(status, format, &body)
                }
                Err(message) => bad_request(&message),
            }
        }
    }
}

pub async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let request_id = request_id(&headers);
    let offered = if state.graphiql {
        BROWSER_FORMATS
    } else {
        API_FORMATS
    };
    let Some(format) = negotiate(accept(&headers), offered) else {
        return not_acceptable(&request_id);
    };
    if format == ResponseFormat::Html {
        let page = GraphiQLSource::build()
            .endpoint("/graphql")
            .title("clinicgraph")
            .finish();
        return axum::response::Html(page).into_response();
    }
    let Ok(Query(params)) = params else {
        return error_response(
            StatusCode::BAD_REQUEST,
            format,
            "BAD_REQUEST",
            "the query string is malformed",
            &request_id,
        );
    };
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Value>)
    {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                "variables is not valid JSON",
                &request_id,
            );
        }
    };
    let context = RequestContext {
        request_id: request_id.clone(),
        authentication: authenticate(&state.tokens, &headers),
    };
    match build_request(
        &state.repositories,
        params.query,
        params.operation_name,
        variables,
        &context,
    ) {
        Ok(request) => {
            let (status, body) = execute(&state, request, &request_id, false).await;
            if status == StatusCode::METHOD_NOT_ALLOWED {
                let mut response = json_response(status, format, &body);
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
                return response;
            }
            json_response(status, format, &body)
        }
        Err(message) => error_response(
            StatusCode::BAD_REQUEST,
            format,
            "BAD_REQUEST",
            &message,
            &request_id,
        ),
    }
}

fn not_acceptable(request_id: &str) -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        ResponseFormat::Json,
        "NOT_ACCEPTABLE",
        "accept application/json or application/graphql-response+json",
        request_id,
    )
}

fn wire_request(value: Value) -> Result<WireRequest, String> {
    serde_json::from_value(value)
        .map_err(|_| "each operation must be an object with a string `query`".to_owned())
}

fn build_request(
    repositories: &Repositories,
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Value>,
    context: &RequestContext,
) -> Result<Prepared, String> {
    let query = query
        .filter(|q| !q.trim().is_empty())
        .ok_or("the request has no `query`")?;
    let variables = match variables {
        None | Some(Value::Null) => Variables::default(),
        Some(value @ Value::Object(_)) => Variables::from_json(value),
        Some(_) => return Err("`variables` must be an object".into()),
    };
    let mut request = GqlRequest::new(query)
        .variables(variables)
        .data(context.clone());
    // A fresh loader per request, scoped to the caller: nothing cached crosses requests.
    let mut batches = None;
    if let Authentication::Authenticated(caller) = &context.authentication {
        let (loader, queue) = loaders::for_request(repositories.clone(), Scope::of(caller));
        request = request.data(loader);
        batches = Some(queue);
    }
    request.operation_name = operation_name;
    Ok(Prepared { request, batches })
}

/// A GraphQL request ready to run, with the queue its DataLoader batches go to.
struct Prepared {
    request: GqlRequest,
    batches: Option<BatchQueue>,
}

fn problem_body(code: &str, message: &str, request_id: &str) -> Value {
    json!({
        "errors": [{
            "message": message,
            "extensions": { "code": code, "requestId": request_id },
        }]
    })
}

/// The type of the operation that will run, when the document says so unambiguously.
fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(op_name, _)| op_name.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Parses, checks the method rule, executes, and shapes the body and status.
async fn execute(
    state: &AppState,
    prepared: Prepared,
    request_id: &str,
    mutations_allowed: bool,
) -> (StatusCode, Value) {
    let Prepared {
        mut request,
        batches,
    } = prepared;
    let operation_name = request.operation_name.clone();
    let document = match request.parsed_query() {
        Ok(document) => document,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                problem_body("GRAPHQL_PARSE_FAILED", &error.message, request_id),
            );
        }
    };
    if !mutations_allowed
        && matches!(
            operation_type(document, operation_name.as_deref()),
            Some(OperationType::Mutation | OperationType::Subscription)
        )
    {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            problem_body(
                "METHOD_NOT_ALLOWED",
                "mutations must be sent with POST",
                request_id,
            ),
        );
    }
    let response = match batches {
        Some(queue) => queue.drive(state.schema.execute(request)).await,
        None => state.schema.execute(request).await,
    };
    // A request error (the document or variables were refused before execution) has no data
    // and no error path; it gets 400 and no `data` entry.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut body = serde_json::to_value(&response).unwrap_or_else(|error| {
        tracing::error!(%error, "serialising a GraphQL response");
        problem_body("INTERNAL_SERVER_ERROR", "internal server error", request_id)
    });
    if let Some(object) = body.as_object_mut() {
        if request_error {
            object.remove("data");
        } else {
            null_errored_fields(object);
        }
        if let Some(Value::Array(errors)) = object.get_mut("errors") {
            for error in errors {
                stamp_error(error, request_id, request_error);
            }
        }
    }
    let status = if request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, body)
}

/// A field that raised an error must be present as `null` (GraphQL spec, "Handling Field
/// Errors"); async-graphql leaves such nullable fields out, which typed clients report as missing.
fn null_errored_fields(body: &mut serde_json::Map<String, Value>) {
    let paths: Vec<Vec<Value>> = match body.get("errors") {
        Some(Value::Array(errors)) => errors
            .iter()
            .filter_map(|e| e.get("path").and_then(Value::as_array).cloned())
            .collect(),
        _ => return,
    };
    let Some(data) = body.get_mut("data") else {
        return;
    };
    'paths: for path in paths {
        let Some((Value::String(field), parents)) = path.split_last() else {
            continue;
        };
        let mut node = &mut *data;
        for segment in parents {
            let child = match segment {
                Value::String(key) => node.get_mut(key.as_str()),
                Value::Number(index) => {
                    match index.as_u64().and_then(|i| usize::try_from(i).ok()) {
                        Some(i) => node.get_mut(i),
                        None => None,
                    }
                }
                _ => None,
            };
            match child {
                Some(child) => node = child,
                None => continue 'paths,
            }
        }
        if let Value::Object(object) = node {
            object.entry(field.clone()).or_insert(Value::Null);
        }
    }
}

/// Gives every error a code and the request id. An execution error without a code did not come
/// through `AppError` (say, from the framework): its text is logged and replaced.
fn stamp_error(error: &mut Value, request_id: &str, request_error: bool) {
    let Some(error) = error.as_object_mut() else {
        return;
    };
    let has_code = error
        .get("extensions")
        .and_then(|e| e.get("code"))
        .is_some();
    let is_input_error = error
        .get("message")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("Failed to parse"));
    if !has_code {
        if request_error {
            set_extension(error, "code", json!("GRAPHQL_VALIDATION_FAILED"));
        } else if is_input_error {
            // An argument that could not be coerced (async-graphql coerces some lazily).
            set_extension(error, "code", json!("BAD_USER_INPUT"));
        } else {
            let message = error.get("message").cloned().unwrap_or(Value::Null);
            tracing::error!(%message, "uncoded error during execution");
            error.insert("message".into(), json!("internal server error"));
            set_extension(error, "code", json!("INTERNAL_SERVER_ERROR"));
        }
    }
    set_extension(error, "requestId", json!(request_id));
}

fn set_extension(error: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    let extensions = error
        .entry("extensions")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(extensions) = extensions.as_object_mut() {
        extensions.insert(key.to_owned(), value);
    }
}
