//! The bounded queue between requests and the audit thread.
//!
//! Why not a channel: a channel wakes its receiver on every send, and waking a parked thread
//! is a system call that cost a request about 2 µs, four times what the whole session layer
//! adds to it. Here a request takes a lock held only for pushes and pointer swaps, and packs
//! the event into a bounded buffer (see [`Packed`]). The buffers are kept between batches, so
//! there is no allocation once warm.
//!
//! A push wakes the thread only when the thread is parked on an empty queue. Otherwise the
//! thread comes back on its own after [`TICK`]. Under a steady stream of events there is then
//! at most one wake-up per tick, whatever the rate, and the queue holds a tick's worth of
//! events (1024 by default: a million events a second).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use tokio::sync::oneshot;

use super::packed::{EventParts, Packed};

/// How long the audit thread waits between batches while events keep coming: the most an
/// event waits for the sink while the thread is busy.
pub(super) const TICK: Duration = Duration::from_millis(1);

/// How long the thread sleeps on an empty queue before looking again on its own. A push
/// wakes it sooner; this only bounds the wait of an event whose push raced the thread's
/// going to sleep (the flag that asks for a wake-up is read without a fence, see `push`).
const IDLE: Duration = Duration::from_millis(50);

/// Callers of `flush` waiting for the events queued before their call to reach the sink.
type Flushes = Vec<oneshot::Sender<()>>;

/// The queue, shared by the handles and the audit thread.
pub(super) struct Queue {
    /// Held only to push one event or to swap the whole queue out, never while delivering.
    events: Mutex<Packed>,
    capacity: usize,
    /// Rare (tests, shutdown): a lock is fine here.
    flushes: Mutex<Flushes>,
    /// Set by the thread before it parks on an empty queue: the next push wakes it.
    parked: AtomicBool,
    /// Set when the last handle is gone: the thread delivers what is left and ends.
    closed: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Queue {
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            events: Mutex::new(Packed::default()),
            capacity,
            flushes: Mutex::new(Vec::new()),
            parked: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    /// The thread that takes the events off (set once, by the thread itself).
    pub(super) fn serve_from(&self, thread: Thread) {
        let _ = self.thread.set(thread);
    }

    /// Queues an event unless the queue is full; `false` when it was dropped.
    pub(super) fn push(&self, event: EventParts<'_>) -> bool {
        {
            let mut events = self.events();
            if events.len() >= self.capacity {
                return false;
            }
            events.push(event);
        }
        // A plain load first: the read-modify-write is paid only when the thread sleeps.
        if self.parked.load(Ordering::Relaxed) {
            self.wake_if(false);
        }
        true
    }

    /// Asks to be told once every event queued before this call has reached the sink.
    pub(super) fn push_flush(&self, done: oneshot::Sender<()>) {
        self.flushes().push(done);
        self.wake_if(true);
    }

    /// Tells the thread no more events will come.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake_if(true);
    }

    /// Swaps every queued event into `batch` (empty, and kept by the thread to swap in again,
    /// so the queue keeps its reserved capacity): the lock is held for a pointer swap.
    pub(super) fn take_into(&self, batch: &mut Packed) {
        std::mem::swap(&mut *self.events(), batch);
    }

    /// The flush requests made so far. Taken before the events are drained: the events a
    /// caller queued before asking are then sure to be drained before it is answered.
    pub(super) fn take_flushes(&self) -> Flushes {
        std::mem::take(&mut *self.flushes())
    }

    /// Parks the thread until an event or a flush request comes (at most [`IDLE`]) or, when
    /// `idle` is false (it has just delivered a batch), at most [`TICK`]. Returns false once
    /// the queue is closed and empty.
    pub(super) fn wait(&self, idle: bool) -> bool {
        if !idle {
            std::thread::park_timeout(TICK);
            return true;
        }
        self.parked.store(true, Ordering::SeqCst);
        // Looked at again after announcing the park: a push that missed the flag is seen here.
        if !self.events().is_empty() || !self.flushes().is_empty() {
            self.parked.store(false, Ordering::SeqCst);
            return true;
        }
        if self.closed.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::park_timeout(IDLE);
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

    fn events(&self) -> MutexGuard<'_, Packed> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn flushes(&self) -> MutexGuard<'_, Flushes> {
        // A panic while holding this lock cannot leave the list half-changed.
        self.flushes.lock().unwrap_or_else(|e| e.into_inner())
    }
}
