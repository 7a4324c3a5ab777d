//! One event to two sinks: [`FanOut`].

use std::io;

use super::{AuditEvent, AuditSink};

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
}

impl<A: AuditSink, B: AuditSink> AuditSink for FanOut<A, B> {
    /// Both sinks get the event even when the first fails; the first error is returned.
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        let first = self.first.record(event);
        let second = self.second.record(event);
        first.and(second)
    }

    fn flush(&mut self) -> io::Result<()> {
        let first = self.first.flush();
        let second = self.second.flush();
        first.and(second)
    }
}
