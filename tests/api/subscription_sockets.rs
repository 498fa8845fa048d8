//! The sockets of `/graphql/ws` on a real server process: a socket must initialise in time,
//! refusals carry the graphql-transport-ws close codes, sockets are capped per client address
//! and in total, and idle initialised sockets are kept alive by WebSocket pings.
use std::time::{Duration, Instant};

use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::server::Server;
use crate::helpers::socket::{Frame, RawSocket};
use crate::on_every_backend;

/// Patience for what the server does within a few of the shortened intervals.
const WAIT: Duration = Duration::from_secs(10);

async fn a_socket_that_never_initialises_is_closed_with_4408(app: TestApp) {
    let server = Server::start(&app.database_url, &[("WS_INIT_TIMEOUT_MS", "300")]).await;
    let opened = Instant::now();
    let mut socket = RawSocket::open(&server.ws_url(), None).await.expect("open");
    let frame = socket.next_message().await;
    assert_eq!(
        frame,
        Frame::Closed(4408, "Connection initialisation timeout".into())
    );
    assert!(
        opened.elapsed() >= Duration::from_millis(300),
        "closed early"
    );
}

async fn a_refused_connection_init_closes_with_4403(app: TestApp) {
    let server = Server::start(&app.database_url, &[]).await;
    for payload in [json!({ "token": "not-a-token" }), json!({})] {
        let mut socket = RawSocket::open(&server.ws_url(), None).await.expect("open");
        socket
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let frame = socket.next_message().await;
        assert_eq!(frame, Frame::Closed(4403, "Forbidden".into()), "{payload}");
    }
}

async fn protocol_violations_close_with_the_protocol_codes(app: TestApp) {
    let server = Server::start(&app.database_url, &[]).await;
    let subscribe = json!({
        "id": "1", "type": "subscribe",
        "payload": { "query": "subscription { appointmentChanged { type } }" },
    });
    let mut early = RawSocket::open(&server.ws_url(), None).await.expect("open");
    early.send(subscribe).await;
    assert_eq!(
        early.next_message().await,
        Frame::Closed(4401, "Unauthorized".into())
    );

    let mut garbled = RawSocket::open(&server.ws_url(), None).await.expect("open");
    garbled.send(json!({ "type": "hello" })).await;
    match garbled.next_message().await {
        Frame::Closed(4400, reason) => assert!(!reason.is_empty()),
        other => panic!("not closed with 4400: {other:?}"),
    }
}

/// Opens sockets from `from` until the server admits one (a closed socket is released as its
/// task ends, a moment after the client sees the close).
async fn admitted_again(server: &Server, from: &str) -> RawSocket {
    let deadline = Instant::now() + WAIT;
    loop {
        match RawSocket::open(&server.ws_url(), Some(from)).await {
            Ok(socket) => return socket,
            Err(refused) => assert!(Instant::now() < deadline, "still refused: {refused:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sockets_beyond_the_per_address_cap_are_refused_until_one_ends(app: TestApp) {
    let env = [
        ("TRUST_FORWARDED_FOR", "true"),
        ("WS_MAX_CONNECTIONS_PER_IP", "2"),
        ("WS_MAX_CONNECTIONS", "100"),
    ];
    let server = Server::start(&app.database_url, &env).await;
    let token = app.token(Role::Admin).await;
    let (a, b) = ("198.51.100.7", "198.51.100.8");
    let mut first = RawSocket::open(&server.ws_url(), Some(a))
        .await
        .expect("1st");
    first.init(&token).await;
    let second = RawSocket::open(&server.ws_url(), Some(a))
        .await
        .expect("2nd");

    let refused = RawSocket::open(&server.ws_url(), Some(a))
        .await
        .err()
        .expect("the third from one address is refused");
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"], "TOO_MANY_CONNECTIONS",
        "{refused:?}"
    );
    // Another address has its own allowance.
    let other = RawSocket::open(&server.ws_url(), Some(b)).await;
    assert!(other.is_ok(), "{:?}", other.err());

    // A socket closed by its client frees its place, and so does one that just vanishes.
    first.close().await;
    let third = admitted_again(&server, a).await;
    drop(second);
    let fourth = admitted_again(&server, a).await;
    drop((third, fourth));
}

async fn sockets_beyond_the_total_cap_are_refused_until_one_ends(app: TestApp) {
    let env = [
        ("TRUST_FORWARDED_FOR", "true"),
        ("WS_MAX_CONNECTIONS_PER_IP", "2"),
        ("WS_MAX_CONNECTIONS", "3"),
        ("WS_INIT_TIMEOUT_MS", "1000"),
    ];
    let server = Server::start(&app.database_url, &env).await;
    let token = app.token(Role::Admin).await;
    let mut held = Vec::new();
    for from in ["198.51.100.1", "198.51.100.1", "198.51.100.2"] {
        let mut socket = RawSocket::open(&server.ws_url(), Some(from))
            .await
            .expect("below the cap");
        socket.init(&token).await;
        held.push(socket);
    }
    let refused = RawSocket::open(&server.ws_url(), Some("198.51.100.3"))
        .await
        .err()
        .expect("the fourth socket is refused");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"], "OVERLOADED",
        "{refused:?}"
    );

    // One closed by the server (it never initialises: 4408) frees its place too.
    held.pop().expect("held").close().await;
    let mut silent = admitted_again(&server, "198.51.100.3").await;
    assert!(matches!(
        silent.next_message().await,
        Frame::Closed(4408, _)
    ));
    drop(silent);
    let _admitted = admitted_again(&server, "198.51.100.4").await;
}

async fn an_idle_initialised_socket_is_kept_alive_by_pings(app: TestApp) {
    let env = [("WS_INIT_TIMEOUT_MS", "500"), ("WS_KEEPALIVE_MS", "400")];
    let server = Server::start(&app.database_url, &env).await;
    let token = app.token(Role::Admin).await;
    let mut socket = RawSocket::open(&server.ws_url(), None).await.expect("open");
    socket.init(&token).await;

    // Several init timeouts and keepalive intervals pass; reading answers each ping.
    let idle_until = Instant::now() + Duration::from_secs(2);
    let mut pings = 0;
    while let Some(frame) = socket
        .next_within(idle_until.saturating_duration_since(Instant::now()))
        .await
    {
        assert_eq!(frame, Frame::Ping, "an idle socket only gets pings");
        pings += 1;
    }
    assert!(pings >= 3, "{pings} pings in 2 s at a 400 ms interval");
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next_message().await,
        Frame::Json(json!({ "type": "pong" }))
    );
}

async fn a_peer_that_stops_answering_pings_is_dropped(app: TestApp) {
    let env = [
        ("WS_KEEPALIVE_MS", "200"),
        ("WS_MAX_CONNECTIONS_PER_IP", "1"),
    ];
    let server = Server::start(&app.database_url, &env).await;
    let token = app.token(Role::Admin).await;
    let mut socket = RawSocket::open(&server.ws_url(), None).await.expect("open");
    socket.init(&token).await;

    // Not reading: the pings go unanswered.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut frames = Vec::new();
    loop {
        match socket.next_within(WAIT).await {
            Some(Frame::Ping) => frames.push(Frame::Ping),
            Some(Frame::Ended) => break,
            other => panic!("ended otherwise after {frames:?}: {other:?}"),
        }
    }
    // Its place is free again.
    let deadline = Instant::now() + WAIT;
    while let Err(refused) = RawSocket::open(&server.ws_url(), None).await {
        assert!(Instant::now() < deadline, "still refused: {refused:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_every_backend!(
    a_socket_that_never_initialises_is_closed_with_4408,
    a_refused_connection_init_closes_with_4403,
    protocol_violations_close_with_the_protocol_codes,
    sockets_beyond_the_per_address_cap_are_refused_until_one_ends,
    sockets_beyond_the_total_cap_are_refused_until_one_ends,
    an_idle_initialised_socket_is_kept_alive_by_pings,
    a_peer_that_stops_answering_pings_is_dropped,
);
