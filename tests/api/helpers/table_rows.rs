//! Every row of every table of a database, as text, for comparing two databases whatever
//! their backend: each table's rows, each row's values quoted by the database itself, in a
//! fixed order. Read through diesel's raw SQL, one text per table.
use std::collections::BTreeMap;

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    rows: Option<String>,
}

/// Table name → its rows, for the database at `url`.
pub async fn table_rows(url: &str) -> BTreeMap<String, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.to_owned();
        return tokio::task::spawn_blocking(move || sqlite(&path))
            .await
            .expect("join");
    }
    if url.starts_with("mysql://") {
        return mysql(url).await;
    }
    postgres(url).await
}

fn sqlite(path: &str) -> BTreeMap<String, String> {
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::SqliteConnection::establish(path).expect("SQLite");
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .load(&mut conn)
    .expect("tables");
    let mut found = BTreeMap::new();
    for Name { name: table } in tables {
        let columns: Vec<Name> =
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                .load(&mut conn)
                .expect("columns");
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{}\")", c.name))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Rows = diesel::sql_query(format!(
            "SELECT group_concat(r, char(10)) AS rows FROM \
             (SELECT {row} AS r FROM \"{table}\" ORDER BY r)"
        ))
        .get_result(&mut conn)
        .expect("rows");
        found.insert(table, rows.rows.unwrap_or_default());
    }
    found
}

async fn postgres(url: &str) -> BTreeMap<String, String> {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url).await.expect("PostgreSQL");
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .expect("tables");
    let mut found = BTreeMap::new();
    for Name { name: table } in tables {
        let rows: Rows = diesel::sql_query(format!(
            "SELECT string_agg(t::text, E'\\n' ORDER BY t::text) AS rows FROM \"{table}\" AS t"
        ))
        .get_result(&mut conn)
        .await
        .expect("rows");
        found.insert(table, rows.rows.unwrap_or_default());
    }
    found
}

async fn mysql(url: &str) -> BTreeMap<String, String> {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncMysqlConnection::establish(url).await.expect("MySQL");
    diesel::sql_query("SET SESSION group_concat_max_len = 1073741824")
        .execute(&mut conn)
        .await
        .expect("session");
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .expect("tables");
    let mut found = BTreeMap::new();
    for Name { name: table } in tables {
        let columns: Vec<Name> = diesel::sql_query(format!(
            "SELECT CAST(column_name AS CHAR) AS name FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = '{table}' ORDER BY ordinal_position"
        ))
        .load(&mut conn)
        .await
        .expect("columns");
        let row = columns
            .iter()
            .map(|c| format!("QUOTE(`{}`)", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Rows = diesel::sql_query(format!(
            "SELECT GROUP_CONCAT(r ORDER BY r SEPARATOR '\\n') AS `rows` FROM \
             (SELECT CONCAT_WS(',', {row}) AS r FROM `{table}`) AS t"
        ))
        .get_result(&mut conn)
        .await
        .expect("rows");
        found.insert(table, rows.rows.unwrap_or_default());
    }
    found
}
