//! The refresh tokens a bearer session has used, kept in its data, so that a second
//! presentation of one is recognised as reuse.
//!
//! It rides on the store's atomic [`rotate`](crate::store::SessionStore::rotate): a refresh
//! moves the session to the new token's key and, in the same patch, adds the old key to this
//! list. So every store that keeps the contract keeps refresh tokens single use, and the list
//! and the key can never disagree.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::store::SessionData;
use crate::token::TokenHash;

/// The data key the history is kept under. Keys starting with `sessionward.` are the crate's.
pub(crate) const DATA_KEY: &str = "sessionward.refresh";

/// Used tokens remembered per session: at the default 5-minute access token lifetime, a
/// client that refreshes on time uses 64 tokens in 5 h 20 min. A token older than that is
/// refused as unknown, without revoking the session.
const KEPT: usize = 64;

/// Bytes of each used token's hash kept: 96 bits, so a forged token matches one with
/// probability 2^-96, while the list stays near 1.3 KB.
const KEPT_HASH_BYTES: usize = 12;

/// How a presented token that is no longer the session's key was used before.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PastUse {
    /// It is the token used last, that long before the check.
    Last(Duration),
    /// It was used before the last one.
    Earlier,
    /// It is being used right now: a concurrent refresh is rotating the session away from it.
    InFlight,
}

#[derive(Default, Serialize, Deserialize)]
pub(crate) struct RefreshHistory {
    /// When the newest entry was used, in milliseconds since the Unix epoch.
    at: u64,
    /// The used tokens' truncated hashes, base64url, newest first.
    used: Vec<String>,
}

impl RefreshHistory {
    /// The history in `data`; empty when there is none (or it is not ours to read).
    pub(crate) fn of(data: &SessionData) -> Self {
        data.get_raw(DATA_KEY)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default()
    }

    /// Adds `used` as the token used at `now`, dropping the oldest beyond the limit.
    pub(crate) fn push(&mut self, used: &TokenHash, now: SystemTime) {
        self.used.insert(0, short(used));
        self.used.truncate(KEPT);
        self.at = millis(now);
    }

    /// How `presented` was used before `now`, if it was.
    pub(crate) fn past_use(&self, presented: &TokenHash, now: SystemTime) -> Option<PastUse> {
        let short = short(presented);
        match self.used.iter().position(|u| *u == short)? {
            0 => Some(PastUse::Last(Duration::from_millis(
                millis(now).saturating_sub(self.at),
            ))),
            _ => Some(PastUse::Earlier),
        }
    }

    /// The history as the session data value.
    pub(crate) fn to_raw(&self) -> Result<Box<RawValue>, serde_json::Error> {
        serde_json::value::to_raw_value(self)
    }
}

fn short(hash: &TokenHash) -> String {
    URL_SAFE_NO_PAD.encode(&hash.0[..KEPT_HASH_BYTES])
}

fn millis(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> TokenHash {
        TokenHash([n; 32])
    }

    #[test]
    fn the_last_use_is_timed_and_earlier_ones_are_not() {
        let start = SystemTime::now();
        let mut history = RefreshHistory::default();
        history.push(&hash(1), start);
        history.push(&hash(2), start + Duration::from_secs(5));
        let later = start + Duration::from_secs(6);
        assert_eq!(
            history.past_use(&hash(2), later),
            Some(PastUse::Last(Duration::from_secs(1)))
        );
        assert_eq!(history.past_use(&hash(1), later), Some(PastUse::Earlier));
        assert_eq!(history.past_use(&hash(3), later), None);
    }

    #[test]
    fn it_survives_the_session_data_and_forgets_beyond_its_limit() {
        let now = SystemTime::now();
        let mut history = RefreshHistory::default();
        for n in 0..=KEPT as u8 {
            history.push(&hash(n), now);
        }
        let mut data = SessionData::default();
        data.insert_raw(DATA_KEY, history.to_raw().unwrap());
        let read = RefreshHistory::of(&data);
        assert_eq!(
            read.past_use(&hash(0), now),
            None,
            "the oldest is forgotten"
        );
        assert_eq!(read.past_use(&hash(1), now), Some(PastUse::Earlier));
        assert!(data.get_raw(DATA_KEY).unwrap().get().len() < 1500);
    }

    #[test]
    fn foreign_data_under_the_key_reads_as_no_history() {
        let mut data = SessionData::default();
        data.insert_raw(DATA_KEY, RawValue::from_string("\"x\"".into()).unwrap());
        assert_eq!(
            RefreshHistory::of(&data).past_use(&hash(1), SystemTime::now()),
            None
        );
    }
}
