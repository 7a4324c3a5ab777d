//! Loading a session: at most one store read per request, shared by every clone of the handle.

use std::future::Future;
use std::pin::Pin;
use std::sync::MutexGuard;
use std::time::SystemTime;

#[cfg(feature = "jwt")]
use crate::token::PresentedJwt;

use super::audit::Expiry;
use super::{Session, State};
use crate::error::{SessionError, StoreError};
use crate::store::{EndTarget, Ended, SessionRecord};
use crate::token::{Presented, SessionToken, TokenHash};

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
    /// reported, when the audit trail keeps it.
    Expired(Ended, Option<Expiry>),
    /// The store failed.
    Failed(StoreError),
}

/// How far a load got without waiting for the store.
// Returned once and taken apart at once: boxing what a waiting load carries would cost an
// allocation for nothing.
#[allow(clippy::large_enum_variant)]
enum Begun<'a> {
    /// Loaded, or nothing to load: the locked state.
    Ready(MutexGuard<'a, State>),
    /// The store is to be awaited.
    Started(Started),
    /// A clone of this handle is loading; wait for it.
    Busy,
}

/// A load that waits for the store: for a presented opaque token, or for the session a
/// verified JWT names (with the JWT to put back if the load fails; `None` for a stateless
/// JWT's session whose record a later call needs: its load goes back to `Vouched`).
enum Started {
    Token(SessionToken, TokenHash, SystemTime, Pending),
    #[cfg(feature = "jwt")]
    Sid(Option<PresentedJwt>, super::jwt::SidRead),
}

/// A load waiting for the store, boxed: each kind of load gets a box its own size, so the
/// opaque token's load, on every request that reads its session, carries neither a JWT's
/// state nor a started load's enum (a box over glibc's 1 KiB per-thread cache costs the
/// allocator's slow path).
type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<MutexGuard<'a, State>, SessionError>> + Send + 'a>>;

/// Puts the load back where it was (`NotStarted` with its token, or `Vouched`) if the loading
/// future fails or is dropped (a cancelled handler): other clones do not wait forever, and a
/// later call may try again, since nothing was decided about the session.
struct LoadGuard<'a> {
    session: &'a Session,
    token: Option<SessionToken>,
    #[cfg(feature = "jwt")]
    jwt: Option<PresentedJwt>,
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

    /// Loads the session, or judges its JWT when `record_needed` is false (only a stateless
    /// JWT can be judged without its record).
    ///
    /// Whatever a store that answers at once (the memory store) can settle is settled without
    /// a future; only a load that waits for the store builds one, boxed. The future of every
    /// handler that reads its session then stays small: axum boxes it, and one over 1 KiB
    /// leaves the allocator's fast path and is copied around by the kilobyte.
    async fn load(&self, record_needed: bool) -> Result<MutexGuard<'_, State>, SessionError> {
        loop {
            // What `begin_load` started moves into the boxed future before anything awaits,
            // so this future holds a pointer, not the 328 bytes of a started load: every
            // handler future that reads its session holds this one.
            let waiting: Option<LoadFuture<'_>> = match self.begin_load(record_needed) {
                Begun::Ready(state) => return Ok(state),
                Begun::Started(Started::Token(token, key, now, pending)) => {
                    Some(Box::pin(self.finish_load(token, key, now, pending)))
                }
                #[cfg(feature = "jwt")]
                Begun::Started(Started::Sid(jwt, read)) => {
                    Some(Box::pin(self.finish_by_sid(jwt, read)))
                }
                Begun::Busy => None,
            };
            match waiting {
                Some(load) => return load.await,
                // Another clone of this handle is reading the store (handler tasks running in
                // parallel within one request; rare). Let it finish rather than read twice.
                None => tokio::task::yield_now().await,
            }
        }
    }

    /// The part of [`load`](Self::load) that needs no waiting, under the state's lock.
    #[cfg_attr(not(feature = "jwt"), allow(unused_variables))]
    fn begin_load(&self, record_needed: bool) -> Begun<'_> {
        let mut state = self.state();
        match state.load {
            Load::Done => Begun::Ready(state),
            Load::InProgress => Begun::Busy,
            #[cfg(feature = "jwt")]
            Load::Vouched if !record_needed => Begun::Ready(state),
            #[cfg(feature = "jwt")]
            Load::Vouched => {
                let now = state.now.unwrap_or_else(SystemTime::now);
                let Some(vouched) = state.vouched.as_ref() else {
                    // Vouched always comes with its identity; no session is the safe reading.
                    state.load = Load::Done;
                    return Begun::Ready(state);
                };
                let read = self.read_sid_now(&vouched.user, vouched.id, now);
                self.settle_sid(state, None, read)
            }
            Load::NotStarted => {
                let now = SystemTime::now();
                state.now = Some(now);
                #[cfg(feature = "jwt")]
                if let Some(jwt) = state.jwt.take() {
                    if !self.is_cookie_jwt(&jwt) {
                        return self.begin_jwt(state, jwt, now, record_needed);
                    }
                    // A session cookie's JWT sent as a bearer token works as the cookie's
                    // opaque token would.
                    state.by_jwt = false;
                    state.cookie_jwt = Some(jwt);
                }
                #[cfg(feature = "jwt")]
                if let Some(jwt) = state.cookie_jwt.take() {
                    use super::jwt_cookie::OpenedCookie;
                    match self.open_cookie_jwt(&jwt, now, record_needed) {
                        OpenedCookie::Refused => {
                            state.load = Load::Done;
                            return Begun::Ready(state);
                        }
                        OpenedCookie::Vouched(vouched) => {
                            state.vouched = Some(vouched);
                            state.load = Load::Vouched;
                            return Begun::Ready(state);
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
                    return Begun::Ready(state);
                };
                let key = token.hash();
                // A store that answers at once (the memory store) is read under this same
                // lock, and its record goes straight into the state.
                let pending = match self.inner.shared.store.load_now(&key) {
                    None => Pending::Unknown,
                    Some(Ok(None)) => {
                        state.load = Load::Done;
                        self.audit_invalid_token("unknown");
                        return Begun::Ready(state);
                    }
                    Some(Ok(Some(record))) if record.is_active(now) => {
                        state.load = Load::Done;
                        state.key = Some(key);
                        state.record = Some(record);
                        return Begun::Ready(state);
                    }
                    Some(Ok(Some(record))) => {
                        let ended = expiry(&record, now);
                        Pending::Expired(ended, self.expiry(&record, &ended))
                    }
                    Some(Err(err)) => Pending::Failed(err),
                };
                state.load = Load::InProgress;
                Begun::Started(Started::Token(token, key, now, pending))
            }
        }
    }

    /// The part of [`load`](Self::load) that waits for the store, for an opaque token, with
    /// the load marked in progress.
    async fn finish_load(
        &self,
        token: SessionToken,
        key: TokenHash,
        now: SystemTime,
        pending: Pending,
    ) -> Result<MutexGuard<'_, State>, SessionError> {
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
        // Boxed on its own: rare, and every load's future would otherwise carry its state.
        Box::pin(self.end_expired(&key, ended, reported)).await?;
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
    /// Verifies a presented JWT and, unless a stateless token is enough for a call that needs
    /// no record, reads the session it names.
    fn begin_jwt<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        jwt: PresentedJwt,
        now: SystemTime,
        record_needed: bool,
    ) -> Begun<'a> {
        use super::jwt::Judged;

        match self.judge_jwt(&jwt, now) {
            Judged::Refused => {
                state.load = Load::Done;
                Begun::Ready(state)
            }
            Judged::Vouched(vouched) if !record_needed => {
                state.vouched = Some(vouched);
                state.load = Load::Vouched;
                Begun::Ready(state)
            }
            Judged::Vouched(vouched) => {
                let read = self.read_sid_now(&vouched.user, vouched.id, now);
                state.vouched = Some(vouched);
                self.settle_sid(state, Some(jwt), read)
            }
            Judged::Read(read) => self.settle_sid(state, Some(jwt), read),
        }
    }

    /// Finishes the load with the session a JWT named, or starts the part that waits for the
    /// store.
    fn settle_sid<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        jwt: Option<PresentedJwt>,
        read: super::jwt::SidRead,
    ) -> Begun<'a> {
        use super::jwt::SidRead;

        match read {
            SidRead::Refused => {}
            SidRead::Active(key, record) => {
                state.key = Some(key);
                state.record = Some(record);
            }
            waiting => {
                state.load = Load::InProgress;
                return Begun::Started(Started::Sid(jwt, waiting));
            }
        }
        state.load = Load::Done;
        Begun::Ready(state)
    }

    /// Reads or ends the session a JWT named, with the load marked in progress.
    async fn finish_by_sid(
        &self,
        jwt: Option<PresentedJwt>,
        read: super::jwt::SidRead,
    ) -> Result<MutexGuard<'_, State>, SessionError> {
        use super::jwt::SidRead;

        let back_to = if jwt.is_some() {
            Load::NotStarted
        } else {
            Load::Vouched
        };
        let guard = LoadGuard {
            session: self,
            token: None,
            jwt,
            back_to,
            finished: false,
        };
        let read = match read {
            SidRead::Later { user, id, now } => {
                let found = self.inner.shared.store.load_by_id(&id).await?;
                self.judge_found(&user, found, now)
            }
            other => other,
        };
        let found = match read {
            SidRead::Active(key, record) => Some((key, record)),
            SidRead::Expired(key, ended, reported) => {
                self.end_by_sid(key, ended, reported).await?;
                None
            }
            SidRead::Failed(err) => return Err(err.into()),
            SidRead::Refused | SidRead::Later { .. } => None,
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
