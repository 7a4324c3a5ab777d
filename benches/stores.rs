//! Per-request cost of a session layer over a real store, in process: sessionward against
//! tower-sessions, store by store, in one run.
//!
//! The same three routes as `benches/requests.rs`:
//!
//! | route  | what the handler does                                   |
//! |--------|---------------------------------------------------------|
//! | `/r`   | reads one `u64` (key `"n"`) and returns it              |
//! | `/rw`  | reads the counter, adds 1, writes it back               |
//! | `/new` | creates a session by inserting one small value          |
//!
//! each through two stacks per store (benchmark ids `<store>/<route>/<stack>`):
//!
//! | store      | `sessionward`                          | `tower-sessions` 0.14 with                  |
//! |------------|----------------------------------------|---------------------------------------------|
//! | `redis`    | [`RedisStore`](sessionward::store::RedisStore)       | `tower-sessions-redis-store` 0.16 (`fred` 10) |
//! | `postgres` | [`PostgresStore`](sessionward::store::PostgresStore) | `tower-sessions-sqlx-store` 0.15 `PostgresStore` |
//! | `mysql`    | [`MySqlStore`](sessionward::store::MySqlStore)       | `tower-sessions-sqlx-store` 0.15 `MySqlStore` |
//! | `sqlite`   | [`SqliteStore`](sessionward::store::SqliteStore)     | `tower-sessions-sqlx-store` 0.15 `SqliteStore` |
//!
//! **Why tower-sessions 0.14 and not 0.15** (the version `benches/requests.rs` measures): the
//! current tower-sessions is 0.15, but its Redis store (`tower-sessions-redis-store` 0.16) and
//! its sqlx stores (`tower-sessions-sqlx-store` 0.15) implement the `SessionStore` trait of
//! `tower-sessions-core` 0.14, so they plug into tower-sessions 0.14 only. This bench therefore
//! uses tower-sessions 0.14 (the dev-dependency `tower-sessions-014`) with those stores: the
//! newest combination that exists.
//!
//! Setup:
//!
//! * servers: `SESSIONWARD_TEST_POSTGRES`, `SESSIONWARD_TEST_MYSQL`, `SESSIONWARD_TEST_REDIS`
//!   when set, else `postgres://postgres@127.0.0.1:5432/test`, `mysql://root@127.0.0.1:3306/test`
//!   and `redis://127.0.0.1:6379`. A store whose server cannot be reached (or whose setup fails)
//!   is skipped with a line on stderr; the others still run.
//! * PostgreSQL, MariaDB/MySQL: each stack connects as its documentation shows, which gives
//!   both sqlx's default pool (up to 10 connections, a ping before every acquire):
//!   sessionward through `PostgresStore::connect` / `MySqlStore::connect`, on a table of its own
//!   (`with_table` + `migrate`); tower-sessions through `PgPool::connect` / `MySqlPool::connect`,
//!   on a schema (PostgreSQL) or database (MariaDB) of its own (`with_schema_name` + `migrate`).
//! * SQLite: one temp file per stack. sessionward through `SqliteStore::open`; tower-sessions
//!   over a pool opened with the same
//!   [`SqliteStore::connect_options`](sessionward::store::SqliteStore::connect_options) (WAL,
//!   `synchronous = NORMAL`), so the two differ only in what they do per request.
//! * Redis: sessionward's `RedisStore::connect` under a prefix of its own; tower-sessions' store
//!   over one `fred` client (its keys are bare session ids, so the bench remembers the ids it
//!   created and deletes exactly those).
//! * tower-sessions runs with `with_secure(false)` (as in `benches/requests.rs`) and
//!   `Expiry::OnInactivity(30 min)`, sessionward's default idle timeout; without `always_save`
//!   that writes nothing more per request, and its Redis keys then expire by themselves.
//!
//! `/r` and `/rw` send the cookie of a session created beforehand. `/new` sends no cookie; after
//! every sample (outside the measured time) the store is emptied of what the sample created, so
//! every sample starts from the same, nearly empty store. Everything the bench created (tables,
//! schemas, migration rows, keys, files) is removed at the end.
//!
//! Every request goes through `Router::oneshot` on a tokio current-thread runtime, one at a
//! time, and its body is read. The bench also times each network server's floors, the store's
//! own round trips sent bare (see `support/floors.rs`): for Redis a bare `PING`, `HGETALL` of the
//! session's record, and the commands of the store's update and creation scripts pipelined
//! (`redis/round-trip/PING`, `…/HGETALL`, `…/HSET+PEXPIRE`, `…/create-pipeline`); for
//! PostgreSQL and MariaDB the store's `SELECT` of the session, a one-row `UPDATE` of its data
//! and the store's `INSERT` of a new one (`…/round-trip/SELECT`, `…/UPDATE`, `…/INSERT`). No
//! stack can answer faster than its round trips.
//!
//! Run with `cargo bench -p sessionward-bench --bench stores`, then `python3 benches/summarize_stores.py` for a
//! Markdown table.

use sessionward_bench as support;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::floors::{added_cost, Floors};
use support::routers::{sessionward, tower_sessions_014 as tower_sessions};
use support::send;
use support::store_cleanup::{err, Cleanup, Fallible};

use axum::http::{HeaderValue, StatusCode};
use axum::Router;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use tokio::runtime::Runtime;

// ---- the two stacks, over any store -----------------------------------------------------------

// ---- stores: setup, emptying between samples, teardown ----------------------------------------

/// The stacks measured over `store`: on Redis, also sessionward with its near cache.
fn stacks(store: Store) -> &'static [&'static str] {
    match store {
        Store::Redis => &["sessionward", "sessionward-near", "tower-sessions"],
        _ => &["sessionward", "tower-sessions"],
    }
}

/// The near cache's staleness bound in the `sessionward-near` stack.
const NEAR_CACHE_BOUND: Duration = Duration::from_millis(100);

#[derive(Clone, Copy)]
enum Store {
    Redis,
    Postgres,
    MySql,
    Sqlite,
}

impl Store {
    const ALL: [Store; 4] = [Store::Redis, Store::Postgres, Store::MySql, Store::Sqlite];

    fn name(self) -> &'static str {
        match self {
            Store::Redis => "redis",
            Store::Postgres => "postgres",
            Store::MySql => "mysql",
            Store::Sqlite => "sqlite",
        }
    }

    /// The server's URL, from the environment variable the store tests use, else the local
    /// default (`None` for SQLite, which needs no server).
    fn url(self) -> Option<String> {
        let (var, default) = match self {
            Store::Redis => ("SESSIONWARD_TEST_REDIS", "redis://127.0.0.1:6379"),
            Store::Postgres => (
                "SESSIONWARD_TEST_POSTGRES",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            Store::MySql => ("SESSIONWARD_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
            Store::Sqlite => return None,
        };
        Some(
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_owned()),
        )
    }
}

/// One stack over one store, ready to serve.
struct Stack {
    name: &'static str,
    app: Router,
    cleanup: Cleanup,
}

/// A tag no other run uses, for table, schema, prefix and file names.
fn run_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{:012x}",
        (nanos as u64 ^ u64::from(std::process::id())) & 0xffff_ffff_ffff
    )
}

/// Passes a migration's outcome on; on failure first removes what the migration created.
async fn migrate<E: std::fmt::Display>(result: Result<(), E>, cleanup: &Cleanup) -> Fallible<()> {
    let Err(e) = result else { return Ok(()) };
    let _ = cleanup.drop_objects().await;
    Err(err("migrate", e))
}

/// Sets up `stack` over `store`. Every name carries `tag`.
async fn setup(store: Store, stack: &'static str, tag: &str) -> Fallible<Stack> {
    let url = store.url();
    let url = url.as_deref().unwrap_or_default();
    let sw = stack.starts_with("sessionward");
    let (app, cleanup) = match store {
        Store::Redis => {
            let raw = redis::Client::open(url)
                .map_err(|e| err("Redis URL", e))?
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| err("connecting to Redis", e))?;
            if sw {
                let prefix = format!("swbench:{tag}:{stack}:");
                let mut store = sessionward::store::RedisStore::connect(url)
                    .await
                    .map_err(|e| err("RedisStore::connect", e))?
                    .with_prefix(prefix.clone());
                if stack == "sessionward-near" {
                    let near = sessionward::store::NearCache::new(NEAR_CACHE_BOUND);
                    store = store
                        .with_near_cache(near)
                        .await
                        .map_err(|e| err("RedisStore::with_near_cache", e))?;
                    store.sync_near_cache().await;
                }
                let pattern = format!("{prefix}*");
                (
                    sessionward(store),
                    Cleanup::RedisPrefix { conn: raw, pattern },
                )
            } else {
                use tower_sessions_redis_store::fred::prelude::{Client, ClientLike, Config};
                let config = Config::from_url(url).map_err(|e| err("fred config", e))?;
                let client = Client::new(config, None, None, None);
                client.init().await.map_err(|e| err("connecting fred", e))?;
                let store = tower_sessions_redis_store::RedisStore::new(client);
                (tower_sessions(store), Cleanup::RedisIds { conn: raw })
            }
        }
        Store::Postgres if sw => {
            // The store's own constructor (its default pool), a table of its own.
            let store = sessionward::store::PostgresStore::connect(url)
                .await
                .map_err(|e| err("connecting to PostgreSQL", e))?;
            let table = format!("sw_bench_{tag}");
            let store = store.with_table(&table).map_err(|e| err("with_table", e))?;
            let cleanup = Cleanup::Postgres {
                pool: store.pool().clone(),
                truncate: format!(r#"TRUNCATE "{table}""#),
                teardown: vec![
                    format!(r#"DROP TABLE IF EXISTS "{table}""#),
                    format!("DELETE FROM sessionward_migrations WHERE table_name = '{table}'"),
                ],
            };
            migrate(store.migrate().await, &cleanup).await?;
            (sessionward(store), cleanup)
        }
        Store::Postgres => {
            // As tower-sessions-sqlx-store documents it: `PgPool::connect`, then the store.
            let pool = PgPool::connect(url)
                .await
                .map_err(|e| err("connecting to PostgreSQL", e))?;
            let schema = format!("ts_bench_{tag}");
            let store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone())
                .with_schema_name(&schema)?;
            let cleanup = Cleanup::Postgres {
                pool,
                truncate: format!(r#"TRUNCATE "{schema}"."session""#),
                teardown: vec![format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#)],
            };
            migrate(store.migrate().await, &cleanup).await?;
            (tower_sessions(store), cleanup)
        }
        Store::MySql if sw => {
            let store = sessionward::store::MySqlStore::connect(url)
                .await
                .map_err(|e| err("connecting to MySQL", e))?;
            let table = format!("sw_bench_{tag}");
            let store = store.with_table(&table).map_err(|e| err("with_table", e))?;
            let cleanup = Cleanup::MySql {
                pool: store.pool().clone(),
                truncate: format!("TRUNCATE TABLE `{table}`"),
                teardown: vec![
                    format!("DROP TABLE IF EXISTS `{table}`"),
                    format!("DELETE FROM sessionward_migrations WHERE table_name = '{table}'"),
                ],
            };
            migrate(store.migrate().await, &cleanup).await?;
            (sessionward(store), cleanup)
        }
        Store::MySql => {
            let pool = MySqlPool::connect(url)
                .await
                .map_err(|e| err("connecting to MySQL", e))?;
            let schema = format!("ts_bench_{tag}");
            let store = tower_sessions_sqlx_store::MySqlStore::new(pool.clone())
                .with_schema_name(&schema)?;
            let cleanup = Cleanup::MySql {
                pool,
                truncate: format!("TRUNCATE TABLE `{schema}`.`session`"),
                teardown: vec![format!("DROP DATABASE IF EXISTS `{schema}`")],
            };
            migrate(store.migrate().await, &cleanup).await?;
            (tower_sessions(store), cleanup)
        }
        Store::Sqlite => {
            let file = std::env::temp_dir().join(format!("sessionward-bench-{tag}-{stack}.db"));
            if sw {
                // `open` creates the file with `connect_options` and migrates the default table.
                let store = sessionward::store::SqliteStore::open(&file)
                    .await
                    .map_err(|e| err("opening SQLite", e))?;
                let cleanup = Cleanup::Sqlite {
                    pool: store.pool().clone(),
                    truncate: format!(r#"DELETE FROM "{}""#, store.table()),
                    file,
                };
                (sessionward(store), cleanup)
            } else {
                // The same connection options (WAL, `synchronous = NORMAL`) as sessionward's.
                let pool = SqlitePool::connect_with(
                    sessionward::store::SqliteStore::connect_options(&file),
                )
                .await
                .map_err(|e| err("opening SQLite", e))?;
                let store = tower_sessions_sqlx_store::SqliteStore::new(pool.clone());
                let cleanup = Cleanup::Sqlite {
                    pool,
                    truncate: r#"DELETE FROM "tower_sessions""#.to_owned(),
                    file,
                };
                migrate(store.migrate().await, &cleanup).await?;
                (tower_sessions(store), cleanup)
            }
        }
    };
    Ok(Stack {
        name: stack,
        app,
        cleanup,
    })
}

/// Creates a session through `/new` and returns its cookie, after checking that `/r` and `/rw`
/// see and keep it.
async fn verify(app: &Router) -> Fallible<HeaderValue> {
    let (status, cookie, body) = send(app, "/new", None).await;
    if status != StatusCode::OK || &body[..] != b"created" {
        return Err(format!("/new answered {status} {body:?}"));
    }
    let cookie = cookie.ok_or("/new set no cookie")?;
    for (path, want) in [("/r", "0"), ("/rw", "1"), ("/rw", "2"), ("/r", "2")] {
        let (status, _, body) = send(app, path, Some(&cookie)).await;
        if status != StatusCode::OK || &body[..] != want.as_bytes() {
            return Err(format!(
                "{path} answered {status} {body:?}, expected {want}"
            ));
        }
    }
    Ok(cookie)
}

// ---- the benchmarks ---------------------------------------------------------------------------

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn configure<'a>(c: &'a mut Criterion, group: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(group);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    group
}

/// Sets up both stacks over `store`, or explains why not (and removes what was set up).
fn prepare(rt: &Runtime, store: Store, tag: &str) -> Fallible<Vec<(Stack, HeaderValue)>> {
    rt.block_on(async {
        let mut ready: Vec<(Stack, HeaderValue)> = Vec::new();
        for &name in stacks(store) {
            let result = tokio::time::timeout(Duration::from_secs(15), setup(store, name, tag))
                .await
                .unwrap_or_else(|_| Err("no connection within 15 s".to_owned()));
            let checked = match result {
                Ok(stack) => match verify(&stack.app).await {
                    Ok(cookie) => Ok((stack, cookie)),
                    Err(e) => {
                        let _ = stack.cleanup.teardown(&[]).await;
                        Err(format!("{name} failed its check: {e}"))
                    }
                },
                Err(e) => Err(format!("{name}: {e}")),
            };
            match checked {
                Ok(pair) => ready.push(pair),
                Err(e) => {
                    for (stack, cookie) in ready {
                        let _ = stack.cleanup.teardown(&[cookie]).await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(ready)
    })
}

fn stores(c: &mut Criterion) {
    let rt = runtime();
    let tag = run_tag();
    for store in Store::ALL {
        let stacks = match prepare(&rt, store, &tag) {
            Ok(stacks) => stacks,
            Err(e) => {
                eprintln!("skipped: {} ({e})", store.name());
                continue;
            }
        };
        let mut group = configure(c, store.name());

        // `/r` and `/rw`: the session made by `verify`, its cookie sent on every request.
        for route in ["r", "rw"] {
            let path = format!("/{route}");
            for (stack, cookie) in &stacks {
                group.bench_function(BenchmarkId::new(route, stack.name), |b| {
                    b.to_async(&rt).iter(|| async {
                        let (status, _, body) = send(&stack.app, &path, Some(cookie)).await;
                        debug_assert_eq!(status, StatusCode::OK);
                        black_box(body)
                    })
                });
            }
        }

        // `/new`: no cookie, one session created per request; the store is emptied of them
        // after each sample, outside the measured time.
        for (stack, _) in &stacks {
            group.bench_function(BenchmarkId::new("new", stack.name), |b| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut created = Vec::with_capacity(usize::try_from(iters).unwrap_or(0));
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (status, cookie, body) = send(&stack.app, "/new", None).await;
                        debug_assert_eq!(status, StatusCode::OK);
                        created.extend(cookie);
                        black_box(body);
                    }
                    let elapsed = start.elapsed();
                    if let Err(e) = stack.cleanup.empty(&created).await {
                        eprintln!("warning: {}/{}: {e}", store.name(), stack.name);
                    }
                    elapsed
                })
            });
        }
        // The floors under any stack on this server, then what sessionward adds beyond them,
        // on a session made now (emptying the store after `/new` removed the first one).
        let sessionward = stacks.iter().find(|(s, _)| s.name == "sessionward");
        let fresh = sessionward.and_then(|(stack, _)| {
            let (status, cookie, _) = rt.block_on(send(&stack.app, "/new", None));
            cookie.filter(|_| status == StatusCode::OK)
        });
        match rt.block_on(floors(store, &tag, &stacks, fresh.as_ref())) {
            Ok(Some(owned)) => {
                let [read, write, create] = owned.names();
                let owned = Arc::new(owned);
                let floors = &owned;
                if matches!(store, Store::Redis) {
                    group.bench_function(BenchmarkId::new("round-trip", "PING"), |b| {
                        b.to_async(&rt).iter(|| floors.ping())
                    });
                }
                group.bench_function(BenchmarkId::new("round-trip", read), |b| {
                    b.to_async(&rt).iter(|| floors.read())
                });
                group.bench_function(BenchmarkId::new("round-trip", write), |b| {
                    b.to_async(&rt).iter(|| floors.write())
                });
                group.bench_function(BenchmarkId::new("round-trip", create), |b| {
                    b.to_async(&rt).iter(|| floors.create())
                });
                // The pairs run on a store holding its own sessions only.
                if let Err(e) = rt.block_on(floors.tidy()) {
                    eprintln!("warning: {}: {e}", store.name());
                }
                if let (Some((stack, _)), Some(cookie)) = (sessionward, &fresh) {
                    rt.block_on(measure_added(store, stack, cookie, floors));
                }
                if let Err(e) = rt.block_on(floors.tidy()) {
                    eprintln!("warning: {}: {e}", store.name());
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("warning: {}: no floors: {e}", store.name()),
        }
        group.finish();

        rt.block_on(async {
            for (stack, cookie) in stacks {
                let Stack { name, app, cleanup } = stack;
                drop(app);
                if let Err(e) = cleanup.teardown(&[cookie]).await {
                    eprintln!("warning: cleaning up {}/{name}: {e}", store.name());
                }
            }
        });
    }
}

/// The floors of `store` (`None` for SQLite, which has no round trip), writing under this
/// run's `tag`: the store's own commands on the session `fresh` carries (see `floors.rs`).
async fn floors(
    store: Store,
    tag: &str,
    stacks: &[(Stack, HeaderValue)],
    fresh: Option<&HeaderValue>,
) -> Fallible<Option<Floors>> {
    let url = store.url().unwrap_or_default();
    // The pairs' session's token hash: the store's key of it.
    let hash = || {
        fresh
            .and_then(support::token_hash)
            .ok_or("no session for the pairs")
    };
    // The sessionward stack's own table (see `prepare`).
    let table = format!("sw_bench_{tag}");
    match store {
        Store::Sqlite => Ok(None),
        Store::Redis => {
            let hash = hash()?;
            let conn = stacks.iter().find_map(|(stack, _)| match &stack.cleanup {
                Cleanup::RedisPrefix { conn, .. } => Some(conn.clone()),
                _ => None,
            });
            let conn = conn.ok_or("no Redis connection")?;
            // The record the store keeps the pairs' session under: `<prefix>{<token hash>}:s`.
            let record = format!("swbench:{tag}:sessionward:{{{}}}:s", hash.to_hex());
            Ok(Some(Floors::redis(
                conn,
                record,
                format!("swbench:{tag}:floor"),
            )))
        }
        Store::Postgres => Floors::postgres(&url, &table, hash()?.0.to_vec())
            .await
            .map(Some),
        Store::MySql => Floors::mysql(&url, &table, hash()?.0.to_vec())
            .await
            .map(Some),
    }
}

/// Pairs timed back to back per route and floor by [`measure_added`].
const ADDED_PAIRS: usize = 2_000;

/// What sessionward adds to each route beyond its round trips: each request timed against its
/// floor right after it, 2,000 pairs per route. Two floors: the bare commands the route's round
/// trips amount to (`/r` a read, `/rw` a read and an update, `/new` a creation), saved as
/// `<store>/added/<route>`; and the same commands sent by a bare axum handler, saved as
/// `<store>/added-over-axum/<route>` (what the layer and the store's code cost alone). And
/// bare axum against the bare commands, saved as `<store>/axum-over-commands/<route>`: axum's
/// own share of the first figure, which no session layer can remove. For
/// `summarize_stores.py`.
async fn measure_added(store: Store, stack: &Stack, cookie: &HeaderValue, floors: &Arc<Floors>) {
    let app = &stack.app;
    // The pairs must read and write a session that exists: `/rw` counts up, `/r` sees it.
    let counter = || async {
        let body = send(app, "/r", Some(cookie)).await.2;
        std::str::from_utf8(&body).ok()?.parse::<u64>().ok()
    };
    let before = counter().await;
    send(app, "/rw", Some(cookie)).await;
    if counter().await != before.map(|n| n + 1) {
        eprintln!(
            "warning: {}: the session for the pairs is not kept",
            store.name()
        );
        return;
    }
    let bare = floors.clone().router();
    let created = std::cell::RefCell::new(Vec::new());
    for route in ["r", "rw", "new"] {
        let path = format!("/{route}");
        let presented = (route != "new").then_some(cookie);
        let request = || async {
            let (_, set_cookie, body) = send(app, &path, presented).await;
            if presented.is_none() {
                created.borrow_mut().extend(set_cookie);
            }
            black_box(body);
        };
        let over_commands = added_cost(ADDED_PAIRS, request, || floors.route(route)).await;
        let bare_request = || async {
            black_box(send(&bare, &path, None).await);
        };
        let over_axum = added_cost(ADDED_PAIRS, request, bare_request).await;
        // What bare axum itself adds to the commands: the part of the target that no session
        // layer can take back, in this run's phase of the machine.
        let axum_alone = added_cost(ADDED_PAIRS, bare_request, || floors.route(route)).await;
        for (what, added) in [
            ("added", over_commands),
            ("added-over-axum", over_axum),
            ("axum-over-commands", axum_alone),
        ] {
            if let Err(e) = added.save(store.name(), what, route) {
                eprintln!("warning: {}: {what} of /{route}: {e}", store.name());
            }
        }
    }
    if let Err(e) = stack.cleanup.empty(&created.into_inner()).await {
        eprintln!("warning: {}/{}: {e}", store.name(), stack.name);
    }
}

criterion_group!(benches, stores);
criterion_main!(benches);
