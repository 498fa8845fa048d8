//! How many subscription sockets this process holds open, per client address and in all.
//!
//! Each open socket holds a [`SocketPermit`]; dropping it gives the place back, so a socket
//! that ends in any way (closed by either side, cut off, its task ended by a panic or a failed
//! upgrade) is no longer counted. The counts are this process's own: each instance behind a
//! load balancer applies the caps to the sockets it holds.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::WebSocketLimits;

/// Why a socket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address has `max_per_address` sockets open.
    AddressFull,
    /// The process has `max_total` sockets open.
    ProcessFull,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Only addresses with sockets open: an entry is removed with its last socket.
    by_address: HashMap<IpAddr, usize>,
}

/// The open sockets, shared by the handler and every permit.
#[derive(Clone)]
pub struct SocketCaps {
    counts: Arc<Mutex<Counts>>,
    max_per_address: usize,
    max_total: usize,
}

impl SocketCaps {
    pub fn new(limits: &WebSocketLimits) -> Self {
        Self {
            counts: Arc::default(),
            max_per_address: limits.max_per_address,
            max_total: limits.max_total,
        }
    }

    /// A place for one more socket from `address`, unless a cap is reached.
    pub fn admit(&self, address: IpAddr) -> Result<SocketPermit, Refusal> {
        let mut counts = lock(&self.counts);
        let from_address = counts.by_address.get(&address).copied().unwrap_or(0);
        if from_address >= self.max_per_address {
            return Err(Refusal::AddressFull);
        }
        if counts.total >= self.max_total {
            return Err(Refusal::ProcessFull);
        }
        counts.total += 1;
        counts.by_address.insert(address, from_address + 1);
        metrics::gauge!("graphql_ws_connections").set(counts.total as f64);
        Ok(SocketPermit {
            counts: self.counts.clone(),
            address,
        })
    }
}

/// The counts stay consistent even if a thread panicked while holding the lock: every update
/// is complete before anything that could panic.
fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    counts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One open socket's place; given back when dropped.
pub struct SocketPermit {
    counts: Arc<Mutex<Counts>>,
    address: IpAddr,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(open) = counts.by_address.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                counts.by_address.remove(&self.address);
            }
        }
        metrics::gauge!("graphql_ws_connections").set(counts.total as f64);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn caps(max_per_address: usize, max_total: usize) -> SocketCaps {
        SocketCaps::new(&WebSocketLimits {
            init_timeout: Duration::from_secs(1),
            keepalive: Duration::from_secs(1),
            max_per_address,
            max_total,
        })
    }

    #[test]
    fn a_dropped_permit_gives_its_place_back_and_forgets_an_idle_address() {
        let caps = caps(1, 2);
        let a: IpAddr = "192.0.2.1".parse().expect("address");
        let b: IpAddr = "192.0.2.2".parse().expect("address");
        let first = caps.admit(a).expect("admitted");
        assert_eq!(caps.admit(a).err(), Some(Refusal::AddressFull));
        let second = caps.admit(b).expect("another address");
        let c: IpAddr = "192.0.2.3".parse().expect("address");
        assert_eq!(caps.admit(c).err(), Some(Refusal::ProcessFull));

        drop(first);
        assert!(!lock(&caps.counts).by_address.contains_key(&a));
        let _again = caps.admit(a).expect("admitted again");
        drop(second);
        assert_eq!(lock(&caps.counts).total, 1);
    }
}
