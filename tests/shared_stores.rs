//! Stores shared by several app instances, and stores that go away mid-run, over real HTTP on
//! loopback against the real PostgreSQL, MariaDB and Redis servers.
//!
//! Two demo instances on different ports, each with its own connection to the same server, see
//! the same sessions; a logout on one is seen by the other on its next request. An outage is a
//! real one: the store reaches its server through a TCP relay that the test closes (dropping
//! every connection and refusing new ones) and opens again, while the server keeps its data.
//! The Redis Cluster (started by the test) goes away differently, as its nodes tell clients
//! their own addresses: the test freezes every node (`SIGSTOP`) so nothing answers, then lets
//! them run again.

mod common;
#[allow(dead_code)]
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)]
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;
#[path = "sql_support/mod.rs"]
mod sql_support;

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{header, serve, session_set_cookie, Server, WithSession};
use serde_json::{json, Value};
use servers::{trial, Suite};
use sessionward::store::{MySqlStore, NearCache, PostgresStore, RedisStore, SessionStore};
use sql_support::{
    drop_mysql_table, drop_postgres_table, random_hex, run_then_clean, unique_table,
};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

async fn demo_instance<S: SessionStore>(store: S) -> Server {
    serve(demo::app().layer(demo::session_layer(store))).await
}

async fn me(server: &Server, token: &str) -> (u16, Value) {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Login, data and logout on one instance are seen by the other at once.
async fn assert_instances_share(a: &Server, b: &Server) {
    assert_instances_share_within(a, b, Duration::ZERO).await;
}

/// Polls `check` until it holds; fails unless it held by `bound` after `since`. (With a zero
/// bound: on the first try.)
async fn within<F, Fut>(what: &str, since: Instant, bound: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        let tried = Instant::now();
        if check().await {
            return;
        }
        assert!(
            tried.duration_since(since) < bound,
            "{what}: still not so {:?} after the change (bound {bound:?})",
            tried.duration_since(since)
        );
    }
}

/// As [`assert_instances_share`], for instances that may serve a copy up to `bound` after a
/// change made on the other.
async fn assert_instances_share_within(a: &Server, b: &Server, bound: Duration) {
    let token = a.demo_login().await;
    let (status, body) = me(b, &token).await;
    assert_eq!(status, 200, "a session made on A is valid on B");
    assert_eq!(body["user"], "alice");

    let res = b
        .put("/api/prefs")
        .session(&token)
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    within("B's write is read on A", Instant::now(), bound, || async {
        let res = a.get("/api/prefs").session(&token).send().await.unwrap();
        res.json::<Value>().await.unwrap() == json!({"theme": "dark"})
    })
    .await;

    let res = a.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    within(
        "a logout on A is seen by B",
        Instant::now(),
        bound,
        || async { me(b, &token).await.0 == 401 },
    )
    .await;
}

async fn two_instances_share_sessions_through_postgres() {
    let url = Suite::Postgres.value();
    let table = unique_table();
    let store_a = PostgresStore::connect(&url)
        .await
        .expect("PostgreSQL reachable")
        .with_table(&table)
        .unwrap();
    store_a.migrate().await.unwrap();
    let store_b = PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_table(&table)
        .unwrap();
    let cleanup = drop_postgres_table(store_a.clone());
    run_then_clean(
        async move {
            let (a, b) = (demo_instance(store_a).await, demo_instance(store_b).await);
            assert_instances_share(&a, &b).await;
        },
        cleanup,
    )
    .await;
}

async fn two_instances_share_sessions_through_redis() {
    let url = Suite::Redis.value();
    let prefix = format!("swtest:{}:", random_hex(12));
    let store_a = RedisStore::connect(&url)
        .await
        .expect("Redis reachable")
        .with_prefix(prefix.clone());
    let store_b = RedisStore::connect(&url).await.unwrap().with_prefix(prefix);
    let (a, b) = (demo_instance(store_a).await, demo_instance(store_b).await);
    assert_instances_share(&a, &b).await;
}

/// Both instances with a near cache: what one changes, the other serves from no copy later
/// than the bound; and the copies do serve reads.
async fn two_instances_share_sessions_through_redis_near_caches() {
    let url = Suite::Redis.value();
    let prefix = format!("swtest:{}:", random_hex(12));
    let bound = Duration::from_millis(200);
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::connect(&url)
            .await
            .expect("Redis reachable")
            .with_prefix(prefix.clone())
            .with_near_cache(NearCache::new(bound))
            .await
            .unwrap();
        store.sync_near_cache().await;
        stores.push(store);
    }
    let a = demo_instance(stores[0].clone()).await;
    let b = demo_instance(stores[1].clone()).await;
    assert_instances_share_within(&a, &b, bound).await;
    let token = a.demo_login().await;
    for _ in 0..5 {
        assert_eq!(me(&b, &token).await.0, 200);
    }
    let stats = stores[1].near_cache_stats().unwrap();
    assert!(stats.hits >= 4, "B serves its copy: {stats:?}");
}

/// A TCP relay from a loopback port to `upstream` that can be cut and restored on the same port.
struct Relay {
    addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let relay = Self {
            addr,
            upstream,
            tasks: Arc::default(),
        };
        relay.open();
        relay
    }

    /// Accepts connections again, on the same port.
    fn open(&self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        let (upstream, tasks) = (self.upstream, Arc::clone(&self.tasks));
        self.tasks.lock().unwrap().spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                tasks.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// Drops every relayed connection and refuses new ones: the server is gone.
    fn cut(&self) {
        self.tasks.lock().unwrap().abort_all();
    }
}

/// A way to take a store's server away and to bring it back with its data.
trait Outage {
    fn begin(&self);
    fn end(&self);
}

impl Outage for Relay {
    fn begin(&self) {
        self.cut();
    }
    fn end(&self) {
        self.open();
    }
}

impl Outage for redis_support::Cluster {
    fn begin(&self) {
        self.pause();
    }
    fn end(&self) {
        self.resume();
    }
}

fn socket_of(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split("://").nth(1).unwrap();
    let host_port = rest.split(['/', '?']).next().unwrap();
    let host_port = host_port.rsplit('@').next().unwrap();
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap()),
        None => (host_port, default_port),
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}").parse().unwrap()
}

fn through_relay(url: &str, relay: &Relay, default_port: u16) -> String {
    let upstream = socket_of(url, default_port);
    let host_port = format!("{}:{}", upstream.ip(), upstream.port());
    let replaced = url.replacen(&host_port, &relay.addr.to_string(), 1);
    if replaced != url {
        return replaced;
    }
    url.replacen("localhost", &relay.addr.to_string(), 1)
}

/// While the store is unreachable: 503 with a JSON body, cookies untouched; when it is back,
/// the same session works again with its data, without restarting the app.
async fn assert_outage_and_recovery(server: &Server, outage: &impl Outage) {
    let token = server.demo_login().await;
    let res = server
        .put("/api/prefs")
        .session(&token)
        .json(&json!({"lang": "fr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    outage.begin();
    for _ in 0..2 {
        let res = server.get("/api/me").session(&token).send().await.unwrap();
        assert_eq!(
            res.status(),
            503,
            "an unreachable store is 503, not 'no session'"
        );
        assert!(
            session_set_cookie(res.headers()).is_none(),
            "the cookie is left alone"
        );
        assert_eq!(
            header(res.headers(), "content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"error": "session_store_unavailable"})
        );
        let res = server
            .put("/api/prefs")
            .session(&token)
            .json(&json!({"lang": "de"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        assert!(session_set_cookie(res.headers()).is_none());
    }
    let res = server.get("/healthz").send().await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "routes that do not touch the session keep working"
    );

    outage.end();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = me(server, &token).await;
        if status == 200 {
            assert_eq!(body["user"], "alice");
            break;
        }
        assert_eq!(status, 503, "while recovering the answer is 503, never 401");
        assert!(
            Instant::now() < deadline,
            "the store did not recover by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = server
        .get("/api/prefs")
        .session(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"lang": "fr"}),
        "nothing was lost"
    );
}

/// The outage check for a SQL store reaching `url` through a relay. `open` connects to a URL,
/// on the given table, and migrates it; the table is dropped afterwards through a direct
/// connection, as the relayed one is cut during the test.
async fn sql_outage_is_503_and_recovers<S, O, OF, D, DF>(url: &str, port: u16, open: O, drop: D)
where
    S: SessionStore,
    O: Fn(String, String) -> OF,
    OF: Future<Output = S>,
    D: FnOnce(S) -> DF,
    DF: Future<Output = ()>,
{
    let relay = Relay::start(socket_of(url, port)).await;
    let table = unique_table();
    let store = open(through_relay(url, &relay, port), table.clone()).await;
    let direct = open(url.to_owned(), table).await;
    run_then_clean(
        async move {
            let server = demo_instance(store).await;
            assert_outage_and_recovery(&server, &relay).await;
        },
        drop(direct),
    )
    .await;
}

async fn postgres_outage_is_503_and_recovers() {
    let url = Suite::Postgres.value();
    // The store's own pool: idle connections are pinged, checkouts wait at most 3 s.
    let open = |url: String, table: String| async move {
        let store = PostgresStore::connect(&url)
            .await
            .expect("PostgreSQL reachable")
            .with_table(&table)
            .unwrap();
        store.migrate().await.unwrap();
        store
    };
    sql_outage_is_503_and_recovers(&url, 5432, open, drop_postgres_table).await;
}

async fn mysql_outage_is_503_and_recovers() {
    let url = Suite::MySql.value();
    let open = |url: String, table: String| async move {
        let store = MySqlStore::connect(&url)
            .await
            .expect("MariaDB/MySQL reachable")
            .with_table(&table)
            .unwrap();
        store.migrate().await.unwrap();
        store
    };
    sql_outage_is_503_and_recovers(&url, 3306, open, drop_mysql_table).await;
}

async fn redis_outage_is_503_and_recovers() {
    let url = Suite::Redis.value();
    let relay = Relay::start(socket_of(&url, 6379)).await;
    let store = RedisStore::connect(&through_relay(&url, &relay, 6379))
        .await
        .expect("Redis reachable through the relay")
        .with_prefix(format!("swtest:{}:", random_hex(12)));
    let server = demo_instance(store).await;
    assert_outage_and_recovery(&server, &relay).await;
}

async fn redis_cluster_outage_is_503_and_recovers() {
    let (cluster, store) = redis_support::cluster_store("outage").await;
    let server = demo_instance(store).await;
    // Each request waits out the store's 2 s response timeout before its 503.
    assert_outage_and_recovery(&server, &cluster).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(Postgres: two_instances_share_sessions_through_postgres),
        trial!(Redis: two_instances_share_sessions_through_redis),
        trial!(Redis: two_instances_share_sessions_through_redis_near_caches),
        trial!(Postgres: postgres_outage_is_503_and_recovers),
        trial!(MySql: mysql_outage_is_503_and_recovers),
        trial!(Redis: redis_outage_is_503_and_recovers),
        trial!(RedisCluster: redis_cluster_outage_is_503_and_recovers),
    ])
}
