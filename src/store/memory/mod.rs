//! The in-memory store: the embedded default and the reference implementation of the contract.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use super::{
    ActiveCounts, Admission, Admitted, EndTarget, Ended, SessionLimits, SessionPatch, SessionQuery,
    SessionRecord, SessionStore,
};
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

mod entry;
mod table;
mod user_index;

use entry::{Entry, Millis};
use table::{Key, Table};

/// Sessions in this process's memory, behind one `RwLock`.
///
/// Cloning shares the same sessions. Nothing survives a restart and nothing is shared between
/// processes: use a database or Redis store for that. Expired sessions stay until
/// [`delete_expired`](SessionStore::delete_expired) runs, so start
/// [`spawn_cleanup`](crate::store::spawn_cleanup) in a long-running app.
///
/// Each session is kept compactly (timestamps as milliseconds, rarely-set fields boxed
/// together, sessions side by side in one vector with 4-byte indexes), about 200 bytes for an
/// idle session holding one small value; see the README for the measurement.
///
/// With [`with_retention`](Self::with_retention), ended sessions stay listed (marked with
/// their end) for a while; see [`SessionStore::end`].
///
/// The store's indexes grow by doubling, and each growth moves every entry while the write lock
/// is held, so every request waits for it: on the 2-core test machine (release build) about
/// 2 ms when the store passes 57,344 sessions, 33 ms at 917,504 and 55–67 ms at 1,835,008,
/// doubling with each step, and 152–716 ms there when every session has a user of its own
/// (the user index grows at the same steps). An app that expects many sessions can make room
/// for them up front with [`with_capacity`](Self::with_capacity). A purge
/// ([`delete_expired`](SessionStore::delete_expired)) works in steps that let requests in
/// between.
#[derive(Clone, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
pub struct MemoryStore {
    table: Arc<RwLock<Table>>,
    retention: Option<Duration>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.len())
            .field("retention", &self.retention)
            .finish()
    }
}

impl MemoryStore {
    /// An empty store; the same as `MemoryStore::default()`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward::{store::{spawn_cleanup, MemoryStore}, SessionLayer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = MemoryStore::new();
    /// assert!(store.is_empty());
    /// // Purges expired sessions every five minutes (until `_cleanup.abort()`).
    /// let _cleanup = spawn_cleanup(store.clone(), Duration::from_secs(300));
    /// let layer = SessionLayer::new(store);
    /// # let _ = layer;
    /// # }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with room for `sessions` sessions before its indexes grow, so that it
    /// never pauses to rehash them below that many (see above). The room is kept: a purge by
    /// [`delete_expired`](SessionStore::delete_expired) gives back memory above it, never
    /// below.
    ///
    /// The room is address space: made at once, it costs about 6 bytes of memory per session
    /// of room (the indexes' control bytes, written when they are made); the rest becomes
    /// memory as sessions fill it. Room for sessions is room for as many users. Measured on
    /// the test machine: `with_capacity(1_000_000)` grew the process by 6.3 MB; filling a
    /// store made with room for 2,000,000, no create took over 2 ms, where one without the
    /// room paused 55–716 ms at 1,835,008.
    ///
    /// ```
    /// use sessionward::{store::MemoryStore, SessionLayer};
    ///
    /// let store = MemoryStore::with_capacity(1_000_000);
    /// assert!(store.is_empty());
    /// let layer = SessionLayer::new(store);
    /// # let _ = layer;
    /// ```
    pub fn with_capacity(sessions: usize) -> Self {
        Self {
            table: Arc::new(RwLock::new(Table::with_capacity(sessions))),
            retention: None,
        }
    }

    /// Keeps ended sessions (logged out, revoked, evicted, or expired) for `period`, marked
    /// with why and when they ended, so that admins can list them;
    /// [`delete_expired`](SessionStore::delete_expired) purges them once `period` has passed.
    /// Off by default (ending a session deletes it); a zero `period` turns it off. Applies to
    /// this handle and its clones made afterwards.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward::store::{MemoryStore, SessionStore};
    ///
    /// let store = MemoryStore::new().with_retention(Duration::from_secs(86_400));
    /// assert_eq!(store.retention(), Some(Duration::from_secs(86_400)));
    /// ```
    #[must_use]
    pub fn with_retention(mut self, period: Duration) -> Self {
        self.retention = (!period.is_zero()).then_some(period);
        self
    }

    /// Number of sessions held, expired and ended ones included.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // No operation panics while holding the lock, so a poisoned lock still holds a
        // consistent table.
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live session `id` names, with its key.
    fn by_id(&self, id: &SessionId) -> Option<(TokenHash, SessionRecord)> {
        let table = self.read();
        table
            .get_by_id(id)
            .and_then(|(key, entry)| live(entry).map(|record| (key.to_hash(), record)))
    }
}

/// Slots a purge step looks at, under the read lock; it holds the write lock only to remove
/// what it found. Shorter steps measured worse: the purge then retakes the lock more often
/// before a waiting request wakes.
const PURGE_BATCH: usize = 4096;

/// The record of an entry that was not ended: an ended session's token finds nothing.
fn live(entry: &Entry) -> Option<SessionRecord> {
    (!entry.is_ended()).then(|| entry.to_record())
}

/// The instant before which sessions that stopped being valid are purged at `now`.
fn purge_before(now: SystemTime, retention: Option<Duration>) -> Millis {
    let cutoff = retention.map_or(Some(now), |period| now.checked_sub(period));
    Millis::from_system(cutoff.unwrap_or(SystemTime::UNIX_EPOCH))
}

fn newest_first(records: &mut [SessionRecord]) {
    records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}

impl SessionStore for MemoryStore {
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        let entry = Entry::from_record(record);
        let key = Key::of(key);
        let refused = self.write().insert(key, entry);
        // A refused entry is dropped after the lock is released.
        refused.map_err(|_| StoreError::Conflict)
    }

    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.read().get(&Key::of(key)).and_then(live))
    }

    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        Ok(self.by_id(id))
    }

    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        Ok(self
            .write()
            .modify(&Key::of(key), |entry| entry.apply(patch)))
    }

    // Everything here happens under a lock, at once: no future needed.
    fn load_now(&self, key: &TokenHash) -> Option<Result<Option<SessionRecord>, StoreError>> {
        Some(Ok(self.read().get(&Key::of(key)).and_then(live)))
    }

    fn load_by_id_now(
        &self,
        id: &SessionId,
    ) -> Option<Result<Option<(TokenHash, SessionRecord)>, StoreError>> {
        Some(Ok(self.by_id(id)))
    }

    fn create_now(
        &self,
        key: &TokenHash,
        record: SessionRecord,
    ) -> Result<Result<(), StoreError>, SessionRecord> {
        let entry = Entry::from_record(record);
        let refused = self.write().insert(Key::of(key), entry);
        // A refused entry is dropped after the lock is released.
        Ok(refused.map(drop).map_err(|_| StoreError::Conflict))
    }

    fn update_now(
        &self,
        key: &TokenHash,
        patch: &SessionPatch,
    ) -> Option<Result<bool, StoreError>> {
        Some(Ok(self
            .write()
            .modify(&Key::of(key), |entry| entry.apply(patch))))
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        let (old, new) = (Key::of(old), Key::of(new));
        let mut table = self.write();
        if table.get(&new).is_some() {
            return Err(StoreError::Conflict);
        }
        if table.get(&old).is_some_and(Entry::is_ended) || !table.rekey(&old, new) {
            return Ok(false);
        }
        table.modify(&new, |entry| entry.apply(patch));
        Ok(true)
    }

    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        Ok(self.write().remove(&Key::of(key)).is_some())
    }

    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.write().remove_id(id).is_some())
    }

    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let now = Millis::from_system(now);
        let mut records: Vec<_> = self
            .read()
            .user_entries(user)
            .filter(|e| e.is_active(now))
            .map(Entry::to_record)
            .collect();
        newest_first(&mut records);
        Ok(records)
    }

    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        let now = Millis::from_system(now);
        let count = self
            .read()
            .user_entries(user)
            .filter(|e| e.is_active(now))
            .count();
        Ok(count as u64)
    }

    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        let mut table = self.write();
        let mut deleted = 0;
        // From the end of the user's list: each removal then moves no other id in it.
        for id in table.user_ids(user).into_iter().rev() {
            if Some(&id) != except && table.remove_id(&id).is_some() {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Purges in steps of a few thousand sessions: each step looks under the read lock, which
    /// requests share, and takes the write lock only to remove what it found, so a store of a
    /// million sessions never holds its requests for the whole purge.
    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        // Without retention: every session past a deadline (`deadline <= now`).
        let cutoff = purge_before(now, self.retention);
        let doomed = |e: &Entry| e.deadline() <= cutoff;
        let (mut deleted, mut end) = (0, usize::MAX);
        loop {
            let (keys, next) = self.read().doomed_below(end, PURGE_BATCH, doomed);
            let mut removed = Vec::with_capacity(keys.len());
            if !keys.is_empty() || next.is_none() {
                let mut table = self.write();
                for key in &keys {
                    // Looked at again: a request may have renewed the session meanwhile.
                    if table.get(key).is_some_and(doomed) {
                        removed.extend(table.remove(key));
                    }
                }
                if next.is_none() {
                    table.shrink_if_sparse();
                }
            }
            deleted += removed.len() as u64;
            // The sessions' data is freed outside the lock.
            drop(removed);
            let Some(next) = next else {
                return Ok(deleted);
            };
            end = next;
            tokio::task::yield_now().await;
        }
    }

    async fn end(&self, target: EndTarget<'_>, ended: Ended) -> Result<u64, StoreError> {
        if self.retention.is_none() {
            return Ok(match target {
                EndTarget::Key(key) => u64::from(self.delete(key).await?),
                EndTarget::Id(id) => u64::from(self.delete_by_id(id).await?),
                EndTarget::User { user, except } => self.delete_by_user(user, except).await?,
            });
        }
        let mut table = self.write();
        Ok(match target {
            EndTarget::Key(key) => u64::from(table.end(&Key::of(key), ended)),
            EndTarget::Id(id) => u64::from(table.end_id(id, ended)),
            EndTarget::User { user, except } => {
                let mut count = 0;
                for id in table.user_ids(user) {
                    if Some(&id) != except && table.end_id(&id, ended) {
                        count += 1;
                    }
                }
                count
            }
        })
    }

    fn retention(&self) -> Option<Duration> {
        self.retention
    }

    async fn admit(
        &self,
        user: &str,
        admission: Admission<'_>,
        limits: &SessionLimits,
        now: SystemTime,
    ) -> Result<Admitted, StoreError> {
        let at = Millis::from_system(now);
        // One write lock for the whole decision: logins of any user take turns.
        let mut table = self.write();
        let (current, was_signed_in) = match &admission {
            Admission::Create { key, .. } => {
                if table.get(&Key::of(key)).is_some() {
                    return Err(StoreError::Conflict);
                }
                (None, false)
            }
            Admission::Rotate { old, new, .. } => {
                if table.get(&Key::of(new)).is_some() {
                    return Err(StoreError::Conflict);
                }
                let Some(entry) = table.get(&Key::of(old)).filter(|e| !e.is_ended()) else {
                    return Ok(Admitted::Gone);
                };
                (
                    Some(entry.id),
                    entry.user().is_some() && entry.is_active(at),
                )
            }
        };
        let mine: Vec<SessionRecord> = table
            .user_entries(user)
            .filter(|e| e.is_active(at))
            .map(Entry::to_record)
            .collect();
        let total = match limits.total {
            Some(_) => table.count_active(at).sessions,
            None => 0,
        };
        let evict = match limits.decide(&mine, current.as_ref(), was_signed_in, total) {
            Ok(evict) => evict,
            Err(limit) => return Ok(Admitted::Refused(limit)),
        };
        match admission {
            Admission::Create { key, record } => {
                if table
                    .insert(Key::of(key), Entry::from_record(record))
                    .is_err()
                {
                    return Err(StoreError::Conflict);
                }
            }
            Admission::Rotate { old, new, patch } => {
                let new = Key::of(new);
                table.rekey(&Key::of(old), new);
                table.modify(&new, |entry| entry.apply(patch));
            }
        }
        let evicted_at = Ended::new(now, super::EndReason::Evicted);
        let evicted = evict
            .into_iter()
            .filter(|record| match self.retention {
                Some(_) => table.end_id(&record.id, evicted_at),
                None => table.remove_id(&record.id).is_some(),
            })
            .cloned()
            .collect();
        Ok(Admitted::SignedIn { evicted })
    }

    async fn count_active(&self, now: SystemTime) -> Result<ActiveCounts, StoreError> {
        Ok(self.read().count_active(Millis::from_system(now)))
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        let table = self.read();
        let mut records: Vec<SessionRecord> = match &query.user {
            Some(user) => table.user_entries(user).map(Entry::to_record).collect(),
            None => table.entries().map(Entry::to_record).collect(),
        };
        drop(table);
        records.retain(|r| query.matches(r));
        newest_first(&mut records);
        Ok(records
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect())
    }
}
