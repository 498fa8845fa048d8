//! One subscription socket: async-graphql-axum's `GraphQLWebSocket` speaks the protocol, and
//! this loop stands between it and the socket for what it does not do.
//!
//! What async-graphql 7.2 offers and why it is not enough here:
//! - It never times out a socket that does not send `connection_init`; its `keepalive_timeout`
//!   closes any socket quiet for that long (3008), an initialised idle one included, since the
//!   `graphql-ws` client sends nothing while nothing happens. So the init timeout (4408) is kept
//!   here, from the moment the socket opens until the init has been accepted.
//! - It never pings. The protocol's keep-alive is the WebSocket's own ping and pong (RFC 6455,
//!   answered by browsers and every client library without the application): this loop pings
//!   every `keepalive` and drops a socket that sent nothing, not even the pong, since the
//!   previous ping, as graphql-ws's own server does.
//! - It closes a refused `connection_init` with 1002, an unreadable message with 1002 too, and a
//!   `subscribe` before the acknowledgement with 1011. graphql-transport-ws names 4403
//!   (Forbidden), 4400 and 4401 (Unauthorized): their close frames are rewritten on the way out,
//!   so clients can tell a refused token from a protocol error.
//!
//! The library reads and writes through two short channels that this loop feeds and drains; it
//! reads the socket only when the library has taken the previous message, so a client that
//! writes without reading cannot grow a queue.
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::config::WebSocketLimits;
use crate::schema::AppSchema;

/// Messages in flight between the socket and the library, each way.
const IN_FLIGHT: usize = 16;

/// The longest close reason a close frame can carry (RFC 6455: 125 bytes less the code).
const MAX_REASON_BYTES: usize = 123;

/// What a socket is served with.
pub(super) struct Session {
    pub schema: AppSchema,
    pub protocol: GraphQLProtocol,
    /// The socket speaks graphql-transport-ws (not the legacy subscriptions-transport-ws,
    /// which reports errors in messages rather than close codes).
    pub transport_ws: bool,
    pub limits: WebSocketLimits,
    /// Becomes true when the session of the socket's token ends: the socket is closed.
    pub ended: tokio::sync::watch::Receiver<bool>,
}

/// Serves `socket` until it ends; `on_init` decides on `connection_init`.
pub(super) async fn serve<F, R>(mut socket: WebSocket, session: Session, on_init: F)
where
    F: FnOnce(Value) -> R + Send + 'static,
    R: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let Session {
        schema,
        protocol,
        transport_ws,
        limits,
        mut ended,
    } = session;
    let mut watching = true;
    // Whether `connection_init` was accepted; set before the library answers it, so its answer
    // (the ack, or the close) always finds it set.
    let accepted = Arc::new(OnceLock::<bool>::new());
    let on_init = {
        let accepted = accepted.clone();
        move |payload| async move {
            let outcome = on_init(payload).await;
            let _ = accepted.set(outcome.is_ok());
            outcome
        }
    };

    let (to_library, library_input) = mpsc::channel::<Message>(IN_FLIGHT);
    let (library_output, mut from_library) = mpsc::channel::<Message>(IN_FLIGHT);
    let input = futures_util::stream::unfold(library_input, |mut input| async move {
        let message = input.recv().await?;
        Some((Ok::<_, axum::Error>(message), input))
    });
    let output = futures_util::sink::unfold(library_output, |output, message| async move {
        output.send(message).await.map(|()| output)
    });
    let library = GraphQLWebSocket::new_with_pair(output, input, schema, protocol)
        .on_connection_init(on_init)
        .serve();
    tokio::pin!(library);
    let mut library_done = false;

    let init_deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(init_deadline);
    let mut awaiting_init = true;
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + limits.keepalive, limits.keepalive);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Anything received since the last ping (the pong, or any other frame).
    let mut heard = true;
    // A message read from the client that the library has not taken yet.
    let mut unread: Option<Message> = None;

    loop {
        tokio::select! {
            // In this order: a pong already received counts before the next ping is due.
            biased;
            () = &mut library, if !library_done => library_done = true,
            outgoing = from_library.recv() => {
                // None: the library has finished and everything it said has been sent.
                let Some(mut message) = outgoing else { break };
                if let Message::Close(Some(frame)) = &mut message {
                    close_frame_for_client(frame, transport_ws, accepted.get().copied());
                }
                let closing = matches!(message, Message::Close(_));
                if !send(&mut socket, message, limits.keepalive).await || closing {
                    break;
                }
            }
            incoming = socket.recv(), if unread.is_none() => match incoming {
                Some(Ok(message)) => {
                    heard = true;
                    if let Message::Text(_) | Message::Binary(_) = message {
                        unread = Some(message);
                    }
                }
                // Gone, or closed by the client (tungstenite has answered its close frame).
                None | Some(Err(_)) => break,
            },
            place = to_library.reserve(), if unread.is_some() => {
                if let (Ok(place), Some(message)) = (place, unread.take()) {
                    place.send(message);
                }
            }
            () = &mut init_deadline, if awaiting_init => {
                awaiting_init = false;
                if accepted.get() != Some(&true) {
                    let close = close(4408, "Connection initialisation timeout".into());
                    send(&mut socket, close, limits.keepalive).await;
                    break;
                }
            }
            changed = ended.changed(), if watching => {
                if changed.is_err() {
                    // Never initialised: nothing watches the session.
                    watching = false;
                } else if *ended.borrow_and_update() {
                    tracing::debug!("subscription socket closed: its session has ended");
                    let close = close(4403, "Forbidden: the session has ended".into());
                    send(&mut socket, close, limits.keepalive).await;
                    break;
                }
            }
            _ = keepalive.tick() => {
                if !heard {
                    tracing::debug!("subscription socket dropped: the last ping went unanswered");
                    break;
                }
                heard = false;
                if !send(&mut socket, Message::Ping(Bytes::new()), limits.keepalive).await {
                    break;
                }
            }
        }
    }
}

/// Sends one frame; false when the socket is gone, or the client has not taken it within
/// `patience` (a client that stops reading holds no task for longer).
async fn send(socket: &mut WebSocket, message: Message, patience: Duration) -> bool {
    matches!(
        tokio::time::timeout(patience, socket.send(message)).await,
        Ok(Ok(()))
    )
}

fn close(code: u16, reason: Utf8Bytes) -> Message {
    Message::Close(Some(CloseFrame { code, reason }))
}

/// The close code graphql-transport-ws gives what the library closed the socket for, and a
/// reason short enough for a close frame. `accepted`: the outcome of `connection_init`, if any.
fn close_frame_for_client(frame: &mut CloseFrame, transport_ws: bool, accepted: Option<bool>) {
    if transport_ws {
        match (frame.code, accepted) {
            (1002, Some(false)) => {
                frame.code = 4403;
                frame.reason = "Forbidden".into();
            }
            (1002, _) => frame.code = 4400,
            (1011, _) => {
                frame.code = 4401;
                frame.reason = "Unauthorized".into();
            }
            _ => {}
        }
    }
    if frame.reason.len() > MAX_REASON_BYTES {
        let reason = frame.reason.as_str();
        let end = (0..=MAX_REASON_BYTES)
            .rev()
            .find(|&end| reason.is_char_boundary(end))
            .unwrap_or(0);
        frame.reason = reason[..end].to_owned().into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(code: u16, reason: &str) -> CloseFrame {
        CloseFrame {
            code,
            reason: reason.to_owned().into(),
        }
    }

    fn for_client(
        mut close: CloseFrame,
        transport_ws: bool,
        accepted: Option<bool>,
    ) -> (u16, String) {
        close_frame_for_client(&mut close, transport_ws, accepted);
        (close.code, close.reason.to_string())
    }

    #[test]
    fn the_legacy_protocol_keeps_the_library_codes() {
        let refused = frame(1002, "authentication required");
        assert_eq!(for_client(refused, false, Some(false)).0, 1002);
    }

    #[test]
    fn a_long_reason_is_cut_to_what_a_close_frame_holds_on_a_character_boundary() {
        let (_, reason) = for_client(frame(1002, &"é".repeat(100)), true, None);
        assert_eq!(reason.len(), 122);
        assert!(reason.chars().all(|c| c == 'é'));
    }
}
