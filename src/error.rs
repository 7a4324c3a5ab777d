//! Errors and rejections. Each maps to exactly one status code and answers with a JSON body
//! `{"error": code}`, so a handler can return them with `?`.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use axum_core::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

use crate::token::Presented;

/// A store failed (unreachable, timed out, corrupt data). Never "no session": the request gets
/// 503 and the client's cookie is left alone.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The key or public id already exists; a store never overwrites a session on create.
    Conflict,
    /// The backend failed.
    Backend(Box<dyn StdError + Send + Sync>),
    /// A stored record could not be decoded.
    Corrupt(String),
    /// The store gave no answer within the time it was given
    /// ([`SessionLayer::store_timeout`](crate::SessionLayer::store_timeout), or a
    /// [`TimeoutStore`](crate::store::TimeoutStore)): the call was abandoned. A write that
    /// timed out may still be applied by the backend later.
    TimedOut {
        /// The store operation that got no answer: `"load"`, `"update"`, `"admit"`, …
        operation: &'static str,
        /// How long it was given.
        after: Duration,
    },
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Backend(err.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict => f.write_str("session store: key already exists"),
            Self::Backend(err) => write!(f, "session store unavailable: {err}"),
            Self::Corrupt(what) => write!(f, "session store returned a corrupt record: {what}"),
            Self::TimedOut { operation, after } => {
                write!(
                    f,
                    "session store timed out: no answer to {operation} within {after:?}"
                )
            }
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Backend(err) => Some(&**err),
            _ => None,
        }
    }
}

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "session store error");
        json_error(StatusCode::SERVICE_UNAVAILABLE, "session_store_unavailable")
    }
}

/// What a session operation in a handler can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed: 503.
    Store(StoreError),
    /// A value could not be serialized into, or deserialized from, the session: 500. Only
    /// server-written values are ever deserialized, so this is a bug in the app, never bad input.
    Serde(serde_json::Error),
    /// The OS random number generator failed: 500.
    Randomness(getrandom::Error),
    /// A write would take the session's data past a limit set on the layer
    /// ([`SessionLayer::max_data_keys`](crate::SessionLayer::max_data_keys),
    /// [`max_data_bytes`](crate::SessionLayer::max_data_bytes)): 413
    /// `{"error":"session_data_too_large"}`. Nothing was changed.
    DataTooLarge(DataLimit),
    /// A [`login`](crate::Session::login) passed a session limit set on the layer
    /// ([`SessionLayer::max_sessions_per_user`](crate::SessionLayer::max_sessions_per_user)
    /// with [`Overflow::Refuse`](crate::store::Overflow::Refuse), or
    /// [`max_signed_in_sessions`](crate::SessionLayer::max_signed_in_sessions)): 409
    /// `{"error":"session_limit"}`. Nothing was changed; the client keeps its session.
    SessionLimit(LimitReached),
    /// [`Session::issue_access_token`](crate::Session::issue_access_token) could not issue a
    /// token (feature `jwt`): 401 `{"error":"unauthenticated"}` when the session is not
    /// signed in, else 500.
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    AccessToken(AccessTokenError),
    /// [`Session::refresh_bearer`](crate::Session::refresh_bearer) refused a refresh token
    /// (feature `jwt`): 409 `{"error":"refresh_conflict"}` for
    /// [`RefreshRefused::Race`], else 401 `{"error":"invalid_grant"}` (RFC 6749's code).
    #[cfg(feature = "jwt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
    Refresh(RefreshRefused),
}

/// Why [`Session::refresh_bearer`](crate::Session::refresh_bearer) issued no new pair.
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshRefused {
    /// Not a refresh token, or one no session has: never issued, forged, or of a session
    /// that ended (or a used one older than the history the session keeps). Nothing changed.
    Invalid,
    /// The session passed its idle or absolute deadline; it is ended now.
    Expired,
    /// The token had been used already: a sign that it was stolen. The whole session is
    /// revoked (its access tokens and its refresh token with it) and a `refresh_reuse` audit
    /// event sent.
    Reused,
    /// The token was used moments ago, within the
    /// [`refresh_race_window`](crate::token::AccessTokens::refresh_race_window), by a
    /// concurrent request that got the new pair. Nothing changed.
    Race,
}

#[cfg(feature = "jwt")]
impl fmt::Display for RefreshRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "refresh token refused: unknown",
            Self::Expired => "refresh token refused: the session has expired",
            Self::Reused => "refresh token refused: used twice, the session is revoked",
            Self::Race => "refresh token refused: a concurrent request used it",
        })
    }
}

#[cfg(feature = "jwt")]
impl StdError for RefreshRefused {}

/// Why [`Session::issue_access_token`](crate::Session::issue_access_token) issued no token.
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessTokenError {
    /// The session is anonymous, or there is none.
    NotSignedIn,
    /// The layer has no [`AccessTokens`](crate::token::AccessTokens): a bug in the app.
    NotConfigured,
    /// The token could not be made.
    Issue(crate::token::IssueError),
}

#[cfg(feature = "jwt")]
impl fmt::Display for AccessTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSignedIn => f.write_str("no access token for a session that is not signed in"),
            Self::NotConfigured => {
                f.write_str("the SessionLayer has no AccessTokens to issue access tokens with")
            }
            Self::Issue(err) => err.fmt(f),
        }
    }
}

#[cfg(feature = "jwt")]
impl StdError for AccessTokenError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Issue(err) => Some(err),
            _ => None,
        }
    }
}

/// Which session limit refused a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitReached {
    /// The user's own limit, under [`Overflow::Refuse`](crate::store::Overflow::Refuse).
    PerUser,
    /// The limit on signed-in sessions in the whole store.
    Total,
}

impl fmt::Display for LimitReached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PerUser => "the user's session limit",
            Self::Total => "the limit on signed-in sessions",
        })
    }
}

/// The limit a session data write would have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataLimit {
    /// At most this many keys per session.
    Keys(usize),
    /// At most this many bytes of keys and JSON values per session.
    Bytes(usize),
}

impl fmt::Display for DataLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keys(max) => write!(f, "{max} keys"),
            Self::Bytes(max) => write!(f, "{max} bytes"),
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(err) => err.fmt(f),
            Self::Serde(err) => write!(f, "session value (de)serialization failed: {err}"),
            Self::Randomness(err) => write!(f, "OS random number generator failed: {err}"),
            Self::DataTooLarge(limit) => {
                write!(f, "session data would exceed its limit of {limit}")
            }
            Self::SessionLimit(limit) => write!(f, "login refused: {limit} is reached"),
            #[cfg(feature = "jwt")]
            Self::AccessToken(err) => err.fmt(f),
            #[cfg(feature = "jwt")]
            Self::Refresh(refused) => refused.fmt(f),
        }
    }
}

impl StdError for SessionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Store(err) => Some(err),
            Self::Serde(err) => Some(err),
            Self::Randomness(err) => Some(err),
            Self::DataTooLarge(_) | Self::SessionLimit(_) => None,
            #[cfg(feature = "jwt")]
            Self::AccessToken(err) => Some(err),
            #[cfg(feature = "jwt")]
            Self::Refresh(refused) => Some(refused),
        }
    }
}

impl From<StoreError> for SessionError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<serde_json::Error> for SessionError {
    fn from(err: serde_json::Error) -> Self {
        Self::Serde(err)
    }
}

impl From<getrandom::Error> for SessionError {
    fn from(err: getrandom::Error) -> Self {
        Self::Randomness(err)
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        match self {
            Self::Store(err) => err.into_response(),
            Self::DataTooLarge(_) => {
                json_error(StatusCode::PAYLOAD_TOO_LARGE, "session_data_too_large")
            }
            Self::SessionLimit(_) => json_error(StatusCode::CONFLICT, "session_limit"),
            #[cfg(feature = "jwt")]
            Self::AccessToken(AccessTokenError::NotSignedIn) => {
                json_error(StatusCode::UNAUTHORIZED, "unauthenticated")
            }
            #[cfg(feature = "jwt")]
            Self::Refresh(RefreshRefused::Race) => {
                json_error(StatusCode::CONFLICT, "refresh_conflict")
            }
            #[cfg(feature = "jwt")]
            Self::Refresh(_) => json_error(StatusCode::UNAUTHORIZED, "invalid_grant"),
            other => {
                tracing::error!(error = %other, "session error");
                json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

/// Why the [`Session`](crate::Session) extractor failed: the app forgot the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No [`SessionLayer`](crate::SessionLayer) wraps this route: a bug in the app, 500.
    MissingLayer,
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no SessionLayer wraps this route")
    }
}

impl StdError for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        json_error(StatusCode::INTERNAL_SERVER_ERROR, "session_layer_missing")
    }
}

/// Why the [`Authenticated`](crate::Authenticated) extractor refused a request.
///
/// Both 401s carry the same `WWW-Authenticate` challenge rules, whether the client sent no
/// credential, an invalid one or one whose session expired:
///
/// | credential sent | `WWW-Authenticate` |
/// |---|---|
/// | `Authorization: Bearer`, session expired | `Bearer error="invalid_token", error_description="the session has expired"` |
/// | `Authorization: Bearer`, otherwise (a JWT access token included: refused, or naming no live session) | `Bearer error="invalid_token"` |
/// | a session cookie (valid or not), or nothing | `Bearer` |
/// | any, with [`bearer(false)`](crate::SessionLayer::bearer) | none (a cookie-only app invites no bearer tokens) |
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No valid session, or an anonymous one: 401 `{"error":"unauthenticated"}`.
    Unauthenticated {
        /// How the client sent its credential, which decides the `WWW-Authenticate` header.
        presented: Presented,
        /// Whether the layer accepts bearer tokens: only then is a client that sent no bearer
        /// token challenged with `WWW-Authenticate: Bearer`.
        bearer_accepted: bool,
    },
    /// The session passed its idle or absolute deadline: 401 `{"error":"session_expired"}`.
    SessionExpired {
        /// How the client sent its credential.
        presented: Presented,
        /// Whether the layer accepts bearer tokens.
        bearer_accepted: bool,
    },
    /// The session could not be read.
    Session(SessionError),
    /// No [`SessionLayer`](crate::SessionLayer) wraps this route.
    MissingLayer,
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated { .. } => f.write_str("not signed in"),
            Self::SessionExpired { .. } => f.write_str("session expired"),
            Self::Session(err) => err.fmt(f),
            Self::MissingLayer => SessionRejection::MissingLayer.fmt(f),
        }
    }
}

impl StdError for AuthRejection {}

impl From<SessionError> for AuthRejection {
    fn from(err: SessionError) -> Self {
        Self::Session(err)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let (code, presented, bearer_accepted) = match self {
            Self::Unauthenticated {
                presented,
                bearer_accepted,
            } => ("unauthenticated", presented, bearer_accepted),
            Self::SessionExpired {
                presented,
                bearer_accepted,
            } => ("session_expired", presented, bearer_accepted),
            Self::Session(err) => return err.into_response(),
            Self::MissingLayer => return SessionRejection::MissingLayer.into_response(),
        };
        let mut response = json_error(StatusCode::UNAUTHORIZED, code);
        // RFC 7235 §3.1: a 401 names the scheme that would be accepted. RFC 6750 §3: a bearer
        // client is also told why its token failed; any other request (no credential, or a
        // missing, invalid or expired cookie) sent no bearer token, so it gets the bare
        // challenge with no error code (§3.1). A cookie is no HTTP authentication scheme, so
        // the challenge is the same with or without one; `Bearer` never makes a browser show
        // a login prompt (only Basic, Digest and the like do).
        let challenge = match (presented, code) {
            (Presented::Bearer, "session_expired") => {
                Some(r#"Bearer error="invalid_token", error_description="the session has expired""#)
            }
            (Presented::Bearer, _) => Some(r#"Bearer error="invalid_token""#),
            // A cookie-only app does not invite bearer tokens it would ignore.
            (Presented::Nothing | Presented::Cookie, _) if bearer_accepted => Some("Bearer"),
            (Presented::Nothing | Presented::Cookie, _) => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A response with `status` and the body `{"error": code}`.
pub(crate) fn json_error(status: StatusCode, code: &'static str) -> Response {
    let body = format!(r#"{{"error":"{code}"}}"#);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
