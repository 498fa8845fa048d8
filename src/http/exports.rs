//! `GET /exports/{jobId}`: a finished export's file, with the same token and rules as
//! `job(id)` (the clinic's ADMIN, or whoever asked for it), until it expires.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};

use super::AppState;
use super::execution::{internal_problem, problem};
use super::graphql::{authenticate, request_id};
use crate::core::context::Authentication;
use crate::core::error::AppError;
use crate::modules::job::model::{Job, JobKind, JobStatus};

/// The file's name, if `job` is a finished export or report.
fn file_of(job: &Job) -> Option<String> {
    let makes_a_file = matches!(
        job.kind(),
        Some(JobKind::ExportPatients | JobKind::ClinicReport)
    );
    if !makes_a_file || job.status() != Some(JobStatus::Succeeded) {
        return None;
    }
    let result: serde_json::Value = serde_json::from_str(job.result.as_deref()?).ok()?;
    result["file"].as_str().map(str::to_owned)
}

fn media_type(name: &str) -> &'static str {
    if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else if name.ends_with(".pdf") {
        "application/pdf"
    } else {
        "text/csv; charset=utf-8"
    }
}

pub async fn download(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let request_id = request_id(&headers);
    let authentication = match authenticate(&state.services.sessions, &headers).await {
        Ok((authentication, _)) => authentication,
        Err(error) => return internal_problem(&error, "checking a session", &request_id),
    };
    let Authentication::Authenticated(caller) = authentication else {
        let error = AppError::Unauthenticated;
        return problem(
            StatusCode::UNAUTHORIZED,
            error.code(),
            &error.to_string(),
            &request_id,
        );
    };
    let not_found = || {
        problem(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "export not found",
            &request_id,
        )
    };
    let Ok(id) = job_id.parse::<i64>() else {
        return not_found();
    };
    let job = match state.jobs.get(&caller, id).await {
        Ok(job) => job,
        Err(AppError::NotFound(_)) => return not_found(),
        Err(error) => return internal_problem(&error, "reading an export's job", &request_id),
    };
    let Some(name) = file_of(&job) else {
        return not_found();
    };
    let expired = job.finished_at.is_none_or(|finished| {
        let age = (chrono::Utc::now().naive_utc() - finished)
            .to_std()
            .unwrap_or_default();
        age >= state.export_ttl
    });
    let gone = || {
        problem(
            StatusCode::GONE,
            "EXPORT_EXPIRED",
            "this export has expired: run it again",
            &request_id,
        )
    };
    if expired {
        if let Err(error) = state.exports.remove(&name).await {
            tracing::warn!(%error, job_id = id, "removing an expired export");
        }
        return gone();
    }
    let mut contents = match state.exports.open(&name).await {
        Ok(Some(contents)) => contents,
        Ok(None) => return gone(),
        Err(error) => {
            return internal_problem(&AppError::internal(error), "reading an export", &request_id);
        }
    };
    // The first piece before the answer: a file that does not open (a wrong key) is an error
    // the client can be told of, rather than a download cut short.
    let first = match contents.next().await.transpose() {
        Ok(first) => first.unwrap_or_default(),
        Err(error) => {
            return internal_problem(&AppError::internal(error), "reading an export", &request_id);
        }
    };
    // A failure later on can only cut the download short; it is logged here.
    let rest = contents.inspect_err(move |error| {
        tracing::error!(
            error = format!("{error:#}"),
            job_id = id,
            "reading an export"
        );
    });
    let body = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, media_type(&name).to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
