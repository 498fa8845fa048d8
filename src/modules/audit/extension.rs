//! Gives every GraphQL request (and every event of a subscription) a fresh [`AuditTrail`] and
//! hands it to the [`AuditWriter`] when the request ends.
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextSubscribe,
};
use async_graphql::{Request, Response, ServerResult};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::writer::AuditWriter;
use crate::audit_trail::AuditTrail;

pub struct AuditExtension {
    writer: AuditWriter,
}

impl AuditExtension {
    pub fn new(writer: AuditWriter) -> Self {
        Self { writer }
    }
}

impl ExtensionFactory for AuditExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestAudit {
            writer: self.writer.clone(),
            trail: Arc::new(AuditTrail::default()),
        })
    }
}

struct RequestAudit {
    writer: AuditWriter,
    trail: Arc<AuditTrail>,
}

#[async_trait::async_trait]
impl Extension for RequestAudit {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(self.trail.clone())).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        self.writer.submit(self.trail.take()).await;
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let writer = self.writer.clone();
        let trail = self.trail.clone();
        next.run(ctx, stream)
            .then(move |response| {
                let writer = writer.clone();
                let trail = trail.clone();
                async move {
                    writer.submit(trail.take()).await;
                    response
                }
            })
            .boxed()
    }
}
