//! The in-memory store: the embedded default and the reference implementation of the contract.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::record::Entry as DataEntry;
use super::{SessionData, SessionPatch, SessionQuery, SessionRecord, SessionStore};
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

/// Sessions in this process's memory, behind one `RwLock`.
///
/// Cloning shares the same sessions. Nothing survives a restart and nothing is shared between
/// processes: use a database or Redis store for that. Expired sessions stay until
/// [`delete_expired`](SessionStore::delete_expired) runs, so start
/// [`spawn_cleanup`](crate::store::spawn_cleanup) in a long-running app.
///
/// Each session is kept compactly (timestamps as milliseconds, rarely-set fields boxed
/// together), about 250 bytes for an idle session holding one small value; see the README for
/// the measurement.
#[derive(Clone, Default)]
pub struct MemoryStore {
    maps: Arc<RwLock<Maps>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.read().by_key.len())
            .finish()
    }
}

/// Token hashes and public ids are uniformly random already (a SHA-256 output, or CSPRNG
/// bytes), and clients cannot choose them, so their first eight bytes are a perfect hash and
/// flooding is impossible. This saves a SipHash per lookup.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut prefix = [0u8; 8];
        let n = bytes.len().min(8);
        prefix[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(prefix);
    }
}

/// The first 128 bits of a token hash: the memory store's key.
///
/// Finding another token whose SHA-256 starts with the same 128 bits is a second-preimage
/// search of 2^128 work, as infeasible as guessing a token, and an accidental clash among
/// 2^32 sessions has odds of 2^-64. Half the key size keeps an idle session under 300 bytes.
/// Key wrappers hash their raw bytes only (no length prefix), for [`PrefixHasher`].
#[derive(PartialEq, Eq, Clone, Copy)]
struct KeyBytes([u8; 16]);

impl KeyBytes {
    fn of(hash: &TokenHash) -> Self {
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash.0[..16]);
        Self(key)
    }
}
impl Hash for KeyBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}
#[derive(PartialEq, Eq, Clone, Copy)]
struct IdBytes([u8; 16]);
impl Hash for IdBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

type Prefix = BuildHasherDefault<PrefixHasher>;

#[derive(Default)]
struct Maps {
    by_key: HashMap<KeyBytes, Entry, Prefix>,
    by_id: HashMap<IdBytes, KeyBytes, Prefix>,
    by_user: HashMap<Box<str>, Vec<SessionId>>,
}

/// One session, compact: most sessions are anonymous with a value or two.
struct Entry {
    id: SessionId,
    created_at: Millis,
    last_seen_at: Millis,
    expires_at: Millis,
    idle_expires_at: Millis,
    /// Shared with the records `load` hands out, so a read copies no data.
    data: Arc<[DataEntry]>,
    /// User and client details: `None` for the common anonymous session without them.
    extra: Option<Box<Extra>>,
}

struct Extra {
    user: Option<Box<str>>,
    user_agent: Option<Box<str>>,
    ip: Option<IpAddr>,
}

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Millis(u64);

impl Millis {
    fn from_system(t: SystemTime) -> Self {
        let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        Self(u64::try_from(ms).unwrap_or(u64::MAX))
    }
    fn to_system(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

impl Entry {
    fn from_record(record: SessionRecord) -> Self {
        let extra = (record.user.is_some() || record.user_agent.is_some() || record.ip.is_some())
            .then(|| {
                Box::new(Extra {
                    user: record.user.map(String::into_boxed_str),
                    user_agent: record.user_agent.map(String::into_boxed_str),
                    ip: record.ip,
                })
            });
        Self {
            id: record.id,
            created_at: Millis::from_system(record.created_at),
            last_seen_at: Millis::from_system(record.last_seen_at),
            expires_at: Millis::from_system(record.expires_at),
            idle_expires_at: Millis::from_system(record.idle_expires_at),
            data: record.data.into_shared(),
            extra,
        }
    }

    fn to_record(&self) -> SessionRecord {
        let extra = self.extra.as_deref();
        SessionRecord {
            id: self.id,
            user: self.user().map(str::to_owned),
            data: SessionData::from_shared(Arc::clone(&self.data)),
            created_at: self.created_at.to_system(),
            last_seen_at: self.last_seen_at.to_system(),
            expires_at: self.expires_at.to_system(),
            idle_expires_at: self.idle_expires_at.to_system(),
            user_agent: extra.and_then(|e| e.user_agent.as_deref().map(str::to_owned)),
            ip: extra.and_then(|e| e.ip),
        }
    }

    fn user(&self) -> Option<&str> {
        self.extra.as_deref().and_then(|e| e.user.as_deref())
    }

    fn is_active(&self, now: Millis) -> bool {
        now < self.expires_at.min(self.idle_expires_at)
    }

    /// Applies `patch`, returning the user before it when the patch changed the user.
    fn apply(&mut self, patch: &SessionPatch) -> Option<Option<Box<str>>> {
        if !patch.data.is_empty() {
            let mut data = SessionData::from_shared(Arc::clone(&self.data));
            for (key, value) in &patch.data {
                match value {
                    Some(value) => data.insert_raw(key, value.clone()),
                    None => {
                        data.remove(key);
                    }
                }
            }
            self.data = data.into_shared();
        }
        let mut previous_user = None;
        if let Some(user) = &patch.user {
            if self.user() != user.as_deref() {
                let extra = self.extra.get_or_insert_with(|| {
                    Box::new(Extra {
                        user: None,
                        user_agent: None,
                        ip: None,
                    })
                });
                previous_user = Some(std::mem::replace(
                    &mut extra.user,
                    user.as_deref().map(Into::into),
                ));
            }
        }
        if let Some(at) = patch.last_seen_at {
            self.last_seen_at = Millis::from_system(at);
        }
        if let Some(at) = patch.idle_expires_at {
            self.idle_expires_at = Millis::from_system(at);
        }
        if let Some(at) = patch.expires_at {
            self.expires_at = Millis::from_system(at);
        }
        previous_user
    }
}

impl Maps {
    fn index_user(&mut self, user: Option<&str>, id: SessionId) {
        if let Some(user) = user {
            self.by_user.entry(user.into()).or_default().push(id);
        }
    }

    fn unindex_user(&mut self, user: Option<&str>, id: &SessionId) {
        let Some(user) = user else { return };
        if let Some(ids) = self.by_user.get_mut(user) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    fn remove_key(&mut self, key: &KeyBytes) -> Option<Entry> {
        let entry = self.by_key.remove(key)?;
        self.by_id.remove(&IdBytes(entry.id.0));
        self.unindex_user(entry.user(), &entry.id);
        Some(entry)
    }

    fn user_entries<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(&IdBytes(id.0)))
            .filter_map(|key| self.by_key.get(key))
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of sessions held, expired ones included.
    pub fn len(&self) -> usize {
        self.read().by_key.len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        // No operation panics while holding the lock, so a poisoned lock still holds
        // consistent maps.
        self.maps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn newest_first(records: &mut [SessionRecord]) {
    records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}

impl SessionStore for MemoryStore {
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        let entry = Entry::from_record(record);
        let mut maps = self.write();
        let key = KeyBytes::of(key);
        let id = IdBytes(entry.id.0);
        if maps.by_key.contains_key(&key) || maps.by_id.contains_key(&id) {
            return Err(StoreError::Conflict);
        }
        maps.index_user(entry.user(), entry.id);
        maps.by_id.insert(id, key);
        maps.by_key.insert(key, entry);
        Ok(())
    }

    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .read()
            .by_key
            .get(&KeyBytes::of(key))
            .map(Entry::to_record))
    }

    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        let mut maps = self.write();
        let Some(entry) = maps.by_key.get_mut(&KeyBytes::of(key)) else {
            return Ok(false);
        };
        if let Some(previous) = entry.apply(patch) {
            let (id, user) = (entry.id, entry.user().map(Box::<str>::from));
            maps.unindex_user(previous.as_deref(), &id);
            maps.index_user(user.as_deref(), id);
        }
        Ok(true)
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        let mut maps = self.write();
        let (old, new) = (KeyBytes::of(old), KeyBytes::of(new));
        if maps.by_key.contains_key(&new) {
            return Err(StoreError::Conflict);
        }
        let Some(mut entry) = maps.by_key.remove(&old) else {
            return Ok(false);
        };
        if let Some(previous) = entry.apply(patch) {
            maps.unindex_user(previous.as_deref(), &entry.id);
            maps.index_user(entry.user(), entry.id);
        }
        maps.by_id.insert(IdBytes(entry.id.0), new);
        maps.by_key.insert(new, entry);
        Ok(true)
    }

    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        Ok(self.write().remove_key(&KeyBytes::of(key)).is_some())
    }

    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        let mut maps = self.write();
        let Some(key) = maps.by_id.get(&IdBytes(id.0)).copied() else {
            return Ok(false);
        };
        Ok(maps.remove_key(&key).is_some())
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
        let mut maps = self.write();
        let keys: Vec<KeyBytes> = maps
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter(|id| Some(*id) != except)
            .filter_map(|id| maps.by_id.get(&IdBytes(id.0)).copied())
            .collect();
        let mut deleted = 0;
        for key in keys {
            deleted += u64::from(maps.remove_key(&key).is_some());
        }
        Ok(deleted)
    }

    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        let now = Millis::from_system(now);
        let mut maps = self.write();
        let expired: Vec<KeyBytes> = maps
            .by_key
            .iter()
            .filter(|(_, e)| !e.is_active(now))
            .map(|(k, _)| *k)
            .collect();
        for key in &expired {
            maps.remove_key(key);
        }
        // Give memory back after a large purge, so a burst of sessions does not pin its peak.
        if maps.by_key.capacity() > 4 * maps.by_key.len().max(1024) {
            maps.by_key.shrink_to_fit();
            maps.by_id.shrink_to_fit();
        }
        Ok(expired.len() as u64)
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        let maps = self.read();
        let mut records: Vec<SessionRecord> = match &query.user {
            Some(user) => maps.user_entries(user).map(Entry::to_record).collect(),
            None => maps.by_key.values().map(Entry::to_record).collect(),
        };
        drop(maps);
        records.retain(|r| query.matches(r));
        newest_first(&mut records);
        Ok(records
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect())
    }
}
