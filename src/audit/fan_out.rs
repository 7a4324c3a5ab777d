//! One event to two sinks: [`FanOut`].

use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::{AuditEvent, AuditKind, AuditSink};

/// Delivers every event to both of its sinks, first to first, made by [`AuditSink::and`].
/// Chain it for more: `a.and(b).and(c)`.
#[derive(Clone, Debug)]
pub struct FanOut<A, B> {
    first: A,
    second: B,
}

impl<A, B> FanOut<A, B> {
    pub(super) fn new(first: A, second: B) -> Self {
        Self { first, second }
    }

    /// Calls `action` on both sinks, the second even when the first fails or panics (a
    /// broken file must not blind a live view); then passes on the first problem.
    fn both(
        &mut self,
        first: impl FnOnce(&mut A) -> io::Result<()>,
        second: impl FnOnce(&mut B) -> io::Result<()>,
    ) -> io::Result<()> {
        let first = catch_unwind(AssertUnwindSafe(|| first(&mut self.first)));
        let second = second(&mut self.second);
        match first {
            Ok(first) => first.and(second),
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl<A: AuditSink, B: AuditSink> AuditSink for FanOut<A, B> {
    /// Both sinks get the event even when the first fails; the first problem is passed on.
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        self.both(|a| a.record(event), |b| b.record(event))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.both(A::flush, B::flush)
    }

    /// Both sinks' test when they share one (two `tracing` sinks), otherwise none: an event
    /// either of them keeps must be queued, and two tests cannot be joined into one `fn`.
    fn filter(&self) -> Option<fn(AuditKind) -> bool> {
        let (first, second) = (self.first.filter()?, self.second.filter()?);
        (first as usize == second as usize).then_some(first)
    }
}
