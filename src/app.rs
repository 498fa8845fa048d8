//! Wiring: services into the schema and router (the registries, `modules::registry`, build the
//! repositories and services).
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::db::DbPool;
use crate::graphql::documents::ParsedDocuments;
use crate::http::{AppParts, AppState, SocketCaps};
use crate::jobs::export_files::ExportFiles;
use crate::modules::idempotency::repository::DieselIdempotencyRepository;
use crate::modules::idempotency::service::IdempotencyService;
use crate::modules::registry::Services;
use crate::persisted::PersistedQueries;
use crate::schema::{SchemaSettings, Schemas, build_subscription_schema};
use crate::shared::Shared;

/// Connections of the audit writer's pool: it writes one batch at a time, and a second
/// connection serves `auditEvents` reads meanwhile.
pub const AUDIT_POOL_SIZE: u32 = 2;

/// Connections of the sessions' pool (`Repositories::with_session_pool`): primary-key reads,
/// at most one per active session per second, and a login's two writes.
pub const SESSION_POOL_SIZE: u32 = 4;

/// The state the router serves from.
pub fn app_state(config: &Config, pool: DbPool, services: &Services, shared: &Shared) -> AppState {
    let settings = SchemaSettings {
        suggestions: !config.is_production(),
        limits: config.limits,
        resolver_spans: config.observability.otlp_endpoint.is_some(),
        execution: config.graphql_execution,
    };
    let idempotency = IdempotencyService::new(Arc::new(DieselIdempotencyRepository::new(
        pool.clone(),
        services.keys.clone(),
    )));
    let multipart_file_bytes =
        usize::try_from(config.files.multipart_max_bytes).unwrap_or(usize::MAX);
    AppParts {
        schemas: Schemas::build(services, settings),
        subscription_schema: build_subscription_schema(services, settings),
        services: services.clone(),
        pool,
        graphiql: config.graphiql,
        started_at: Instant::now(),
        shared: shared.clone(),
        trust_forwarded_for: config.shared.limits.trust_forwarded_for,
        limits: config.limits,
        websocket: config.websocket,
        sockets: SocketCaps::new(&config.websocket),
        cors_origins: config.cors_origins.clone(),
        metrics_on_api_port: config.metrics_on_api_port,
        audit: services.audit_writer.clone(),
        documents: ParsedDocuments::default(),
        jobs: services.jobs.clone(),
        exports: Arc::new(ExportFiles::new(
            config.jobs.export_dir.clone(),
            services.storage.clone(),
        )),
        export_ttl: config.jobs.export_ttl,
        error_reports: config.observability.sentry_dsn.is_some(),
        persisted: Arc::new(PersistedQueries::new(
            shared.redis.clone(),
            config.persisted_allow_list.as_deref().cloned(),
        )),
        idempotency: Arc::new(idempotency),
        max_upload_bytes: usize::try_from(
            config
                .files
                .photo_max_bytes
                .max(config.files.document_max_bytes),
        )
        .unwrap_or(usize::MAX),
        multipart: async_graphql::http::MultipartOptions::default()
            .max_num_files(config.files.multipart_max_files)
            .max_file_size(multipart_file_bytes),
        max_graphql_body_bytes: multipart_file_bytes
            .saturating_mul(config.files.multipart_max_files)
            .saturating_add(crate::http::MAX_BODY_BYTES)
            .max(crate::http::MAX_BODY_BYTES),
    }
    .into()
}
