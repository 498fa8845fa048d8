//! The HTTP surface: `/graphql`, `/health`, `/ready`, and the layers around them.
mod admission;
mod answer_errors;
mod browser;
mod client_ip;
mod compression;
mod cost;
mod execution;
mod exports;
mod files;
mod graphiql;
mod graphql;
mod graphql_get;
mod health;
mod idempotent;
mod multipart;
mod negotiation;
mod request_id;
mod session_refresh;
mod subscriptions;

pub use subscriptions::SocketCaps;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use sentry::SentryFutureExt;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, OnResponse, TraceLayer};
use tracing::Level;

use crate::config::{CorsOrigins, GraphqlLimits, WebSocketLimits};
use crate::db::DbPool;
use crate::graphql::documents::ParsedDocuments;
use crate::jobs::export_files::ExportFiles;
use crate::modules::audit::writer::AuditWriter;
use crate::modules::idempotency::service::IdempotencyService;
use crate::modules::job::service::JobService;
use crate::modules::registry::Services;
use crate::persisted::PersistedQueries;
use crate::schema::{AppSchema, Schemas};
use crate::shared::Shared;

/// Requests larger than this are refused with 413 before they are read further.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(super) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything the handlers share, behind one reference count: axum clones the state for every
/// handler and middleware a request passes through. Nothing in it is per-instance state that a
/// second instance would disagree with.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl From<AppParts> for AppState {
    fn from(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    pub schemas: Schemas,
    /// The schema behind `/graphql/ws`: subscriptions only.
    pub subscription_schema: AppSchema,
    /// For the per-request DataLoaders.
    pub services: Services,
    pub pool: DbPool,
    pub graphiql: bool,
    pub started_at: Instant,
    /// Redis, cache, events and rate limits.
    pub shared: Shared,
    pub trust_forwarded_for: bool,
    pub limits: GraphqlLimits,
    /// Init timeout and keepalive of the subscription sockets.
    pub websocket: WebSocketLimits,
    /// The subscription sockets this process holds open, against their caps.
    pub sockets: SocketCaps,
    pub cors_origins: CorsOrigins,
    /// Automatic persisted queries and the optional allow-list.
    pub persisted: Arc<PersistedQueries>,
    /// Whether `/metrics` is served here, beside the API; otherwise only [`metrics_router`]
    /// serves it, on `METRICS_ADDR`, or nothing does.
    pub metrics_on_api_port: bool,
    /// Stores what each request recorded in the audit trail.
    pub audit: AuditWriter,
    /// Parsed GraphQL documents by their text.
    pub documents: ParsedDocuments,
    /// For `GET /exports/{jobId}`: who may download which job's file.
    pub jobs: Arc<JobService>,
    pub exports: Arc<ExportFiles>,
    pub export_ttl: std::time::Duration,
    /// Errors go to Sentry, each tagged with its request's id.
    pub error_reports: bool,
    /// The first answers of mutations sent with an `Idempotency-Key`.
    pub idempotency: Arc<IdempotencyService>,
    /// The largest body `PUT /files/upload/{link}` takes: the larger of the kinds' limits.
    pub max_upload_bytes: usize,
    /// GraphQL multipart requests: how many files, how large each.
    pub multipart: async_graphql::http::MultipartOptions,
    /// The largest body `POST /graphql` takes: a multipart request's files, with room for the
    /// operation; a JSON body is held to `MAX_BODY_BYTES` by the handler.
    pub max_graphql_body_bytes: usize,
}

/// `/metrics` alone, for `METRICS_ADDR` (a port the load balancer does not expose).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(state)
}

fn request_id_of<B>(request: &Request<B>) -> &str {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

/// Gives each request a Sentry scope of its own, tagged with the request id: requests share
/// threads, so the process-wide scope would mix their tags.
async fn error_report_scope(request: Request<Body>, next: Next) -> Response {
    let hub = Arc::new(sentry::Hub::new_from_top(sentry::Hub::main()));
    let request_id = request_id_of(&request).to_owned();
    hub.configure_scope(|scope| scope.set_tag("request_id", request_id));
    next.run(request).bind_hub(hub).await
}

/// The application router, as served by `main` and exercised by the tests.
pub fn router(state: AppState) -> Router {
    let [cache_control, no_sniff, no_frames, no_referrer] = browser::security_headers();
    let mut router = Router::new();
    if state.metrics_on_api_port {
        router = router.route("/metrics", get(health::metrics));
    }
    if state.graphiql {
        router = router.route("/graphiql/{version}/{file}", get(graphiql::asset));
    }
    let mut graphql = get(graphql_get::graphql_get)
        .post(graphql::graphql_post)
        .layer(DefaultBodyLimit::max(state.max_graphql_body_bytes));
    if state.limits.max_concurrent > 0 {
        let admission =
            admission::Admission::new(state.limits.max_concurrent, state.limits.request_timeout);
        graphql = graphql.layer(middleware::from_fn_with_state(admission, admission::admit));
    }
    // One stack, applied once: each `Router::layer` call boxes every route again, and a request
    // clones its route's boxes one by one (eleven layers were 55 clones and 67 allocations per
    // request). Outermost first.
    let layers = ServiceBuilder::new()
        .layer(middleware::from_fn(request_id::set_aside_client_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    // The path only: a GET query string can carry personal data in variables.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %files::loggable_path(request.uri().path()),
                        request_id = %request_id_of(request),
                        client_request_id = request_id::client_id_of(request),
                        status = tracing::field::Empty,
                        otel.kind = "server",
                    )
                })
                .on_response(|response: &Response, latency, span: &tracing::Span| {
                    span.record("status", response.status().as_u16());
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .on_response(response, latency, span);
                }),
        )
        .option_layer(
            state
                .error_reports
                .then(|| middleware::from_fn(error_report_scope)),
        )
        .option_layer(browser::cors(&state.cors_origins))
        .layer(no_referrer)
        .layer(no_frames)
        .layer(no_sniff)
        .layer(cache_control)
        .option_layer(
            state
                .limits
                .compress_responses
                .then(|| middleware::from_fn(compression::compress_answers)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    router
        .route("/graphql", graphql)
        .route("/graphql/ws", get(subscriptions::graphql_ws))
        .route("/exports/{job_id}", get(exports::download))
        .route("/files/{link}", get(files::download))
        .route(
            "/files/upload/{link}",
            axum::routing::put(files::upload).layer(DefaultBodyLimit::max(state.max_upload_bytes)),
        )
        .route(
            "/auth/refresh",
            axum::routing::post(session_refresh::refresh),
        )
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .layer(layers)
        .with_state(state)
}
