//! The GraphQL-over-HTTP spec's audits (`serverAudits` of graphql-http, from npm, run by
//! Node.js: `tests/js/http-audit.mjs`) against a real server process: all 61 ok, none a
//! warning or notice.
use serde_json::Value;

use crate::helpers::TestApp;
use crate::helpers::server::Server;
use crate::helpers::subscriber::{client_dir, install_client};
use crate::on_every_backend;

/// How many audits graphql-http 1.23.1 (pinned in `tests/js/package-lock.json`) runs.
const AUDITS: usize = 61;

async fn every_graphql_over_http_audit_is_ok(app: TestApp) {
    let server = Server::start(&app.database_url, &[("RATE_LIMIT_PER_MINUTE", "0")]).await;
    install_client();
    let run = tokio::process::Command::new("node")
        .arg(client_dir().join("http-audit.mjs"))
        .env("GRAPHQL_URL", server.url("/graphql"))
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the audits finish within a minute")
        .expect("node");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert_eq!(results.len(), AUDITS, "{results:#?}");
    let not_ok: Vec<&Value> = results.iter().filter(|r| r["status"] != "ok").collect();
    assert!(not_ok.is_empty(), "{not_ok:#?}");
}

on_every_backend!(every_graphql_over_http_audit_is_ok);
