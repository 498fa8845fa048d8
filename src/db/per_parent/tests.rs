//! The statement texts on both backends, and SQLite's plan for them.
use super::*;

type Row = diesel::sql_types::Untyped;

/// The text as SQLite runs it (every value inline).
fn sqlite_sql(query: &PerParentQuery<Row>) -> String {
    let text = diesel::debug_query::<Sqlite, _>(query).to_string();
    text.trim_end_matches(" -- binds: []").to_owned()
}

fn pg_sql(query: &PerParentQuery<Row>) -> String {
    let text = diesel::debug_query::<Pg, _>(query).to_string();
    text.split(" -- binds:")
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn on_sqlite_each_parent_is_a_correlated_subquery() {
    let sql = sqlite_sql(
        &PerParentQuery::<Row>::new(
            "appointments",
            "id, patient_id",
            "patient_id",
            &[1, 2],
            "id",
            11,
        )
        .in_clinic("clinic_id", 3)
        .eq_name("status", "SCHEDULED"),
    );
    assert_eq!(
        sql,
        "SELECT id, patient_id FROM (VALUES (1), (2)) AS parents CROSS JOIN appointments \
         WHERE appointments.id IN (SELECT id FROM appointments WHERE patient_id = \
         parents.column1 AND +clinic_id = 3 AND status = 'SCHEDULED' ORDER BY id LIMIT 11) \
         ORDER BY patient_id, id"
    );
}

#[test]
fn on_mysql_each_parent_is_a_limited_subquery_of_a_union() {
    let query = PerParentQuery::<Row>::new(
        "appointments",
        "id, patient_id",
        "patient_id",
        &[1, 2],
        "id",
        11,
    )
    .in_clinic("clinic_id", 3)
    .eq_name("status", "SCHEDULED");
    let sql = diesel::debug_query::<Mysql, _>(&query).to_string();
    assert_eq!(
        sql.trim_end_matches(" -- binds: []"),
        "SELECT id, patient_id FROM appointments WHERE appointments.id IN (SELECT id FROM (\
         (SELECT id FROM appointments WHERE patient_id = 1 AND clinic_id = 3 AND status = \
         'SCHEDULED' ORDER BY id LIMIT 11) UNION ALL (SELECT id FROM appointments WHERE \
         patient_id = 2 AND clinic_id = 3 AND status = 'SCHEDULED' ORDER BY id LIMIT 11)) \
         AS firsts) ORDER BY patient_id, id"
    );
    let none = PerParentQuery::<Row>::new("appointments", "id", "patient_id", &[], "id", 11);
    let sql = diesel::debug_query::<Mysql, _>(&none).to_string();
    assert_eq!(
        sql.trim_end_matches(" -- binds: []"),
        "SELECT id FROM appointments WHERE 1 = 0"
    );
}

/// PostgreSQL caches prepared statements by their text: it must not vary with the values.
#[test]
fn on_postgresql_the_text_depends_only_on_the_shape() {
    let query = |clinic: i64, ids: &[i64], from: NaiveDateTime| {
        PerParentQuery::<Row>::new("appointments", "id", "patient_id", ids, "id", 11)
            .in_clinic("clinic_id", clinic)
            .at_or_after("scheduled_at", from)
    };
    let day = |d| {
        chrono::NaiveDate::from_ymd_opt(2026, 1, d)
            .and_then(|date| date.and_hms_opt(9, 0, 0))
            .expect("date")
    };
    let one = pg_sql(&query(1, &[1, 2, 3], day(1)));
    let other = pg_sql(&query(7, &[9; 40], day(2)));
    assert_eq!(one, other);
    assert_eq!(
        one,
        "SELECT firsts.* FROM unnest($1) AS parents(parent_id) CROSS JOIN LATERAL (SELECT id \
         FROM appointments WHERE patient_id = parents.parent_id AND clinic_id = $2 AND \
         scheduled_at >= $3 ORDER BY id LIMIT $4) AS firsts"
    );
}

/// Found by the benchmark: without statistics SQLite chose the clinic index and scanned
/// every appointment of the clinic for each batch (70 times slower).
#[test]
fn sqlite_reads_per_parent_batches_through_the_parent_index() {
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    let mut conn = SqliteConnection::establish(":memory:").expect("sqlite");
    diesel::sql_query(
        "CREATE TABLE appointments (id INTEGER PRIMARY KEY, clinic_id INTEGER, \
         patient_id INTEGER, scheduled_at TEXT)",
    )
    .execute(&mut conn)
    .expect("table");
    for index in [
        "CREATE INDEX appointments_clinic_idx ON appointments (clinic_id, scheduled_at, id)",
        "CREATE INDEX appointments_patient_idx ON appointments (patient_id, scheduled_at, id)",
    ] {
        diesel::sql_query(index).execute(&mut conn).expect("index");
    }
    let sql = sqlite_sql(
        &PerParentQuery::<Row>::new(
            "appointments",
            "id, patient_id, scheduled_at",
            "patient_id",
            &[1, 2, 3],
            "scheduled_at, id",
            11,
        )
        .in_clinic("clinic_id", 1),
    );
    let plan: Vec<Plan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(&mut conn)
        .expect("plan");
    let details: Vec<&str> = plan.iter().map(|p| p.detail.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("appointments_patient_idx")),
        "{details:?}"
    );
    assert!(
        !details.iter().any(|d| d.starts_with("SCAN appointments")),
        "{details:?}"
    );
}

#[test]
fn on_sqlite_an_empty_id_list_matches_nothing() {
    let query = PerParentQuery::<Row>::new("t", "id", "p", &[], "id", 1);
    assert!(sqlite_sql(&query).contains("WHERE 1 = 0"));
}
