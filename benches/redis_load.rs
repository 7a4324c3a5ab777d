//! Throughput over Redis under concurrent load: sessionward's `RedisStore` against
//! tower-sessions 0.14 with `tower-sessions-redis-store` 0.16, in one run, and sessionward's
//! `RedisStore` with its near cache (bound 100 ms) as a third stack, so that the cache's cost
//! on `/rw` and `/new` is judged in alternating rounds rather than one after another.
//!
//! `benches/stores.rs` sends one request at a time, so it measures latency, which one loopback
//! round trip to Redis dominates. Here `CLIENTS` tasks (default 32) send requests back to back
//! through the same router on a two-worker tokio runtime for `SECONDS` (default 3) per
//! measurement, as a busy server would; the client stacks and the Redis server then share the
//! machine's CPUs, so what each request costs the client and the server decides the rate.
//! Stacks alternate, each route is measured `ROUNDS` times (default 3), and the table shows
//! the median requests per second of each. The routes are those of `benches/stores.rs`.
//!
//! A second table measures one client sending one request at a time (`LATENCY_REQUESTS`
//! requests, default 2000, per stack and route in each round), beside a bare `PING` through a
//! redis-rs connection measured in the same rounds: no stack can answer faster than its round
//! trips to Redis, and both make the same ones (`/r` one, `/rw` two, `/new` one), so
//! tower-sessions' latency divided by that many `PING`s is the best ratio any stack could reach
//! in `benches/stores.rs`.
//!
//! Run with `cargo bench -p sessionward-bench --bench redis_load` (a plain `main`, no
//! criterion). The server is `SESSIONWARD_TEST_REDIS`, else `redis://127.0.0.1:6379`; without one it says so and exits.
//! Everything it writes is under a prefix of its own (sessionward) or is a session id it
//! created (tower-sessions), and is deleted at the end.

use sessionward_bench as support;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode};
use axum::Router;
use support::routers::{sessionward, tower_sessions_014};
use support::send;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Requests per second of `clients` tasks sending `route` through `app` for `duration`.
/// Cookies set by `/new` are collected in `created`, to be deleted afterwards.
async fn measure(
    app: &Router,
    route: &'static str,
    cookie: &HeaderValue,
    clients: u64,
    duration: Duration,
    created: &Arc<Mutex<Vec<HeaderValue>>>,
) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, cookie, count, created) =
            (app.clone(), cookie.clone(), count.clone(), created.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < stop {
                let sent = (route != "/new").then_some(&cookie);
                let (status, set_cookie, _) = send(&app, route, sent).await;
                assert_eq!(status, StatusCode::OK, "{route}");
                mine.extend(set_cookie.filter(|_| route == "/new"));
                count.fetch_add(1, Ordering::Relaxed);
            }
            created.lock().expect("not poisoned").extend(mine);
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    count.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}

/// Mean microseconds per request of `n` requests sent one at a time.
async fn latency(
    app: &Router,
    route: &'static str,
    cookie: &HeaderValue,
    n: u64,
    created: &Arc<Mutex<Vec<HeaderValue>>>,
) -> f64 {
    let mut mine = Vec::new();
    let start = Instant::now();
    for _ in 0..n {
        let sent = (route != "/new").then_some(cookie);
        let (status, set_cookie, _) = send(app, route, sent).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        mine.extend(set_cookie.filter(|_| route == "/new"));
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    created.lock().expect("not poisoned").extend(mine);
    micros
}

/// Mean microseconds of `n` bare `PING` round trips.
async fn ping_latency(conn: &mut redis::aio::MultiplexedConnection, n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let pong: String = redis::cmd("PING").query_async(conn).await.expect("PING");
        std::hint::black_box(pong);
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let url = std::env::var("SESSIONWARD_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let clients = env_or("CLIENTS", 32);
    let duration = Duration::from_secs(env_or("SECONDS", 3));
    let rounds = env_or("ROUNDS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let prefix = format!("swload:{}:", std::process::id());
        let store = match sessionward::store::RedisStore::connect(&url).await {
            Ok(store) => store.with_prefix(prefix.clone()),
            Err(e) => {
                eprintln!("skipped: no Redis at {url} ({e}); set SESSIONWARD_TEST_REDIS");
                return;
            }
        };
        use tower_sessions_redis_store::fred::prelude::{Client, ClientLike, Config};
        let config = Config::from_url(&url).expect("fred config");
        let client = Client::new(config, None, None, None);
        client.init().await.expect("fred connects");
        let peer = tower_sessions_redis_store::RedisStore::new(client);
        // sessionward again with its near cache (bound 100 ms), under a prefix of its own.
        let near = sessionward::store::RedisStore::connect(&url)
            .await
            .expect("Redis")
            .with_prefix(format!("{prefix}near:"))
            .with_near_cache(sessionward::store::NearCache::new(Duration::from_millis(
                100,
            )))
            .await
            .expect("near cache");
        near.sync_near_cache().await;
        let stacks = [
            ("sessionward", sessionward(store)),
            ("tower-sessions", tower_sessions_014(peer)),
            ("sessionward-near", sessionward(near)),
        ];
        let created = Arc::new(Mutex::new(Vec::new()));
        let mut cookies = Vec::new();
        for (_, app) in &stacks {
            let (_, cookie, _) = send(app, "/new", None).await;
            let cookie = cookie.expect("a session cookie");
            created.lock().expect("not poisoned").push(cookie.clone());
            cookies.push(cookie);
        }
        println!("{clients} concurrent clients, {rounds} rounds of {duration:?}, median req/s\n");
        println!(
            "| route | sessionward req/s | tower-sessions req/s | ratio | near cache req/s \
             | near ÷ sessionward |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for route in ["/r", "/rw", "/new"] {
            let mut rates = [Vec::new(), Vec::new(), Vec::new()];
            for _ in 0..rounds {
                for (i, (_, app)) in stacks.iter().enumerate() {
                    let rate = measure(app, route, &cookies[i], clients, duration, &created).await;
                    rates[i].push(rate);
                }
            }
            let [ours, theirs, near] = rates.map(median);
            println!(
                "| `{route}` | {ours:.0} | {theirs:.0} | {:.2}× | {near:.0} | {:.2}× |",
                ours / theirs,
                near / ours
            );
        }

        let n = env_or("LATENCY_REQUESTS", 2000);
        let mut ping_conn = redis::Client::open(url.as_str())
            .expect("Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("ping connection");
        println!(
            "\nOne client, one request at a time, {rounds} rounds of {n} requests, median µs\n"
        );
        println!(
            "| route | round trips | sessionward µs | tower-sessions µs | ratio | \
             `PING` µs | best possible ratio | near cache µs | sessionward ÷ near |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (route, trips) in [("/r", 1.0), ("/rw", 2.0), ("/new", 1.0)] {
            let (mut pings, mut times) = (Vec::new(), [Vec::new(), Vec::new(), Vec::new()]);
            for _ in 0..rounds {
                pings.push(ping_latency(&mut ping_conn, n).await);
                for (i, (_, app)) in stacks.iter().enumerate() {
                    times[i].push(latency(app, route, &cookies[i], n, &created).await);
                }
            }
            let ping = median(pings);
            let [ours, theirs, near] = times.map(median);
            println!(
                "| `{route}` | {trips} | {ours:.1} | {theirs:.1} | {:.2}× | {ping:.1} | {:.2}× \
                 | {near:.1} | {:.2}× |",
                theirs / ours,
                theirs / (trips * ping),
                ours / near
            );
        }

        // Clean up: sessionward's keys by prefix, tower-sessions' by the ids it was given.
        let mut conn = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .expect("cleanup connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut conn)
            .unwrap_or_default();
        let ids = created.lock().expect("not poisoned").clone();
        let peer_ids = ids.iter().filter_map(|c| {
            let text = c.to_str().ok()?;
            text.strip_prefix("id=").map(str::to_owned)
        });
        for key in keys.into_iter().chain(peer_ids) {
            let _: Result<i64, _> = redis::cmd("DEL").arg(key).query(&mut conn);
        }
    });
}
