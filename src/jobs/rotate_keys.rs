//! `ROTATE_DATA_KEYS`: the clinic's sealed values rewritten under the current data key
//! (`modules::resealing`), while the API goes on serving. A rerun after a crash skips what is
//! already under the current key.
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::worker::JobContext;
use crate::modules::job::model::Job;
use crate::modules::resealing::{self, Resealed, TABLES};

/// A boxed future whose `Send` is proven here: inline in the worker's future, rustc fails to
/// prove it (an internal compiler error while building the worker's service type).
pub fn run<'a>(context: &'a JobContext, job: &'a Job) -> BoxFuture<'a, anyhow::Result<Value>> {
    Box::pin(rotate(context, job))
}

async fn rotate(context: &JobContext, job: &Job) -> anyhow::Result<Value> {
    let keys = &context.services.keys;
    let mut rewritten = Resealed::default();
    for (done, table) in (1..).zip(TABLES) {
        let table = resealing::table(&context.pool, keys, table, Some(job.clinic_id), false);
        rewritten.add(table.await?);
        let percent = done * 90 / i32::try_from(TABLES.len()).unwrap_or(1);
        context.services.jobs.progress(job.id, percent).await?;
    }
    // A second pass finds what was written under an older key meanwhile (by an instance not
    // yet given the new current key) and what does not open: the pass is done only when it
    // finds nothing.
    let mut left = Resealed::default();
    for table in TABLES {
        let table = resealing::table(&context.pool, keys, table, Some(job.clinic_id), false);
        left.add(table.await?);
    }
    if left.unreadable > 0 {
        tracing::error!(
            job_id = job.id,
            unreadable = left.unreadable,
            "values that do not decrypt stay under their old keys (each was logged with its record)"
        );
    }
    Ok(json!({
        "currentKey": keys.current_id(),
        "resealed": rewritten.resealed + left.resealed,
        "unreadable": left.unreadable,
        "done": left.resealed == 0 && left.unreadable == 0,
    }))
}
