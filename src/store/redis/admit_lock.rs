//! The lease that makes an admission (a login under session caps) atomic on Redis: a key set
//! with `SET NX PX` by the admitting login and deleted by it, compare-and-delete, when done.
//!
//! A lease rather than one script: an admission reads the user's sessions, decides, signs in
//! and evicts, across keys in several cluster slots, which no single script may touch.

use std::sync::LazyLock;
use std::time::Duration;

use rand::Rng as _;
use redis::{Script, Value};

use super::conn::backend;
use super::script_call::ScriptCall;
use super::RedisStore;
use crate::error::StoreError;
use crate::store::LockScope;

/// How long a lease lives if its holder never releases it (a process that died, a request
/// dropped half-way). An admission's steps take milliseconds; this only bounds how long a
/// lost lease blocks the next login of the user.
const LEASE: Duration = Duration::from_secs(10);

/// How long a login waits for another login's lease before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Deletes the lease only if it is still this holder's.
///
/// `KEYS[1]` lease; `ARGV[1]` holder. Returns 1 when deleted.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end \
         return 0",
    )
});

/// A held lease; released when dropped (by a spawned task when not released in line).
pub(super) struct Lease {
    store: RedisStore,
    key: String,
    holder: String,
    released: bool,
}

impl Lease {
    /// Waits until this caller holds the lease of `scope`.
    pub(super) async fn take(store: &RedisStore, scope: LockScope<'_>) -> Result<Self, StoreError> {
        let key = store.keys.admit_lease(&scope.name(store.keys.prefix()));
        let mut holder = [0u8; 16];
        rand::rng().fill_bytes(&mut holder);
        let holder = hex::encode(holder);
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let set = store
                .query_cmd(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&holder)
                        .arg("NX")
                        .arg("PX")
                        .arg(LEASE.as_millis() as u64),
                )
                .await?;
            if !matches!(set, Value::Nil) {
                return Ok(Self {
                    store: store.clone(),
                    key,
                    holder,
                    released: false,
                });
            }
            if started.elapsed() >= PATIENCE {
                return Err(StoreError::backend(format!(
                    "waited {} s for another login's admission lease",
                    PATIENCE.as_secs()
                )));
            }
            // Another login of the same scope is admitting: it takes milliseconds.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Gives the lease up.
    pub(super) async fn release(mut self) {
        self.released = true;
        let _ = release(&self.store, &self.key, &self.holder).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        // Dropped half-way: release in the background, or let the lease expire.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, key, holder) = (
                self.store.clone(),
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.holder),
            );
            runtime.spawn(async move {
                let _ = release(&store, &key, &holder).await;
            });
        }
    }
}

async fn release(store: &RedisStore, key: &str, holder: &str) -> Result<(), StoreError> {
    let mut call = ScriptCall::new(&RELEASE, &[key]);
    call.arg(holder);
    call.run(&mut store.conn()).await.map(drop).map_err(backend)
}
