//! [`BoxedStore`]: any store behind one type, for apps that pick their backend at run time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::erased::BoxFuture;
use super::{
    ActiveCounts, Admission, Admitted, EndTarget, Ended, SessionLimits, SessionPatch, SessionQuery,
    SessionRecord, SessionStore,
};
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

/// Any [`SessionStore`], type-erased, so one binary can choose its backend from configuration
/// (as the demo does with `SESSIONWARD_STORE`). Cloning shares the store.
///
/// Each call costs one boxed future more than the store itself.
///
/// ```
/// use sessionward::store::{BoxedStore, MemoryStore};
/// use sessionward::SessionLayer;
///
/// let store = BoxedStore::new(MemoryStore::default());
/// let layer = SessionLayer::new(store);
/// ```
#[derive(Clone)]
pub struct BoxedStore(Arc<dyn DynStore>);

impl BoxedStore {
    /// Boxes `store`.
    pub fn new<S: SessionStore>(store: S) -> Self {
        Self(Arc::new(store))
    }
}

impl std::fmt::Debug for BoxedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedStore")
    }
}

/// The object-safe mirror of [`SessionStore`].
trait DynStore: Send + Sync + 'static {
    fn create<'a>(
        &'a self,
        key: &'a TokenHash,
        record: SessionRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn load<'a>(
        &'a self,
        key: &'a TokenHash,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, StoreError>>;
    fn load_by_id<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<(TokenHash, SessionRecord)>, StoreError>>;
    fn update<'a>(
        &'a self,
        key: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn rotate<'a>(
        &'a self,
        old: &'a TokenHash,
        new: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn delete<'a>(&'a self, key: &'a TokenHash) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn delete_by_id<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn list_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>>;
    fn count_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn delete_by_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a SessionId>,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn delete_expired(&self, now: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>>;
    fn end<'a>(
        &'a self,
        target: EndTarget<'a>,
        ended: Ended,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn retention(&self) -> Option<Duration>;
    fn query<'a>(
        &'a self,
        query: &'a SessionQuery,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>>;
    fn admit<'a>(
        &'a self,
        user: &'a str,
        admission: Admission<'a>,
        limits: &'a SessionLimits,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Admitted, StoreError>>;
    fn count_active(&self, now: SystemTime) -> BoxFuture<'_, Result<ActiveCounts, StoreError>>;
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>>;
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>>;
    #[allow(clippy::result_large_err)]
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord>;
    fn update_now(&self, key: &TokenHash, patch: &SessionPatch)
        -> Option<Result<bool, StoreError>>;
}

impl<S: SessionStore> DynStore for S {
    fn create<'a>(
        &'a self,
        key: &'a TokenHash,
        record: SessionRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::create(self, key, record))
    }
    fn load<'a>(
        &'a self,
        key: &'a TokenHash,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, StoreError>> {
        Box::pin(SessionStore::load(self, key))
    }
    fn load_by_id<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        Box::pin(SessionStore::load_by_id(self, id))
    }
    fn update<'a>(
        &'a self,
        key: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::update(self, key, patch))
    }
    fn rotate<'a>(
        &'a self,
        old: &'a TokenHash,
        new: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::rotate(self, old, new, patch))
    }
    fn delete<'a>(&'a self, key: &'a TokenHash) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::delete(self, key))
    }
    fn delete_by_id<'a>(&'a self, id: &'a SessionId) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::delete_by_id(self, id))
    }
    fn list_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>> {
        Box::pin(SessionStore::list_by_user(self, user, now))
    }
    fn count_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::count_by_user(self, user, now))
    }
    fn delete_by_user<'a>(
        &'a self,
        user: &'a str,
        except: Option<&'a SessionId>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::delete_by_user(self, user, except))
    }
    fn delete_expired(&self, now: SystemTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(SessionStore::delete_expired(self, now))
    }
    fn end<'a>(
        &'a self,
        target: EndTarget<'a>,
        ended: Ended,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::end(self, target, ended))
    }
    fn retention(&self) -> Option<Duration> {
        SessionStore::retention(self)
    }
    fn query<'a>(
        &'a self,
        query: &'a SessionQuery,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>> {
        Box::pin(SessionStore::query(self, query))
    }
    fn admit<'a>(
        &'a self,
        user: &'a str,
        admission: Admission<'a>,
        limits: &'a SessionLimits,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Admitted, StoreError>> {
        Box::pin(SessionStore::admit(self, user, admission, limits, now))
    }
    fn count_active(&self, now: SystemTime) -> BoxFuture<'_, Result<ActiveCounts, StoreError>> {
        Box::pin(SessionStore::count_active(self, now))
    }
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        SessionStore::load_now(self, key)
    }
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        SessionStore::load_by_id_now(self, id)
    }
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        SessionStore::create_now(self, key, record)
    }
    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        SessionStore::update_now(self, key, patch)
    }
}

impl SessionStore for BoxedStore {
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        self.0.create(key, record).await
    }
    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.0.load(key).await
    }
    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        self.0.load_by_id(id).await
    }
    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        self.0.update(key, patch).await
    }
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        self.0.rotate(old, new, patch).await
    }
    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        self.0.delete(key).await
    }
    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.0.delete_by_id(id).await
    }
    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.0.list_by_user(user, now).await
    }
    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        self.0.count_by_user(user, now).await
    }
    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        self.0.delete_by_user(user, except).await
    }
    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.0.delete_expired(now).await
    }
    async fn end(&self, target: EndTarget<'_>, ended: Ended) -> Result<u64, StoreError> {
        self.0.end(target, ended).await
    }
    fn retention(&self) -> Option<Duration> {
        self.0.retention()
    }
    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.0.query(query).await
    }
    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        self.0.admit(user, admission, limits, now).await
    }
    async fn count_active(&self, now: SystemTime) -> Result<ActiveCounts, StoreError> {
        self.0.count_active(now).await
    }
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        self.0.load_now(key)
    }
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        self.0.load_by_id_now(id)
    }
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        self.0.create_now(key, record)
    }
    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        self.0.update_now(key, patch)
    }
}
