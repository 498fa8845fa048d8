//! Parsed documents, kept by their text. Clients send the same few documents over and over
//! (an SPA has a fixed set of operations), and parsing one cost more than copying it: about 4 %
//! of the server's work for a nested page and more for a single record. A kept document also
//! remembers whether it once passed every validation rule, which no later request can change
//! (see [`super::validation`]).
//!
//! A document is kept only once it passed the checks that protect everything after it
//! ([`parse_checked`]), so a kept document never needs them again.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerResult};

use super::bounds::{self, DocumentLimits, Refused};
use super::input_text;

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
    /// now by [`parse_checked`] and kept.
    pub fn prepare(
        &self,
        request: &mut async_graphql::Request,
        limits: &DocumentLimits,
    ) -> Result<Arc<KeptDocument>, Refused> {
        if let Some(kept) = self.documents.get(request.query.as_str()) {
            request.set_parsed_query(kept.document.clone());
            return Ok(kept);
        }
        let kept = Arc::new(KeptDocument {
            document: parse_checked(&request.query, limits)?,
            validated: AtomicBool::new(false),
        });
        request.set_parsed_query(kept.document.clone());
        self.documents.insert(request.query.clone(), kept.clone());
        Ok(kept)
    }
}

/// The checks of [`ParsedDocuments::prepare`] for requests that reach the schema another way
/// (the WebSocket's subscriptions): first in the extension chain, before anything else parses
/// the document, and with the request's variables.
pub struct CheckedParse {
    pub limits: DocumentLimits,
}

impl ExtensionFactory for CheckedParse {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CheckedParse {
            limits: self.limits,
        })
    }
}

#[async_trait::async_trait]
impl Extension for CheckedParse {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let document = parse_checked(&request.query, &self.limits).map_err(Refused::into_error)?;
        input_text::check_variables(&request.variables).map_err(Refused::into_error)?;
        request.set_parsed_query(document);
        next.run(ctx, request).await
    }
}

/// Parses `text` once its bounds are checked, then checks what only the parsed document shows:
/// its expansion ([`bounds::check_document`]) and its text literals ([`input_text`]).
pub fn parse_checked(text: &str, limits: &DocumentLimits) -> Result<ExecutableDocument, Refused> {
    bounds::check_text(text)?;
    let document = parse_query(text).map_err(|error| {
        Refused::new(
            "GRAPHQL_PARSE_FAILED",
            bounds::parse_error_message(text, &error),
        )
    })?;
    bounds::check_document(&document, limits)?;
    input_text::check_literals(&document)?;
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::ParsedDocuments;
    use crate::graphql::bounds::DocumentLimits;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_selections: 5_000,
        max_depth: 12,
        introspection: true,
    };

    #[test]
    fn a_kept_document_is_the_one_the_text_parses_to() {
        let documents = ParsedDocuments::default();
        let text = "query Page { patients(first: 2) { nodes { id ...Names } } } \
                    fragment Names on Patient { name }";
        let mut first = async_graphql::Request::new(text);
        let kept = documents.prepare(&mut first, &LIMITS).expect("parses");
        documents.documents.run_pending_tasks();
        assert_eq!(documents.documents.entry_count(), 1);
        assert!(!kept.validated(), "nothing is known of a new document");
        kept.mark_validated();

        let mut second = async_graphql::Request::new(text);
        let again = documents.prepare(&mut second, &LIMITS).expect("kept");
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
        let Err(refused) = documents.prepare(&mut broken, &LIMITS) else {
            panic!("a broken document is refused");
        };
        assert_eq!(refused.code, "GRAPHQL_PARSE_FAILED");
        documents.documents.run_pending_tasks();
        assert_eq!(documents.documents.entry_count(), 1, "errors are not kept");
    }
}
