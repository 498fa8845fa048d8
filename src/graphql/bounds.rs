//! Bounds on a document's shape, checked in time linear in its length before anything walks it
//! recursively: the parser, async-graphql's recursion check, validation, complexity and depth
//! all recurse into nested values and selections and expand every fragment spread where it
//! stands. Unchecked, 2,000 nested brackets overflow a 2 MiB thread stack inside the parser
//! (aborting the process), and a few dozen fragments that each spread the next twice cost
//! 2^n steps before a limit is ever compared.
//!
//! So a document is refused, before it is parsed, when its brackets nest deeper than
//! [`MAX_NESTING`] or it has more than [`MAX_TOKENS`] tokens; and, once parsed, when its
//! fragments spread each other in a cycle, nest deeper than [`MAX_NESTING`] once expanded, or
//! expand to more selections than the complexity limit allows, nest fields deeper than the depth
//! limit, or ask more of introspection than [`introspection`] allows. The expansion is counted
//! once per fragment (memoized, in dependency order), never by walking it.
use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Positioned, ServerError};

use crate::config::GraphqlLimits;
use crate::core::error::FieldViolation;

pub mod introspection;

use introspection::{Introspection, TYPE_REFERENCE};

/// Deepest nesting of `{…}` and `[…]` in a document, and of selection sets once its fragments
/// are expanded (async-graphql's own recursion limit is set to the same number). Real documents
/// stay far below it: the standard introspection query nests 10 brackets deep, 17 expanded.
pub const MAX_NESTING: usize = 32;

/// Most tokens in one document; graphql-java's default. The standard introspection query has
/// about 350.
pub const MAX_TOKENS: usize = 15_000;

/// A request refused before anything ran (a request error: no `data`; over HTTP, 400 or 200
/// by the media type the client accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
    /// For `VALIDATION_FAILED`: which input fields, as in a service's validation error.
    pub fields: Vec<FieldViolation>,
}

impl Refused {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// As a GraphQL error, for refusals made inside the schema (the WebSocket's requests).
    pub fn into_error(self) -> ServerError {
        let mut error = ServerError::new(self.message, None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", self.code);
        if !self.fields.is_empty() {
            extensions.set("fields", FieldViolation::list(&self.fields));
        }
        error.extensions = Some(extensions);
        error
    }
}

/// Checks the text of a document, without parsing it: bracket nesting and token count, strings,
/// block strings and comments skipped as the GraphQL grammar reads them.
pub fn check_text(text: &str) -> Result<(), Refused> {
    let bytes = text.as_bytes();
    let mut depth = 0_usize;
    let mut tokens = 0_usize;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                tokens += 1;
                i = skip_string(bytes, i);
            }
            b'{' | b'[' => {
                tokens += 1;
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_nested());
                }
                i += 1;
            }
            b'}' | b']' => {
                tokens += 1;
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ if is_word(byte) => {
                tokens += 1;
                while i < bytes.len() && is_word(bytes[i]) {
                    i += 1;
                }
            }
            // Every other punctuator is a token of its own (`...` counts three: an upper bound).
            _ => {
                tokens += 1;
                i += 1;
            }
        }
        if tokens > MAX_TOKENS {
            return Err(Refused::new(
                "DOCUMENT_TOO_LARGE",
                format!("the document has more than {MAX_TOKENS} tokens"),
            ));
        }
    }
    Ok(())
}

/// Names, numbers and keywords: one token per run.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'+' | b'.') || byte >= 0x80
}

/// The index just past the string starting at `start` (a `"…"` string or a `"""…"""` block
/// string), or the end of the text if it is not closed (the parser then reports it).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return i + 3;
            } else {
                i += 1;
            }
        }
        return i;
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            // A string cannot span lines; the parser reports it.
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn too_nested() -> Refused {
    Refused::new(
        "DOCUMENT_TOO_NESTED",
        format!("the document nests deeper than {MAX_NESTING} levels"),
    )
}

/// What a parsed document amounts to once its fragments are expanded where they are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expanded {
    /// Fields (`__typename` included), fragment spreads and inline fragments, over all its
    /// operations.
    pub selections: u64,
    /// The deepest selection set, counted as async-graphql's recursion check counts it (a
    /// field's selection set, a spread and an inline fragment each one level).
    pub nesting: u64,
    /// The deepest field: each field one level, except `__typename` and the links of a type
    /// reference (`ofType`, see [`introspection::TYPE_REFERENCE`]).
    pub depth: u64,
    /// In the operation that asks the most of it.
    pub introspection: Introspection,
}

/// The limits a document is held to before it runs, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// `MAX_QUERY_COMPLEXITY`, which every selection counts against.
    pub max_selections: usize,
    /// `MAX_QUERY_DEPTH`.
    pub max_depth: usize,
    /// Whether `__schema` and `__type` may be asked for at all.
    pub introspection: bool,
}

impl From<&GraphqlLimits> for DocumentLimits {
    fn from(limits: &GraphqlLimits) -> Self {
        Self {
            max_selections: limits.max_complexity,
            max_depth: limits.max_depth,
            introspection: limits.introspection,
        }
    }
}

/// Checks a parsed document (whose text passed [`check_text`]) against the bounds above.
pub fn check_document(
    document: &ExecutableDocument,
    limits: &DocumentLimits,
) -> Result<Expanded, Refused> {
    let fragments = expand_fragments(document)?;
    let mut total = Expanded::NONE;
    for (_, operation) in document.operations.iter() {
        let expanded = expand(&operation.node.selection_set, &fragments);
        total.selections = total.selections.saturating_add(expanded.selections);
        total.nesting = total.nesting.max(expanded.nesting);
        total.depth = total.depth.max(expanded.depth);
        if expanded.introspection.used() {
            if !limits.introspection {
                return Err(introspection::disabled());
            }
            expanded.introspection.check()?;
            if expanded.introspection.selections > total.introspection.selections {
                total.introspection = expanded.introspection;
            }
        }
    }
    if total.nesting > MAX_NESTING as u64 {
        return Err(too_nested());
    }
    if total.selections > limits.max_selections as u64 {
        return Err(Refused::new(
            "QUERY_TOO_COMPLEX",
            format!(
                "the document makes {} selections once its fragments are expanded; the limit is \
                 {}",
                total.selections, limits.max_selections
            ),
        ));
    }
    if total.depth > limits.max_depth as u64 {
        return Err(Refused::new(
            "QUERY_TOO_DEEP",
            format!(
                "the document nests fields {} deep; the limit is {}",
                total.depth, limits.max_depth
            ),
        ));
    }
    Ok(total)
}

/// Each fragment's expansion, computed once, fragments spread by others first (Kahn's
/// algorithm, so a chain of thousands of fragments needs no recursion). A fragment left over
/// is part of a cycle, which the specification forbids and expansion would never end.
fn expand_fragments(document: &ExecutableDocument) -> Result<HashMap<&str, Expanded>, Refused> {
    let mut spreads: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, fragment) in &document.fragments {
        let mut names = Vec::new();
        spread_names(&fragment.node.selection_set, &mut names);
        names.retain(|spread| document.fragments.contains_key(*spread));
        spreads.insert(name.as_str(), names);
    }
    // Fragments waiting for others, and who waits for whom.
    let mut waiting_on: HashMap<&str, usize> = HashMap::new();
    let mut waiters: HashMap<&str, Vec<&str>> = HashMap::new();
    for (&name, names) in &spreads {
        waiting_on.insert(name, names.len());
        for &spread in names {
            waiters.entry(spread).or_default().push(name);
        }
    }
    let mut ready: Vec<&str> = waiting_on
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(name, _)| *name)
        .collect();
    let mut expanded = HashMap::with_capacity(spreads.len());
    while let Some(name) = ready.pop() {
        let fragment = &document.fragments[name];
        expanded.insert(name, expand(&fragment.node.selection_set, &expanded));
        for &waiter in waiters.get(name).map(Vec::as_slice).unwrap_or_default() {
            let count = waiting_on
                .get_mut(waiter)
                .expect("every fragment is counted");
            *count -= 1;
            if *count == 0 {
                ready.push(waiter);
            }
        }
    }
    if expanded.len() < spreads.len() {
        let mut cyclic: Vec<&str> = spreads
            .keys()
            .filter(|name| !expanded.contains_key(*name))
            .copied()
            .collect();
        cyclic.sort_unstable();
        return Err(Refused::new(
            "GRAPHQL_VALIDATION_FAILED",
            format!(
                "fragments spread each other in a cycle: {}",
                cyclic.join(", ")
            ),
        ));
    }
    Ok(expanded)
}

/// The names of the fragments spread in `set`, at any depth (the text's nesting is bounded, so
/// this recursion is too).
fn spread_names<'a>(set: &'a Positioned<SelectionSet>, names: &mut Vec<&'a str>) {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => spread_names(&field.node.selection_set, names),
            Selection::InlineFragment(inline) => spread_names(&inline.node.selection_set, names),
            Selection::FragmentSpread(spread) => {
                names.push(spread.node.fragment_name.node.as_str())
            }
        }
    }
}

/// The expansion of `set`, its spreads taken from `fragments` (an unknown fragment counts as
/// its spread alone; validation reports it).
fn expand(set: &Positioned<SelectionSet>, fragments: &HashMap<&str, Expanded>) -> Expanded {
    let mut total = Expanded::NONE;
    for selection in &set.node.items {
        let (inner, nested, depth) = match &selection.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                let inner = if field.node.selection_set.node.items.is_empty() {
                    Expanded::NONE
                } else {
                    expand(&field.node.selection_set, fragments)
                };
                let level = u64::from(name != "__typename" && name != TYPE_REFERENCE);
                let inner = Expanded {
                    introspection: Introspection::field(
                        name,
                        &inner.introspection,
                        inner.selections,
                    ),
                    ..inner
                };
                let nested = !field.node.selection_set.node.items.is_empty();
                (inner, nested, inner.depth.saturating_add(level))
            }
            Selection::InlineFragment(inline) => {
                let inner = expand(&inline.node.selection_set, fragments);
                (inner, true, inner.depth)
            }
            Selection::FragmentSpread(spread) => {
                let inner = fragments
                    .get(spread.node.fragment_name.node.as_str())
                    .copied()
                    .unwrap_or(Expanded::NONE);
                (inner, true, inner.depth)
            }
        };
        total.selections = total
            .selections
            .saturating_add(1)
            .saturating_add(inner.selections);
        if nested {
            total.nesting = total.nesting.max(inner.nesting.saturating_add(1));
        }
        total.depth = total.depth.max(depth);
        total.introspection.add(&inner.introspection);
    }
    total
}

impl Expanded {
    const NONE: Expanded = Expanded {
        selections: 0,
        nesting: 0,
        depth: 0,
        introspection: Introspection::NONE,
    };
}

/// A parse error as a client can use it: where, what was expected, and a short excerpt. The
/// parser's own message quotes the whole line, which for a one-line document is all of it.
pub fn parse_error_message(text: &str, error: &async_graphql::parser::Error) -> String {
    use async_graphql::parser::Error;
    let Error::Syntax { message, start, .. } = error else {
        return error.to_string();
    };
    let expected = message
        .lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("= "))
        .unwrap_or("unexpected input");
    let expected = truncate(expected, 200);
    let excerpt: String = text
        .lines()
        .nth(start.line.saturating_sub(1))
        .map(|line| {
            line.chars()
                .skip(start.column.saturating_sub(1))
                .take(40)
                .collect()
        })
        .unwrap_or_default();
    if excerpt.is_empty() {
        format!(
            "syntax error at line {}, column {}: {expected}",
            start.line, start.column
        )
    } else {
        format!(
            "syntax error at line {}, column {}: {expected}, near `{excerpt}`",
            start.line, start.column
        )
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
