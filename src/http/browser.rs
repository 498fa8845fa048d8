//! What browsers and proxies are told: which origins may call (CORS), that responses must not be
//! cached or sniffed, and compressed bodies for large answers.
use std::time::Duration;

use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY, RETRY_AFTER,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, Version};
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::REQUEST_ID;
use crate::config::CorsOrigins;

/// Responses smaller than this are sent as they are: compressing them costs more than it saves.
const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// CORS for the configured origins; `None` when no origin is configured (same-origin only).
pub fn cors(origins: &CorsOrigins) -> Option<CorsLayer> {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION, REQUEST_ID])
        .expose_headers([REQUEST_ID, RETRY_AFTER])
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

/// Compression of large answers; `enabled: false` when a proxy in front already compresses.
pub fn compression(enabled: bool) -> CompressionLayer<impl Predicate> {
    let switch = move |_: StatusCode, _: Version, _: &HeaderMap, _: &Extensions| enabled;
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        // The libraries' defaults aim at the smallest size (brotli's is its slowest level, 11);
        // level 4 keeps most of the saving for a fraction of the CPU on every large answer.
        .quality(CompressionLevel::Precise(4))
        .compress_when(
            DefaultPredicate::new()
                .and(SizeAbove::new(COMPRESS_ABOVE_BYTES))
                .and(switch),
        )
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
