//! Automatic persisted queries (the Apollo APQ protocol): a client sends the SHA-256 of its
//! document instead of the document; the first time, the server answers
//! PERSISTED_QUERY_NOT_FOUND and the client sends both, which registers the document. The
//! registry is in Redis when configured (shared by every instance) and in process otherwise.
//!
//! With an allow-list (`PERSISTED_QUERIES_ONLY`), only the documents in the list run, whether
//! sent in full or by hash: a deployment then runs exactly what its frontends were built with.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::core::text::sha256_hex;
use crate::redis::Redis;

/// How long a registered document is kept (it is registered again when it comes back).
const REGISTERED_FOR: Duration = Duration::from_secs(24 * 3600);
const MEMORY_ENTRIES: u64 = 10_000;

/// Why a request's document could not be found or may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

pub struct PersistedQueries {
    redis: Option<Redis>,
    memory: moka::sync::Cache<String, Arc<str>>,
    /// hash → document, when only listed documents may run.
    allow_list: Option<HashMap<String, String>>,
}

/// The lowercase hex SHA-256 of a document, as APQ clients compute it.
pub fn hash(document: &str) -> String {
    sha256_hex(document)
}

impl PersistedQueries {
    pub fn new(redis: Option<Redis>, allow_list: Option<HashMap<String, String>>) -> Self {
        Self {
            redis,
            memory: moka::sync::Cache::builder()
                .max_capacity(MEMORY_ENTRIES)
                .time_to_live(REGISTERED_FOR)
                .build(),
            allow_list,
        }
    }

    /// Reads an allow-list: a JSON object from hash to document (what
    /// `clinicgraph persisted-queries` writes). Every hash is checked against its document.
    pub fn read_allow_list(text: &str) -> anyhow::Result<HashMap<String, String>> {
        let list: HashMap<String, String> = serde_json::from_str(text)?;
        for (listed, document) in &list {
            anyhow::ensure!(
                hash(document) == *listed,
                "allow-list entry {listed} does not match its document"
            );
        }
        Ok(list)
    }

    /// The document to run: `query` as sent, or the registered one its hash names.
    pub async fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&Value>,
    ) -> Result<Option<String>, Refusal> {
        let query = query.filter(|q| !q.trim().is_empty());
        let persisted = extensions.and_then(|e| e.get("persistedQuery"));
        let Some(persisted) = persisted else {
            return match (&self.allow_list, query) {
                (Some(list), Some(query)) if !list.contains_key(&hash(&query)) => {
                    Err(not_allowed())
                }
                (_, query) => Ok(query),
            };
        };
        if persisted.get("version").and_then(Value::as_i64) != Some(1) {
            return Err(Refusal::new(
                "BAD_REQUEST",
                "unsupported persisted query version (only 1)",
            ));
        }
        let Some(sent_hash) = persisted
            .get("sha256Hash")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        else {
            return Err(Refusal::new(
                "BAD_REQUEST",
                "persistedQuery needs a sha256Hash",
            ));
        };
        if let Some(list) = &self.allow_list {
            let listed = list.get(&sent_hash).ok_or_else(not_allowed)?;
            return match query {
                Some(query) if query != *listed => Err(mismatch()),
                _ => Ok(Some(listed.clone())),
            };
        }
        match query {
            Some(query) => {
                if hash(&query) != sent_hash {
                    return Err(mismatch());
                }
                self.register(&sent_hash, &query).await;
                Ok(Some(query))
            }
            None => match self.lookup(&sent_hash).await {
                Some(query) => Ok(Some(query)),
                None => Err(Refusal::new(
                    "PERSISTED_QUERY_NOT_FOUND",
                    "PersistedQueryNotFound",
                )),
            },
        }
    }

    async fn register(&self, hash: &str, query: &str) {
        self.memory.insert(hash.to_owned(), Arc::from(query));
        if let Some(redis) = &self.redis {
            let key = redis.key(&format!("apq:{hash}"));
            let query = query.to_owned();
            let _ = redis
                .run("apq_register", async move |mut c| {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(query)
                        .arg("EX")
                        .arg(REGISTERED_FOR.as_secs())
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
        }
    }

    async fn lookup(&self, hash: &str) -> Option<String> {
        if let Some(query) = self.memory.get(hash) {
            return Some(query.to_string());
        }
        let redis = self.redis.as_ref()?;
        let key = redis.key(&format!("apq:{hash}"));
        let query: String = redis
            .run("apq_lookup", async move |mut c| {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await
            .flatten()?;
        self.memory
            .insert(hash.to_owned(), Arc::from(query.as_str()));
        Some(query)
    }
}

fn not_allowed() -> Refusal {
    Refusal::new(
        "PERSISTED_QUERY_NOT_ALLOWED",
        "only registered operations run on this server",
    )
}

fn mismatch() -> Refusal {
    Refusal::new("BAD_REQUEST", "provided sha does not match query")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DOCUMENT: &str = "{ me { id } }";

    fn apq(hash: &str) -> Value {
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
    }

    #[tokio::test]
    async fn a_hash_is_unknown_until_sent_with_its_document() {
        let registry = PersistedQueries::new(None, None);
        let h = hash(DOCUMENT);
        let unknown = registry.resolve(None, Some(&apq(&h))).await.unwrap_err();
        assert_eq!(unknown.code, "PERSISTED_QUERY_NOT_FOUND");
        assert_eq!(unknown.message, "PersistedQueryNotFound");
        let registered = registry
            .resolve(Some(DOCUMENT.into()), Some(&apq(&h)))
            .await;
        assert_eq!(registered, Ok(Some(DOCUMENT.to_owned())));
        let by_hash = registry.resolve(None, Some(&apq(&h))).await;
        assert_eq!(by_hash, Ok(Some(DOCUMENT.to_owned())));
    }

    #[tokio::test]
    async fn a_document_must_match_its_hash() {
        let registry = PersistedQueries::new(None, None);
        let wrong = registry
            .resolve(Some("{ __typename }".into()), Some(&apq(&hash(DOCUMENT))))
            .await
            .unwrap_err();
        assert_eq!(wrong.code, "BAD_REQUEST");
    }

    #[tokio::test]
    async fn with_an_allow_list_only_listed_documents_run() {
        let list = HashMap::from([(hash(DOCUMENT), DOCUMENT.to_owned())]);
        let registry = PersistedQueries::new(None, Some(list));
        assert_eq!(
            registry.resolve(None, Some(&apq(&hash(DOCUMENT)))).await,
            Ok(Some(DOCUMENT.to_owned()))
        );
        assert_eq!(
            registry.resolve(Some(DOCUMENT.into()), None).await,
            Ok(Some(DOCUMENT.to_owned()))
        );
        for refused in [
            registry.resolve(Some("{ __typename }".into()), None).await,
            registry
                .resolve(None, Some(&apq(&hash("{ __typename }"))))
                .await,
        ] {
            assert_eq!(refused.unwrap_err().code, "PERSISTED_QUERY_NOT_ALLOWED");
        }
    }

    #[test]
    fn an_allow_list_with_a_wrong_hash_is_refused() {
        let text = json!({ hash("{ a }"): "{ b }" }).to_string();
        assert!(PersistedQueries::read_allow_list(&text).is_err());
    }
}
