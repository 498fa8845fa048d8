//! Parsed documents, kept by their text. Clients send the same few documents over and over
//! (an SPA has a fixed set of operations), and parsing one cost more than copying it: about 4 %
//! of the server's work for a nested page and more for a single record. A kept document also
//! remembers whether it once passed every validation rule, which no later request can change
//! (see [`super::validation`]).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::ExecutableDocument;

/// At most this many bytes of document text are kept (the least used go first).
const CAPACITY_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct ParsedDocuments {
    documents: moka::sync::Cache<String, Arc<KeptDocument>>,
}

/// A parsed document and what is known of it.
pub struct KeptDocument {
    pub document: ExecutableDocument,
    validated: AtomicBool,
}

impl KeptDocument {
    /// Whether a request with this document passed every validation rule.
    pub fn validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    pub fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

impl Default for ParsedDocuments {
    fn default() -> Self {
        Self {
            documents: moka::sync::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|text: &String, _| u32::try_from(text.len()).unwrap_or(u32::MAX))
                .build(),
        }
    }
}

impl ParsedDocuments {
    /// Gives `request` its parsed document: a copy of the one kept for its text, or one parsed
    /// now and kept. A document that does not parse is left for the request to report (and
    /// `None` is returned).
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Option<Arc<KeptDocument>> {
        if let Some(kept) = self.documents.get(request.query.as_str()) {
            request.set_parsed_query(kept.document.clone());
            return Some(kept);
        }
        let kept = Arc::new(KeptDocument {
            document: request.parsed_query().ok()?.clone(),
            validated: AtomicBool::new(false),
        });
        self.documents.insert(request.query.clone(), kept.clone());
        Some(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::ParsedDocuments;

    #[test]
    fn a_kept_document_is_the_one_the_text_parses_to() {
        let documents = ParsedDocuments::default();
        let text = "query Page { patients(first: 2) { nodes { id ...Names } } } \
                    fragment Names on Patient { name }";
        let mut first = async_graphql::Request::new(text);
        let kept = documents.prepare(&mut first).expect("parses");
        documents.documents.run_pending_tasks();
        assert_eq!(documents.documents.entry_count(), 1);
        assert!(!kept.validated(), "nothing is known of a new document");
        kept.mark_validated();

        let mut second = async_graphql::Request::new(text);
        let again = documents.prepare(&mut second).expect("kept");
        assert!(
            again.validated(),
            "what is learnt of a document stays with it"
        );
        let mut parsed_now = async_graphql::Request::new(text);
        let expected = format!("{:?}", parsed_now.parsed_query().expect("parses"));
        assert_eq!(
            format!("{:?}", second.parsed_query().expect("kept")),
            expected
        );

        let mut broken = async_graphql::Request::new("query {");
        assert!(documents.prepare(&mut broken).is_none());
        assert!(
            broken.parsed_query().is_err(),
            "reported by the request itself"
        );
        documents.documents.run_pending_tasks();
        assert_eq!(documents.documents.entry_count(), 1, "errors are not kept");
    }
}
