//! The memory store's table: sessions in one dense vector, found through two small indexes.
//!
//! Sessions sit side by side in a `Vec`; the token-hash index and the public-id index hold only
//! 8-byte entries (a position into it, and the tag the entry is hashed by). The indexes of a
//! large store stay small enough for the CPU cache, so a lookup costs one memory miss (the
//! session itself) instead of two or three, and a new session is appended at the end rather
//! than written to a random place in a wide table.
//!
//! The user index lists each user's session ids, and every session remembers its place in its
//! user's list, so removing a session costs the same however many sessions its user has: one
//! account that logs in again and again without a cookie must not make cleanup, which runs
//! under the store's write lock, quadratic.

use hashbrown::HashTable;

use super::entry::{Entry, Millis};
use super::user_index::UserIndex;
use crate::store::{ActiveCounts, Ended};
use crate::token::{SessionId, TokenHash};

/// The first 128 bits of a token hash: the memory store's key.
///
/// Finding another token whose SHA-256 starts with the same 128 bits is a second-preimage
/// search of 2^128 work, as infeasible as guessing a token, and an accidental clash among
/// 2^32 sessions has odds of 2^-64. Half the key size keeps an idle session small.
#[derive(PartialEq, Eq, Clone, Copy)]
pub(super) struct Key([u8; 16]);

impl Key {
    pub(super) fn of(hash: &TokenHash) -> Self {
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash.0[..16]);
        Self(key)
    }

    /// A token hash that this store files under this key: the key, then zeros. `of` reads
    /// back the same key, which is all the store's operations look at.
    pub(super) fn to_hash(self) -> TokenHash {
        let mut hash = [0u8; 32];
        hash[..16].copy_from_slice(&self.0);
        TokenHash(hash)
    }
}

/// An index entry: a position in the slots, and the tag of the key or id it was filed under.
///
/// The tag (the first four bytes of the key or id) is what the index hashes, so growing the
/// index never reads the slots, which in a large store are a cache miss each; comparing tags
/// first also spares reading a slot on most false matches.
#[derive(Clone, Copy)]
struct Pos {
    at: u32,
    tag: u32,
}

/// Token hashes and public ids are uniformly random (SHA-256 output, or CSPRNG bytes) and no
/// client can choose them, so their first bytes are a perfect hash, and flooding the table
/// with collisions is impossible.
fn tag(bytes: &[u8; 16]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The index hash of a tag: spread over 64 bits, as the table takes its bucket from the low
/// bits and a control byte from the high ones.
fn spread(tag: u32) -> u64 {
    u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn rehash(pos: &Pos) -> u64 {
    spread(pos.tag)
}

struct Slot {
    key: Key,
    entry: Entry,
}

#[derive(Default)]
pub(super) struct Table {
    slots: Vec<Slot>,
    by_key: HashTable<Pos>,
    by_id: HashTable<Pos>,
    /// Each user's session ids, in no particular order; `Entry::user_at` is a session's place.
    by_user: UserIndex,
    /// Sessions room was made for up front: a purge never shrinks the table below it.
    reserved: usize,
}

/// The position of the session with `id`, looked up in `by_id` (a free function so callers
/// can hold other fields of the table mutably meanwhile).
fn find_id(slots: &[Slot], by_id: &HashTable<Pos>, id: &SessionId) -> Option<usize> {
    let t = tag(&id.0);
    by_id
        .find(spread(t), |p| {
            p.tag == t && slots[p.at as usize].entry.id == *id
        })
        .map(|p| p.at as usize)
}

impl Table {
    /// A table with room for `sessions` before any index grows.
    pub(super) fn with_capacity(sessions: usize) -> Self {
        Self {
            slots: Vec::with_capacity(sessions),
            by_key: HashTable::with_capacity(sessions),
            by_id: HashTable::with_capacity(sessions),
            by_user: UserIndex::with_capacity(sessions),
            reserved: sessions,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    fn position(&self, key: &Key) -> Option<usize> {
        let (slots, t) = (&self.slots, tag(&key.0));
        self.by_key
            .find(spread(t), |p| {
                p.tag == t && slots[p.at as usize].key == *key
            })
            .map(|p| p.at as usize)
    }

    fn position_of_id(&self, id: &SessionId) -> Option<usize> {
        find_id(&self.slots, &self.by_id, id)
    }

    pub(super) fn get(&self, key: &Key) -> Option<&Entry> {
        self.position(key).map(|i| &self.slots[i].entry)
    }

    /// The session with public id `id`, and the key it is filed under.
    pub(super) fn get_by_id(&self, id: &SessionId) -> Option<(Key, &Entry)> {
        self.position_of_id(id).map(|i| {
            let slot = &self.slots[i];
            (slot.key, &slot.entry)
        })
    }

    #[cfg(test)]
    pub(super) fn contains(&self, key: &Key, id: &SessionId) -> bool {
        self.position(key).is_some() || self.position_of_id(id).is_some()
    }

    /// Adds a session, or gives it back when its key or id is already in the table.
    pub(super) fn insert(&mut self, key: Key, entry: Entry) -> Result<(), Entry> {
        use hashbrown::hash_table::Entry::{Occupied, Vacant};
        let id = entry.id;
        let at = u32::try_from(self.slots.len()).expect("fewer than 2^32 sessions in memory");
        let slots = &self.slots;
        let (id_tag, key_tag) = (tag(&id.0), tag(&key.0));
        // One probe per index both checks for a clash and finds the place.
        let Vacant(id_place) = self.by_id.entry(
            spread(id_tag),
            |p| p.tag == id_tag && slots[p.at as usize].entry.id == id,
            rehash,
        ) else {
            return Err(entry);
        };
        let key_place = match self.by_key.entry(
            spread(key_tag),
            |p| p.tag == key_tag && slots[p.at as usize].key == key,
            rehash,
        ) {
            Occupied(_) => return Err(entry),
            Vacant(place) => place,
        };
        id_place.insert(Pos { at, tag: id_tag });
        key_place.insert(Pos { at, tag: key_tag });
        self.slots.push(Slot { key, entry });
        self.index_user(at as usize);
        Ok(())
    }

    /// Changes the session under `key` with `change`, keeping the user index in step, unless
    /// it is gone or ended (then `false`). `change` returns the previous user when it changed
    /// the user.
    pub(super) fn modify(
        &mut self,
        key: &Key,
        change: impl FnOnce(&mut Entry) -> Option<Option<Box<str>>>,
    ) -> bool {
        let Some(at) = self.position(key) else {
            return false;
        };
        let entry = &mut self.slots[at].entry;
        // An ended session is kept for listing only: nothing changes it any more.
        if entry.is_ended() {
            return false;
        }
        if let Some(previous) = change(entry) {
            // `change` left the place in the previous user's list as it was.
            let (id, user_at) = (entry.id, entry.user_at());
            self.unindex_user(previous.as_deref(), user_at, &id);
            self.index_user(at);
        }
        true
    }

    /// Moves the session under `old` to `new`, which must not be in the table.
    pub(super) fn rekey(&mut self, old: &Key, new: Key) -> bool {
        let (slots, old_tag) = (&self.slots, tag(&old.0));
        let Ok(found) = self.by_key.find_entry(spread(old_tag), |p| {
            p.tag == old_tag && slots[p.at as usize].key == *old
        }) else {
            return false;
        };
        let (Pos { at, .. }, _) = found.remove();
        self.slots[at as usize].key = new;
        let new_tag = tag(&new.0);
        self.by_key
            .insert_unique(spread(new_tag), Pos { at, tag: new_tag }, rehash);
        true
    }

    /// Marks the session under `key` ended, returning whether it was not ended before.
    pub(super) fn end(&mut self, key: &Key, ended: Ended) -> bool {
        let Some(at) = self.position(key) else {
            return false;
        };
        self.end_at(at, ended)
    }

    /// Marks the session with `id` ended, returning whether it was not ended before.
    pub(super) fn end_id(&mut self, id: &SessionId, ended: Ended) -> bool {
        let Some(at) = self.position_of_id(id) else {
            return false;
        };
        self.end_at(at, ended)
    }

    fn end_at(&mut self, at: usize, ended: Ended) -> bool {
        let entry = &mut self.slots[at].entry;
        if entry.is_ended() {
            return false;
        }
        entry.end(ended);
        true
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Entry> {
        let at = self.position(key)?;
        Some(self.remove_at(at))
    }

    pub(super) fn remove_id(&mut self, id: &SessionId) -> Option<Entry> {
        let at = self.position_of_id(id)?;
        Some(self.remove_at(at))
    }

    /// Removes the slot at `at` by moving the last slot into its place.
    fn remove_at(&mut self, at: usize) -> Entry {
        let slots = &self.slots;
        let (key, id) = (slots[at].key, slots[at].entry.id);
        let at32 = at as u32;
        if let Ok(found) = self
            .by_key
            .find_entry(spread(tag(&key.0)), |p| p.at == at32)
        {
            found.remove();
        }
        if let Ok(found) = self.by_id.find_entry(spread(tag(&id.0)), |p| p.at == at32) {
            found.remove();
        }
        let last = self.slots.len() - 1;
        if at != last {
            // The last slot moves to `at`: point its index entries there.
            let (moved_key, moved_id) = (self.slots[last].key, self.slots[last].entry.id);
            let last32 = last as u32;
            if let Some(p) = self
                .by_key
                .find_mut(spread(tag(&moved_key.0)), |p| p.at == last32)
            {
                p.at = at32;
            }
            if let Some(p) = self
                .by_id
                .find_mut(spread(tag(&moved_id.0)), |p| p.at == last32)
            {
                p.at = at32;
            }
        }
        let Slot { entry, .. } = self.slots.swap_remove(at);
        self.unindex_user(entry.user(), entry.user_at(), &entry.id);
        entry
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().map(|slot| &slot.entry)
    }

    pub(super) fn user_entries<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.position_of_id(id))
            .map(|at| &self.slots[at].entry)
    }

    /// Active signed-in sessions and the users they belong to: one look at each signed-in
    /// session (anonymous ones are not in the user index, so they cost nothing here).
    pub(super) fn count_active(&self, now: Millis) -> ActiveCounts {
        let mut counts = ActiveCounts::default();
        for ids in self.by_user.lists() {
            let active = ids
                .iter()
                .filter_map(|id| self.position_of_id(id))
                .filter(|&at| self.slots[at].entry.is_active(now))
                .count() as u64;
            counts.sessions += active;
            counts.users += u64::from(active > 0);
        }
        counts
    }

    pub(super) fn user_ids(&self, user: &str) -> Vec<SessionId> {
        self.by_user.get(user).cloned().unwrap_or_default()
    }

    /// The keys of the sessions `doomed` says so of among the `budget` slots just below `end`
    /// (the whole table for `usize::MAX`), and the `end` of the next step (`None` once slot 0
    /// was looked at).
    ///
    /// A purge steps down from the top: a removal moves the last slot into the gap, and the
    /// last slot is always one a step already looked at (or a session added since, too new to
    /// expire), so the slots still to look at never move out of reach, whatever removals and
    /// additions happen between the steps.
    pub(super) fn doomed_below(
        &self,
        end: usize,
        budget: usize,
        doomed: impl Fn(&Entry) -> bool,
    ) -> (Vec<Key>, Option<usize>) {
        let end = end.min(self.slots.len());
        let start = end.saturating_sub(budget);
        let keys = self.slots[start..end]
            .iter()
            .filter(|slot| doomed(&slot.entry))
            .map(|slot| slot.key)
            .collect();
        (keys, (start > 0).then_some(start))
    }

    /// Gives memory back after a large purge, so a burst of sessions does not pin its peak;
    /// never below the room made up front.
    pub(super) fn shrink_if_sparse(&mut self) {
        let keep = self.slots.len().max(self.reserved);
        if self.slots.capacity() > 4 * keep.max(1024) {
            self.slots.shrink_to(keep);
            self.by_key.shrink_to(keep, rehash);
            self.by_id.shrink_to(keep, rehash);
        }
    }

    /// Files the session in slot `at` under its user, if it has one.
    fn index_user(&mut self, at: usize) {
        let entry = &mut self.slots[at].entry;
        let Some(user) = entry.user() else { return };
        let ids = self.by_user.get_or_insert(user);
        // Fewer ids than sessions, and `insert` keeps those under 2^32.
        let place = ids.len() as u32;
        ids.push(entry.id);
        entry.set_user_at(place);
    }

    /// Takes `id` out of `user`'s list, where it sits at `place`: O(1), as the user's last id
    /// moves into the gap and its session is told its new place.
    fn unindex_user(&mut self, user: Option<&str>, place: u32, id: &SessionId) {
        let Some(user) = user else { return };
        let Some(ids) = self.by_user.get_mut(user) else {
            return;
        };
        let place = place as usize;
        debug_assert!(ids.get(place) == Some(id), "a session knows its place");
        // Never taken; a search rather than a panic under the lock if it ever were.
        let Some(place) = (ids.get(place) == Some(id))
            .then_some(place)
            .or_else(|| ids.iter().position(|i| i == id))
        else {
            return;
        };
        ids.swap_remove(place);
        if let Some(moved) = ids.get(place) {
            if let Some(at) = find_id(&self.slots, &self.by_id, moved) {
                self.slots[at].entry.set_user_at(place as u32);
            }
        }
        if ids.is_empty() {
            self.by_user.remove(user);
        } else if ids.capacity() > 16 && ids.len() * 4 <= ids.capacity() {
            // Give back what a burst of this user's sessions left; halving only after three
            // quarters went keeps the copying O(1) per removal.
            ids.shrink_to(ids.len() * 2);
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
