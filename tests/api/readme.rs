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
    let token = app.token(Role::Admin).await;
    for operation in operations {
        let response = app.gql(Some(&token), &operation, json!({})).await;
        assert_eq!(response.status, 200, "{operation}\n{}", response.text);
        assert!(
            response.body.get("errors").is_none(),
            "README example failed:\n{operation}\n{}",
            response.text
        );
    }
}

on_both_backends!(readme_examples_run_as_documented);
