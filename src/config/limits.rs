//! Limits on what one GraphQL request may ask for (OWASP GraphQL guidance).
use std::collections::HashMap;
use std::time::Duration;

use super::Reader;
use crate::persisted::PersistedQueries;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    /// Lists count as their page size times their contents (see `graphql::connection::page_cost`).
    pub max_complexity: usize,
    /// Operations in one batched POST.
    pub max_batch: usize,
    /// Queries running longer are stopped (TIMEOUT); mutations are never cut off mid-write.
    pub request_timeout: Duration,
    pub introspection: bool,
    /// Compress large answers here; off when a proxy in front already does.
    pub compress_responses: bool,
    /// GraphQL requests run at once; more wait their turn (see `http::admission`). 0: no limit.
    pub max_concurrent: usize,
}

/// With `PERSISTED_QUERIES_ONLY=true`: the documents allowed to run, from
/// `PERSISTED_QUERIES_FILE` (hash → document, as `clinicgraph persisted-queries` writes it).
pub(super) fn read_allow_list(r: &mut Reader<'_>) -> Option<HashMap<String, String>> {
    if !r.flag("PERSISTED_QUERIES_ONLY", false) {
        return None;
    }
    let Some(path) = r.raw("PERSISTED_QUERIES_FILE") else {
        r.problems
            .push("PERSISTED_QUERIES_FILE: required when PERSISTED_QUERIES_ONLY is true".into());
        return None;
    };
    let list = std::fs::read_to_string(&path)
        .map_err(anyhow::Error::from)
        .and_then(|text| PersistedQueries::read_allow_list(&text));
    match list {
        Ok(list) => Some(list),
        Err(error) => {
            r.problems
                .push(format!("PERSISTED_QUERIES_FILE: {path}: {error:#}"));
            None
        }
    }
}

/// Which browser origins may call the API (CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers: browsers allow same-origin pages only.
    None,
    /// Any origin, without credentials (the CORS rules forbid a wildcard with them).
    Any,
    /// These origins (`https://app.example.org`), with credentials.
    List(Vec<String>),
}

pub(super) fn read_cors(r: &mut Reader<'_>) -> CorsOrigins {
    let Some(raw) = r.raw("CORS_ORIGINS") else {
        return CorsOrigins::None;
    };
    let origins: Vec<String> = raw
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.iter().any(|o| o == "*") {
        if origins.len() > 1 {
            r.problems
                .push("CORS_ORIGINS: `*` cannot be combined with named origins".into());
        }
        return CorsOrigins::Any;
    }
    for origin in &origins {
        let scheme_ok = origin.starts_with("https://") || origin.starts_with("http://");
        if !scheme_ok || origin["https://".len().min(origin.len())..].contains('/') {
            r.problems.push(format!(
                "CORS_ORIGINS: `{origin}` is not an origin (scheme://host[:port])"
            ));
        }
    }
    CorsOrigins::List(origins)
}

pub(super) fn read(r: &mut Reader<'_>, production: bool) -> GraphqlLimits {
    let max_depth = r.parsed("MAX_QUERY_DEPTH", 12_usize);
    let max_complexity = r.parsed("MAX_QUERY_COMPLEXITY", 5000_usize);
    let max_batch = r.parsed("MAX_BATCH", 10_usize);
    let timeout_ms = r.parsed("REQUEST_TIMEOUT_MS", 10_000_u64);
    for (name, value) in [
        ("MAX_QUERY_DEPTH", max_depth),
        ("MAX_QUERY_COMPLEXITY", max_complexity),
        ("MAX_BATCH", max_batch),
    ] {
        if value == 0 {
            r.problems.push(format!("{name}: must be at least 1"));
        }
    }
    if timeout_ms == 0 {
        r.problems
            .push("REQUEST_TIMEOUT_MS: must be at least 1".into());
    }
    GraphqlLimits {
        max_depth,
        max_complexity,
        max_batch,
        request_timeout: Duration::from_millis(timeout_ms),
        introspection: r.flag("INTROSPECTION", !production),
        compress_responses: r.flag("COMPRESS_RESPONSES", true),
        // Off unless set: the latency tail does not need it since connections are handed out in
        // arrival order (`db::pool`); it bounds what a burst can start (see bench/README.md).
        max_concurrent: r.parsed("MAX_CONCURRENT_REQUESTS", 0_usize),
    }
}
