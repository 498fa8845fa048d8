//! Passes that rewrite every sealed value (`core::sealing`) under the current key: on upgrade,
//! the values stored before encryption at rest (`migrate`); after a new key is made current,
//! the values under older keys (the `ROTATE_DATA_KEYS` job). Like the search-key rebuild,
//! this is storage upkeep below the records' rules: it changes how a value is stored, never
//! the value, and reads nothing out. Each batch is its own transaction and a value already
//! under the current key is skipped, so an interrupted pass picks up where it stopped when
//! run again; the API keeps serving meanwhile (a value it writes is sealed under the current
//! key, and the pass never overwrites a value changed since it read it).
use crate::core::sealing::{DataKeys, ResealBatch, ResealPass};
use crate::db::{DbPool, DbResult};
use crate::modules::{appointment, file, patient, prescription};

/// The tables with sealed columns.
pub const TABLES: [&str; 4] = ["patients", "appointments", "prescriptions", "patient_files"];

/// Rows per batch: short write locks on SQLite, bounded memory everywhere.
pub const BATCH: i64 = 500;

/// What a whole pass over a table did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Resealed {
    /// Values rewritten under the current key.
    pub resealed: u64,
    /// Values that do not open (each logged with its record): left as they are.
    pub unreadable: u64,
}

impl Resealed {
    pub fn add(&mut self, other: Resealed) {
        self.resealed += other.resealed;
        self.unreadable += other.unreadable;
    }
}

/// Reseals `table`: every row, or the rows of `clinic_id`. With `plain_allowed`, values not
/// in the sealed format are taken as plaintext from before encryption at rest.
pub async fn table(
    pool: &DbPool,
    keys: &DataKeys,
    table: &str,
    clinic_id: Option<i64>,
    plain_allowed: bool,
) -> anyhow::Result<Resealed> {
    let mut total = Resealed::default();
    let mut pass = ResealPass {
        after: 0,
        limit: BATCH,
        clinic_id,
        plain_allowed,
    };
    loop {
        let batch = batch(pool, keys, table, pass).await?;
        total.add(Resealed {
            resealed: batch.resealed,
            unreadable: batch.unreadable,
        });
        match batch.last {
            Some(last) => pass.after = last,
            None => return Ok(total),
        }
    }
}

async fn batch(
    pool: &DbPool,
    keys: &DataKeys,
    table: &str,
    pass: ResealPass,
) -> anyhow::Result<ResealBatch> {
    let batch: DbResult<ResealBatch> = match table {
        "patients" => patient::repository::reseal(pool, keys, pass).await,
        "appointments" => appointment::repository::reseal(pool, keys, pass).await,
        "prescriptions" => prescription::repository::reseal(pool, keys, pass).await,
        "patient_files" => file::repository::reseal(pool, keys, pass).await,
        other => anyhow::bail!("table {other:?} has no sealed columns"),
    };
    Ok(batch?)
}
