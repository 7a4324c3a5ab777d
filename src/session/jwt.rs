//! A session named by a JWT access token (feature `jwt`): verifying the token, reading its
//! session by id (on every use in the stateful mode, only for its record in the stateless
//! one), denying the sessions this instance ends, and issuing tokens for a signed-in session.

use std::time::SystemTime;

use super::audit::Expiry;
use super::load::expiry;
use super::Session;
use crate::error::{SessionError, StoreError};
use crate::store::{Ended, SessionRecord};
use crate::token::{IssuedToken, SessionId, TokenHash, Verdict};

/// Who and which session a verified stateless JWT names, from its claims alone.
pub(super) struct Vouched {
    pub(super) user: String,
    pub(super) id: SessionId,
}

/// What a presented JWT's verification decided.
// Returned once and taken apart at once: boxing the record would cost every request an
// allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Judged {
    /// Refused (and audited): no session.
    Refused,
    /// Stateless and not denied: the claims are the identity.
    Vouched(Vouched),
    /// Valid, and its session (`sub`, `sid`) read from the store: the stateful mode, or a
    /// stateless one whose denylist overflowed.
    Read(SidRead),
}

/// The session a valid JWT's `sid` names, as read so far.
pub(super) enum SidRead {
    /// No usable session (audited).
    Refused,
    /// The session, alive.
    Active(TokenHash, SessionRecord),
    /// Past a deadline: to be ended and reported.
    Expired(TokenHash, Ended, Option<Expiry>),
    /// To be read from a store that answers only asynchronously.
    Later {
        user: String,
        id: SessionId,
        now: SystemTime,
    },
    /// The store failed.
    Failed(StoreError),
}

impl Session {
    /// Verifies a presented JWT at `now`; in the stateless mode asks the denylist about its
    /// session, in the stateful one reads the session (from a store that answers at once,
    /// without copying a claim). A refusal is audited as `invalid_token` with its reason
    /// (`revoked` for a session this instance ended).
    pub(super) fn judge_jwt(&self, jwt: &[u8], now: SystemTime) -> Judged {
        let Some(tokens) = &self.inner.shared.config.access_tokens else {
            // Only a layer with access tokens keeps a JWT; the arm is for completeness.
            self.audit_invalid_token("malformed");
            return Judged::Refused;
        };
        let verified = &self.inner.shared.config.verified_tokens;
        let judged = tokens.verify_with(verified, jwt, now, |sub, sid| {
            match tokens.verdict(&sid, now) {
                Verdict::Allowed => Judged::Vouched(Vouched {
                    user: sub.to_owned(),
                    id: sid,
                }),
                Verdict::Denied => {
                    self.audit_invalid_token("revoked");
                    Judged::Refused
                }
                Verdict::AskStore => Judged::Read(self.read_sid_now(sub, sid, now)),
            }
        });
        judged.unwrap_or_else(|refused| {
            self.audit_invalid_token(refused.reason());
            Judged::Refused
        })
    }

    /// Reads the session `id` a valid JWT of `user` names from a store that answers at once
    /// (the memory store), and judges it; other stores are read later.
    pub(super) fn read_sid_now(&self, user: &str, id: SessionId, now: SystemTime) -> SidRead {
        match self.inner.shared.store.load_by_id_now(&id) {
            None => SidRead::Later {
                user: user.to_owned(),
                id,
                now,
            },
            Some(Err(err)) => SidRead::Failed(err),
            Some(Ok(found)) => self.judge_found(user, found, now),
        }
    }

    /// Judges what the store found under the session id a valid JWT of `user` names: refused
    /// (with an `invalid_token` audit event) when unknown or ended, or when the session is not
    /// the token's `sub`'s; an expired one is to be ended, as an opaque token's would be.
    pub(super) fn judge_found(
        &self,
        user: &str,
        found: Option<(TokenHash, SessionRecord)>,
        now: SystemTime,
    ) -> SidRead {
        let Some((key, record)) = found else {
            self.audit_invalid_token("unknown");
            return SidRead::Refused;
        };
        // Checked before anything else is done with the session: a token that is not the
        // session's own changes nothing.
        if record.user.as_deref() != Some(user) {
            self.audit_invalid_token("wrong_subject");
            return SidRead::Refused;
        }
        if !record.is_active(now) {
            let ended = expiry(&record, now);
            let reported = self.expiry(&record, &ended);
            return SidRead::Expired(key, ended, reported);
        }
        SidRead::Active(key, record)
    }

    /// Ends the expired session a JWT named (see [`judge_found`](Self::judge_found)) and
    /// refuses the token.
    pub(super) async fn end_by_sid(
        &self,
        key: TokenHash,
        ended: Ended,
        reported: Option<Expiry>,
    ) -> Result<(), SessionError> {
        self.end_expired(&key, ended, reported).await?;
        self.audit_invalid_token("expired");
        Ok(())
    }

    /// Refuses every access token of session `id` on this instance until they have expired,
    /// in the stateless mode (see [`AccessTokens::stateless`](crate::token::AccessTokens::stateless)):
    /// for every call that ends a session.
    pub(super) fn deny(&self, id: SessionId) {
        if let Some(tokens) = &self.inner.shared.config.access_tokens {
            tokens.deny_session(id, SystemTime::now());
        }
    }

    /// [Denies](Self::deny) the session a logout ends (`id`, when it was still stored) and
    /// the one the request's stateless access token names, which may have ended meanwhile
    /// elsewhere: after a logout here, the token is refused here.
    pub(super) fn deny_ended(&self, id: Option<SessionId>) {
        let vouched = self.state().vouched.as_ref().map(|vouched| vouched.id);
        for id in id.into_iter().chain(vouched.filter(|v| Some(*v) != id)) {
            self.deny(id);
        }
    }

    /// Whether ended sessions are to be [denied](Self::deny), and so must be named.
    pub(super) fn denies(&self) -> bool {
        self.inner
            .shared
            .config
            .access_tokens
            .as_ref()
            .is_some_and(|tokens| tokens.is_stateless())
    }

    /// Issues a JWT access token for this signed-in session (feature `jwt`), with the layer's
    /// [`AccessTokens`](crate::token::AccessTokens): `sub` is the user, `sid` the session's
    /// public id. The client sends it as `Authorization: Bearer`; it stays valid until it
    /// expires or the session ends, whichever comes first: in the stateful mode a logout or a
    /// revocation ends it at once everywhere (see
    /// [`SessionLayer::access_tokens`](crate::SessionLayer::access_tokens)), in the
    /// [stateless](crate::token::AccessTokens::stateless) one at once on the instance that
    /// ended the session and at the latest when it expires on the others.
    ///
    /// The session is read from the store and checked first, in both modes, even when the
    /// request presented an access token: a token of an ended session never buys a new one.
    ///
    /// # Errors
    /// [`SessionError::AccessToken`] with [`AccessTokenError::NotSignedIn`] for an anonymous
    /// session or none, [`AccessTokenError::NotConfigured`] when the layer has no
    /// `AccessTokens`, [`AccessTokenError::Issue`] when the token cannot be made;
    /// [`SessionError::Store`] when the session cannot be loaded.
    ///
    /// [`AccessTokenError::NotSignedIn`]: crate::AccessTokenError::NotSignedIn
    /// [`AccessTokenError::NotConfigured`]: crate::AccessTokenError::NotConfigured
    /// [`AccessTokenError::Issue`]: crate::AccessTokenError::Issue
    pub async fn issue_access_token(&self) -> Result<IssuedToken, SessionError> {
        use crate::error::AccessTokenError;
        let Some(tokens) = &self.inner.shared.config.access_tokens else {
            return Err(SessionError::AccessToken(AccessTokenError::NotConfigured));
        };
        let Ok((user, id)) = self.signed_in().await? else {
            return Err(SessionError::AccessToken(AccessTokenError::NotSignedIn));
        };
        tokens
            .issue(&user, id, SystemTime::now())
            .map_err(|err| SessionError::AccessToken(AccessTokenError::Issue(err)))
    }
}
