//! The bounded queue between requests and the audit sink: [`AuditHandle`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;

use super::delivery;
use super::packed::EventParts;
use super::queue::Queue;
use super::warning::RateLimit;
use super::{AuditEvent, AuditKind, AuditSink};

/// Events held for a slow sink before new ones are dropped, unless
/// [`AuditHandle::with_capacity`] says otherwise.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Delivers audit events to an [`AuditSink`] on a thread of its own, through a bounded queue.
///
/// Recording never waits: when the queue is full (the sink is slow or stuck) the event is
/// dropped, counted in [`dropped`](Self::dropped) and reported by a `tracing` warning at most
/// every 10 seconds. A sink that fails or panics is counted in [`failed`](Self::failed) and
/// keeps receiving events. So a sink can never slow down or fail a request.
///
/// [`SessionLayer::audit`](crate::SessionLayer::audit) makes one; the layer's
/// [`config().audit()`](crate::SessionConfig::audit) returns it. Cloning is cheap and every
/// clone feeds the same queue. The thread ends once every clone is dropped and the queue is
/// delivered.
#[derive(Clone)]
pub struct AuditHandle {
    shared: Arc<Shared>,
}

/// What the handle's clones and the delivery thread share.
struct Shared {
    /// The sink's [`AuditSink::filter`], asked before an event is queued.
    filter: Option<fn(AuditKind) -> bool>,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
    dropping: RateLimit,
}

/// Counts kept by the delivery thread and the recording side.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) dropped: AtomicU64,
    pub(super) failed: AtomicU64,
}

impl AuditHandle {
    /// Starts delivering to `sink`, holding up to [`DEFAULT_CAPACITY`] events for it.
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    pub fn new(sink: impl AuditSink) -> Self {
        Self::with_capacity(sink, DEFAULT_CAPACITY)
    }

    /// Starts delivering to `sink`, holding up to `capacity` events (at least 1) for it.
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    pub fn with_capacity(sink: impl AuditSink, capacity: usize) -> Self {
        Self::try_with_capacity(sink, capacity).expect("cannot start the audit thread")
    }

    /// [`with_capacity`](Self::with_capacity), failing instead of panicking when the
    /// operating system cannot start a thread: for a trail started on a request's path.
    pub(super) fn try_with_capacity(
        sink: impl AuditSink,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let queue = Arc::new(Queue::new(capacity));
        let counters = Arc::new(Counters::default());
        let filter = sink.filter();
        delivery::start(Box::new(sink), Arc::clone(&queue), Arc::clone(&counters))?;
        Ok(Self {
            shared: Arc::new(Shared {
                filter,
                queue,
                counters,
                dropping: RateLimit::new(),
            }),
        })
    }

    /// The process's trail to [`TracingAudit`](super::TracingAudit): where a
    /// [`SessionLayer`](crate::SessionLayer), the admin and remote routes and
    /// [`CrossOriginLayer`](crate::csrf::CrossOriginLayer) report unless given a handle of
    /// their own. One thread for the whole process, started by the first event a `tracing`
    /// subscriber listens to (or by this call); events no subscriber listens to are not
    /// queued.
    ///
    /// # Panics
    /// If the operating system cannot start a thread (the layer, which starts it on a
    /// request's path, reports nothing then instead).
    pub fn tracing() -> Self {
        super::target::process_tracing()
            .cloned()
            .expect("cannot start the audit thread")
    }

    /// Queues `event` for the sink without waiting: for events an app reports itself. When
    /// the queue is full the event is dropped and counted. An event the sink's
    /// [`filter`](AuditSink::filter) refuses is dropped without being counted.
    pub fn record(&self, event: AuditEvent) {
        if self.wants(event.event) {
            self.record_parts(EventParts::from(&event));
        }
    }

    /// Whether the sink keeps events of `kind` ([`AuditSink::filter`]): the layer builds an
    /// event only then.
    pub(crate) fn wants(&self, kind: AuditKind) -> bool {
        self.shared.filter.is_none_or(|keeps| keeps(kind))
    }

    /// [`record`](Self::record) of an event's parts, borrowed from the request: the layer's
    /// own events are packed into the queue without building an `AuditEvent` first. The
    /// caller has asked [`wants`](Self::wants) already (through
    /// [`AuditTarget::for_kind`](super::AuditTarget::for_kind)), so it is not asked twice.
    pub(crate) fn record_parts(&self, event: EventParts<'_>) {
        if self.shared.queue.push(event) {
            return;
        }
        let dropped = self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if self.shared.dropping.allow() {
            tracing::warn!(
                target: "sessionward::audit",
                dropped,
                "audit events dropped: the audit sink is not keeping up"
            );
        }
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.counters.dropped.load(Ordering::Relaxed)
    }

    /// Events the sink failed on (an error or a panic) so far, flushes included.
    pub fn failed(&self) -> u64 {
        self.shared.counters.failed.load(Ordering::Relaxed)
    }

    /// Waits until every event recorded before this call has reached the sink, and the sink
    /// has flushed: for tests, and at shutdown. It waits as long as a stuck sink is stuck.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        self.shared.queue.push_flush(done);
        // An error means the thread is gone: nothing is left to wait for.
        let _ = flushed.await;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: the thread delivers what is queued, then ends.
        self.queue.close();
    }
}

impl fmt::Debug for AuditHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditHandle")
            .field("dropped", &self.dropped())
            .field("failed", &self.failed())
            .finish_non_exhaustive()
    }
}
