//! Reporting trouble with the audit trail (dropped events, a failing sink) through `tracing`,
//! at most once per interval, so a flood of failures cannot become a flood of log lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The shortest time between two warnings of one kind.
const INTERVAL: Duration = Duration::from_secs(10);

/// Says whether a warning may be logged now.
#[derive(Debug)]
pub(super) struct RateLimit {
    start: Instant,
    /// Milliseconds after `start` before which no warning is logged; 0 until the first.
    next: AtomicU64,
}

impl RateLimit {
    pub(super) fn new() -> Self {
        Self {
            start: Instant::now(),
            next: AtomicU64::new(0),
        }
    }

    /// Whether to warn now; at most one caller in each interval is told yes.
    pub(super) fn allow(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next.load(Ordering::Relaxed);
        let after = now.saturating_add(u64::try_from(INTERVAL.as_millis()).unwrap_or(u64::MAX));
        now >= next
            && self
                .next
                .compare_exchange(next, after.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
