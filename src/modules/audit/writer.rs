//! Writes the trail in the background: requests hand over their events and go on; one task
//! per process gathers whatever is waiting into one write. A write that keeps failing is
//! logged and counted (`audit_write_failures_total`), never dropped without a trace.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::model::PendingEvent;
use super::repository::AuditRepository;

/// Requests' batches waiting for the writer; beyond this, requests wait for it (the trail is
/// not optional, so it slows requests down rather than forgets).
const QUEUE_BATCHES: usize = 4_096;
/// Events gathered into one write at most.
const EVENTS_PER_WRITE: usize = 5_000;
/// Waits between attempts of a failing write.
const RETRY_DELAYS: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
];

enum Message {
    Events(Vec<PendingEvent>),
    /// Answered once everything sent before it is written (or given up on).
    Flush(oneshot::Sender<()>),
}

/// The handle requests send their events through; cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    sender: mpsc::Sender<Message>,
}

impl AuditWriter {
    /// Starts the writing task; must run inside the Tokio runtime.
    pub fn start(repository: Arc<dyn AuditRepository>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_BATCHES);
        tokio::spawn(run(repository, receiver));
        Self { sender }
    }

    pub async fn submit(&self, events: Vec<PendingEvent>) {
        if events.is_empty() {
            return;
        }
        let count = events.len();
        if self.sender.send(Message::Events(events)).await.is_err() {
            lost(count, "the audit writer has stopped");
        }
    }

    /// Waits until every event submitted before this call is written: at shutdown, and in
    /// tests that read the trail back.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

fn lost(count: usize, reason: &str) {
    metrics::counter!("audit_write_failures_total").increment(count as u64);
    tracing::error!(events = count, reason, "audit events were not written");
}

async fn run(repository: Arc<dyn AuditRepository>, mut receiver: mpsc::Receiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut events = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        // Whatever queued up while the last write ran goes into this one.
        while let Some(message) = next.take() {
            match message {
                Message::Events(batch) => events.extend(batch),
                Message::Flush(done) => flushes.push(done),
            }
            if events.len() < EVENTS_PER_WRITE {
                next = receiver.try_recv().ok();
            }
        }
        write(repository.as_ref(), &events).await;
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write(repository: &dyn AuditRepository, events: &[PendingEvent]) {
    if events.is_empty() {
        return;
    }
    let mut delays = RETRY_DELAYS.iter();
    loop {
        match repository.append(events).await {
            Ok(()) => {
                metrics::counter!("audit_events_written_total").increment(events.len() as u64);
                return;
            }
            Err(error) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(error = format!("{error:#}"), "audit write failed; retrying");
                    tokio::time::sleep(*delay).await;
                }
                None => {
                    let requests: Vec<&str> = events
                        .iter()
                        .map(|event| event.request_id.as_str())
                        .collect();
                    tracing::error!(
                        error = format!("{error:#}"),
                        request_ids = ?requests,
                        "audit write failed for good"
                    );
                    lost(events.len(), "the database refused the write");
                    return;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::core::auth::Role;
    use crate::core::pagination::{KeyCursor, PageRequest};
    use crate::db::{DbError, DbResult};
    use crate::modules::audit::model::{
        AuditAction, AuditEntity, AuditEvent, AuditFilter, AuditOutcome,
    };

    /// Fails the first `failures` appends, then stores.
    #[derive(Default)]
    struct Flaky {
        failures: AtomicUsize,
        attempts: AtomicUsize,
        stored: Mutex<Vec<PendingEvent>>,
    }

    #[async_trait]
    impl AuditRepository for Flaky {
        async fn append(&self, events: &[PendingEvent]) -> DbResult<()> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(DbError::Query(
                    diesel::result::Error::BrokenTransactionManager,
                ));
            }
            self.stored.lock().unwrap().extend_from_slice(events);
            Ok(())
        }

        async fn list(
            &self,
            _: i64,
            _: &AuditFilter,
            _: &PageRequest<KeyCursor>,
        ) -> DbResult<Vec<AuditEvent>> {
            Ok(Vec::new())
        }

        async fn count(&self, _: i64, _: &AuditFilter) -> DbResult<i64> {
            Ok(0)
        }
    }

    fn event(request_id: &str) -> PendingEvent {
        PendingEvent {
            occurred_at: crate::db::now(),
            clinic_id: 1,
            actor_id: 2,
            actor_role: Role::Doctor,
            action: AuditAction::Read,
            entity: AuditEntity::Patient,
            entity_ids: vec![3],
            patient_ids: vec![3],
            field: None,
            outcome: AuditOutcome::Allowed,
            request_id: request_id.into(),
            client_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_write_is_retried_until_it_succeeds() {
        let repository = Arc::new(Flaky::default());
        repository.failures.store(3, Ordering::SeqCst);
        let writer = AuditWriter::start(repository.clone());
        writer.submit(vec![event("a")]).await;
        writer.submit(vec![event("b"), event("c")]).await;
        writer.flush().await;
        let stored = repository.stored.lock().unwrap();
        let requests: Vec<&str> = stored.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(requests, ["a", "b", "c"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_keeps_failing_is_given_up_after_every_retry() {
        let repository = Arc::new(Flaky::default());
        repository.failures.store(usize::MAX, Ordering::SeqCst);
        let writer = AuditWriter::start(repository.clone());
        writer.submit(vec![event("a")]).await;
        writer.flush().await;
        assert_eq!(
            repository.attempts.load(Ordering::SeqCst),
            1 + RETRY_DELAYS.len()
        );
        assert!(repository.stored.lock().unwrap().is_empty());
        // The writer goes on with what comes next.
        repository.failures.store(0, Ordering::SeqCst);
        writer.submit(vec![event("b")]).await;
        writer.flush().await;
        assert_eq!(repository.stored.lock().unwrap().len(), 1);
    }
}
