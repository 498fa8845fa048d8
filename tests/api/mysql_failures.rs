//! MySQL/MariaDB's transient failures as the retry decorator meets them. diesel-async passes
//! MySQL's errors on as text only (no error number), so each text is produced here by a real
//! server — a deadlock, a lock wait timeout, a killed connection — and must be classified; then
//! a server process rides out killed connections under load, and a transaction failing with a
//! deadlock and a lock wait timeout is run again and written once.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clinicgraph::db::DbError;
use clinicgraph::db::retry::Transient;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::helpers::load::{
    UNLIMITED_LOAD, created_once_after_failed_attempts, created_once_after_lost_connections,
    finish, read_load,
};
use crate::helpers::server::Server;
use crate::helpers::{Backend, TestApp};

/// A connection id, as the server lists it.
#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

async fn connect(url: &str) -> AsyncMysqlConnection {
    AsyncMysqlConnection::establish(url)
        .await
        .expect("the test database")
}

/// What the retry decorator makes of `statement`'s failure on `conn`.
async fn classified(conn: &mut AsyncMysqlConnection, statement: &str) -> Option<Transient> {
    let error = diesel::sql_query(statement)
        .execute(conn)
        .await
        .expect_err("the statement fails");
    DbError::from(error).transient()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_deadlocks_lock_waits_and_lost_connections_are_transient() {
    let Some(app) = TestApp::spawn(Backend::Mysql).await else {
        return;
    };
    let url = &app.database_url;
    let (mut first, mut second) = (connect(url).await, connect(url).await);
    second
        .batch_execute("SET SESSION innodb_lock_wait_timeout = 1")
        .await
        .expect("timeout");

    // A row held by one transaction and wanted by another, past the wait timeout.
    first
        .batch_execute("BEGIN; SELECT id FROM clinics WHERE id = 1 FOR UPDATE")
        .await
        .expect("first lock");
    second.batch_execute("BEGIN").await.expect("begin");
    assert_eq!(
        classified(
            &mut second,
            "SELECT id FROM clinics WHERE id = 1 FOR UPDATE"
        )
        .await,
        Some(Transient::LockWaitTimeout)
    );
    second.batch_execute("ROLLBACK").await.expect("rollback");

    // Each holds a row the other then asks for: the server ends one of them.
    second
        .batch_execute("BEGIN; SELECT id FROM users WHERE id = 1 FOR UPDATE")
        .await
        .expect("second lock");
    let waiting = tokio::spawn(async move {
        let outcome = diesel::sql_query("SELECT id FROM users WHERE id = 1 FOR UPDATE")
            .execute(&mut first)
            .await;
        (first, outcome)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second_outcome = diesel::sql_query("SELECT id FROM clinics WHERE id = 1 FOR UPDATE")
        .execute(&mut second)
        .await;
    let (_, first_outcome) = waiting.await.expect("first");
    let failures: Vec<Option<Transient>> = [first_outcome, second_outcome]
        .into_iter()
        .filter_map(Result::err)
        .map(|error| DbError::from(error).transient())
        .collect();
    assert_eq!(failures, [Some(Transient::Deadlock)]);

    // A connection the server has ended.
    let mut doomed = connect(url).await;
    let mut admin = connect(url).await;
    let id: Id = diesel::sql_query("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id")
        .get_result(&mut doomed)
        .await
        .expect("connection id");
    admin
        .batch_execute(&format!("KILL CONNECTION {}", id.id))
        .await
        .expect("kill");
    assert_eq!(
        classified(&mut doomed, "SELECT 1").await,
        Some(Transient::ConnectionLost)
    );
}

/// Ends every connection to the test database but the caller's; returns how many.
async fn kill_connections(conn: &mut AsyncMysqlConnection) -> usize {
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT CAST(id AS SIGNED) AS id FROM information_schema.PROCESSLIST \
         WHERE db = DATABASE() AND id <> CONNECTION_ID()",
    )
    .load(conn)
    .await
    .expect("connections");
    let mut killed = 0;
    for Id { id } in ids {
        // One may have ended by itself in the meantime.
        if conn
            .batch_execute(&format!("KILL CONNECTION {id}"))
            .await
            .is_ok()
        {
            killed += 1;
        }
    }
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_reads_and_a_mutation_ride_out_killed_connections() {
    let Some(app) = TestApp::spawn(Backend::Mysql).await else {
        return;
    };
    let server = Arc::new(Server::start(&app.database_url, &UNLIMITED_LOAD).await);
    let token = server.login("admin@demo.clinic").await;
    let stop = Arc::new(AtomicBool::new(false));
    let readers = read_load(&server, &token, 3, &stop);
    let mut admin = connect(&app.database_url).await;
    let mut killed = 0;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        killed += kill_connections(&mut admin).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    let (reads, failures) = finish(readers).await;
    assert!(killed >= 6, "connections killed: {killed}");
    assert!(reads >= 20, "reads: {reads}");
    assert!(
        failures.is_empty(),
        "{} of {reads} reads failed: {failures:?}",
        failures.len()
    );

    assert!(kill_connections(&mut admin).await > 0);
    created_once_after_lost_connections(&server, &token, "After Kill", "after.kill@example.org")
        .await;
}

/// A new patient's first attempts fail inside the transaction, after its INSERT, with the
/// server's own deadlock and lock wait errors (raised by a trigger, as real ones cannot be
/// timed into one statement); a MariaDB sequence, which a rollback does not undo, counts the
/// attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_transactions_are_rerun_after_deadlocks_and_lock_waits() {
    let Some(app) = TestApp::spawn(Backend::Mysql).await else {
        return;
    };
    let mut conn = connect(&app.database_url).await;
    conn.batch_execute(
        "CREATE SEQUENCE injected_failures;
         CREATE TRIGGER inject_failure AFTER INSERT ON patients FOR EACH ROW
         BEGIN
           DECLARE attempt BIGINT DEFAULT NEXTVAL(injected_failures);
           IF attempt = 1 THEN
             SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213,
               MESSAGE_TEXT = 'Deadlock found when trying to get lock; try restarting transaction';
           ELSEIF attempt = 2 THEN
             SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1205,
               MESSAGE_TEXT = 'Lock wait timeout exceeded; try restarting transaction';
           END IF;
         END",
    )
    .await
    .expect("failure injection");
    created_once_after_failed_attempts(&app.database_url, &["deadlock", "lock_wait_timeout"]).await;
}
