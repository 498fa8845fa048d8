//! Two server processes on two copies of one seeded database: the same data to the second,
//! timestamps included, so the same requests must get the same answers from both.
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use super::server::{self, Server};
use super::{Backend, TestDb, server_url_for};

pub struct Twins {
    pub first: Server,
    pub second: Server,
    // Declared last: the servers stop before their databases are dropped.
    _databases: [TestDb; 2],
}

impl Twins {
    /// Seeds a database with the demo data and starts a server on each of two copies of it,
    /// the first with `first_env`, the second with `second_env`; `None` when the backend is
    /// not configured.
    pub async fn start(
        backend: Backend,
        first_env: &[(&str, &str)],
        second_env: &[(&str, &str)],
    ) -> Option<Twins> {
        let (template, url) = TestDb::create(backend).await?;
        for args in [&["migrate"][..], &["seed", "--demo"]] {
            let status = server::run(&url, &[], args);
            assert!(status.success(), "clinicgraph {args:?}: {status}");
        }
        // The commands have exited: nothing holds the template open while it is copied.
        let copies = [copy(&template).await, copy(&template).await];
        let [(first_db, first_url), (second_db, second_url)] = copies;
        drop(template);
        Some(Twins {
            first: Server::start(&first_url, first_env).await,
            second: Server::start(&second_url, second_env).await,
            _databases: [first_db, second_db],
        })
    }
}

/// A new database with the contents of `template`, and its URL.
async fn copy(template: &TestDb) -> (TestDb, String) {
    match template {
        TestDb::Sqlite { _dir: dir } => {
            let copy = tempfile::tempdir().expect("temp dir");
            for entry in std::fs::read_dir(dir.path()).expect("the template's folder") {
                let path = entry.expect("a file").path();
                // The database's files only: folders beside it (the file store's) are each
                // server's own.
                if path.is_dir() {
                    continue;
                }
                let name = path.file_name().expect("a file name");
                std::fs::copy(&path, copy.path().join(name)).expect("copy");
            }
            let url = format!("sqlite://{}", copy.path().join("test.db").display());
            (TestDb::Sqlite { _dir: copy }, url)
        }
        TestDb::Postgres { admin_url, name } => {
            let copy = format!("cg_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = AsyncPgConnection::establish(admin_url)
                .await
                .expect("TEST_DATABASE_URL must reach PostgreSQL");
            admin
                .batch_execute(&format!("CREATE DATABASE \"{copy}\" TEMPLATE \"{name}\""))
                .await
                .expect("copy the seeded database");
            let url = server_url_for(admin_url, &copy);
            let database = TestDb::Postgres {
                admin_url: admin_url.clone(),
                name: copy,
            };
            (database, url)
        }
        TestDb::Mysql { admin_url, name } => {
            // MySQL has no template databases: the product's own backup and restore copy it.
            let (database, url) = TestDb::create(Backend::Mysql)
                .await
                .expect("the template's server is configured");
            let folders = tempfile::tempdir().expect("temp dir");
            let files = folders.path().display().to_string();
            let env = [("FILES_DIR", files.as_str())];
            let template = server_url_for(admin_url, name);
            let status = server::run(&template, &env, &["backup"]);
            assert!(status.success(), "clinicgraph backup: {status}");
            let snapshot = std::fs::read_dir(folders.path().join("backups"))
                .expect("the store's backups")
                .next()
                .expect("a snapshot")
                .expect("a file")
                .file_name()
                .into_string()
                .expect("a name");
            let status = server::run(&url, &env, &["restore", &snapshot]);
            assert!(status.success(), "clinicgraph restore: {status}");
            (database, url)
        }
    }
}
