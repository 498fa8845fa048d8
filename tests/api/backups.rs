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

    let backups = tempfile::tempdir().expect("temp dir");
    let dir = backups.path().display().to_string();
    let env = [("BACKUP_DIR", dir.as_str()), ("BACKUP_KEEP", "2")];
    for _ in 0..2 {
        assert!(server::run(&app.database_url, &env, &["backup"]).success());
    }
    // Nothing more is written: the last backup holds what is read here.
    app.services.audit_writer.flush().await;
    let before = table_rows(&app.database_url).await;
    assert!(server::run(&app.database_url, &env, &["backup"]).success());
    let mut files: Vec<_> = std::fs::read_dir(backups.path())
        .expect("backups")
        .map(|entry| entry.expect("file").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "BACKUP_KEEP=2 keeps two: {files:?}");
    let newest = files.last().expect("a snapshot").display().to_string();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&newest)
            .expect("snapshot")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "a snapshot is the operator's alone");
    }

    let backend = Backend::of_url(&app.database_url);
    let Some((_restored_db, restored)) = TestDb::create(backend).await else {
        return;
    };
    assert!(server::run(&restored, &[], &["restore", &newest]).success());
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
    assert!(!server::run(&restored, &[], &["restore", &newest]).success());

    let server = Server::start(&restored, &[]).await;
    let token = server.login("admin@demo.clinic").await;
    let found = server.ok(&token, COUNT, json!({ "search": "ζωή" })).await;
    assert_eq!(found["patients"]["totalCount"], 1);
}

on_every_backend!(a_backup_restores_into_a_fresh_database_with_every_row);
