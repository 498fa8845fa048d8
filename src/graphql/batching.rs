//! Deterministic DataLoader batching. async-graphql's DataLoader spawns each batch after a timer
//! (1 ms by default); on a busy machine a page of 100 rows takes longer than that to register
//! its keys, and one batch becomes several statements. Here the loader's batches are queued
//! instead, and [`BatchQueue::drive`] starts them only once the request can make no further
//! progress without them and no earlier batch is still running: every key a level of the query
//! needs is registered by then, however long that took, and no time is spent on a timer.
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;

/// How often the request may yield in a row (cooperative scheduling) before the driver hands
/// control back to the runtime.
const MAX_CONSECUTIVE_YIELDS: usize = 64;

/// Batches waiting to start, filled by the DataLoader's spawner.
#[derive(Clone, Default)]
pub struct BatchQueue(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl BatchQueue {
    /// The DataLoader spawner that queues batches here.
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let queue = self.0.clone();
        move |batch| {
            if let Ok(mut queue) = queue.lock() {
                queue.push(batch);
            }
        }
    }

    /// Runs `request`, starting queued batches whenever it is blocked.
    pub async fn drive<F: Future>(self, request: F) -> F::Output {
        Driver {
            request: Box::pin(request),
            queue: self,
            running: FuturesUnordered::new(),
        }
        .await
    }

    fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        self.0
            .lock()
            .map(|mut queue| std::mem::take(&mut *queue))
            .unwrap_or_default()
    }
}

struct Driver<F: Future> {
    request: Pin<Box<F>>,
    queue: BatchQueue,
    running: FuturesUnordered<BoxFuture<'static, ()>>,
}

/// Passes wake-ups on and remembers whether one happened.
struct Flagged {
    inner: Waker,
    woken: AtomicBool,
}

impl Wake for Flagged {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

impl<F: Future> Future for Driver<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        for _ in 0..MAX_CONSECUTIVE_YIELDS {
            let flagged = Arc::new(Flagged {
                inner: cx.waker().clone(),
                woken: AtomicBool::new(false),
            });
            let waker = Waker::from(flagged.clone());
            if let Poll::Ready(output) =
                this.request.as_mut().poll(&mut Context::from_waker(&waker))
            {
                return Poll::Ready(output);
            }
            // Woken while being polled: the request only yielded and has more to do now.
            if flagged.woken.load(Ordering::SeqCst) {
                continue;
            }
            // Blocked. Batches run level by level: when some finish, the request first takes
            // their rows (it was woken) and asks for the next level's keys, and the next batches
            // start only when no batch is running, so each level is one statement per loader.
            let mut finished = false;
            while let Poll::Ready(Some(())) = this.running.poll_next_unpin(cx) {
                finished = true;
            }
            if finished {
                cx.waker().wake_by_ref();
            } else if this.running.is_empty() {
                this.running.extend(this.queue.take());
                while let Poll::Ready(Some(())) = this.running.poll_next_unpin(cx) {
                    cx.waker().wake_by_ref();
                }
            }
            return Poll::Pending;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<F: Future> Unpin for Driver<F> {}
