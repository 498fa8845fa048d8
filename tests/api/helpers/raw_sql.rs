//! The database as someone with a copy of it sees it: statements run around the service, and
//! the raw contents a dump tool writes.
use clinicgraph::config::DatabaseUrl;
use clinicgraph::db::DbPool;
use diesel::QueryableByName;
use diesel::sql_types::Text;

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

async fn pool(url: &str) -> DbPool {
    let url: DatabaseUrl = url.parse().expect("url");
    DbPool::connect(&url, 1).await.expect("pool")
}

/// Runs one SQL statement on the database at `url`; the error text if it fails.
pub async fn execute(url: &str, sql: &str) -> Result<usize, String> {
    use diesel_async::RunQueryDsl;
    let pool = pool(url).await;
    let run = async {
        clinicgraph::with_conn!(&pool, |conn| Ok::<_, clinicgraph::db::DbError>(
            diesel::sql_query(sql).execute(conn).await?
        ))
    };
    run.await
        .map_err(|error| format!("{:#}", anyhow::Error::from(error)))
}

/// The text column `value` of each row `sql` selects.
pub async fn texts(url: &str, sql: &str) -> Vec<String> {
    use diesel_async::RunQueryDsl;
    let pool = pool(url).await;
    let rows: Vec<Value> = clinicgraph::with_conn!(
        &pool,
        |conn| Ok::<_, clinicgraph::db::DbError>(diesel::sql_query(sql).load(conn).await?)
    )
    .expect("query");
    rows.into_iter().map(|row| row.value).collect()
}

/// Everything the database holds, as its own tools write it out: the SQLite file and its
/// write-ahead log, `pg_dump`'s plain SQL, `mariadb-dump`'s.
pub async fn dump(url: &str) -> Vec<u8> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).expect("database file");
        if let Ok(log) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(log);
        }
        return bytes;
    }
    let output = if let Some(rest) = url.strip_prefix("mysql://") {
        // mysql://user@host:port/database, as the tests' databases are named.
        let (user_host, database) = rest.split_once('/').expect("a database");
        let (user, host_port) = user_host.split_once('@').expect("a user");
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, "3306"));
        let database = database.split('?').next().unwrap_or(database);
        tokio::process::Command::new("mariadb-dump")
            .args([
                "-h",
                host,
                "-P",
                port,
                "-u",
                user,
                "--skip-extended-insert",
                database,
            ])
            .output()
            .await
            .expect("mariadb-dump")
    } else {
        tokio::process::Command::new("pg_dump")
            .args(["--data-only", "--dbname", url])
            .output()
            .await
            .expect("pg_dump")
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}
