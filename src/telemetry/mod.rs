//! Logging (human-readable in development, JSON in production; `RUST_LOG` filters), spans
//! exported over OTLP and errors reported to Sentry when they are configured, and the
//! Prometheus metrics recorder.
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};

mod error_reports;
mod otlp;

pub use error_reports::scrub;

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// What must outlive the process's work: dropping it sends the spans and error events still
/// buffered, which would otherwise be lost at exit.
#[must_use = "dropping it stops exporting spans and reporting errors"]
pub struct Telemetry {
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    _errors: Option<sentry::ClientInitGuard>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("exporting the last spans failed: {error}");
        }
    }
}

/// Installs the subscriber: logs always, OTLP spans and Sentry events when configured. Call it
/// outside the async runtime: the exporters start threads of their own and block when the
/// returned guard flushes them.
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    install_crypto_provider();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let logs: BoxedLayer = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_filter(filter).boxed(),
    };
    let mut layers = vec![logs];
    let tracer = match &config.observability.otlp_endpoint {
        Some(endpoint) => {
            let provider = otlp::tracer_provider(endpoint, &config.observability, config.env)?;
            layers.push(otlp::layer(&provider));
            Some(provider)
        }
        None => None,
    };
    let errors = error_reports::init(config);
    if errors.is_some() {
        layers.push(error_reports::layer());
    }
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(Telemetry {
        tracer,
        _errors: errors,
    })
}

/// TLS for the OTLP and Sentry transports (and any other HTTPS client in the process) uses
/// rustls with ring; reqwest refuses to build a client until a provider is chosen.
pub fn install_crypto_provider() {
    // An error means a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Histogram samples pile up in the recorder until they are drained: without this, memory
/// would grow with every request whenever nothing scrapes `/metrics`.
fn start_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(error) = started {
        tracing::warn!(%error, "metrics upkeep not started");
    }
}

/// Histogram buckets, in seconds: from a cached read (well under a millisecond) to the request
/// time limit.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's Prometheus recorder, installed on first use; `None` if another recorder was
/// installed first (an embedding application's). Every instance of the app in this process
/// (tests run several) reports through the same one.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            match PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .and_then(|builder| builder.install_recorder())
            {
                Ok(handle) => {
                    start_upkeep(handle.clone());
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}
