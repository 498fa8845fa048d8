//! The README's example operations run against a fresh demo server, so they cannot rot.
use clinicgraph::core::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

/// The bodies of the README's ```graphql blocks, in order.
fn readme_operations() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let mut operations = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(block), "```") => {
                operations.push(std::mem::take(block));
                current = None;
            }
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    operations
}

async fn readme_examples_run_as_documented(app: TestApp) {
    let operations = readme_operations();
    assert!(operations.len() >= 6, "the README lost its examples");
    let admin = app.token(Role::Admin).await;
    for operation in operations {
        // A block that starts with `# as <email>` runs as that demo account.
        let token = match operation
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# as "))
        {
            Some(email) => {
                let response = app
                    .login(email.trim(), clinicgraph::seed::DEMO_PASSWORD)
                    .await;
                response.body["data"]["login"]["accessToken"]
                    .as_str()
                    .unwrap_or_else(|| panic!("README account {email}: {}", response.text))
                    .to_owned()
            }
            None => admin.clone(),
        };
        let response = app.gql(Some(&token), &operation, json!({})).await;
        assert_eq!(response.status, 200, "{operation}\n{}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "README example failed:\n{operation}\n{}",
            response.text
        );
    }
}

/// The benchmark's request bodies, with the first patient's id as the benchmark substitutes it,
/// each within its budget of SQL statements (q1: 1, q2: 2, q3: 5).
async fn bench_queries_run(app: TestApp) {
    let admin = app.token(Role::Admin).await;
    let first = app
        .ok(&admin, "{ patients(first: 1) { nodes { id } } }", json!({}))
        .await;
    let id = first["patients"]["nodes"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for (name, body, budget) in [
        ("q1", include_str!("../../bench/queries/q1.json"), 1),
        ("q2", include_str!("../../bench/queries/q2.json"), 2),
        ("q3", include_str!("../../bench/queries/q3.json"), 5),
    ] {
        let body: serde_json::Value =
            serde_json::from_str(&body.replace("__PATIENT_ID__", &id)).expect("bench body is JSON");
        let before = app.statements.get();
        let response = app.post(Some(&admin), &body).await;
        let statements = app.statements.get() - before;
        assert!(
            statements <= budget,
            "{name}: {statements} statements, budget {budget}"
        );
        assert_eq!(response.status, 200, "{name}: {}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "{name}: {}",
            response.text
        );
        assert!(!response.body["data"].is_null(), "{name}");
    }
}

on_both_backends!(readme_examples_run_as_documented, bench_queries_run);
