//! Spans to an OpenTelemetry collector over OTLP/HTTP (protobuf), batched on the SDK's own
//! thread.
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;

use super::BoxedLayer;
use crate::config::{AppEnv, ObservabilityConfig};

/// The collector's traces endpoint under `OTEL_EXPORTER_OTLP_ENDPOINT`, as the OTLP spec
/// builds it.
fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

pub(super) fn tracer_provider(
    endpoint: &str,
    config: &ObservabilityConfig,
    env: AppEnv,
) -> anyhow::Result<SdkTracerProvider> {
    // Headers (OTEL_EXPORTER_OTLP_HEADERS), timeout and batch sizes (OTEL_BSP_*) are read from
    // the environment by the exporter and the SDK themselves.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .build()?;
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("deployment.environment.name", env.name()),
        ])
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Our own spans (the request at info; the operation, its resolvers and SQL statements at debug,
/// so they cost nothing while only logs are written) and the
/// HTTP layer's response events; nothing from other crates, whose fields we have not checked
/// for personal data and whose HTTP clients include the exporter's own (its spans would be
/// exported in turn).
pub(super) fn layer(provider: &SdkTracerProvider) -> BoxedLayer {
    let filter = Targets::new()
        .with_target("clinicgraph", Level::DEBUG)
        .with_target("tower_http", Level::INFO);
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("clinicgraph"))
        .with_filter(filter)
        .boxed()
}
