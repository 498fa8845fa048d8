//! `/graphql/ws`: subscriptions over WebSocket (graphql-transport-ws, the protocol of the
//! `graphql-ws` client library). The client authenticates in `connection_init` with
//! `{ "token": "<access token>" }`; a missing or invalid token closes the socket with 4403, and
//! so does the end of the token's session while the socket is open (a logout, a revocation, a
//! changed role or a disabled account), within seconds.
//!
//! Sockets are capped per client address and in all ([`caps`]), before the upgrade; each one is
//! then served by [`session`] (init timeout, keepalive, the protocol's close codes).
mod caps;
mod session;

use std::net::IpAddr;
use std::str::FromStr;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql_axum::GraphQLProtocol;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use caps::Refusal;
pub use caps::SocketCaps;
use session::Session;

use super::AppState;
use super::client_ip::ClientIp;
use super::execution::problem_body;
use super::graphql::{bearer_token, request_id};
use crate::core::context::{Authentication, RequestContext, SessionExpiry};
use crate::core::error::AppError;
use crate::modules::loaders;

/// What each socket reserves for reading, which it holds while open: tungstenite's default of
/// 128 KiB made an idle socket cost about 140 KB; subscription messages are a few hundred bytes,
/// and a longer one still fits (the buffer grows for it).
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub async fn graphql_ws(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    websocket: WebSocketUpgrade,
) -> Response {
    let request_id = request_id(&headers);
    let permit = match state.sockets.admit(client_ip) {
        Ok(permit) => permit,
        Err(refusal) => return refused(refusal, &request_id),
    };
    let (ended_tx, ended) = tokio::sync::watch::channel(false);
    let session = Session {
        schema: state.subscription_schema.clone(),
        protocol,
        transport_ws: speaks_graphql_transport_ws(&headers),
        limits: state.websocket,
        ended,
    };
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            // Held while the socket's task runs; a failed upgrade drops it unused.
            let _permit = permit;
            session::serve(socket, session, move |payload| {
                connection_init(state, client_ip, request_id, payload, ended_tx)
            })
            .await;
        })
}

/// Whether the client asked for graphql-transport-ws, read as [`GraphQLProtocol`] reads it
/// (the first protocol named that async-graphql knows), which does not say which it found.
fn speaks_graphql_transport_ws(headers: &HeaderMap) -> bool {
    headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
        == Some(WebSocketProtocols::GraphQLWS)
}

/// The answer to an upgrade beyond a cap, before any socket exists: 429 when the client's own
/// address holds its share (closing one of its sockets makes room), 503 when this process is
/// full.
fn refused(refusal: Refusal, request_id: &str) -> Response {
    let (status, code, message, label) = match refusal {
        Refusal::AddressFull => (
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_CONNECTIONS",
            "too many subscription sockets are open from your address; close one first",
            "address",
        ),
        Refusal::ProcessFull => (
            StatusCode::SERVICE_UNAVAILABLE,
            "OVERLOADED",
            "the server holds all the subscription sockets it may; try again shortly",
            "total",
        ),
    };
    metrics::counter!("graphql_ws_refused_total", "cap" => label).increment(1);
    let body = problem_body(code, message, request_id).to_string();
    let mut response = (status, [(CONTENT_TYPE, "application/json")], body).into_response();
    if refusal == Refusal::ProcessFull {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
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
    ended: tokio::sync::watch::Sender<bool>,
) -> async_graphql::Result<Data> {
    let authenticated = match token(&payload) {
        Some(token) => state.services.sessions.authenticate(token).await?,
        None => None,
    };
    let Some(authenticated) = authenticated else {
        tracing::debug!("WebSocket connection refused: no valid token in connection_init");
        return Err(AppError::Unauthenticated.into());
    };
    let caller = authenticated.caller;
    let mut data = Data::default();
    data.insert(loaders::for_connection(state.services.clone(), &caller));
    data.insert(SessionExpiry(authenticated.expires_at));
    data.insert(RequestContext {
        request_id,
        client_ip,
        authentication: Authentication::Authenticated(caller.clone()),
        session_id: Some(authenticated.session_id),
        user_agent: None,
    });
    tokio::spawn(watch_session(
        state.services.sessions.clone(),
        authenticated.session_id,
        caller,
        ended,
    ));
    Ok(data)
}

/// Tells the socket when its session ends (or its user's role or clinic changes), checking as
/// often as requests are checked; stops when the socket is gone.
async fn watch_session(
    sessions: std::sync::Arc<crate::modules::auth::session::service::SessionService>,
    session_id: i64,
    caller: crate::core::auth::Caller,
    ended: tokio::sync::watch::Sender<bool>,
) {
    let mut every = tokio::time::interval(crate::modules::auth::session::RECHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = ended.closed() => return,
            _ = every.tick() => {}
        }
        match sessions.still_stands(session_id, &caller).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = ended.send(true);
                return;
            }
            // The database is away for a moment: the socket's requests would fail alike; look
            // again at the next tick.
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "checking a socket's session")
            }
        }
    }
}
