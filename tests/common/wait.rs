//! Waiting for a condition that a background task brings about, or for a wall-clock time to
//! pass, instead of sleeping for a time that a loaded machine may not honour.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long [`eventually`] waits: far beyond what the awaited work needs, so only a condition
/// that never comes true runs into it.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Checks `condition` every few milliseconds until it holds; fails the test, naming `what`,
/// if it still does not after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(
            start.elapsed() < DEADLINE,
            "still not true after {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The wall clock in milliseconds since the Unix epoch, as the `/describe` route reports times
/// and as the memory store keeps them (truncated).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sleeps until the wall clock has passed `at_ms` (ms since the Unix epoch). Waiting for at
/// least a time is robust; only assuming that no more than a time passed is not.
pub async fn sleep_past(at_ms: u64) {
    while now_ms() <= at_ms {
        tokio::time::sleep(Duration::from_millis((at_ms + 1).saturating_sub(now_ms()))).await;
    }
}
