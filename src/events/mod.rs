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

/// Publishes events and hands out subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<AppointmentEvent>>,
    redis: Option<(Redis, String)>,
    /// Whether the relay is subscribed to the Redis channel (for `/ready`).
    relaying: Arc<AtomicBool>,
}

impl EventBus {
    /// Events reach subscribers of this process only.
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(BUFFER).0,
            redis: None,
            relaying: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Events travel through Redis to every instance. Starts the relay task, which reconnects
    /// with back-off whenever the subscription connection drops.
    pub fn shared(redis: Redis) -> Self {
        let channel = redis.key("events:appointments");
        let bus = Self {
            local: broadcast::channel(BUFFER).0,
            redis: Some((redis.clone(), channel.clone())),
            relaying: Arc::new(AtomicBool::new(false)),
        };
        tokio::spawn(relay(
            redis,
            channel,
            bus.local.clone(),
            bus.relaying.clone(),
        ));
        bus
    }

    pub async fn publish(&self, event: AppointmentEvent) {
        if let Some((redis, channel)) = &self.redis {
            match serde_json::to_vec(&event) {
                Ok(payload) => {
                    let channel = channel.clone();
                    let sent = redis
                        .run("events_publish", async move |mut c| {
                            redis::cmd("PUBLISH")
                                .arg(channel)
                                .arg(payload)
                                .query_async::<i64>(&mut c)
                                .await
                        })
                        .await;
                    // Our own relay delivers it here too.
                    if sent.is_some() {
                        return;
                    }
                }
                Err(error) => tracing::error!(%error, "encoding an event"),
            }
            // Redis is unavailable: this instance's subscribers at least hear of the change.
        }
        // Nobody subscribed is not an error.
        let _ = self.local.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AppointmentEvent>> {
        self.local.subscribe()
    }

    /// `None` without Redis; otherwise whether events from other instances arrive.
    pub fn relaying(&self) -> Option<bool> {
        self.redis
            .as_ref()
            .map(|_| self.relaying.load(Ordering::Relaxed))
    }
}

async fn relay(
    redis: Redis,
    channel: String,
    local: broadcast::Sender<Arc<AppointmentEvent>>,
    relaying: Arc<AtomicBool>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        // Bounded: a Redis that accepts connections but never answers must not hang the relay.
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
            let mut pubsub = redis.pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match subscribed {
            Ok(Ok(mut pubsub)) => {
                tracing::info!("relaying events from Redis");
                relaying.store(true, Ordering::Relaxed);
                delay = Duration::from_millis(100);
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    match serde_json::from_slice::<AppointmentEvent>(message.get_payload_bytes()) {
                        Ok(event) => {
                            let _ = local.send(Arc::new(event));
                        }
                        Err(error) => tracing::warn!(%error, "undecodable event"),
                    }
                }
                relaying.store(false, Ordering::Relaxed);
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
