//! Ending sessions, and keeping ended ones for a while (retention): why a session ended, when,
//! and which sessions an [`end`](super::SessionStore::end) call ends.
//!
//! Without retention, ending a session deletes it, as it always did. With retention (a store's
//! `with_retention`), an ended session is kept, marked with its [`Ended`], so that admins can
//! list it (under [`SessionState::Expired`](super::SessionState::Expired) and
//! [`All`](super::SessionState::All)) until
//! [`delete_expired`](super::SessionStore::delete_expired) purges it once the retention period
//! has passed. An ended session is never usable again: `load`, `update` and `rotate` of its
//! token find nothing, it counts for no listing of active sessions and no limit, and no
//! operation takes the mark off.

use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

use crate::token::{SessionId, TokenHash};

/// Why a session ended.
///
/// Rotating a session's token is no end: the session lives on under its new token. Serializes
/// as its [`as_str`](Self::as_str) name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// The user logged out ([`Session::logout`](crate::Session::logout)).
    LoggedOut,
    /// The user or an admin revoked it ([`Session::revoke`](crate::Session::revoke),
    /// `revoke_others`, `revoke_all`).
    Revoked,
    /// A login beyond the user's session cap evicted it
    /// ([`Overflow::EvictLeastRecentlyUsed`](super::Overflow::EvictLeastRecentlyUsed)).
    Evicted,
    /// Its idle deadline passed.
    ExpiredIdle,
    /// Its absolute deadline passed.
    ExpiredAbsolute,
}

impl EndReason {
    /// Every reason, in declaration order.
    pub const ALL: [EndReason; 5] = [
        Self::LoggedOut,
        Self::Revoked,
        Self::Evicted,
        Self::ExpiredIdle,
        Self::ExpiredAbsolute,
    ];

    /// The reason's stable name, as stores keep it and listings show it: `logged_out`,
    /// `revoked`, `evicted`, `expired_idle`, `expired_absolute`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Revoked => "revoked",
            Self::Evicted => "evicted",
            Self::ExpiredIdle => "expired_idle",
            Self::ExpiredAbsolute => "expired_absolute",
        }
    }

    /// The reason named `name` (see [`as_str`](Self::as_str)).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the session ran out of time rather than being ended by someone.
    pub fn is_expiry(self) -> bool {
        matches!(self, Self::ExpiredIdle | Self::ExpiredAbsolute)
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When and why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// When it ended (for an expiry: the deadline that passed). Stores keep whole milliseconds.
    pub at: SystemTime,
    /// Why.
    pub reason: EndReason,
}

impl Ended {
    /// An end at `at` for `reason`.
    pub fn new(at: SystemTime, reason: EndReason) -> Self {
        Self { at, reason }
    }
}

/// Which sessions an [`end`](super::SessionStore::end) call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndTarget<'a> {
    /// The session under this key (as [`delete`](super::SessionStore::delete)).
    Key(&'a TokenHash),
    /// The session with this public id (as [`delete_by_id`](super::SessionStore::delete_by_id)).
    Id(&'a SessionId),
    /// Every session of `user` but `except` (as
    /// [`delete_by_user`](super::SessionStore::delete_by_user)).
    User {
        /// The user.
        user: &'a str,
        /// The session to leave alone.
        except: Option<&'a SessionId>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for reason in EndReason::ALL {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
            assert_eq!(reason.to_string(), reason.as_str());
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(EndReason::parse("rotated"), None);
        assert_eq!(EndReason::parse(""), None);
    }
}
