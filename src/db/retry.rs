//! Transient database failures, retried in one place: the macros every repository body runs
//! through ([`with_conn!`](crate::with_conn), [`single_write!`](crate::single_write) and
//! [`in_transaction!`](crate::in_transaction)) run the body again, on a fresh connection, after
//! a jittered exponential back-off, when an attempt failed for a reason that a moment later may
//! be gone. Nothing else is retried: a unique violation fails the same way every time.
//!
//! Whether an attempt may run again depends on what it did before it failed:
//! - a read changed nothing: it always may;
//! - a transaction rolled back as a whole: it may, unless the connection was lost while it was
//!   committing, when it may have committed ([`DbError::CommitOutcomeUnknown`]);
//! - a single write outside a transaction may have committed once its statement was sent: it
//!   runs again only when no connection could be had ([`Rerun::UnlessSent`]).
use std::ops::ControlFlow;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use diesel::ConnectionError;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel_async::pooled_connection::PoolError;
use tokio::time::Instant;

use super::{DbError, DbResult};

/// Attempts in all, the first included.
const ATTEMPTS: usize = 4;
/// The first back-off; each next one doubles, up to [`MAX_DELAY`]. Jitter adds up to as much
/// again, so calls that failed together (a restart fails every connection at once) come back
/// spread out.
const FIRST_DELAY: Duration = Duration::from_millis(25);
const MAX_DELAY: Duration = Duration::from_millis(400);
/// The back-offs of one call together.
const TOTAL_DELAY: Duration = Duration::from_secs(1);
/// No attempt starts later than this after the first, and a later attempt waits for a
/// connection only until then. The first attempt alone may wait the whole checkout timeout
/// (5 s), so a call that is retried ends well inside the request time limit
/// (`REQUEST_TIMEOUT_MS`, 10 s by default).
const WINDOW: Duration = Duration::from_secs(6);

/// Why a failure may be gone if the call is made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// PostgreSQL 40001: the transaction conflicted with a concurrent one and was rolled back.
    SerializationFailure,
    /// PostgreSQL 40P01, MySQL 1213: the transaction was chosen to break a deadlock and was
    /// rolled back.
    Deadlock,
    /// The connection is gone: the server ended it (57P01 `pg_terminate_backend` or a
    /// shutdown, 57P02, 57P03 while it starts or stops), or it was reset or closed.
    ConnectionLost,
    /// No connection within the checkout timeout: the pool was busy, or the database could not
    /// be reached.
    PoolTimeout,
    /// SQLite: another connection held the write lock past `busy_timeout`.
    DatabaseLocked,
    /// MySQL 1205: a row lock was waited for past `innodb_lock_wait_timeout`.
    LockWaitTimeout,
}

impl Transient {
    /// The `reason` label of `db_retries_total`.
    pub fn label(self) -> &'static str {
        match self {
            Transient::SerializationFailure => "serialization_failure",
            Transient::Deadlock => "deadlock",
            Transient::ConnectionLost => "connection_lost",
            Transient::PoolTimeout => "pool_timeout",
            Transient::DatabaseLocked => "database_locked",
            Transient::LockWaitTimeout => "lock_wait_timeout",
        }
    }
}

impl DbError {
    /// Why this failure is transient, or `None` when trying again would fail the same way.
    pub fn transient(&self) -> Option<Transient> {
        match self {
            DbError::Pool(bb8::RunError::TimedOut) => Some(Transient::PoolTimeout),
            DbError::Pool(bb8::RunError::User(PoolError::ConnectionError(error))) => match error {
                ConnectionError::BadConnection(message) => by_message(message),
                ConnectionError::CouldntSetupConfiguration(error) => query_error(error),
                _ => None,
            },
            DbError::Pool(bb8::RunError::User(PoolError::QueryError(error))) => query_error(error),
            DbError::Query(error) => query_error(error),
            DbError::UniqueViolation(_)
            | DbError::ExclusionViolation(_)
            | DbError::CommitOutcomeUnknown(_) => None,
        }
    }

    /// Whether the call failed before it sent any statement: it never had a connection.
    pub fn before_sending(&self) -> bool {
        matches!(self, DbError::Pool(_))
    }
}

fn query_error(error: &QueryError) -> Option<Transient> {
    match error {
        QueryError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            Some(Transient::SerializationFailure)
        }
        QueryError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            Some(Transient::ConnectionLost)
        }
        QueryError::DatabaseError(_, info) => by_message(info.message()),
        QueryError::RollbackErrorOnCommit { commit_error, .. } => query_error(commit_error),
        _ => None,
    }
}

/// PostgreSQL's SQLSTATE and MySQL's error number do not reach diesel's errors, only the
/// server's message does (in English, as servers send them unless `lc_messages` says
/// otherwise); a connection that tokio-postgres or mysql_async lost has no code at all, only
/// the driver's own description. The texts are the servers' and drivers' fixed ones; tests
/// produce them on real servers: PostgreSQL's in `tests/api/resilience.rs`, MySQL's deadlock,
/// lock wait timeout and killed connection in `tests/api/mysql_failures.rs`.
fn by_message(message: &str) -> Option<Transient> {
    const LOST: &[&str] = &[
        // 57P01: `pg_terminate_backend`, or a fast or smart shutdown.
        "terminating connection due to administrator command",
        // 57P02: another backend crashed and the server restarts.
        "terminating connection because of crash of another server process",
        // 57P03: connecting while the server starts, stops or recovers.
        "the database system is starting up",
        "the database system is shutting down",
        "the database system is in recovery mode",
        "the database system is not yet accepting connections",
        // tokio-postgres: the connection is closed, or reading or writing it failed.
        "connection closed",
        "error communicating with the server",
        "error connecting to server",
        // diesel-async: the task that drove the connection has ended.
        "channel closed",
        // MySQL 1927 (MariaDB): `KILL CONNECTION`; 1053: the server is shutting down.
        "Connection was killed",
        "Server shutdown in progress",
        // mysql_async: reading or writing the socket failed, or the server closed it.
        "Input/output error: ",
        "Driver error: `Connection to the server is closed.'",
    ];
    if message.starts_with("deadlock detected")
        || message.starts_with("Deadlock found when trying to get lock")
    {
        Some(Transient::Deadlock)
    } else if message.starts_with("Lock wait timeout exceeded") {
        Some(Transient::LockWaitTimeout)
    } else if LOST.iter().any(|lost| message.starts_with(lost)) {
        Some(Transient::ConnectionLost)
    } else if message.starts_with("database is locked")
        || message.starts_with("database table is locked")
    {
        Some(Transient::DatabaseLocked)
    } else {
        None
    }
}

/// An error that may be a database's failure: what [`Retry`] classifies.
pub trait DbFailure {
    fn db_error(&self) -> Option<&DbError>;
}

impl DbFailure for DbError {
    fn db_error(&self) -> Option<&DbError> {
        Some(self)
    }
}

/// Which failures an attempt may be followed by another after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Any transient failure: reads, and transactions (they rolled back).
    Whole,
    /// Only a failure before the statement was sent: a single write outside a transaction.
    UnlessSent,
}

/// The attempts of one database call.
pub struct Retry {
    rerun: Rerun,
    /// Inside a unit of work (`db::unit`) nothing is retried on its own: the unit's
    /// transaction failed with it, and the unit runs again as a whole.
    in_unit: bool,
    started: Instant,
    /// Attempts that have failed.
    failed: usize,
    /// Built at the first failure: most calls never need it.
    delays: Option<ExponentialBackoff>,
}

impl Retry {
    pub fn new(rerun: Rerun) -> Self {
        Self {
            rerun,
            in_unit: super::unit::active(),
            started: Instant::now(),
            failed: 0,
            delays: None,
        }
    }

    /// Waits for `checkout`; a later attempt waits only as long as the window has left.
    pub async fn checkout<T, E>(
        &self,
        checkout: impl Future<Output = Result<T, bb8::RunError<E>>>,
    ) -> Result<T, bb8::RunError<E>> {
        if self.failed == 0 {
            return checkout.await;
        }
        tokio::time::timeout_at(self.started + WINDOW, checkout)
            .await
            .unwrap_or(Err(bb8::RunError::TimedOut))
    }

    /// After an attempt: `Break` with the call's outcome, or `Continue` (once the back-off has
    /// passed) for another attempt.
    pub async fn after<T, E: DbFailure>(
        &mut self,
        outcome: Result<T, E>,
    ) -> ControlFlow<Result<T, E>> {
        let error = match outcome {
            Ok(value) => return ControlFlow::Break(Ok(value)),
            Err(error) => error,
        };
        self.failed += 1;
        let Some(failure) = error.db_error().filter(|_| !self.in_unit) else {
            return ControlFlow::Break(Err(error));
        };
        let Some(reason) = failure.transient() else {
            return ControlFlow::Break(Err(error));
        };
        if self.rerun == Rerun::UnlessSent && !failure.before_sending() {
            return ControlFlow::Break(Err(error));
        }
        let elapsed = self.started.elapsed();
        let delay = self
            .delays
            .get_or_insert_with(back_off)
            .next()
            .filter(|delay| elapsed + *delay < WINDOW);
        let Some(delay) = delay else {
            metrics::counter!("db_retries_exhausted_total").increment(1);
            tracing::warn!(
                reason = reason.label(),
                attempts = self.failed,
                elapsed_ms = elapsed.as_millis() as u64,
                "database call failed after retries"
            );
            return ControlFlow::Break(Err(error));
        };
        metrics::counter!("db_retries_total", "reason" => reason.label()).increment(1);
        // The reason only: a database's message can quote the values of the statement.
        tracing::warn!(
            reason = reason.label(),
            attempt = self.failed,
            delay_ms = delay.as_millis() as u64,
            "retrying a database call after a transient failure"
        );
        tokio::time::sleep(delay).await;
        ControlFlow::Continue(())
    }
}

fn back_off() -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(FIRST_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_max_times(ATTEMPTS - 1)
        .with_total_delay(Some(TOTAL_DELAY))
        .with_jitter()
        .build()
}

/// A transaction's outcome, given whether its body had finished (so the failure, if any, came
/// while committing): a connection lost then leaves the commit unknown, which is not retried.
pub fn settled<T>(outcome: DbResult<T>, committing: bool) -> DbResult<T> {
    match outcome {
        Err(error) if committing => Err(while_committing(error)),
        other => other,
    }
}

/// A commit's failure: with the connection lost, it may have committed or not.
pub fn while_committing(error: DbError) -> DbError {
    if error.transient() == Some(Transient::ConnectionLost) {
        DbError::CommitOutcomeUnknown(Box::new(error))
    } else {
        error
    }
}

/// Runs `$attempt` (a block that evaluates to a [`DbResult`](crate::db::DbResult), with `?`
/// leaving the attempt) until it succeeds or fails for good ([`Retry::after`]); `$retry` names
/// the [`Retry`] within it, for its checkout.
#[doc(hidden)]
#[macro_export]
macro_rules! __retrying {
    ($rerun:expr, |$retry:ident| $attempt:block) => {{
        let mut attempts = $crate::db::retry::Retry::new($rerun);
        loop {
            let $retry = &attempts;
            // A closure, not a block: `?` and `return` in the attempt leave the attempt only.
            // Mutable for the attempts that change what they captured.
            #[allow(unused_mut)]
            let mut attempt = async || -> $crate::db::DbResult<_> { $attempt };
            let outcome = attempt().await;
            match attempts.after(outcome).await {
                ::std::ops::ControlFlow::Break(outcome) => break outcome,
                ::std::ops::ControlFlow::Continue(()) => {}
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::Query(QueryError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    fn unknown(message: &str) -> DbError {
        database_error(DatabaseErrorKind::Unknown, message)
    }

    #[test]
    fn transient_failures_name_their_reason() {
        let cases = [
            (
                database_error(
                    DatabaseErrorKind::SerializationFailure,
                    "could not serialize access due to concurrent update",
                ),
                Transient::SerializationFailure,
            ),
            (unknown("deadlock detected"), Transient::Deadlock),
            (
                unknown("terminating connection due to administrator command"),
                Transient::ConnectionLost,
            ),
            (
                unknown("terminating connection because of crash of another server process"),
                Transient::ConnectionLost,
            ),
            (
                database_error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
                Transient::ConnectionLost,
            ),
            (
                database_error(
                    DatabaseErrorKind::UnableToSendCommand,
                    "error communicating with the server: Connection reset by peer (os error 104)",
                ),
                Transient::ConnectionLost,
            ),
            (
                database_error(DatabaseErrorKind::ClosedConnection, "server closed"),
                Transient::ConnectionLost,
            ),
            (
                DbError::Pool(bb8::RunError::User(PoolError::ConnectionError(
                    ConnectionError::BadConnection("the database system is starting up".into()),
                ))),
                Transient::ConnectionLost,
            ),
            (
                DbError::Pool(bb8::RunError::TimedOut),
                Transient::PoolTimeout,
            ),
            (unknown("database is locked"), Transient::DatabaseLocked),
            (
                DbError::Query(QueryError::RollbackErrorOnCommit {
                    commit_error: Box::new(QueryError::DatabaseError(
                        DatabaseErrorKind::SerializationFailure,
                        Box::new("could not serialize access".to_owned()),
                    )),
                    rollback_error: Box::new(QueryError::BrokenTransactionManager),
                }),
                Transient::SerializationFailure,
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(error.transient(), Some(reason), "{error:?}");
        }
    }

    /// SQLite's own words for a write lock held by another connection.
    #[test]
    fn a_held_sqlite_write_lock_is_transient() {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, SqliteConnection};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("locked.db");
        let path = path.to_string_lossy();
        let mut holder = SqliteConnection::establish(&path).expect("open");
        holder
            .batch_execute("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE;")
            .expect("take the write lock");
        let mut other = SqliteConnection::establish(&path).expect("open");
        let error = other
            .batch_execute("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE;")
            .expect_err("the lock is held");
        assert_eq!(
            DbError::from(error).transient(),
            Some(Transient::DatabaseLocked)
        );
    }

    #[test]
    fn lasting_failures_are_not_transient() {
        let cases = [
            DbError::UniqueViolation("patients_clinic_email".into()),
            DbError::ExclusionViolation("appointments_doctor_no_overlap".into()),
            database_error(
                DatabaseErrorKind::ForeignKeyViolation,
                "insert or update on table violates foreign key constraint",
            ),
            database_error(
                DatabaseErrorKind::CheckViolation,
                "new row violates check constraint",
            ),
            database_error(DatabaseErrorKind::NotNullViolation, "null value in column"),
            unknown("syntax error at or near \"SELEC\""),
            unknown("relation \"patient\" does not exist"),
            DbError::Query(QueryError::NotFound),
            DbError::Pool(bb8::RunError::User(PoolError::ConnectionError(
                ConnectionError::BadConnection(
                    "password authentication failed for user \"app\"".into(),
                ),
            ))),
            DbError::CommitOutcomeUnknown(Box::new(unknown("connection closed"))),
        ];
        for error in cases {
            assert_eq!(error.transient(), None, "{error:?}");
        }
    }

    #[test]
    fn a_connection_lost_while_committing_leaves_the_outcome_unknown() {
        let lost = || Err::<(), _>(unknown("connection closed"));
        assert!(matches!(
            settled(lost(), true),
            Err(DbError::CommitOutcomeUnknown(_))
        ));
        // Before the commit the transaction rolled back: it runs again.
        assert_eq!(
            settled(lost(), false).err().and_then(|e| e.transient()),
            Some(Transient::ConnectionLost)
        );
        // A conflict at commit rolls back too.
        let conflict = Err::<(), _>(database_error(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access",
        ));
        assert_eq!(
            settled(conflict, true).err().and_then(|e| e.transient()),
            Some(Transient::SerializationFailure)
        );
    }

    /// Runs `failures` in turn, then succeeds, under `rerun`; returns the outcome and the
    /// attempts made.
    async fn attempt_through(
        rerun: Rerun,
        failures: Vec<DbError>,
    ) -> (DbResult<&'static str>, usize) {
        let attempts = Arc::new(AtomicUsize::new(0));
        let failures = std::sync::Mutex::new(failures.into_iter());
        let outcome = crate::__retrying!(rerun, |retry| {
            let _ = retry;
            attempts.fetch_add(1, Ordering::Relaxed);
            let next = failures.lock().expect("failures").next();
            match next {
                Some(error) => return Err(error),
                None => Ok("done"),
            }
        });
        (outcome, attempts.load(Ordering::Relaxed))
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_runs_again_after_transient_failures() {
        let (outcome, attempts) = attempt_through(
            Rerun::Whole,
            vec![unknown("connection closed"), unknown("deadlock detected")],
        )
        .await;
        assert_eq!(outcome.ok(), Some("done"));
        assert_eq!(attempts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let (outcome, attempts) = attempt_through(
            Rerun::Whole,
            (0..10).map(|_| unknown("connection closed")).collect(),
        )
        .await;
        assert_eq!(
            outcome.err().and_then(|e| e.transient()),
            Some(Transient::ConnectionLost)
        );
        assert_eq!(attempts, ATTEMPTS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_failure_is_never_retried() {
        let (outcome, attempts) = attempt_through(
            Rerun::Whole,
            vec![DbError::UniqueViolation("patients_clinic_email".into())],
        )
        .await;
        assert!(matches!(outcome, Err(DbError::UniqueViolation(_))));
        assert_eq!(attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_write_runs_again_only_if_it_was_never_sent() {
        let (outcome, attempts) =
            attempt_through(Rerun::UnlessSent, vec![unknown("connection closed")]).await;
        assert!(outcome.is_err());
        assert_eq!(attempts, 1, "a sent write may have committed");
        let (outcome, attempts) = attempt_through(
            Rerun::UnlessSent,
            vec![DbError::Pool(bb8::RunError::TimedOut)],
        )
        .await;
        assert_eq!(outcome.ok(), Some("done"));
        assert_eq!(attempts, 2);
    }

    #[test]
    fn back_offs_grow_stay_bounded_and_vary() {
        let delays: Vec<Duration> = back_off().collect();
        assert_eq!(delays.len(), ATTEMPTS - 1);
        assert!(delays.iter().sum::<Duration>() <= TOTAL_DELAY);
        for delay in &delays {
            assert!(
                *delay >= FIRST_DELAY && *delay <= 2 * MAX_DELAY,
                "{delay:?}"
            );
        }
        let other: Vec<Duration> = back_off().collect();
        assert_ne!(
            delays, other,
            "jitter spreads the retries of calls that failed together"
        );
    }
}
