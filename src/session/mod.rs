//! The per-request session handle.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use axum_core::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::{SessionError, SessionRejection};
use crate::store::{SessionData, SessionPatch, SessionRecord};
use crate::token::{generate, Credential, Presented, SessionId, SessionToken, TokenHash};

mod admission;
mod audit;
mod client;
mod csrf;
mod data;
mod devices;
mod identity;
#[cfg(feature = "jwt")]
mod jwt;
#[cfg(feature = "jwt")]
mod jwt_cookie;
mod load;
mod outcome;
#[cfg(feature = "jwt")]
mod refresh;
#[cfg(feature = "jwt")]
mod refresh_history;
mod shared;

use load::Load;

pub(crate) use audit::Written;
pub(crate) use client::ClientInfo;
pub use devices::DeviceSession;
pub(crate) use outcome::{CookieAction, Outcome};
pub(crate) use shared::Shared;

/// The session of the current request, put in the request extensions by
/// [`SessionLayer`](crate::SessionLayer) and extracted in handlers as `session: Session`.
///
/// The record is loaded lazily: the first method that needs it reads the store, once per
/// request, and the rest work on that copy. With a
/// [stateless](crate::token::AccessTokens::stateless) JWT access token,
/// [`Authenticated`](crate::Authenticated), [`user`](Self::user) and [`id`](Self::id) need no
/// record: they answer from the token's claims. Changes are written by the layer after the handler
/// returns, in one store call, as per-key updates. [`login`](Self::login),
/// [`rotate`](Self::rotate) and [`logout`](Self::logout) instead act on the store at once, so
/// the old token is dead before they return.
///
/// Cloning is cheap and every clone refers to the same session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    presented: Presented,
    client: ClientInfo,
    /// Never held across an `.await`, so a plain mutex (cheaper than an async one).
    state: Mutex<State>,
}

/// What [`Session::move_stored`] did.
enum Moved<'a> {
    /// The session now lives under the new token.
    Done,
    /// The session had ended meanwhile and is no longer stored; the state is still locked, so
    /// the caller decides what is left of it in the same step.
    Ended(MutexGuard<'a, State>),
}

/// Held while a `login`, `rotate` or `logout` runs.
struct Exclusive<'a> {
    session: &'a Session,
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.session.state().busy = false;
    }
}

#[derive(Default)]
struct State {
    /// The presented token, until it is hashed on first load.
    presented: Option<SessionToken>,
    /// A presented JWT access token, until it is verified on first load.
    #[cfg(feature = "jwt")]
    jwt: Option<crate::token::PresentedJwt>,
    /// What a verified stateless JWT says: the identity while the record is not read, and the
    /// session to deny at logout even if it has ended meanwhile.
    #[cfg(feature = "jwt")]
    vouched: Option<jwt::Vouched>,
    /// The credential was a JWT access token: the response never touches the cookie, which
    /// may belong to another session.
    #[cfg(feature = "jwt")]
    by_jwt: bool,
    /// A presented session cookie holding a JWT (or such a JWT sent as a bearer token),
    /// until it is verified on first load.
    #[cfg(feature = "jwt")]
    cookie_jwt: Option<crate::token::PresentedJwt>,
    /// The token of a stateless cookie JWT in its second half: the response re-issues it,
    /// if the session still lives under it.
    #[cfg(feature = "jwt")]
    reissue: Option<SessionToken>,
    load: Load,
    /// A `login`, `rotate` or `logout` is running (they read, await the store, then commit, so
    /// two of them on clones of one handle take turns).
    busy: bool,
    /// The clock, read once when the session is loaded and reused when the request ends.
    now: Option<SystemTime>,
    /// Key of the stored record: `Some` exactly when `record` exists in the store.
    key: Option<TokenHash>,
    /// The session as this request sees it: the stored record plus its own changes.
    record: Option<SessionRecord>,
    /// Changes to write to a persisted record.
    patch: SessionPatch,
    /// A token made during this request: while `key` is `None`, the one the new record will
    /// be created under; once stored, the one to hand to the client.
    new_token: Option<SessionToken>,
    /// The presented session had passed a deadline.
    expired: bool,
    /// `logout()` ran: the cookie is to be cleared.
    cleared: bool,
    /// A CSRF token was handed out for a session this request started: store the session
    /// even while it holds no data, or the token would name no session.
    keep_empty: bool,
}

impl State {
    /// The signed-in user and session a stateless JWT vouches for, while the record is not
    /// read (once it is, the record speaks).
    fn vouched_only(&self) -> Option<(&str, SessionId)> {
        #[cfg(feature = "jwt")]
        if self.load == Load::Vouched {
            return self.vouched.as_ref().map(|v| (v.user.as_str(), v.id));
        }
        None
    }

    /// Puts back the data changes of a patch taken for a store call that failed, under any
    /// change made since. Only data goes back: a user or deadlines in the patch belonged to the
    /// failed `login` and must never reach the store as an ordinary update of the old token
    /// (that would sign in a token the client held before login: session fixation).
    fn restore_patch(&mut self, taken: SessionPatch) {
        let mut restored = SessionPatch {
            data: taken.data,
            ..SessionPatch::default()
        };
        let later = std::mem::take(&mut self.patch);
        restored.merge(later);
        self.patch = restored;
    }
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, credential: Credential, client: ClientInfo) -> Self {
        let presented = credential.presented();
        let state = match credential {
            Credential::Nothing => State::default(),
            Credential::Cookie(token) | Credential::Bearer(token) => State {
                presented: token,
                ..State::default()
            },
            #[cfg(feature = "jwt")]
            Credential::Jwt(jwt) => State {
                jwt: Some(jwt),
                by_jwt: true,
                ..State::default()
            },
            #[cfg(feature = "jwt")]
            Credential::CookieJwt(jwt) => State {
                cookie_jwt: Some(jwt),
                ..State::default()
            },
        };
        Self {
            inner: Arc::new(Inner {
                shared,
                presented,
                client,
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no other `login`, `rotate` or `logout` of this request runs, and marks one
    /// running until the guard is dropped. Contention needs handler tasks running in parallel
    /// on one request: rare enough for a yield loop, and no lock to build for every request.
    async fn exclusive(&self) -> Exclusive<'_> {
        loop {
            {
                let mut state = self.state();
                if !state.busy {
                    state.busy = true;
                    return Exclusive { session: self };
                }
            }
            tokio::task::yield_now().await;
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Deserializes the value stored under `key`, or `None` when there is no session or no
    /// such key.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails, [`SessionError::Serde`] when the stored
    /// value is not a `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let state = self.loaded().await?;
        let Some(raw) = state.value(key) else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(raw.get())?))
    }

    /// Stores `value` under `key`, starting an anonymous session when there is none. Only this
    /// key is written, so concurrent requests that set other keys keep theirs.
    ///
    /// # Errors
    /// [`SessionError::Serde`] when `value` cannot be serialized, [`SessionError::Store`] when
    /// the session cannot be loaded, [`SessionError::Randomness`] when a new token cannot be
    /// drawn, [`SessionError::DataTooLarge`] when the session would pass the layer's
    /// [data limits](crate::SessionLayer::max_data_keys) (nothing is changed then).
    pub async fn insert<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), SessionError> {
        let raw = to_json(value)?;
        let mut state = self.loaded().await?;
        state.check_limits(&self.inner.shared.config, &[(key, raw.get().len())])?;
        self.start_if_none(&mut state)?;
        state.change(key, Some(raw));
        Ok(())
    }

    /// Stores every `(key, value)` of `entries`, or none of them: as [`insert`](Self::insert)
    /// for each, except that when the session would pass the layer's
    /// [data limits](crate::SessionLayer::max_data_keys) nothing is changed. For a form or a
    /// JSON object that sets several keys at once.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn insert_all<K, T, I>(&self, entries: I) -> Result<(), SessionError>
    where
        K: AsRef<str>,
        T: Serialize,
        I: IntoIterator<Item = (K, T)>,
    {
        let entries = entries
            .into_iter()
            .map(|(key, value)| Ok((key, to_json(&value)?)))
            .collect::<Result<Vec<_>, SessionError>>()?;
        let mut state = self.loaded().await?;
        let sizes: Vec<(&str, usize)> = entries
            .iter()
            .map(|(key, raw)| (key.as_ref(), raw.get().len()))
            .collect();
        state.check_limits(&self.inner.shared.config, &sizes)?;
        drop(sizes);
        if !entries.is_empty() {
            self.start_if_none(&mut state)?;
        }
        for (key, raw) in entries {
            state.change(key.as_ref(), Some(raw));
        }
        Ok(())
    }

    /// Starts an anonymous session, stored when the request ends, if there is none.
    fn start_if_none(&self, state: &mut State) -> Result<(), SessionError> {
        if state.record.is_none() {
            let (token, id) = generate()?;
            let now = state.now.unwrap_or_else(SystemTime::now);
            state.record = Some(self.new_record(id, None, now));
            state.new_token = Some(token);
        }
        Ok(())
    }

    /// Removes `key`, returning its value.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let mut state = self.loaded().await?;
        let Some(raw) = state.value(key) else {
            return Ok(None);
        };
        let value = serde_json::from_str(raw.get());
        state.change(key, None);
        Ok(Some(value?))
    }

    /// `read` applied to the record as this request sees it, or `None` without a session.
    async fn read_loaded<T>(
        &self,
        read: impl FnOnce(&SessionRecord) -> T,
    ) -> Result<Option<T>, SessionError> {
        Ok(self.loaded().await?.record.as_ref().map(read))
    }

    /// A snapshot of the session as this request sees it (its changes included), or `None`
    /// without a valid session. It never contains the token or its hash.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn record(&self) -> Result<Option<SessionRecord>, SessionError> {
        let state = self.loaded().await?;
        Ok(state.record.as_ref().map(|record| {
            let mut record = record.clone();
            record.apply(&state.patch);
            record
        }))
    }

    /// The public id of the session, or `None` without one. With a
    /// [stateless](crate::token::AccessTokens::stateless) access token, the token's `sid`,
    /// without reading the store.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn id(&self) -> Result<Option<SessionId>, SessionError> {
        let state = self.judged().await?;
        if let Some((_, id)) = state.vouched_only() {
            return Ok(Some(id));
        }
        Ok(state.record.as_ref().map(|r| r.id))
    }

    /// The signed-in user, or `None` for an anonymous session or none. With a
    /// [stateless](crate::token::AccessTokens::stateless) access token, the token's `sub`,
    /// without reading the store.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        let state = self.judged().await?;
        if let Some((user, _)) = state.vouched_only() {
            return Ok(Some(user.to_owned()));
        }
        Ok(state.record.as_ref().and_then(|r| r.user.clone()))
    }

    /// When the session was created (or signed in), or `None` without one.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn created_at(&self) -> Result<Option<SystemTime>, SessionError> {
        self.read_loaded(|r| r.created_at).await
    }

    /// When the session ends at the latest: the earlier of its idle and absolute deadlines.
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn expires_at(&self) -> Result<Option<SystemTime>, SessionError> {
        self.read_loaded(SessionRecord::deadline).await
    }

    /// Whether the presented session existed but had passed a deadline (it is deleted now).
    ///
    /// # Errors
    /// [`SessionError::Store`] when the store fails.
    pub async fn is_expired(&self) -> Result<bool, SessionError> {
        Ok(self.loaded().await?.expired)
    }

    /// The user and public id of a signed-in session, its record read; otherwise whether the
    /// presented session had expired. Clones only the user name, not the record.
    pub(crate) async fn signed_in(
        &self,
    ) -> Result<Result<(String, SessionId), bool>, SessionError> {
        Ok(Self::signed_in_of(&*self.loaded().await?))
    }

    /// As [`signed_in`](Self::signed_in), but a stateless access token answers from its
    /// claims alone, without reading the store: for authentication, not for acting on the
    /// session.
    pub(crate) async fn identified(
        &self,
    ) -> Result<Result<(String, SessionId), bool>, SessionError> {
        Ok(Self::signed_in_of(&*self.judged().await?))
    }

    fn signed_in_of(state: &State) -> Result<(String, SessionId), bool> {
        if let Some((user, id)) = state.vouched_only() {
            return Ok((user.to_owned(), id));
        }
        match &state.record {
            Some(SessionRecord {
                user: Some(user),
                id,
                ..
            }) => Ok((user.clone(), *id)),
            _ => Err(state.expired),
        }
    }

    /// The token issued during this request by [`login`](Self::login) or
    /// [`rotate`](Self::rotate), in its text form, for bearer clients that receive it in a
    /// response body. Cookie clients get it as a cookie and need not call this.
    pub async fn issued_token(&self) -> Option<String> {
        let state = self.state();
        // Before it is stored, a new session's token is not issued yet.
        state
            .key
            .and(state.new_token.as_ref().map(SessionToken::to_text))
    }

    /// The client's IP address: the socket peer's, or the one trusted proxies forwarded (see
    /// [`SessionLayer::trusted_proxies`](crate::SessionLayer::trusted_proxies)). `None` when
    /// the server was not started with `into_make_service_with_connect_info::<SocketAddr>()`.
    /// This is the address recorded with a session created by this request.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.inner
            .client
            .addr
            .ip(&self.inner.shared.config.trusted_proxies)
    }

    /// How the request presented its credential.
    pub fn presented(&self) -> Presented {
        self.inner.presented
    }

    fn new_record(&self, id: SessionId, user: Option<String>, now: SystemTime) -> SessionRecord {
        let (expires_at, idle_expires_at) = self.inner.shared.config.deadlines(now);
        let client = &self.inner.client;
        SessionRecord {
            id,
            user,
            data: SessionData::default(),
            created_at: now,
            last_seen_at: now,
            expires_at,
            idle_expires_at,
            user_agent: client.user_agent_text(),
            ip: self.client_ip(),
            terms: None,
            ended: None,
        }
    }
}

/// Without the `jwt` feature no access token outlives its session: nothing to deny.
#[cfg(not(feature = "jwt"))]
impl Session {
    fn deny(&self, _id: SessionId) {}

    fn deny_ended(&self, _id: Option<SessionId>) {}

    fn denies(&self) -> bool {
        false
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(SessionRejection::MissingLayer)
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("presented", &self.inner.presented)
            .finish_non_exhaustive()
    }
}

/// Serializes `value` into one exactly-sized allocation. `serde_json::value::to_raw_value`
/// writes into a 128-byte buffer and then shrinks it: a second trip to the allocator for every
/// value a handler stores. The scratch buffer is per thread and reused.
fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, serde_json::Error> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        serde_json::to_writer(&mut *buf, value)?;
        // serde_json writes valid UTF-8 JSON; `from_string` checks it anyway, cheaply.
        let text = String::from_utf8_lossy(&buf).into_owned();
        RawValue::from_string(text)
    })
}
