//! Audit events as the queue holds them: packed one after another into a byte buffer.
//!
//! Why not a queue of [`AuditEvent`]s: an event is 128 bytes, plus a heap copy of its user
//! agent and of its user, and the audit thread reads it on another core. Every line the
//! request writes and the audit thread then reads must be fetched back from that core before
//! the request can write it again, and that transfer, not building the event, was most of what
//! an event cost a request. Packed, a request copies the event's text straight from the
//! request into the buffer with no allocation, and an event without a user agent or a user
//! (an anonymous session's) takes 30 bytes. The audit thread builds each `AuditEvent` as it
//! unpacks the batch, off the request path.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{AuditEvent, AuditKind};
use crate::token::SessionId;

/// One event as its parts, borrowed from the request that reports it.
pub(crate) struct EventParts<'a> {
    pub(crate) kind: AuditKind,
    pub(crate) time: SystemTime,
    pub(crate) session_id: Option<SessionId>,
    pub(crate) user: Option<&'a str>,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) reason: Option<Cow<'static, str>>,
}

impl<'a> From<&'a AuditEvent> for EventParts<'a> {
    fn from(event: &'a AuditEvent) -> Self {
        Self {
            kind: event.event,
            time: event.time,
            session_id: event.session_id,
            user: event.user.as_deref(),
            ip: event.ip,
            user_agent: event.user_agent.as_deref(),
            // A static reason is a pointer copy; an owned one (an app's) is cloned.
            reason: event.reason.clone(),
        }
    }
}

// Which optional parts follow an event's fixed head.
const SESSION_ID: u8 = 1;
const USER: u8 = 1 << 1;
const IPV4: u8 = 1 << 2;
const IPV6: u8 = 1 << 3;
const USER_AGENT: u8 = 1 << 4;
const REASON: u8 = 1 << 5;
/// The time is before 1970: the seconds and nanoseconds count backwards from it.
const BEFORE_EPOCH: u8 = 1 << 6;

/// Events packed in the order they were pushed.
///
/// Layout of one event: kind (1 byte), flags (1), seconds (8) and nanoseconds (4) since 1970,
/// then, as the flags say, the session id (16), the IP (4 or 16), the user and the user agent
/// (each a 4-byte length and its UTF-8). Reasons, nearly always `&'static str`, are kept
/// aside as they are, so a static one is never copied.
#[derive(Default)]
pub(super) struct Packed {
    bytes: Vec<u8>,
    reasons: Vec<Cow<'static, str>>,
    len: usize,
}

impl Packed {
    /// Number of events held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, parts: EventParts<'_>) {
        let (since, before) = match parts.time.duration_since(UNIX_EPOCH) {
            Ok(since) => (since, 0),
            Err(err) => (err.duration(), BEFORE_EPOCH),
        };
        let flag = |present: bool, bit: u8| if present { bit } else { 0 };
        let flags = before
            | flag(parts.session_id.is_some(), SESSION_ID)
            | flag(parts.user.is_some(), USER)
            | flag(matches!(parts.ip, Some(IpAddr::V4(_))), IPV4)
            | flag(matches!(parts.ip, Some(IpAddr::V6(_))), IPV6)
            | flag(parts.user_agent.is_some(), USER_AGENT)
            | flag(parts.reason.is_some(), REASON);
        let bytes = &mut self.bytes;
        // The discriminant: `AuditKind::ALL` lists the kinds in declaration order.
        bytes.extend_from_slice(&[parts.kind as u8, flags]);
        bytes.extend_from_slice(&since.as_secs().to_le_bytes());
        bytes.extend_from_slice(&since.subsec_nanos().to_le_bytes());
        if let Some(id) = parts.session_id {
            bytes.extend_from_slice(&id.0);
        }
        match parts.ip {
            Some(IpAddr::V4(ip)) => bytes.extend_from_slice(&ip.octets()),
            Some(IpAddr::V6(ip)) => bytes.extend_from_slice(&ip.octets()),
            None => {}
        }
        for text in [parts.user, parts.user_agent].into_iter().flatten() {
            // A text over 4 GiB cannot come from a request; cut rather than mislabel it.
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&text.as_bytes()[..len as usize]);
        }
        if let Some(reason) = parts.reason {
            self.reasons.push(reason);
        }
        self.len += 1;
    }

    /// Hands every event to `deliver`, oldest first, and empties the buffer (keeping its
    /// memory for the next batch).
    pub(super) fn drain(&mut self, mut deliver: impl FnMut(AuditEvent)) {
        let mut reader = Reader(&self.bytes);
        let mut reasons = self.reasons.drain(..);
        for _ in 0..self.len {
            // Only `push` writes the buffer, so an event always reads back whole.
            let Some(event) = reader.event(&mut reasons) else {
                break;
            };
            deliver(event);
        }
        drop(reasons);
        self.bytes.clear();
        self.len = 0;
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn text(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        let (text, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        // Written from a `&str`, cut only at its end when over 4 GiB: lossy only then.
        Some(String::from_utf8_lossy(text).into_owned())
    }

    fn event(
        &mut self,
        reasons: &mut impl Iterator<Item = Cow<'static, str>>,
    ) -> Option<AuditEvent> {
        let [kind, flags] = self.take()?;
        let kind = *AuditKind::ALL.get(usize::from(kind))?;
        let secs = u64::from_le_bytes(self.take()?);
        let nanos = u32::from_le_bytes(self.take()?);
        let offset = Duration::new(secs, nanos);
        let time = if flags & BEFORE_EPOCH == 0 {
            UNIX_EPOCH.checked_add(offset)?
        } else {
            UNIX_EPOCH.checked_sub(offset)?
        };
        let has = |bit: u8| flags & bit != 0;
        let session_id = if has(SESSION_ID) {
            Some(SessionId(self.take()?))
        } else {
            None
        };
        let ip = if has(IPV4) {
            Some(IpAddr::V4(Ipv4Addr::from(self.take::<4>()?)))
        } else if has(IPV6) {
            Some(IpAddr::V6(Ipv6Addr::from(self.take::<16>()?)))
        } else {
            None
        };
        let user = if has(USER) { Some(self.text()?) } else { None };
        let user_agent = if has(USER_AGENT) {
            Some(self.text()?)
        } else {
            None
        };
        let reason = if has(REASON) { reasons.next() } else { None };
        Some(AuditEvent {
            event: kind,
            time,
            session_id,
            user,
            ip,
            user_agent,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(events: Vec<AuditEvent>) -> Vec<AuditEvent> {
        let mut packed = Packed::default();
        for event in &events {
            packed.push(EventParts::from(event));
        }
        assert_eq!(packed.len(), events.len());
        let mut out = Vec::new();
        packed.drain(|event| out.push(event));
        assert!(packed.is_empty());
        out
    }

    #[test]
    fn every_kind_is_listed_at_its_discriminant() {
        for (at, kind) in AuditKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, at, "{kind}");
        }
    }

    #[test]
    fn events_read_back_as_they_were_pushed() {
        let id = SessionId([7; 16]);
        let full = AuditEvent::new(AuditKind::Login)
            .with_session_id(id)
            .with_user("alice")
            .with_ip("192.0.2.7".parse().unwrap())
            .with_user_agent("curl/8.5.0 ✓")
            .with_reason("because");
        let mut owned_reason = AuditEvent::new(AuditKind::LoginFailed)
            .with_user("")
            .with_ip("2001:db8::1".parse().unwrap())
            .with_reason(String::from("account_locked"));
        owned_reason.time = UNIX_EPOCH - Duration::new(5, 123);
        let bare = AuditEvent::new(AuditKind::InvalidToken);
        let mut events = vec![full, owned_reason, bare];
        for kind in AuditKind::ALL {
            events.push(AuditEvent::new(kind).with_session_id(id));
        }
        assert_eq!(round_trip(events.clone()), events);
    }

    #[test]
    fn an_anonymous_event_takes_thirty_bytes() {
        let mut packed = Packed::default();
        let event = AuditEvent::new(AuditKind::SessionCreated).with_session_id(SessionId([1; 16]));
        packed.push(EventParts::from(&event));
        assert_eq!(packed.bytes.len(), 30);
    }

    #[test]
    fn the_buffer_is_reused_after_a_drain() {
        let mut packed = Packed::default();
        for round in 0..3 {
            for i in 0..10 {
                let event = AuditEvent::new(AuditKind::Renewed).with_user(format!("u{round}-{i}"));
                packed.push(EventParts::from(&event));
            }
            let mut users = Vec::new();
            packed.drain(|event| users.push(event.user.unwrap()));
            let expected: Vec<String> = (0..10).map(|i| format!("u{round}-{i}")).collect();
            assert_eq!(users, expected);
            assert!(packed.bytes.capacity() > 0);
        }
    }
}
