//! Internal errors and panics to Sentry, with personal data taken out before anything leaves
//! the process: events are built from our own log fields, but a message can still quote a
//! database error or a panic can quote a value.
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use secrecy::ExposeSecret;
use sentry::protocol::{Context, Event, Value};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;

use super::BoxedLayer;
use crate::config::Config;

pub(super) fn init(config: &Config) -> Option<sentry::ClientInitGuard> {
    let dsn = config.observability.sentry_dsn.as_ref()?;
    // Validated with the rest of the configuration.
    let dsn = dsn.expose_secret().parse().ok()?;
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.environment = Some(config.env.name().into());
    options.release = sentry::release_name!();
    options.send_default_pii = false;
    options.before_send = Some(Arc::new(scrub));
    Some(sentry::init(options))
}

/// `tracing::error!` events become Sentry events; the request id comes from the scope that
/// the HTTP layer opens per request.
pub(super) fn layer() -> BoxedLayer {
    sentry::integrations::tracing::ErrorLayer::new()
        .with_filter(LevelFilter::ERROR)
        .boxed()
}

/// Keys whose values are personal data or secrets whatever they hold.
const SECRET_KEYS: &[&str] = &[
    "authorization",
    "body",
    "cookie",
    "email",
    "ip",
    "ip_address",
    "name",
    "password",
    "phone",
    "query",
    "set-cookie",
    "token",
    "variables",
    "x-forwarded-for",
    "x-real-ip",
];

const FILTERED: &str = "[Filtered]";

/// Removes what could identify a person from an event: the user and the request's body,
/// cookies, query string and identifying headers go; email addresses, IP addresses and
/// bearer tokens in any text are replaced. Tags stay (the request id is one).
pub fn scrub(mut event: Event<'static>) -> Option<Event<'static>> {
    if let Some(user) = event.user.take() {
        // An internal id identifies no one outside the service; keep it for grouping.
        event.user = user.id.map(|id| sentry::protocol::User {
            id: Some(id),
            ..Default::default()
        });
    }
    if let Some(request) = &mut event.request {
        request.data = None;
        request.cookies = None;
        request.query_string = None;
        request.env.clear();
        if let Some(url) = &mut request.url {
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        request
            .headers
            .retain(|name, _| !is_secret_key(name) && !name.eq_ignore_ascii_case("forwarded"));
    }
    redact_in_place(&mut event.message);
    redact_in_place(&mut event.culprit);
    redact_in_place(&mut event.transaction);
    if let Some(entry) = &mut event.logentry {
        entry.message = redact(&entry.message).into_owned();
        entry.params.iter_mut().for_each(scrub_value);
    }
    for exception in &mut event.exception.values {
        redact_in_place(&mut exception.value);
    }
    for breadcrumb in &mut event.breadcrumbs.values {
        redact_in_place(&mut breadcrumb.message);
        scrub_map(&mut breadcrumb.data);
    }
    scrub_map(&mut event.extra);
    for context in event.contexts.values_mut() {
        if let Context::Other(fields) = context {
            scrub_map(fields);
        }
    }
    Some(event)
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k))
}

fn scrub_map(map: &mut sentry::protocol::Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        if is_secret_key(key) {
            *value = Value::String(FILTERED.to_owned());
        } else {
            scrub_value(value);
        }
    }
}

fn scrub_value(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(redacted) = redact(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(fields) => {
            for (key, value) in fields.iter_mut() {
                if is_secret_key(key) {
                    *value = Value::String(FILTERED.to_owned());
                } else {
                    scrub_value(value);
                }
            }
        }
        _ => {}
    }
}

fn redact_in_place(text: &mut Option<String>) {
    if let Some(text) = text
        && let Cow::Owned(redacted) = redact(text)
    {
        *text = redacted;
    }
}

/// Characters that can be part of an email address, an IP address (with its port) or a token;
/// anything else separates words.
fn in_word(c: char) -> bool {
    c.is_alphanumeric() || "@.-_+%:[]=/".contains(c)
}

/// `text` with every word that is an email address, an IP address (v4 or v6, with or
/// without a port) or a JWT replaced by a placeholder.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut start = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (start, in_word(c)) {
            (None, true) => start = Some(at),
            (Some(from), false) => {
                start = None;
                let word = &text[from..at];
                // Punctuation around a word (a full stop, brackets, `key=`) stays, unless it
                // belongs to the address (`[2001:db8::1]:443`).
                let core = word.trim_start_matches(['[', '=', ':']);
                let trimmed = (
                    word.len() - core.len(),
                    core.trim_end_matches(['.', ':', ']', '=']),
                );
                let found = [(0, word), trimmed]
                    .into_iter()
                    .find_map(|(skip, core)| Some((from + skip, core.len(), placeholder(core)?)));
                if let Some((from, len, placeholder)) = found {
                    out.push_str(&text[copied..from]);
                    out.push_str(placeholder);
                    copied = from + len;
                }
            }
            _ => {}
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

fn placeholder(word: &str) -> Option<&'static str> {
    if let Some((local, domain)) = word.split_once('@')
        && !local.is_empty()
        && domain.contains('.')
    {
        return Some("[email]");
    }
    if word.parse::<IpAddr>().is_ok() || word.parse::<SocketAddr>().is_ok() {
        return Some("[ip]");
    }
    if word.starts_with("eyJ") && word.matches('.').count() == 2 {
        return Some("[token]");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Breadcrumb, Exception, Request, User};

    /// An event as the SDK could build it from a request that failed inside: everything a
    /// client sent is on it somewhere.
    fn realistic_event() -> Event<'static> {
        let mut event = Event {
            message: Some("internal error for zoe.adams@example.org".into()),
            user: Some(User {
                id: Some("42".into()),
                email: Some("zoe.adams@example.org".into()),
                ip_address: Some("203.0.113.9".parse().expect("ip")),
                username: Some("Zoë Adams".into()),
                ..Default::default()
            }),
            request: Some(Request {
                url: Some(
                    "https://api.example.org/graphql?variables=%7B%22email%22%3A%22zoe%22%7D"
                        .parse()
                        .expect("url"),
                ),
                method: Some("POST".into()),
                data: Some(r#"{"variables":{"email":"zoe.adams@example.org"}}"#.into()),
                query_string: Some("variables=zoe".into()),
                cookies: Some("session=abc".into()),
                headers: [
                    (
                        "Authorization",
                        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.sig",
                    ),
                    ("Cookie", "session=abc"),
                    ("X-Forwarded-For", "203.0.113.9"),
                    ("X-Request-Id", "req-1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                env: [("REMOTE_ADDR".to_owned(), "203.0.113.9".to_owned())]
                    .into_iter()
                    .collect(),
            }),
            ..Default::default()
        };
        event.tags.insert("request_id".into(), "req-1".into());
        event.exception.values.push(Exception {
            ty: "Error".into(),
            value: Some("connection from 203.0.113.9:5000 lost".into()),
            ..Default::default()
        });
        event.breadcrumbs.values.push(Breadcrumb {
            message: Some("login by zoe.adams@example.org".into()),
            ..Default::default()
        });
        event
            .extra
            .insert("variables".into(), serde_json::json!({ "search": "Adams" }));
        let mut fields = sentry::protocol::Map::new();
        fields.insert(
            "error".into(),
            "database query failed: duplicate key for zoe.adams@example.org".into(),
        );
        fields.insert("token".into(), "abc".into());
        event
            .contexts
            .insert("Rust Tracing Fields".into(), Context::Other(fields));
        event
    }

    #[test]
    fn an_event_keeps_nothing_personal_and_keeps_the_request_id() {
        let event = scrub(realistic_event()).expect("events are scrubbed, not dropped");
        let sent = serde_json::to_string(&event).expect("JSON");
        for personal in [
            "zoe",
            "Zoë",
            "Adams",
            "203.0.113.9",
            "eyJ",
            "session=abc",
            "\"abc\"",
        ] {
            assert!(!sent.contains(personal), "{personal:?} left in {sent}");
        }
        assert_eq!(event.tags["request_id"], "req-1");
        assert_eq!(event.user.and_then(|u| u.id).as_deref(), Some("42"));
        let request = event.request.expect("request");
        assert_eq!(request.method.as_deref(), Some("POST"));
        assert_eq!(request.headers["X-Request-Id"], "req-1");
        assert!(sent.contains("internal error for [email]"), "{sent}");
    }

    #[test]
    fn words_that_identify_someone_are_replaced() {
        assert_eq!(
            redact("duplicate key for zoe.adams@example.org, from 203.0.113.7:51234."),
            "duplicate key for [email], from [ip]."
        );
        assert_eq!(
            redact("client [2001:db8::1]:443 refused"),
            "client [ip] refused"
        );
        assert_eq!(redact("peer 2001:db8::1 left"), "peer [ip] left");
        assert_eq!(
            redact("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
            "Bearer [token]"
        );
        assert!(matches!(
            redact("no such table: patients (at 12:30)"),
            Cow::Borrowed(_)
        ));
    }
}
