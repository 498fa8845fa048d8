//! `PUT /files/upload/{link}` (an upload's bytes, when files are kept in a local folder) and
//! `GET /files/{link}` (a photo or document). The signed link is the credential, so that an
//! `<img src>` or a browser download works without a bearer token; it names the file, the
//! caller it was issued to and what it allows, and expires within minutes. The service checks
//! the caller's access again on every use, and every download is in the audit trail.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::AppState;
use super::client_ip::ClientIp;
use super::execution::{internal_problem, problem};
use super::graphql::request_id;
use crate::audit_trail::{AuditAction, AuditEntity, AuditOutcome, PendingEvent};
use crate::core::error::AppError;
use crate::modules::file::FileKind;

/// A request's path as logged: a file link is a credential while it lasts, so it is left out.
pub fn loggable_path(path: &str) -> &str {
    if path.starts_with("/files/upload/") {
        "/files/upload/{link}"
    } else if path.starts_with("/files/") {
        "/files/{link}"
    } else {
        path
    }
}

fn invalid_link(request_id: &str) -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "INVALID_LINK",
        "the link is not valid or has expired: ask for a new one",
        request_id,
    )
}

/// A refusal of the service as an HTTP answer.
fn refusal(error: &AppError, what: &str, request_id: &str) -> Response {
    let status = match error {
        AppError::NotFound(_) | AppError::PatientNotFound => StatusCode::NOT_FOUND,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::FileRefused { .. } | AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => return internal_problem(error, what, request_id),
    };
    problem(status, error.code(), &error.to_string(), request_id)
}

pub async fn upload(
    State(state): State<AppState>,
    Path(link): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&headers);
    let Ok(link) = state.services.files.links().verify_upload(&link) else {
        return invalid_link(&request_id);
    };
    match state.services.files.receive(&link, body.to_vec()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(&error, "storing an upload", &request_id),
    }
}

pub async fn download(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    Path(link): Path<String>,
    headers: HeaderMap,
) -> Response {
    let request_id = request_id(&headers);
    let Ok(link) = state.services.files.links().verify_download(&link) else {
        return invalid_link(&request_id);
    };
    let download = state.services.files.download(&link).await;
    let caller = link.caller();
    let (outcome, entity_ids, patient_ids) = match &download {
        Ok(found) => (
            AuditOutcome::Allowed,
            vec![found.file.id],
            vec![found.file.patient_id],
        ),
        Err(_) => (AuditOutcome::Denied, vec![link.file], Vec::new()),
    };
    state
        .services
        .audit_writer
        .submit(vec![PendingEvent {
            occurred_at: crate::db::now(),
            clinic_id: caller.clinic_id,
            actor_id: caller.user_id,
            actor_role: caller.role,
            action: AuditAction::DownloadFile,
            entity: AuditEntity::PatientFile,
            entity_ids,
            patient_ids,
            field: None,
            outcome,
            request_id: request_id.clone(),
            client_ip,
        }])
        .await;
    let download = match download {
        Ok(download) => download,
        Err(error) => return refusal(&error, "reading a file", &request_id),
    };
    let disposition = match download.file.kind() {
        // Shown in the page that asked for it.
        Some(FileKind::Photo) => "inline",
        _ => "attachment",
    };
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, download.media_type),
            (
                CONTENT_DISPOSITION,
                content_disposition(disposition, &download.name),
            ),
            (CACHE_CONTROL, "no-store".to_owned()),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        download.bytes,
    )
        .into_response()
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII fallback, with what
/// could break the header replaced, and the name itself percent-encoded.
fn content_disposition(disposition: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(name, NON_ALPHANUMERIC);
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn a_name_in_any_script_survives_the_header() {
        assert_eq!(
            content_disposition("attachment", "Παραπεμπτικό \"1\".pdf"),
            "attachment; filename=\"____________ _1_.pdf\"; \
             filename*=UTF-8''%CE%A0%CE%B1%CF%81%CE%B1%CF%80%CE%B5%CE%BC%CF%80%CF%84%CE%B9%CE%BA%CF%8C%20%221%22%2Epdf"
        );
    }
}
