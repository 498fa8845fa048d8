//! How the app's statements run on PostgreSQL, where it shows to clients as latency and
//! throughput: the statement of each list page is planned once per connection, not per request,
//! and a query sends all its statements over one connection; the audit trail's write is
//! prepared once per connection too.
use clinicgraph::core::auth::Role;
use clinicgraph::db::DbPool;
use clinicgraph::db::columns::PreparedSets;
use clinicgraph::modules::audit::model::AuditFilter;
use clinicgraph::modules::audit::repository::{AuditRepository, DieselAuditRepository};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::audit_storage::demo_admin_reads;
use crate::helpers::{Backend, TestApp, patient_input};

#[derive(QueryableByName, Debug)]
struct PreparedStatement {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

/// The statements prepared on the app's connection (the app must have one) whose text is
/// `LIKE` `pattern`.
async fn prepared_statements(app: &TestApp, pattern: &str) -> Vec<PreparedStatement> {
    let DbPool::Postgres(pool) = &app.pool else {
        panic!("a PostgreSQL app");
    };
    let mut conn = pool.get().await.expect("the app's connection");
    sql_query(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE $1",
    )
    .bind::<Text, _>(pattern)
    .load(&mut *conn)
    .await
    .expect("pg_prepared_statements")
}

const LISTS: &str = "query($first: Int) {
  patients(first: $first) { nodes { id } }
  doctors(first: $first) { nodes { id } }
  appointments(first: $first) { nodes { id } }
  prescriptions(first: $first) { nodes { id } }
  jobs(first: $first) { nodes { id } }
}";

/// PostgreSQL plans a prepared statement for each of its first five runs, then keeps a generic
/// plan only if it costs no more; a page size bound as a parameter made the generic plan look
/// ten times dearer, so each list was planned on every request. (The audit trail's list, written
/// the same way, reads through a pool of its own.)
#[tokio::test(flavor = "multi_thread")]
async fn each_list_statement_is_planned_once_per_connection() {
    // One connection: every statement below is prepared on it.
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("DB_POOL_SIZE", "1")]).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    const RUNS: i64 = 8;
    for _ in 0..RUNS {
        for first in [20, 5] {
            let lists = app.ok(&admin, LISTS, json!({ "first": first })).await;
            assert_eq!(
                lists["patients"]["nodes"].as_array().map(Vec::len),
                Some(first)
            );
            assert_eq!(lists["doctors"]["nodes"].as_array().map(Vec::len), Some(3));
        }
    }
    let prepared = prepared_statements(&app, "% ORDER BY %").await;
    for table in [
        "patients",
        "doctors",
        "appointments",
        "prescriptions",
        "background_jobs",
    ] {
        let lists: Vec<&PreparedStatement> = prepared
            .iter()
            // The list of `table` selects its columns (other lists' statements may name it
            // in a subquery).
            .filter(|p| p.statement.starts_with(&format!("SELECT \"{table}\".")))
            .collect();
        let runs: i64 = lists.iter().map(|l| l.generic_plans + l.custom_plans).sum();
        assert_eq!(runs, 2 * RUNS, "{table}: {prepared:#?}");
        for list in lists {
            assert!(list.custom_plans <= 5, "planned on every run: {list:#?}");
        }
    }
}

/// A nested page reads only the columns its nodes' fields need, and the keys: PostgreSQL's cost
/// of sending a page's few hundred rows grows with every column. Its appointments' doctors are
/// named by the appointments' own subquery, not by ids from their answer, so that statement
/// does not wait for that answer: PostgreSQL receives both at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_nested_page_reads_only_the_columns_it_shows() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("DB_POOL_SIZE", "1")]).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let page = app
        .ok(
            &admin,
            "{ patients(first: 5) { nodes { name
               appointments(first: 3) { nodes { scheduledAt status doctor { name } } }
               prescriptions(first: 3) { nodes { medication dosage status } } } } }",
            json!({}),
        )
        .await;
    let first = &page["patients"]["nodes"][0];
    assert!(
        first["appointments"]["nodes"][0]["status"].is_string(),
        "{page}"
    );
    assert!(
        first["prescriptions"]["nodes"][0]["dosage"].is_string(),
        "{page}"
    );
    let nested = prepared_statements(&app, "%CROSS JOIN LATERAL%").await;
    let texts: Vec<&str> = nested.iter().map(|p| p.statement.as_str()).collect();
    for columns in [
        "(SELECT id, patient_id, doctor_id, scheduled_at, status FROM appointments ",
        "(SELECT id, patient_id, medication, dosage, status, created_at FROM prescriptions ",
        "\"doctors\".\"id\" IN (SELECT firsts.* FROM unnest($2) AS parents(parent_id) \
         CROSS JOIN LATERAL (SELECT doctor_id FROM appointments WHERE patient_id = ",
    ] {
        assert!(
            texts.iter().any(|text| text.contains(columns)),
            "{columns}: {texts:#?}"
        );
    }
    assert_eq!(texts.len(), 3, "{texts:#?}");
    let doctors = &first["appointments"]["nodes"][0]["doctor"]["name"];
    assert!(doctors.is_string(), "{page}");
}

/// The doctors a nested page shows (appointments' doctors, prescriptions' prescribers) are named
/// by the lists' own subqueries, never read by the ids in the lists' answers: so no statement
/// waits for another's answer, and PostgreSQL receives a level's statements at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_nested_pages_doctors_are_read_with_its_rows() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("DB_POOL_SIZE", "1")]).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    // What the demo seed's writes prepared (an insert reads its row back by id).
    let seeded: Vec<String> = prepared_statements(&app, "%FROM \"doctors\" %")
        .await
        .into_iter()
        .map(|p| p.statement)
        .collect();
    let page = app
        .ok(
            &admin,
            "{ patients(first: 5) { nodes {
               appointments(first: 3) { nodes { doctor { name } } }
               prescriptions(first: 3) { nodes { prescriber { name } } } } } }",
            json!({}),
        )
        .await;
    let first = &page["patients"]["nodes"][0];
    assert!(
        first["appointments"]["nodes"][0]["doctor"]["name"].is_string(),
        "{page}"
    );
    assert!(
        first["prescriptions"]["nodes"][0]["prescriber"]["name"].is_string(),
        "{page}"
    );
    let doctors = prepared_statements(&app, "%FROM \"doctors\" %").await;
    let texts: Vec<&str> = doctors
        .iter()
        .map(|p| p.statement.as_str())
        .filter(|text| !seeded.iter().any(|seeded| seeded == text))
        .collect();
    for named_by in [
        "(SELECT doctor_id FROM appointments WHERE patient_id = parents.parent_id ",
        "(SELECT prescriber_id FROM prescriptions WHERE patient_id = parents.parent_id ",
    ] {
        assert!(
            texts.iter().any(|text| text.contains(named_by)),
            "{named_by}: {texts:#?}"
        );
    }
    assert_eq!(texts.len(), 2, "{texts:#?}");
}

/// Each selection of a nested page is a statement of its own; a client sending one selection
/// after another must not leave an unbounded number of them prepared on a connection.
#[tokio::test(flavor = "multi_thread")]
async fn selections_beyond_a_handful_run_unprepared() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("DB_POOL_SIZE", "1")]).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let fields = [
        "durationMinutes",
        "endsAt",
        "status",
        "reason",
        "notes",
        "cancellationReason",
        "createdAt",
        "updatedAt",
        "clinic { name }",
    ];
    const SELECTIONS: usize = 40;
    for set in 1..=SELECTIONS {
        let selection: Vec<&str> = fields
            .iter()
            .enumerate()
            .filter(|(bit, _)| set & (1 << bit) != 0)
            .map(|(_, field)| *field)
            .collect();
        let page = app
            .ok(
                &admin,
                &format!(
                    "{{ patients(first: 3) {{ nodes {{ appointments(first: 2) {{
                       nodes {{ id {} }} }} }} }} }}",
                    selection.join(" ")
                ),
                json!({}),
            )
            .await;
        let nodes = &page["patients"]["nodes"];
        assert!(
            nodes[0]["appointments"]["nodes"][0]["id"].is_string(),
            "{page}"
        );
    }
    let prepared = prepared_statements(&app, "%FROM appointments WHERE patient_id = %").await;
    assert!(
        (2..=PreparedSets::LIMIT).contains(&prepared.len()),
        "{} statements prepared for {SELECTIONS} selections",
        prepared.len()
    );
}

const NESTED: &str = "{ patients(first: 20) { nodes { id
  appointments(first: 10) { nodes { scheduledAt doctor { name } } }
  prescriptions(first: 10) { nodes { medication } } } } }";

/// Checkouts from the app's pool so far.
fn checkouts(app: &TestApp) -> u64 {
    let DbPool::Postgres(pool) = &app.pool else {
        panic!("a PostgreSQL app");
    };
    pool.state().statistics.get_started
}

/// A page's appointments and prescriptions are two statements sent at once; on one connection
/// they go to PostgreSQL together instead of as two checkouts, two sends and two backends woken.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_sends_all_its_statements_over_one_connection() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let before = checkouts(&app);
    let (page, statements) = app.counted(&admin, NESTED, json!({})).await;
    assert_eq!(checkouts(&app) - before, 1, "{statements} statements");
    assert!(statements >= 3, "{statements} statements");
    let patients = page["patients"]["nodes"].as_array().expect("patients");
    assert_eq!(patients.len(), 20);
    let appointments: usize = patients
        .iter()
        .map(|p| p["appointments"]["nodes"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(appointments > 0, "{page}");

    // Writes keep a checkout per statement or transaction.
    let before = checkouts(&app);
    app.create_patient(
        &admin,
        patient_input("Una Shared", "una.shared@example.org"),
    )
    .await;
    assert!(checkouts(&app) - before >= 1);
}

/// A query holds its connection until it is done, so nothing it runs may wait for a second
/// one: with a single connection, queries and writes sent together must all complete (a
/// query that did would wait for itself until the checkout timeout).
#[tokio::test(flavor = "multi_thread")]
async fn queries_and_writes_sent_together_all_complete_on_one_connection() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("DB_POOL_SIZE", "1")]).await else {
        return;
    };
    let admin = app.token(Role::Admin).await;
    let queries = (0..6).map(|_| app.ok(&admin, NESTED, json!({})));
    let writes = (0..2).map(|i| {
        app.create_patient(
            &admin,
            patient_input(
                &format!("Ola Single {i}"),
                &format!("ola.single{i}@example.org"),
            ),
        )
    });
    let (pages, created) = tokio::join!(
        futures_util::future::join_all(queries),
        futures_util::future::join_all(writes)
    );
    for page in pages {
        assert_eq!(page["patients"]["nodes"].as_array().map(Vec::len), Some(20));
    }
    assert_eq!(created.len(), 2);
}

/// The audit writer stores each batch, whatever its size, with one statement; kept prepared,
/// PostgreSQL parses and plans it once per connection. Sent as `sql_query`, it was prepared
/// and closed again for every batch: under q1's load, a tenth of PostgreSQL's CPU per request.
#[tokio::test(flavor = "multi_thread")]
async fn the_audit_write_is_prepared_once_per_connection() {
    // One connection: every batch below is written on it.
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &[("DB_POOL_SIZE", "1")]).await else {
        return;
    };
    let audit = DieselAuditRepository::new(app.pool.clone());
    let events = demo_admin_reads(&app, 6).await;
    let batches = [&events[..1], &events[1..4], &events[4..]];
    for batch in batches {
        audit.append(batch).await.expect("an audit write");
    }
    let clinic_id = app.demo_clinic_id().await;
    let stored = audit
        .count(clinic_id, &AuditFilter::default())
        .await
        .expect("count");
    assert!(stored >= 6, "{stored}");
    let prepared = prepared_statements(&app, "WITH stored AS %").await;
    assert_eq!(prepared.len(), 1, "{prepared:#?}");
    let runs = prepared[0].generic_plans + prepared[0].custom_plans;
    assert_eq!(runs, batches.len() as i64, "{prepared:#?}");
}
