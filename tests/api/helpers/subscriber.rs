//! A subscriber as a single-page app is one: the `graphql-ws` client from npm, run by Node.js
//! (`tests/js/subscribe.mjs`), reporting what it receives as JSON lines.
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The Node.js clients' folder (`package.json`, lock file, scripts).
pub fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Installs the clients' packages from the lock file once per test run (again when a package
/// of `package.json` is missing, as after a dependency was added).
pub fn install_client() {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed || all_installed() {
        *installed = true;
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(client_dir())
        .status()
        .expect("npm (Node.js) is needed for the subscription tests");
    assert!(status.success(), "npm ci in tests/js failed");
    *installed = true;
}

fn all_installed() -> bool {
    let Ok(text) = std::fs::read_to_string(client_dir().join("package.json")) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    let Some(dependencies) = manifest["dependencies"].as_object() else {
        return false;
    };
    dependencies.keys().all(|name| {
        client_dir()
            .join("node_modules")
            .join(name)
            .join("package.json")
            .exists()
    })
}

pub struct Subscriber {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Events that came before the subscription was known to be in place (a subscription
    /// that starts with the current state answers at once).
    early: Vec<Value>,
}

impl Subscriber {
    /// Subscribes with `query` and waits until the subscription is in place.
    /// `expect` events end the client; without them it exits after `timeout`.
    pub async fn start(
        ws_url: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
        expect: usize,
        timeout: Duration,
    ) -> Subscriber {
        install_client();
        let mut command = Command::new("node");
        command
            .arg(client_dir().join("subscribe.mjs"))
            .env("GRAPHQL_WS_URL", ws_url)
            .env("GRAPHQL_QUERY", query)
            .env("GRAPHQL_VARIABLES", variables.to_string())
            .env("EXPECT_EVENTS", expect.to_string())
            .env("TIMEOUT_MS", timeout.as_millis().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(token) = token {
            command.env("GRAPHQL_TOKEN", token);
        }
        let mut child = command.spawn().expect("node");
        let stdout = child.stdout.take().expect("stdout");
        let mut subscriber = Subscriber {
            child,
            lines: BufReader::new(stdout).lines(),
            early: Vec::new(),
        };
        let line = subscriber.next_line().await;
        assert_eq!(line, json!({ "type": "connected" }));
        loop {
            let line = subscriber.next_line().await;
            match line["type"].as_str() {
                Some("ready") => return subscriber,
                Some("next") => subscriber.early.push(line["payload"].clone()),
                _ => panic!("not ready: {line}"),
            }
        }
    }

    /// Connects with `token`, sends `query` and returns the first outcome the client reports
    /// other than being connected (for refusals).
    pub async fn outcome(ws_url: &str, token: &str, query: &str) -> Value {
        install_client();
        let output = Command::new("node")
            .arg(client_dir().join("subscribe.mjs"))
            .env("GRAPHQL_WS_URL", ws_url)
            .env("GRAPHQL_QUERY", query)
            .env("GRAPHQL_TOKEN", token)
            .env("TIMEOUT_MS", "10000")
            .stderr(Stdio::null())
            .output()
            .await
            .expect("node");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["type"] != "connected" && line["type"] != "ready")
            .unwrap_or(Value::Null)
    }

    /// The first thing the client reports other than an event (how the subscription ended).
    pub async fn ended(mut self) -> Value {
        loop {
            let line = self.next_line().await;
            if line["type"] != "next" {
                return line;
            }
        }
    }

    async fn next_line(&mut self) -> Value {
        match self.lines.next_line().await.expect("read") {
            Some(line) => serde_json::from_str(&line).expect("a JSON line"),
            None => Value::Null,
        }
    }

    /// Every event payload received until the server completed the subscription (for one
    /// started with more `expect` events than it can get); panics if it ended otherwise.
    pub async fn until_complete(mut self) -> Vec<Value> {
        let mut events = std::mem::take(&mut self.early);
        loop {
            let line = self.next_line().await;
            match line["type"].as_str() {
                Some("next") => events.push(line["payload"].clone()),
                Some("complete") => break,
                _ => panic!("ended without completing after {events:?}: {line}"),
            }
        }
        let status = self.child.wait().await.expect("exit");
        assert_eq!(status.code(), Some(4), "completed by the server");
        events
    }

    /// Every event payload received, once the client has exited; and whether it got all it
    /// expected (exit 0) rather than timing out.
    pub async fn events(mut self) -> (Vec<Value>, bool) {
        let mut events = std::mem::take(&mut self.early);
        loop {
            let line = self.next_line().await;
            match line["type"].as_str() {
                Some("next") => events.push(line["payload"].clone()),
                Some(_) => panic!("subscription failed: {line}"),
                None => break,
            }
        }
        let status = self.child.wait().await.expect("exit");
        (events, status.success())
    }
}
