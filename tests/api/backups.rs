//! Backups that restore, on every backend: `clinicgraph backup` of a database in use, then
//! `clinicgraph restore` into a fresh database, gives the same rows in every table, and a
//! server on the restored database answers as before.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::server::{self, Server};
use crate::helpers::table_rows::table_rows;
use crate::helpers::{Backend, TestApp, TestDb, patient_input};
use crate::on_every_backend;

const COUNT: &str =
    "query($search: String) { patients(filter: { search: $search }) { totalCount } }";

async fn a_backup_restores_into_a_fresh_database_with_every_row(app: TestApp) {
    let token = app.token(Role::Admin).await;
    // Text beyond ASCII, a soft-deleted record and the audit trail of both.
    app.create_patient(&token, patient_input("Ζωή Παπαδοπούλου", "zoi@example.gr"))
        .await;
    let gone = app
        .create_patient(&token, patient_input("Gone Away", "gone@example.org"))
        .await;
    app.ok(
        &token,
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": gone }),
    )
    .await;

    // The file store and the scratch folder, shared by the commands below as by an operator's
    // runs on one host.
    let folders = tempfile::tempdir().expect("temp dir");
    let files = folders.path().join("files");
    let scratch = folders.path().join("scratch");
    let (files_dir, scratch_dir) = (files.display().to_string(), scratch.display().to_string());
    let env = [
        ("FILES_DIR", files_dir.as_str()),
        ("BACKUP_DIR", scratch_dir.as_str()),
        ("BACKUP_KEEP", "2"),
    ];
    for _ in 0..2 {
        assert!(server::run(&app.database_url, &env, &["backup"]).success());
    }
    // Nothing more is written: the last backup holds what is read here.
    app.services.audit_writer.flush().await;
    let before = table_rows(&app.database_url).await;
    assert!(server::run(&app.database_url, &env, &["backup"]).success());
    let mut names: Vec<String> = std::fs::read_dir(files.join("backups"))
        .expect("backups")
        .map(|entry| {
            entry
                .expect("file")
                .file_name()
                .into_string()
                .expect("name")
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "BACKUP_KEEP=2 keeps two: {names:?}");
    let newest = names.last().expect("a snapshot").clone();
    // Sealed with the data keys in the local store: not a name of it can be read.
    let stored = std::fs::read(files.join("backups").join(&newest)).expect("snapshot");
    assert!(stored.starts_with(b"cg1s"), "sealed");
    let name = "Παπαδοπούλου".as_bytes();
    assert!(!stored.windows(name.len()).any(|w| w == name));
    assert!(
        std::fs::read_dir(&scratch)
            .expect("scratch")
            .next()
            .is_none(),
        "nothing is left in BACKUP_DIR"
    );

    let backend = Backend::of_url(&app.database_url);
    let Some((_restored_db, restored)) = TestDb::create(backend).await else {
        return;
    };
    assert!(server::run(&restored, &env, &["restore", &newest]).success());
    let after = table_rows(&restored).await;
    for table in [
        "patients",
        "appointments",
        "audit_events",
        "sessions",
        "__diesel_schema_migrations",
    ] {
        assert!(!before[table].is_empty(), "{table} has rows");
    }
    for (table, rows) in &before {
        assert_eq!(Some(rows), after.get(table), "table {table}");
    }
    assert_eq!(before.len(), after.len());
    assert!(before["patients"].contains("Παπαδοπούλου"));

    // A restore never goes into a database that has tables.
    assert!(!server::run(&restored, &env, &["restore", &newest]).success());

    let server = Server::start(&restored, &[]).await;
    let token = server.login("admin@demo.clinic").await;
    let found = server.ok(&token, COUNT, json!({ "search": "ζωή" })).await;
    assert_eq!(found["patients"]["totalCount"], 1);
}

/// On the S3 store a snapshot outlives the host that made it: `backup` on one host (a scratch
/// folder of its own) puts it in the bucket, with server-side encryption, keeping
/// `BACKUP_KEEP`; `restore` by name on another fetches it.
async fn a_backup_in_the_bucket_restores_on_another_host(app: TestApp) {
    use crate::helpers::s3::S3Server;
    let Some(s3) = S3Server::start("clinic-backups").await else {
        return;
    };
    let token = app.token(Role::Admin).await;
    app.create_patient(
        &token,
        patient_input("Ζωή Παπαδοπούλου", "zoi.s3@example.gr"),
    )
    .await;
    let mut env = s3.env("eu/prod");
    env.push(("BACKUP_KEEP", "1".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for _ in 0..2 {
        assert!(server::run(&app.database_url, &env, &["backup"]).success());
    }
    let keys = s3.keys().await;
    assert_eq!(keys.len(), 1, "BACKUP_KEEP=1 keeps one: {keys:?}");
    let key = &keys[0];
    let name = key
        .strip_prefix("eu/prod/backups/")
        .unwrap_or_else(|| panic!("under the prefix: {key}"));
    assert!(
        s3.encryption()
            .await
            .contains(&(key.clone(), Some("AES256".to_owned())))
    );

    let backend = Backend::of_url(&app.database_url);
    let Some((_restored_db, restored)) = TestDb::create(backend).await else {
        return;
    };
    assert!(server::run(&restored, &env, &["restore", name]).success());
    let server = Server::start(&restored, &[]).await;
    let token = server.login("admin@demo.clinic").await;
    let found = server.ok(&token, COUNT, json!({ "search": "ζωή" })).await;
    assert_eq!(found["patients"]["totalCount"], 1);
    // A name that is not in the store is refused, and nothing is restored from it.
    let Some((_empty_db, empty)) = TestDb::create(backend).await else {
        return;
    };
    let missing = "clinicgraph-20000101T000000000.db";
    assert!(!server::run(&empty, &env, &["restore", missing]).success());
}

on_every_backend!(
    a_backup_restores_into_a_fresh_database_with_every_row,
    a_backup_in_the_bucket_restores_on_another_host,
);
