//! Media types for GraphQL over HTTP: which response format the client accepts, and whether a
//! POST body is JSON.

/// What a response to `/graphql` can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `application/json`: legacy clients, `*/*` and no `Accept` at all.
    Json,
    /// `application/graphql-response+json`: clients that ask for the new media type.
    GraphqlResponse,
    /// The GraphiQL page, for a browser.
    Html,
}

impl ResponseFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ResponseFormat::Json => "application/json",
            ResponseFormat::GraphqlResponse => "application/graphql-response+json",
            ResponseFormat::Html => "text/html; charset=utf-8",
        }
    }

    fn media_type(self) -> (&'static str, &'static str) {
        match self {
            ResponseFormat::Json => ("application", "json"),
            ResponseFormat::GraphqlResponse => ("application", "graphql-response+json"),
            ResponseFormat::Html => ("text", "html"),
        }
    }
}

/// Picks the best format the `Accept` header allows among `offered`; `None` means 406.
///
/// Ranks by quality, then by how specifically the client named the type. On a tie, an explicit
/// `application/graphql-response+json` wins, while a wildcard gets plain JSON.
pub fn negotiate(accept: Option<&str>, offered: &[ResponseFormat]) -> Option<ResponseFormat> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(ResponseFormat::Json);
    };
    let ranges: Vec<(String, String, f32)> = accept.split(',').filter_map(parse_range).collect();
    offered
        .iter()
        .filter_map(|&format| {
            let (kind, subtype) = format.media_type();
            // The most specific range naming this type decides its quality.
            let (specificity, quality) = ranges
                .iter()
                .filter_map(|(k, s, q)| {
                    let specificity = match (k.as_str(), s.as_str()) {
                        (k, s) if k == kind && s == subtype => 2,
                        (k, "*") if k == kind => 1,
                        ("*", "*") => 0,
                        _ => return None,
                    };
                    Some((specificity, *q))
                })
                .max_by(|a, b| a.0.cmp(&b.0))?;
            if quality <= 0.0 {
                return None;
            }
            let preference = match (format, specificity) {
                (ResponseFormat::GraphqlResponse, 2) => 3,
                (ResponseFormat::Json, _) => 2,
                (ResponseFormat::GraphqlResponse, _) => 1,
                (ResponseFormat::Html, _) => 0,
            };
            Some((format, quality, specificity, preference))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)))
        .map(|(format, ..)| format)
}

fn parse_range(range: &str) -> Option<(String, String, f32)> {
    let mut parts = range.split(';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = media.split_once('/')?;
    let mut quality = 1.0;
    for param in parts {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            quality = value.trim().parse().unwrap_or(0.0);
        }
    }
    Some((kind.trim().to_owned(), subtype.trim().to_owned(), quality))
}

/// Whether a `Content-Type` is JSON (`application/json`, with or without parameters). Anything
/// else, notably `text/plain` which browsers send cross-site without a preflight, is refused.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::ResponseFormat::*;
    use super::*;

    const API: &[ResponseFormat] = &[Json, GraphqlResponse];
    const BROWSER: &[ResponseFormat] = &[Json, GraphqlResponse, Html];

    #[test]
    fn json_for_legacy_clients_and_wildcards() {
        assert_eq!(negotiate(None, API), Some(Json));
        assert_eq!(negotiate(Some("*/*"), API), Some(Json));
        assert_eq!(negotiate(Some("application/json"), API), Some(Json));
        assert_eq!(negotiate(Some("application/*"), API), Some(Json));
    }

    #[test]
    fn graphql_response_json_when_asked_for() {
        assert_eq!(
            negotiate(Some("application/graphql-response+json"), API),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(
                Some("application/graphql-response+json, application/json;q=0.9"),
                API
            ),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(
                Some("application/json, application/graphql-response+json"),
                API
            ),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(
                Some("application/json, application/graphql-response+json;q=0.5"),
                API
            ),
            Some(Json)
        );
    }

    #[test]
    fn browsers_get_graphiql_only_where_offered() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(negotiate(Some(browser), BROWSER), Some(Html));
        assert_eq!(negotiate(Some(browser), API), Some(Json));
    }

    #[test]
    fn nothing_acceptable_is_none() {
        assert_eq!(negotiate(Some("text/csv"), API), None);
        assert_eq!(negotiate(Some("application/json;q=0"), API), None);
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(Some(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_json_content_type(None));
    }
}
