//! What browsers and proxies are told: which origins may call (CORS), that responses must not be
//! cached or sniffed.
use std::time::Duration;

use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY, RETRY_AFTER,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::REQUEST_ID;
use super::idempotent::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use crate::config::CorsOrigins;

/// CORS for the configured origins; `None` when no origin is configured (same-origin only).
pub fn cors(origins: &CorsOrigins) -> Option<CorsLayer> {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            CONTENT_TYPE,
            AUTHORIZATION,
            REQUEST_ID,
            IDEMPOTENCY_KEY,
            // What Apollo Client sends when given a name and version, and the preflight
            // headers of the Apollo CSRF and multipart conventions.
            HeaderName::from_static("apollographql-client-name"),
            HeaderName::from_static("apollographql-client-version"),
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
        ])
        .expose_headers([REQUEST_ID, RETRY_AFTER, IDEMPOTENT_REPLAYED])
        .max_age(Duration::from_secs(600));
    match origins {
        CorsOrigins::None => None,
        CorsOrigins::Any => Some(layer.allow_origin(AllowOrigin::any())),
        CorsOrigins::List(list) => {
            let origins: Vec<HeaderValue> = list
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok())
                .collect();
            Some(
                layer
                    .allow_origin(AllowOrigin::list(origins))
                    .allow_credentials(true),
            )
        }
    }
}

/// Health data must not sit in shared caches, and no response is to be sniffed or framed.
pub fn security_headers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    [
        SetResponseHeaderLayer::if_not_present(CACHE_CONTROL, HeaderValue::from_static("no-store")),
        SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::overriding(X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}
