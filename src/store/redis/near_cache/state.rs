//! What the near cache holds and the rules that keep it coherent: copies of records, the
//! "read in flight" tickets that make a reply lose against an invalidation, and the
//! heartbeat fence. Everything here runs under one lock, briefly; no I/O.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use foldhash::fast::RandomState;
use lru::LruCache;

use crate::store::{SessionData, SessionRecord};

/// A copy of one record, and what it weighs against the byte budget.
struct Copy {
    record: SessionRecord,
    bytes: usize,
}

/// What a read of `key` should do.
// Returned once per read and matched at once: boxing the record would cost a hit an
// allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Lookup {
    /// Served from the copy: no round trip.
    Hit(SessionRecord),
    /// Read through the tracking connection, then offer the reply with this ticket.
    Miss { ticket: u64 },
    /// No copy may be served now (no live tracking connection, or the fence is stale): read
    /// through the store's own connection and keep nothing.
    Bypass,
}

/// Counters for operators (and the tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NearCacheStats {
    /// Reads served from a copy.
    pub hits: u64,
    /// Reads that went to Redis through the tracking connection.
    pub misses: u64,
    /// Reads that went to Redis uncached: no live tracking connection, or a stale fence.
    pub bypassed: u64,
    /// Keys Redis reported changed, plus whole-cache flushes (`FLUSHALL`, a disconnect).
    pub invalidations: u64,
    /// Tracking connections opened (the first one included).
    pub connects: u64,
    /// Copies held now.
    pub entries: u64,
    /// Bytes the copies weigh now (the replies' field and value bytes).
    pub bytes: u64,
}

pub(super) struct State {
    copies: LruCache<String, Copy, RandomState>,
    bytes: usize,
    max_bytes: usize,
    /// Keys being read through the tracking connection, each with the ticket of its latest
    /// read: an invalidation removes the ticket, and a reply is kept only if its ticket is
    /// still there, whichever of the two the connection delivered first.
    in_flight: HashMap<String, u64, RandomState>,
    next_ticket: u64,
    /// The tracking connection in use, counted from 1; 0 while there is none.
    epoch: u64,
    /// When the latest PING answered on that connection was sent.
    fence: Option<Instant>,
    stats: NearCacheStats,
}

impl State {
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            copies: LruCache::unbounded_with_hasher(RandomState::default()),
            bytes: 0,
            max_bytes,
            in_flight: HashMap::default(),
            next_ticket: 0,
            epoch: 0,
            fence: None,
            stats: NearCacheStats::default(),
        }
    }

    /// How to read `key` at `now` when copies are good for `bound` past the fence.
    pub(super) fn lookup(&mut self, key: &str, now: Instant, bound: Duration) -> Lookup {
        let fresh = self
            .fence
            .is_some_and(|sent| now.saturating_duration_since(sent) <= bound);
        if self.epoch == 0 || !fresh {
            self.stats.bypassed += 1;
            return Lookup::Bypass;
        }
        if let Some(copy) = self.copies.get(key) {
            // The session's own deadlines, checked on every hit: Redis expires the key at the
            // absolute deadline (and reports it), but the idle deadline is ours to enforce.
            let clock = SystemTime::now();
            if copy.record.expires_at > clock && copy.record.idle_expires_at > clock {
                self.stats.hits += 1;
                return Lookup::Hit(copy.record.clone());
            }
            self.remove(key);
        }
        self.stats.misses += 1;
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.in_flight.insert(key.to_owned(), ticket);
        Lookup::Miss { ticket }
    }

    /// The reply to the read with `ticket`: kept if no invalidation (nor a later read of the
    /// same key) came since the read was sent. A missing session is not kept: random tokens
    /// must not fill the cache.
    pub(super) fn offer(
        &mut self,
        key: &str,
        ticket: u64,
        record: Option<&SessionRecord>,
        bytes: usize,
    ) {
        if self.in_flight.get(key) != Some(&ticket) {
            return;
        }
        self.in_flight.remove(key);
        let Some(record) = record else { return };
        // One copy may take at most an eighth of the budget, so a few huge sessions cannot
        // push out everything else.
        if bytes > self.max_bytes / 8 {
            return;
        }
        // The data as the memory store keeps it: shared, so a hit's copy costs an `Arc`, not
        // a list of the session's keys.
        let mut record = record.clone();
        record.data = SessionData::from_shared(std::mem::take(&mut record.data).into_shared());
        let copy = Copy { record, bytes };
        if let Some(old) = self.copies.put(key.to_owned(), copy) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
        while self.bytes > self.max_bytes {
            match self.copies.pop_lru() {
                Some((_, old)) => self.bytes -= old.bytes,
                None => break,
            }
        }
    }

    /// The read with `ticket` failed or was dropped: forget its ticket.
    pub(super) fn abandon(&mut self, key: &str, ticket: u64) {
        if self.in_flight.get(key) == Some(&ticket) {
            self.in_flight.remove(key);
        }
    }

    /// Redis reported `key` changed (or this instance wrote it): drop the copy and any read
    /// in flight.
    pub(super) fn invalidate(&mut self, key: &str) {
        self.stats.invalidations += 1;
        self.remove(key);
    }

    /// Everything may have changed (`FLUSHALL`, `FLUSHDB`, a lost connection).
    pub(super) fn flush(&mut self) {
        self.stats.invalidations += 1;
        self.copies.clear();
        self.bytes = 0;
        self.in_flight.clear();
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.copies.pop(key) {
            self.bytes -= old.bytes;
        }
        self.in_flight.remove(key);
    }

    /// A new tracking connection, tracking on, serves from now on: the cache starts empty
    /// and serves no copy before its first PONG.
    pub(super) fn connected(&mut self, epoch: u64) {
        self.flush();
        self.epoch = epoch;
        self.fence = None;
        self.stats.connects += 1;
    }

    /// The connection of `epoch` is gone (or judged dead): nothing is served until the next.
    pub(super) fn disconnected(&mut self, epoch: u64) {
        if self.epoch == epoch {
            self.flush();
            self.epoch = 0;
            self.fence = None;
        }
    }

    /// A PING sent at `sent` on the connection of `epoch` was answered: every invalidation
    /// Redis sent before that PONG has been applied (pushes are handled in order, as they
    /// arrive, before the replies behind them).
    pub(super) fn ponged(&mut self, epoch: u64, sent: Instant) {
        if self.epoch == epoch && self.fence.is_none_or(|fence| sent > fence) {
            self.fence = Some(sent);
        }
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(super) fn stats(&self) -> NearCacheStats {
        NearCacheStats {
            entries: self.copies.len() as u64,
            bytes: self.bytes as u64,
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SessionId;

    const BOUND: Duration = Duration::from_millis(100);

    fn record() -> SessionRecord {
        let now = SystemTime::now();
        SessionRecord {
            id: SessionId([7; 16]),
            user: Some("alice".into()),
            data: SessionData::default(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::from_secs(3600),
            idle_expires_at: now + Duration::from_secs(1800),
            user_agent: None,
            ip: None,
            terms: None,
            ended: None,
        }
    }

    fn live() -> (State, Instant) {
        let mut state = State::new(1 << 20);
        state.connected(1);
        let now = Instant::now();
        state.ponged(1, now);
        (state, now)
    }

    fn miss(state: &mut State, now: Instant) -> u64 {
        match state.lookup("k", now, BOUND) {
            Lookup::Miss { ticket } => ticket,
            _ => panic!("expected a miss"),
        }
    }

    #[test]
    fn a_reply_is_served_until_invalidated() {
        let (mut state, now) = live();
        let ticket = miss(&mut state, now);
        state.offer("k", ticket, Some(&record()), 100);
        assert!(matches!(state.lookup("k", now, BOUND), Lookup::Hit(_)));
        state.invalidate("k");
        miss(&mut state, now);
    }

    #[test]
    fn hits_share_the_data_instead_of_copying_it() {
        let (mut state, now) = live();
        let ticket = miss(&mut state, now);
        let mut with_data = record();
        let dark = serde_json::value::RawValue::from_string("\"dark\"".into()).unwrap();
        with_data.data = [("theme".to_owned(), dark)].into_iter().collect();
        state.offer("k", ticket, Some(&with_data), 100);
        let (Lookup::Hit(first), Lookup::Hit(second)) =
            (state.lookup("k", now, BOUND), state.lookup("k", now, BOUND))
        else {
            panic!("expected two hits")
        };
        assert!(first.data.shares_value(&second.data, "theme"));
    }

    #[test]
    fn an_invalidation_before_the_reply_wins() {
        let (mut state, now) = live();
        let ticket = miss(&mut state, now);
        state.invalidate("k");
        state.offer("k", ticket, Some(&record()), 100);
        miss(&mut state, now);
        assert_eq!(state.stats().entries, 0);
    }

    #[test]
    fn a_flush_or_a_disconnect_drops_reads_in_flight() {
        let (mut state, now) = live();
        let ticket = miss(&mut state, now);
        state.flush();
        state.offer("k", ticket, Some(&record()), 100);
        assert_eq!(state.stats().entries, 0);
        let ticket = miss(&mut state, now);
        state.disconnected(1);
        state.offer("k", ticket, Some(&record()), 100);
        assert!(matches!(state.lookup("k", now, BOUND), Lookup::Bypass));
    }

    #[test]
    fn a_stale_fence_serves_nothing_and_the_next_connection_waits_for_its_pong() {
        let (mut state, now) = live();
        let ticket = miss(&mut state, now);
        state.offer("k", ticket, Some(&record()), 100);
        let later = now + BOUND + Duration::from_millis(1);
        assert!(matches!(state.lookup("k", later, BOUND), Lookup::Bypass));
        // A PONG of an older connection moves nothing.
        state.connected(2);
        state.ponged(1, later);
        assert!(matches!(state.lookup("k", later, BOUND), Lookup::Bypass));
        state.ponged(2, later);
        miss(&mut state, later);
    }

    #[test]
    fn missing_sessions_and_expired_copies_are_not_served() {
        let (mut state, now) = live();
        let ticket = miss(&mut state, now);
        state.offer("k", ticket, None, 0);
        assert_eq!(state.stats().entries, 0);
        let ticket = miss(&mut state, now);
        let mut idle_over = record();
        idle_over.idle_expires_at = SystemTime::now() - Duration::from_secs(1);
        state.offer("k", ticket, Some(&idle_over), 100);
        miss(&mut state, now);
        assert_eq!(state.stats().entries, 0);
    }

    #[test]
    fn the_byte_budget_evicts_the_least_recently_used() {
        let mut state = State::new(1000);
        state.connected(1);
        let now = Instant::now();
        state.ponged(1, now);
        for key in ["a", "b", "c"] {
            let Lookup::Miss { ticket } = state.lookup(key, now, BOUND) else {
                panic!("miss")
            };
            state.offer(key, ticket, Some(&record()), 120);
        }
        assert!(matches!(state.lookup("a", now, BOUND), Lookup::Hit(_)));
        // 9 × 120 > 1000: the oldest untouched ones go first; "a" was just read.
        for key in ["d", "e", "f", "g", "h", "i"] {
            let Lookup::Miss { ticket } = state.lookup(key, now, BOUND) else {
                panic!("miss")
            };
            state.offer(key, ticket, Some(&record()), 120);
        }
        let stats = state.stats();
        assert!(stats.bytes <= 1000, "{stats:?}");
        assert!(matches!(state.lookup("a", now, BOUND), Lookup::Hit(_)));
        assert!(matches!(state.lookup("b", now, BOUND), Lookup::Miss { .. }));
        // Too big for an eighth of the budget: not kept.
        let Lookup::Miss { ticket } = state.lookup("huge", now, BOUND) else {
            panic!("miss")
        };
        state.offer("huge", ticket, Some(&record()), 200);
        assert!(matches!(
            state.lookup("huge", now, BOUND),
            Lookup::Miss { .. }
        ));
    }
}
