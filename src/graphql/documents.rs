//! Parsed documents, kept by their text. Clients send the same few documents over and over
//! (an SPA has a fixed set of operations), and parsing one cost more than copying it: about 4 %
//! of the server's work for a nested page and more for a single record. Only parsing is saved:
//! every request is still validated against the schema with its own variables.
use async_graphql::parser::types::ExecutableDocument;

/// At most this many bytes of document text are kept (the least used go first).
const CAPACITY_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct ParsedDocuments {
    documents: moka::sync::Cache<String, ExecutableDocument>,
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
    /// now and kept. A document that does not parse is left for the request to report.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        if let Some(document) = self.documents.get(request.query.as_str()) {
            request.set_parsed_query(document);
        } else if let Ok(document) = request.parsed_query() {
            let document = document.clone();
            self.documents.insert(request.query.clone(), document);
        }
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
        documents.prepare(&mut first);
        documents.documents.run_pending_tasks();
        assert_eq!(documents.documents.entry_count(), 1);

        let mut second = async_graphql::Request::new(text);
        documents.prepare(&mut second);
        let mut parsed_now = async_graphql::Request::new(text);
        let expected = format!("{:?}", parsed_now.parsed_query().expect("parses"));
        assert_eq!(
            format!("{:?}", second.parsed_query().expect("kept")),
            expected
        );

        let mut broken = async_graphql::Request::new("query {");
        documents.prepare(&mut broken);
        assert!(
            broken.parsed_query().is_err(),
            "reported by the request itself"
        );
        documents.documents.run_pending_tasks();
        assert_eq!(documents.documents.entry_count(), 1, "errors are not kept");
    }
}
