//! The connections a SQL store keeps for the request path's statements.
//!
//! sqlx's pool pings every connection given back to it: dropping a `PoolConnection` spawns a
//! task that sends a ping and waits for the answer, and no pool setting turns that off. The
//! ping is there for a connection left mid-statement by a cancelled future. For a request
//! that runs one statement, it doubles the round trips the server answers and costs the app a
//! spawned task, about 8,300 instructions, close to half of the statement's own cost on the
//! client (the `postgres_ir` bench).
//!
//! So the statements every request runs (load, update, create, rotate; a logout's or a
//! revocation's delete or end too) go through lanes: pool connections the store keeps checked
//! out between statements. A lane is kept only after its statement finished, so the connection
//! is idle and in step with the server; a failed or cancelled statement drops its connection
//! back to the pool, which pings it as before.
//!
//! What the pool's owner still gets:
//! - the pool's size limit holds: a lane is a checked-out pool connection, and the store keeps
//!   at most half of `max_connections` idle (none with a pool of one), so the rest of the
//!   pool stays free for listings, cleanup and the app's own queries; and once the pool has
//!   no idle connection left, a finished statement's connection goes back to it, to whoever
//!   waits there, rather than into the store's list;
//! - a lane idle for over a second is pinged before use, as the pool checks its own idle
//!   connections (see [`sql::pool_options`](super::sql::pool_options)), and one older than the
//!   pool's `max_lifetime` goes back to it;
//! - `pool.close()` returns: a watcher task hands the idle lanes back once the pool closes.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Connection as _, Database, Executor, IntoArguments, Pool};
use tokio::task::JoinHandle;

/// A lane idle for longer than this is pinged before use (the pool's own rule).
const FRESH: Duration = Duration::from_secs(1);

/// A store's lanes; clones share them.
pub(crate) struct Lanes<DB: Database>(Arc<Mutex<Idle<DB>>>);

struct Idle<DB: Database> {
    lanes: Vec<IdleLane<DB>>,
    /// Hands the idle lanes back when the pool closes; spawned with the first idle lane, and
    /// again if its runtime went away.
    watcher: Option<JoinHandle<()>>,
}

struct IdleLane<DB: Database> {
    conn: PoolConnection<DB>,
    /// When it was taken from the pool, for the pool's `max_lifetime`.
    taken: Instant,
    since: Instant,
}

/// A connection lent to one statement: [`finish`](Self::finish) it once the statement has
/// succeeded to keep it for the next one; otherwise it goes back to the pool when dropped.
struct Lane<'a, DB: Database> {
    conn: Option<PoolConnection<DB>>,
    taken: Instant,
    lanes: &'a Lanes<DB>,
    pool: &'a Pool<DB>,
}

impl<DB: Database> Lanes<DB> {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(Idle {
            lanes: Vec::new(),
            watcher: None,
        })))
    }

    /// A connection for one statement: an idle lane, or else one from `pool`.
    async fn take<'a>(&'a self, pool: &'a Pool<DB>) -> Result<Lane<'a, DB>, sqlx::Error> {
        loop {
            let Some(idle) = self.idle().lanes.pop() else {
                break;
            };
            let mut conn = idle.conn;
            // A failed ping drops the connection, and the pool closes it.
            if idle.since.elapsed() <= FRESH || conn.ping().await.is_ok() {
                return Ok(self.lane(conn, idle.taken, pool));
            }
        }
        let conn = pool.acquire().await?;
        Ok(self.lane(conn, Instant::now(), pool))
    }

    /// Runs `query` on a lane: `execute`, as on a pool.
    pub(crate) async fn execute<'q, A>(
        &self,
        pool: &Pool<DB>,
        query: Query<'q, DB, A>,
    ) -> Result<DB::QueryResult, sqlx::Error>
    where
        A: IntoArguments<'q, DB> + 'q,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        let mut lane = self.take(pool).await?;
        let done = query.execute(&mut *lane).await?;
        lane.finish();
        Ok(done)
    }

    /// Runs `query` on a lane: `fetch_optional`, as on a pool.
    pub(crate) async fn fetch_optional<'q, A>(
        &self,
        pool: &Pool<DB>,
        query: Query<'q, DB, A>,
    ) -> Result<Option<DB::Row>, sqlx::Error>
    where
        A: IntoArguments<'q, DB> + 'q,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    {
        let mut lane = self.take(pool).await?;
        let row = query.fetch_optional(&mut *lane).await?;
        lane.finish();
        Ok(row)
    }

    fn lane<'a>(
        &'a self,
        conn: PoolConnection<DB>,
        taken: Instant,
        pool: &'a Pool<DB>,
    ) -> Lane<'a, DB> {
        Lane {
            conn: Some(conn),
            taken,
            lanes: self,
            pool,
        }
    }

    /// Keeps `conn`, whose statement finished, unless the store keeps enough already, the
    /// connection is past the pool's lifetime, or the pool is closing: then it goes back to
    /// the pool.
    fn keep(&self, conn: PoolConnection<DB>, taken: Instant, pool: &Pool<DB>) {
        let options = pool.options();
        let now = Instant::now();
        let expired = options
            .get_max_lifetime()
            .is_some_and(|lifetime| now.duration_since(taken) >= lifetime);
        if expired {
            return;
        }
        // Without a runtime nothing could spawn the watcher, nor give the lane back later.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let room = (options.get_max_connections() / 2) as usize;
        // A pool with no idle connection and no room to open one may have callers waiting
        // for a connection: they get this one, and the request path shares the pool fairly.
        let saturated = pool.size() >= options.get_max_connections() && pool.num_idle() == 0;
        let mut idle = self.idle();
        // `is_closed` is read under the lock that the watcher takes once the pool is marked
        // closed: a lane kept here is either seen closed or handed back by the watcher.
        if pool.is_closed() || saturated || idle.lanes.len() >= room {
            return;
        }
        idle.lanes.push(IdleLane {
            conn,
            taken,
            since: now,
        });
        if idle.watcher.as_ref().is_none_or(JoinHandle::is_finished) {
            idle.watcher = Some(runtime.spawn(watch(pool.clone(), Arc::downgrade(&self.0))));
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle<DB>> {
        // Pushes and pops cannot leave the list half-changed.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hands the idle lanes back to `pool` once it starts closing, so that `close` returns.
async fn watch<DB: Database>(pool: Pool<DB>, idle: Weak<Mutex<Idle<DB>>>) {
    let closed = pool.close_event();
    // The watcher must not keep the pool open on its own.
    drop(pool);
    closed.await;
    if let Some(idle) = idle.upgrade() {
        let lanes = std::mem::take(&mut idle.lock().unwrap_or_else(|e| e.into_inner()).lanes);
        drop(lanes);
    }
}

impl<DB: Database> Drop for Idle<DB> {
    fn drop(&mut self) {
        // A pool connection dropped outside a runtime would panic spawning its return to the
        // pool (the last store dropped after its runtime, say): detached, it just closes.
        if tokio::runtime::Handle::try_current().is_err() {
            for lane in self.lanes.drain(..) {
                drop(lane.conn.detach());
            }
        }
    }
}

impl<DB: Database> Clone for Lanes<DB> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<DB: Database> Lane<'_, DB> {
    /// Keeps the connection for the next statement: call it only once the statement has
    /// succeeded, so that the connection is known to be idle.
    fn finish(mut self) {
        if let Some(conn) = self.conn.take() {
            self.lanes.keep(conn, self.taken, self.pool);
        }
    }
}

impl<DB: Database> Deref for Lane<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.conn
            .as_ref()
            .expect("a lane holds its connection until finished")
    }
}

impl<DB: Database> DerefMut for Lane<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn
            .as_mut()
            .expect("a lane holds its connection until finished")
    }
}
