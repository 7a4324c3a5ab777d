//! Listing one user's sessions does not scan other users' sessions: the cost of
//! `SessionStore::list_by_user` for a user with 5 sessions, with 10, 10^4 and 10^6 sessions of
//! other users in the store, for the memory store, PostgreSQL and Redis. Flat cost across the
//! three sizes is the claim (each store reads a per-user index: the memory store's user map,
//! PostgreSQL's `(user_name, created_at)` index, Redis's per-user sorted set).
//!
//! Benchmark ids: `list_by_user/<store>/<others>`. The store is filled once and grown between
//! sizes, outside the measured time; PostgreSQL rows are inserted in bulk with
//! `generate_series` (the table layout of `PostgresStore`), the others through
//! `SessionStore::create`. Servers: `SESSIONWARD_TEST_POSTGRES` and `SESSIONWARD_TEST_REDIS`,
//! else the local defaults; a store whose server cannot be reached is skipped with a line on
//! stderr. Everything created is removed at the end.
//!
//! Run with `cargo bench -p sessionward-bench --bench listing`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sessionward::store::{MemoryStore, PostgresStore, RedisStore, SessionRecord, SessionStore};
use sessionward::token::{SessionId, TokenHash};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const SIZES: [u64; 3] = [10, 10_000, 1_000_000];
const USER: &str = "listed-user";
const OWN: u64 = 5;

/// A session of `user` with keys derived from `n` (unique within a run).
fn session(n: u64, user: &str) -> (TokenHash, SessionRecord) {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    hash[8..12].copy_from_slice(b"lstg");
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_le_bytes());
    id[8] = 0x5a;
    let now = SystemTime::now();
    let record = SessionRecord {
        id: SessionId(id),
        user: Some(user.to_owned()),
        data: Default::default(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::from_secs(3600),
        idle_expires_at: now + Duration::from_secs(1800),
        user_agent: Some("bench".to_owned()),
        ip: None,
        terms: None,
        ended: None,
    };
    (TokenHash(hash), record)
}

/// Creates sessions `from..to` of other users (one each) through `create`, 64 at a time.
async fn grow<S: SessionStore + Clone + 'static>(store: &S, from: u64, to: u64) {
    let mut tasks = JoinSet::new();
    for n in from..to {
        if tasks.len() >= 64 {
            tasks.join_next().await.unwrap().unwrap();
        }
        let store = store.clone();
        tasks.spawn(async move {
            let (key, record) = session(n, &format!("other-{n}"));
            store.create(&key, record).await.expect("create");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

async fn add_own<S: SessionStore>(store: &S) {
    for n in 0..OWN {
        let (key, record) = session(u64::MAX - n, USER);
        store.create(&key, record).await.expect("create");
    }
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Inserts sessions `from..to` of other users into the PostgreSQL table in one statement.
async fn grow_postgres(store: &PostgresStore, from: u64, to: u64) {
    let now = millis(SystemTime::now());
    let sql = format!(
        r#"INSERT INTO "{table}" (token_hash, id, user_name, data, created_at, last_seen_at,
             expires_at, idle_expires_at, user_agent, ip, idle_timeout, persistent_cookie, deadline)
           SELECT decode(md5(i::text) || md5('t' || i::text), 'hex'),
                  decode(md5('id' || i::text), 'hex'),
                  'other-' || i, '{{}}'::jsonb, $3, $3, $3 + 3600000, $3 + 1800000,
                  'bench', NULL, NULL, NULL, $3 + 1800000
           FROM generate_series($1::bigint, $2::bigint - 1) AS i"#,
        table = store.table()
    );
    sqlx::query(&sql)
        .bind(from as i64)
        .bind(to as i64)
        .bind(now)
        .execute(store.pool())
        .await
        .expect("bulk insert");
    sqlx::query(&format!(r#"ANALYZE "{}""#, store.table()))
        .execute(store.pool())
        .await
        .expect("analyze");
}

fn bench_sizes<S, G, F>(c: &mut Criterion, rt: &Runtime, name: &str, store: &S, grow_to: G)
where
    S: SessionStore,
    G: Fn(u64, u64) -> F,
    F: std::future::Future<Output = ()>,
{
    let mut group = c.benchmark_group("list_by_user");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    let mut have = 0;
    for size in SIZES {
        rt.block_on(grow_to(have, size));
        have = size;
        group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
            b.to_async(rt).iter(|| async {
                let listed = store.list_by_user(USER, SystemTime::now()).await.unwrap();
                assert_eq!(listed.len() as u64, OWN);
                listed
            });
        });
    }
    group.finish();
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn listing(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();

    let memory = MemoryStore::default();
    rt.block_on(add_own(&memory));
    bench_sizes(c, &rt, "memory", &memory, |from, to| {
        grow(&memory, from, to)
    });
    drop(memory);

    let url = env_or(
        "SESSIONWARD_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    match rt.block_on(PostgresStore::connect(&url)) {
        Ok(store) => {
            let table = format!("sw_listing_{}", std::process::id());
            let store = store.with_table(&table).unwrap();
            rt.block_on(store.migrate()).expect("migrate");
            rt.block_on(add_own(&store));
            bench_sizes(c, &rt, "postgres", &store, |from, to| {
                grow_postgres(&store, from, to)
            });
            rt.block_on(async {
                sqlx::query(&format!(r#"DROP TABLE "{table}""#))
                    .execute(store.pool())
                    .await
                    .unwrap();
                sqlx::query("DELETE FROM sessionward_migrations WHERE table_name = $1")
                    .bind(&table)
                    .execute(store.pool())
                    .await
                    .unwrap();
            });
        }
        Err(err) => eprintln!("skipped: postgres ({err})"),
    }

    let url = env_or("SESSIONWARD_TEST_REDIS", "redis://127.0.0.1:6379");
    match rt.block_on(RedisStore::connect(&url)) {
        Ok(store) => {
            let prefix = format!("sw-listing-{}:", std::process::id());
            let store = store.with_prefix(prefix.clone());
            rt.block_on(add_own(&store));
            bench_sizes(c, &rt, "redis", &store, |from, to| grow(&store, from, to));
            rt.block_on(async {
                let client = redis::Client::open(url.as_str()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                let mut cursor = 0u64;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{prefix}*"))
                        .arg("COUNT")
                        .arg(10_000)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    if !keys.is_empty() {
                        let _: () = redis::cmd("UNLINK")
                            .arg(&keys)
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            });
        }
        Err(err) => eprintln!("skipped: redis ({err})"),
    }
}

criterion_group!(benches, listing);
criterion_main!(benches);
