//! Logging setup (human-readable in development, JSON in production; `RUST_LOG` filters) and
//! the Prometheus metrics recorder.
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
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
