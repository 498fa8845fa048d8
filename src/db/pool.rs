//! Pool checkouts that count and trace the statements sent on them: a span per SQL statement,
//! child of whatever span checked the connection out.
//!
//! Checkouts are served in arrival order. bb8 wakes one waiter when a connection comes back,
//! but whoever asks before that waiter runs takes the connection, so under load one request
//! could lose its turn again and again (q2's p99 was three to four times its p50); and its
//! `Notify` holds one wake-up at most, so two connections returned before anyone waited can
//! leave a waiter asleep beside an idle connection. Here a checkout first takes a turn from a
//! fair semaphore with one permit per connection, so bb8 always has a connection for whoever
//! holds a turn.
//!
//! The parent is taken at checkout, not when the statement starts: SQLite statements run on
//! a blocking thread, where the request's span is not current. The checkout holds it only
//! while the connection is out; a span held by an idle connection would stay open, and an
//! open span is never exported.
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bb8::ManageConnection;
use diesel::connection::{DebugQuery, Instrumentation, InstrumentationEvent};
use diesel_async::AsyncConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Span;

/// Counts the SQL statements sent through a pool (tests prove statement budgets with it).
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A bb8 pool of one backend's connections (`M` is diesel-async's manager for it).
pub struct Pool<M: ManageConnection> {
    inner: bb8::Pool<M>,
    /// One permit per connection, given out first come, first served.
    turns: Arc<Semaphore>,
    /// How long a checkout may wait for its turn.
    timeout: Duration,
    counter: Option<StatementCounter>,
    /// `db.system.name` of the statements' spans.
    system: &'static str,
}

impl<M: ManageConnection> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            turns: self.turns.clone(),
            timeout: self.timeout,
            counter: self.counter.clone(),
            system: self.system,
        }
    }
}

impl<M> Pool<M>
where
    M: ManageConnection,
    M::Connection: AsyncConnection,
{
    /// `size` and `timeout` are those `inner` was built with.
    pub(super) fn new(
        inner: bb8::Pool<M>,
        size: u32,
        timeout: Duration,
        counter: Option<StatementCounter>,
        system: &'static str,
    ) -> Self {
        Self {
            inner,
            turns: Arc::new(Semaphore::new(size as usize)),
            timeout,
            counter,
            system,
        }
    }

    /// A connection, after recording how long the checkout waited (`db_pool_wait_seconds`:
    /// the first sign that the pool is too small for the load).
    pub async fn get(&self) -> Result<Checkout<'_, M>, bb8::RunError<M::Error>> {
        self.checkout(self.inner.get()).await
    }

    /// Like [`Pool::get`], for a checkout that outlives the borrow of the pool.
    pub async fn get_owned(&self) -> Result<Checkout<'static, M>, bb8::RunError<M::Error>> {
        self.checkout(self.inner.get_owned()).await
    }

    /// Whether `other` is a handle on this very pool.
    pub fn is(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.turns, &other.turns)
    }

    /// Takes a turn, then runs `connect` (bb8's checkout, not started before the turn).
    async fn checkout<'a>(
        &self,
        connect: impl Future<Output = Result<bb8::PooledConnection<'a, M>, bb8::RunError<M::Error>>>,
    ) -> Result<Checkout<'a, M>, bb8::RunError<M::Error>> {
        let started = Instant::now();
        let connection =
            match tokio::time::timeout(self.timeout, self.turns.clone().acquire_owned()).await {
                Ok(Ok(turn)) => connect.await.map(|connection| (connection, turn)),
                _ => Err(bb8::RunError::TimedOut),
            };
        metrics::histogram!("db_pool_wait_seconds").record(started.elapsed().as_secs_f64());
        if connection.is_err() {
            let state = self.inner.state();
            tracing::warn!(
                db.system.name = self.system,
                connections = state.connections,
                idle = state.idle_connections,
                created = state.statistics.connections_created,
                closed_broken = state.statistics.connections_closed_broken,
                waited_ms = started.elapsed().as_millis() as u64,
                "no database connection within the checkout timeout"
            );
        }
        let (mut connection, turn) = connection?;
        let scope = Arc::new(Mutex::new(Scope {
            parent: Some(Span::current()),
            statements: VecDeque::new(),
        }));
        connection.set_instrumentation(Statements {
            counter: self.counter.clone(),
            system: self.system,
            scope: scope.clone(),
        });
        Ok(Checkout {
            connection,
            scope,
            _turn: turn,
        })
    }

    /// Connections open and idle.
    pub fn state(&self) -> bb8::State {
        self.inner.state()
    }
}

/// A checked-out connection; statements sent on it are traced under the checkout's span.
pub struct Checkout<'a, M: ManageConnection> {
    connection: bb8::PooledConnection<'a, M>,
    scope: Arc<Mutex<Scope>>,
    /// Declared after `connection`, so dropped after it: the next turn starts only once the
    /// connection is back in the pool.
    _turn: OwnedSemaphorePermit,
}

impl<M: ManageConnection> Deref for Checkout<'_, M> {
    type Target = M::Connection;
    fn deref(&self) -> &M::Connection {
        &self.connection
    }
}

impl<M: ManageConnection> DerefMut for Checkout<'_, M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.connection
    }
}

impl<M: ManageConnection> Drop for Checkout<'_, M> {
    fn drop(&mut self) {
        // A statement whose future was dropped never finished: its span closes here too.
        let spans = self
            .scope
            .lock()
            .map(|mut scope| std::mem::take(&mut *scope));
        drop(spans);
    }
}

#[derive(Default)]
struct Scope {
    parent: Option<Span>,
    /// Statements sent and not yet answered, oldest first: a connection shared by a request's
    /// reads ([`super::shared`]) has several in flight, and PostgreSQL answers them in order.
    statements: VecDeque<Span>,
}

/// The connection's instrumentation for one checkout.
struct Statements {
    counter: Option<StatementCounter>,
    system: &'static str,
    scope: Arc<Mutex<Scope>>,
}

impl Instrumentation for Statements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                if let Some(counter) = &self.counter {
                    counter.0.fetch_add(1, Ordering::Relaxed);
                }
                let Ok(mut scope) = self.scope.lock() else {
                    return;
                };
                let parent = scope.parent.as_ref().and_then(Span::id);
                let span = tracing::debug_span!(
                    parent: parent,
                    "db.query",
                    db.system.name = self.system,
                    db.query.text = tracing::field::Empty,
                    error.type = tracing::field::Empty,
                    otel.kind = "client",
                    otel.status_code = tracing::field::Empty,
                );
                // Only rendered when someone listens: rendering runs diesel's query builder
                // again.
                if !span.is_disabled() {
                    span.record("db.query.text", statement_text(query));
                }
                scope.statements.push_back(span);
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                let oldest = self
                    .scope
                    .lock()
                    .ok()
                    .and_then(|mut s| s.statements.pop_front());
                let Some(span) = oldest else {
                    return;
                };
                if let Some(error) = error {
                    span.record("otel.status_code", "ERROR");
                    span.record("error.type", error_type(error));
                }
            }
            _ => {}
        }
    }
}

/// The error's kind only: a database's message can quote the values that violated a
/// constraint.
fn error_type(error: &diesel::result::Error) -> &'static str {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match error {
        Error::DatabaseError(Kind::UniqueViolation, _) => "unique_violation",
        Error::DatabaseError(Kind::ForeignKeyViolation, _) => "foreign_key_violation",
        Error::DatabaseError(Kind::ExclusionViolation, _) => "exclusion_violation",
        Error::DatabaseError(Kind::SerializationFailure, _) => "serialization_failure",
        Error::DatabaseError(..) => "database_error",
        Error::NotFound => "not_found",
        Error::RollbackTransaction | Error::RollbackErrorOnCommit { .. } => "rollback",
        _ => "other",
    }
}

/// What diesel's `Display` of a statement writes before its bind values.
const BINDS: &str = " -- binds: ";

/// The statement's SQL without its bind values, which are patients' data. diesel writes the
/// SQL first and the values after [`BINDS`]; writing stops there, so the values are never
/// even formatted.
fn statement_text(query: &dyn DebugQuery) -> String {
    struct UntilBinds(String);
    impl fmt::Write for UntilBinds {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            self.0.push_str(text);
            match self.0.find(BINDS) {
                Some(at) => {
                    self.0.truncate(at);
                    Err(fmt::Error)
                }
                None => Ok(()),
            }
        }
    }
    let mut text = UntilBinds(String::new());
    let _ = fmt::write(&mut text, format_args!("{query}"));
    text.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::patients;
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    #[test]
    fn statement_text_leaves_the_values_out() {
        let query = patients::table
            .filter(patients::email.eq("zoe.adams@example.org"))
            .select(patients::id);
        let debug = diesel::debug_query::<Sqlite, _>(&query);
        assert!(debug.to_string().contains("zoe.adams@example.org"));
        let text = statement_text(&debug);
        assert!(text.starts_with("SELECT"), "{text}");
        assert!(text.contains("`patients`.`email` = ?"), "{text}");
        assert!(!text.contains("zoe"), "{text}");
        assert!(!text.contains("binds"), "{text}");
    }

    /// A connection given back goes to the checkout that waited for it, not to one that
    /// asks in the meantime (bb8 alone gives it to the latter).
    #[tokio::test(flavor = "current_thread")]
    async fn a_returned_connection_goes_to_the_checkout_that_waited_longest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = crate::config::DatabaseUrl::Sqlite(dir.path().join("pool.db"));
        let crate::db::DbPool::Sqlite(pool) =
            crate::db::DbPool::connect(&url, 1).await.expect("pool")
        else {
            unreachable!("a SQLite URL opens a SQLite pool")
        };
        let served = Arc::new(Mutex::new(Vec::new()));
        let held = pool.get().await.expect("the only connection");
        let waiter = tokio::spawn({
            let (pool, served) = (pool.clone(), served.clone());
            async move {
                let _connection = pool.get().await.expect("served in turn");
                served.lock().expect("log").push("waiter");
            }
        });
        // The waiter queues up behind the held connection.
        tokio::task::yield_now().await;
        drop(held);
        // Asks before the waiter has run again.
        let newcomer = pool.get().await.expect("served after the waiter");
        served.lock().expect("log").push("newcomer");
        drop(newcomer);
        waiter.await.expect("waiter");
        assert_eq!(*served.lock().expect("log"), ["waiter", "newcomer"]);
    }
}
