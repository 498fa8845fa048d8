//! The errors of an executed answer, made into what clients may rely on: every error with a
//! code and the request id, a field that failed present as `null`, and the wait a rate limit
//! asks for.
use async_graphql::parser::types::ExecutableDocument;
use serde_json::{Value, json};

use crate::graphql::nullability::{Nearest, OutputTypes, Step};

/// The longest wait any RATE_LIMITED error asks for.
pub(super) fn retry_after(errors: &Value) -> Option<u64> {
    errors
        .as_array()?
        .iter()
        .filter_map(|e| e.get("extensions"))
        .filter(|x| x.get("code").and_then(Value::as_str) == Some("RATE_LIMITED"))
        .filter_map(|x| x.get("retryAfter").and_then(Value::as_u64))
        .max()
}

/// Each field error leaves a `null` where the GraphQL spec puts it ("Handling Execution
/// Errors"): at the field if it is nullable, else at its nearest nullable parent, else `data`
/// itself is null. async-graphql leaves a failed field out of its parent, and an object all of
/// whose fields failed (the root included) as `null`.
pub(super) fn null_failed_fields(
    body: &mut serde_json::Map<String, Value>,
    types: &OutputTypes,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    let paths: Vec<Vec<Value>> = match body.get("errors") {
        Some(Value::Array(errors)) => errors
            .iter()
            .filter_map(|e| e.get("path").and_then(Value::as_array).cloned())
            .filter(|path| !path.is_empty())
            .collect(),
        _ => return,
    };
    let mut targets = Vec::with_capacity(paths.len());
    for path in paths {
        let steps: Option<Vec<Step<'_>>> = path
            .iter()
            .map(|segment| match segment {
                Value::String(key) => Some(Step::Key(key)),
                Value::Number(_) => Some(Step::Index),
                _ => None,
            })
            .collect();
        let nearest = steps.map_or(Nearest::Unknown, |steps| {
            types.nearest_nullable(document, operation_name, &steps)
        });
        match nearest {
            Nearest::At(taken) => targets.push(path[..taken].to_vec()),
            Nearest::Data => {
                body.insert("data".into(), Value::Null);
                return;
            }
            Nearest::Unknown => targets.push(path),
        }
    }
    // A null set higher up already holds the ones beneath it.
    targets.sort_by_key(Vec::len);
    let data = body.entry("data").or_insert(Value::Null);
    let mut done: Vec<Vec<Value>> = Vec::with_capacity(targets.len());
    for target in targets {
        if done.iter().any(|higher| target.starts_with(higher)) {
            continue;
        }
        set_null(data, &target);
        done.push(target);
    }
}

/// Sets the position `path` leads to `null`.
fn set_null(data: &mut Value, path: &[Value]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = data;
    for segment in parents {
        node = match child(node, segment) {
            Some(child) => child,
            None => return,
        };
    }
    if let Some(slot) = child(node, last) {
        *slot = Value::Null;
    }
}

/// The position `segment` leads to under `node`. A missing or `null` object on an error's
/// path is one whose fields all failed (an error lies beneath it), so it becomes an object.
fn child<'a>(node: &'a mut Value, segment: &Value) -> Option<&'a mut Value> {
    match segment {
        Value::String(key) => {
            if node.is_null() {
                *node = Value::Object(serde_json::Map::new());
            }
            let object = node.as_object_mut()?;
            Some(object.entry(key.clone()).or_insert(Value::Null))
        }
        Value::Number(index) => {
            let index = usize::try_from(index.as_u64()?).ok()?;
            node.as_array_mut()?.get_mut(index)
        }
        _ => None,
    }
}

/// Errors one answer carries at most: a document with thousands of mistakes would otherwise
/// be answered with one error for each, many times its own size.
pub(super) const MAX_ERRORS: usize = 100;

/// Keeps the first [`MAX_ERRORS`] errors and says how many more there were.
pub(super) fn cap_errors(errors: &mut Vec<Value>) {
    if errors.len() <= MAX_ERRORS {
        return;
    }
    let left_out = errors.len() - MAX_ERRORS;
    errors.truncate(MAX_ERRORS);
    errors.push(json!({
        "message": format!("{left_out} more errors were left out"),
        "extensions": { "code": "TOO_MANY_ERRORS" },
    }));
}

/// Gives every error a code and the request id. An execution error without a code did not come
/// through `AppError` (say, from the framework): its text is logged and replaced.
pub(super) fn stamp_error(error: &mut Value, request_id: &str, request_error: bool) {
    let Some(error) = error.as_object_mut() else {
        return;
    };
    let has_code = error
        .get("extensions")
        .and_then(|e| e.get("code"))
        .is_some();
    let is_input_error = error
        .get("message")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("Failed to parse"));
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let limit_code = match message {
        "Query is too complex." => Some("QUERY_TOO_COMPLEX"),
        _ => None,
    };
    if !has_code {
        if let Some(code) = limit_code {
            set_extension(error, "code", json!(code));
        } else if request_error {
            set_extension(error, "code", json!("GRAPHQL_VALIDATION_FAILED"));
        } else if is_input_error {
            // An argument that could not be coerced (async-graphql coerces some lazily).
            set_extension(error, "code", json!("BAD_USER_INPUT"));
        } else {
            let message = error.get("message").cloned().unwrap_or(Value::Null);
            tracing::error!(%message, "uncoded error during execution");
            error.insert("message".into(), json!("internal server error"));
            set_extension(error, "code", json!("INTERNAL_SERVER_ERROR"));
        }
    }
    set_extension(error, "requestId", json!(request_id));
}

fn set_extension(error: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    let extensions = error
        .entry("extensions")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(extensions) = extensions.as_object_mut() {
        extensions.insert(key.to_owned(), value);
    }
}
