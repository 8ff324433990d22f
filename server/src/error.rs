//! Typed refusals: every error answer is `{"error": {"code", "message"}}`
//! with a stable code (SPEC §12.9) and a 4xx status, or `internal` / 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promptvault::protocol::{ErrorDetail, ErrorResponse};
use promptvault::{Error as CoreError, ErrorCode};

/// A refusal, ready to send.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
    /// A database failure that retrying the whole transaction may cure (a
    /// PostgreSQL serialization failure or deadlock, a busy SQLite).
    transient: bool,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            transient: false,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no valid session: log in again",
        )
    }

    pub(crate) fn authentication_failed() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "the signature does not verify for this account",
        )
    }

    pub(crate) fn challenge_invalid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "challenge_invalid",
            "unknown or already used challenge: ask for a new one",
        )
    }

    pub(crate) fn challenge_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "challenge_expired",
            "the challenge expired: ask for a new one",
        )
    }

    pub(crate) fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many failed logins: wait before trying again",
            )
        }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub(crate) fn quota(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "quota_exceeded", message)
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error: retry later",
        )
    }

    /// A record (or a field in base64url) the core refused keylessly.
    pub(crate) fn record(what: &str, e: &CoreError) -> Self {
        match e.code() {
            ErrorCode::WrongVault => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_vault",
                format!("{what} belongs to another vault"),
            ),
            ErrorCode::LimitExceeded => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "record_too_large",
                format!("{what}: {e}"),
            ),
            code => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed_record",
                format!("{what}: {} ({e})", code.name()),
            ),
        }
    }

    /// The database is unreachable (restarting, failing over): retry soon.
    pub(crate) fn unavailable() -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable: retry shortly",
            )
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// Whether the failed transaction may simply be run again.
    pub(crate) fn is_transient(&self) -> bool {
        self.transient
    }

    /// Whether this refusal says something about the credentials (and so
    /// counts as a failed login), rather than about the server.
    pub(crate) fn is_server_side(&self) -> bool {
        self.status.is_server_error()
    }
}

/// SQLSTATEs (PostgreSQL) and result codes (SQLite) after which the whole
/// transaction can be retried: serialization failure, deadlock, busy.
fn is_retryable(code: &str) -> bool {
    matches!(code, "40001" | "40P01" | "5" | "6" | "517" | "261" | "262")
}

/// SQLSTATE classes of a database that went away: connection exceptions
/// (08), operator intervention such as a shutdown or a restart (57P).
fn is_unavailable(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P")
}

/// Whether a database error is a unique-key violation (a concurrent
/// insert of the same key won).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        let code = e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()));
        match (&e, code.as_deref()) {
            (_, Some(c)) if is_retryable(c) => {
                tracing::info!(code = c, "transient database error");
                ApiError {
                    transient: true,
                    ..ApiError::unavailable()
                }
            }
            (_, Some(c)) if is_unavailable(c) => {
                tracing::warn!(code = c, "the database is unavailable");
                ApiError::unavailable()
            }
            (
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
                _,
            ) => {
                tracing::warn!(error = %e, "the database is unavailable");
                ApiError::unavailable()
            }
            _ => {
                // The database error names tables and constraints. Only
                // PostgreSQL's DETAIL would carry values, and sqlx's Display
                // shows the message only.
                tracing::error!(error = %e, "database error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
