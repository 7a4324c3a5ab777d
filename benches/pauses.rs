//! How long the memory store makes every request wait: the operations that hold its write lock
//! over many sessions at once.
//!
//! Run with `cargo bench -p sessionward-bench --bench pauses` (a plain `main`, about a minute
//! and 1 GB of memory at its peak).
//!
//! 1. **Growth.** The longest single `create` while a `MemoryStore` fills up to 2,000,000
//!    sessions: its indexes grow by doubling and move every entry under the write lock, so the
//!    longest create is how long every request waits then. Against a store made with room for
//!    them all (`MemoryStore::with_capacity`); anonymous sessions, then signed-in ones of a
//!    user each (the user index grows too). Each store is dropped before the next is filled.
//! 2. **Purge.** `delete_expired` on a store of 1,000,000 sessions, half of them expired,
//!    while another thread reads one session again and again: the longest read is how long a
//!    request waited for the purge, against the longest read of the same loop with no purge
//!    running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sessionward::store::{MemoryStore, SessionRecord, SessionStore};
use sessionward::token::{SessionId, TokenHash};
use sessionward_bench::mixed;
use tokio::runtime::Runtime;

/// Sessions part 1 stores, one by one.
const GROWTH_SESSIONS: u64 = 2_000_000;
/// Sessions in the store part 2 purges, half of them expired.
const PURGE_SESSIONS: u64 = 1_000_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Session `n`, anonymous or of a user of its own, ending `lifetime` after `now`.
fn session(n: u64, signed_in: bool, now: SystemTime, lifetime: Duration) -> SessionRecord {
    SessionRecord {
        id: SessionId(mixed(2 * n)),
        user: signed_in.then(|| format!("user-{n}")),
        data: Default::default(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
        idle_expires_at: now + lifetime,
        user_agent: None,
        ip: None,
        terms: None,
        ended: None,
    }
}

fn key(n: u64) -> TokenHash {
    TokenHash(mixed(2 * n + 1))
}

fn growth(rt: &Runtime) {
    let now = SystemTime::now();
    let stores = || {
        [
            ("MemoryStore::new()", MemoryStore::new()),
            (
                "MemoryStore::with_capacity(2_000_000)",
                MemoryStore::with_capacity(GROWTH_SESSIONS as usize),
            ),
        ]
    };
    let layouts = [("anonymous", false), ("a user each", true)];
    for ((name, store), (layout, signed_in)) in layouts
        .iter()
        .flat_map(|&layout| stores().into_iter().map(move |store| (store, layout)))
    {
        let (worst, at) = rt.block_on(async {
            let mut worst = (Duration::ZERO, 0);
            for n in 0..GROWTH_SESSIONS {
                let record = session(n, signed_in, now, Duration::from_secs(3600));
                let start = Instant::now();
                store.create(&key(n), record).await.expect("distinct keys");
                let took = start.elapsed();
                if took > worst.0 {
                    worst = (took, n + 1);
                }
            }
            worst
        });
        println!(
            "growth: {name}, {layout}: longest create {:.2} ms, at session {at} of \
             {GROWTH_SESSIONS}",
            worst.as_secs_f64() * 1e3
        );
    }
}

/// The longest of the reads a thread makes of one session until `stop` is set.
fn longest_read(store: MemoryStore, stop: Arc<AtomicBool>, started: Arc<AtomicBool>) -> Duration {
    let rt = runtime();
    let live = key(1);
    rt.block_on(async {
        let mut longest = Duration::ZERO;
        while !stop.load(Ordering::Acquire) {
            let start = Instant::now();
            let found = store.load(&live).await.expect("the memory store answers");
            longest = longest.max(start.elapsed());
            assert!(found.is_some(), "the live session stays");
            started.store(true, Ordering::Release);
        }
        longest
    })
}

fn purge(rt: &Runtime) {
    let now = SystemTime::now();
    let store = MemoryStore::new();
    rt.block_on(async {
        for n in 0..PURGE_SESSIONS {
            // Odd sessions live for an hour, even ones end a second from now.
            let lifetime = Duration::from_secs(if n % 2 == 1 { 3600 } else { 1 });
            let record = session(n, n % 4 == 1, now, lifetime);
            store.create(&key(n), record).await.expect("distinct keys");
        }
    });
    let purge_at = now + Duration::from_secs(2);
    for purging in [false, true] {
        let (stop, started) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let reader = {
            let (store, stop, started) = (store.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || longest_read(store, stop, started))
        };
        while !started.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let start = Instant::now();
        let purged = if purging {
            rt.block_on(store.delete_expired(purge_at))
                .expect("the memory store answers")
        } else {
            // As long as a purge takes, without one.
            std::thread::sleep(Duration::from_millis(200));
            0
        };
        let took = start.elapsed();
        stop.store(true, Ordering::Release);
        let longest = reader.join().expect("the reader thread");
        println!(
            "purge: {}: {purged} of {PURGE_SESSIONS} sessions in {:.1} ms, longest read \
             meanwhile {:.2} ms",
            if purging {
                "delete_expired"
            } else {
                "no purge"
            },
            took.as_secs_f64() * 1e3,
            longest.as_secs_f64() * 1e3
        );
    }
}

fn main() {
    let rt = runtime();
    growth(&rt);
    purge(&rt);
}
