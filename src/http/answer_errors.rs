//! The errors of an executed answer, made into what clients may rely on: every error with a
//! code and the request id, a field that failed present as `null`, and the wait a rate limit
//! asks for.
use serde_json::{Value, json};

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

/// A field that raised an error must be present as `null` (GraphQL spec, "Handling Field
/// Errors"); async-graphql leaves such nullable fields out, which typed clients report as missing.
pub(super) fn null_errored_fields(body: &mut serde_json::Map<String, Value>) {
    let paths: Vec<Vec<Value>> = match body.get("errors") {
        Some(Value::Array(errors)) => errors
            .iter()
            .filter_map(|e| e.get("path").and_then(Value::as_array).cloned())
            .collect(),
        _ => return,
    };
    let Some(data) = body.get_mut("data") else {
        return;
    };
    'paths: for path in paths {
        let Some((Value::String(field), parents)) = path.split_last() else {
            continue;
        };
        let mut node = &mut *data;
        for segment in parents {
            let child = match segment {
                Value::String(key) => node.get_mut(key.as_str()),
                Value::Number(index) => {
                    match index.as_u64().and_then(|i| usize::try_from(i).ok()) {
                        Some(i) => node.get_mut(i),
                        None => None,
                    }
                }
                _ => None,
            };
            match child {
                Some(child) => node = child,
                None => continue 'paths,
            }
        }
        if let Value::Object(object) = node {
            object.entry(field.clone()).or_insert(Value::Null);
        }
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
