//! [`TimeoutStore`]: a bound on how long any store call may take, so that a store that stops
//! answering (a server that hangs, a connection that goes silent) costs a request a 503 after
//! a known time instead of holding it for as long as the backend's own timeouts allow, or for
//! ever.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::erased::Write;
use super::erased::{BoxFuture, ErasedStore};
use super::{
    ActiveCounts, Admission, Admitted, EndTarget, Ended, SessionLimits, SessionPatch, SessionQuery,
    SessionRecord, SessionStore,
};
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

/// A store whose every call is given at most a fixed time: past it, the call is abandoned and
/// fails with [`StoreError::TimedOut`], which answers 503 `{"error":"session_store_unavailable"}`
/// like any store failure (never "no session", and the client's cookie is left alone).
///
/// [`SessionLayer::store_timeout`](crate::SessionLayer::store_timeout) puts the layer's store
/// behind one; wrap a store yourself for the other places that use it, such as the admin API
/// or [`spawn_cleanup`](super::spawn_cleanup). The bound is the same for every backend and
/// every operation, and it covers the whole call: waiting for a pooled connection,
/// reconnecting, and the round trips. A store that answers at once (the memory store's
/// `load_now`, …) is never timed: nothing is waited for.
///
/// **A write that timed out may still land.** The call is abandoned on this side only: a
/// command already sent keeps going, and a server that was slow rather than gone applies it
/// later, even after a later write of the same session (which it then overwrites). The client
/// got a 503, so it knows its change is in doubt; a session that was ended meanwhile stays
/// ended, as a store never brings a deleted session back.
///
/// It needs a tokio runtime with its timer enabled (`#[tokio::main]` and
/// `Builder::enable_all` have it).
///
/// ```
/// use std::time::Duration;
/// use sessionward::store::{spawn_cleanup, MemoryStore, SessionStore, TimeoutStore};
/// use sessionward::token::SessionToken;
/// use sessionward::SessionLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sessionward::StoreError> {
/// let store = MemoryStore::default();
/// // Requests: each store call cut after 500 ms.
/// let layer = SessionLayer::new(store.clone()).store_timeout(Duration::from_millis(500));
/// // The cleanup task, and any direct use: the same, by wrapping the store.
/// let timed = TimeoutStore::new(store, Duration::from_secs(5));
/// spawn_cleanup(timed.clone(), Duration::from_secs(60));
/// let unknown = SessionToken::parse(&[b'A'; 43]).expect("a well-formed token").hash();
/// assert!(timed.load(&unknown).await?.is_none());
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TimeoutStore<S> {
    inner: S,
    timeout: Duration,
}

impl<S> TimeoutStore<S> {
    /// `store`, each of whose calls is abandoned after `timeout`.
    ///
    /// # Panics
    /// If `timeout` is zero: no call could ever succeed.
    pub fn new(store: S, timeout: Duration) -> Self {
        assert!(!timeout.is_zero(), "a store timeout must not be zero");
        Self {
            inner: store,
            timeout,
        }
    }

    /// The time each call is given.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The wrapped store.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped store, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// `call`, or [`StoreError::TimedOut`] naming `operation` once the timeout has passed.
    fn within<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> impl Future<Output = Result<T, StoreError>> {
        bounded(self.timeout, operation, call)
    }
}

/// `call`, or [`StoreError::TimedOut`] naming `operation` once `after` has passed.
async fn bounded<T>(
    after: Duration,
    operation: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(after, call)
        .await
        .unwrap_or(Err(StoreError::TimedOut { operation, after }))
}

impl<S: SessionStore> SessionStore for TimeoutStore<S> {
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        self.within("create", self.inner.create(key, record)).await
    }
    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.within("load", self.inner.load(key)).await
    }
    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        self.within("load_by_id", self.inner.load_by_id(id)).await
    }
    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        self.within("update", self.inner.update(key, patch)).await
    }
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        self.within("rotate", self.inner.rotate(old, new, patch))
            .await
    }
    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        self.within("delete", self.inner.delete(key)).await
    }
    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.within("delete_by_id", self.inner.delete_by_id(id))
            .await
    }
    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.within("list_by_user", self.inner.list_by_user(user, now))
            .await
    }
    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        self.within("count_by_user", self.inner.count_by_user(user, now))
            .await
    }
    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        self.within("delete_by_user", self.inner.delete_by_user(user, except))
            .await
    }
    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.within("delete_expired", self.inner.delete_expired(now))
            .await
    }
    async fn end(&self, target: EndTarget<'_>, ended: Ended) -> Result<u64, StoreError> {
        self.within("end", self.inner.end(target, ended)).await
    }
    fn retention(&self) -> Option<Duration> {
        self.inner.retention()
    }
    // The answers given at once wait for nothing: no timer.
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        self.inner.load_now(key)
    }
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        self.inner.load_by_id_now(id)
    }
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        self.inner.create_now(key, record)
    }
    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        self.inner.update_now(key, patch)
    }
    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.within("query", self.inner.query(query)).await
    }
    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        self.within("admit", self.inner.admit(user, admission, limits, now))
            .await
    }
    async fn count_active(&self, now: SystemTime) -> Result<ActiveCounts, StoreError> {
        self.within("count_active", self.inner.count_active(now))
            .await
    }
}

/// The form [`SessionLayer::store_timeout`](crate::SessionLayer::store_timeout) uses: around
/// the layer's store, which the layer has already made object-safe.
impl ErasedStore for TimeoutStore<Arc<dyn ErasedStore>> {
    fn load<'a>(
        &'a self,
        key: &'a TokenHash,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, StoreError>> {
        Box::pin(self.within("load", self.inner.load(key)))
    }
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        self.inner.load_now(key)
    }
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        self.inner.load_by_id_now(id)
    }
    fn load_by_id<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        Box::pin(self.within("load_by_id", self.inner.load_by_id(id)))
    }
    fn create<'a>(
        &'a self,
        key: &'a TokenHash,
        record: SessionRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.within("create", self.inner.create(key, record)))
    }
    fn rotate<'a>(
        &'a self,
        old: &'a TokenHash,
        new: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.within("rotate", self.inner.rotate(old, new, patch)))
    }
    fn end<'a>(
        &'a self,
        target: EndTarget<'a>,
        ended: Ended,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.within("end", self.inner.end(target, ended)))
    }
    fn list_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>> {
        Box::pin(self.within("list_by_user", self.inner.list_by_user(user, now)))
    }
    fn admit<'a>(
        &'a self,
        user: &'a str,
        admission: Admission<'a>,
        limits: &'a SessionLimits,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Admitted, StoreError>> {
        Box::pin(self.within("admit", self.inner.admit(user, admission, limits, now)))
    }
    fn write_now(&self, write: Write) -> Result<Result<(), StoreError>, Write> {
        self.inner.write_now(write)
    }
    fn write_later(self: Arc<Self>, write: Write) -> BoxFuture<'static, Result<(), StoreError>> {
        let operation = match write {
            Write::Create(..) => "create",
            Write::Update(..) => "update",
        };
        let call = Arc::clone(&self.inner).write_later(write);
        Box::pin(bounded(self.timeout, operation, call))
    }
    fn untimed(self: Arc<Self>) -> Arc<dyn ErasedStore> {
        Arc::clone(&self.inner)
    }
}
