//! The refresh cookie: how a browser keeps its refresh token where JavaScript cannot read it.
//! `HttpOnly`, `SameSite=Strict`, `Secure` (unless turned off for plain-HTTP development), and
//! sent only to `POST /auth/refresh` (its `Path`), the one place that reads it.
use chrono::{DateTime, Utc};

pub const NAME: &str = "cg_refresh";
pub const PATH: &str = "/auth/refresh";

/// The `Set-Cookie` value that hands the browser `token` until `expires_at`.
pub fn set(token: &str, expires_at: DateTime<Utc>, secure: bool) -> String {
    let max_age = (expires_at - Utc::now()).num_seconds().max(0);
    attributes(&format!("{NAME}={token}"), max_age, secure)
}

/// The `Set-Cookie` value that makes the browser forget the cookie (logout, a refused token).
pub fn clear(secure: bool) -> String {
    attributes(&format!("{NAME}="), 0, secure)
}

fn attributes(pair: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{pair}; Path={PATH}; Max-Age={max_age}; HttpOnly{secure}; SameSite=Strict")
}

/// The refresh token in a `Cookie` header's value, if it holds one.
pub fn read(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_scoped_and_hidden_from_scripts() {
        let cookie = set(
            "cgr1.1.1.abc",
            Utc::now() + chrono::Duration::hours(1),
            true,
        );
        assert!(cookie.starts_with("cg_refresh=cgr1.1.1.abc; Path=/auth/refresh; Max-Age="));
        assert!(cookie.ends_with("; HttpOnly; Secure; SameSite=Strict"));
        assert!(!set("t", Utc::now(), false).contains("Secure"));
        assert!(clear(true).starts_with("cg_refresh=; Path=/auth/refresh; Max-Age=0;"));
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        assert_eq!(read("a=b; cg_refresh=cgr1.2.3.x; c=d"), Some("cgr1.2.3.x"));
        assert_eq!(read("cg_refresh_other=x"), None);
        assert_eq!(read("cg_refresh="), None);
        assert_eq!(read(""), None);
    }
}
