//! The JWT a session cookie holds with [`SessionLayer::jwt_cookies`](crate::SessionLayer::jwt_cookies):
//! the session's opaque token, signed with the layer's key ring together with who and which
//! session it is and until when the claims alone may be trusted.
//!
//! The opaque token inside (claim `tok`) keeps every rule of the opaque cookie: the store
//! looks the session up by its hash, so a login's rotation kills the JWT of the old token
//! (no session fixation) and an ended session's JWT finds nothing. The signature adds that
//! nobody can make such a cookie without the key, and lets the
//! [stateless](super::AccessTokens::stateless) mode trust `sub` and `sid` until `exp`
//! without a store read.

use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::jwt::{from_json, same_media_type, unix_seconds, ClaimTimes, COOKIE_TYPE};
use super::jwt_claims::Audience;
use super::jwt_error::{InvalidToken, IssueError};
use super::{AccessTokens, SessionId, SessionToken};

/// The claims of a session cookie's JWT, as issued.
#[derive(Serialize)]
struct IssuedCookieClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    /// The signed-in user; absent for an anonymous session.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    exp: u64,
    iat: u64,
    nbf: u64,
    sid: SessionId,
    tok: String,
}

/// The claims of a presented cookie JWT, before any check.
#[derive(Deserialize)]
struct PresentedCookieClaims<'a> {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(borrow)]
    aud: Option<Audience<'a>>,
    exp: Option<u64>,
    iat: Option<u64>,
    nbf: Option<u64>,
    sid: Option<String>,
    tok: Option<String>,
}

/// A session cookie's JWT whose signature, type, issuer, audience, `iat` and `nbf` passed.
/// Its `exp` is not checked: it only bounds how long the claims alone are trusted; past it,
/// the store decides, as for an opaque cookie.
#[derive(Debug)]
pub(crate) struct CookieClaims {
    /// The signed-in user, `None` for an anonymous session.
    pub(crate) user: Option<String>,
    pub(crate) id: SessionId,
    /// Until when (seconds since the Unix epoch) the claims may be trusted without the store.
    pub(crate) exp: u64,
    /// The session's opaque token.
    pub(crate) token: SessionToken,
}

impl AccessTokens {
    /// The JWT for a session cookie carrying `token` of session `id` of `user` (`None`:
    /// anonymous), trusted on its own until `until` (the caller keeps it within the
    /// session's absolute deadline).
    pub(crate) fn issue_cookie(
        &self,
        user: Option<&str>,
        id: SessionId,
        token: &SessionToken,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<String, IssueError> {
        let now = unix_seconds(now);
        let claims = IssuedCookieClaims {
            iss: self.issuer.as_deref(),
            sub: user,
            aud: self.audience.as_deref(),
            exp: unix_seconds(until).max(now),
            iat: now,
            nbf: now,
            sid: id,
            tok: token.to_text(),
        };
        self.sign(&claims, COOKIE_TYPE)
    }

    /// Until when a cookie JWT issued at `now` for a session with absolute deadline
    /// `deadline` is trusted on its own: the deadline itself in the stateful mode (where the
    /// store is read anyway), at most one access token lifetime in the stateless one.
    pub(crate) fn cookie_until(&self, deadline: SystemTime, now: SystemTime) -> SystemTime {
        if self.is_stateless() {
            deadline.min(now + self.lifetime)
        } else {
            deadline
        }
    }

    /// Whether a cookie JWT with `claims` still has more than half of an access token
    /// lifetime left before its `exp` at `now`; in its second half it is re-issued.
    pub(crate) fn cookie_is_fresh(&self, claims: &CookieClaims, now: SystemTime) -> bool {
        claims.exp > unix_seconds(now).saturating_add(self.lifetime.as_secs() / 2)
    }

    /// Verifies a session cookie's JWT at `now`: every check of [`verify`](Self::verify)
    /// except `exp` (see [`CookieClaims`]), with the type `session+jwt` required, so an
    /// access token is never taken for a cookie.
    pub(crate) fn verify_cookie(
        &self,
        jwt: &[u8],
        now: SystemTime,
    ) -> Result<CookieClaims, InvalidToken> {
        let payload = self.signed_payload(jwt, |typ| {
            typ.is_some_and(|typ| same_media_type(typ, COOKIE_TYPE))
        })?;
        let claims: PresentedCookieClaims = from_json(&payload)?;
        let exp = claims.exp.ok_or(InvalidToken::MissingClaim("exp"))?;
        let times = ClaimTimes {
            exp: None,
            iat: claims.iat.ok_or(InvalidToken::MissingClaim("iat"))?,
            nbf: claims.nbf.ok_or(InvalidToken::MissingClaim("nbf"))?,
        };
        let aud = Audience::slice(&claims.aud);
        self.check_claims(times, claims.iss.as_deref(), aud, unix_seconds(now))?;
        let sid = claims.sid.ok_or(InvalidToken::MissingClaim("sid"))?;
        let tok = claims.tok.ok_or(InvalidToken::MissingClaim("tok"))?;
        Ok(CookieClaims {
            user: claims.sub,
            id: SessionId::parse(&sid).ok_or(InvalidToken::Malformed)?,
            exp,
            token: SessionToken::parse(tok.as_bytes()).ok_or(InvalidToken::Malformed)?,
        })
    }
}

/// Whether `jwt`'s header (unverified) says `typ: session+jwt`. Decoded on the stack: a
/// header longer than any this crate issues is no cookie's.
pub(crate) fn has_cookie_type(jwt: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Typ<'a> {
        #[serde(borrow)]
        typ: Option<&'a str>,
    }
    let header = jwt.split(|&b| b == b'.').next().unwrap_or_default();
    let mut buf = [0u8; 192];
    let Ok(len) = URL_SAFE_NO_PAD.decode_slice(header, &mut buf) else {
        return false;
    };
    serde_json::from_slice::<Typ<'_>>(&buf[..len])
        .ok()
        .and_then(|header| header.typ)
        .is_some_and(|typ| same_media_type(typ, COOKIE_TYPE))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::token::{generate_token, KeyRing};

    fn tokens() -> AccessTokens {
        AccessTokens::new(KeyRing::from_secret([9u8; 32]).unwrap())
            .issuer("iss")
            .audience("aud")
    }

    #[test]
    fn a_cookie_jwt_carries_the_session_and_is_no_access_token() {
        let tokens = tokens();
        let now = SystemTime::now();
        let token = generate_token().unwrap();
        let id = SessionId([4; 16]);
        let jwt = tokens
            .issue_cookie(
                Some("alice"),
                id,
                &token,
                now + Duration::from_secs(60),
                now,
            )
            .unwrap();
        let claims = tokens.verify_cookie(jwt.as_bytes(), now).unwrap();
        assert_eq!(claims.user.as_deref(), Some("alice"));
        assert_eq!(claims.id, id);
        assert_eq!(claims.token.hash(), token.hash());
        assert_eq!(claims.exp, unix_seconds(now) + 60);
        // Past `exp` the claims still verify: the store decides then.
        let later = now + Duration::from_secs(3600);
        assert!(tokens.verify_cookie(jwt.as_bytes(), later).is_ok());
        assert_eq!(tokens.verify(&jwt, now), Err(InvalidToken::WrongType));

        let access = tokens.issue("alice", id, now).unwrap().token;
        assert!(has_cookie_type(jwt.as_bytes()));
        assert!(!has_cookie_type(access.as_bytes()));
        assert!(!has_cookie_type(b"not a jwt"));
        assert!(!has_cookie_type("e30".repeat(200).as_bytes()));
        assert_eq!(
            tokens.verify_cookie(access.as_bytes(), now).unwrap_err(),
            InvalidToken::WrongType
        );
    }

    #[test]
    fn an_anonymous_cookie_has_no_subject_and_other_settings_refuse_it() {
        let now = SystemTime::now();
        let token = generate_token().unwrap();
        let jwt = tokens()
            .issue_cookie(None, SessionId([1; 16]), &token, now, now)
            .unwrap();
        assert_eq!(
            tokens().verify_cookie(jwt.as_bytes(), now).unwrap().user,
            None
        );
        let other = AccessTokens::new(KeyRing::from_secret([9u8; 32]).unwrap()).issuer("x");
        assert_eq!(
            other.verify_cookie(jwt.as_bytes(), now).unwrap_err(),
            InvalidToken::WrongIssuer
        );
        let other_key = AccessTokens::new(KeyRing::from_secret([8u8; 32]).unwrap());
        assert_eq!(
            other_key.verify_cookie(jwt.as_bytes(), now).unwrap_err(),
            InvalidToken::BadSignature
        );
    }
}
