//! Why an admin or remote route refused a request; every answer is JSON `{"error": code}`.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::error::json_error;
use crate::{AuthRejection, SessionError, StoreError};

/// An admin or remote route's refusal, with its status and error code.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// No signed-in session: 401, as [`Authenticated`](crate::Authenticated) answers it.
    Unauthenticated(AuthRejection),
    /// The authorization predicate refused the caller, or a remote call's secret was wrong or
    /// missing: 403 `forbidden`.
    Forbidden,
    /// A browser's cross-site request to a route that changes something: 403 `cross_origin`.
    CrossOrigin,
    /// A route that changes something was sent without `Content-Type: application/json`: 415
    /// `json_required`.
    JsonRequired,
    /// A listing's query string is not valid: 400 `invalid_query`.
    InvalidQuery,
    /// The body is not the JSON object the route reads: 400 `invalid_body`.
    InvalidBody,
    /// The body is over 4 KiB: 413 `too_large`.
    TooLarge,
    /// The session or user named is not there: 404 `not_found`.
    NotFound,
    /// The caller's session could not be read.
    Session(SessionError),
    /// The store failed: 503 `session_store_unavailable`.
    Store(StoreError),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated(err) => err.fmt(f),
            Self::Forbidden => f.write_str("not allowed"),
            Self::CrossOrigin => f.write_str("cross-site request refused"),
            Self::JsonRequired => f.write_str("Content-Type: application/json required"),
            Self::InvalidQuery => f.write_str("invalid query string"),
            Self::InvalidBody => f.write_str("invalid request body"),
            Self::TooLarge => f.write_str("request body too large"),
            Self::NotFound => f.write_str("not found"),
            Self::Session(err) => err.fmt(f),
            Self::Store(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated(err) => err.into_response(),
            Self::Forbidden => json_error(StatusCode::FORBIDDEN, "forbidden"),
            Self::CrossOrigin => json_error(StatusCode::FORBIDDEN, "cross_origin"),
            Self::JsonRequired => json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required"),
            Self::InvalidQuery => json_error(StatusCode::BAD_REQUEST, "invalid_query"),
            Self::InvalidBody => json_error(StatusCode::BAD_REQUEST, "invalid_body"),
            Self::TooLarge => json_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::NotFound => json_error(StatusCode::NOT_FOUND, "not_found"),
            Self::Session(err) => err.into_response(),
            Self::Store(err) => err.into_response(),
        }
    }
}
