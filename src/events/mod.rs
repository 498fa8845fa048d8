//! Live events for subscriptions. Every instance publishes through Redis pub/sub when it is
//! configured, and relays what arrives on the channel to its own subscribers, so a client on
//! one instance hears of a change made on another. Without Redis, events stay in the process.
//!
//! Events are notifications, not a log: a subscriber that is not connected when one happens
//! does not receive it later.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::modules::appointment::model::Appointment;
use crate::redis::Redis;

/// Events a slow subscriber may fall behind by before it skips ahead.
const BUFFER: usize = 1024;
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What happened to an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppointmentChange {
    Scheduled,
    Rescheduled,
    StatusChanged,
    Cancelled,
}

/// An appointment as it is after a change. Subscribers decide who may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentEvent {
    pub change: AppointmentChange,
    pub appointment: Appointment,
}

/// A background job's row changed (status, progress, attempts): subscribers read it again.
/// It carries no data, so it says nothing to whoever may not read the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    pub job_id: i64,
}

/// The Redis channels, below the instance's key prefix.
const APPOINTMENTS_CHANNEL: &str = "events:appointments";
const JOBS_CHANNEL: &str = "events:jobs";

/// Publishes events and hands out subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<AppointmentEvent>>,
    jobs: broadcast::Sender<JobEvent>,
    redis: Option<Redis>,
    /// Whether the relay is subscribed to the Redis channel (for `/ready`).
    relaying: Arc<AtomicBool>,
}

impl EventBus {
    /// Events reach subscribers of this process only.
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(BUFFER).0,
            jobs: broadcast::channel(BUFFER).0,
            redis: None,
            relaying: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Publishes through Redis without relaying anything back: for `clinicgraph worker`,
    /// whose job updates reach the API instances' subscribers.
    pub fn publisher(redis: Redis) -> Self {
        Self {
            redis: Some(redis),
            ..Self::in_process()
        }
    }

    /// Events travel through Redis to every instance. Starts the relay task, which reconnects
    /// with back-off whenever the subscription connection drops.
    pub fn shared(redis: Redis) -> Self {
        let bus = Self::publisher(redis.clone());
        tokio::spawn(relay(redis, bus.clone()));
        bus
    }

    pub async fn publish(&self, event: AppointmentEvent) {
        if !self.publish_shared(APPOINTMENTS_CHANNEL, &event).await {
            // Nobody subscribed is not an error.
            let _ = self.local.send(Arc::new(event));
        }
    }

    pub async fn publish_job(&self, event: JobEvent) {
        if !self.publish_shared(JOBS_CHANNEL, &event).await {
            let _ = self.jobs.send(event);
        }
    }

    /// Whether Redis took the event; our own relay then delivers it here too. When Redis is
    /// unavailable, the caller hands it to this instance's subscribers at least.
    async fn publish_shared(&self, channel: &str, event: &impl Serialize) -> bool {
        let Some(redis) = &self.redis else {
            return false;
        };
        let payload = match serde_json::to_vec(event) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "encoding an event");
                return false;
            }
        };
        let channel = redis.key(channel);
        redis
            .run("events_publish", async move |mut c| {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await
            .is_some()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AppointmentEvent>> {
        self.local.subscribe()
    }

    pub fn subscribe_jobs(&self) -> broadcast::Receiver<JobEvent> {
        self.jobs.subscribe()
    }

    /// `None` without Redis; otherwise whether events from other instances arrive.
    pub fn relaying(&self) -> Option<bool> {
        self.redis
            .as_ref()
            .map(|_| self.relaying.load(Ordering::Relaxed))
    }
}

/// Hands an event from Redis to this instance's subscribers.
fn deliver(bus: &EventBus, jobs_channel: &str, message: &redis::Msg) -> serde_json::Result<()> {
    let payload = message.get_payload_bytes();
    if message.get_channel_name() == jobs_channel {
        let _ = bus.jobs.send(serde_json::from_slice(payload)?);
    } else {
        let _ = bus.local.send(Arc::new(serde_json::from_slice(payload)?));
    }
    Ok(())
}

async fn relay(redis: Redis, bus: EventBus) {
    let appointments = redis.key(APPOINTMENTS_CHANNEL);
    let jobs = redis.key(JOBS_CHANNEL);
    let mut delay = Duration::from_millis(100);
    loop {
        // Bounded: a Redis that accepts connections but never answers must not hang the relay.
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
            let mut pubsub = redis.pubsub().await?;
            pubsub.subscribe(&[&appointments, &jobs]).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match subscribed {
            Ok(Ok(mut pubsub)) => {
                tracing::info!("relaying events from Redis");
                bus.relaying.store(true, Ordering::Relaxed);
                delay = Duration::from_millis(100);
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Err(error) = deliver(&bus, &jobs, &message) {
                        tracing::warn!(%error, "undecodable event");
                    }
                }
                bus.relaying.store(false, Ordering::Relaxed);
                tracing::warn!("Redis event subscription closed; reconnecting");
            }
            Ok(Err(error)) => tracing::debug!(%error, "subscribing to Redis events"),
            Err(_) => tracing::debug!("subscribing to Redis events timed out"),
        }
        metrics::counter!("redis_failures_total", "operation" => "events_relay").increment(1);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}
