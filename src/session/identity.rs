//! Changes of a session's identity: login (a new token, the user set, caps admitted), rotation
//! (a new token only) and logout (the session ended).

use std::time::SystemTime;

use super::{Moved, Session};
use crate::audit::AuditKind;
use crate::config;
use crate::error::SessionError;
use crate::store::{Admission, EndReason, EndTarget, Ended, SessionPatch, SessionRecord};
use crate::timeout_policy::Login;
use crate::token::{generate_id, generate_token, SessionToken, TokenHash};

impl Session {
    /// Signs a user in: issues a new token (the old one is dead at once: no session fixation),
    /// carries the session's data over, restarts the absolute lifetime and adds the session to
    /// the user's index. Without a current session, one is created.
    ///
    /// Takes a user name (`session.login("alice")`) or a [`Login`] with roles and a "remember
    /// me" choice, from which the layer's [`TimeoutPolicy`](crate::TimeoutPolicy) picks the
    /// session's timeouts.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails (nothing changed then),
    /// [`SessionError::Randomness`] when a token cannot be drawn.
    pub async fn login(&self, login: impl Into<Login>) -> Result<(), SessionError> {
        let login = login.into();
        let _op = self.exclusive().await;
        let had_terms = self
            .loaded()
            .await?
            .record
            .as_ref()
            .is_some_and(|r| r.terms.is_some());
        let now = SystemTime::now();
        let (timeouts, terms) = self.inner.shared.config.choose_timeouts(&login, had_terms);
        let (expires_at, idle_expires_at) = config::deadlines(now, &timeouts);
        let user = login.into_user();
        let token = generate_token()?;
        let persisted = {
            let mut state = self.state();
            let patch = state.take_patch();
            state.key.map(|key| (key, patch))
        };
        if let Some((old_key, mut patch)) = persisted {
            patch.user = Some(Some(user.clone()));
            patch.last_seen_at = Some(now);
            patch.idle_expires_at = Some(idle_expires_at);
            patch.expires_at = Some(expires_at);
            patch.terms = terms;
            if let Moved::Done = self
                .move_stored(old_key, &token, patch, Some(&user))
                .await?
            {
                self.audit_current(AuditKind::Login);
                return Ok(());
            }
            // Ended meanwhile (a logout elsewhere): sign in on a fresh session instead, with
            // the data this request sees.
        }
        let new_key = token.hash();
        let mut record = self.new_record(generate_id(), Some(user), now);
        record.expires_at = expires_at;
        record.idle_expires_at = idle_expires_at;
        record.terms = terms;
        record.data = self
            .state()
            .record
            .as_ref()
            .map(|r| r.data.clone())
            .unwrap_or_default();
        let store = &self.inner.shared.store;
        let limits = &self.inner.shared.config.limits;
        if limits.is_set() {
            let admission = Admission::Create {
                key: &new_key,
                record: record.clone(),
            };
            let user = record.user.as_deref().unwrap_or_default();
            self.admitted(user, store.admit(user, admission, limits, now).await?)?;
        } else {
            store.create(&new_key, record.clone()).await?;
        }
        self.audit(
            AuditKind::Login,
            Some(record.id),
            record.user.as_deref(),
            None,
        );
        let mut state = self.state();
        state.record = Some(record);
        state.key = Some(new_key);
        state.patch = SessionPatch::default();
        state.new_token = Some(token);
        state.cleared = false;
        Ok(())
    }

    /// Issues a new token for this session and kills the old one at once, keeping the
    /// session's data, user and deadlines. Does nothing without a stored session.
    ///
    /// # Errors
    /// As [`login`](Self::login).
    pub async fn rotate(&self) -> Result<(), SessionError> {
        let _op = self.exclusive().await;
        let (old_key, patch) = {
            let mut state = self.loaded().await?;
            let Some(key) = state.key else {
                return Ok(());
            };
            (key, state.take_patch())
        };
        let token = generate_token()?;
        match self.move_stored(old_key, &token, patch, None).await? {
            Moved::Done => self.audit_current(AuditKind::Rotated),
            // Ended meanwhile (a logout elsewhere): there is no session any more.
            Moved::Ended(mut state) => state.record = None,
        }
        Ok(())
    }

    /// The store call behind `login` and `rotate`: moves the stored session from `old_key` to
    /// `token`'s hash, applying `patch`, so the old token is dead at once. A login (`user`)
    /// under session limits is admitted by the store in the same step. On an error nothing
    /// changed and the patch is put back.
    async fn move_stored(
        &self,
        old_key: TokenHash,
        token: &SessionToken,
        patch: SessionPatch,
        user: Option<&str>,
    ) -> Result<Moved<'_>, SessionError> {
        let new_key = token.hash();
        let store = &self.inner.shared.store;
        let limits = &self.inner.shared.config.limits;
        let moved = match user {
            Some(user) if limits.is_set() => {
                let admission = Admission::Rotate {
                    old: &old_key,
                    new: &new_key,
                    patch: &patch,
                };
                let now = patch.last_seen_at.unwrap_or_else(SystemTime::now);
                match store.admit(user, admission, limits, now).await {
                    Ok(admission) => self.admitted(user, admission),
                    Err(err) => Err(err.into()),
                }
            }
            _ => store
                .rotate(&old_key, &new_key, &patch)
                .await
                .map_err(SessionError::from),
        };
        let mut state = self.state();
        match moved {
            Ok(true) => {
                // The patch's data changes are already in the record; its user and deadlines
                // (from `login`) are not.
                if let Some(record) = state.record.as_mut() {
                    record.apply(&patch);
                }
                state.key = Some(new_key);
                state.new_token = Some(token.clone());
                state.cleared = false;
                Ok(Moved::Done)
            }
            Ok(false) => {
                state.key = None;
                Ok(Moved::Ended(state))
            }
            Err(err) => {
                state.restore_patch(patch);
                Err(err)
            }
        }
    }

    /// Ends the session: deletes it from the store at once (its token is dead everywhere) and
    /// clears the cookie (`Max-Age=0`). The session is deleted by its public id, so it ends
    /// even if a concurrent request has just rotated it to a new token. A store that retains
    /// ended sessions keeps it instead, marked [`EndReason::LoggedOut`], for admins to list.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails; the session is then still alive.
    pub async fn logout(&self) -> Result<(), SessionError> {
        let _op = self.exclusive().await;
        let ended = {
            let state = self.loaded().await?;
            let user =
                |r: &SessionRecord| r.user.clone().filter(|_| self.audits(AuditKind::Logout));
            state
                .key
                .and(state.record.as_ref().map(|r| (r.id, user(r))))
        };
        // Before the store call: no window in which this instance still takes the session's
        // stateless access tokens (should the call fail, they stay refused here).
        self.deny_ended(ended.as_ref().map(|(id, _)| *id));
        if let Some((id, user)) = ended {
            let ended = Ended::new(SystemTime::now(), EndReason::LoggedOut);
            let store = &self.inner.shared.store;
            if store.end(EndTarget::Id(&id), ended).await? > 0 {
                self.audit(AuditKind::Logout, Some(id), user.as_deref(), None);
            }
        }
        let mut state = self.state();
        state.record = None;
        state.key = None;
        state.patch = SessionPatch::default();
        state.new_token = None;
        state.cleared = true;
        Ok(())
    }
}
