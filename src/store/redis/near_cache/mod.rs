//! The near cache of the Redis store: copies of records in this process, kept coherent by
//! Redis's server-assisted client-side caching (`CLIENT TRACKING`, RESP3 invalidation pushes).
//!
//! One dedicated RESP3 connection has tracking on (default mode: Redis remembers the keys this
//! connection read, and pushes an invalidation when one changes). Every cached read goes
//! through it, so Redis tracks exactly the keys held here. Its pushes are applied by the
//! connection's reader as they arrive, in order with the replies behind them (redis-rs calls
//! the push sender inline), so a PONG is never seen before an invalidation sent ahead of it.
//! A heartbeat task PINGs that connection every quarter of the staleness bound, and a copy is
//! served only while the latest answered PING was sent no longer ago than the bound: a
//! connection that neither answers nor closes stops every hit within the bound.

mod cluster;
mod standalone;
mod state;
mod store_api;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};

use self::state::{Lookup, State};
use super::codec::{decode, hgetall, text};
use super::conn::{backend, Conn};
use crate::error::StoreError;
use crate::store::SessionRecord;

pub use self::state::NearCacheStats;

/// Bytes the copies may weigh unless [`NearCache::max_bytes`] says otherwise.
const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Reconnection attempts back off up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The settings of a [`RedisStore`](super::RedisStore)'s near cache: see
/// [`RedisStore::with_near_cache`](super::RedisStore::with_near_cache).
#[derive(Clone, Debug)]
pub struct NearCache {
    bound: Duration,
    max_bytes: usize,
}

impl NearCache {
    /// A near cache whose copies are never served more than `staleness_bound` after a change
    /// on another instance (plus one delivery of a message), even if the connection to Redis
    /// silently stops delivering; 64 MiB of copies at most. A zero bound is raised to 1 ms.
    pub fn new(staleness_bound: Duration) -> Self {
        Self {
            bound: staleness_bound.max(Duration::from_millis(1)),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// At most `bytes` of copies (the replies' fields and values, and the keys); the least
    /// recently used go first. A session larger than an eighth of it is never cached.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The staleness bound.
    pub fn staleness_bound(&self) -> Duration {
        self.bound
    }
}

/// The running near cache of one store (shared by its clones).
#[derive(Clone)]
pub(super) struct Near {
    shared: Arc<Shared>,
    /// The tracking connection's name in `CLIENT LIST`.
    name: Arc<str>,
}

/// Where the near cache's own connection goes.
#[derive(Clone)]
pub(super) enum Source {
    Standalone(redis::Client),
    /// The cluster's node URLs.
    Cluster(Vec<String>),
}

/// The near cache's own connection, which carries the store's commands while it serves.
#[derive(Clone)]
enum Tracking {
    Standalone(MultiplexedConnection),
    Cluster(ClusterConnection),
}

struct Shared {
    state: Mutex<State>,
    bound: Duration,
    /// The tracking connection and the epoch it serves. Set before the state takes the
    /// epoch, so a read the state sends here finds it; used only while the state is still at
    /// that epoch.
    conn: Mutex<Option<(u64, Tracking)>>,
    /// On a cluster: the masters the last good heartbeat round found, sorted.
    masters: Mutex<Option<Vec<String>>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic under the lock leaves no half-made change that matters: each step is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> MutexGuard<'_, Option<(u64, Tracking)>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `conn`, tracking on, serves `epoch` from now on (copies after its first answered round).
fn publish(shared: &Shared, epoch: u64, conn: Tracking) {
    *shared.conn() = Some((epoch, conn));
    shared.state().connected(epoch);
}

impl Near {
    /// Starts the cache: the tracking connection to `client`'s server and its heartbeat run
    /// in a task of the current Tokio runtime until the store's last clone is dropped. The
    /// first connection is made here, so a bad setting fails now.
    pub(super) async fn start(
        source: Source,
        config: &NearCache,
        name: String,
    ) -> Result<Self, StoreError> {
        let name: Arc<str> = name.into();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config.max_bytes)),
            bound: config.bound,
            conn: Mutex::new(None),
            masters: Mutex::new(None),
        });
        let weak = Arc::downgrade(&shared);
        match source {
            Source::Standalone(client) => {
                let client = standalone::resp3(&client)?;
                let conn = standalone::open(&client, &name, weak.clone(), 1).await?;
                publish(&shared, 1, Tracking::Standalone(conn.clone()));
                tokio::spawn(standalone::track(weak, client, Arc::clone(&name), conn));
            }
            Source::Cluster(nodes) => {
                let conn = cluster::open(&nodes, &name, weak.clone()).await?;
                publish(&shared, 1, Tracking::Cluster(conn.clone()));
                tokio::spawn(cluster::track(weak, Arc::clone(&name), conn));
            }
        }
        Ok(Self { shared, name })
    }

    /// Reads the record at `key`: from its copy, or through the tracking connection (keeping
    /// a copy), or, while no copy may be served, through `bypass` (the store's own
    /// connection).
    pub(super) async fn read<F, Fut>(
        &self,
        key: &str,
        bypass: F,
    ) -> Result<Option<SessionRecord>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, StoreError>>,
    {
        let lookup = self
            .shared
            .state()
            .lookup(key, Instant::now(), self.shared.bound);
        let ticket = match lookup {
            Lookup::Hit(record) => return Ok(Some(record)),
            Lookup::Bypass => return decode(bypass().await?),
            Lookup::Miss { ticket } => ticket,
        };
        let conn = self.live_conn();
        let ticket = Ticket {
            shared: &self.shared,
            key: key.to_owned(),
            ticket,
            open: true,
        };
        let Some(mut conn) = conn else {
            drop(ticket);
            return decode(bypass().await?);
        };
        let reply: Value = hgetall(&ticket.key)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let bytes = weight(&ticket.key, &reply);
        let record = decode(reply)?;
        ticket.offer(record.as_ref(), bytes);
        Ok(record)
    }

    /// This instance changed the record at `key`: its copy goes at once.
    pub(super) fn evict(&self, key: &str) {
        self.shared.state().invalidate(key);
    }

    /// Returns once every invalidation Redis sent before now has been applied: one round
    /// trip on the tracking connection (to every master of a cluster). A connection that
    /// fails it is dropped, with every copy.
    pub(super) async fn sync(&self) {
        let conn = self.shared.conn().clone();
        match conn {
            None => {}
            Some((epoch, Tracking::Standalone(conn))) => {
                standalone::sync(&self.shared, epoch, conn).await;
            }
            Some((epoch, Tracking::Cluster(conn))) => {
                cluster::sync(&self.shared, epoch, conn).await;
            }
        }
    }

    pub(super) fn stats(&self) -> NearCacheStats {
        self.shared.state().stats()
    }

    /// The tracking connection, while one is up: not once it failed (a disconnection push,
    /// a failed PING), even before the heartbeat task has replaced it.
    pub(super) fn live_conn(&self) -> Option<Conn> {
        let (epoch, conn) = self.shared.conn().clone()?;
        if self.shared.state().epoch() != epoch {
            return None;
        }
        Some(match conn {
            Tracking::Standalone(conn) => Conn::Tracked(conn),
            Tracking::Cluster(conn) => Conn::Cluster(conn),
        })
    }

    pub(super) fn client_name(&self) -> &str {
        &self.name
    }
}

/// A read in flight: its ticket is given up if the read fails or is dropped.
struct Ticket<'a> {
    shared: &'a Shared,
    key: String,
    ticket: u64,
    open: bool,
}

impl Ticket<'_> {
    fn offer(mut self, record: Option<&SessionRecord>, bytes: usize) {
        self.shared
            .state()
            .offer(&self.key, self.ticket, record, bytes);
        self.open = false;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.open {
            self.shared.state().abandon(&self.key, self.ticket);
        }
    }
}

/// What a copy weighs: the key, every field and value, and a little for the record itself.
fn weight(key: &str, reply: &Value) -> usize {
    let strings = match reply {
        Value::Map(pairs) => pairs.iter().map(|(f, v)| len(f) + len(v)).sum(),
        Value::Array(items) => items.iter().map(len).sum(),
        _ => 0,
    };
    key.len() + strings + 128
}

fn len(value: &Value) -> usize {
    match value {
        Value::BulkString(bytes) => bytes.len(),
        Value::SimpleString(text) => text.len(),
        _ => 8,
    }
}

/// Applies the tracking connection's pushes, inline in its reader.
struct Pushes {
    shared: Weak<Shared>,
    /// The epoch of the one connection these pushes come from; `None` for a cluster's node
    /// connections, whose pushes apply to the current epoch.
    epoch: Option<u64>,
}

impl AsyncPushSender for Pushes {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(SendError);
        };
        match info.kind {
            PushKind::Invalidate => {
                let mut state = shared.state();
                if self.epoch.is_some_and(|epoch| epoch != state.epoch()) {
                    return Ok(());
                }
                match info.data.into_iter().next() {
                    Some(Value::Array(keys)) => {
                        for key in keys {
                            match text(key) {
                                Some(key) => state.invalidate(&key),
                                None => state.flush(),
                            }
                        }
                    }
                    // A null key list: FLUSHALL or FLUSHDB. Anything else unknown: the same.
                    _ => state.flush(),
                }
            }
            PushKind::Disconnection => {
                let mut state = shared.state();
                let epoch = self.epoch.unwrap_or(state.epoch());
                state.disconnected(epoch);
            }
            _ => {}
        }
        Ok(())
    }
}
