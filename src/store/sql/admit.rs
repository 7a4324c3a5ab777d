//! What makes an admission (a login under session caps) atomic on the network SQL stores: a
//! database lock held around the admission's steps (PostgreSQL's transaction-scoped advisory
//! lock, or MySQL's named lock below), taken on a small pool of its own.
//!
//! Why a pool of its own: the login that holds the lock needs further connections for its
//! steps. If the logins waiting for the lock held connections of the store's pool, enough of
//! them could take the whole pool and the holder would wait for ever.

use std::sync::{Arc, OnceLock};

use sqlx::pool::PoolOptions;
#[cfg(feature = "mysql")]
use sqlx::{mysql::MySql, mysql::MySqlPool, pool::PoolConnection};
use sqlx::{Database, Pool};

#[cfg(feature = "mysql")]
use crate::error::StoreError;
#[cfg(feature = "mysql")]
use crate::store::sql;

/// Connections for admission locks: one per admission that holds or waits for a lock.
const LOCK_CONNECTIONS: u32 = 4;

/// The lock pool, opened on first use with the store pool's connect options.
pub(crate) struct AdmitLocks<DB: Database>(Arc<OnceLock<Pool<DB>>>);

impl<DB: Database> AdmitLocks<DB> {
    pub(crate) fn new() -> Self {
        Self(Arc::new(OnceLock::new()))
    }

    /// The lock pool (lazy: it connects when a lock is first taken).
    pub(crate) fn pool(&self, store: &Pool<DB>) -> &Pool<DB> {
        self.0.get_or_init(|| {
            PoolOptions::<DB>::new()
                .max_connections(LOCK_CONNECTIONS)
                .connect_lazy_with((*store.connect_options()).clone())
        })
    }
}

impl<DB: Database> Clone for AdmitLocks<DB> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

/// How long a login waits for another login's admission lock before it fails.
#[cfg(feature = "mysql")]
const ADMIT_LOCK_WAIT_SECONDS: i32 = 30;

/// A connection holding a MySQL named lock (`GET_LOCK`). Named locks belong to the connection,
/// not to a transaction: if the admission is dropped half-way (a cancelled request), the
/// connection is closed rather than returned to the pool still holding the lock.
#[cfg(feature = "mysql")]
pub(crate) struct NamedLock(Option<PoolConnection<MySql>>);

#[cfg(feature = "mysql")]
impl NamedLock {
    pub(crate) async fn take(pool: &MySqlPool, name: &str) -> Result<Self, StoreError> {
        let mut conn = pool.acquire().await.map_err(sql::db_error)?;
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(name)
            .bind(ADMIT_LOCK_WAIT_SECONDS)
            .fetch_one(&mut *conn)
            .await
            .map_err(sql::db_error)?;
        if got != Some(1) {
            return Err(StoreError::backend(format!(
                "waited {ADMIT_LOCK_WAIT_SECONDS} s for another login's admission lock"
            )));
        }
        Ok(Self(Some(conn)))
    }

    pub(crate) async fn release(mut self, name: &str) {
        if let Some(mut conn) = self.0.take() {
            let released = sqlx::query("DO RELEASE_LOCK(?)")
                .bind(name)
                .execute(&mut *conn)
                .await;
            if released.is_err() {
                conn.close_on_drop();
            }
        }
    }
}

#[cfg(feature = "mysql")]
impl Drop for NamedLock {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.0 {
            conn.close_on_drop();
        }
    }
}
