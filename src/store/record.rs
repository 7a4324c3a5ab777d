//! What a store keeps for one session, and the changes a request makes to it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::value::RawValue;

use super::ending::{EndReason, Ended};
use super::shared_keys::shared_key;
use crate::token::SessionId;

/// One session as a store keeps it (without its key, the token hash).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// Public, non-secret id; stable across token rotation.
    pub id: SessionId,
    /// The signed-in user, or `None` for an anonymous session.
    pub user: Option<String>,
    /// Application data, one JSON value per key.
    pub data: SessionData,
    /// When the session was created.
    pub created_at: SystemTime,
    /// When activity was last recorded (renewals are throttled; see the crate docs).
    pub last_seen_at: SystemTime,
    /// Absolute deadline: counted from login (or creation), never extended.
    pub expires_at: SystemTime,
    /// Idle deadline: `last_seen_at + idle timeout`, capped at `expires_at`.
    pub idle_expires_at: SystemTime,
    /// `User-Agent` of the request that created the session, if any.
    pub user_agent: Option<String>,
    /// Client IP of the request that created the session, if known.
    pub ip: Option<IpAddr>,
    /// The timeouts a [`TimeoutPolicy`](crate::TimeoutPolicy) chose at login, or `None` for
    /// the layer's own.
    pub terms: Option<SessionTerms>,
    /// When and why the session was ended (logged out, revoked, evicted, or expired and seen),
    /// on a store that retains ended sessions; `None` for a session nobody ended. An ended
    /// session is never active again: see [`end`](Self::end) for the reason a listing shows.
    pub ended: Option<Ended>,
}

/// What a [`TimeoutPolicy`](crate::TimeoutPolicy) granted one session at login, kept with it
/// so that every instance sharing the store renews it the same way. The absolute deadline
/// needs no place here: it is [`SessionRecord::expires_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTerms {
    /// This session's idle timeout, in place of the layer's. Stores keep whole milliseconds.
    pub idle_timeout: Duration,
    /// Whether its cookie outlives the browser session, in place of the layer's
    /// [`CookieConfig::persistent`](crate::CookieConfig::persistent).
    pub persistent: bool,
}

impl SessionTerms {
    /// The idle timeout in whole milliseconds, as stores keep it.
    pub fn idle_timeout_millis(&self) -> u64 {
        u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

impl SessionRecord {
    /// When this session stops being valid: the earlier of the two deadlines, or its end if
    /// it was ended before them.
    pub fn deadline(&self) -> SystemTime {
        let deadline = self.expires_at.min(self.idle_expires_at);
        self.ended.map_or(deadline, |ended| ended.at.min(deadline))
    }

    /// Why and when this session stopped being valid, if it has by `now`: the first of its
    /// [`ended`](Self::ended) mark and its two deadlines. A session that expired and was then
    /// revoked shows as expired. This is what an admin listing of ended sessions shows, also
    /// for an expired session that nobody presented (and so nobody marked) since.
    pub fn end(&self, now: SystemTime) -> Option<Ended> {
        if self.is_active(now) {
            return None;
        }
        let expiry = if self.idle_expires_at < self.expires_at {
            Ended::new(self.idle_expires_at, EndReason::ExpiredIdle)
        } else {
            Ended::new(self.expires_at, EndReason::ExpiredAbsolute)
        };
        Some(match self.ended {
            Some(ended) if ended.at <= expiry.at => ended,
            _ => expiry,
        })
    }

    /// Whether the session is still valid at `now`.
    pub fn is_active(&self, now: SystemTime) -> bool {
        now < self.deadline()
    }

    /// Applies `patch` to this record: what every store's `update` must do, field by field.
    pub fn apply(&mut self, patch: &SessionPatch) {
        if let Some(user) = &patch.user {
            self.user.clone_from(user);
        }
        for (key, value) in &patch.data {
            match value {
                Some(value) => self.data.insert_raw(key, value.clone()),
                None => {
                    self.data.remove(key);
                }
            }
        }
        if let Some(at) = patch.last_seen_at {
            self.last_seen_at = at;
        }
        if let Some(at) = patch.idle_expires_at {
            self.idle_expires_at = at;
        }
        if let Some(at) = patch.expires_at {
            self.expires_at = at;
        }
        if let Some(terms) = patch.terms {
            self.terms = Some(terms);
        }
    }

    /// Time left until [`deadline`](Self::deadline) (zero when already past): the TTL a store
    /// with native expiry should set.
    pub fn time_to_live(&self, now: SystemTime) -> Duration {
        self.deadline().duration_since(now).unwrap_or_default()
    }
}

/// Application data of a session: each key holds one JSON value.
///
/// Values are kept as JSON text so that loading a session parses nothing until a handler asks
/// for a key, and so that a store can merge keys one by one. The entries may be shared with
/// the store that loaded them (copy on write), so a read-only request copies no data. Each key
/// and value is itself shared, so a write of one key copies no other key's bytes: only the
/// list of pointers (32 bytes a key) is copied when that list is shared.
#[derive(Clone, Debug, Default)]
pub struct SessionData {
    entries: Entries,
}

/// One entry: a key and its JSON value, each shared between copies of the data.
pub(crate) type Entry = (Arc<str>, Arc<RawValue>);

#[derive(Clone, Debug)]
enum Entries {
    // A session holds a handful of keys: a vector beats a map on memory and lookup time.
    Owned(Vec<Entry>),
    /// One key, without a vector allocation: a new session's first key, or a store's copy of
    /// a session with one key.
    Single(Entry),
    /// Shared with the store's copy, until changed.
    #[cfg_attr(
        not(any(feature = "memory-store", feature = "redis")),
        allow(dead_code)
    )]
    Shared(Arc<[Entry]>),
}

/// A session's data as a store keeps it and shares it with the records it hands out: no
/// allocation of its own for a session with no key or one key (most sessions hold a handful,
/// many just one), a shared list for more.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(any(feature = "memory-store", feature = "redis")),
    allow(dead_code)
)]
pub(crate) enum SharedData {
    /// One key.
    One(Entry),
    /// No key (`None`), or a shared list of two or more.
    List(Option<Arc<[Entry]>>),
}

impl Default for SharedData {
    fn default() -> Self {
        Self::List(None)
    }
}

// `List` fits beside `One`'s first pointer, whose niche tells the two apart: as small as
// `One` alone, which a store keeps per session.
const _: () = assert!(std::mem::size_of::<SharedData>() == 32);

impl Default for Entries {
    fn default() -> Self {
        Self::Owned(Vec::new())
    }
}

// Order-insensitive: two records with the same keys and JSON text are equal.
impl PartialEq for SessionData {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get_raw(k).map(RawValue::get) == Some(v.get()))
    }
}

impl SessionData {
    fn entries(&self) -> &[Entry] {
        match &self.entries {
            Entries::Owned(v) => v,
            Entries::Single(entry) => std::slice::from_ref(entry),
            Entries::Shared(a) => a,
        }
    }

    fn entries_mut(&mut self) -> &mut Vec<Entry> {
        match std::mem::take(&mut self.entries) {
            Entries::Shared(shared) => self.entries = Entries::Owned(shared.to_vec()),
            Entries::Single(entry) => self.entries = Entries::Owned(vec![entry]),
            owned @ Entries::Owned(_) => self.entries = owned,
        }
        match &mut self.entries {
            Entries::Owned(v) => v,
            _ => unreachable!("made owned above"),
        }
    }

    /// The JSON value stored under `key`.
    pub fn get_raw(&self, key: &str) -> Option<&RawValue> {
        self.entries()
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// Sets `key` to the JSON `value`, replacing any previous value.
    pub fn insert_raw(&mut self, key: &str, value: Box<RawValue>) {
        match &mut self.entries {
            Entries::Owned(v) if v.is_empty() => {
                self.entries = Entries::Single((shared_key(key), value.into()));
                return;
            }
            Entries::Single((k, slot)) if &**k == key => {
                *slot = value.into();
                return;
            }
            _ => {}
        }
        let entries = self.entries_mut();
        match entries.iter_mut().find(|(k, _)| &**k == key) {
            Some((_, slot)) => *slot = value.into(),
            None => entries.push((shared_key(key), value.into())),
        }
    }

    /// Removes `key`, returning whether it was set.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(at) = self.entries().iter().position(|(k, _)| &**k == key) else {
            return false;
        };
        if let Entries::Single(_) = self.entries {
            self.entries = Entries::Owned(Vec::new());
            return true;
        }
        self.entries_mut().swap_remove(at);
        true
    }

    /// Every key and its JSON value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.entries().iter().map(|(k, v)| (&**k, &**v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The entries, shareable with later loads.
    #[cfg_attr(
        not(any(feature = "memory-store", feature = "redis")),
        allow(dead_code)
    )]
    pub(crate) fn into_shared(self) -> SharedData {
        match self.entries {
            Entries::Owned(mut v) => match v.len() {
                0 => SharedData::default(),
                1 => v.pop().map_or_else(SharedData::default, SharedData::One),
                _ => SharedData::List(Some(v.into())),
            },
            Entries::Single(entry) => SharedData::One(entry),
            Entries::Shared(a) => SharedData::List(Some(a)),
        }
    }

    /// Whether `key` holds the very same value (not a copy) in both.
    #[cfg(test)]
    pub(crate) fn shares_value(&self, other: &SessionData, key: &str) -> bool {
        let value = |data: &SessionData| {
            data.entries()
                .iter()
                .find(|(k, _)| &**k == key)
                .map(|(_, v)| Arc::clone(v))
        };
        matches!((value(self), value(other)), (Some(a), Some(b)) if Arc::ptr_eq(&a, &b))
    }

    #[cfg_attr(
        not(any(feature = "memory-store", feature = "redis")),
        allow(dead_code)
    )]
    pub(crate) fn from_shared(shared: SharedData) -> Self {
        let entries = match shared {
            SharedData::List(None) => Entries::Owned(Vec::new()),
            SharedData::One(entry) => Entries::Single(entry),
            SharedData::List(Some(entries)) => Entries::Shared(entries),
        };
        Self { entries }
    }
}

impl FromIterator<(String, Box<RawValue>)> for SessionData {
    fn from_iter<I: IntoIterator<Item = (String, Box<RawValue>)>>(iter: I) -> Self {
        let mut data = Self::default();
        for (k, v) in iter {
            data.insert_raw(&k, v);
        }
        data
    }
}

/// The changes one request makes to a stored session, applied by
/// [`SessionStore::update`](super::SessionStore::update) field by field.
///
/// Data changes are per key, so two concurrent requests that change different keys both keep
/// their change. A field left `None` is not touched.
#[derive(Clone, Debug, Default)]
pub struct SessionPatch {
    /// Keys to set (`Some`) or remove (`None`), in order.
    pub data: Vec<(String, Option<Box<RawValue>>)>,
    /// New user (`Some(None)` signs the user out of the record).
    pub user: Option<Option<String>>,
    /// Renewal: new `last_seen_at`.
    pub last_seen_at: Option<SystemTime>,
    /// Renewal: new idle deadline.
    pub idle_expires_at: Option<SystemTime>,
    /// New absolute deadline (set on login only).
    pub expires_at: Option<SystemTime>,
    /// New [`SessionTerms`] (set on login under a [`TimeoutPolicy`](crate::TimeoutPolicy)
    /// only); `None` keeps the stored ones.
    pub terms: Option<SessionTerms>,
}

impl SessionPatch {
    /// Whether applying this patch would change nothing.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.changes_only_data()
    }

    /// Whether the patch changes nothing but data keys (perhaps none): no user, deadline or
    /// terms.
    pub(crate) fn changes_only_data(&self) -> bool {
        // Every field named, so that a field added later must be judged here too.
        let Self {
            data: _,
            user,
            last_seen_at,
            idle_expires_at,
            expires_at,
            terms,
        } = self;
        user.is_none()
            && last_seen_at.is_none()
            && idle_expires_at.is_none()
            && expires_at.is_none()
            && terms.is_none()
    }

    /// Adds the changes of `later` on top of this patch's.
    pub(crate) fn merge(&mut self, later: SessionPatch) {
        for (key, value) in later.data {
            self.set_key(&key, value);
        }
        if later.user.is_some() {
            self.user = later.user;
        }
        self.last_seen_at = later.last_seen_at.or(self.last_seen_at);
        self.idle_expires_at = later.idle_expires_at.or(self.idle_expires_at);
        self.expires_at = later.expires_at.or(self.expires_at);
        self.terms = later.terms.or(self.terms);
    }

    /// The change this patch makes to `key`: `Some(Some(value))` sets it, `Some(None)` removes
    /// it, `None` leaves it alone.
    pub(crate) fn data_change(&self, key: &str) -> Option<Option<&RawValue>> {
        self.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_deref())
    }

    /// Records a change of `key`, replacing an earlier change of the same key in this patch.
    pub(crate) fn set_key(&mut self, key: &str, value: Option<Box<RawValue>>) {
        match self.data.iter_mut().find(|(k, _)| k == key) {
            Some((_, slot)) => *slot = value,
            None => self.data.push((key.to_owned(), value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_empty` and `changes_only_data` see every field: each one set makes a patch change
    /// more than data, and a patch of data keys alone is not empty.
    #[test]
    fn a_patch_changes_only_data_until_another_field_is_set() {
        let mut keys = SessionPatch::default();
        assert!(keys.is_empty() && keys.changes_only_data());
        keys.set_key("k", None);
        assert!(!keys.is_empty() && keys.changes_only_data());
        let now = SystemTime::now();
        let terms = SessionTerms {
            idle_timeout: std::time::Duration::from_secs(60),
            persistent: false,
        };
        let others: [fn(&mut SessionPatch, SystemTime, SessionTerms); 5] = [
            |p, _, _| p.user = Some(None),
            |p, now, _| p.last_seen_at = Some(now),
            |p, now, _| p.idle_expires_at = Some(now),
            |p, now, _| p.expires_at = Some(now),
            |p, _, terms| p.terms = Some(terms),
        ];
        for set in others {
            let mut patch = keys.clone();
            set(&mut patch, now, terms);
            assert!(!patch.changes_only_data() && !patch.is_empty());
            let mut alone = SessionPatch::default();
            set(&mut alone, now, terms);
            assert!(!alone.is_empty());
        }
    }
}
