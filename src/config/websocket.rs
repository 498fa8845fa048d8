//! Limits on the subscription sockets of `/graphql/ws`, held by each instance on its own.
use std::time::Duration;

use super::Reader;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketLimits {
    /// A socket that has not been acknowledged (`connection_init` with a valid token) this long
    /// after opening is closed with 4408.
    pub init_timeout: Duration,
    /// How often the server pings each socket; one that sent nothing since the previous ping,
    /// not even the pong, is dropped.
    pub keepalive: Duration,
    /// Sockets open at once from one client address (see `TRUST_FORWARDED_FOR`).
    pub max_per_address: usize,
    /// Sockets open at once in this process.
    pub max_total: usize,
}

/// Milliseconds read from `name`, refused outside `range`.
fn millis(r: &mut Reader<'_>, name: &str, default: u64, range: (u64, u64)) -> Duration {
    let value = r.parsed(name, default);
    if !(range.0..=range.1).contains(&value) {
        r.problems.push(format!(
            "{name}: must be between {} and {}",
            range.0, range.1
        ));
    }
    Duration::from_millis(value)
}

pub(super) fn read(r: &mut Reader<'_>) -> WebSocketLimits {
    // graphql-ws's own server waits 3 s for `connection_init` and pings every 12 s.
    let init_timeout = millis(r, "WS_INIT_TIMEOUT_MS", 3_000, (100, 60_000));
    let keepalive = millis(r, "WS_KEEPALIVE_MS", 12_000, (100, 600_000));
    let max_per_address = r.parsed("WS_MAX_CONNECTIONS_PER_IP", 100_usize);
    let max_total = r.parsed("WS_MAX_CONNECTIONS", 10_000_usize);
    for (name, value) in [
        ("WS_MAX_CONNECTIONS_PER_IP", max_per_address),
        ("WS_MAX_CONNECTIONS", max_total),
    ] {
        if value == 0 {
            r.problems.push(format!("{name}: must be at least 1"));
        }
    }
    if max_per_address > max_total {
        r.problems
            .push("WS_MAX_CONNECTIONS_PER_IP: must not be more than WS_MAX_CONNECTIONS".into());
    }
    WebSocketLimits {
        init_timeout,
        keepalive,
        max_per_address,
        max_total,
    }
}
