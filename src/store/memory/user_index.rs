//! The memory store's user index: each user's session ids.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::token::SessionId;

/// One user's sessions, filed under the hash of the user's name.
///
/// The hash is kept so that growing the index never reads a name again: a name is a heap
/// string of its own, and rehashing a million of them (a cache miss and a SipHash each) held
/// the store's write lock for over half a second where the kept hashes take a fraction.
struct UserList {
    hash: u64,
    user: Box<str>,
    ids: Vec<SessionId>,
}

/// Each user's session ids, in no particular order.
///
/// Names are hashed with std's randomly keyed SipHash: users may choose their names, and must
/// not be able to choose collisions.
#[derive(Default)]
pub(super) struct UserIndex {
    lists: HashTable<UserList>,
    hasher: RandomState,
}

impl UserIndex {
    /// An index with room for `users` users before it grows.
    pub(super) fn with_capacity(users: usize) -> Self {
        Self {
            lists: HashTable::with_capacity(users),
            hasher: RandomState::new(),
        }
    }

    fn hash(&self, user: &str) -> u64 {
        self.hasher.hash_one(user)
    }

    /// `user`'s session ids, if the user has any.
    pub(super) fn get(&self, user: &str) -> Option<&Vec<SessionId>> {
        let hash = self.hash(user);
        self.lists
            .find(hash, |list| &*list.user == user)
            .map(|list| &list.ids)
    }

    pub(super) fn get_mut(&mut self, user: &str) -> Option<&mut Vec<SessionId>> {
        let hash = self.hash(user);
        self.lists
            .find_mut(hash, |list| &*list.user == user)
            .map(|list| &mut list.ids)
    }

    /// `user`'s session ids, an empty list filed for the user first if there was none.
    pub(super) fn get_or_insert(&mut self, user: &str) -> &mut Vec<SessionId> {
        let hash = self.hash(user);
        let entry = self
            .lists
            .entry(hash, |list| &*list.user == user, |list| list.hash);
        &mut entry
            .or_insert_with(|| UserList {
                hash,
                user: user.into(),
                ids: Vec::new(),
            })
            .into_mut()
            .ids
    }

    pub(super) fn remove(&mut self, user: &str) {
        let hash = self.hash(user);
        if let Ok(found) = self.lists.find_entry(hash, |list| &*list.user == user) {
            found.remove();
        }
    }

    /// Every user's session ids.
    pub(super) fn lists(&self) -> impl Iterator<Item = &Vec<SessionId>> {
        self.lists.iter().map(|list| &list.ids)
    }

    /// How many users fit before the index grows.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.lists.capacity()
    }

    /// Every user with their session ids.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Vec<SessionId>)> {
        self.lists.iter().map(|list| (&*list.user, &list.ids))
    }
}
