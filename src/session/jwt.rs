//! A session named by a JWT access token (feature `jwt`): verifying the token and reading its
//! session by id, and issuing tokens for a signed-in session.

use std::time::SystemTime;

use super::load::expiry;
use super::Session;
use crate::error::SessionError;
use crate::store::SessionRecord;
use crate::token::{IssuedToken, TokenHash};

impl Session {
    /// Verifies a presented JWT at `now` and reads the session its `sid` names: `None` (with
    /// an `invalid_token` audit event) for a refused token, an unknown or ended session, one
    /// whose user is not the token's `sub`, or an expired one (which is ended, as an opaque
    /// token's would be).
    pub(super) async fn read_by_jwt(
        &self,
        jwt: &[u8],
        now: SystemTime,
    ) -> Result<Option<(TokenHash, SessionRecord)>, SessionError> {
        let shared = &self.inner.shared;
        let Some(tokens) = &shared.config.access_tokens else {
            // Only a layer with access tokens keeps a JWT; the arm is for completeness.
            self.audit_invalid_token("malformed");
            return Ok(None);
        };
        let claims = match tokens.verify(jwt, now) {
            Ok(claims) => claims,
            Err(refused) => {
                self.audit_invalid_token(refused.reason());
                return Ok(None);
            }
        };
        let Some((key, record)) = shared.store.load_by_id(&claims.sid).await? else {
            self.audit_invalid_token("unknown");
            return Ok(None);
        };
        // Checked before anything else is done with the session: a token that is not the
        // session's own changes nothing.
        if record.user.as_deref() != Some(claims.sub.as_str()) {
            self.audit_invalid_token("wrong_subject");
            return Ok(None);
        }
        if !record.is_active(now) {
            let ended = expiry(&record, now);
            self.end_expired(&key, ended, self.expiry(&record, &ended))
                .await?;
            self.audit_invalid_token("expired");
            return Ok(None);
        }
        Ok(Some((key, record)))
    }

    /// Issues a JWT access token for this signed-in session (feature `jwt`), with the layer's
    /// [`AccessTokens`](crate::token::AccessTokens): `sub` is the user, `sid` the session's
    /// public id. The client sends it as `Authorization: Bearer`; it stays valid until it
    /// expires or the session ends, whichever comes first (a logout or a revocation ends it at
    /// once, see [`SessionLayer::access_tokens`](crate::SessionLayer::access_tokens)).
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
