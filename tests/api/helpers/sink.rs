//! A fake HTTP endpoint that keeps every body POSTed to one path: an OTLP collector or a
//! Sentry ingestion endpoint, for tests of what the server sends out.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;

type Bodies = Arc<Mutex<Vec<Bytes>>>;

pub struct Sink {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub port: u16,
    bodies: Bodies,
    server: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Listens on a free port; POSTs to `path` answer 200 with `reply`.
    pub async fn start(path: &str, reply: &'static str) -> Sink {
        let bodies = Bodies::default();
        let router = Router::new()
            .route(
                path,
                post(
                    move |State(bodies): State<Bodies>, body: Bytes| async move {
                        bodies.lock().expect("bodies").push(body);
                        reply
                    },
                ),
            )
            .with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Sink {
            base: format!("http://127.0.0.1:{port}"),
            port,
            bodies,
            server,
        }
    }

    pub fn bodies(&self) -> Vec<Bytes> {
        self.bodies.lock().expect("bodies").clone()
    }

    /// Waits until some body arrived, for at most `limit`.
    pub async fn wait_for_bodies(&self, limit: Duration) -> Vec<Bytes> {
        let deadline = Instant::now() + limit;
        loop {
            let bodies = self.bodies();
            if !bodies.is_empty() || Instant::now() >= deadline {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.abort();
    }
}
