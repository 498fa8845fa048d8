//! A TCP proxy in front of the test Redis that a test can cut (Redis "down": connections
//! dropped, new ones refused), stall (Redis "slow": connections accepted, nothing answered) and
//! restore, without touching the Redis other tests share. It forwards any TCP service
//! ([`RedisProxy::forward`]): in front of PostgreSQL, a cut is a restart.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const UP: u8 = 0;
const DOWN: u8 = 1;
const STALLED: u8 = 2;

pub struct RedisProxy {
    pub url: String,
    /// Where the proxy listens.
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    changed: watch::Sender<u8>,
}

impl RedisProxy {
    /// Proxies to the Redis of `target_url` (`redis://host:port[/db]`).
    pub async fn start(target_url: &str) -> RedisProxy {
        let authority = target_url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .expect("host:port");
        Self::forward(authority).await
    }

    /// Proxies to the TCP service at `authority` (`host:port`).
    pub async fn forward(authority: &str) -> RedisProxy {
        let authority = authority.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let url = format!("redis://{addr}");
        let mode = Arc::new(AtomicU8::new(UP));
        let (changed, _) = watch::channel(UP);
        let proxy = RedisProxy {
            url,
            addr,
            mode: mode.clone(),
            changed: changed.clone(),
        };
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                match mode.load(Ordering::SeqCst) {
                    DOWN => drop(client),
                    STALLED => {
                        // Held open, never answered, until the mode changes.
                        let mut watcher = changed.subscribe();
                        tokio::spawn(async move {
                            let _ = watcher.changed().await;
                            drop(client);
                        });
                    }
                    _ => {
                        let authority = authority.clone();
                        let mut watcher = changed.subscribe();
                        tokio::spawn(async move {
                            let Ok(mut upstream) = TcpStream::connect(&authority).await else {
                                return;
                            };
                            // Any mode change cuts live connections, as a Redis restart would.
                            tokio::select! {
                                _ = copy_bidirectional(&mut client, &mut upstream) => {}
                                _ = watcher.changed() => {}
                            }
                        });
                    }
                }
            }
        });
        proxy
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.changed.send_replace(mode);
    }

    pub fn cut(&self) {
        self.set(DOWN);
    }

    pub fn stall(&self) {
        self.set(STALLED);
    }

    pub fn restore(&self) {
        self.set(UP);
    }
}
