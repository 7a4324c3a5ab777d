//! The store contract, and the backends that fulfil it.
//!
//! A [`SessionStore`] keeps [`SessionRecord`]s under their [`TokenHash`]. The layer drives it
//! with at most one read and one write per request. Every backend passes the same
// The two items below exist only with their features: linked when built, plain text otherwise,
// so that docs built with fewer features show no unresolved link.
#![cfg_attr(feature = "conformance", doc = "[`conformance`]")]
#![cfg_attr(not(feature = "conformance"), doc = "`conformance`")]
//! suite (behind the `conformance` feature);
#![cfg_attr(feature = "memory-store", doc = "[`MemoryStore`]")]
#![cfg_attr(not(feature = "memory-store"), doc = "`MemoryStore`")]
//! is the reference.
//!
//! | operation | meaning |
//! |---|---|
//! | [`create`](SessionStore::create) | insert; fails with [`StoreError::Conflict`] if the key or id exists |
//! | [`load`](SessionStore::load) | one round trip; may return an expired record (the caller checks), never an ended one |
//! | [`update`](SessionStore::update) | apply a per-key [`SessionPatch`] only if the record still exists |
//! | [`rotate`](SessionStore::rotate) | atomically move a record to a new key (and patch it) |
//! | [`delete`](SessionStore::delete), [`delete_by_id`](SessionStore::delete_by_id) | idempotent |
//! | [`list_by_user`](SessionStore::list_by_user), [`count_by_user`](SessionStore::count_by_user), [`delete_by_user`](SessionStore::delete_by_user) | the per-user index |
//! | [`end`](SessionStore::end) | end sessions for a reason: delete them, or with retention mark them ended |
//! | [`delete_expired`](SessionStore::delete_expired) | purge, run by [`spawn_cleanup`] (after the retention period, if any) |
//! | [`query`](SessionStore::query) | admin listing by state, user and page |
//! | [`admit`](SessionStore::admit) | a login under [`SessionLimits`]: check, evict or refuse, and sign in, atomically |
//! | [`count_active`](SessionStore::count_active) | active signed-in sessions and users |

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

mod admission;
mod boxed;
mod cleanup;
#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redis"
))]
mod connect_error;
mod ending;
pub(crate) mod erased;
#[cfg(feature = "memory-store")]
mod memory;
mod record;
mod shared_keys;
mod timeout;
// SQL backends (`sql/`: what they share, then one module per engine, each behind its feature):
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub(crate) mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sql::InvalidTableName;
#[cfg(feature = "mysql")]
pub use sql::MySqlStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;
// end SQL backends
// Redis backend:
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(feature = "redis")]
pub use self::redis::{NearCache, NearCacheStats, RedisStore};
// end Redis backend

pub use admission::{
    admit_in_steps, ActiveCounts, Admission, Admitted, LimitReached, LockScope, Overflow,
    SessionLimits,
};
pub use boxed::BoxedStore;
pub use cleanup::spawn_cleanup;
pub use ending::{EndReason, EndTarget, Ended};
#[cfg(feature = "memory-store")]
pub use memory::MemoryStore;
pub use record::{SessionData, SessionPatch, SessionRecord, SessionTerms};
pub use timeout::TimeoutStore;

/// Which sessions an admin [`query`](SessionStore::query) returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionState {
    /// Sessions valid at the query's `now`.
    #[default]
    Active,
    /// Sessions past a deadline, or ended (on a store that retains ended sessions), but not
    /// yet purged: [`SessionRecord::end`] tells why and when each one stopped.
    Expired,
    /// Both.
    All,
}

/// An admin listing request: sessions by state and user, one page at a time.
#[derive(Clone, Debug)]
pub struct SessionQuery {
    /// Which sessions to return.
    pub state: SessionState,
    /// Only this user's sessions, when set.
    pub user: Option<String>,
    /// The instant that decides active against expired.
    pub now: SystemTime,
    /// Sessions to skip (after ordering by creation time, newest first, then id).
    pub offset: usize,
    /// At most this many sessions.
    pub limit: usize,
}

impl SessionQuery {
    /// Active sessions of everyone, first page of 100, as of now.
    pub fn active() -> Self {
        Self {
            state: SessionState::Active,
            user: None,
            now: SystemTime::now(),
            offset: 0,
            limit: 100,
        }
    }

    /// Whether `record` belongs in this query's result (ignoring paging).
    pub fn matches(&self, record: &SessionRecord) -> bool {
        let state = match self.state {
            SessionState::Active => record.is_active(self.now),
            SessionState::Expired => !record.is_active(self.now),
            SessionState::All => true,
        };
        state
            && self
                .user
                .as_deref()
                .is_none_or(|u| record.user.as_deref() == Some(u))
    }
}

/// A backend that keeps sessions: the contract every store implements.
///
/// Keys are [`TokenHash`]es, never tokens. Methods take `&self` and may be called
/// concurrently from many requests; each one is a single logical operation that must be atomic
/// with respect to the others on the same session.
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a new session. The record is passed by value so a store that keeps it in memory
    /// need not copy it.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if a session with this key or public id already exists (it is
    /// never overwritten); [`StoreError::Backend`] if the store cannot be reached.
    fn create(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a session by key, in one round trip. A store may return a record that is past its
    /// deadlines; the caller validates it. A session that was [`end`](Self::end)ed (and is kept
    /// for listing) is never returned: its key reads as unknown.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; an unknown key is `Ok(None)`.
    fn load(
        &self,
        key: &TokenHash,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    /// Reads a session by its public id, with the key it is stored under, in as few round trips
    /// as the backend allows: for a request that names its session by id, such as a JWT access
    /// token's `sid`. It returns what [`load`](Self::load) would return for that key: a record
    /// past its deadlines may be returned (the caller validates it), an [`end`](Self::end)ed
    /// one never is. After a [`rotate`](Self::rotate), the key is the new one.
    ///
    /// The key addresses the session in this store's own operations ([`update`](Self::update),
    /// [`rotate`](Self::rotate), [`end`](Self::end), …). A store that keys sessions on part of
    /// the hash may return only that part (the memory store keeps its first 128 bits and
    /// returns the rest zeroed), so the key is for this store, not for comparing with a
    /// token's hash.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; an unknown id is `Ok(None)`.
    fn load_by_id(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<(TokenHash, SessionRecord)>, StoreError>> + Send;

    /// Applies `patch` to the session under `key` if it still exists, returning whether it did.
    ///
    /// Data keys are changed one by one, so concurrent updates of different keys both persist,
    /// and a deleted or ended session is never brought back (`false`).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn update(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves the session under `old` to `new` and applies `patch`, atomically: afterwards
    /// exactly one of the two keys exists. Returns `false` (and changes nothing) if `old` is gone
    /// or ended.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if `new` exists; [`StoreError::Backend`] when the store fails.
    fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes the session under `key`, returning whether it existed. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn delete(&self, key: &TokenHash) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes the session with public id `id`, returning whether it existed. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn delete_by_id(&self, id: &SessionId)
        -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The sessions of `user` that are active at `now`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send;

    /// How many sessions of `user` are active at `now`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn count_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes every session of `user` except the one with id `except`, returning how many
    /// were deleted (expired ones included).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes every session past a deadline at `now`, returning how many. A store with a
    /// [`retention`](Self::retention) period `p` deletes instead the sessions that stopped
    /// being valid (a deadline passed, or they were [`end`](Self::end)ed) at or before
    /// `now - p`, ended ones included, and keeps the others for admins to list.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn delete_expired(
        &self,
        now: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Ends the sessions `target` names for `ended.reason`, returning how many it ended.
    ///
    /// Without retention (the default) this is [`delete`](Self::delete),
    /// [`delete_by_id`](Self::delete_by_id) or [`delete_by_user`](Self::delete_by_user). A
    /// store with a [`retention`](Self::retention) period instead marks each session that is
    /// not ended yet with `ended` ([`SessionRecord::ended`]), so it stays listable until
    /// [`delete_expired`](Self::delete_expired) purges it; from then on its token finds
    /// nothing (`load` returns `None`, `update` and `rotate` return `false`), it is never
    /// active, and no operation but a delete changes it again. The layer calls this for a
    /// logout, a revocation, an eviction and an expired session presented by a client.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn end(
        &self,
        target: EndTarget<'_>,
        ended: Ended,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = ended;
        async move {
            Ok(match target {
                EndTarget::Key(key) => u64::from(self.delete(key).await?),
                EndTarget::Id(id) => u64::from(self.delete_by_id(id).await?),
                EndTarget::User { user, except } => self.delete_by_user(user, except).await?,
            })
        }
    }

    /// How long this store keeps ended sessions, or `None` (the default) when ending a session
    /// deletes it. With a period `p`, [`delete_expired`](Self::delete_expired) at `now` purges
    /// the sessions that stopped being valid (by a deadline or an [`end`](Self::end)) at or
    /// before `now - p`.
    fn retention(&self) -> Option<Duration> {
        None
    }

    /// [`load`](Self::load) without waiting, for a store that can answer at once (it keeps
    /// sessions in this process's memory); `None` means "call `load`". The layer tries this
    /// first and so skips allocating `load`'s future. A store that returns `Some` must return
    /// what `load` would.
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        let _ = key;
        None
    }

    /// [`load_by_id`](Self::load_by_id) without waiting, as [`load_now`](Self::load_now):
    /// `None` means "call `load_by_id`"; `Some` must be what `load_by_id` would return.
    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        let _ = id;
        None
    }

    /// [`create`](Self::create) without waiting, as [`load_now`](Self::load_now); a store that
    /// cannot gives the record back (`Err`), and the layer calls `create`.
    ///
    /// # Errors
    /// `Err(record)` when the store cannot answer at once.
    #[allow(clippy::result_large_err)] // the record is handed back, not an error
    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        let _ = key;
        Err(record)
    }

    /// [`update`](Self::update) without waiting, as [`load_now`](Self::load_now); `None` means
    /// "call `update`".
    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        let _ = (key, patch);
        None
    }

    /// Admin listing: sessions matching `query`, newest first, one page.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn query(
        &self,
        query: &SessionQuery,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send;

    /// Signs `user` in by `admission` (a [`create`](Self::create) or a
    /// [`rotate`](Self::rotate)) under `limits`, as of `now`: reads the user's active sessions
    /// (and, with a total limit, the store's active signed-in count), lets
    /// [`SessionLimits::decide`] pick the sessions to evict or the limit that refuses, and
    /// deletes the evicted sessions and signs in, or changes nothing.
    ///
    /// All of it must be atomic with respect to every other `admit` of the same user (and,
    /// with a total limit, of every user): `n` logins racing with a limit of `k` leave at most
    /// `k` sessions. The default does the steps one after another, which keeps the limits only
    /// when logins of one user never race; every store of this crate overrides it, and the
    /// conformance suite checks the race.
    ///
    /// # Errors
    /// As [`create`](Self::create) or [`rotate`](Self::rotate); nothing changed then.
    fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> impl Future<Output = Result<Admitted, StoreError>> + Send {
        admission::admit_in_steps(self, user, admission, limits, now)
    }

    /// How many active signed-in sessions, and distinct users among them, the store holds at
    /// `now`: for dashboards and for the total limit. The default pages through
    /// [`query`](Self::query); a store that can count should.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    fn count_active(
        &self,
        now: SystemTime,
    ) -> impl Future<Output = Result<ActiveCounts, StoreError>> + Send {
        async move {
            const PAGE: usize = 1000;
            let mut counts = ActiveCounts::default();
            let mut users = std::collections::HashSet::new();
            let mut query = SessionQuery {
                now,
                limit: PAGE,
                ..SessionQuery::active()
            };
            loop {
                let page = self.query(&query).await?;
                for record in &page {
                    if let Some(user) = &record.user {
                        counts.sessions += 1;
                        users.insert(user.clone());
                    }
                }
                if page.len() < PAGE {
                    break;
                }
                query.offset += PAGE;
            }
            counts.users = users.len() as u64;
            Ok(counts)
        }
    }
}
