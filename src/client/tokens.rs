//! The token pair a bearer client holds, and when its access token expires.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderValue;
use serde::Deserialize;

use super::TokenResponseError;

/// A JWT payload longer than this is not decoded: no real one is, and it bounds the work.
const MAX_PAYLOAD: usize = 8 * 1024;

/// An access token and the refresh token that renews it.
///
/// The access token's expiry is read from its `exp` claim when it is a JWT (the payload is
/// decoded, the signature is not checked: the server does that), otherwise from the answer's
/// `expires_in`. `Debug` never shows the tokens.
#[derive(Clone)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    authorization: HeaderValue,
    expires_at: Option<SystemTime>,
    received_at: SystemTime,
}

impl TokenPair {
    /// A pair received now; `expires_in` counts only when the access token carries no `exp`.
    ///
    /// Fails with [`TokenResponseError::InvalidToken`] if a token is empty or the access token
    /// cannot be sent in an `Authorization` header.
    pub fn new(
        access_token: impl Into<String>,
        refresh_token: impl Into<String>,
        expires_in: Option<Duration>,
    ) -> Result<Self, TokenResponseError> {
        let (access_token, refresh_token) = (access_token.into(), refresh_token.into());
        if access_token.is_empty() || refresh_token.is_empty() {
            return Err(TokenResponseError::InvalidToken);
        }
        let mut authorization = HeaderValue::try_from(format!("Bearer {access_token}"))
            .map_err(|_| TokenResponseError::InvalidToken)?;
        authorization.set_sensitive(true);
        let received_at = SystemTime::now();
        let expires_at = jwt_exp(&access_token)
            .or_else(|| expires_in.and_then(|lifetime| received_at.checked_add(lifetime)));
        Ok(Self {
            access_token,
            refresh_token,
            authorization,
            expires_at,
            received_at,
        })
    }

    /// Parses a token endpoint's JSON answer.
    pub(crate) fn from_json(body: &[u8]) -> Result<Self, TokenResponseError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            refresh_token: String,
            token_type: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: Answer = serde_json::from_slice(body).map_err(TokenResponseError::Json)?;
        if answer
            .token_type
            .is_some_and(|kind| !kind.eq_ignore_ascii_case("bearer"))
        {
            return Err(TokenResponseError::InvalidToken);
        }
        Self::new(
            answer.access_token,
            answer.refresh_token,
            answer.expires_in.map(Duration::from_secs),
        )
    }

    /// The access token, sent as `Authorization: Bearer <access token>`.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token, sent only to the refresh endpoint.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// When the access token expires, if the token or the answer said.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    pub(crate) fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }

    /// How long the access token was valid for when it arrived.
    pub(crate) fn lifetime(&self) -> Option<Duration> {
        self.expires_at?.duration_since(self.received_at).ok()
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The `exp` claim of a JWT (`header.payload.signature`), without checking the signature.
fn jwt_exp(token: &str) -> Option<SystemTime> {
    #[derive(Deserialize)]
    struct Claims {
        exp: Option<f64>, // a NumericDate may have a fraction
    }
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > MAX_PAYLOAD {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let exp = serde_json::from_slice::<Claims>(&json).ok()?.exp?;
    UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(exp).ok()?)
}
