//! The one error type of the HTTP API and its status codes. Database and
//! other internal errors are logged here and answered with a bare 500:
//! no SQL text or file path ever reaches a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::error;

use crate::ingest::IngestError;
use crate::store::StoreError;

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not a valid request (400).
    #[error("{0}")]
    BadRequest(String),
    /// The kiosk is not enrolled (403).
    #[error("{0}")]
    Forbidden(String),
    /// The database or a worker failed (500, details logged only).
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::UnknownDevice(_) => ApiError::Forbidden(e.to_string()),
            IngestError::Store(e) => e.into(),
        }
    }
}

impl ApiError {
    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self {
            ApiError::Internal(detail) => {
                error!(%detail, "internal error answering a request");
                "internal error\n".to_string()
            }
            other => format!("{other}\n"),
        };
        (
            self.status(),
            [("content-type", "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak() {
        let e = ApiError::from(StoreError::Invalid("SELECT secret FROM t".into()));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.to_string(), "internal error");
    }
}
