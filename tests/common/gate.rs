//! A handshake that holds a request inside its handler until the test lets it go, so a race
//! (a logout landing between a handler's session load and its write) happens in the order the
//! test chooses, on any machine, without sleeps.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How long either side waits for the other before the test fails: far beyond any scheduling
/// delay, so only a broken handshake (the request never reached the gate) runs into it.
const PATIENCE: Duration = Duration::from_secs(10);

/// One gate per test, passed to the app as an `axum::Extension`. The gated routes in
/// [`routes`](super::routes) call [`pause`](Self::pause) after loading their session; the test
/// calls [`reached`](Self::reached), does what must land in between, then [`open`](Self::open).
/// It serves one paused request at a time; a test may reuse it for the next one.
#[derive(Clone, Default)]
pub struct Gate {
    reached: Arc<Notify>,
    open: Arc<Notify>,
}

impl Gate {
    /// Handler side: says the session is loaded, then waits until the test opens the gate.
    pub async fn pause(&self) {
        // `notify_one` keeps a permit when nobody waits yet, so neither side can miss the other.
        self.reached.notify_one();
        tokio::time::timeout(PATIENCE, self.open.notified())
            .await
            .expect("the test opens the gate");
    }

    /// Test side: waits until a gated handler has loaded its session and paused.
    pub async fn reached(&self) {
        tokio::time::timeout(PATIENCE, self.reached.notified())
            .await
            .expect("the gated request reaches its gate (is the Gate extension installed?)");
    }

    /// Test side: lets the paused handler go on.
    pub fn open(&self) {
        self.open.notify_one();
    }
}
