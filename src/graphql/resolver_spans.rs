//! A span per resolver that fetches something, for exported traces. Leaf fields (scalars and
//! enums, which have no selection of their own) read what their parent already loaded: a span
//! each would multiply the spans by the number of columns and show nothing.
//!
//! Registered only while spans are exported: every field resolution passes through an
//! extension, which costs even when its spans go nowhere.
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{QueryPathSegment, ServerResult, Value};
use tracing::Instrument;

pub struct ResolverSpans;

impl ExtensionFactory for ResolverSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResolverSpans)
    }
}

#[async_trait::async_trait]
impl Extension for ResolverSpans {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // A list's elements resolve one by one under the list's own span.
        let list_element = matches!(info.path_node.segment, QueryPathSegment::Index(_));
        if info.is_for_introspection
            || list_element
            || info.field.selection_set.node.items.is_empty()
        {
            return next.run(ctx, info).await;
        }
        // Names from the schema and the document's path (aliases and list positions); never
        // arguments, which carry the client's values.
        let span = tracing::debug_span!(
            "graphql.resolve",
            graphql.field.path = %info.path_node,
            graphql.field.parent_type = info.parent_type,
            graphql.field.type = info.return_type,
        );
        next.run(ctx, info).instrument(span).await
    }
}
