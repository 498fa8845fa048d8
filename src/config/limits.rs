//! Limits on what one GraphQL request may ask for (OWASP GraphQL guidance).
use std::time::Duration;

use super::Reader;

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
    }
}
