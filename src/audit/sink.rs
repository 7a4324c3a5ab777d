//! Where audit events go: the [`AuditSink`] trait.

use std::io;

use super::{AuditEvent, AuditKind, FanOut};

/// Receives the audit trail, one event at a time.
///
/// A sink runs on the audit thread of its [`AuditHandle`](super::AuditHandle), never on a
/// request's path: it may block (write a file, call a log service) and requests do not wait
/// for it. Events reach it in the order they were recorded. An error or a panic is counted in
/// [`AuditHandle::failed`](super::AuditHandle::failed) and reported by a rate-limited
/// `tracing` warning; the next event is delivered all the same.
///
/// ```
/// use std::io;
/// use sessionward::audit::{AuditEvent, AuditSink};
///
/// /// Counts the events it sees.
/// struct Counter(u64);
///
/// impl AuditSink for Counter {
///     fn record(&mut self, _event: &AuditEvent) -> io::Result<()> {
///         self.0 += 1;
///         Ok(())
///     }
/// }
/// ```
pub trait AuditSink: Send + 'static {
    /// Takes one event.
    ///
    /// # Errors
    /// When the event could not be kept; it is counted as failed, not retried.
    fn record(&mut self, event: &AuditEvent) -> io::Result<()>;

    /// Makes what was recorded durable (flushes a buffer). Called whenever the queue runs
    /// empty and by [`AuditHandle::flush`](super::AuditHandle::flush). Nothing by default.
    ///
    /// # Errors
    /// When what was recorded could not be made durable.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// A test of whether this sink keeps events of a kind, run before an event is queued: an
    /// event it refuses is neither built nor queued, so a sink that would discard it costs the
    /// request nothing. `None` (the default) queues every event.
    ///
    /// The test runs on the thread that reports the event, on the request's path, so it must
    /// be cheap and must not block. [`TracingAudit`](super::TracingAudit) uses it to skip the
    /// events no `tracing` subscriber listens to (by default `session_created` and `renewed`
    /// are `debug`, so an app logging at `info` queues neither).
    fn filter(&self) -> Option<fn(AuditKind) -> bool> {
        None
    }

    /// Sends every event to this sink and then to `other`: `TracingAudit::default().and(live)`.
    fn and<B: AuditSink>(self, other: B) -> FanOut<Self, B>
    where
        Self: Sized,
    {
        FanOut::new(self, other)
    }
}

/// A sink chosen at run time.
impl<S: AuditSink + ?Sized> AuditSink for Box<S> {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        (**self).record(event)
    }

    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }

    fn filter(&self) -> Option<fn(AuditKind) -> bool> {
        (**self).filter()
    }
}
