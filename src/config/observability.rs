//! Where traces and errors go: an OTLP collector and Sentry, each only when configured. Traces
//! go to the collector only; Sentry receives errors.
use secrecy::{ExposeSecret, SecretString};

use super::Reader;

#[derive(Debug, Clone)]
pub struct ObservabilityConfig {
    /// Base URL of an OTLP/HTTP collector (`/v1/traces` is appended); no spans are exported
    /// without it.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// A DSN's key lets anyone send events to the project: kept out of `Debug`.
    pub sentry_dsn: Option<SecretString>,
}

pub(super) fn read(r: &mut Reader<'_>) -> ObservabilityConfig {
    let otlp_endpoint = r.raw("OTEL_EXPORTER_OTLP_ENDPOINT").map(|url| {
        let url = url.trim().trim_end_matches('/').to_owned();
        if !is_http_url(&url) {
            r.problems.push(
                "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL (OTLP over HTTP)"
                    .into(),
            );
        }
        url
    });
    let service_name = r
        .raw("OTEL_SERVICE_NAME")
        .map_or_else(|| "clinicgraph".to_owned(), |name| name.trim().to_owned());
    let sentry_dsn = r
        .raw("SENTRY_DSN")
        .map(|dsn| SecretString::from(dsn.trim()));
    if let Some(dsn) = &sentry_dsn
        && let Err(error) = dsn.expose_secret().parse::<sentry::types::Dsn>()
    {
        r.problems.push(format!("SENTRY_DSN: {error}"));
    }
    ObservabilityConfig {
        otlp_endpoint,
        service_name,
        sentry_dsn,
    }
}

fn is_http_url(url: &str) -> bool {
    url.parse::<axum::http::Uri>()
        .is_ok_and(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use crate::config::tests::load;

    #[test]
    fn nothing_is_exported_unless_configured() {
        let config = load(&[]).expect("valid");
        assert!(config.observability.otlp_endpoint.is_none());
        assert!(config.observability.sentry_dsn.is_none());
        assert_eq!(config.observability.service_name, "clinicgraph");
    }

    #[test]
    fn endpoints_are_read_and_checked() {
        let config = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_SERVICE_NAME", "clinicgraph-eu"),
            ("SENTRY_DSN", "https://key@o1.ingest.example.org/7"),
        ])
        .expect("valid");
        let observability = config.observability;
        assert_eq!(
            observability.otlp_endpoint.as_deref(),
            Some("http://collector:4318")
        );
        assert_eq!(observability.service_name, "clinicgraph-eu");
        assert_eq!(
            observability.sentry_dsn.expect("dsn").expose_secret(),
            "https://key@o1.ingest.example.org/7"
        );

        let errors = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("SENTRY_DSN", "not a dsn"),
        ])
        .unwrap_err()
        .to_string();
        assert!(errors.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{errors}");
        assert!(errors.contains("SENTRY_DSN"), "{errors}");
    }
}
