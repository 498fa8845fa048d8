//! `/graphql/ws`: subscriptions over WebSocket (graphql-transport-ws, the protocol of the
//! `graphql-ws` client library). The client authenticates in `connection_init` with
//! `{ "token": "<access token>" }`; a missing or invalid token closes the connection.
use std::net::IpAddr;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::AppState;
use super::client_ip::ClientIp;
use super::graphql::{bearer_token, request_id};
use crate::core::context::{Authentication, RequestContext, SessionExpiry};
use crate::core::error::AppError;
use crate::graphql::loaders;

pub async fn graphql_ws(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    websocket: WebSocketUpgrade,
) -> Response {
    let request_id = request_id(&headers);
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let schema = state.subscription_schema.clone();
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| {
                    connection_init(state, client_ip, request_id, payload)
                })
                .serve()
        })
}

/// The token from the init payload: `{ "token": … }`, or the `Authorization` header form that
/// some clients send (`{ "Authorization": "Bearer …" }`).
fn token(payload: &Value) -> Option<&str> {
    if let Some(token) = payload.get("token").and_then(Value::as_str) {
        return Some(token);
    }
    payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(Value::as_str)
        .and_then(bearer_token)
}

async fn connection_init(
    state: AppState,
    client_ip: IpAddr,
    request_id: String,
    payload: Value,
) -> async_graphql::Result<Data> {
    let verified = token(&payload).map(|t| state.tokens.verify_with_expiry(t));
    let Some(Ok((caller, expires_at))) = verified else {
        tracing::debug!("WebSocket connection refused: no valid token in connection_init");
        return Err(AppError::Unauthenticated.into());
    };
    let mut data = Data::default();
    data.insert(loaders::for_connection(state.repositories.clone(), &caller));
    data.insert(SessionExpiry(expires_at));
    data.insert(RequestContext {
        request_id,
        client_ip,
        authentication: Authentication::Authenticated(caller),
    });
    Ok(data)
}
