//! Apollo Client, as a frontend developer meets the API.
use clinicgraph::core::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::server::Server;
use crate::helpers::subscriber::{client_dir, install_client};
use crate::on_every_backend;

/// Apollo Client (from `tests/js`'s lock file, on Node.js) against a real server: with
/// `errorPolicy: 'all'` a missing patient is `data.patient === null` beside its error, and a
/// mutation's answer updates the normalized cache.
async fn apollo_client_reads_nulled_fields_and_keeps_its_cache(app: TestApp) {
    let token = app.token(Role::Admin).await;
    let server = Server::start(&app.database_url, &[("RATE_LIMIT_PER_MINUTE", "0")]).await;
    install_client();
    let run = tokio::process::Command::new("node")
        .arg(client_dir().join("apollo.mjs"))
        .env("GRAPHQL_URL", server.url("/graphql"))
        .env("GRAPHQL_TOKEN", &token)
        .env("PATIENT_ID", "UGF0aWVudDox")
        .env("NEW_PHONE", "5550009999")
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("Apollo Client finishes within a minute")
        .expect("node");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let checks: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let check = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} check: {checks:?}"))
    };
    let missing = check("errorPolicy");
    assert_eq!(missing["data"], json!({ "patient": null }), "{missing}");
    assert_eq!(missing["codes"], json!(["PATIENT_NOT_FOUND"]), "{missing}");
    let cached = check("cache");
    assert_eq!(cached["patient"]["id"], "UGF0aWVudDox", "{cached}");
    assert_eq!(cached["patient"]["phone"], "5550009999", "{cached}");
}

on_every_backend!(apollo_client_reads_nulled_fields_and_keeps_its_cache);
