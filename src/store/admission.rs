//! Session caps in the store contract: a login that must respect limits on signed-in sessions
//! asks the store to admit it, and the store checks and signs in as one atomic step, so that
//! logins racing each other never pass a limit together.

use std::time::SystemTime;

use super::{SessionPatch, SessionRecord};
pub use crate::error::LimitReached;
use crate::error::StoreError;
use crate::token::{SessionId, TokenHash};

/// Limits on active signed-in sessions (anonymous sessions never count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionLimits {
    /// At most this many active sessions per user, and what a login beyond it does.
    pub per_user: Option<(u32, Overflow)>,
    /// At most this many active signed-in sessions in the whole store; a login beyond it is
    /// refused (`1`: a single-session server).
    pub total: Option<u32>,
}

impl SessionLimits {
    /// Whether any limit is set (without one, logins need no admission).
    pub fn is_set(&self) -> bool {
        self.per_user.is_some() || self.total.is_some()
    }

    /// Which admissions must not overlap for these limits: a store-wide limit counts every
    /// login, so all admissions take one lock; a per-user limit only counts the user's own.
    pub fn lock_scope<'u>(&self, user: &'u str) -> LockScope<'u> {
        if self.total.is_some() {
            LockScope::Store
        } else {
            LockScope::User(user)
        }
    }
}

/// The lock a store takes around an admission (see [`SessionLimits::lock_scope`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockScope<'u> {
    /// Admissions of this user.
    User(&'u str),
    /// Every admission in the store.
    Store,
}

impl LockScope<'_> {
    /// A name for this lock, unique to `namespace` (a table or a key prefix) and at most 64
    /// bytes (MySQL's limit for lock names): a SHA-256 of the scope in hex, so a user name of
    /// any length or content makes a valid name.
    pub fn name(&self, namespace: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(namespace.as_bytes());
        match self {
            // The separator byte keeps `("ab", "c")` and `("a", "bc")` apart.
            Self::User(user) => {
                hash.update([0u8]);
                hash.update(user.as_bytes());
            }
            Self::Store => hash.update([1u8]),
        }
        let digest = hash.finalize();
        format!("sessionward:{}", hex::encode(&digest[..24]))
    }
}

/// What a login past a user's limit does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Ends the user's least recently used sessions (by `last_seen_at`, then oldest created)
    /// to make room; the new login goes ahead. `last_seen_at` is written at login and at each
    /// renewal, so "recently used" is as precise as the renewal interval.
    EvictLeastRecentlyUsed,
    /// Refuses the new login; nothing changes.
    Refuse,
}

/// The store change a login makes, as [`SessionStore::admit`](super::SessionStore::admit)
/// receives it.
#[derive(Debug)]
// The record moves on into the store; boxing it would cost an allocation per login.
#[allow(clippy::large_enum_variant)]
pub enum Admission<'a> {
    /// A new signed-in session, as [`create`](super::SessionStore::create) stores it.
    Create {
        /// Its key.
        key: &'a TokenHash,
        /// The record, with its user set.
        record: SessionRecord,
    },
    /// An existing session moved to a new key and signed in, as
    /// [`rotate`](super::SessionStore::rotate) does it; `patch` sets the user.
    Rotate {
        /// The session's current key.
        old: &'a TokenHash,
        /// Its new key.
        new: &'a TokenHash,
        /// The changes, the user among them.
        patch: &'a SessionPatch,
    },
}

/// What [`SessionStore::admit`](super::SessionStore::admit) did.
#[derive(Debug, PartialEq)]
pub enum Admitted {
    /// The session is signed in. `evicted` holds the sessions of the same user that were
    /// ended to make room (deleted, or marked [`EndReason::Evicted`](super::EndReason::Evicted)
    /// by a store that retains ended sessions), as they were just before.
    SignedIn {
        /// The evicted sessions.
        evicted: Vec<SessionRecord>,
    },
    /// [`Admission::Rotate`] only: the session under `old` is gone; nothing changed.
    Gone,
    /// A limit refused the login; nothing changed.
    Refused(LimitReached),
}

/// Active signed-in sessions at one instant, as
/// [`SessionStore::count_active`](super::SessionStore::count_active) counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActiveCounts {
    /// Active sessions with a user.
    pub sessions: u64,
    /// Distinct users among them.
    pub users: u64,
}

impl SessionLimits {
    /// The rule every store's `admit` follows, for a store that reads the user's sessions and
    /// the store-wide count under a lock or in a transaction and then decides here: which of
    /// the user's sessions to evict, or which limit refuses the login.
    ///
    /// `mine` are the user's active sessions, `current` the id of the session being signed in
    /// when it exists already (a rotation), `was_signed_in` whether that session was an active
    /// signed-in one (a re-login adds no signed-in session), and `total` the store's active
    /// signed-in sessions (read it only when [`total`](Self::total) is set).
    ///
    /// # Errors
    /// The limit that refuses the login.
    pub fn decide<'r>(
        &self,
        mine: &'r [SessionRecord],
        current: Option<&SessionId>,
        was_signed_in: bool,
        total: u64,
    ) -> Result<Vec<&'r SessionRecord>, LimitReached> {
        decide(self, mine, current, was_signed_in, total)
    }
}

fn decide<'r>(
    limits: &SessionLimits,
    mine: &'r [SessionRecord],
    current: Option<&SessionId>,
    was_signed_in: bool,
    total: u64,
) -> Result<Vec<&'r SessionRecord>, LimitReached> {
    let mut others: Vec<&SessionRecord> = mine.iter().filter(|r| Some(&r.id) != current).collect();
    let mut evict = Vec::new();
    if let Some((cap, overflow)) = limits.per_user {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        // With the new one there would be `others + 1`; room for it leaves `cap - 1` others.
        let excess = (others.len() + 1).saturating_sub(cap.max(1));
        if excess > 0 {
            if overflow == Overflow::Refuse {
                return Err(LimitReached::PerUser);
            }
            others.sort_by_key(|r| (r.last_seen_at, r.created_at));
            evict.extend(others.drain(..excess));
        }
    }
    if let Some(cap) = limits.total {
        let added = u64::from(!was_signed_in);
        let after = (total + added).saturating_sub(evict.len() as u64);
        if after > u64::from(cap) {
            return Err(LimitReached::Total);
        }
    }
    Ok(evict)
}

/// Whether `record` counts against the limits at `now`: signed in and active.
pub(crate) fn counts(record: &SessionRecord, now: SystemTime) -> bool {
    record.user.is_some() && record.is_active(now)
}

/// Admits a login with the store's own operations, one after another: reads the sessions that
/// count, decides with [`SessionLimits::decide`], signs in, then ends the sessions the decision
/// evicts (with [`SessionStore::end`](super::SessionStore::end)). This is [`SessionStore::admit`](super::SessionStore::admit)'s default; alone it is
/// not atomic (two logins may read the same counts), so a store that overrides `admit` calls it
/// while holding a lock that every admission of the same user (or of the store, for a total
/// limit) takes: see [`SessionLimits::lock_scope`].
///
/// # Errors
/// The first [`StoreError`] of a step; the steps before it stay done (the login is signed in
/// when only an eviction failed).
pub async fn admit_in_steps<S: super::SessionStore + ?Sized>(
    store: &S,
    user: &str,
    admission: Admission<'_>,
    limits: &SessionLimits,
    now: SystemTime,
) -> Result<Admitted, StoreError> {
    let (current, was_signed_in) = match &admission {
        Admission::Create { .. } => (None, false),
        Admission::Rotate { old, .. } => match store.load(old).await? {
            Some(record) => (Some(record.id), counts(&record, now)),
            None => return Ok(Admitted::Gone),
        },
    };
    let mine = store.list_by_user(user, now).await?;
    let total = match limits.total {
        Some(_) => store.count_active(now).await?.sessions,
        None => 0,
    };
    let evict = match limits.decide(&mine, current.as_ref(), was_signed_in, total) {
        Ok(evict) => evict,
        Err(limit) => return Ok(Admitted::Refused(limit)),
    };
    match admission {
        Admission::Create { key, record } => store.create(key, record).await?,
        Admission::Rotate { old, new, patch } => {
            if !store.rotate(old, new, patch).await? {
                return Ok(Admitted::Gone);
            }
        }
    }
    let mut evicted = Vec::with_capacity(evict.len());
    for record in evict {
        let ended = super::Ended::new(now, super::EndReason::Evicted);
        if store.end(super::EndTarget::Id(&record.id), ended).await? > 0 {
            evicted.push(record.clone());
        }
    }
    Ok(Admitted::SignedIn { evicted })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::SessionData;

    fn record(n: u8, seen: u64) -> SessionRecord {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(seen);
        SessionRecord {
            id: SessionId([n; 16]),
            user: Some("u".to_owned()),
            data: SessionData::default(),
            created_at: at,
            last_seen_at: at,
            expires_at: at + Duration::from_secs(3600),
            idle_expires_at: at + Duration::from_secs(600),
            user_agent: None,
            ip: None,
            terms: None,
            ended: None,
        }
    }

    fn ids(evicted: &[&SessionRecord]) -> Vec<u8> {
        evicted.iter().map(|r| r.id.0[0]).collect()
    }

    #[test]
    fn evicts_the_least_recently_used_beyond_the_cap() {
        let mine = [record(1, 30), record(2, 10), record(3, 20)];
        let evict = SessionLimits {
            per_user: Some((2, Overflow::EvictLeastRecentlyUsed)),
            total: None,
        };
        assert_eq!(ids(&evict.decide(&mine, None, false, 0).unwrap()), [2, 3]);
        // A re-login of session 2 keeps it: the others make room.
        let current = SessionId([2; 16]);
        assert_eq!(
            ids(&evict.decide(&mine, Some(&current), true, 0).unwrap()),
            [3]
        );
        let refuse = SessionLimits {
            per_user: Some((3, Overflow::Refuse)),
            total: None,
        };
        assert_eq!(
            refuse.decide(&mine, None, false, 0),
            Err(LimitReached::PerUser)
        );
        assert!(refuse
            .decide(&mine[..2], None, false, 0)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_total_cap_counts_evictions_and_re_logins() {
        let mine = [record(1, 10)];
        let single = SessionLimits {
            per_user: None,
            total: Some(1),
        };
        assert_eq!(
            single.decide(&mine, None, false, 1),
            Err(LimitReached::Total)
        );
        assert!(single.decide(&[], None, false, 0).unwrap().is_empty());
        // Signing in a session that is signed in already adds none.
        let current = SessionId([1; 16]);
        assert!(single.decide(&mine, Some(&current), true, 1).is_ok());
        // Evicting the user's own session makes room under the total cap too.
        let both = SessionLimits {
            per_user: Some((1, Overflow::EvictLeastRecentlyUsed)),
            total: Some(1),
        };
        assert_eq!(ids(&both.decide(&mine, None, false, 1).unwrap()), [1]);
    }
}
