//! A session cookie holding a signed JWT (feature `jwt`, with
//! [`SessionLayer::jwt_cookies`](crate::SessionLayer::jwt_cookies)): opening a presented one,
//! and making the one a response sets.

use std::time::{Duration, SystemTime};

use super::jwt::Vouched;
use super::{CookieAction, Session};
use crate::token::Presented;
use crate::token::{SessionId, SessionToken, Verdict};

/// What a presented cookie JWT leads to.
pub(super) enum OpenedCookie {
    /// Refused (and audited): no session.
    Refused,
    /// Stateless, signed in, well within its `exp` and not denied: the claims are the
    /// identity, with no store read.
    Vouched(Vouched),
    /// The session is read by this opaque token, as for an opaque cookie; `true` when the
    /// response is to carry a re-issued cookie (the stateless mode's JWT is in its second half,
    /// or past it).
    Token(SessionToken, bool),
}

/// Who the cookie JWT a response sets is for.
pub(super) struct CookieSubject {
    pub(super) user: Option<String>,
    pub(super) id: SessionId,
    /// The session's absolute deadline.
    pub(super) expires_at: SystemTime,
}

impl Session {
    /// Whether a JWT presented as a bearer token is a session cookie's (by its header's
    /// `typ`, read unverified: it only picks which verification the token then gets).
    pub(super) fn is_cookie_jwt(&self, jwt: &[u8]) -> bool {
        let config = &self.inner.shared.config;
        config.jwt_cookies() && crate::token::has_cookie_type(jwt)
    }

    /// Verifies a presented cookie JWT at `now` and decides how the session is found; a
    /// refusal is audited as `invalid_token` with its reason (`revoked` for a session this
    /// instance ended, in the stateless mode). `record_needed`: the caller reads the record
    /// anyway, so vouching would only add a second read.
    pub(super) fn open_cookie_jwt(
        &self,
        jwt: &[u8],
        now: SystemTime,
        record_needed: bool,
    ) -> OpenedCookie {
        let Some(tokens) = &self.inner.shared.config.access_tokens else {
            // Only a layer with access tokens keeps a cookie JWT; the arm is for completeness.
            self.audit_invalid_token("malformed");
            return OpenedCookie::Refused;
        };
        let claims = match tokens.verify_cookie(jwt, now) {
            Ok(claims) => claims,
            Err(refused) => {
                self.audit_invalid_token(refused.reason());
                return OpenedCookie::Refused;
            }
        };
        if !tokens.is_stateless() {
            return OpenedCookie::Token(claims.token, false);
        }
        let verdict = tokens.verdict(&claims.id, now);
        if verdict == Verdict::Denied {
            self.audit_invalid_token("revoked");
            return OpenedCookie::Refused;
        }
        // A bearer client gets no cookie, so nothing to re-issue: it reads the store instead.
        let fresh =
            tokens.cookie_is_fresh(&claims, now) && self.inner.presented == Presented::Cookie;
        match claims.user {
            Some(user) if fresh && verdict == Verdict::Allowed && !record_needed => {
                OpenedCookie::Vouched(Vouched {
                    user,
                    id: claims.id,
                })
            }
            _ => OpenedCookie::Token(claims.token, !fresh),
        }
    }

    /// The cookie action setting `token` for `subject`: a JWT trusted until the absolute
    /// deadline (stateful) or for one access token lifetime within it (stateless). Should
    /// signing fail, the opaque token is set instead, which the layer accepts as well.
    pub(super) fn jwt_cookie(
        &self,
        token: SessionToken,
        subject: &CookieSubject,
        now: SystemTime,
        max_age: Option<Duration>,
    ) -> CookieAction {
        let Some(tokens) = &self.inner.shared.config.access_tokens else {
            return CookieAction::Set(token, max_age);
        };
        let until = tokens.cookie_until(subject.expires_at, now);
        match tokens.issue_cookie(subject.user.as_deref(), subject.id, &token, until, now) {
            Ok(jwt) => CookieAction::SetJwt(jwt, max_age),
            Err(err) => {
                tracing::warn!(error = %err, "session cookie JWT not issued; the opaque token is set");
                CookieAction::Set(token, max_age)
            }
        }
    }
}
