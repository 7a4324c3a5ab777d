//! The bounded queue between requests and the audit thread.
//!
//! Why not a channel: a channel wakes its receiver on every send, and waking a parked thread
//! is a system call that cost a request about 2 µs, four times what the whole session layer
//! adds to it. Here a request takes a lock, pushes, and wakes the thread only when the thread
//! is parked on an empty queue, or when the queue is half full. Otherwise the thread comes back
//! on its own after [`TICK`]: under a steady stream of events there is at most one wake-up per
//! tick, whatever the rate.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use tokio::sync::oneshot;

use super::AuditEvent;

/// How long the audit thread waits between batches while events keep coming: the most an
/// event waits for the sink when the queue is neither empty nor half full.
pub(super) const TICK: Duration = Duration::from_millis(5);

/// What travels through the queue.
pub(super) enum Message {
    Event(AuditEvent),
    /// Flush the sink, then say so.
    Flush(oneshot::Sender<()>),
}

/// The queue, shared by the handles and the audit thread.
pub(super) struct Queue {
    messages: Mutex<VecDeque<Message>>,
    capacity: usize,
    /// Set by the thread before it parks on an empty queue: the next push wakes it.
    parked: AtomicBool,
    /// Set when the last handle is gone: the thread delivers what is left and ends.
    closed: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Queue {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            messages: Mutex::new(VecDeque::with_capacity(capacity.min(64))),
            capacity: capacity.max(1),
            parked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    /// The thread that takes the messages off (set once, by the thread itself).
    pub(super) fn serve_from(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    /// Queues an event unless the queue is full; `false` when it was dropped.
    pub(super) fn push(&self, event: AuditEvent) -> bool {
        let len = {
            let mut messages = self.lock();
            if messages.len() >= self.capacity {
                return false;
            }
            messages.push_back(Message::Event(event));
            messages.len()
        };
        self.wake_if(len * 2 >= self.capacity);
        true
    }

    /// Queues a flush request, room or not (it is a few bytes, and its caller waits).
    pub(super) fn push_flush(&self, done: oneshot::Sender<()>) {
        self.lock().push_back(Message::Flush(done));
        self.wake_if(true);
    }

    /// Tells the thread no more messages will come.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake_if(true);
    }

    /// Swaps every queued message into `batch` (empty, and kept by the thread to swap in
    /// again): the lock is held for a pointer swap, never while messages are moved.
    pub(super) fn take_into(&self, batch: &mut VecDeque<Message>) {
        std::mem::swap(&mut *self.lock(), batch);
    }

    /// Parks the thread until a message comes or, when `idle` is false (it has just delivered
    /// a batch), at most [`TICK`]. Returns false once the queue is closed and empty.
    pub(super) fn wait(&self, idle: bool) -> bool {
        if !idle {
            std::thread::park_timeout(TICK);
            return true;
        }
        self.parked.store(true, Ordering::SeqCst);
        // Looked at again after announcing the park: a push that missed the flag is seen here.
        if !self.lock().is_empty() {
            self.parked.store(false, Ordering::SeqCst);
            return true;
        }
        if self.closed.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::park();
        self.parked.store(false, Ordering::SeqCst);
        true
    }

    fn wake_if(&self, pressing: bool) {
        if pressing || self.parked.swap(false, Ordering::SeqCst) {
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Message>> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }
}
