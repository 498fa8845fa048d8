//! A real S3-compatible server for the tests of the S3 file store: moto's server mode
//! (`moto_server`, from PyPI), started per test on a free port with one empty bucket. Set
//! `TEST_S3_SERVER` to its command (`.ci/run` installs it and does); without it the S3 tests
//! say they were skipped, like the PostgreSQL ones without `TEST_DATABASE_URL`.
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::skipped;

pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    _process: Child,
}

impl S3Server {
    /// A fresh server with the bucket `bucket`, or `None` when `TEST_S3_SERVER` is not set.
    pub async fn start(bucket: &str) -> Option<S3Server> {
        let Ok(command) = std::env::var("TEST_S3_SERVER") else {
            skipped("TEST_S3_SERVER (moto_server) is not set");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new(&command)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("TEST_S3_SERVER={command} does not start: {error}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        clinicgraph::telemetry::install_crypto_provider();
        let client = reqwest::Client::new();
        let started = Instant::now();
        // moto answers once it listens; the bucket is made with a plain PUT (it checks no
        // signature unless told to).
        loop {
            match client.put(format!("{endpoint}/{bucket}")).send().await {
                Ok(response) if response.status().is_success() => break,
                _ if started.elapsed() > Duration::from_secs(30) => {
                    panic!("moto_server did not come up on {endpoint}")
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        Some(S3Server {
            endpoint,
            bucket: bucket.to_owned(),
            _process: process,
        })
    }

    /// The environment of a clinicgraph keeping its files in the bucket, under `prefix`.
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("FILES_URL", format!("s3://{}/{prefix}", self.bucket)),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// Every key in the bucket (moto lists without a signature).
    pub async fn keys(&self) -> Vec<String> {
        let listing = reqwest::get(format!("{}/{}?list-type=2", self.endpoint, self.bucket))
            .await
            .expect("list")
            .text()
            .await
            .expect("listing");
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect()
    }

    /// The server-side encryption of each stored object (`AES256`, or `None` when the write
    /// did not ask for any), as S3 answers a HEAD of it. moto checks no signature, but keeps
    /// objects with an ACL (all but multipart uploads) from anonymous requests: an
    /// `Authorization` header of any value makes the request not anonymous.
    pub async fn encryption(&self) -> Vec<(String, Option<String>)> {
        let client = reqwest::Client::new();
        let mut found = Vec::new();
        for key in self.keys().await {
            let response = client
                .head(format!("{}/{}/{key}", self.endpoint, self.bucket))
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
                     SignedHeaders=host, Signature=00",
                )
                .send()
                .await
                .expect("HEAD");
            assert!(
                response.status().is_success(),
                "HEAD {key}: {}",
                response.status()
            );
            let sse = response
                .headers()
                .get("x-amz-server-side-encryption")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            found.push((key, sse));
        }
        found
    }
}
