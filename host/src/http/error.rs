//! The one error type of the HTTP API and its status codes. Database and
//! other internal errors are logged here and answered with a bare 500:
//! no SQL text or file path ever reaches a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::{error, warn};

use crate::ingest::IngestError;
use crate::store::StoreError;

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not a valid request (400).
    #[error("{0}")]
    BadRequest(String),
    /// The kiosk is not enrolled, or the batch is not its own (403).
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

/// What a web page handler can fail with; answered as a small HTML page
/// with a sentence a person can act on (or a redirect to the login page).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// No valid session: a page view goes to the login page, a form post gets 401.
    #[error("{}", if *expired { "Your session has expired: please log in again." } else { "Please log in first." })]
    NotLoggedIn {
        /// The session existed and expired.
        expired: bool,
        /// The request was a GET (redirect rather than 401).
        redirect: bool,
    },
    /// The CSRF token is missing or wrong (403).
    #[error("This form is out of date or did not come from this site (its security token is missing or wrong). Reload the page and try again.")]
    Csrf,
    /// Wrong name or password (401; the login page says so).
    #[error("Wrong user name or password.")]
    BadLogin,
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing here (404).
    #[error("{0}")]
    NotFound(String),
    /// The upload is larger than allowed (413).
    #[error("{0}")]
    TooLarge(String),
    /// The upload is not a PNG or JPEG photo (415).
    #[error("{0}")]
    Unsupported(String),
    /// The photo analysis is busy or not available (503).
    #[error("{0}")]
    Unavailable(String),
    /// The database or a worker failed (500, details logged only).
    #[error("Something went wrong on the clinic computer; the details are in its log.")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<crate::users::UserError> for PageError {
    fn from(e: crate::users::UserError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl PageError {
    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::NotLoggedIn { redirect: true, .. } => StatusCode::SEE_OTHER,
            PageError::NotLoggedIn { .. } | PageError::BadLogin => StatusCode::UNAUTHORIZED,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            PageError::NotLoggedIn {
                expired,
                redirect: true,
            } => {
                let to = if *expired {
                    "/login?expired=1"
                } else {
                    "/login"
                };
                return (StatusCode::SEE_OTHER, [("location", to)]).into_response();
            }
            PageError::Internal(detail) => {
                error!(%detail, "internal error answering a page request");
            }
            PageError::Csrf => warn!("refused a form post without a valid CSRF token"),
            _ => {}
        }
        super::html::error_page(self.status(), &self.to_string(), None)
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
        let p = PageError::from(StoreError::Invalid("SELECT secret FROM t".into()));
        assert_eq!(p.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!p.to_string().contains("SELECT"));
    }
}
