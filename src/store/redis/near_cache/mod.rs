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

mod state;
mod store_api;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};

use self::state::{Lookup, State};
use super::codec::{decode, text};
use super::conn::backend;
use super::{CONNECTION_TIMEOUT, RESPONSE_TIMEOUT};
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

struct Shared {
    state: Mutex<State>,
    bound: Duration,
    /// The live tracking connection and its epoch. Set before the state takes the epoch, and
    /// cleared after the state drops it, so a read the state sent here finds a connection.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic under the lock leaves no half-made change that matters: each step is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> MutexGuard<'_, Option<(u64, MultiplexedConnection)>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Near {
    /// Starts the cache: the tracking connection to `client`'s server and its heartbeat run
    /// in a task of the current Tokio runtime until the store's last clone is dropped. The
    /// first connection is made here, so a bad setting fails now.
    pub(super) async fn start(
        client: redis::Client,
        config: &NearCache,
        name: String,
    ) -> Result<Self, StoreError> {
        let name: Arc<str> = name.into();
        // Invalidations are RESP3 pushes: the tracking connection speaks RESP3 whatever the
        // store's own connection does.
        let info = client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings)).map_err(backend)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config.max_bytes)),
            bound: config.bound,
            conn: Mutex::new(None),
        });
        let conn = open(&client, &name, Arc::downgrade(&shared), 1).await?;
        publish(&shared, 1, conn.clone());
        let weak = Arc::downgrade(&shared);
        tokio::spawn(track(weak, client, Arc::clone(&name), conn));
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
        let reply: Value = redis::cmd("HGETALL")
            .arg(&ticket.key)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let bytes = weight(&ticket.key, &reply);
        let record = decode(reply)?;
        ticket.offer(record.as_ref(), bytes);
        Ok(record)
    }

    /// This instance changed the record at `key`: its copy goes at once (Redis's invalidation
    /// follows, on another socket, a moment later).
    pub(super) fn evict(&self, key: &str) {
        self.shared.state().invalidate(key);
    }

    /// Returns once every invalidation Redis sent before now has been applied: one PING
    /// round trip on the tracking connection. A connection that fails it is dropped, with
    /// every copy.
    pub(super) async fn sync(&self) {
        let conn = self.shared.conn().clone();
        let Some((epoch, mut conn)) = conn else {
            return;
        };
        let sent = Instant::now();
        match redis::cmd("PING").query_async::<Value>(&mut conn).await {
            Ok(_) => self.shared.state().ponged(epoch, sent),
            Err(_) => self.shared.state().disconnected(epoch),
        }
    }

    pub(super) fn stats(&self) -> NearCacheStats {
        self.shared.state().stats()
    }

    /// The tracking connection, while one is up: not once it failed (a disconnection push,
    /// a failed PING), even before the heartbeat task has replaced it.
    pub(super) fn live_conn(&self) -> Option<MultiplexedConnection> {
        let (epoch, conn) = self.shared.conn().clone()?;
        (self.shared.state().epoch() == epoch).then_some(conn)
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

/// Opens a tracking connection for `epoch`: RESP3, pushes applied to `shared`, tracking on
/// before it is used for anything.
async fn open(
    client: &redis::Client,
    name: &str,
    shared: Weak<Shared>,
    epoch: u64,
) -> Result<MultiplexedConnection, StoreError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECTION_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_push_sender(Pushes { shared, epoch });
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(backend)?;
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async::<()>(&mut conn)
        .await
        .map_err(backend)?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        // This instance's own writes go through this connection and drop its copies
        // themselves: Redis need not echo them back.
        .arg("NOLOOP")
        .query_async::<()>(&mut conn)
        .await
        .map_err(backend)?;
    Ok(conn)
}

/// `conn`, tracking on, serves `epoch` from now on (copies after its first PONG).
fn publish(shared: &Shared, epoch: u64, conn: MultiplexedConnection) {
    *shared.conn() = Some((epoch, conn));
    shared.state().connected(epoch);
}

/// The heartbeat of the live connection, and a new connection whenever it is lost; ends when
/// the store is gone.
async fn track(
    shared: Weak<Shared>,
    client: redis::Client,
    name: Arc<str>,
    first: MultiplexedConnection,
) {
    let mut epoch = 1;
    let mut conn = Some(first);
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Some(live) = conn.take() {
            backoff = Duration::from_millis(50);
            heartbeat(&shared, live, epoch).await;
            let Some(strong) = shared.upgrade() else {
                return;
            };
            strong.state().disconnected(epoch);
            *strong.conn() = None;
        }
        epoch += 1;
        match open(&client, &name, shared.clone(), epoch).await {
            Ok(live) => {
                let Some(strong) = shared.upgrade() else {
                    return;
                };
                publish(&strong, epoch, live.clone());
                conn = Some(live);
            }
            Err(_) => {
                if shared.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// PINGs `conn` every quarter of the bound, moving the fence on each PONG; returns when the
/// connection fails, is judged dead, or the store is gone.
async fn heartbeat(shared: &Weak<Shared>, mut conn: MultiplexedConnection, epoch: u64) {
    let Some(bound) = shared.upgrade().map(|s| s.bound) else {
        return;
    };
    let mut ticker = tokio::time::interval((bound / 4).max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match shared.upgrade() {
            Some(strong) if strong.state().epoch() == epoch => {}
            // Gone, or a disconnection push already ended this connection.
            _ => return,
        }
        let sent = Instant::now();
        let pong = redis::cmd("PING").query_async::<Value>(&mut conn).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        match pong {
            Ok(_) => strong.state().ponged(epoch, sent),
            Err(_) => return,
        }
    }
}

/// Applies the tracking connection's pushes, inline in its reader.
struct Pushes {
    shared: Weak<Shared>,
    epoch: u64,
}

impl AsyncPushSender for Pushes {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(SendError);
        };
        match info.kind {
            PushKind::Invalidate => {
                let mut state = shared.state();
                if state.epoch() != self.epoch {
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
            PushKind::Disconnection => shared.state().disconnected(self.epoch),
            _ => {}
        }
        Ok(())
    }
}
