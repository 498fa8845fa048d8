//! Text normalisation shared by writes and searches, so both databases compare the same bytes.
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Text as the front desk types it: compatibility-decomposed (NFKD), combining marks removed,
/// lowercased, so "Zoë", "ZOË", "Zoe\u{308}" and "zoe" are one key ("ﬁ" is "fi"). Applied to the
/// stored key and to the search term alike, so it is symmetric: "zoë" also finds "Zoe".
/// SQLite's `lower()` folds ASCII only and neither database strips accents the same way, so it
/// happens here, at write time and at search time, identically on every backend. Changing it
/// means recomputing every stored key (see `crate::migrate`).
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|&c| !is_combining_mark(c))
        .collect::<String>()
        .to_lowercase()
}

/// Escapes `%`, `_` and the escape character itself, so user text matches literally in `LIKE`.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The lowercase hex SHA-256 of `text` (persisted-query hashes, keys that must not carry
/// personal data).
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_decomposed_forms() {
        assert_eq!(fold("ZOË"), "zoe");
        assert_eq!(fold("Zoe\u{308}"), "zoe");
        assert_eq!(fold("José Müller"), "jose muller");
        assert_eq!(fold("ÅSTRÖM Çelik İlhan"), "astrom celik ilhan");
        assert_eq!(fold("ﬁsher"), "fisher");
        assert_eq!(fold("50%_a\\b"), "50%_a\\b");
        // Letters that are not a base letter plus a mark stay themselves.
        assert_eq!(fold("Øst Łódź ß"), "øst łodz ß");
    }

    #[test]
    fn escapes_like_wildcards() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}

/// Trims and lowercases an email address after checking its shape (one `@`, a dotted domain,
/// no spaces, RFC length limits). Deliverability is not checked.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("is required");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("is not a valid email address");
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok && email.len() <= 254 {
        Ok(email)
    } else {
        Err("is not a valid email address")
    }
}

#[cfg(test)]
mod email_tests {
    use super::normalize_email;

    #[test]
    fn accepts_and_lowercases_plain_addresses() {
        assert_eq!(
            normalize_email("  Ann.Lee+x@Example.ORG "),
            Ok("ann.lee+x@example.org".into())
        );
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.org",
            "ann@example",
            "a b@example.org",
            "ann@@x.org",
            "ann@-x.org",
            "a..b@x.org",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }
}

/// Trims optional free text; empty becomes `None`; more than `max_chars` is an error message.
pub fn optional_text(value: Option<String>, max_chars: usize) -> Result<Option<String>, String> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(text) if text.chars().count() > max_chars => {
            Err(format!("must be at most {max_chars} characters"))
        }
        other => Ok(other),
    }
}

/// Trims required text, which must have 1 to `max_chars` characters.
pub fn required_text(value: &str, max_chars: usize) -> Result<String, String> {
    match optional_text(Some(value.to_owned()), max_chars)? {
        Some(text) => Ok(text),
        None => Err("is required".to_owned()),
    }
}

/// The first control character that `text` may not hold: every C0 control, DEL and every C1
/// control, except tab, line feed and carriage return in free text (`multiline`). PostgreSQL
/// refuses NUL in text outright, and none of the others belongs in a record or a name.
pub fn forbidden_control(text: &str, multiline: bool) -> Option<char> {
    text.chars()
        .find(|&c| c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r')))
}

#[cfg(test)]
mod control_tests {
    use super::forbidden_control;

    #[test]
    fn controls_are_found_and_line_breaks_allowed_in_free_text_only() {
        assert_eq!(forbidden_control("Zoë Adams", false), None);
        assert_eq!(forbidden_control("a\u{0}b", true), Some('\u{0}'));
        assert_eq!(forbidden_control("a\u{7f}", true), Some('\u{7f}'));
        assert_eq!(forbidden_control("a\u{85}", true), Some('\u{85}'));
        assert_eq!(forbidden_control("line\r\n\tnext", true), None);
        assert_eq!(forbidden_control("tab\there", false), Some('\t'));
    }
}
