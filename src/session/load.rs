//! Loading a session: at most one store read per request, shared by every clone of the handle.

use std::sync::MutexGuard;
use std::time::SystemTime;

use super::audit::Expiry;
use super::{Session, State};
use crate::error::{Presented, SessionError, StoreError};
use crate::store::{EndTarget, Ended, SessionRecord};
use crate::token::{SessionToken, TokenHash};

/// Where the one store read of a request stands.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Load {
    #[default]
    NotStarted,
    /// A clone of this handle is reading the store; the others wait for it.
    InProgress,
    /// A stateless JWT was verified: its claims say who and which session, and the record
    /// is read only when a call needs it.
    #[cfg(feature = "jwt")]
    Vouched,
    Done,
}

/// What is left to do for a load that a store answering at once could not finish.
enum Pending {
    /// The store answers only asynchronously.
    Unknown,
    /// The record had passed a deadline: it is to be ended (deleted, or marked so) and
    /// reported, with an audit sink.
    Expired(Ended, Option<Expiry>),
    /// The store failed.
    Failed(StoreError),
}

/// A load that needs the store: for a presented opaque token, a JWT, or the record of a
/// vouched-for session.
enum Started {
    Token(SessionToken, TokenHash, SystemTime, Pending),
    #[cfg(feature = "jwt")]
    Jwt(Box<[u8]>, SystemTime),
    #[cfg(feature = "jwt")]
    Vouched(SystemTime),
}

/// Puts the load back where it was (`NotStarted` with its token, or `Vouched`) if the loading
/// future fails or is dropped (a cancelled handler): other clones do not wait forever, and a
/// later call may try again, since nothing was decided about the session.
struct LoadGuard<'a> {
    session: &'a Session,
    token: Option<SessionToken>,
    #[cfg(feature = "jwt")]
    jwt: Option<Box<[u8]>>,
    back_to: Load,
    finished: bool,
}

impl<'a> LoadGuard<'a> {
    /// The load succeeded: records the outcome and returns the locked state.
    fn finish(mut self, found: Option<(TokenHash, SessionRecord)>) -> MutexGuard<'a, State> {
        self.finished = true;
        let mut state = self.session.state();
        state.load = Load::Done;
        if let Some((key, record)) = found {
            state.key = Some(key);
            state.record = Some(record);
        }
        state
    }
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let mut state = self.session.state();
            state.load = self.back_to;
            state.presented = self.token.take();
            #[cfg(feature = "jwt")]
            {
                state.jwt = self.jwt.take();
            }
        }
    }
}

impl Session {
    /// Loads the record on first use, then locks the state.
    pub(super) async fn loaded(&self) -> Result<MutexGuard<'_, State>, SessionError> {
        self.load(true).await
    }

    /// Judges the credential on first use, then locks the state: as
    /// [`loaded`](Self::loaded), except that a stateless JWT is only verified, leaving its
    /// record unread (the state is then `Vouched`).
    pub(super) async fn judged(&self) -> Result<MutexGuard<'_, State>, SessionError> {
        self.load(false).await
    }

    // Only a stateless JWT can be judged without its record.
    #[cfg_attr(not(feature = "jwt"), allow(unused_variables))]
    async fn load(&self, record_needed: bool) -> Result<MutexGuard<'_, State>, SessionError> {
        let started = loop {
            {
                let mut state = self.state();
                match state.load {
                    Load::Done => return Ok(state),
                    #[cfg(feature = "jwt")]
                    Load::Vouched if !record_needed => return Ok(state),
                    #[cfg(feature = "jwt")]
                    Load::Vouched => {
                        state.load = Load::InProgress;
                        break Started::Vouched(state.now.unwrap_or_else(SystemTime::now));
                    }
                    Load::NotStarted => {
                        let now = SystemTime::now();
                        state.now = Some(now);
                        #[cfg(feature = "jwt")]
                        if let Some(jwt) = state.jwt.take() {
                            if !self.is_cookie_jwt(&jwt) {
                                state.load = Load::InProgress;
                                break Started::Jwt(jwt, now);
                            }
                            // A session cookie's JWT sent as a bearer token works as the
                            // cookie's opaque token would.
                            state.by_jwt = false;
                            state.cookie_jwt = Some(jwt);
                        }
                        #[cfg(feature = "jwt")]
                        if let Some(jwt) = state.cookie_jwt.take() {
                            use super::jwt_cookie::OpenedCookie;
                            match self.open_cookie_jwt(&jwt, now, record_needed) {
                                OpenedCookie::Refused => {
                                    state.load = Load::Done;
                                    return Ok(state);
                                }
                                OpenedCookie::Vouched(vouched) => {
                                    state.vouched = Some(vouched);
                                    state.load = Load::Vouched;
                                    return Ok(state);
                                }
                                OpenedCookie::Token(token, reissue) => {
                                    state.reissue = reissue.then(|| token.clone());
                                    state.presented = Some(token);
                                }
                            }
                        }
                        let Some(token) = state.presented.take() else {
                            // No token: nothing to read.
                            state.load = Load::Done;
                            if self.inner.presented != Presented::Nothing {
                                self.audit_invalid_token("malformed");
                            }
                            return Ok(state);
                        };
                        let key = token.hash();
                        // A store that answers at once (the memory store) is read under this
                        // same lock, and its record goes straight into the state.
                        let pending = match self.inner.shared.store.load_now(&key) {
                            None => Pending::Unknown,
                            Some(Ok(None)) => {
                                state.load = Load::Done;
                                self.audit_invalid_token("unknown");
                                return Ok(state);
                            }
                            Some(Ok(Some(record))) if record.is_active(now) => {
                                state.load = Load::Done;
                                state.key = Some(key);
                                state.record = Some(record);
                                return Ok(state);
                            }
                            Some(Ok(Some(record))) => {
                                let ended = expiry(&record, now);
                                Pending::Expired(ended, self.expiry(&record, &ended))
                            }
                            Some(Err(err)) => Pending::Failed(err),
                        };
                        state.load = Load::InProgress;
                        break Started::Token(token, key, now, pending);
                    }
                    Load::InProgress => {}
                }
            }
            // Another clone of this handle is reading the store (handler tasks running in
            // parallel within one request; rare). Let it finish rather than read twice.
            tokio::task::yield_now().await;
        };
        let (token, key, now, pending) = match started {
            Started::Token(token, key, now, pending) => (token, key, now, pending),
            #[cfg(feature = "jwt")]
            Started::Jwt(jwt, now) => return self.loaded_by_jwt(jwt, now, record_needed).await,
            #[cfg(feature = "jwt")]
            Started::Vouched(now) => return self.loaded_vouched(now).await,
        };
        let guard = LoadGuard {
            session: self,
            token: Some(token),
            #[cfg(feature = "jwt")]
            jwt: None,
            back_to: Load::NotStarted,
            finished: false,
        };
        let record = self.read_record(key, now, pending).await?;
        Ok(guard.finish(record))
    }

    /// Reads and validates the record under `key`, unless `pending` already says what a store
    /// that answers at once found: `None` when unknown or expired (an expired one is ended:
    /// deleted, or kept marked with its expiry by a store that retains ended sessions; and the
    /// request is marked so rejections can say "session_expired").
    async fn read_record(
        &self,
        key: TokenHash,
        now: SystemTime,
        pending: Pending,
    ) -> Result<Option<(TokenHash, SessionRecord)>, SessionError> {
        let store = &*self.inner.shared.store;
        let (ended, reported) = match pending {
            Pending::Failed(err) => return Err(err.into()),
            Pending::Expired(ended, reported) => (ended, reported),
            // Unknown token: never adopted. A new session, if any, gets a fresh token. The
            // expired record is dropped here, not held across the delete: the future of every
            // handler that reads its session stays a record's size smaller.
            Pending::Unknown => match store.load(&key).await? {
                None => {
                    self.audit_invalid_token("unknown");
                    return Ok(None);
                }
                Some(record) if record.is_active(now) => return Ok(Some((key, record))),
                Some(record) => {
                    let ended = expiry(&record, now);
                    (ended, self.expiry(&record, &ended))
                }
            },
        };
        self.end_expired(&key, ended, reported).await?;
        Ok(None)
    }

    /// Ends the expired session under `key` (deleted, or kept marked by a store that retains
    /// ended sessions), reports it, and marks the request so rejections can say
    /// "session_expired": for an opaque token and a JWT alike.
    pub(super) async fn end_expired(
        &self,
        key: &TokenHash,
        ended: Ended,
        reported: Option<Expiry>,
    ) -> Result<(), SessionError> {
        // Only the request that ended it reports it: concurrent ones found it expired too.
        if self
            .inner
            .shared
            .store
            .end(EndTarget::Key(key), ended)
            .await?
            > 0
        {
            self.audit_expiry(reported);
        }
        self.state().expired = true;
        Ok(())
    }
}

#[cfg(feature = "jwt")]
impl Session {
    /// [`load`](Self::load) for a presented JWT, with the load marked in progress: verifies
    /// it, then reads its session by id, unless a stateless token is enough for a call that
    /// needs no record.
    async fn loaded_by_jwt(
        &self,
        jwt: Box<[u8]>,
        now: SystemTime,
        record_needed: bool,
    ) -> Result<MutexGuard<'_, State>, SessionError> {
        use super::jwt::Judged;

        let mut guard = LoadGuard {
            session: self,
            token: None,
            jwt: Some(jwt),
            back_to: Load::NotStarted,
            finished: false,
        };
        let jwt = guard.jwt.as_deref().unwrap_or_default();
        let found = match self.judge_jwt(jwt, now) {
            Judged::Refused => None,
            Judged::Vouched(vouched) if !record_needed => {
                guard.finished = true;
                let mut state = self.state();
                state.vouched = Some(vouched);
                state.load = Load::Vouched;
                return Ok(state);
            }
            Judged::Vouched(vouched) => {
                let (user, id) = (vouched.user.clone(), vouched.id);
                self.state().vouched = Some(vouched);
                self.read_by_sid(&user, id, now).await?
            }
            Judged::AskStore(user, id) => self.read_by_sid(&user, id, now).await?,
        };
        guard.jwt = None;
        Ok(guard.finish(found))
    }

    /// [`load`](Self::load) for the record of a session a stateless JWT vouched for, with the
    /// load marked in progress.
    async fn loaded_vouched(&self, now: SystemTime) -> Result<MutexGuard<'_, State>, SessionError> {
        let guard = LoadGuard {
            session: self,
            token: None,
            jwt: None,
            back_to: Load::Vouched,
            finished: false,
        };
        let vouched = self
            .state()
            .vouched
            .as_ref()
            .map(|vouched| (vouched.user.clone(), vouched.id));
        let found = match vouched {
            Some((user, id)) => self.read_by_sid(&user, id, now).await?,
            // Vouched always comes with its identity; no session is the safe reading.
            None => None,
        };
        Ok(guard.finish(found))
    }
}

/// Why and when an inactive record stopped: its expiry (a store's `load` never returns a
/// session that was ended otherwise).
pub(super) fn expiry(record: &SessionRecord, now: SystemTime) -> Ended {
    record.end(now).unwrap_or_else(|| {
        // Unreachable for an inactive record; an absolute expiry is the safe reading.
        Ended::new(now, crate::store::EndReason::ExpiredAbsolute)
    })
}
