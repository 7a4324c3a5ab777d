//! The token fallback's secret and its masked form tokens.
//!
//! The secret is not stored: it is SHA-256 of a label and the session's stored token hash.
//! Only the holder of the session cookie (which is `HttpOnly`) and the store know that hash,
//! so another site can neither read nor guess it, and it changes with the token, at every
//! login and rotation, which also ends any token a page showed before (as OWASP asks). A
//! store reader could derive it, but could as well read a secret kept in the session data.
//!
//! A form token is `base64url(pad ‖ pad ⊕ secret)` with a fresh random pad: a different text
//! on every render, so a page compressed with attacker-chosen text beside it (BREACH) leaks
//! nothing about the secret.

use std::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::request::Parts;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{SessionError, SessionRejection, StoreError};
use crate::token::TokenHash;
use crate::Session;

/// Bytes of the secret, and of the pad that masks it.
const SECRET_BYTES: usize = 32;
/// Characters of a form token: 64 bytes in unpadded base64url.
const TOKEN_TEXT_LEN: usize = 86;

/// The per-session secret, derived from the session's stored token hash.
fn secret(basis: &TokenHash) -> [u8; SECRET_BYTES] {
    let mut hasher = Sha256::new();
    hasher.update(b"sessionward csrf secret v1\0");
    hasher.update(basis.0);
    hasher.finalize().into()
}

/// A fresh masked text of `secret`.
fn mask(secret: &[u8; SECRET_BYTES]) -> String {
    use rand::Rng as _;
    let mut bytes = [0u8; 2 * SECRET_BYTES];
    let (pad, masked) = bytes.split_at_mut(SECRET_BYTES);
    rand::rng().fill_bytes(pad);
    for ((m, p), s) in masked.iter_mut().zip(pad.iter()).zip(secret) {
        *m = p ^ s;
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `text` is a masked form of `secret`, compared in constant time. Anything that is
/// not a token's length or alphabet is simply no match.
fn unmasks_to(text: &[u8], secret: &[u8; SECRET_BYTES]) -> bool {
    if text.len() != TOKEN_TEXT_LEN {
        return false;
    }
    let mut bytes = [0u8; 2 * SECRET_BYTES];
    if URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) != Ok(2 * SECRET_BYTES) {
        return false;
    }
    let (pad, masked) = bytes.split_at(SECRET_BYTES);
    let mut unmasked = [0u8; SECRET_BYTES];
    for ((u, p), m) in unmasked.iter_mut().zip(pad).zip(masked) {
        *u = p ^ m;
    }
    bool::from(unmasked.ct_eq(secret))
}

/// Why a request's token was refused, as the audit event's reason.
pub(super) enum Mismatch {
    /// The request carries no token.
    Missing,
    /// The request has no live session to hold a secret.
    NoSession,
    /// The token is not this session's.
    WrongToken,
}

impl Mismatch {
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "token_missing",
            Self::NoSession => "no_session",
            Self::WrongToken => "token_mismatch",
        }
    }
}

/// Checks `presented` against the session's secret.
pub(super) async fn check(session: &Session, presented: &[u8]) -> Result<(), CheckError> {
    let basis = session
        .csrf_basis(false)
        .await?
        .ok_or(Mismatch::NoSession)?;
    if unmasks_to(presented, &secret(&basis)) {
        Ok(())
    } else {
        Err(Mismatch::WrongToken.into())
    }
}

/// A failed [`check`]: a token that does not match, or a store that did not answer.
pub(super) enum CheckError {
    Mismatch(Mismatch),
    Session(SessionError),
}

impl From<Mismatch> for CheckError {
    fn from(mismatch: Mismatch) -> Self {
        Self::Mismatch(mismatch)
    }
}

impl From<SessionError> for CheckError {
    fn from(err: SessionError) -> Self {
        Self::Session(err)
    }
}

/// Whether `token` (from a form field or header) belongs to `session`, for a handler that
/// checks it itself, such as one reading a `multipart/form-data` body, which
/// [`CsrfTokenLayer`](super::CsrfTokenLayer) does not parse. Compared in constant time.
///
/// # Errors
/// [`SessionError::Store`] when the session cannot be loaded.
pub async fn verify_token(session: &Session, token: &str) -> Result<bool, SessionError> {
    match check(session, token.as_bytes()).await {
        Ok(()) => Ok(true),
        Err(CheckError::Mismatch(_)) => Ok(false),
        Err(CheckError::Session(err)) => Err(err),
    }
}

/// A masked CSRF token for the current session, to put in a form as a hidden
/// [`csrf_token`](Self::FORM_FIELD) field or to send as an
/// [`X-CSRF-Token`](Self::HEADER) header; [`CsrfTokenLayer`](super::CsrfTokenLayer) checks
/// it on the unsafe request that follows.
///
/// The text differs on every extraction (a fresh mask), and every text of one session is
/// valid until its token changes (at login or rotation: render the form again then).
/// Extracting it without a session starts an anonymous one, so a login form can carry a token
/// too; the session is stored, and its cookie set, when the response goes out.
///
/// ```
/// use sessionward::csrf::CsrfToken;
///
/// async fn form(token: CsrfToken) -> axum::response::Html<String> {
///     axum::response::Html(format!(
///         r#"<form method="post" action="/profile">{}<input name="bio"><button>Save</button></form>"#,
///         token.hidden_input()
///     ))
/// }
/// ```
#[derive(Clone)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The form field the layer reads in a `application/x-www-form-urlencoded` body.
    pub const FORM_FIELD: &'static str = "csrf_token";
    /// The request header the layer reads first (for `fetch` calls and any other body).
    pub const HEADER: &'static str = "x-csrf-token";

    /// A new token for `session`'s secret, starting an anonymous session when there is none.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the session cannot be loaded,
    /// [`SessionError::Randomness`] when a new session's token cannot be drawn.
    pub async fn for_session(session: &Session) -> Result<Self, SessionError> {
        match session.csrf_basis(true).await? {
            Some(basis) => Ok(Self(mask(&secret(&basis)))),
            // Starting leaves a session with a token: none would be a bug, answered as a
            // broken store would be rather than with a token that can never match.
            None => Err(SessionError::Store(StoreError::Corrupt(
                "a session with no token".to_owned(),
            ))),
        }
    }

    /// The token's text: 86 URL-safe characters (no escaping needed in HTML or a header).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<input type="hidden" name="csrf_token" value="…">`, for a form.
    pub fn hidden_input(&self) -> String {
        format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            Self::FORM_FIELD,
            self.0
        )
    }
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shows no token text, as a secret's derivative should never reach a log.
impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = CsrfTokenRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(CsrfTokenRejection::MissingLayer)?;
        CsrfToken::for_session(&session)
            .await
            .map_err(CsrfTokenRejection::Session)
    }
}

/// Why the [`CsrfToken`] extractor failed; it answers as the error inside does.
#[derive(Debug)]
pub enum CsrfTokenRejection {
    /// No [`SessionLayer`](crate::SessionLayer) wraps the route: 500.
    MissingLayer(SessionRejection),
    /// The session could not be loaded or started (the store failed: 503 or 500).
    Session(SessionError),
}

impl fmt::Display for CsrfTokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingLayer(err) => err.fmt(f),
            Self::Session(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for CsrfTokenRejection {}

impl IntoResponse for CsrfTokenRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingLayer(err) => err.into_response(),
            Self::Session(err) => err.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_differ_and_all_unmask_to_their_secret_only() {
        let secret = secret(&TokenHash([7; 32]));
        let other = self::secret(&TokenHash([8; 32]));
        let (a, b) = (mask(&secret), mask(&secret));
        assert_ne!(a, b, "a fresh pad on every render");
        assert_eq!(a.len(), TOKEN_TEXT_LEN);
        assert!(unmasks_to(a.as_bytes(), &secret) && unmasks_to(b.as_bytes(), &secret));
        assert!(!unmasks_to(a.as_bytes(), &other));
        let mut flipped = a.clone().into_bytes();
        flipped[50] = if flipped[50] == b'A' { b'B' } else { b'A' };
        assert!(!unmasks_to(&flipped, &secret));
        for junk in [
            &b""[..],
            b"short",
            &[b'!'; TOKEN_TEXT_LEN],
            &a.as_bytes()[1..],
        ] {
            assert!(!unmasks_to(junk, &secret));
        }
    }
}
