//! Two app instances sharing one Redis, under load over loopback HTTP, with and without
//! sessionward's near cache: requests per second, and each instance's hit rate under a
//! realistic mix.
//!
//! Each instance is an axum server on a loopback port with the routes of `benches/stores.rs`
//! (`/r` reads a counter, `/rw` increments it, `/new` starts a session) behind a
//! `SessionLayer` over its own `RedisStore` (same prefix), with an idle timeout of
//! `IDLE_SECONDS` (default 8), so a session in use is renewed (written) every quarter of it:
//! every renewal and every `/rw` invalidates the other instance's copy. `SESSIONS` sessions
//! (default 200) are started, half on each instance; then `CLIENTS` tasks (default 16) send
//! requests back to back for `LOAD_SECONDS` (default 5), each to a random session on a random
//! instance, `/rw` one time in `WRITE_EVERY` (default 10), `/r` otherwise. The two setups
//! alternate for `ROUNDS` rounds (default 2); the table shows the median rate, and the hit
//! rate of the near cache (hits ÷ reads) on each instance.
//!
//! Run with `cargo bench -p sessionward-bench --bench near_cache_load` (a plain `main`). The
//! server is `SESSIONWARD_TEST_REDIS`, else `redis://127.0.0.1:6379`; without one it says so
//! and exits. Its keys are under a prefix of its own and deleted at the end.
//!
//! With `DEMO=path/to/demo` (built by `cargo build --release --example demo --features
//! redis`), the two instances are two demo processes instead (`SESSIONWARD_NEAR_CACHE=100`
//! or unset, `SESSIONWARD_IDLE_TIMEOUT`, `SESSIONWARD_RETENTION=0`); each session signs in
//! through `POST /login`, reads are `GET /api/me` and writes `PUT /api/prefs`. The demo does
//! not report its cache's hit rate, so that column stays empty; its sessions expire by
//! themselves (idle timeout).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sessionward::store::{NearCache, RedisStore};
use sessionward::SessionLayer;
use sessionward_bench::routers::sessionward_with;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Http = Client<HttpConnector, Full<Bytes>>;

/// One setup's result.
struct Round {
    rate: f64,
    hit_rates: Vec<f64>,
    failed: u64,
}

fn main() {
    let url =
        std::env::var("SESSIONWARD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if rt.block_on(RedisStore::connect(&url)).is_err() {
        eprintln!("no Redis at {url}: set SESSIONWARD_TEST_REDIS; nothing measured");
        return;
    }
    let rounds = env_or("ROUNDS", 2);
    let mut without = Vec::new();
    let mut near = Vec::new();
    for round in 0..rounds {
        for cached in [false, true] {
            let result = match std::env::var("DEMO") {
                Ok(exe) => rt.block_on(run_demos(&exe, &url, cached)),
                Err(_) => rt.block_on(run(&url, cached, round)),
            };
            if cached { &mut near } else { &mut without }.push(result);
        }
    }
    println!("| setup | requests/s (median of {rounds}) | hit rate A | hit rate B | failed |");
    println!("|---|---:|---:|---:|---:|");
    for (name, results) in [("without near cache", &without), ("near cache", &near)] {
        let mut rates: Vec<f64> = results.iter().map(|r| r.rate).collect();
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        let hits = |i: usize| {
            let all: Vec<String> = results
                .iter()
                .filter_map(|r| r.hit_rates.get(i))
                .map(|h| format!("{:.1} %", h * 100.0))
                .collect();
            if all.is_empty() {
                "–".to_owned()
            } else {
                all.join(", ")
            }
        };
        let failed: u64 = results.iter().map(|r| r.failed).sum();
        println!(
            "| {name} | {median:.0} | {} | {} | {failed} |",
            hits(0),
            hits(1)
        );
    }
    let near_rate = near.iter().map(|r| r.rate).fold(0.0, f64::max);
    let plain_rate = without.iter().map(|r| r.rate).fold(0.0, f64::max);
    println!();
    println!(
        "best rounds: {near_rate:.0} req/s with near caches, {plain_rate:.0} without ({:.2}×)",
        near_rate / plain_rate
    );
}

async fn run(url: &str, cached: bool, round: u64) -> Round {
    let prefix = format!("swbench-near:{}-{round}-{cached}:", std::process::id());
    let idle = Duration::from_secs(env_or("IDLE_SECONDS", 8));
    let mut stores = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..2 {
        let mut store = RedisStore::connect(url)
            .await
            .expect("Redis")
            .with_prefix(&prefix);
        if cached {
            store = store
                .with_near_cache(NearCache::new(Duration::from_millis(100)))
                .await
                .expect("near cache");
            store.sync_near_cache().await;
        }
        let app = sessionward_with(SessionLayer::new(store.clone()).idle_timeout(idle));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stores.push(store);
    }
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let sessions = env_or("SESSIONS", 200) as usize;
    let mut cookies = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let (status, cookie) = get(&http, &format!("http://{}/new", addresses[i % 2]), None).await;
        assert_eq!(status, StatusCode::OK, "/new");
        cookies.push(cookie.expect("/new sets a cookie"));
    }
    let before: Vec<_> = stores.iter().map(RedisStore::near_cache_stats).collect();
    let bases = addresses.iter().map(|a| format!("http://{a}")).collect();
    let (rate, failed) = drive(&http, bases, cookies, Mix::Routes).await;
    let hit_rates = stores
        .iter()
        .zip(before)
        .filter_map(|(store, before)| {
            let (now, before) = (store.near_cache_stats()?, before?);
            let hits = now.hits - before.hits;
            let reads = hits + (now.misses - before.misses) + (now.bypassed - before.bypassed);
            Some(hits as f64 / reads.max(1) as f64)
        })
        .collect();
    clean(url, &prefix).await;
    Round {
        rate,
        hit_rates,
        failed,
    }
}

/// One GET; the status and the first `Set-Cookie` as `name=value`.
async fn get(
    http: &Http,
    uri: &str,
    cookie: Option<&HeaderValue>,
) -> (StatusCode, Option<HeaderValue>) {
    send(http, Method::GET, uri, cookie, None).await
}

/// One request, with a JSON body if given; as [`get`].
async fn send(
    http: &Http,
    method: Method,
    uri: &str,
    cookie: Option<&HeaderValue>,
    json: Option<String>,
) -> (StatusCode, Option<HeaderValue>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        req = req.header(COOKIE, cookie);
    }
    let body = match json {
        Some(json) => {
            req = req.header(CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(json))
        }
        None => Full::new(Bytes::new()),
    };
    let res = match http.request(req.body(body).unwrap()).await {
        Ok(res) => res,
        Err(_) => return (StatusCode::BAD_GATEWAY, None),
    };
    let status = res.status();
    let cookie = res.headers().get(SET_COOKIE).and_then(|v| {
        let pair = v.as_bytes().split(|&b| b == b';').next()?;
        HeaderValue::from_bytes(pair).ok()
    });
    let _ = res.into_body().collect().await;
    (status, cookie)
}

/// Deletes every key under `prefix`.
async fn clean(url: &str, prefix: &str) {
    let client = redis::Client::open(url).expect("Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("DEL");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// A demo process, killed when dropped.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo at `exe` over `url` and returns it with the address it listens on.
fn start_demo(exe: &str, url: &str, cached: bool) -> (Demo, String) {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(exe);
    command
        .env("PORT", "0")
        .env("SESSIONWARD_STORE", url)
        .env("SESSIONWARD_RETENTION", "0")
        .env(
            "SESSIONWARD_IDLE_TIMEOUT",
            env_or("IDLE_SECONDS", 8).to_string(),
        )
        .env("RUST_LOG", "warn,demo=info")
        .env_remove("SESSIONWARD_AUDIT_LOG")
        .stdout(std::process::Stdio::piped());
    if cached {
        command.env("SESSIONWARD_NEAR_CACHE", "100");
    } else {
        command.env_remove("SESSIONWARD_NEAR_CACHE");
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the demo at {exe}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the demo names its address before exiting")
            .expect("the demo's output");
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    // Keep reading, so a full pipe never holds the demo up.
    std::thread::spawn(move || lines.for_each(drop));
    (Demo(child), address)
}

/// The load of [`run`] against two demo processes.
async fn run_demos(exe: &str, url: &str, cached: bool) -> Round {
    let (_a, a) = start_demo(exe, url, cached);
    let (_b, b) = start_demo(exe, url, cached);
    let addresses = [a, b];
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let sessions = env_or("SESSIONS", 200) as usize;
    let login = r#"{"username":"alice","password":"wonderland"}"#.to_owned();
    let mut cookies = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let uri = format!("{}/login", addresses[i % 2]);
        let (status, cookie) = send(&http, Method::POST, &uri, None, Some(login.clone())).await;
        assert_eq!(status, StatusCode::OK, "POST /login");
        cookies.push(cookie.expect("/login sets a cookie"));
    }
    let (rate, failed) = drive(&http, addresses.to_vec(), cookies, Mix::Demo).await;
    Round {
        rate,
        hit_rates: Vec::new(),
        failed,
    }
}

/// Which requests a load sends: the bench routes (`/r`, `/rw`) or the demo's (`GET /api/me`,
/// `PUT /api/prefs`).
#[derive(Clone, Copy)]
enum Mix {
    Routes,
    Demo,
}

/// `CLIENTS` tasks send requests back to back for `LOAD_SECONDS`, each to a random session on
/// a random one of `bases` (`http://host:port`), a write one time in `WRITE_EVERY`. Returns
/// the requests per second and how many did not succeed.
async fn drive(http: &Http, bases: Vec<String>, cookies: Vec<HeaderValue>, mix: Mix) -> (f64, u64) {
    let (bases, cookies) = (Arc::new(bases), Arc::new(cookies));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let seconds = Duration::from_secs(env_or("LOAD_SECONDS", 5));
    let write_every = env_or("WRITE_EVERY", 10).max(1);
    let start = Instant::now();
    let mut clients = Vec::new();
    for client in 0..env_or("CLIENTS", 16) {
        let (http, bases, cookies) = (http.clone(), Arc::clone(&bases), Arc::clone(&cookies));
        let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
        clients.push(tokio::spawn(async move {
            // xorshift: a cheap, reproducible spread over sessions and instances.
            let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (client + 1);
            while start.elapsed() < seconds {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let session = Some(&cookies[(x % cookies.len() as u64) as usize]);
                let base = &bases[((x >> 20) % bases.len() as u64) as usize];
                let write = (x >> 32).is_multiple_of(write_every);
                let (status, _) = match (mix, write) {
                    (Mix::Routes, true) => get(&http, &format!("{base}/rw"), session).await,
                    (Mix::Routes, false) => get(&http, &format!("{base}/r"), session).await,
                    (Mix::Demo, true) => {
                        let (uri, json) = (format!("{base}/api/prefs"), format!(r#"{{"n":{x}}}"#));
                        send(&http, Method::PUT, &uri, session, Some(json)).await
                    }
                    (Mix::Demo, false) => get(&http, &format!("{base}/api/me"), session).await,
                };
                done.fetch_add(1, Ordering::Relaxed);
                if !status.is_success() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    (rate, failed.load(Ordering::Relaxed))
}
