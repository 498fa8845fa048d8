//! The GraphiQL page, served from the binary: a clinic network may have no internet, so its
//! scripts and styles cannot come from a CDN. They are the published packages' own browser
//! builds (graphiql 4.1.2, react and react-dom 18.3.1, pinned in `assets/graphiql/`, copied
//! there with their licences by `assets/graphiql/update`), under a path that names their
//! content, so that browsers may keep them for a year.
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One served file: its name under the assets path, media type and content.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

macro_rules! asset {
    ($name:literal, $media_type:expr) => {
        Asset {
            name: $name,
            media_type: $media_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const ASSETS: [Asset; 8] = [
    asset!("react.production.min.js", JAVASCRIPT),
    asset!("react-dom.production.min.js", JAVASCRIPT),
    asset!("graphiql.min.js", JAVASCRIPT),
    asset!("graphiql.min.css", CSS),
    asset!("start.js", JAVASCRIPT),
    asset!("LICENSE.graphiql", TEXT),
    asset!("LICENSE.react", TEXT),
    asset!("LICENSE.react-dom", TEXT),
];

/// Names the assets' content: a new build of them is a new path, never a stale cached file.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in &ASSETS {
        hash.update(asset.name.as_bytes());
        hash.update(asset.bytes);
    }
    hash.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
});

/// What the page may load and do. Everything comes from this server; each other allowance is
/// one the page cannot work without:
/// - `style-src 'self'`: graphiql.min.css. React and the editor set element styles through the
///   CSSOM, which the policy does not restrict, so no `'unsafe-inline'`.
/// - `font-src data:` and `img-src data:`: graphiql.min.css embeds its fonts and its few icons
///   as `data:` URLs; the page's empty icon is one too (no request for `/favicon.ico`).
/// - `connect-src 'self'`: queries to `/graphql` and subscriptions to `/graphql/ws` (a
///   same-origin WebSocket matches `'self'`).
/// - No `frame-ancestors` but `'none'`: the page is never framed (clickjacking).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    font-src data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// `GET /graphql` from a browser.
pub fn page() -> Response {
    let base = format!("/graphiql/{}", *VERSION);
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clinicgraph · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{base}/graphiql.min.css">
<script defer src="{base}/react.production.min.js"></script>
<script defer src="{base}/react-dom.production.min.js"></script>
<script defer src="{base}/graphiql.min.js"></script>
<script defer src="{base}/start.js"></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
</body>
</html>
"#
    );
    (
        [(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY))],
        axum::response::Html(page),
    )
        .into_response()
}

/// `GET /graphiql/{version}/{file}`: one of the page's files, kept by browsers for a year.
pub async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|asset| asset.name == name);
    match found {
        Some(asset) if version == *VERSION => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(asset.media_type)),
                (
                    CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            asset.bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
