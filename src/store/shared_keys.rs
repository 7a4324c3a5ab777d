//! Data keys shared between sessions.
//!
//! An app names its session keys with a handful of literals, and every session that holds
//! `"cart"` would otherwise hold its own copy of the word: an allocation per key per session,
//! kept as long as the session (a million sessions with three keys each held 96 MB of copies).
//! Each thread remembers the last few keys it was given and hands out the very same
//! `Arc<str>` again.

use std::cell::RefCell;
use std::sync::Arc;

/// Keys remembered per thread: more than most apps use, few enough to compare them all.
const REMEMBERED: usize = 8;

/// Longer keys are not remembered, so a thread holds at most `REMEMBERED` of these bytes.
const LONGEST: usize = 64;

struct Recent {
    keys: [Option<Arc<str>>; REMEMBERED],
    /// The place the next new key takes (the oldest one's).
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { keys: [const { None }; REMEMBERED], next: 0 })
    };
}

/// `key` as a shared string: one this thread handed out before when it saw the same key
/// lately, else a new one (then remembered).
pub(crate) fn shared_key(key: &str) -> Arc<str> {
    if key.len() > LONGEST {
        return key.into();
    }
    // While the thread is being torn down its memory is gone: no sharing then.
    RECENT
        .try_with(|recent| {
            let mut recent = recent.borrow_mut();
            if let Some(found) = recent.keys.iter().flatten().find(|k| ***k == *key) {
                return Arc::clone(found);
            }
            let new: Arc<str> = key.into();
            let at = recent.next;
            recent.keys[at] = Some(Arc::clone(&new));
            recent.next = (at + 1) % REMEMBERED;
            new
        })
        .unwrap_or_else(|_| key.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_is_shared_and_other_keys_are_not() {
        let a = shared_key("cart");
        let b = shared_key(&String::from("cart"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "cart");
        let other = shared_key("carts");
        assert_eq!(&*other, "carts");
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn a_thread_remembers_a_bounded_number_of_keys() {
        let first = shared_key("k0");
        for i in 1..=REMEMBERED {
            shared_key(&format!("k{i}"));
        }
        // `k0` was pushed out by the newer keys: asked again, it is a new string, equal.
        let again = shared_key("k0");
        assert_eq!(first, again);
        assert!(!Arc::ptr_eq(&first, &again));
        // The latest keys are still shared.
        let last = format!("k{REMEMBERED}");
        assert!(Arc::ptr_eq(&shared_key(&last), &shared_key(&last)));
    }

    #[test]
    fn long_keys_are_never_remembered() {
        let long = "x".repeat(LONGEST + 1);
        assert!(!Arc::ptr_eq(&shared_key(&long), &shared_key(&long)));
        let longest = "y".repeat(LONGEST);
        assert!(Arc::ptr_eq(&shared_key(&longest), &shared_key(&longest)));
    }
}
