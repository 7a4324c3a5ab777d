//! What the layer does once the handler has answered: the one store write, and the cookie.

use std::time::SystemTime;

use super::{Load, Session, Written};
use crate::config;
use crate::store::erased::Write;
use crate::token::{Presented, SessionToken};

/// What the layer must do once the handler has answered.
pub(crate) struct Outcome {
    pub(crate) write: Option<Write>,
    pub(crate) cookie: CookieAction,
    /// What the write means for the audit trail, once saved.
    pub(crate) audit: Written,
}

pub(crate) enum CookieAction {
    Keep,
    /// The cookie stays, but the response carries a new token in its body (a bearer client's
    /// `login` or `rotate`): it must not be cached.
    KeepUncached,
    /// Sets the cookie to this token: persistent with this `Max-Age`, or (`None`) until the
    /// browser session ends.
    Set(SessionToken, Option<std::time::Duration>),
    /// As `Set`, with a session cookie's JWT carrying the token.
    #[cfg(feature = "jwt")]
    SetJwt(String, Option<std::time::Duration>),
    Clear,
}

impl Session {
    /// Decides the write and the cookie once the handler has answered. Consumes the pending
    /// changes, so a second call does nothing.
    pub(crate) fn outcome(&self) -> Outcome {
        let mut state = self.state();
        let state = &mut *state;
        let loaded = state.load == Load::Done;
        #[cfg(feature = "jwt")]
        let by_jwt = state.by_jwt;
        #[cfg(not(feature = "jwt"))]
        let by_jwt = false;
        let mut outcome = Outcome {
            write: None,
            cookie: if state.cleared && !by_jwt {
                CookieAction::Clear
            } else {
                CookieAction::Keep
            },
            audit: Written::Nothing,
        };
        if !loaded {
            return outcome;
        }
        let now = state.now.unwrap_or_else(SystemTime::now);
        let Some(record) = state.record.as_mut() else {
            return outcome;
        };
        let config = &self.inner.shared.config;
        // A persistent cookie lives until the absolute deadline, never past it.
        let persistent = record
            .terms
            .map_or(config.cookie.is_persistent(), |t| t.persistent);
        let cookie_max_age =
            persistent.then(|| record.expires_at.duration_since(now).unwrap_or_default());
        // Who a cookie JWT is for, taken before the record may move into the store below; only
        // when a cookie is to be set.
        #[cfg(feature = "jwt")]
        let jwt_subject = (self.inner.shared.config.jwt_cookies()
            && (state.new_token.is_some() || state.reissue.is_some()))
        .then(|| super::jwt_cookie::CookieSubject {
            user: record.user.clone(),
            id: record.id,
            expires_at: record.expires_at,
        });
        match state.key {
            None => {
                // Never store an empty anonymous session (a key inserted and removed again),
                // unless a page already holds a CSRF token for it.
                if record.user.is_none() && record.data.is_empty() && !state.keep_empty {
                    return outcome;
                }
                let Some(token) = state.new_token.as_ref() else {
                    return outcome;
                };
                let key = token.hash();
                // The request is over: the record moves to the store rather than being copied.
                let record = state.record.take().expect("checked above");
                outcome.audit = Written::Created(record.id, record.created_at);
                outcome.write = Some(Write::Create(key, record));
                state.key = Some(key);
            }
            Some(key) => {
                let idle_timeout = record.terms.map_or(config.idle_timeout, |t| t.idle_timeout);
                let renew = now
                    .duration_since(record.last_seen_at)
                    .is_ok_and(|since| since >= config::renewal_interval(idle_timeout));
                if renew {
                    let idle = config::idle_deadline(now, idle_timeout, record.expires_at);
                    state.patch.last_seen_at = Some(now);
                    state.patch.idle_expires_at = Some(idle);
                    record.last_seen_at = now;
                    record.idle_expires_at = idle;
                    outcome.audit = Written::Renewed(record.id);
                }
                if !state.patch.is_empty() {
                    outcome.write = Some(Write::Update(key, std::mem::take(&mut state.patch)));
                }
            }
        }
        if let Some(token) = state.new_token.take() {
            outcome.cookie = if self.inner.presented == Presented::Bearer {
                // A bearer client gets the token from the handler, in the body.
                CookieAction::KeepUncached
            } else {
                CookieAction::Set(token, cookie_max_age)
            };
        }
        #[cfg(feature = "jwt")]
        if let Some(subject) = &jwt_subject {
            // A stateless cookie JWT in its second half is re-issued, while the session still
            // lives under its token and nothing else is done to the cookie.
            let reissue = state.reissue.take().filter(|token| {
                state.key == Some(token.hash()) && matches!(outcome.cookie, CookieAction::Keep)
            });
            outcome.cookie = match (
                std::mem::replace(&mut outcome.cookie, CookieAction::Keep),
                reissue,
            ) {
                (CookieAction::Set(token, max_age), _) => {
                    self.jwt_cookie(token, subject, now, max_age)
                }
                (CookieAction::Keep, Some(token)) => {
                    self.jwt_cookie(token, subject, now, cookie_max_age)
                }
                (other, _) => other,
            };
        }
        outcome
    }
}
