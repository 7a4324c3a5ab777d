//! Audit events for live views: [`BroadcastAudit`].

use std::io;

use tokio::sync::broadcast;

use super::{AuditEvent, AuditSink};

/// Sends each audit event to every current subscriber: for a live dashboard or a
/// server-sent-events stream. With no subscriber, events are simply not kept.
///
/// Keep a clone to [`subscribe`](Self::subscribe) later:
///
/// ```
/// use sessionward::{audit::BroadcastAudit, store::MemoryStore, SessionLayer};
///
/// let live = BroadcastAudit::new(256);
/// let layer = SessionLayer::new(MemoryStore::default()).audit(live.clone());
/// let mut events = live.subscribe(); // `events.recv().await` in a task
/// ```
///
/// A subscriber more than `capacity` events behind misses the oldest ones and learns how many
/// from [`RecvError::Lagged`](broadcast::error::RecvError::Lagged); the other subscribers
/// and the requests are not held up.
#[derive(Clone, Debug)]
pub struct BroadcastAudit {
    sender: broadcast::Sender<AuditEvent>,
}

impl BroadcastAudit {
    /// A channel keeping the last `capacity` events (at least 1) for each subscriber.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// A receiver of every event sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AuditEvent> {
        self.sender.subscribe()
    }

    /// The channel's sender, for whatever takes one to subscribe from (such as the admin
    /// dashboard's live feed, `AdminRouter::events`).
    pub fn sender(&self) -> &broadcast::Sender<AuditEvent> {
        &self.sender
    }
}

impl AuditSink for BroadcastAudit {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        // An error only says that nobody listens right now.
        let _ = self.sender.send(event.clone());
        Ok(())
    }
}
