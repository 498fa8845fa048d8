//! Every request gets an id the server made: it is the `X-Request-Id` of the answer, of the
//! logs and of the audit trail. A client's own `X-Request-Id` never becomes it — otherwise a
//! client could make its request look like another one in the trail, or store whatever text
//! it likes there. A short, well-formed client id is kept apart, as `client_request_id` in the
//! request's log line, so a client's traces can still be matched with ours.
use axum::body::Body;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::REQUEST_ID;

/// The longest client id kept: a UUID (36) or a W3C trace id (32) with room for a prefix.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// A client's `X-Request-Id`, when it was well formed.
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// Letters, digits and `-`, `_`, `.`, `:`; 1 to [`MAX_CLIENT_ID_CHARS`] of them.
pub fn well_formed(id: &str) -> bool {
    (1..=MAX_CLIENT_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Takes the client's `X-Request-Id` off the request, so the next layer makes the server's
/// own, and keeps it as [`ClientRequestId`] when it is well formed.
pub async fn set_aside_client_id(mut request: Request<Body>, next: Next) -> Response {
    let headers = request.headers_mut();
    let sent: Vec<_> = headers.get_all(&REQUEST_ID).iter().cloned().collect();
    headers.remove(&REQUEST_ID);
    // One header with one well-formed value; several are ambiguous, so none is kept.
    if let [value] = sent.as_slice()
        && let Ok(id) = value.to_str()
        && well_formed(id)
    {
        let id = ClientRequestId(id.to_owned());
        request.extensions_mut().insert(id);
    }
    next.run(request).await
}

/// The client's id of `request` for its log line, if it sent a well-formed one.
pub fn client_id_of<B>(request: &Request<B>) -> Option<&str> {
    request
        .extensions()
        .get::<ClientRequestId>()
        .map(|id| id.0.as_str())
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn only_short_plain_ids_are_well_formed() {
        for good in [
            "abc-123",
            "0b7c2f0e-4f7a-4d3c-9d3e-7c1f2e3a4b5c",
            "web:7.2_a",
        ] {
            assert!(well_formed(good), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "a b", "tab\there", "ünï", "<script>", long.as_str()] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
