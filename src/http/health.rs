//! Liveness and readiness probes.
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::redis::RedisHealth;

const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (open, idle) = state.pool.usage();
    metrics::gauge!("db_pool_connections").set(f64::from(open));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(idle));
    // Read at scrape time from the jobs' rows, which every instance and worker shares.
    match state.services.jobs.waiting().await {
        Ok(waiting) => metrics::gauge!("job_queue_depth").set(waiting as f64),
        Err(error) => tracing::warn!(%error, "counting waiting jobs for /metrics"),
    }
    // Likewise each clinic's stored files, beside the quota they are held to.
    let files = &state.services.files;
    metrics::gauge!("files_clinic_quota_bytes").set(files.quota() as f64);
    match files.usage_per_clinic().await {
        Ok(usage) => {
            for (clinic, bytes) in usage {
                metrics::gauge!("files_clinic_bytes", "clinic" => clinic.to_string())
                    .set(bytes as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "adding up clinics' files for /metrics"),
    }
    match crate::telemetry::metrics() {
        Some(handle) => (
            [(CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The process is up.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": state.started_at.elapsed().as_secs(),
    }))
}

/// The process can serve: its database answers. Redis, when configured, is reported but does
/// not decide readiness: without it requests fall back to the database ("degraded").
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.pool.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(format!("{error}")),
        Err(_) => Some("timed out".to_owned()),
    };
    let redis = match &state.shared.redis {
        None => None,
        Some(redis) => Some(match redis.health().await {
            RedisHealth::Ok => "ok",
            RedisHealth::Degraded => "degraded",
        }),
    };
    match database {
        None => {
            let mut checks = json!({ "database": "ok" });
            let mut status = "ready";
            if let Some(redis) = redis {
                checks["redis"] = json!(redis);
                if redis != "ok" {
                    status = "degraded";
                }
            }
            // Without the relay, subscribers here miss changes made on other instances.
            if let Some(relaying) = state.shared.events.relaying() {
                checks["events"] = json!(if relaying { "ok" } else { "degraded" });
                if !relaying {
                    status = "degraded";
                }
            }
            (
                StatusCode::OK,
                Json(json!({ "status": status, "checks": checks })),
            )
        }
        Some(problem) => {
            tracing::warn!(%problem, "readiness check failed: database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "failing": ["database"],
                    "checks": { "database": "unavailable" },
                })),
            )
        }
    }
}
