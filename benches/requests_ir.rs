//! Instruction counts of the `requests` benchmark's routes, for profiling with callgrind where
//! a shared machine's noise hides differences of a few percent: `valgrind --tool=callgrind`
//! counts the same for the same binary and inputs whatever else runs.
//!
//! `requests_ir STACK ROUTE N` builds the stack (`bare`, `sessionward`,
//! `sessionward-audit-cap`, `sessionward-audit-all`, `tower-sessions`), sends 50 requests to
//! warm up, then `N` more to `ROUTE` (`r`, `rw` or `new`; `r` and `rw` carry the cookie of a
//! session made first). The instructions per request are the difference between a run with
//! `N` and one with 0, divided by `N`. Valgrind's CPU has no SHA extensions, so sessionward's
//! SHA-256 of each token costs more there than on the machine itself; tower-sessions hashes
//! nothing, which is why the verdict on the targets comes from wall time (`requests`), not
//! from these counts.

use std::hint::black_box;

use axum::http::StatusCode;
use sessionward_bench::{routers, send};

fn main() {
    let mut args = std::env::args().skip(1);
    let stack = args.next().expect("a stack");
    let route = format!("/{}", args.next().expect("a route"));
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect("a count");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = match stack.as_str() {
        "bare" => routers::bare(),
        "sessionward" => routers::sessionward(sessionward::store::MemoryStore::default()),
        "sessionward-audit-cap" => routers::sessionward_audit_cap(),
        "sessionward-audit-all" => routers::sessionward_audit_all(),
        "tower-sessions" => routers::tower_sessions(),
        other => panic!("unknown stack {other}"),
    };
    rt.block_on(async {
        let (status, cookie, _) = send(&app, "/new", None).await;
        assert_eq!(status, StatusCode::OK);
        let cookie = if route == "/new" { None } else { cookie };
        for _ in 0..50 + n {
            let (status, set_cookie, body) = send(&app, &route, cookie.as_ref()).await;
            debug_assert_eq!(status, StatusCode::OK);
            black_box((set_cookie, body));
        }
    });
}
