//! `PROCESS_FILE` and `PURGE_PATIENT_FILES`: the file service's background work
//! (`modules::file`), run for the clinic that asked for it.
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::worker::JobContext;
use crate::modules::job::model::Job;

/// Boxed, as `rotate_keys::run` is: inline in the worker's future, rustc fails to prove the
/// future `Send`.
pub fn process<'a>(context: &'a JobContext, job: &'a Job) -> BoxFuture<'a, anyhow::Result<Value>> {
    Box::pin(context.services.files.process(job))
}

pub fn purge<'a>(context: &'a JobContext, job: &'a Job) -> BoxFuture<'a, anyhow::Result<Value>> {
    Box::pin(context.services.files.purge(job))
}
