//! Background jobs on apalis: the queue (Redis with `REDIS_URL`, a SQLite file otherwise), the
//! workers, and the jobs themselves. The queue carries only a job's id; its state is the
//! `background_jobs` row the API reads (`crate::modules::job`). See docs/jobs-design.md.
pub mod backup;
pub mod export;
pub mod export_files;
pub mod files;
pub mod housekeeping;
pub mod mail;
pub mod notify;
pub mod pdf;
pub mod queue;
pub mod report;
pub mod rotate_keys;
pub mod schedule;
pub mod worker;

pub use queue::{JobMessage, JobQueue};
pub use worker::{JobContext, run_workers};
