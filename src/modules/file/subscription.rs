//! `fileUpdated`: an upload's processing as it happens, over the WebSocket endpoint.
use std::sync::Arc;

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::resolvers::{PatientFileObject, file_key};
use super::service::FileService;
use crate::core::context::SessionExpiry;
use crate::graphql::guards::caller;

#[derive(Default)]
pub struct FileSubscription;

#[Subscription]
impl FileSubscription {
    /// The file as it is now, then again whenever its status changes; ends once it is READY
    /// or REJECTED (or when the access token expires). With the rules of its patient's record.
    async fn file_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = PatientFileObject> + use<>> {
        let updates = ctx
            .data::<Arc<FileService>>()?
            .updates(caller(ctx)?, file_key(&id)?)
            .await?;
        Ok(updates
            .take_until(SessionExpiry::reached(ctx))
            .map(PatientFileObject))
    }
}
