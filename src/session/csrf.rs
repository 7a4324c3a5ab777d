//! What the CSRF token fallback binds its secret to: the session's current token.

use super::Session;
use crate::error::SessionError;
use crate::token::{SessionToken, TokenHash};

impl Session {
    /// The stored hash of the token the client holds once this request is answered: a token
    /// issued during the request (a new session, a login, a rotation) or else the presented
    /// one. `None` without a live session; with `start`, an anonymous session is started
    /// instead, as [`insert`](Self::insert) would.
    ///
    /// The CSRF secret is derived from it ([`crate::csrf`]), so it needs no store write and
    /// changes whenever the token does.
    pub(crate) async fn csrf_basis(&self, start: bool) -> Result<Option<TokenHash>, SessionError> {
        let mut state = self.loaded().await?;
        if start {
            self.start_if_none(&mut state)?;
            state.keep_empty = true;
        }
        if state.record.is_none() {
            return Ok(None);
        }
        Ok(state
            .new_token
            .as_ref()
            .map(SessionToken::hash)
            .or(state.key))
    }
}
