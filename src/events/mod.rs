//! Live events for subscriptions. Every instance publishes through Redis pub/sub when it is
//! configured, and relays what arrives on the channel to its own subscribers, so a client on
//! one instance hears of a change made on another. Without Redis, events stay in the process.
//!
//! Events are notifications, not a log: a subscriber that is not connected when one happens
//! does not receive it later.
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use crate::redis::Redis;

/// Events a slow subscriber may fall behind by before it skips ahead.
const BUFFER: usize = 1024;
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A kind of event: its payload, and the channel it travels on. Feature modules define their
/// own events; the bus knows none of them.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The Redis channel, below the instance's key prefix and `events:`.
    const CHANNEL: &'static str;
}

/// The Redis channels of all events, below the instance's key prefix: `events:<CHANNEL>`.
const CHANNELS: &str = "events:";

/// One kind of event's local subscribers, and how to hand them a payload that came from Redis.
struct Topic {
    /// A `broadcast::Sender<Arc<E>>` for the event type `E` of this channel.
    sender: Arc<dyn Any + Send + Sync>,
    deliver: fn(&(dyn Any + Send + Sync), &[u8]) -> serde_json::Result<()>,
}

fn deliver<E: Event>(sender: &(dyn Any + Send + Sync), payload: &[u8]) -> serde_json::Result<()> {
    if let Some(sender) = sender.downcast_ref::<broadcast::Sender<Arc<E>>>() {
        // Nobody subscribed is not an error.
        let _ = sender.send(Arc::new(serde_json::from_slice(payload)?));
    }
    Ok(())
}

/// Publishes events and hands out subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    /// By channel; a topic is made when first published to or subscribed to.
    topics: Arc<Mutex<HashMap<&'static str, Topic>>>,
    redis: Option<Redis>,
    /// Whether the relay is subscribed to the Redis channel (for `/ready`).
    relaying: Arc<AtomicBool>,
}

impl EventBus {
    /// Events reach subscribers of this process only.
    pub fn in_process() -> Self {
        Self {
            topics: Arc::default(),
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

    pub async fn publish<E: Event>(&self, event: E) {
        if !self.publish_shared(E::CHANNEL, &event).await {
            // Nobody subscribed is not an error.
            let _ = self.sender::<E>().send(Arc::new(event));
        }
    }

    pub fn subscribe<E: Event>(&self) -> broadcast::Receiver<Arc<E>> {
        self.sender::<E>().subscribe()
    }

    /// The local sender of `E`'s channel.
    fn sender<E: Event>(&self) -> broadcast::Sender<Arc<E>> {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let topic = topics.entry(E::CHANNEL).or_insert_with(|| Topic {
            sender: Arc::new(broadcast::channel::<Arc<E>>(BUFFER).0),
            deliver: deliver::<E>,
        });
        match topic.sender.downcast_ref::<broadcast::Sender<Arc<E>>>() {
            Some(sender) => sender.clone(),
            // Two event types on one channel: a programming error, caught by the tests; the
            // events of the second type then reach no one rather than the wrong subscribers.
            None => {
                debug_assert!(false, "two event types share the channel {}", E::CHANNEL);
                broadcast::channel(1).0
            }
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
        let channel = redis.key(&format!("{CHANNELS}{channel}"));
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

    /// `None` without Redis; otherwise whether events from other instances arrive.
    pub fn relaying(&self) -> Option<bool> {
        self.redis
            .as_ref()
            .map(|_| self.relaying.load(Ordering::Relaxed))
    }
}

/// Hands an event from Redis to this instance's subscribers of its channel, if it has any.
fn deliver_shared(bus: &EventBus, prefix: &str, message: &redis::Msg) -> serde_json::Result<()> {
    let name = message.get_channel_name();
    let Some(channel) = name.strip_prefix(prefix) else {
        return Ok(());
    };
    let topics = bus.topics.lock().unwrap_or_else(PoisonError::into_inner);
    match topics.get(channel) {
        Some(topic) => (topic.deliver)(topic.sender.as_ref(), message.get_payload_bytes()),
        None => Ok(()),
    }
}

/// `text` matched literally in a PSUBSCRIBE pattern: the key prefix is the operator's choice.
fn glob_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

async fn relay(redis: Redis, bus: EventBus) {
    let prefix = redis.key(CHANNELS);
    let pattern = format!("{}*", glob_escaped(&prefix));
    let mut delay = Duration::from_millis(100);
    loop {
        // Bounded: a Redis that accepts connections but never answers must not hang the relay.
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
            let mut pubsub = redis.pubsub().await?;
            pubsub.psubscribe(&pattern).await?;
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
                    if let Err(error) = deliver_shared(&bus, &prefix, &message) {
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
