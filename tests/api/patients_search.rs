//! Search as the front desk types it: case and accents ignored, on both sides, including for
//! records whose search keys were stored before accents were folded.
use clinicgraph::core::auth::Role;
use diesel::prelude::*;
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use serde_json::{Value, json};
use unicode_normalization::UnicodeNormalization;

use crate::helpers::raw_sql;
use crate::helpers::server::Server;
use crate::helpers::{TestApp, patient_input};
use crate::on_every_backend;

const SEARCH: &str = "query($s: String!) { patients(first: 100, filter: { search: $s }) { totalCount nodes { name } } }";

async fn names_found(app: &TestApp, token: &str, search: &str) -> Vec<String> {
    names(&app.ok(token, SEARCH, json!({ "s": search })).await)
}

fn names(data: &Value) -> Vec<String> {
    data["patients"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n: &Value| n["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn accents_and_case_are_ignored_both_ways(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    app.create_patient(&token, patient_input("Zoe Plain", "zoe.plain@example.com"))
        .await;
    // The demo seed has Zoë Adams and José Müller among its patients.
    for (search, expected) in [
        ("zoe", "Zoë Adams"),
        ("ZOË ADAMS", "Zoë Adams"),
        ("zoe adams", "Zoë Adams"),
        ("jose", "José Müller"),
        ("JOSE MULLER", "José Müller"),
        // Folding is symmetric: an accent typed where the record has none still matches.
        ("zoë", "Zoe Plain"),
        // A decomposed "é" (e + combining acute) is the same letter.
        ("Jose\u{301}", "José Müller"),
    ] {
        let found = names_found(&app, &token, search).await;
        assert!(
            found.contains(&expected.to_owned()),
            "{search:?} did not find {expected}: {found:?}"
        );
    }
    // Folding widens no other letter: "zoa" is not "zoë".
    assert!(names_found(&app, &token, "zoa").await.is_empty());
    // Wildcards stay literal after folding.
    assert!(names_found(&app, &token, "z%e").await.is_empty());
    assert!(names_found(&app, &token, "z_e").await.is_empty());
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");
/// The version of the migration that folds accents in search keys: it and those after it are
/// reverted to bring back a database as it was before.
const FOLDING_MIGRATION: &str = "20261207000014";

/// What search keys held before accents were folded: case folding of the NFC form only.
fn key_before_accent_folding(name: &str, email: &str, phone: Option<&str>) -> String {
    format!("{name}\u{1f}{email}\u{1f}{}", phone.unwrap_or(""))
        .nfc()
        .collect::<String>()
        .to_lowercase()
}

diesel::table! {
    patients (id) {
        id -> BigInt,
        name -> Text,
        email -> Text,
        phone -> Nullable<Text>,
        search_text -> Text,
    }
}

/// On a server backend: reverts the migrations down to the folding one through `$connection`
/// and stores the old keys.
macro_rules! revert_to_old_keys {
    ($connection:ty, $url:expr, $migrations:expr) => {{
        let conn = <$connection>::establish($url).await.expect("connect");
        let mut harness = AsyncMigrationHarness::new(conn);
        while harness
            .revert_last_migration($migrations)
            .expect("revert")
            .to_string()
            != FOLDING_MIGRATION
        {}
        let mut conn = harness.into_inner();
        let rows: Vec<(i64, String, String, Option<String>)> = patients::table
            .select((
                patients::id,
                patients::name,
                patients::email,
                patients::phone,
            ))
            .load(&mut conn)
            .await
            .expect("rows");
        for (id, name, email, phone) in rows {
            diesel::update(patients::table.find(id))
                .set(patients::search_text.eq(key_before_accent_folding(
                    &name,
                    &email,
                    phone.as_deref(),
                )))
                .execute(&mut conn)
                .await
                .expect("old key");
        }
    }};
}

async fn keys_stored_before_the_migration_are_rebuilt(app: TestApp) {
    let token = app.token(Role::Receptionist).await;
    app.create_patient(&token, patient_input("Renée Old", "r.o@example.com"))
        .await;
    app.create_patient(&token, patient_input("Kept Sealed", "k.s@example.com"))
        .await;
    let url = app.database_url.clone();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut conn = diesel::SqliteConnection::establish(&path).expect("connect");
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                "PRAGMA busy_timeout = 5000",
            )
            .expect("busy timeout");
            while conn
                .revert_last_migration(SQLITE_MIGRATIONS)
                .expect("revert")
                .to_string()
                != FOLDING_MIGRATION
            {}
            let rows: Vec<(i64, String, String, Option<String>)> = diesel::RunQueryDsl::load(
                patients::table.select((
                    patients::id,
                    patients::name,
                    patients::email,
                    patients::phone,
                )),
                &mut conn,
            )
            .expect("rows");
            for (id, name, email, phone) in rows {
                diesel::RunQueryDsl::execute(
                    diesel::update(patients::table.find(id)).set(
                        patients::search_text.eq(key_before_accent_folding(
                            &name,
                            &email,
                            phone.as_deref(),
                        )),
                    ),
                    &mut conn,
                )
                .expect("old key");
            }
        })
        .await
        .expect("join");
    } else if url.starts_with("mysql://") {
        revert_to_old_keys!(AsyncMysqlConnection, &url, MYSQL_MIGRATIONS);
    } else {
        revert_to_old_keys!(AsyncPgConnection, &url, POSTGRES_MIGRATIONS);
    }
    // With the old keys, "renee" finds nobody: the state a database is in before upgrading.
    assert!(names_found(&app, &token, "renee").await.is_empty());
    // Before encryption at rest, phones and dates of birth were stored in the clear.
    let legacy = "UPDATE patients SET phone = '5559876543', date_of_birth = '1961-07-30' \
                  WHERE email = 'r.o@example.com'";
    assert_eq!(raw_sql::execute(&url, legacy).await, Ok(1));

    let config_url = url
        .parse::<clinicgraph::config::DatabaseUrl>()
        .expect("url");
    clinicgraph::migrate::run(&config_url, &app.services.keys)
        .await
        .expect("migrate");
    // The release after the migration: a server started on the migrated database (the test's
    // own keeps connections that PostgreSQL planned for the columns' old types).
    let server = Server::start(&url, &[]).await;
    let token = server.login("reception@demo.clinic").await;
    let found = |search: &'static str| {
        let (server, token) = (&server, &token);
        async move {
            let data = server.ok(token, SEARCH, json!({ "s": search })).await;
            names(&data)
        }
    };
    assert_eq!(found("renee old").await, ["Renée Old"]);
    assert!(found("jose").await.contains(&"José Müller".to_owned()));
    // What the upgrade found in the clear is sealed, reads back, and the phone is found by
    // exact match; so are the phones sealed before the migrations were reverted.
    let sealed = "SELECT phone AS value FROM patients WHERE email = 'r.o@example.com' \
                  UNION ALL SELECT date_of_birth FROM patients WHERE email = 'r.o@example.com'";
    let stored = raw_sql::texts(&url, sealed).await;
    assert!(
        stored.iter().all(|v| v.starts_with("cg1.test-1.")),
        "{stored:?}"
    );
    assert_eq!(found("5559876543").await, ["Renée Old"]);
    assert_eq!(found("5551234567").await, ["Kept Sealed"]);
    let read = server
        .ok(&token, "{ patients(first: 100, filter: { search: \"renee old\" }) { nodes { phone dateOfBirth } } }", json!({}))
        .await;
    assert_eq!(
        read["patients"]["nodes"],
        json!([{ "phone": "5559876543", "dateOfBirth": "1961-07-30" }])
    );
    server.stop().await;
}

on_every_backend!(
    accents_and_case_are_ignored_both_ways,
    keys_stored_before_the_migration_are_rebuilt,
);
