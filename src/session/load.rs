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

/// A load that needs the store: for a presented opaque token, or a JWT.
enum Started {
    Token(SessionToken, TokenHash, SystemTime, Pending),
    #[cfg(feature = "jwt")]
    Jwt(Box<[u8]>, SystemTime),
}

/// Puts the load back to `NotStarted`, with its token, if the loading future fails or is
/// dropped (a cancelled handler): other clones do not wait forever, and a later call may try
/// again, since nothing was decided about the session.
struct LoadGuard<'a> {
    session: &'a Session,
    token: Option<SessionToken>,
    #[cfg(feature = "jwt")]
    jwt: Option<Box<[u8]>>,
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
            state.load = Load::NotStarted;
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
        let started = loop {
            {
                let mut state = self.state();
                match state.load {
                    Load::Done => return Ok(state),
                    Load::NotStarted => {
                        let now = SystemTime::now();
                        state.now = Some(now);
                        #[cfg(feature = "jwt")]
                        if let Some(jwt) = state.jwt.take() {
                            state.load = Load::InProgress;
                            break Started::Jwt(jwt, now);
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
            Started::Jwt(jwt, now) => return self.loaded_by_jwt(jwt, now).await,
        };
        let guard = LoadGuard {
            session: self,
            token: Some(token),
            #[cfg(feature = "jwt")]
            jwt: None,
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
    /// [`loaded`](Self::loaded) for a presented JWT: verifies it and reads its session by id,
    /// with the load marked in progress.
    async fn loaded_by_jwt(
        &self,
        jwt: Box<[u8]>,
        now: SystemTime,
    ) -> Result<MutexGuard<'_, State>, SessionError> {
        let mut guard = LoadGuard {
            session: self,
            token: None,
            jwt: Some(jwt),
            finished: false,
        };
        let jwt = guard.jwt.as_deref().unwrap_or_default();
        let found = self.read_by_jwt(jwt, now).await?;
        guard.jwt = None;
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
