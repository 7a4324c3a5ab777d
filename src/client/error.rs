//! What can go wrong for a bearer client.

use std::error::Error;
use std::fmt;

use http::StatusCode;

/// Why a request through [`BearerService`](super::BearerService), or a
/// [`login`](super::login), failed.
///
/// `E` is the inner service's error (for hyper-util's client,
/// `hyper_util::client::legacy::Error`).
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError<E> {
    /// The [`ClientSession`](super::ClientSession) holds no tokens: sign in first. Nothing was
    /// sent.
    NotLoggedIn,
    /// The server refused the refresh token (it expired, was revoked, or was used twice): the
    /// session is over and the tokens are forgotten. Sign in again.
    SessionExpired,
    /// The token endpoint refused the username and password ([`login`](super::login) only).
    InvalidCredentials,
    /// The inner service failed: connection refused, reset, timed out…
    Transport(E),
    /// The token endpoint answered something this client cannot use.
    TokenResponse(TokenResponseError),
}

/// An answer from the token endpoint that holds no usable token pair.
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenResponseError {
    /// An unexpected status (neither success nor a refusal of the credentials).
    Status(StatusCode),
    /// The body could not be read, or was larger than the 64 KiB a token answer needs.
    Body(Box<dyn Error + Send + Sync>),
    /// The body is not the JSON of a token answer (`access_token`, `refresh_token`, and
    /// optionally `token_type` `Bearer` and `expires_in`).
    Json(serde_json::Error),
    /// `token_type` is not `Bearer`, or a token is empty or not valid in an HTTP header.
    InvalidToken,
    /// The refresh was cut short because the runtime is shutting down.
    Interrupted,
}

impl<E: fmt::Display> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotLoggedIn => f.write_str("not logged in"),
            Self::SessionExpired => f.write_str("the session expired: sign in again"),
            Self::InvalidCredentials => f.write_str("invalid username or password"),
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::TokenResponse(e) => write!(f, "unusable token endpoint answer: {e}"),
        }
    }
}

impl<E: Error + 'static> Error for ClientError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Transport(e) => Some(e),
            Self::TokenResponse(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for TokenResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "unexpected status {status}"),
            Self::Body(e) => write!(f, "unreadable body: {e}"),
            Self::Json(e) => write!(f, "not a token answer: {e}"),
            Self::InvalidToken => f.write_str("not a valid bearer token"),
            Self::Interrupted => f.write_str("the refresh was interrupted"),
        }
    }
}

impl Error for TokenResponseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Body(e) => Some(&**e),
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}
