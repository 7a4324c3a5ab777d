//! The audit thread: takes events off the queue and hands them to the sink.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::handle::Counters;
use super::warning::RateLimit;
use super::{AuditEvent, AuditSink};

/// What travels through the queue.
pub(super) enum Message {
    Event(AuditEvent),
    /// Flush the sink, then say so.
    Flush(oneshot::Sender<()>),
}

/// Starts the thread. It owns the sink, and ends when every sender is gone.
pub(super) fn start(
    sink: Box<dyn AuditSink>,
    receiver: mpsc::Receiver<Message>,
    counters: Arc<Counters>,
) {
    let mut delivery = Delivery {
        sink,
        counters,
        failing: RateLimit::new(),
    };
    std::thread::Builder::new()
        .name("sessionward-audit".to_owned())
        .spawn(move || delivery.run(receiver))
        .expect("cannot start the audit thread");
}

struct Delivery {
    sink: Box<dyn AuditSink>,
    counters: Arc<Counters>,
    failing: RateLimit,
}

impl Delivery {
    fn run(&mut self, mut receiver: mpsc::Receiver<Message>) {
        while let Some(message) = receiver.blocking_recv() {
            self.handle(message);
            // Deliver what is queued already, then flush once the queue runs dry: a buffered
            // sink is durable soon after a burst without a flush per event.
            while let Ok(message) = receiver.try_recv() {
                self.handle(message);
            }
            self.call(|sink| sink.flush());
        }
        self.call(|sink| sink.flush());
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Event(event) => self.call(|sink| sink.record(&event)),
            Message::Flush(done) => {
                self.call(|sink| sink.flush());
                let _ = done.send(());
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
