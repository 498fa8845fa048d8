//! Where jobs wait: Redis when the instances share one, else a SQLite file of its own (apalis's
//! tables would clash with ours, and its writes would compete with the app's for the lock).
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use async_trait::async_trait;
use chrono::NaiveDateTime;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::config::Config;
use crate::modules::job::service::JobSink;

/// What the queue carries: the row to work on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: i64,
}

/// A worker that stops sending heartbeats for this long (killed, say) has its job handed to
/// another worker.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
pub const MISSED_HEARTBEATS: usize = 3;
/// How long a request waits for Redis to take a job.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(1);
/// A worker's longest wait for one Redis command (fetching, acknowledging, heartbeats).
const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between two tries to reconnect to Redis, and how many tries one
/// reconnection makes (some seconds' worth; a command that fails afterwards starts another).
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(250);
const RECONNECT_TRIES: usize = 20;

#[derive(Clone)]
pub enum JobQueue {
    Redis(RedisStorage<JobMessage>),
    Sqlite(SqliteStorage<JobMessage>),
}

impl JobQueue {
    pub async fn open(config: &Config) -> anyhow::Result<JobQueue> {
        match &config.shared.redis_url {
            Some(url) => {
                // Connected on first use, so an instance (re)started while Redis is away still
                // serves; jobs asked for meanwhile are FAILED, for `retryJob`.
                let client = redis::Client::open(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("REDIS_URL for the job queue: {e}"))?;
                // Every command waits for a reconnection under way, so its pauses are kept
                // short: with the default backoff (up to 3.2 s between tries) a job asked for
                // just after Redis came back waited out the reconnection and was refused.
                let settings = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(ENQUEUE_TIMEOUT))
                    .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
                    .set_max_delay(RECONNECT_MAX_DELAY)
                    .set_number_of_retries(RECONNECT_TRIES);
                let connection =
                    redis::aio::ConnectionManager::new_lazy_with_config(client, settings)
                        .map_err(|e| anyhow::anyhow!("the job queue's Redis connection: {e}"))?;
                // apalis splits keys on ':', so the prefix's separator is not used here.
                let queue = format!("{}_jobs", config.shared.redis_prefix.replace(':', "_"));
                let settings = apalis_redis::Config::default()
                    .queue(queue)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                Ok(JobQueue::Redis(
                    RedisStorage::new(connection).with_config(settings),
                ))
            }
            None => {
                let path = &config.jobs.queue_path;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .connect_with(options)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("opening the job queue {}: {e}", path.display())
                    })?;
                SqliteStorage::<()>::migrations()
                    .run(&pool)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating the job queue's tables: {e}"))?;
                let settings = apalis_sqlite::Config::default()
                    .queue("jobs")
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                Ok(JobQueue::Sqlite(
                    SqliteStorage::new(&pool).with_config(settings),
                ))
            }
        }
    }
}

#[async_trait]
impl JobSink for JobQueue {
    async fn enqueue(&self, job_id: i64, run_at: Option<NaiveDateTime>) -> anyhow::Result<()> {
        let mut task = TaskBuilder::new(JobMessage { job_id });
        if let Some(due) = run_at {
            // A time already past is due at once.
            task = task.run_at_timestamp(u64::try_from(due.and_utc().timestamp()).unwrap_or(0));
        }
        let task = task.build();
        match self {
            // A Redis that stalls must not hold the request that queues the job: the job is
            // then FAILED, and `retryJob` queues it again.
            JobQueue::Redis(storage) => {
                let mut storage = storage.clone();
                match tokio::time::timeout(ENQUEUE_TIMEOUT, storage.push_task(task)).await {
                    Ok(pushed) => pushed.map_err(|e| anyhow::anyhow!("pushing to Redis: {e}")),
                    Err(_) => Err(anyhow::anyhow!("Redis did not take the job in time")),
                }
            }
            JobQueue::Sqlite(storage) => storage
                .clone()
                .push_task(task)
                .await
                .map_err(|e| anyhow::anyhow!("pushing to the SQLite queue: {e}")),
        }
    }
}

/// For one-off commands that start no jobs: asking for one is an error, not a silent no-op.
pub struct NoQueue;

#[async_trait]
impl JobSink for NoQueue {
    async fn enqueue(&self, _job_id: i64, _run_at: Option<NaiveDateTime>) -> anyhow::Result<()> {
        anyhow::bail!("this command has no job queue")
    }
}
