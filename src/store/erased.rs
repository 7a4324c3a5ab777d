//! An object-safe view of [`SessionStore`], so that [`Session`](crate::Session) handles need no
//! type parameter: handlers write `session: Session` whatever the store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{SessionPatch, SessionRecord, SessionStore};
use crate::error::StoreError;
use crate::session::Write;
use crate::token::TokenHash;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The operations a `Session` handle performs during a request.
pub(crate) trait ErasedStore: Send + Sync + 'static {
    fn load<'a>(
        &'a self,
        key: &'a TokenHash,
    ) -> BoxFuture<'a, Result<Option<SessionRecord>, StoreError>>;
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>>;
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
    fn delete<'a>(&'a self, key: &'a TokenHash) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// The layer's write after the handler, done at once when the store can (`Ok`), else as a
    /// future owning everything, so it is `'static`.
    #[allow(clippy::type_complexity)]
    fn write(
        self: Arc<Self>,
        write: Write,
    ) -> Result<Result<(), StoreError>, BoxFuture<'static, Result<(), StoreError>>>;
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
    fn delete<'a>(&'a self, key: &'a TokenHash) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(SessionStore::delete(self, key))
    }
    fn write(
        self: Arc<Self>,
        write: Write,
    ) -> Result<Result<(), StoreError>, BoxFuture<'static, Result<(), StoreError>>> {
        let write = match write {
            Write::Create(key, record) => match SessionStore::create_now(&*self, &key, record) {
                Ok(done) => return Ok(done),
                Err(record) => Write::Create(key, record),
            },
            Write::Update(key, patch) => match SessionStore::update_now(&*self, &key, &patch) {
                Some(done) => return Ok(done.map(drop)),
                None => Write::Update(key, patch),
            },
        };
        Err(Box::pin(async move {
            match write {
                Write::Create(key, record) => SessionStore::create(&*self, &key, record).await,
                // `false` means the session ended meanwhile (a logout elsewhere): it stays
                // ended.
                Write::Update(key, patch) => {
                    SessionStore::update(&*self, &key, &patch).await.map(drop)
                }
            }
        }))
    }
}
