//! `Idempotency-Key` on `POST /graphql`: a mutation sent again under the same key, by the same
//! caller, within 24 hours gets the first answer (status and body, byte for byte) instead of
//! running again (`modules::idempotency`). Queries, and anonymous callers, ignore the key.
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sentry::SentryFutureExt;
use tracing::Instrument;

use super::AppState;
use super::execution::Prepared;
use super::graphql::{Reply, error_response, internal_error};
use super::negotiation::ResponseFormat;
use crate::core::auth::Caller;
use crate::core::context::{Authentication, RequestContext};
use crate::modules::idempotency::model::{Claim, Fingerprint, IdempotencyKey, StoredAnswer};

pub(super) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer.
pub(super) const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// A request that runs under a key.
pub(super) struct Keyed {
    caller: Caller,
    key: IdempotencyKey,
    fingerprint: Fingerprint,
}

/// Why a key was refused before anything ran.
pub(super) struct InvalidKey;

/// The key that `operations` run under: only a request of an authenticated caller that
/// includes a mutation has one.
pub(super) fn keyed<'a>(
    headers: &HeaderMap,
    context: &RequestContext,
    operations: impl IntoIterator<Item = &'a Prepared>,
) -> Result<Option<Keyed>, InvalidKey> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let Authentication::Authenticated(caller) = &context.authentication else {
        return Ok(None);
    };
    let operations: Vec<&Prepared> = operations.into_iter().collect();
    if !operations.iter().any(|operation| operation.is_mutation()) {
        return Ok(None);
    }
    if values.next().is_some() {
        return Err(InvalidKey);
    }
    let key = IdempotencyKey::parse(value.as_bytes()).ok_or(InvalidKey)?;
    let signatures: Vec<_> = operations.iter().map(|o| o.signature()).collect();
    let fingerprint = Fingerprint::of(
        signatures
            .iter()
            .map(|(query, variables, name)| (*query, variables, *name)),
    );
    Ok(Some(Keyed {
        caller: caller.clone(),
        key,
        fingerprint,
    }))
}

/// The answer to a request whose key was refused.
pub(super) fn refused(_: InvalidKey, format: ResponseFormat, request_id: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        format,
        "IDEMPOTENCY_KEY_INVALID",
        &format!(
            "send one Idempotency-Key of 1 to {} visible ASCII characters",
            IdempotencyKey::MAX_CHARS
        ),
        request_id,
    )
}

/// Claims the key, then replays the first answer, refuses, or runs `work` and keeps its answer.
pub(super) async fn run(
    state: &AppState,
    keyed: Keyed,
    format: ResponseFormat,
    request_id: &str,
    work: impl Future<Output = Reply> + Send + 'static,
) -> Response {
    let claim = state
        .idempotency
        .claim(&keyed.caller, &keyed.key, &keyed.fingerprint)
        .await;
    match claim {
        Ok(Claim::Run) => {}
        Ok(Claim::Replay(answer)) => return replayed(answer),
        Ok(Claim::InFlight) => {
            return error_response(
                StatusCode::CONFLICT,
                format,
                "IDEMPOTENCY_KEY_IN_FLIGHT",
                "a request with this Idempotency-Key is still running: retry once it has answered",
                request_id,
            );
        }
        Ok(Claim::Unreadable) => {
            return error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                format,
                "DATA_UNREADABLE",
                "the answer kept for this Idempotency-Key cannot be decrypted: use a new key",
                request_id,
            );
        }
        Ok(Claim::Reused) => {
            return error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                format,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was sent with a different request: use a new key",
                request_id,
            );
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "claiming an idempotency key");
            return internal_error(format, request_id);
        }
    }
    let idempotency = state.idempotency.clone();
    // Run to the end, and the answer kept, even if the client goes away meanwhile: it is the
    // client that lost its answer who sends the key again.
    let task = tokio::spawn(
        async move {
            let reply = work.await;
            let body = reply.replayable.then(|| reply.body.clone());
            let response = reply.into_response(format);
            let kept = match body {
                Some(body) => {
                    let answer = StoredAnswer {
                        status: response.status().as_u16(),
                        content_type: response
                            .headers()
                            .get(CONTENT_TYPE)
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned(),
                        body,
                    };
                    idempotency
                        .complete(&keyed.caller, &keyed.key, &answer)
                        .await
                }
                None => idempotency.release(&keyed.caller, &keyed.key).await,
            };
            if let Err(error) = kept {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "keeping the answer of an idempotency key"
                );
            }
            response
        }
        .instrument(tracing::Span::current())
        .bind_hub(sentry::Hub::current()),
    );
    match task.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "running a request under an idempotency key");
            internal_error(format, request_id)
        }
    }
}

fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    if let Ok(content_type) = HeaderValue::from_str(&answer.content_type) {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}
