//! Per-request cost of the session layer, in process (no network).
//!
//! Three routes, each through five stacks measured in the same run:
//!
//! | route  | what the handler does                                   |
//! |--------|---------------------------------------------------------|
//! | `/r`   | reads one `u64` (key `"n"`) and returns it              |
//! | `/rw`  | reads the counter, adds 1, writes it back               |
//! | `/new` | creates a session by inserting one small value          |
//!
//! * `bare`: plain axum, same handlers without a session (an `AtomicU64` instead), the baseline;
//! * `sessionward`: [`sessionward::SessionLayer`] over its `MemoryStore`, with its defaults
//!   (among them the audit trail to `tracing`, the process's own handle);
//! * `sessionward-audit-cap`: the same with the audit trail on (the `tracing` sink) and a cap of
//!   5 sessions per user (evicting): the features a request does not use must cost it nothing.
//!   No `tracing` subscriber listens (none is set, for any stack), so `TracingAudit` queues
//!   nothing;
//! * `sessionward-audit-all`: the same with a sink that keeps every event (JSON lines into
//!   `io::sink()`), so `/new` pays for queuing its `session_created`;
//! * `tower-sessions`: `tower_sessions::SessionManagerLayer` (0.15) over its `MemoryStore`.
//!
//! `/r` and `/rw` send the cookie of a session created beforehand. `/new` sends no cookie; it
//! starts every sample on a fresh router and store so the store does not grow without bound
//! during the run (the store's growth within a sample is part of the measured cost).
//!
//! After criterion's groups, the same routes run once more with the stacks taking turns, a
//! short batch each, round after round (see [`interleaved`]): the ratio of two stacks' added
//! costs, taken per round, does not move with the load of a shared machine as criterion's
//! stack-after-stack figures do. `-- interleaved` runs that part alone.
//!
//! Run with `cargo bench -p sessionward-bench --bench requests`, then
//! `python3 benches/summarize.py` for Markdown tables of the added cost over bare axum.

use sessionward_bench as support;
use std::hint::black_box;
use std::time::{Duration, Instant};
use support::interleaved::{take_turns, Contender};
use support::send;

use axum::http::{HeaderValue, StatusCode};
use axum::Router;
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion};
use tokio::runtime::Runtime;

/// sessionward over its in-memory store.
fn sessionward() -> Router {
    support::routers::sessionward(sessionward::store::MemoryStore::default())
}

// ---- the benchmarks ---------------------------------------------------------------------------

/// Builds a fresh router (with a fresh, empty store) for one stack.
type MakeRouter = fn() -> Router;

const STACKS: [(&str, MakeRouter); 5] = [
    ("bare", support::routers::bare),
    ("sessionward", sessionward),
    (
        "sessionward-audit-cap",
        support::routers::sessionward_audit_cap,
    ),
    (
        "sessionward-audit-all",
        support::routers::sessionward_audit_all,
    ),
    ("tower-sessions", support::routers::tower_sessions),
];

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Creates a session on `app` through `/new` and returns its cookie (`None` for `bare`), after
/// checking that `/r` and `/rw` see and keep it.
fn session_cookie(rt: &Runtime, name: &str, app: &Router) -> Option<HeaderValue> {
    rt.block_on(async {
        let (status, cookie, body) = send(app, "/new", None).await;
        assert_eq!(status, StatusCode::OK, "{name} /new");
        assert_eq!(&body[..], b"created", "{name} /new");
        if name == "bare" {
            assert!(cookie.is_none(), "bare sets no cookie");
            return None;
        }
        let cookie = cookie.unwrap_or_else(|| panic!("{name}: /new set no cookie"));
        let c = Some(&cookie);
        assert_eq!(&send(app, "/r", c).await.2[..], b"0", "{name} /r");
        assert_eq!(&send(app, "/rw", c).await.2[..], b"1", "{name} /rw");
        assert_eq!(&send(app, "/rw", c).await.2[..], b"2", "{name} /rw");
        assert_eq!(&send(app, "/r", c).await.2[..], b"2", "{name} /r");
        Some(cookie)
    })
}

fn configure<'a>(c: &'a mut Criterion, group: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(group);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    group
}

/// `/r` and `/rw`: the same session, its cookie sent on every request.
fn existing_session(c: &mut Criterion) {
    let rt = runtime();
    for route in ["r", "rw"] {
        let path = format!("/{route}");
        let mut group = configure(c, route);
        for (name, make) in STACKS {
            let app = make();
            let cookie = session_cookie(&rt, name, &app);
            group.bench_function(name, |b| {
                b.to_async(&rt).iter(|| async {
                    let (status, _, body) = send(&app, &path, cookie.as_ref()).await;
                    debug_assert_eq!(status, StatusCode::OK);
                    black_box(body)
                })
            });
        }
        group.finish();
    }
}

/// `/new`: no cookie, a session created per request, a fresh store per sample.
fn new_session(c: &mut Criterion) {
    let rt = runtime();
    let mut group = configure(c, "new");
    for (name, make) in STACKS {
        // Check the route once; the cookie itself is not needed.
        session_cookie(&rt, name, &make());
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let app = make();
                let start = Instant::now();
                for _ in 0..iters {
                    let (status, cookie, body) = send(&app, "/new", None).await;
                    debug_assert_eq!(status, StatusCode::OK);
                    black_box((cookie, body));
                }
                let elapsed = start.elapsed();
                drop(app);
                elapsed
            })
        });
    }
    group.finish();
}

/// The same routes with the stacks taking turns (see `sessionward_bench::interleaved`): `/r`
/// and `/rw` in 2,000 rounds of 25 requests per stack, `/new` in 200 rounds of 250 on one
/// router per stack, whose store grows to 50,000 sessions over the run (criterion's `/new`
/// samples grow theirs to a few tens of thousands).
fn interleaved() {
    let rt = runtime();
    let compared = [
        "sessionward",
        "sessionward-audit-cap",
        "sessionward-audit-all",
    ];
    for (route, rounds, batch) in [("r", 2_000, 25), ("rw", 2_000, 25), ("new", 200, 250)] {
        let contenders: Vec<Contender> = STACKS
            .iter()
            .map(|&(name, make)| {
                let app = make();
                let cookie = session_cookie(&rt, name, &app);
                let cookie = if route == "new" { None } else { cookie };
                Contender { name, app, cookie }
            })
            .collect();
        let path = format!("/{route}");
        let turns = rt.block_on(take_turns(&contenders, &path, rounds, batch));
        turns.save(route, &compared, "tower-sessions", "bare");
    }
}

criterion_group!(benches, existing_session, new_session);

fn main() {
    benches();
    // Skipped when criterion is asked for some benchmarks only (a filter argument), unless the
    // filter is `interleaved` (which no criterion benchmark matches).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f == "interleaved") {
        interleaved();
    }
    Criterion::default().configure_from_args().final_summary();
}
