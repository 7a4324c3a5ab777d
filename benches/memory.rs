//! Heap held per idle session, store calls made by requests that never touch their session, and
//! the time the memory store's cleanup takes.
//!
//! Run with `cargo bench -p sessionward-bench --bench memory` (a plain `main`; parts 3 and 4
//! run criterion from it).
//!
//! 1. A counting global allocator tracks the bytes currently allocated (as requested from the
//!    allocator: malloc's own per-block overhead is not included; the number of live blocks is
//!    reported so it can be estimated). For each store and each N, a fresh router creates N
//!    sessions through real `/new` requests (each inserting `"theme" => "dark"`), all responses
//!    are dropped, and the growth of the heap divided by N is reported. Hash tables grow by
//!    doubling, so N values just after and just before a growth step are both shown.
//! 2. A store wrapper counts every `SessionStore` call while 1000 requests carrying a valid
//!    cookie reach a handler that takes no `Session`: the layer promises zero store calls.
//! 3. Criterion times `delete_expired` (every session expired) and `delete_by_user` (every user)
//!    on a `MemoryStore` holding 100 000 sessions, all of one user (`one-user`) or 10 per user
//!    (`many-users`, the comparison). `delete_by_user` runs under the store's write lock, so
//!    its time is how long every other request waits; `delete_expired` works in steps that let
//!    requests in between (the `pauses` bench measures how long they wait). Each iteration
//!    builds a fresh store, outside the measured time. Benchmark ids
//!    `cleanup-100k/<operation>/<layout>`.
//! 4. Criterion times what a request that changes one key costs the memory store: `load` (the
//!    request's copy, held meanwhile as a handler holds it) then `update` of that one key, on a
//!    session holding 1, 32 or 256 keys of 200 bytes each. A store that copied the whole data on
//!    every write would grow with the session; the shared keys and values keep the copy to one
//!    pointer pair a key. Benchmark ids `write-one-key/<keys in the session>`.

use sessionward_bench as support;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use support::send;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode};
use tokio::runtime::Runtime;

use sessionward::store::{MemoryStore, SessionPatch, SessionQuery, SessionRecord, SessionStore};
use sessionward::token::{SessionId, TokenHash};
use sessionward::{Session, SessionError, SessionLayer, StoreError};

// ---- counting allocator -----------------------------------------------------------------------

/// `System`, counting the bytes and blocks currently allocated.
struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);
static BLOCKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which we forward as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            BYTES.fetch_add(layout.size(), Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            BYTES.fetch_add(layout.size(), Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (hence by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                BYTES.fetch_add(new_size - layout.size(), Ordering::Relaxed);
            } else {
                BYTES.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn heap() -> (usize, usize) {
    (
        BYTES.load(Ordering::Relaxed),
        BLOCKS.load(Ordering::Relaxed),
    )
}

// ---- requests ---------------------------------------------------------------------------------

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---- 1. heap per idle session -----------------------------------------------------------------

async fn sw_new(session: Session) -> Result<&'static str, SessionError> {
    session.insert("theme", "dark").await?;
    Ok("created")
}

async fn ts_new(session: tower_sessions::Session) -> Result<&'static str, StatusCode> {
    session
        .insert("theme", "dark")
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok("created")
}

/// A router whose `/new` creates a session, and a probe returning how many sessions its
/// store holds (when the store can tell).
type Stack = fn() -> (Router, Box<dyn Fn() -> Option<usize>>);

fn sessionward_stack() -> (Router, Box<dyn Fn() -> Option<usize>>) {
    let store = sessionward::store::MemoryStore::default();
    let app = Router::new()
        .route("/new", get(sw_new))
        .layer(SessionLayer::new(store.clone()));
    (app, Box::new(move || Some(store.len())))
}

fn tower_sessions_stack() -> (Router, Box<dyn Fn() -> Option<usize>>) {
    let store = tower_sessions::MemoryStore::default();
    let app = Router::new()
        .route("/new", get(ts_new))
        .layer(tower_sessions::SessionManagerLayer::new(store).with_secure(false));
    (app, Box::new(|| None))
}

struct Measured {
    bytes_per_session: f64,
    blocks_per_session: f64,
}

/// Creates `n` sessions on a fresh stack and returns the heap growth per session.
fn measure(rt: &Runtime, stack: Stack, n: usize) -> Measured {
    let (app, len) = stack();
    // One request first, so that lazily initialised state (thread locals, the OS RNG, tracing
    // callsites, the tables' first allocation) is not counted.
    let (status, cookie, _) = rt.block_on(send(&app, "/new", None));
    assert_eq!(status, StatusCode::OK);
    assert!(cookie.is_some(), "/new must set a cookie");

    let (bytes_before, blocks_before) = heap();
    rt.block_on(async {
        for _ in 0..n {
            let (status, cookie, _) = send(&app, "/new", None).await;
            debug_assert_eq!(status, StatusCode::OK);
            debug_assert!(cookie.is_some());
        }
    });
    let (bytes_after, blocks_after) = heap();

    if let Some(len) = len() {
        assert_eq!(len, n + 1, "every request created one session");
    }
    drop(app);
    Measured {
        bytes_per_session: bytes_after.saturating_sub(bytes_before) as f64 / n as f64,
        blocks_per_session: blocks_after.saturating_sub(blocks_before) as f64 / n as f64,
    }
}

fn heap_per_session(rt: &Runtime) {
    // 10k and 100k sit just after a table growth step (16 384 and 131 072 buckets, hashbrown
    // holds 7/8 of its buckets); 14k and 114k just before the next one.
    const NS: [usize; 4] = [10_000, 14_000, 100_000, 114_000];
    let stacks: [(&str, Stack); 2] = [
        ("sessionward `MemoryStore`", sessionward_stack),
        ("tower-sessions 0.15 `MemoryStore`", tower_sessions_stack),
    ];

    println!("## Heap per idle session (one value: \"theme\" => \"dark\")\n");
    println!("Command: `cargo bench -p sessionward-bench --bench memory`\n");
    print!("| store |");
    for n in NS {
        print!(" N = {n} |");
    }
    println!("\n|---|{}", "---:|".repeat(NS.len()));
    for (name, stack) in stacks {
        print!("| {name} |");
        for n in NS {
            let m = measure(rt, stack, n);
            print!(
                " {:.0} B ({:.2} blocks) |",
                m.bytes_per_session, m.blocks_per_session
            );
        }
        println!();
    }
    println!(
        "\nBytes as requested from the allocator (malloc adds ~8–16 B per block on top), \
         table slack included, divided by N."
    );
}

// ---- 2. store calls for a request that never touches its session ------------------------------

/// `MemoryStore`, counting every call.
#[derive(Clone, Default)]
struct CountingStore {
    inner: sessionward::store::MemoryStore,
    calls: Arc<AtomicUsize>,
    loads: Arc<AtomicUsize>,
}

impl CountingStore {
    fn hit(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns (all calls, loads) since the last reset, and resets.
    fn take(&self) -> (usize, usize) {
        (
            self.calls.swap(0, Ordering::Relaxed),
            self.loads.swap(0, Ordering::Relaxed),
        )
    }
}

impl SessionStore for CountingStore {
    async fn create(&self, key: &TokenHash, record: SessionRecord) -> Result<(), StoreError> {
        self.hit();
        self.inner.create(key, record).await
    }

    async fn load(&self, key: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        self.hit();
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.inner.load(key).await
    }

    async fn load_by_id(
        &self,
        id: &SessionId,
    ) -> Result<Option<(TokenHash, SessionRecord)>, StoreError> {
        self.hit();
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.inner.load_by_id(id).await
    }

    async fn update(&self, key: &TokenHash, patch: &SessionPatch) -> Result<bool, StoreError> {
        self.hit();
        self.inner.update(key, patch).await
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        patch: &SessionPatch,
    ) -> Result<bool, StoreError> {
        self.hit();
        self.inner.rotate(old, new, patch).await
    }

    async fn delete(&self, key: &TokenHash) -> Result<bool, StoreError> {
        self.hit();
        self.inner.delete(key).await
    }

    async fn delete_by_id(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.hit();
        self.inner.delete_by_id(id).await
    }

    async fn list_by_user(
        &self,
        user: &str,
        now: SystemTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.hit();
        self.inner.list_by_user(user, now).await
    }

    async fn count_by_user(&self, user: &str, now: SystemTime) -> Result<u64, StoreError> {
        self.hit();
        self.inner.count_by_user(user, now).await
    }

    async fn delete_by_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
    ) -> Result<u64, StoreError> {
        self.hit();
        self.inner.delete_by_user(user, except).await
    }

    async fn delete_expired(&self, now: SystemTime) -> Result<u64, StoreError> {
        self.hit();
        self.inner.delete_expired(now).await
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.hit();
        self.inner.query(query).await
    }
}

fn store_calls(rt: &Runtime) {
    const REQUESTS: usize = 1000;

    async fn plain() -> &'static str {
        "no session here"
    }
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<String>("theme").await?.unwrap_or_default())
    }

    let store = CountingStore::default();
    let app = Router::new()
        .route("/new", get(sw_new))
        .route("/plain", get(plain))
        .route("/r", get(read))
        .layer(SessionLayer::new(store.clone()));

    let (plain_calls, plain_loads, read_calls, read_loads) = rt.block_on(async {
        let (status, cookie, _) = send(&app, "/new", None).await;
        assert_eq!(status, StatusCode::OK);
        let cookie = cookie.expect("/new sets the session cookie");
        store.take();

        for _ in 0..REQUESTS {
            let (status, set_cookie, _) = send(&app, "/plain", Some(&cookie)).await;
            assert_eq!(status, StatusCode::OK);
            assert!(set_cookie.is_none(), "an untouched session sets no cookie");
        }
        let (plain_calls, plain_loads) = store.take();

        // Control: the same cookie on a handler that reads the session.
        for _ in 0..REQUESTS {
            let (status, _, _) = send(&app, "/r", Some(&cookie)).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (read_calls, read_loads) = store.take();
        (plain_calls, plain_loads, read_calls, read_loads)
    });

    println!("\n## Store calls, {REQUESTS} requests with a valid session cookie\n");
    println!("| handler | store calls | of which `load` | expected |");
    println!("|---|---:|---:|---|");
    println!("| takes no `Session` (`/plain`) | {plain_calls} | {plain_loads} | 0 |");
    println!(
        "| reads one key (`/r`, control) | {read_calls} | {read_loads} | {REQUESTS} loads, no write |"
    );
    assert_eq!(
        plain_calls, 0,
        "a request that never touches its session must make no store call"
    );
}

// ---- 3. cleanup time of many sessions of one user ---------------------------------------------

/// Sessions in the store each cleanup starts from.
const CLEANUP_SESSIONS: u64 = 100_000;
/// Sessions per user in the spread-out comparison.
const SPREAD: u64 = 10;

/// A store of `CLEANUP_SESSIONS` sessions, `per_user` of each user, all expired an hour after
/// `now`; and the users' names.
fn populated(rt: &Runtime, per_user: u64, now: SystemTime) -> (MemoryStore, Vec<String>) {
    let store = MemoryStore::new();
    let users: Vec<String> = (0..CLEANUP_SESSIONS / per_user)
        .map(|u| format!("user-{u}"))
        .collect();
    rt.block_on(async {
        for n in 0..CLEANUP_SESSIONS {
            let record = SessionRecord {
                id: SessionId(support::mixed(2 * n)),
                user: Some(users[(n / per_user) as usize].clone()),
                data: Default::default(),
                created_at: now,
                last_seen_at: now,
                expires_at: now + Duration::from_secs(3600),
                idle_expires_at: now + Duration::from_secs(1800),
                user_agent: None,
                ip: None,
                terms: None,
                ended: None,
            };
            let key = TokenHash(support::mixed(2 * n + 1));
            store.create(&key, record).await.expect("distinct keys");
        }
    });
    (store, users)
}

fn cleanup(rt: &Runtime) {
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("cleanup-100k");
    // Flat sampling, one store per iteration: a few seconds per row, setup included.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let now = SystemTime::now();
    let later = now + Duration::from_secs(7200);
    for (layout, per_user) in [("one-user", CLEANUP_SESSIONS), ("many-users", SPREAD)] {
        group.bench_function(BenchmarkId::new("delete_expired", layout), |b| {
            b.iter_batched(
                || populated(rt, per_user, now),
                |(store, users)| {
                    let deleted = rt.block_on(store.delete_expired(later));
                    assert_eq!(deleted.ok(), Some(CLEANUP_SESSIONS));
                    // Dropped after the measured time.
                    (store, users)
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(BenchmarkId::new("delete_by_user", layout), |b| {
            b.iter_batched(
                || populated(rt, per_user, now),
                |(store, users)| {
                    let deleted = rt.block_on(async {
                        let mut deleted = 0;
                        for user in &users {
                            deleted += store.delete_by_user(user, None).await.unwrap_or(0);
                        }
                        deleted
                    });
                    assert_eq!(deleted, CLEANUP_SESSIONS);
                    (store, users)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    c.final_summary();
}

fn write_one_key(rt: &Runtime) {
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("write-one-key");
    let now = SystemTime::now();
    let value = serde_json::value::to_raw_value(&"x".repeat(198)).expect("a string");
    for keys in [1usize, 32, 256] {
        let store = MemoryStore::new();
        let key = TokenHash(support::mixed(1));
        let record = SessionRecord {
            id: SessionId(support::mixed(2)),
            user: None,
            data: (0..keys)
                .map(|k| (format!("key-{k}"), value.clone()))
                .collect(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::from_secs(3600),
            idle_expires_at: now + Duration::from_secs(1800),
            user_agent: None,
            ip: None,
            terms: None,
            ended: None,
        };
        rt.block_on(store.create(&key, record)).expect("created");
        let patch = SessionPatch {
            data: vec![("key-0".to_owned(), Some(value.clone()))],
            ..SessionPatch::default()
        };
        group.bench_function(BenchmarkId::from_parameter(keys), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let held = store.load(&key).await.expect("loads");
                    let written = store.update(&key, &patch).await.expect("updates");
                    assert!(written && held.is_some());
                    held
                })
            })
        });
    }
    group.finish();
    c.final_summary();
}

fn main() {
    let rt = runtime();
    heap_per_session(&rt);
    store_calls(&rt);
    cleanup(&rt);
    write_one_key(&rt);
}
