//! At most `MAX_CONCURRENT_REQUESTS` GraphQL requests run at once; the others wait for their
//! turn in arrival order.
//!
//! Once the cores and the database pool are busy, running more requests at once answers no
//! more of them per second: they only take turns at every step (the pool, the scheduler,
//! PostgreSQL), and whichever loses the most turns waits longest. Waiting first, in order,
//! gives the same throughput with a far shorter tail.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

/// The permits of the running requests; tokio's semaphore serves waiters first come, first
/// served.
#[derive(Clone)]
pub struct Admission(Arc<Semaphore>);

impl Admission {
    pub fn new(max_concurrent: usize) -> Self {
        Self(Arc::new(Semaphore::new(max_concurrent)))
    }
}

pub async fn admit(
    State(admission): State<Admission>,
    request: Request<Body>,
    next: Next,
) -> Response {
    // The semaphore is never closed, so acquiring only waits.
    let _running = admission.0.acquire().await;
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// A router whose handler counts its starts, then waits for a permit of `gate`.
    fn gated(limit: usize, started: Arc<AtomicUsize>, gate: Arc<Semaphore>) -> Router {
        let handler = move || {
            let (started, gate) = (started.clone(), gate.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                gate.acquire().await.expect("open gate").forget();
                "done"
            }
        };
        Router::new()
            .route("/", get(handler))
            .layer(axum::middleware::from_fn_with_state(
                Admission::new(limit),
                admit,
            ))
    }

    async fn until(what: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !what() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("in time");
    }

    #[tokio::test]
    async fn requests_beyond_the_limit_wait_until_a_running_one_answers() {
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let router = gated(2, started.clone(), gate.clone());
        let send = || {
            let router = router.clone();
            tokio::spawn(async move {
                let request = Request::get("/").body(Body::empty()).expect("request");
                router.oneshot(request).await.expect("infallible").status()
            })
        };
        let requests: Vec<_> = (0..3).map(|_| send()).collect();
        until(|| started.load(Ordering::SeqCst) == 2).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(started.load(Ordering::SeqCst), 2, "the third waits");

        gate.add_permits(1);
        until(|| started.load(Ordering::SeqCst) == 3).await;
        gate.add_permits(2);
        for request in requests {
            assert_eq!(request.await.expect("joined"), 200);
        }
    }
}
