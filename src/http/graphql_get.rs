//! `GET /graphql`: queries (and persisted queries) from the query string, and GraphiQL for
//! browsers when it is enabled. Mutations over GET are refused (405).
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::ALLOW;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::client_ip::ClientIp;
use super::execution::{build_request, execute};
use super::graphql::{
    API_FORMATS, BROWSER_FORMATS, accept, answer_response, charge, check_extensions,
    error_response, not_acceptable, refused_response, request_context, request_id,
};
use super::negotiation::{ResponseFormat, negotiate};

/// One operation as it arrives in a GET query string (variables JSON-encoded).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    /// JSON-encoded, for persisted queries over GET.
    extensions: Option<String>,
}

pub async fn graphql_get(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
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
        return super::graphiql::page();
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
    let (variables, extensions) = match (
        json_param(params.variables.as_deref(), "variables"),
        json_param(params.extensions.as_deref(), "extensions"),
    ) {
        (Ok(variables), Ok(extensions)) if check_extensions(extensions.as_ref()).is_ok() => {
            (variables, extensions)
        }
        (Ok(_), Ok(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                "`extensions` must be an object",
                &request_id,
            );
        }
        (Err(message), _) | (_, Err(message)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format,
                "BAD_REQUEST",
                &message,
                &request_id,
            );
        }
    };
    let query = match state
        .persisted
        .resolve(params.query, extensions.as_ref())
        .await
    {
        Ok(query) => query,
        Err(refusal) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format,
                refusal.code,
                &refusal.message,
                &request_id,
            );
        }
    };
    let context = match request_context(&state, &headers, &request_id, client_ip, format).await {
        Ok(context) => context,
        Err(response) => return response,
    };
    match build_request(&state, query, params.operation_name, variables, &context) {
        Ok(request) => {
            let operations = request.operations();
            if let Err(refusal) = charge(&state, &context, operations, format).await {
                return refusal;
            }
            let answer = execute(&state, request, &request_id, false, deadline).await;
            let method_not_allowed = answer.status == StatusCode::METHOD_NOT_ALLOWED;
            let mut response = answer_response(answer, format);
            if method_not_allowed {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
            }
            response
        }
        Err(refused) => refused_response(format, &refused, &request_id),
    }
}

/// A JSON-encoded query-string parameter.
fn json_param(text: Option<&str>, name: &str) -> Result<Option<Value>, String> {
    text.map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|_| format!("{name} is not valid JSON"))
}
