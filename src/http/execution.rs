//! Running one GraphQL operation and shaping its answer: a fresh DataLoader per request, no
//! mutations over GET, no `data` for request errors, nulls where field errors put them, and
//! every error given a code and the request id.
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request as GqlRequest, Variables};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::Instrument;

use super::AppState;
use super::answer_errors::{cap_errors, null_failed_fields, retry_after, stamp_error};
use super::cost;
use super::negotiation::ResponseFormat;
use crate::audit_trail::AuditTrail;
use crate::core::context::{Authentication, RequestContext};
use crate::core::error::AppError;
use crate::graphql::batching::BatchQueue;
use crate::graphql::bounds::Refused;
use crate::graphql::documents::KeptDocument;
use crate::graphql::input_text;
use crate::graphql::operation::operation_type;
use crate::modules::loaders;

/// A request that did not run.
pub(super) struct NotRun {
    pub refused: Refused,
    /// Whether it was a well-formed GraphQL-over-HTTP request whose document or variables were
    /// refused (a GraphQL request error), rather than no GraphQL request at all (its
    /// parameters missing or of the wrong type).
    pub well_formed: bool,
}

impl NotRun {
    /// Not a GraphQL request: 400 whatever the client accepts.
    pub fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            refused: Refused::new(code, message),
            well_formed: false,
        }
    }

    /// A GraphQL request error (its document or variables refused).
    fn request_error(refused: Refused) -> Self {
        Self {
            refused,
            well_formed: true,
        }
    }

    /// The status code for a client that accepts `format`.
    pub fn status(&self, format: ResponseFormat) -> StatusCode {
        if self.well_formed {
            request_error_status(format)
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// The status of a GraphQL request error (a document that does not parse or validate,
/// variables that cannot be coerced). The GraphQL-over-HTTP spec: `application/json` (legacy
/// clients, and no `Accept` at all) answers 200 with the errors in the body, as such clients
/// read the body whatever the status; `application/graphql-response+json` answers 400.
pub(super) fn request_error_status(format: ResponseFormat) -> StatusCode {
    match format {
        ResponseFormat::GraphqlResponse => StatusCode::BAD_REQUEST,
        ResponseFormat::Json | ResponseFormat::Html => StatusCode::OK,
    }
}

pub(super) fn build_request(
    state: &AppState,
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Value>,
    context: &RequestContext,
) -> Result<Prepared, NotRun> {
    let query = query
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| NotRun::malformed("BAD_REQUEST", "the request has no `query`"))?;
    let variables = match variables {
        None | Some(Value::Null) => Variables::default(),
        Some(value @ Value::Object(_)) => Variables::from_json(value),
        Some(_) => {
            return Err(NotRun::malformed(
                "BAD_REQUEST",
                "`variables` must be an object",
            ));
        }
    };
    let mut request = GqlRequest::new(query)
        .variables(variables)
        .data(context.clone());
    let document = state
        .documents
        .prepare(&mut request, &(&state.limits).into())
        .map_err(NotRun::request_error)?;
    input_text::check_variables(&request.variables).map_err(NotRun::request_error)?;
    // A fresh loader per request, scoped to the caller: nothing cached crosses requests.
    let mut batches = None;
    if let Authentication::Authenticated(caller) = &context.authentication {
        let (loader, queue) = loaders::for_request(state.services.clone(), caller);
        request = request.data(loader);
        batches = Some(queue);
    }
    request.operation_name = operation_name;
    let user_id = match &context.authentication {
        Authentication::Authenticated(caller) => Some(caller.user_id),
        _ => None,
    };
    Ok(Prepared {
        request,
        document,
        batches,
        user_id,
    })
}

/// A GraphQL request ready to run, with the queue its DataLoader batches go to.
pub(super) struct Prepared {
    request: GqlRequest,
    /// The kept (parsed and checked) document of `request`.
    document: Arc<KeptDocument>,
    batches: Option<BatchQueue>,
    /// For the request log (an id, never personal data).
    user_id: Option<i64>,
}

impl Prepared {
    /// The files of a multipart request, which its variables name by index.
    pub(super) fn with_uploads(mut self, uploads: Vec<async_graphql::UploadValue>) -> Self {
        self.request.uploads = uploads;
        self
    }

    /// The operation's type and first root field, for metrics and logs.
    fn describe(&self) -> (&'static str, String) {
        let name = self.request.operation_name.as_deref();
        let document = &self.document.document;
        let kind = match operation_type(document, name) {
            Some(OperationType::Query) => "query",
            Some(OperationType::Mutation) => "mutation",
            Some(OperationType::Subscription) => "subscription",
            None => "unknown",
        };
        let field = cost::first_root_field(document, name).unwrap_or("-".to_owned());
        (kind, field)
    }

    /// The complexity of the request, measured by validation without running it (0 if it does
    /// not pass validation: it will be refused on its own).
    pub(super) async fn complexity(&self, state: &AppState) -> usize {
        let mut probe =
            GqlRequest::new(self.request.query.clone()).variables(self.request.variables.clone());
        probe.operation_name = self.request.operation_name.clone();
        probe.set_parsed_query(self.document.document.clone());
        state.schemas.complexity(probe).await.unwrap_or(0)
    }

    /// Whether the operation that will run is a mutation.
    pub(super) fn is_mutation(&self) -> bool {
        operation_type(
            &self.document.document,
            self.request.operation_name.as_deref(),
        ) == Some(OperationType::Mutation)
    }

    /// What identifies the request: its query, variables (as JSON) and operation name.
    pub(super) fn signature(&self) -> (&str, Value, Option<&str>) {
        let variables = serde_json::to_value(&self.request.variables).unwrap_or(Value::Null);
        (
            &self.request.query,
            variables,
            self.request.operation_name.as_deref(),
        )
    }

    /// What the request costs against the rate limit: the root fields of the operation that
    /// will run, aliases included, so a query full of aliases counts as what it is.
    pub(super) fn operations(&self) -> u32 {
        cost::root_fields(
            &self.document.document,
            self.request.operation_name.as_deref(),
        )
    }
}

/// An executed request's HTTP answer.
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: String,
    /// Seconds, when an operation was refused by a rate limit.
    pub retry_after: Option<u64>,
    /// Whether the body carries errors.
    errors: bool,
    /// A GraphQL request error: its status depends on the format the client accepts.
    pub request_error: bool,
    /// Whether an error is INTERNAL_SERVER_ERROR: the service failed, not the request.
    internal_error: bool,
    /// `Set-Cookie` values the resolvers set (the refresh cookie of a login or a refresh).
    pub set_cookies: Vec<axum::http::HeaderValue>,
}

impl Answer {
    fn new(status: StatusCode, body: String) -> Self {
        Self {
            status,
            body,
            retry_after: None,
            errors: status != StatusCode::OK,
            request_error: false,
            internal_error: false,
            set_cookies: Vec::new(),
        }
    }

    /// Whether the same request sent again should get this answer rather than run again: it
    /// ran and answered for itself. A request error or a refusal by a limit ran nothing, and
    /// an internal error may be gone on a retry; those run again. An answer that hands out
    /// credentials (it sets a cookie) is never kept: a session's tokens are stored nowhere.
    pub(super) fn replayable(&self) -> bool {
        self.set_cookies.is_empty()
            && self.status == StatusCode::OK
            && !self.request_error
            && self.retry_after.is_none()
            && !self.internal_error
    }

    fn outcome(&self) -> &'static str {
        match (self.status, self.errors) {
            (StatusCode::OK, false) => "ok",
            (StatusCode::OK, true) => "error",
            (StatusCode::SERVICE_UNAVAILABLE, _) => "timeout",
            (StatusCode::TOO_MANY_REQUESTS, _) => "limited",
            _ => "rejected",
        }
    }
}

pub(super) fn problem_body(code: &str, message: &str, request_id: &str) -> Value {
    json!({
        "errors": [{
            "message": message,
            "extensions": { "code": code, "requestId": request_id },
        }]
    })
}

/// A JSON problem answer outside GraphQL execution (downloads, the refresh endpoint).
pub(super) fn problem(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        problem_body(code, message, request_id).to_string(),
    )
        .into_response()
}

/// A failure of the service while doing `what`: logged with its detail, answered with the
/// code and the request id only.
pub(super) fn internal_problem(error: &AppError, what: &str, request_id: &str) -> Response {
    tracing::error!(error = format!("{error:#}"), "{what}");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "internal server error",
        request_id,
    )
}

/// The body of a request refused before it ran, with the input fields it names.
pub(super) fn refused_body(refused: &Refused, request_id: &str) -> Value {
    let mut body = problem_body(refused.code, &refused.message, request_id);
    if !refused.fields.is_empty() {
        body["errors"][0]["extensions"]["fields"] = json!(refused.fields);
    }
    body
}

/// Runs the request, then counts and logs it: by operation type and first root field (only
/// for documents that passed validation, so the labels are the schema's own field names and
/// stay few), with the outcome and latency, and the user's id but nothing personal.
pub(super) async fn execute(
    state: &AppState,
    prepared: Prepared,
    request_id: &str,
    mutations_allowed: bool,
    deadline: tokio::time::Instant,
) -> Answer {
    let started = Instant::now();
    let (kind, field) = prepared.describe();
    let user_id = prepared.user_id;
    // The operation's name is the client's label for its document; variables and the document
    // itself stay out, as they carry patients' data.
    let span = tracing::debug_span!(
        "graphql.operation",
        graphql.operation.type = kind,
        graphql.operation.name = tracing::field::Empty,
        graphql.root_field = %field,
        request_id,
        user_id,
        outcome = tracing::field::Empty,
    );
    if let Some(name) = &prepared.request.operation_name {
        span.record("graphql.operation.name", name.as_str());
    }
    let answer = run(state, prepared, request_id, mutations_allowed, deadline)
        .instrument(span.clone())
        .await;
    let outcome = answer.outcome();
    span.record("outcome", outcome);
    let field = if outcome == "rejected" {
        "-".to_owned()
    } else {
        field
    };
    let elapsed = started.elapsed();
    metrics::counter!("graphql_requests_total", "type" => kind, "field" => field.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("graphql_request_duration_seconds", "type" => kind, "field" => field.clone())
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            operation_type = kind,
            root_field = %field,
            user_id,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            outcome,
            "graphql operation"
        );
    });
    answer
}

/// Checks the method rule, executes, and shapes the body and status. Validation and execution
/// together end by `deadline`, set when the request arrived (for queries: a mutation is never
/// cut off).
async fn run(
    state: &AppState,
    prepared: Prepared,
    request_id: &str,
    mutations_allowed: bool,
    deadline: tokio::time::Instant,
) -> Answer {
    let Prepared {
        request,
        document: kept,
        batches,
        ..
    } = prepared;
    let operation_name = request.operation_name.clone();
    let kind = operation_type(&kept.document, request.operation_name.as_deref());
    if !mutations_allowed
        && matches!(
            kind,
            Some(OperationType::Mutation | OperationType::Subscription)
        )
    {
        return Answer::new(
            StatusCode::METHOD_NOT_ALLOWED,
            problem_body(
                "METHOD_NOT_ALLOWED",
                "mutations must be sent with POST",
                request_id,
            )
            .to_string(),
        );
    }
    // What the request reads and changes is recorded here, and written whatever the outcome:
    // a query cut off by the time limit may already have read records.
    let trail = Arc::new(AuditTrail::default());
    let mut request = request.data(trail.clone());
    let schema = state.schemas.for_request(&mut request, kept.clone());
    let run = async {
        let execution = async {
            match batches {
                Some(queue) => queue.drive(schema.execute(request)).await,
                None => schema.execute(request).await,
            }
        };
        if kind == Some(OperationType::Query) {
            crate::db::shared::reading(&state.pool, execution).await
        } else {
            execution.await
        }
    };
    // A mutation is never cut off: stopped mid-write, the client could not know what happened.
    let response = if kind == Some(OperationType::Mutation) {
        Some(run.await)
    } else {
        // A query that finished after its deadline timed out as well: `timeout_at` polls the
        // query before its timer, so one whose last step ran past the deadline without
        // yielding would otherwise answer, and the limit would depend on scheduling.
        tokio::time::timeout_at(deadline, run)
            .await
            .ok()
            .filter(|_| tokio::time::Instant::now() <= deadline)
    };
    state.audit.submit(trail.take()).await;
    let Some(response) = response else {
        let limit = state.limits.request_timeout;
        tracing::warn!(limit_ms = limit.as_millis() as u64, "query timed out");
        let message = format!("the query took longer than {} ms", limit.as_millis());
        return Answer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            problem_body("TIMEOUT", &message, request_id).to_string(),
        );
    };
    let set_cookies: Vec<_> = response
        .http_headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if response.errors.is_empty() {
        // The common case needs no reshaping: serialise straight to text.
        match serde_json::to_string(&response) {
            Ok(text) => {
                let mut answer = Answer::new(StatusCode::OK, text);
                answer.set_cookies = set_cookies;
                return answer;
            }
            Err(error) => tracing::error!(%error, "serialising a GraphQL response"),
        }
    }
    // A request error (the document or variables were refused before execution) has no data
    // and no error path; it gets no `data` entry.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut internal_error = false;
    let mut body = serde_json::to_value(&response).unwrap_or_else(|error| {
        tracing::error!(%error, "serialising a GraphQL response");
        problem_body("INTERNAL_SERVER_ERROR", "internal server error", request_id)
    });
    if let Some(object) = body.as_object_mut() {
        if request_error {
            object.remove("data");
        } else {
            null_failed_fields(
                object,
                state.schemas.output_types(),
                &kept.document,
                operation_name.as_deref(),
            );
        }
        if let Some(Value::Array(errors)) = object.get_mut("errors") {
            cap_errors(errors);
            for error in errors.iter_mut() {
                stamp_error(error, request_id, request_error);
            }
            internal_error = errors
                .iter()
                .any(|error| error["extensions"]["code"] == "INTERNAL_SERVER_ERROR");
        }
    }
    let retry_after = body.get("errors").and_then(retry_after);
    let status = if request_error {
        StatusCode::BAD_REQUEST
    } else if retry_after.is_some() && body.get("data").is_none_or(Value::is_null) {
        // Nothing ran because of the limit (a refused login): say so in HTTP terms too.
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    };
    Answer {
        status,
        body: body.to_string(),
        retry_after,
        errors: true,
        request_error,
        internal_error,
        set_cookies,
    }
}
