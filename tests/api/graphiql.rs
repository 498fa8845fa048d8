//! GraphiQL works without internet: the page and its scripts and styles come from the binary,
//! under a Content-Security-Policy that allows this server only, and in a real browser
//! (Debian's Chromium, headless) its documentation explorer shows the live schema.
use std::process::Stdio;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

use crate::helpers::server::Server;
use crate::helpers::subscriber::{client_dir, install_client};
use crate::helpers::{TestApp, TestResponse};
use crate::on_every_backend;

async fn get(app: &TestApp, path: &str) -> TestResponse {
    let request = Request::get(path)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .body(Body::empty())
        .expect("request");
    app.send(request).await
}

fn header<'a>(response: &'a TestResponse, name: &str) -> &'a str {
    response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The `src` and `href` values of the page.
fn linked(page: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in page.match_indices(attribute) {
            let rest = &page[start + attribute.len()..];
            links.push(rest[..rest.find('"').unwrap_or(0)].to_owned());
        }
    }
    links
}

async fn the_page_and_its_files_come_from_the_server(app: TestApp) {
    let page = get(&app, "/graphql").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(header(&page, "content-type").starts_with("text/html"));
    let policy = header(&page, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let links = linked(&page.text);
    assert_eq!(links.len(), 6, "{links:?}");
    for link in links.iter().filter(|link| link.as_str() != "data:,") {
        assert!(link.starts_with("/graphiql/"), "{link}");
        let file = get(&app, link).await;
        assert_eq!(file.status, StatusCode::OK, "{link}");
        assert!(!file.bytes.is_empty(), "{link}");
        let cache = header(&file, "cache-control");
        assert!(cache.contains("max-age=31536000"), "{link}: {cache}");
        let expected = if link.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            header(&file, "content-type").starts_with(expected),
            "{link}"
        );
    }
    // Another build's files are not these: not found, never the wrong file kept for a year.
    let stale = get(&app, "/graphiql/0000000000000000/graphiql.min.js").await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    let folder = links[1]
        .rsplit_once('/')
        .map(|(folder, _)| folder)
        .unwrap_or("");
    // The licence of each package is served beside its files.
    for licence in ["LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"] {
        let text = get(&app, &format!("{folder}/{licence}")).await;
        assert!(text.text.contains("MIT License"), "{licence}");
    }
    for name in ["Cargo.toml", "package.json", "update"] {
        let other = get(&app, &format!("{folder}/{name}")).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{name}");
    }
}

/// Runs `tests/js/graphiql-docs.mjs` against `url` and returns its report.
async fn open_in_chromium(url: &str) -> Value {
    install_client();
    let output = tokio::process::Command::new("node")
        .arg(client_dir().join("graphiql-docs.mjs"))
        .env("GRAPHIQL_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), output)
        .await
        .expect("the browser finishes within 90 s")
        .expect("node runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

async fn the_documentation_explorer_lists_the_live_schema_in_a_browser(app: TestApp) {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium is needed: apt-get install chromium (.ci/run installs it)"
    );
    let server = Server::start(&app.database_url, &[]).await;
    let report = open_in_chromium(&server.url("/graphql")).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["status"], 200, "{report}");
    let fields: Vec<&str> = report["queryFields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in ["me", "patients", "appointments", "node"] {
        assert!(fields.contains(&field), "{field}: {report}");
    }
    assert_eq!(report["cspViolations"], serde_json::json!([]), "{report}");
    assert_eq!(report["consoleErrors"], serde_json::json!([]), "{report}");
    assert_eq!(report["foreignRequests"], serde_json::json!([]), "{report}");
}

on_every_backend!(
    the_page_and_its_files_come_from_the_server,
    the_documentation_explorer_lists_the_live_schema_in_a_browser,
);

/// With `GRAPHIQL=false` (production), neither the page nor its files are served.
mod turned_off {
    use super::*;

    async fn no_page_and_no_files(app: TestApp) {
        let page = get(&app, "/graphql").await;
        assert_ne!(page.status, StatusCode::OK, "{}", page.text);
        assert!(!page.text.contains("graphiql"), "{}", page.text);
        let file = get(&app, "/graphiql/0000000000000000/graphiql.min.js").await;
        assert_eq!(file.status, StatusCode::NOT_FOUND);
    }

    on_every_backend!(env [("GRAPHIQL", "false")]; no_page_and_no_files);
}
