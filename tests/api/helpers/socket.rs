//! A graphql-transport-ws peer written frame by frame, for what the npm client never does:
//! stay silent, send garbage, hold sockets open, stop answering pings.
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// Longer than anything a test waits for: a socket silent this long is a failure.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the server sent next.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Json(Value),
    Ping,
    Closed(u16, String),
    /// The connection ended without a close frame.
    Ended,
}

/// The answer to an upgrade the server refused.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

pub struct RawSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl RawSocket {
    /// Opens a socket speaking graphql-transport-ws; `from` is sent as `X-Forwarded-For`.
    pub async fn open(url: &str, from: Option<&str>) -> Result<RawSocket, Refused> {
        let mut request = url.into_client_request().expect("a ws:// URL");
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        if let Some(from) = from {
            headers.insert("x-forwarded-for", from.parse().expect("header"));
        }
        match connect_async(request).await {
            Ok((ws, _)) => Ok(RawSocket { ws }),
            Err(Error::Http(response)) => Err(Refused {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_deref()
                    .and_then(|body| serde_json::from_slice(body).ok())
                    .unwrap_or(Value::Null),
            }),
            Err(error) => panic!("no WebSocket: {error}"),
        }
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("sent");
    }

    /// Sends `connection_init` with `token` and waits for the acknowledgement.
    pub async fn init(&mut self, token: &str) {
        self.send(json!({ "type": "connection_init", "payload": { "token": token } }))
            .await;
        match self.next_message().await {
            Frame::Json(ack) if ack["type"] == "connection_ack" => {}
            other => panic!("not acknowledged: {other:?}"),
        }
    }

    /// The next frame, or `None` when nothing came `within`. Reading also sends the pong that
    /// answers a ping received earlier (tungstenite queues it).
    pub async fn next_within(&mut self, within: Duration) -> Option<Frame> {
        let frame = tokio::time::timeout(within, self.ws.next()).await.ok()?;
        Some(match frame {
            Some(Ok(Message::Text(text))) => {
                Frame::Json(serde_json::from_str(&text).expect("JSON from the server"))
            }
            Some(Ok(Message::Ping(_))) => Frame::Ping,
            Some(Ok(Message::Close(Some(close)))) => {
                Frame::Closed(close.code.into(), close.reason.to_string())
            }
            Some(Ok(Message::Close(None))) => Frame::Closed(1005, String::new()),
            Some(Ok(other)) => panic!("unexpected frame: {other:?}"),
            None | Some(Err(_)) => Frame::Ended,
        })
    }

    /// The next frame other than a ping.
    pub async fn next_message(&mut self) -> Frame {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left).await {
                Some(Frame::Ping) => continue,
                Some(frame) => return frame,
                None => panic!("nothing from the server within {PATIENCE:?}"),
            }
        }
    }

    /// Closes the socket as a client does (close frame, then waiting for the server's).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, self.ws.next()).await {}
    }
}
