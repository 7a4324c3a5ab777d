//! An object-safe view of [`SessionStore`], so that [`Session`](crate::Session) handles need no
//! type parameter: handlers write `session: Session` whatever the store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use super::{
    Admission, Admitted, EndTarget, Ended, SessionLimits, SessionPatch, SessionRecord, SessionStore,
};
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The one write a request makes once its handler has answered: the session it started, or
/// the changes to the session it presented.
pub(crate) enum Write {
    Create(TokenHash, SessionRecord),
    Update(TokenHash, SessionPatch),
}

/// The operations a `Session` handle performs during a request.
pub(crate) trait ErasedStore: Send + Sync + 'static {
    fn load<'a>(
        &'a self,
        key: &'a TokenHash,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, StoreError>>;
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>>;
    /// Used only by JWT access tokens.
    #[cfg_attr(not(feature = "jwt"), allow(dead_code))]
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>>;
    /// Used only by JWT access tokens.
    #[cfg_attr(not(feature = "jwt"), allow(dead_code))]
    fn load_by_id<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<(TokenHash, SessionRecord)>, StoreError>>;
    fn create<'a>(
        &'a self,
        key: &'a TokenHash,
        record: SessionRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn rotate<'a>(
        &'a self,
        old: &'a TokenHash,
        new: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn end<'a>(
        &'a self,
        target: EndTarget<'a>,
        ended: Ended,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn list_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>>;
    fn admit<'a>(
        &'a self,
        user: &'a str,
        admission: Admission<'a>,
        limits: &'a SessionLimits,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Admitted, StoreError>>;
    /// The layer's write after the handler, done at once when the store can (`Ok`); else the
    /// write is handed back for [`write_later`](Self::write_later). Split in two so the common
    /// case touches no reference count.
    #[allow(clippy::result_large_err)] // the write is handed back, not an error
    fn write_now(&self, write: Write) -> Result<Result<(), StoreError>, Write>;
    /// The write as a future owning everything, so it is `'static`.
    fn write_later(self: Arc<Self>, write: Write) -> BoxFuture<'static, Result<(), StoreError>>;
    /// The store without the timeout [`SessionLayer::store_timeout`](crate::SessionLayer::store_timeout)
    /// put around it (itself when there is none), so that a second call replaces the first.
    fn untimed(self: Arc<Self>) -> Arc<dyn ErasedStore>;
}

impl<S: SessionStore> ErasedStore for S {
    fn load<'a>(
        &'a self,
        key: &'a TokenHash,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, StoreError>> {
        Box::pin(SessionStore::load(self, key))
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
    fn load_by_id<'a>(
        &'a self,
        id: &'a SessionId,
    ) -> BoxFuture<'a, Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        Box::pin(SessionStore::load_by_id(self, id))
    }
    fn create<'a>(
        &'a self,
        key: &'a TokenHash,
        record: SessionRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SessionStore::create(self, key, record))
    }
    fn rotate<'a>(
        &'a self,
        old: &'a TokenHash,
        new: &'a TokenHash,
        patch: &'a SessionPatch,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::rotate(self, old, new, patch))
    }
    fn end<'a>(
        &'a self,
        target: EndTarget<'a>,
        ended: Ended,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(SessionStore::end(self, target, ended))
    }
    fn list_by_user<'a>(
        &'a self,
        user: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Vec<SessionRecord>, StoreError>> {
        Box::pin(SessionStore::list_by_user(self, user, now))
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
    #[allow(clippy::result_large_err)]
    fn write_now(&self, write: Write) -> Result<Result<(), StoreError>, Write> {
        match write {
            Write::Create(key, record) => match SessionStore::create_now(self, &key, record) {
                Ok(done) => Ok(done),
                Err(record) => Err(Write::Create(key, record)),
            },
            Write::Update(key, patch) => match SessionStore::update_now(self, &key, &patch) {
                Some(done) => Ok(done.map(drop)),
                None => Err(Write::Update(key, patch)),
            },
        }
    }
    fn write_later(self: Arc<Self>, write: Write) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(async move {
            match write {
                Write::Create(key, record) => SessionStore::create(&*self, &key, record).await,
                // `false` means the session ended meanwhile (a logout elsewhere): it stays
                // ended.
                Write::Update(key, patch) => {
                    SessionStore::update(&*self, &key, &patch).await.map(drop)
                }
            }
        })
    }
    fn untimed(self: Arc<Self>) -> Arc<dyn ErasedStore> {
        self
    }
}
