//! The denylist of the stateless bearer mode: the sessions this instance ended, kept until
//! every access token of theirs has expired, within a fixed capacity that never makes it
//! forget one.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::SessionId;

/// What the denylist says about the session a valid access token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not ended here: the token's claims are enough.
    Allowed,
    /// Ended by this instance: the token is refused.
    Denied,
    /// The list overflowed and may lack a revocation whose tokens are still valid: the session
    /// is to be read from the store, as in the stateful mode.
    AskStore,
}

/// Sessions ended by this instance, by public id, each with the time (Unix seconds) from
/// which every access token of it has expired anyway.
///
/// Full, it evicts nothing: a revocation it cannot list instead makes every session it does not
/// list "ask the store" until that revocation's tokens have expired. So an overflow costs store
/// reads for a while, never a forgotten revocation. Expired entries are purged lazily, on the
/// next check or denial.
pub(crate) struct Denylist {
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Each listed session and when its entry expires.
    until: HashMap<SessionId, u64>,
    /// The same entries ordered by expiry, so the expired ones are purged from the front.
    by_expiry: BTreeSet<(u64, SessionId)>,
    /// Until when a revocation that found the list full may leave a valid token behind.
    ask_store_until: u64,
}

impl Entries {
    fn purge(&mut self, now: u64) {
        while let Some(&(until, id)) = self.by_expiry.first() {
            if until > now {
                break;
            }
            self.by_expiry.pop_first();
            self.until.remove(&id);
        }
    }
}

impl Denylist {
    /// An empty list holding at most `capacity` sessions.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::default(),
        }
    }

    /// The most sessions it lists.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent entries.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Denies session `id` until `until`, at `now`. Returns `true` when this denial found the
    /// list full and started an overflow (none was running), for the caller to report.
    pub(crate) fn deny(&self, id: SessionId, until: u64, now: u64) -> bool {
        let mut entries = self.entries();
        entries.purge(now);
        if let Some(listed) = entries.until.get(&id).copied() {
            if until > listed {
                entries.by_expiry.remove(&(listed, id));
                entries.by_expiry.insert((until, id));
                entries.until.insert(id, until);
            }
            return false;
        }
        if entries.until.len() >= self.capacity {
            let began = entries.ask_store_until <= now;
            entries.ask_store_until = entries.ask_store_until.max(until);
            return began;
        }
        entries.until.insert(id, until);
        entries.by_expiry.insert((until, id));
        false
    }

    /// What to do at `now` with a valid access token of session `id`.
    pub(crate) fn check(&self, id: &SessionId, now: u64) -> Verdict {
        let mut entries = self.entries();
        entries.purge(now);
        if entries.until.contains_key(id) {
            Verdict::Denied
        } else if now < entries.ask_store_until {
            Verdict::AskStore
        } else {
            Verdict::Allowed
        }
    }

    /// How many sessions are listed, expired ones not purged yet included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().until.len()
    }
}

impl std::fmt::Debug for Denylist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Denylist")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SessionId = SessionId([1; 16]);
    const B: SessionId = SessionId([2; 16]);
    const C: SessionId = SessionId([3; 16]);

    #[test]
    fn a_denied_session_is_refused_until_its_entry_expires_then_purged() {
        let list = Denylist::new(4);
        assert!(!list.deny(A, 110, 100));
        assert_eq!(list.check(&A, 100), Verdict::Denied);
        assert_eq!(list.check(&A, 109), Verdict::Denied);
        assert_eq!(list.check(&B, 109), Verdict::Allowed);
        assert_eq!(list.len(), 1);
        assert_eq!(list.check(&A, 110), Verdict::Allowed, "expired at 110");
        assert_eq!(list.len(), 0, "purged by the check");
    }

    #[test]
    fn denying_again_only_ever_extends_the_entry() {
        let list = Denylist::new(4);
        list.deny(A, 120, 100);
        list.deny(A, 110, 101);
        assert_eq!(list.check(&A, 115), Verdict::Denied);
        list.deny(A, 130, 102);
        assert_eq!(list.check(&A, 125), Verdict::Denied);
        assert_eq!(list.len(), 1);
        assert_eq!(list.check(&A, 130), Verdict::Allowed);
    }

    #[test]
    fn an_overflow_forgets_nothing_and_asks_the_store_until_its_tokens_expired() {
        let list = Denylist::new(1);
        assert!(!list.deny(A, 110, 100));
        assert!(
            list.deny(B, 112, 101),
            "the list is full: an overflow begins"
        );
        assert!(!list.deny(C, 111, 101), "one is running already");
        assert_eq!(list.check(&A, 105), Verdict::Denied, "listed entries stay");
        assert_eq!(
            list.check(&B, 105),
            Verdict::AskStore,
            "unlisted: the store knows"
        );
        assert_eq!(list.check(&C, 105), Verdict::AskStore);
        // A expired and was purged; the overflow lasts until B's tokens have expired.
        assert_eq!(list.check(&A, 110), Verdict::AskStore);
        assert_eq!(list.check(&B, 111), Verdict::AskStore);
        assert_eq!(list.check(&B, 112), Verdict::Allowed);
        assert_eq!(list.len(), 0);
    }

    #[test]
    fn purged_entries_make_room() {
        let list = Denylist::new(1);
        list.deny(A, 110, 100);
        assert!(!list.deny(B, 120, 110), "A expired at 110: room for B");
        assert_eq!(list.check(&B, 115), Verdict::Denied);
        assert_eq!(list.check(&C, 115), Verdict::Allowed, "no overflow");
    }

    #[test]
    fn capacity_zero_asks_the_store_after_every_revocation() {
        let list = Denylist::new(0);
        assert_eq!(list.check(&A, 100), Verdict::Allowed);
        assert!(list.deny(A, 110, 100));
        assert_eq!(list.check(&A, 100), Verdict::AskStore);
        assert_eq!(list.check(&B, 109), Verdict::AskStore);
        assert_eq!(list.check(&B, 110), Verdict::Allowed);
    }

    #[test]
    fn a_clock_stepping_back_never_drops_a_later_entry_early() {
        let list = Denylist::new(4);
        list.deny(A, 200, 190);
        // The clock stepped back: B's entry expires before A's, and is purged on time.
        list.deny(B, 150, 140);
        assert_eq!(list.check(&B, 149), Verdict::Denied);
        assert_eq!(list.check(&A, 160), Verdict::Denied);
        assert_eq!(list.check(&B, 160), Verdict::Allowed);
        assert_eq!(list.len(), 1);
    }
}
