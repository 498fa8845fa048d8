//! At most `MAX_CONCURRENT_REQUESTS` GraphQL requests run at once; the others wait for their
//! turn in arrival order.
//!
//! Once the cores and the database pool are busy, running more requests at once answers no
//! more of them per second; each running request only holds its memory longer. The limit bounds
//! what a burst can start. (It is not what keeps the latency tail short: database checkouts are
//! served in arrival order, `db::pool`.)
//!
//! A request that waits longer than a query may run (`REQUEST_TIMEOUT_MS`) is turned away
//! with 503 and `OVERLOADED` before anything of it runs, so an overloaded server answers
//! rather than letting clients hang.
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// The permits of the running requests (tokio's semaphore serves waiters first come, first
/// served), and how long a request may wait for one.
#[derive(Clone)]
pub struct Admission {
    running: Arc<Semaphore>,
    max_wait: Duration,
}

impl Admission {
    pub fn new(max_concurrent: usize, max_wait: Duration) -> Self {
        Self {
            running: Arc::new(Semaphore::new(max_concurrent)),
            max_wait,
        }
    }
}

pub async fn admit(
    State(admission): State<Admission>,
    request: Request<Body>,
    next: Next,
) -> Response {
    match tokio::time::timeout(admission.max_wait, admission.running.acquire()).await {
        // The permit is held until the answer is complete.
        Ok(_running) => next.run(request).await,
        Err(_) => overloaded(&request, admission.max_wait),
    }
}

fn overloaded(request: &Request<Body>, waited: Duration) -> Response {
    metrics::counter!("graphql_overloaded_total").increment(1);
    tracing::warn!(
        waited_ms = waited.as_millis() as u64,
        "request turned away: no turn within the time limit"
    );
    let message = "the server is busy; nothing was run, try again shortly";
    let body = super::execution::problem_body("OVERLOADED", message, super::request_id_of(request));
    let headers = [(RETRY_AFTER, "1"), (CONTENT_TYPE, "application/json")];
    (StatusCode::SERVICE_UNAVAILABLE, headers, body.to_string()).into_response()
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
    fn gated(
        limit: usize,
        max_wait: Duration,
        started: Arc<AtomicUsize>,
        gate: Arc<Semaphore>,
    ) -> Router {
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
                Admission::new(limit, max_wait),
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
        let router = gated(2, Duration::from_secs(60), started.clone(), gate.clone());
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

    #[tokio::test]
    async fn a_request_that_waits_past_the_time_limit_is_turned_away_unrun() {
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let router = gated(1, Duration::from_millis(50), started.clone(), gate.clone());
        let first = tokio::spawn(
            router
                .clone()
                .oneshot(Request::get("/").body(Body::empty()).expect("request")),
        );
        until(|| started.load(Ordering::SeqCst) == 1).await;

        let second = router
            .oneshot(Request::get("/").body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(second.headers()[RETRY_AFTER], "1");
        let body = axum::body::to_bytes(second.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["errors"][0]["extensions"]["code"], "OVERLOADED");
        assert_eq!(started.load(Ordering::SeqCst), 1, "the second never ran");

        gate.add_permits(1);
        let first = first.await.expect("joined").expect("infallible");
        assert_eq!(first.status(), StatusCode::OK);
    }
}
