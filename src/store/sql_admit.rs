//! What makes an admission (a login under session caps) atomic on the network SQL stores: a
//! database lock held around the admission's steps, taken on a small pool of its own.
//!
//! Why a pool of its own: the login that holds the lock needs further connections for its
//! steps. If the logins waiting for the lock held connections of the store's pool, enough of
//! them could take the whole pool and the holder would wait for ever.

use std::sync::{Arc, OnceLock};

use sqlx::pool::PoolOptions;
use sqlx::{Database, Pool};

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
