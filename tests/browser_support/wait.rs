//! Waiting for a condition: checked again and again until it holds. The deadline is only a
//! guard against a condition that never holds; nothing waits for a time to let something
//! happen.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// Far beyond what any step needs, even on a loaded two-core machine: only a condition that
/// never holds runs into it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(50);

/// Checks `probe` until it gives a value, and returns that value. `probe` answers `Ok(None)`
/// for "not yet", and `Err` for a check that could not be made yet either (a page in the middle
/// of loading); the last answer is in the panic message.
///
/// # Panics
/// When `probe` has not given a value within [`PATIENCE`], naming `what`.
pub async fn until<T, E, F, Fut>(what: &str, mut probe: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        let last = match probe().await {
            Ok(Some(value)) => return value,
            Ok(None) => "not yet".to_owned(),
            Err(err) => format!("{err:?}"),
        };
        assert!(
            Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}; last check: {last}"
        );
        tokio::time::sleep(POLL).await;
    }
}
