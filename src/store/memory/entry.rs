//! One session as the memory store keeps it.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::record::SharedData;
use crate::store::{EndReason, Ended, SessionData, SessionPatch, SessionRecord, SessionTerms};
use crate::token::SessionId;

/// One session, compact: most sessions are anonymous with a value or two.
pub(super) struct Entry {
    pub(super) id: SessionId,
    created_at: Millis,
    last_seen_at: Millis,
    expires_at: Millis,
    idle_expires_at: Millis,
    /// Shared with the records `load` hands out, so a read copies no data.
    data: SharedData,
    /// User and client details: `None` for the common anonymous session without them.
    extra: Option<Box<Extra>>,
}

struct Extra {
    user: Option<Box<str>>,
    /// This session's place in its user's list in the table's user index, so leaving the list
    /// is one swap-remove. It fits in `Extra`'s padding: no session grows for it.
    user_at: u32,
    user_agent: Option<Box<str>>,
    ip: Option<IpAddr>,
    /// Terms granted at login by a timeout policy: sessions without a user have none.
    terms: Option<SessionTerms>,
    /// The end of a session kept after it ended (retention): rare, so boxed once more.
    ended: Option<Box<EndMark>>,
}

/// Why and when a session ended, and its deadlines before: the entry's own deadlines are
/// brought forward to the end, so that every scan (counts, listings, the purge) sees an ended
/// session as past its deadline from the inline fields alone, as it sees any other.
struct EndMark {
    at: Millis,
    reason: EndReason,
    expires_at: Millis,
    idle_expires_at: Millis,
}

impl Extra {
    fn empty() -> Box<Self> {
        Box::new(Self {
            user: None,
            user_at: 0,
            user_agent: None,
            ip: None,
            terms: None,
            ended: None,
        })
    }
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(
    std::mem::size_of::<Extra>() == 88,
    "`user_at` fits in the padding of `Extra`"
);

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Millis(u64);

impl Millis {
    pub(super) fn from_system(t: SystemTime) -> Self {
        let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        Self(u64::try_from(ms).unwrap_or(u64::MAX))
    }
    fn to_system(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }
}

impl Entry {
    pub(super) fn from_record(record: SessionRecord) -> Self {
        let extra = (record.user.is_some()
            || record.user_agent.is_some()
            || record.ip.is_some()
            || record.terms.is_some()
            || record.ended.is_some())
        .then(|| {
            Box::new(Extra {
                user: record.user.map(String::into_boxed_str),
                user_at: 0,
                user_agent: record.user_agent.map(String::into_boxed_str),
                ip: record.ip,
                terms: record.terms,
                ended: None,
            })
        });
        let mut entry = Self {
            id: record.id,
            created_at: Millis::from_system(record.created_at),
            last_seen_at: Millis::from_system(record.last_seen_at),
            expires_at: Millis::from_system(record.expires_at),
            idle_expires_at: Millis::from_system(record.idle_expires_at),
            data: record.data.into_shared(),
            extra,
        };
        if let Some(ended) = record.ended {
            entry.end(ended);
        }
        entry
    }

    pub(super) fn to_record(&self) -> SessionRecord {
        let extra = self.extra.as_deref();
        let mark = extra.and_then(|e| e.ended.as_deref());
        let (expires_at, idle_expires_at) = match mark {
            Some(mark) => (mark.expires_at, mark.idle_expires_at),
            None => (self.expires_at, self.idle_expires_at),
        };
        SessionRecord {
            id: self.id,
            user: self.user().map(str::to_owned),
            data: SessionData::from_shared(self.data.clone()),
            created_at: self.created_at.to_system(),
            last_seen_at: self.last_seen_at.to_system(),
            expires_at: expires_at.to_system(),
            idle_expires_at: idle_expires_at.to_system(),
            user_agent: extra.and_then(|e| e.user_agent.as_deref().map(str::to_owned)),
            ip: extra.and_then(|e| e.ip),
            terms: extra.and_then(|e| e.terms),
            ended: mark.map(|m| Ended::new(m.at.to_system(), m.reason)),
        }
    }

    pub(super) fn user(&self) -> Option<&str> {
        self.extra.as_deref().and_then(|e| e.user.as_deref())
    }

    /// Where the table's user index holds this session (meaningful while it has a user).
    pub(super) fn user_at(&self) -> u32 {
        self.extra.as_deref().map_or(0, |e| e.user_at)
    }

    /// Records where the table's user index holds this session, which has a user.
    pub(super) fn set_user_at(&mut self, at: u32) {
        if let Some(extra) = self.extra.as_deref_mut() {
            extra.user_at = at;
        }
    }

    /// Whether the session is valid at `now`: before both deadlines (an ended session's are
    /// at its end).
    pub(super) fn is_active(&self, now: Millis) -> bool {
        now < self.deadline()
    }

    /// When the session stopped being valid, or will.
    pub(super) fn deadline(&self) -> Millis {
        self.expires_at.min(self.idle_expires_at)
    }

    /// Whether the session was ended and is only kept for listing (retention).
    pub(super) fn is_ended(&self) -> bool {
        self.extra.as_deref().is_some_and(|e| e.ended.is_some())
    }

    /// Marks the session ended (once: a second end keeps the first mark), bringing its
    /// deadlines forward to the end.
    pub(super) fn end(&mut self, ended: Ended) {
        let extra = self.extra.get_or_insert_with(Extra::empty);
        if extra.ended.is_some() {
            return;
        }
        let at = Millis::from_system(ended.at);
        extra.ended = Some(Box::new(EndMark {
            at,
            reason: ended.reason,
            expires_at: self.expires_at,
            idle_expires_at: self.idle_expires_at,
        }));
        self.expires_at = self.expires_at.min(at);
        self.idle_expires_at = self.idle_expires_at.min(at);
    }

    /// Applies `patch`, returning the user before it when the patch changed the user.
    pub(super) fn apply(&mut self, patch: &SessionPatch) -> Option<Option<Box<str>>> {
        if !patch.data.is_empty() {
            // Keys and values are shared one by one: this copies the list of pointers, never
            // the bytes of a key or value the patch leaves alone.
            let mut data = SessionData::from_shared(std::mem::take(&mut self.data));
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
                let extra = self.extra.get_or_insert_with(Extra::empty);
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
        if let Some(terms) = patch.terms {
            self.extra.get_or_insert_with(Extra::empty).terms = Some(terms);
        }
        previous_user
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::to_raw_value;

    fn raw(text: &str) -> Box<serde_json::value::RawValue> {
        to_raw_value(text).expect("a string")
    }

    /// An anonymous session made at `now`, ending `life` later, idle after `idle`.
    fn anonymous(
        now: SystemTime,
        id: u8,
        data: SessionData,
        life: u64,
        idle: u64,
    ) -> SessionRecord {
        SessionRecord {
            id: SessionId([id; 16]),
            user: None,
            data,
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::from_secs(life),
            idle_expires_at: now + Duration::from_secs(idle),
            user_agent: None,
            ip: None,
            terms: None,
            ended: None,
        }
    }

    #[test]
    fn writing_one_key_copies_no_other_value() {
        let now = SystemTime::now();
        let data = [("kept", "a"), ("changed", "b"), ("removed", "c")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), raw(v)))
            .collect();
        let record = anonymous(now, 7, data, 60, 60);
        let mut entry = Entry::from_record(record);
        // A request's copy, held while the write happens, as a handler holds its session.
        let before = entry.to_record();
        entry.apply(&SessionPatch {
            data: vec![
                ("changed".into(), Some(raw("B"))),
                ("removed".into(), None),
                ("added".into(), Some(raw("d"))),
            ],
            ..SessionPatch::default()
        });
        let after = entry.to_record();
        assert!(after.data.shares_value(&before.data, "kept"));
        assert!(!after.data.shares_value(&before.data, "changed"));
        let text = |key| after.data.get_raw(key).map(|v| v.get().to_owned());
        assert_eq!(text("kept").as_deref(), Some("\"a\""));
        assert_eq!(text("changed").as_deref(), Some("\"B\""));
        assert_eq!(text("added").as_deref(), Some("\"d\""));
        assert_eq!(text("removed"), None);
        // The held copy still sees the data as it was loaded.
        assert_eq!(
            before.data.get_raw("changed").map(|v| v.get()),
            Some("\"b\"")
        );
        assert_eq!(before.data.len(), 3);
    }

    #[test]
    fn a_session_goes_from_one_key_to_several_and_back_to_none() {
        let now = SystemTime::now();
        let mut data = SessionData::default();
        data.insert_raw("n", raw("0"));
        let mut entry = Entry::from_record(anonymous(now, 8, data, 60, 60));
        let keys = |entry: &Entry| {
            let data = entry.to_record().data;
            let mut keys: Vec<String> = data
                .iter()
                .map(|(k, v)| format!("{k}={}", v.get()))
                .collect();
            keys.sort();
            keys
        };
        let set = |entry: &mut Entry, changes: Vec<(&str, Option<&str>)>| {
            entry.apply(&SessionPatch {
                data: changes
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.map(raw)))
                    .collect(),
                ..SessionPatch::default()
            });
        };
        assert_eq!(keys(&entry), ["n=\"0\""]);
        let held = entry.to_record();
        set(&mut entry, vec![("n", Some("1"))]);
        assert_eq!(keys(&entry), ["n=\"1\""]);
        assert_eq!(held.data.get_raw("n").map(|v| v.get()), Some("\"0\""));
        set(&mut entry, vec![("m", Some("2")), ("o", Some("3"))]);
        assert_eq!(keys(&entry), ["m=\"2\"", "n=\"1\"", "o=\"3\""]);
        set(&mut entry, vec![("m", None), ("n", None)]);
        assert_eq!(keys(&entry), ["o=\"3\""]);
        set(&mut entry, vec![("o", None), ("absent", None)]);
        assert!(keys(&entry).is_empty());
        set(&mut entry, vec![("p", Some("4"))]);
        assert_eq!(keys(&entry), ["p=\"4\""]);
    }

    #[test]
    fn an_end_brings_the_deadlines_forward_but_reports_them_as_they_were() {
        let now = SystemTime::now();
        let record = anonymous(now, 9, SessionData::default(), 3600, 600);
        let mut entry = Entry::from_record(record.clone());
        let at = now + Duration::from_secs(60);
        entry.end(Ended::new(at, EndReason::Revoked));
        entry.end(Ended::new(now, EndReason::LoggedOut));
        assert!(entry.is_ended());
        let inside = Millis::from_system(now + Duration::from_secs(30));
        let after = Millis::from_system(at);
        assert!(entry.is_active(inside) && !entry.is_active(after));
        let got = entry.to_record();
        let ms = |t: SystemTime| Millis::from_system(t).0;
        assert_eq!(ms(got.expires_at), ms(record.expires_at));
        assert_eq!(ms(got.idle_expires_at), ms(record.idle_expires_at));
        let ended = got.ended.expect("ended");
        assert_eq!(ended.reason, EndReason::Revoked, "the first end stays");
        assert_eq!(ms(ended.at), ms(at));
        // A record that carries its end comes back the same.
        let again = Entry::from_record(got.clone()).to_record();
        assert_eq!(again, got);
    }
}
