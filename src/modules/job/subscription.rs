//! `jobUpdated`: a job's progress as it happens, over the WebSocket endpoint.
use std::sync::Arc;

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::resolvers::{JobObject, job_key};
use super::service::JobService;
use crate::core::context::SessionExpiry;
use crate::graphql::guards::caller;

#[derive(Default)]
pub struct JobSubscription;

#[Subscription]
impl JobSubscription {
    /// The job as it is now, then again whenever its status, progress, attempts or error
    /// change; ends once it has SUCCEEDED or FAILED (or when the access token expires). Your
    /// own jobs, or any of your clinic's for an ADMIN; others are NOT_FOUND.
    async fn job_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = JobObject> + use<>> {
        let updates = ctx
            .data::<Arc<JobService>>()?
            .updates(caller(ctx)?, job_key(&id)?)
            .await?;
        Ok(updates
            .take_until(SessionExpiry::reached(ctx))
            .map(JobObject))
    }
}
