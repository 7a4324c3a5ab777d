//! What a bearer client receives when it signs in or refreshes.

use std::fmt;
use std::time::Duration;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::refresh::RefreshToken;
use super::IssuedToken;

/// A bearer session's token pair: a short-lived JWT access token and the single-use refresh
/// token that obtains the next pair.
///
/// It serializes as the OAuth 2.0 token response (RFC 6749 section 5.1), so a handler can
/// answer with `Json(tokens)`:
/// `{"access_token": "…", "token_type": "Bearer", "expires_in": 300, "refresh_token": "…"}`.
/// Its `Debug` output omits both tokens.
#[derive(Clone)]
#[non_exhaustive]
pub struct BearerTokens {
    /// The access token, to send as `Authorization: Bearer`.
    pub access: IssuedToken,
    /// The refresh token, to present once to the refresh endpoint.
    pub refresh: RefreshToken,
}

impl BearerTokens {
    pub(crate) fn new(access: IssuedToken, refresh: RefreshToken) -> Self {
        Self { access, refresh }
    }

    /// Seconds until the access token expires (its `exp` minus its `iat`).
    pub fn expires_in(&self) -> Duration {
        let claims = &self.access.claims;
        Duration::from_secs(claims.exp.saturating_sub(claims.iat))
    }
}

impl Serialize for BearerTokens {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("BearerTokens", 4)?;
        out.serialize_field("access_token", &self.access.token)?;
        out.serialize_field("token_type", "Bearer")?;
        out.serialize_field("expires_in", &self.expires_in().as_secs())?;
        out.serialize_field("refresh_token", self.refresh.as_str())?;
        out.end()
    }
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("access", &self.access)
            .field("refresh", &self.refresh)
            .finish()
    }
}
