//! The one error type of the service and the single place where errors become GraphQL errors.
//!
//! async-graphql would otherwise turn any `Display` into a client-visible message (a diesel error
//! would leak SQL). The crate is built with `custom-error-conversion`, so only the conversions
//! written here exist, and internal detail is logged, never sent.
use async_graphql::ErrorExtensions;
use serde::Serialize;

/// Result of every service call.
pub type AppResult<T> = Result<T, AppError>;

/// One invalid input field, reported to the client in `extensions.fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    pub field: String,
    pub message: String,
}

impl FieldViolation {
    /// `fields` as `extensions.fields`: a list of `{ field, message }`.
    pub fn list(fields: &[FieldViolation]) -> async_graphql::Value {
        let entry = |f: &FieldViolation| {
            async_graphql::Value::Object(
                [("field", f.field.as_str()), ("message", f.message.as_str())]
                    .into_iter()
                    .map(|(key, text)| (async_graphql::Name::new(key), text.into()))
                    .collect(),
            )
        };
        async_graphql::Value::List(fields.iter().map(entry).collect())
    }

    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every failure a client can meet; each variant has a stable `extensions.code`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required: send a valid bearer token")]
    Unauthenticated,
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A refresh token that is unknown, expired, revoked or already used: sign in again.
    #[error("the refresh token is not valid: sign in again")]
    InvalidRefreshToken,
    #[error("{0}")]
    Forbidden(String),
    #[error("the input is invalid")]
    Validation(Vec<FieldViolation>),
    #[error("a patient with this email already exists in this clinic")]
    DuplicateEmail,
    #[error("patient not found")]
    PatientNotFound,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The slot overlaps another live appointment of the doctor or the patient (its global id).
    #[error("the time overlaps appointment {0}")]
    AppointmentConflict(String),
    #[error("cannot {action} {entity} that is {current}")]
    InvalidStateTransition {
        /// With its article: "an appointment", "a prescription".
        entity: &'static str,
        action: &'static str,
        current: &'static str,
    },
    /// Too many requests or login attempts; the client may retry after this many seconds.
    #[error("too many requests: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A stored value that does not decrypt (a key missing from the keyring, or a value
    /// changed or moved in the database). Logged where it failed, with the record's id.
    #[error("this value could not be decrypted; the failure has been logged")]
    Unreadable(#[from] crate::core::sealing::Unreadable),
    /// A file refused on upload or by processing: `code` is one of `modules::file`'s codes
    /// (`FILE_TOO_LARGE`, `UNSUPPORTED_FILE_TYPE`, …).
    #[error("{message}")]
    FileRefused { code: &'static str, message: String },
    /// Anything the client cannot act on. The detail is logged, never shown.
    #[error("internal server error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// The stable machine-readable code, sent as `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::InvalidCredentials => "INVALID_CREDENTIALS",
            AppError::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::Validation(_) => "VALIDATION_FAILED",
            AppError::DuplicateEmail => "DUPLICATE_EMAIL",
            AppError::PatientNotFound => "PATIENT_NOT_FOUND",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::AppointmentConflict(_) => "APPOINTMENT_CONFLICT",
            AppError::InvalidStateTransition { .. } => "INVALID_STATE_TRANSITION",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Unreadable(_) => "DATA_UNREADABLE",
            AppError::FileRefused { code, .. } => code,
            AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(error.into())
    }

    pub fn forbidden(reason: impl Into<String>) -> Self {
        AppError::Forbidden(reason.into())
    }

    /// A single invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldViolation::new(field, message)])
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        if let AppError::Internal(detail) = &error {
            // Logged inside the request span, which carries the request id the client receives.
            tracing::error!(error = format!("{detail:#}"), "internal error");
        }
        let code = error.code();
        let fields = match &error {
            AppError::Validation(fields) => Some(fields.clone()),
            _ => None,
        };
        let retry_after = match &error {
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let detail = match &error {
            AppError::AppointmentConflict(id) => Some(("conflictingAppointmentId", id.clone())),
            AppError::InvalidStateTransition { current, .. } => {
                Some(("currentStatus", (*current).to_owned()))
            }
            _ => None,
        };
        async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
            extensions.set("code", code);
            if let Some((key, value)) = &detail {
                extensions.set(*key, value.as_str());
            }
            if let Some(seconds) = retry_after {
                extensions.set("retryAfter", seconds);
            }
            if let Some(fields) = &fields {
                extensions.set("fields", FieldViolation::list(fields));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extension(error: &async_graphql::Error, key: &str) -> Option<async_graphql::Value> {
        error.extensions.as_ref()?.get(key).cloned()
    }

    #[test]
    fn every_variant_maps_to_its_code() {
        let cases = [
            (AppError::Unauthenticated, "UNAUTHENTICATED"),
            (AppError::InvalidCredentials, "INVALID_CREDENTIALS"),
            (AppError::InvalidRefreshToken, "INVALID_REFRESH_TOKEN"),
            (AppError::forbidden("no"), "FORBIDDEN"),
            (AppError::invalid("name", "required"), "VALIDATION_FAILED"),
            (AppError::DuplicateEmail, "DUPLICATE_EMAIL"),
            (AppError::PatientNotFound, "PATIENT_NOT_FOUND"),
            (AppError::NotFound("doctor"), "NOT_FOUND"),
            (
                AppError::RateLimited {
                    retry_after_secs: 3,
                },
                "RATE_LIMITED",
            ),
            (
                AppError::AppointmentConflict("QXBwb2ludG1lbnQ6MQ".into()),
                "APPOINTMENT_CONFLICT",
            ),
            (
                AppError::InvalidStateTransition {
                    entity: "an appointment",
                    action: "complete",
                    current: "CANCELLED",
                },
                "INVALID_STATE_TRANSITION",
            ),
            (
                AppError::Unreadable(crate::core::sealing::Unreadable {
                    field: crate::core::sealing::fields::PATIENT_PHONE,
                    row: 1,
                    reason: crate::core::sealing::UnreadableReason::Tampered,
                }),
                "DATA_UNREADABLE",
            ),
            (
                AppError::internal(anyhow::anyhow!("boom")),
                "INTERNAL_SERVER_ERROR",
            ),
        ];
        for (error, code) in cases {
            let gql: async_graphql::Error = error.into();
            assert_eq!(
                extension(&gql, "code"),
                Some(async_graphql::Value::from(code))
            );
        }
    }

    #[test]
    fn internal_detail_never_reaches_the_message() {
        let gql: async_graphql::Error = AppError::internal(anyhow::anyhow!(
            "SELECT * FROM patients failed at /src/x.rs"
        ))
        .into();
        assert_eq!(gql.message, "internal server error");
    }

    #[test]
    fn validation_lists_every_field() {
        let gql: async_graphql::Error = AppError::Validation(vec![
            FieldViolation::new("name", "is required"),
            FieldViolation::new("email", "is not a valid email address"),
        ])
        .into();
        let fields = extension(&gql, "fields").expect("fields extension");
        let json = fields.into_json().expect("json");
        assert_eq!(
            json,
            serde_json::json!([
                {"field": "name", "message": "is required"},
                {"field": "email", "message": "is not a valid email address"}
            ])
        );
    }
}
