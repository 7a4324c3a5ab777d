//! The audit thread: takes events off the queue and hands them to the sink.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::handle::Counters;
use super::packed::Packed;
use super::queue::Queue;
use super::warning::RateLimit;
use super::AuditSink;

/// Starts the thread. It owns the sink, and ends when the queue is closed and delivered.
///
/// # Errors
/// When the operating system cannot start a thread.
pub(super) fn start(
    sink: Box<dyn AuditSink>,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
) -> io::Result<()> {
    let mut delivery = Delivery {
        sink,
        counters,
        failing: RateLimit::new(),
    };
    std::thread::Builder::new()
        .name("sessionward-audit".to_owned())
        .spawn(move || {
            queue.serve_from(std::thread::current());
            delivery.run(&queue);
        })
        .map(drop)
}

struct Delivery {
    sink: Box<dyn AuditSink>,
    counters: Arc<Counters>,
    failing: RateLimit,
}

impl Delivery {
    fn run(&mut self, queue: &Queue) {
        let mut batch = Packed::default();
        loop {
            let flushes = queue.take_flushes();
            queue.take_into(&mut batch);
            let idle = batch.is_empty() && flushes.is_empty();
            batch.drain(|event| self.call(|sink| sink.record(&event)));
            if !idle {
                // One flush per batch: a buffered sink is durable soon after a burst, without
                // a flush per event.
                self.call(|sink| sink.flush());
            }
            for done in flushes {
                let _ = done.send(());
            }
            if !queue.wait(idle) {
                return;
            }
        }
    }

    /// Calls the sink, counting and reporting an error or a panic instead of passing it on.
    fn call(&mut self, action: impl FnOnce(&mut dyn AuditSink) -> io::Result<()>) {
        let sink = &mut *self.sink;
        let problem = match catch_unwind(AssertUnwindSafe(|| action(sink))) {
            Ok(Ok(())) => return,
            Ok(Err(err)) => err.to_string(),
            Err(_) => "the audit sink panicked".to_owned(),
        };
        let failed = self.counters.failed.fetch_add(1, Ordering::Relaxed) + 1;
        if self.failing.allow() {
            tracing::warn!(
                target: "sessionward::audit",
                failed,
                problem,
                "the audit sink failed"
            );
        }
    }
}
