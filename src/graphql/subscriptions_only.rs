//! The WebSocket endpoint serves subscriptions only. Queries and mutations belong on
//! `POST /graphql`, where rate limits, the CSRF rule and deterministic batching apply; over the
//! socket they would slip past all three.
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::OperationType;
use async_graphql::{Request, ServerResult};

use super::bounds::Refused;
use super::operation::operation_type;

pub struct SubscriptionsOnly;

impl ExtensionFactory for SubscriptionsOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SubscriptionsOnly)
    }
}

#[async_trait::async_trait]
impl Extension for SubscriptionsOnly {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let name = request.operation_name.clone();
        // Parsed and checked by `CheckedParse`, earlier in the chain.
        if let Ok(document) = request.parsed_query()
            && matches!(
                operation_type(document, name.as_deref()),
                Some(OperationType::Query | OperationType::Mutation)
            )
        {
            return Err(Refused::new(
                "BAD_REQUEST",
                "this endpoint serves subscriptions; send queries and mutations to POST /graphql",
            )
            .into_error());
        }
        next.run(ctx, request).await
    }
}
