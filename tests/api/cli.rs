//! The binary as operators meet it: configuration errors, setting up a clinic without demo data,
//! seeding, and a clean shutdown on SIGTERM.
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use clinicgraph::core::auth::Role;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_clinicgraph");

/// The binary with a clean environment and a scratch working directory (so no `.env` is read).
fn clinicgraph(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    command
}

#[test]
fn bad_configuration_stops_before_binding_with_one_message_listing_every_problem() {
    let dir = tempfile::tempdir().expect("dir");
    let output = clinicgraph(dir.path())
        .args(["serve"])
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "short")
        .env("BIND_ADDR", "not-an-address")
        .env("JWT_TTL_SECONDS", "forever")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in [
        "DATABASE_URL",
        "JWT_SECRET",
        "BIND_ADDR",
        "JWT_TTL_SECONDS",
        "DATA_KEYS: required in production",
    ] {
        assert!(
            stderr.contains(variable),
            "{variable} missing from:\n{stderr}"
        );
    }
    assert!(!stderr.contains("short"), "a secret was echoed:\n{stderr}");
}

#[test]
fn an_operator_sets_up_a_clinic_and_an_admin_without_demo_data() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = clinicgraph(dir.path())
            .args(args)
            .env("DATABASE_URL", "sqlite://ops.db")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write");
        }
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    run(&["migrate"], None);
    let clinic_id = run(&["clinic", "create", "--name", "North Clinic"], None);
    assert!(clinic_id.parse::<i64>().is_ok(), "{clinic_id}");
    let user_id = run(
        &[
            "user",
            "create",
            "--email",
            "Boss@North.example",
            "--name",
            "North Boss",
            "--role",
            "ADMIN",
            "--clinic-id",
            &clinic_id,
        ],
        Some("a-long-enough-password\n"),
    );
    assert!(user_id.parse::<i64>().is_ok(), "{user_id}");
    // Too short a password is refused and nothing is created.
    let refused = clinicgraph(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "x@north.example",
            "--name",
            "X",
            "--role",
            "NURSE",
        ])
        .args(["--clinic-id", &clinic_id])
        .env("DATABASE_URL", "sqlite://ops.db")
        .stdin(Stdio::piped())
        .output()
        .expect("run");
    assert!(!refused.status.success());

    let seeded = run(
        &["seed", "--patients", "25", "--clinic-id", &clinic_id],
        None,
    );
    assert!(seeded.contains("added 25 patients"), "{seeded}");
    let unknown = clinicgraph(dir.path())
        .args(["seed", "--patients", "5", "--clinic-id", "999"])
        .env("DATABASE_URL", "sqlite://ops.db")
        .output()
        .expect("run");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no clinic 999"), "{stderr}");
    assert!(run(&["seed", "--demo"], None).contains("admin@demo.clinic"));
    assert_eq!(run(&["seed", "--demo"], None), "demo data already present");
}

#[test]
fn seeding_is_refused_in_production() {
    let dir = tempfile::tempdir().expect("dir");
    let output = clinicgraph(dir.path())
        .args(["seed", "--demo"])
        .env("APP_ENV", "production")
        .env("DATABASE_URL", "sqlite://prod.db")
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("DATA_KEYS", crate::helpers::DATA_KEYS)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused in production"));
}

#[test]
fn serve_seeds_on_first_start_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = clinicgraph(dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("GraphiQL:"))
        .collect();
    for email in ["admin@demo.clinic", "patient@demo.clinic"] {
        assert!(lines.iter().any(|l| l.contains(email)), "{lines:?}");
    }
    assert!(dir.path().join("data/clinicgraph.db").exists());
    // Without DATA_KEYS, development keeps a key beside the database, for the owner alone.
    let keys = std::fs::metadata(dir.path().join("data/data-keys")).expect("data keys");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&keys.permissions()) & 0o777,
        0o600
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// Runs the binary against `app`'s database; returns whether it succeeded, stdout and stderr.
fn run_on(app: &crate::helpers::TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = clinicgraph(dir.path())
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DATA_KEYS", crate::helpers::DATA_KEYS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A PATIENT account is linked only to a patient of its own clinic.
async fn a_patient_account_cannot_be_linked_to_another_clinics_patient(
    app: crate::helpers::TestApp,
) {
    let demo = app.demo_clinic_id().await.to_string();
    let (made, other, _) = run_on(&app, &["clinic", "create", "--name", "Other Clinic"], "");
    assert!(made);
    let create = |clinic: &str, patient: &str, email: &str| {
        [
            "user",
            "create",
            "--email",
            email,
            "--name",
            "Linked",
            "--role",
            "PATIENT",
            "--clinic-id",
            clinic,
            "--patient-id",
            patient,
        ]
        .map(str::to_owned)
    };
    let password = "a-long-enough-password\n";
    let args = create(&other, "2", "cross@example.com");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, stderr) = run_on(&app, &args, password);
    assert!(!ok, "linked to another clinic's patient");
    assert!(stderr.contains("patientId"), "{stderr}");
    let response = app
        .login("cross@example.com", "a-long-enough-password")
        .await;
    assert_eq!(response.code(), Some("INVALID_CREDENTIALS"));

    let args = create(&demo, "2", "own@example.com");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, stderr) = run_on(&app, &args, password);
    assert!(ok, "{stderr}");
    let response = app.login("own@example.com", "a-long-enough-password").await;
    assert!(
        response.body["data"]["login"]["accessToken"].is_string(),
        "{}",
        response.text
    );
}

/// `user disable` stops an account signing in until `user enable`; `user delete` ends it for
/// good and frees its email address.
async fn operators_disable_enable_and_delete_accounts(app: crate::helpers::TestApp) {
    let email = "nurse@demo.clinic";
    let password = clinicgraph::seed::DEMO_PASSWORD;
    let signs_in = async |app: &crate::helpers::TestApp| {
        let response = app.login(email, password).await;
        if response.body["data"]["login"]["accessToken"].is_string() {
            true
        } else {
            assert_eq!(
                response.code(),
                Some("INVALID_CREDENTIALS"),
                "{}",
                response.text
            );
            false
        }
    };
    assert!(signs_in(&app).await);
    let (ok, _, stderr) = run_on(&app, &["user", "disable", "--email", email], "");
    assert!(ok, "{stderr}");
    assert!(!signs_in(&app).await, "a disabled account signed in");
    let (ok, _, stderr) = run_on(&app, &["user", "enable", "--email", email], "");
    assert!(ok, "{stderr}");
    assert!(signs_in(&app).await);

    let (ok, _, stderr) = run_on(&app, &["user", "delete", "--email", email], "");
    assert!(ok, "{stderr}");
    assert!(!signs_in(&app).await, "a deleted account signed in");
    // Gone: it cannot be enabled again, and its address can be given to a new account.
    let (ok, _, _) = run_on(&app, &["user", "enable", "--email", email], "");
    assert!(!ok);
    let (ok, _, _) = run_on(
        &app,
        &["user", "disable", "--email", "nobody@example.com"],
        "",
    );
    assert!(!ok);
    let clinic = app.demo_clinic_id().await.to_string();
    let (ok, _, stderr) = run_on(
        &app,
        &[
            "user",
            "create",
            "--email",
            email,
            "--name",
            "New Nurse",
            "--role",
            "NURSE",
            "--clinic-id",
            &clinic,
        ],
        "another-long-password\n",
    );
    assert!(ok, "{stderr}");
    let response = app.login(email, "another-long-password").await;
    assert!(
        response.body["data"]["login"]["accessToken"].is_string(),
        "{}",
        response.text
    );
}

/// `user set-password` gives an account a new password and ends its sessions; `user
/// set-role` changes a staff account's role, which its sessions carry within seconds.
async fn operators_reset_passwords_and_change_roles(app: crate::helpers::TestApp) {
    let email = "nurse@demo.clinic";
    let token = app.token(Role::Nurse).await;
    // What the token may do: a NURSE reads prescriptions, a RECEPTIONIST does not.
    let prescriptions = "{ prescriptions(first: 1) { totalCount } }";
    let role = async || {
        let response = app.gql(Some(&token), prescriptions, json!({})).await;
        match response.code() {
            None => Some("NURSE".to_owned()),
            Some("FORBIDDEN") => Some("RECEPTIONIST".to_owned()),
            other => other.map(str::to_owned),
        }
    };
    let soon = async |expected: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let now = role().await;
            if now.as_deref() == Some(expected) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "still {now:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (ok, out, stderr) = run_on(
        &app,
        &[
            "user",
            "set-role",
            "--email",
            email,
            "--role",
            "RECEPTIONIST",
        ],
        "",
    );
    assert!(ok, "{stderr}");
    assert_eq!(out, "nurse@demo.clinic is RECEPTIONIST");
    soon("RECEPTIONIST").await;
    let (ok, _, stderr) = run_on(
        &app,
        &["user", "set-role", "--email", email, "--role", "PATIENT"],
        "",
    );
    assert!(!ok, "staff became a PATIENT");
    assert!(stderr.contains("role"), "{stderr}");

    let (ok, _, stderr) = run_on(&app, &["user", "set-password", "--email", email], "short\n");
    assert!(!ok, "a short password was set");
    assert!(stderr.contains("password"), "{stderr}");
    soon("RECEPTIONIST").await;
    let (ok, _, stderr) = run_on(
        &app,
        &["user", "set-password", "--email", email],
        "a fresh long password\n",
    );
    assert!(ok, "{stderr}");
    soon("UNAUTHENTICATED").await;
    let old = app.login(email, clinicgraph::seed::DEMO_PASSWORD).await;
    assert_eq!(old.code(), Some("INVALID_CREDENTIALS"));
    let new = app.login(email, "a fresh long password").await;
    assert!(
        new.body["data"]["login"]["accessToken"].is_string(),
        "{}",
        new.text
    );
}

crate::on_every_backend!(
    a_patient_account_cannot_be_linked_to_another_clinics_patient,
    operators_disable_enable_and_delete_accounts,
    operators_reset_passwords_and_change_roles,
);

/// A backup of the whole database is an operator's command, not a clinic's mutation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_an_operators_command() {
    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Sqlite)
        .await
        .expect("SQLite");
    let dir = tempfile::tempdir().expect("dir");
    let scratch = dir.path().join("snapshots");
    let backup = |args: &[&str]| {
        let output = clinicgraph(dir.path())
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("BACKUP_DIR", &scratch)
            .env("BACKUP_KEEP", "2")
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let files: Vec<String> = (0..3).map(|_| backup(&["backup"])).collect();
    // In the file store (the development default beside the database), the newest two.
    let listed = backup(&["backup", "--list"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), files[1..]);
    assert!(
        std::fs::read_dir(&scratch)
            .expect("scratch")
            .next()
            .is_none(),
        "nothing is left in BACKUP_DIR"
    );

    // A clinic's ADMIN has no way to it.
    let admin = app.token(clinicgraph::core::auth::Role::Admin).await;
    let response = app
        .gql(
            Some(&admin),
            "mutation { backupDatabase { id } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        response.code(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        response.text
    );
}
