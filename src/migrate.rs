//! Bringing a database up to date: the schema migrations, then the steps that only Rust can do.
//!
//! Search keys are folded in Rust (`core::text::fold`: Unicode decomposition, marks removed),
//! which SQL cannot repeat identically on both backends. So a migration that changes the folding
//! only marks the affected tables stale (`search_key_rebuilds`), and this step recomputes their
//! keys before anything serves, wherever migrations run (`migrate`, `serve`, `worker`, tests).
//! Each batch is its own transaction and the mark goes only when a table is done, so an
//! interrupted run resumes at the next start; recomputing a key twice is harmless.
//!
//! Likewise, health data is sealed with keys only the process holds (`core::sealing`): the
//! migration that introduced sealing marks the tables whose values were stored in plaintext
//! (`seal_rewrites`), and this step seals them with the current key.
use crate::config::DatabaseUrl;
use crate::core::sealing::DataKeys;
use crate::db::{DbPool, migrations};
use crate::modules::{doctor, patient, resealing};

/// Rows per transaction: short write locks on SQLite, bounded memory on both.
const BATCH: i64 = 500;

/// Applies every pending migration, seals values stored in plaintext and rebuilds stale
/// search keys; returns how many migrations ran. Needs the multi-threaded runtime.
pub async fn run(url: &DatabaseUrl, keys: &DataKeys) -> anyhow::Result<usize> {
    let applied = migrations::run(url).await?;
    let pool = DbPool::connect(url, 1).await?;
    for target in migrations::unsealed_tables(&pool).await? {
        let done = resealing::table(&pool, keys, &target, None, true).await?;
        migrations::table_sealed(&pool, &target).await?;
        tracing::info!(table = %target, resealed = done.resealed, "values sealed");
        if done.unreadable > 0 {
            tracing::error!(
                table = %target,
                unreadable = done.unreadable,
                "values sealed under a key this process lacks were left as they are"
            );
        }
    }
    for target in migrations::stale_search_keys(&pool).await? {
        let mut after = 0;
        let mut batches = 0;
        loop {
            let last = match target.as_str() {
                "patients" => patient::repository::rebuild_search_keys(&pool, after, BATCH).await?,
                "doctors" => doctor::repository::rebuild_search_keys(&pool, after, BATCH).await?,
                other => anyhow::bail!("no search keys to rebuild in table {other:?}"),
            };
            let Some(last) = last else { break };
            after = last;
            batches += 1;
        }
        migrations::search_keys_rebuilt(&pool, &target).await?;
        tracing::info!(table = %target, batches, "search keys rebuilt");
    }
    Ok(applied)
}
