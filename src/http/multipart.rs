//! GraphQL multipart requests (github.com/jaydenseric/graphql-multipart-request-spec), for
//! small files sent with their mutation (`uploadPatientFile`). async-graphql parses them, with
//! limits it does not set by default: at most `FILES_MULTIPART_MAX_FILES` files of at most
//! `FILES_MULTIPART_MAX_BYTES` each.
//!
//! `multipart/form-data` is a content type an HTML form on any site may POST cross-origin
//! without a CORS preflight, carrying the victim's cookies. So, as Apollo Server does, a
//! multipart request must carry a header no form can set: `GraphQL-Preflight`,
//! `Apollo-Require-Preflight` or `X-Apollo-Operation-Name`.
use async_graphql::ParseRequestError;
use async_graphql::UploadValue;
use async_graphql::http::MultipartOptions;
use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::{Value, json};

/// Headers that force a browser to preflight the request.
const PREFLIGHT_HEADERS: [&str; 3] = [
    "graphql-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
];

pub(super) fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("multipart/form-data"))
    })
}

pub(super) fn has_preflight_header(headers: &HeaderMap) -> bool {
    PREFLIGHT_HEADERS.iter().any(|name| {
        headers
            .get(*name)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| !value.trim().is_empty())
    })
}

/// One operation of a multipart request: its JSON form (as a JSON body would carry it, each
/// file's variable holding the file's index) and the files.
pub(super) struct Operation {
    pub wire: Value,
    pub uploads: Vec<UploadValue>,
}

/// Reads a multipart body; the error is for the client.
pub(super) async fn read(
    content_type: &str,
    body: Bytes,
    options: MultipartOptions,
) -> Result<Operation, String> {
    let reader = futures_util::io::Cursor::new(body);
    let batch = async_graphql::http::receive_batch_body(Some(content_type), reader, options)
        .await
        .map_err(|error| match error {
            // Too many files is refused by the multipart parser as a field limit.
            ParseRequestError::PayloadTooLarge => {
                "a file is larger, or there are more files, than allowed".to_owned()
            }
            other => format!("the multipart request is malformed: {other}"),
        })?;
    let mut request = batch
        .into_single()
        .map_err(|_| "a multipart request carries one operation".to_owned())?;
    let variables = serde_json::to_value(&request.variables)
        .map_err(|_| "the request's variables are malformed".to_owned())?;
    let uploads = std::mem::take(&mut request.uploads);
    Ok(Operation {
        wire: json!({
            "query": request.query,
            "operationName": request.operation_name,
            "variables": variables,
        }),
        uploads,
    })
}
