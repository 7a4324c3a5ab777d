//! Instruction counts of requests through the Redis store, with and without its near cache,
//! for the question wall time cannot settle on a shared machine: does the near cache make a
//! request that it cannot serve (`/rw`, `/new`) any slower?
//!
//! A request through Redis is a round trip (70–90 µs here) plus what the client process
//! computes; the round trip's noise between runs (±20 %) hides a difference of a few
//! microseconds. `valgrind --tool=callgrind` counts only what this process executes, the same
//! for the same inputs whatever else the machine runs. With the same commands sent to the
//! server (Redis's `INFO commandstats` shows them, see BENCHMARKS.md), the client's
//! instructions are what the near cache could add.
//!
//! `redis_ir STACK ROUTE N`: the stack is `redis` (`RedisStore`), `bare-hgetall` (the floor of
//! `/r`: the store's own `HGETALL` of the session's record, sent bare through redis-rs; give
//! route `r`) or `redis-near` (the same with
//! a near cache, bound 10 s so that its heartbeat, every 2.5 s, hardly counts: a shorter bound
//! pings more often, which adds to every request's share under valgrind's slow clock), the route
//! `r`, `rw` or `new`; 50 requests warm up, then `N` more (`r` and `rw` with the cookie of a
//! session made first). The instructions per request are the difference between a run with `N`
//! and one with 0, divided by `N`: `python3 benches/redis_ir.py`, which also deletes the keys
//! (`swir:*`) afterwards, outside the counted process. Needs Redis (`SESSIONWARD_TEST_REDIS`,
//! default `redis://127.0.0.1:6379`).

use std::hint::black_box;
use std::time::Duration;

use axum::http::StatusCode;
use sessionward::store::{NearCache, RedisStore};
use sessionward_bench::{routers, send};

fn main() {
    let mut args = std::env::args().skip(1);
    let stack = args.next().expect("a stack: redis or redis-near");
    let route = format!("/{}", args.next().expect("a route: r, rw or new"));
    let n: usize = args.next().and_then(|n| n.parse().ok()).expect("a count");
    let url = std::env::var("SESSIONWARD_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut store = RedisStore::connect(&url)
            .await
            .expect("Redis (set SESSIONWARD_TEST_REDIS)")
            .with_prefix(format!("swir:{}:", std::process::id()));
        let bare = stack == "bare-hgetall";
        match stack.as_str() {
            "redis" | "bare-hgetall" => {}
            "redis-near" => {
                let near = NearCache::new(Duration::from_secs(10));
                store = store.with_near_cache(near).await.expect("near cache");
                store.sync_near_cache().await;
            }
            other => panic!("unknown stack {other}"),
        }
        let app = routers::sessionward(store);
        let (status, cookie, _) = send(&app, "/new", None).await;
        assert_eq!(status, StatusCode::OK);
        let cookie = if route == "/new" { None } else { cookie };
        if bare {
            // The floor: the store's own read of that session's record, sent bare through
            // redis-rs (`<prefix>{<token hash>}:s`, the only record under the prefix).
            let client = redis::Client::open(url.as_str()).expect("Redis URL");
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("Redis");
            let pattern = format!("swir:{}:{{*}}:s", std::process::id());
            let records: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut conn)
                .await
                .expect("KEYS");
            let [record] = <[String; 1]>::try_from(records).expect("one record");
            for _ in 0..50 + n {
                let fields: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(&record)
                    .query_async(&mut conn)
                    .await
                    .expect("HGETALL");
                black_box(fields);
            }
            return;
        }
        for _ in 0..50 + n {
            let (status, set_cookie, body) = send(&app, &route, cookie.as_ref()).await;
            assert_eq!(status, StatusCode::OK, "{stack} {route}");
            black_box((set_cookie, body));
        }
    });
}
