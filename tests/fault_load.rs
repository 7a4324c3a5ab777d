//! Faults under load, against the real PostgreSQL and Redis servers (and a Redis Cluster the
//! trial starts): the demo on loopback over a store that reaches its server through a TCP
//! relay, sixteen clients each with a session of its own writing an increasing counter and
//! reading it back, and during the run the server goes away and comes back:
//!
//! * **cut**: the relay drops every connection and refuses new ones (the server died), then
//!   accepts again on the same port (it restarted, with its data). The layer has no store
//!   timeout: the backends' own (a SQL pool's 3 s checkout, Redis's 2 s response timeout)
//!   bound each request.
//! * **stall**: the relay stops forwarding without closing anything (the server hangs, or the
//!   network silently drops everything), then forwards again. The layer has a 300 ms store
//!   timeout, and each request sent during the stall must be answered 503 after about that
//!   long: without it a PostgreSQL query would wait for ever.
//! * **freeze** (Redis Cluster, whose nodes tell clients their own addresses, so no relay):
//!   every node is stopped (`SIGSTOP`), then continued; as a stall, with the store timeout.
//!
//! What each trial asserts, once the load has stopped (see `fault_load_support/verdict.rs`):
//! every answer is a 2xx or a 503 `{"error":"session_store_unavailable"}` (never a 401, never
//! a cookie set or cleared), all 2xx before the fault; each client gets a 2xx again after the
//! server is back, by itself; no write answered 2xx is lost; every session is still valid;
//! no session logged out (before the fault, or by the four clients that log out as soon as
//! the store is back) comes back. Each trial prints its counts: requests, 2xx, 503, other,
//! lost writes, outage and recovery time.
//!
//! The trials run one at a time: each loads both cores of the test machine.

mod common;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[path = "fault_load_support/mod.rs"]
mod fault_load_support;
#[allow(dead_code)]
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;
#[path = "sql_support/mod.rs"]
mod sql_support;

use std::future::ready;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::faults::relay::Relay;
use common::wait::eventually;
use common::{serve, Server, WithSession};
use fault_load_support::load::{Answer, Kind, Load, Route};
use fault_load_support::verdict::{verdict, Timeline};
use serde_json::json;
use servers::{trial, Suite};
use sessionward::store::{PostgresStore, RedisStore, SessionStore};
use sql_support::{drop_postgres_table, run_then_clean, unique_table};

/// Clients, each with a session of its own.
const CLIENTS: usize = 16;
/// Of them, how many log out as soon as the store is back.
const LEAVERS: usize = 4;
/// Sessions logged out before the fault.
const RETIRED: usize = 4;
/// The layer's store timeout in the stall trials.
const STORE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long the server stays away at least. This is the fault's length, not an ordering: what
/// must have happened meanwhile (every client answered 503) is awaited on top of it.
const MIN_OUTAGE: Duration = Duration::from_secs(1);
/// Writes acknowledged per client before the fault, and per staying client after recovery.
const WRITES_AROUND: usize = 3;

/// How the server goes away, and what takes it away.
enum Fault {
    /// The relay drops every connection and refuses new ones; then accepts again.
    Cut(Relay),
    /// The relay forwards nothing and closes nothing; then forwards again.
    Stall(Relay),
    /// Every node of the cluster is frozen (`SIGSTOP`); then runs again.
    Freeze(redis_support::Cluster),
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Self::Cut(_) => "cut",
            Self::Stall(_) => "stall",
            Self::Freeze(_) => "freeze",
        }
    }

    /// The layer's store timeout: none when the server is gone (the connections fail), one
    /// when it is stuck (nothing answers).
    fn store_timeout(&self) -> Option<Duration> {
        match self {
            Self::Cut(_) => None,
            Self::Stall(_) | Self::Freeze(_) => Some(STORE_TIMEOUT),
        }
    }

    async fn begin(&self) {
        match self {
            Self::Cut(relay) => relay.cut().await,
            Self::Stall(relay) => relay.stall(),
            Self::Freeze(cluster) => cluster.pause(),
        }
    }

    fn end(&self) {
        match self {
            Self::Cut(relay) => relay.open(),
            Self::Stall(relay) => relay.resume(),
            Self::Freeze(cluster) => cluster.resume(),
        }
    }
}

async fn postgres_cut_under_load() {
    on_postgres(Fault::Cut).await;
}

async fn postgres_stall_under_load() {
    on_postgres(Fault::Stall).await;
}

async fn redis_cut_under_load() {
    on_redis(Fault::Cut).await;
}

async fn redis_stall_under_load() {
    on_redis(Fault::Stall).await;
}

/// A Redis Cluster started for the trial, every node frozen at once.
async fn redis_cluster_freeze_under_load() {
    let (cluster, store) = redis_support::cluster_store("fault-load").await;
    under_load("Redis Cluster", store, Fault::Freeze(cluster)).await;
}

/// A table of its own, reached through the relay; dropped afterwards through a direct
/// connection (also after a failure).
async fn on_postgres(fault: fn(Relay) -> Fault) {
    let url = Suite::Postgres.value();
    let (relay, relayed) = Relay::to(&url, 5432).await;
    let table = unique_table();
    let store = PostgresStore::connect(&relayed)
        .await
        .expect("PostgreSQL reachable through the relay")
        .with_table(&table)
        .unwrap();
    store.migrate().await.unwrap();
    let direct = PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_table(&table)
        .unwrap();
    run_then_clean(
        under_load("PostgreSQL", store, fault(relay)),
        drop_postgres_table(direct),
    )
    .await;
}

/// A key prefix of its own, reached through the relay.
async fn on_redis(fault: fn(Relay) -> Fault) {
    let url = Suite::Redis.value();
    let (relay, relayed) = Relay::to(&url, 6379).await;
    let store = RedisStore::connect(&relayed)
        .await
        .expect("Redis reachable through the relay")
        .with_prefix(redis_support::unique_prefix("fault-load"));
    under_load("Redis", store, fault(relay)).await;
}

/// The trial: the demo over `store`, the load, the fault and the recovery, then the verdict.
async fn under_load<S: SessionStore>(store_name: &str, store: S, fault: Fault) {
    let trial = format!("{store_name} {}", fault.name());
    let store_timeout = fault.store_timeout();
    let layer = match store_timeout {
        None => demo::session_layer(store),
        Some(timeout) => demo::session_layer(store).store_timeout(timeout),
    };
    let server = serve(demo::app().layer(layer)).await;
    let retired = retire(&server).await;
    let load = Load::start(&server, CLIENTS, LEAVERS).await;
    until(&load, "every client has writes acknowledged", |load| {
        load.every_client(WRITES_AROUND, |a| {
            a.route == Route::Put && a.kind == Kind::Ok
        })
    })
    .await;

    let fault_at = Instant::now();
    fault.begin().await;
    until(
        &load,
        "every client was answered 503 during the outage",
        |load| {
            load.every_client(1, |a| {
                a.answered() >= fault_at && a.kind == Kind::Unavailable
            })
        },
    )
    .await;
    tokio::time::sleep_until((fault_at + MIN_OUTAGE).into()).await;

    let back_at = Instant::now();
    fault.end();
    load.store_is_back(back_at);
    until(
        &load,
        "every client was answered 2xx after the store came back",
        |load| load.every_client(1, |a| a.sent >= back_at && a.kind == Kind::Ok),
    )
    .await;
    until(
        &load,
        "the staying clients have more writes acknowledged, the leaving ones logged out",
        |load| {
            let written =
                |a: &Answer| a.sent >= back_at && a.route == Route::Put && a.kind == Kind::Ok;
            let left = |a: &Answer| a.route == Route::Logout && a.kind == Kind::Ok;
            load.each(load.stayers(), WRITES_AROUND, written) && load.each(load.leavers(), 1, left)
        },
    )
    .await;
    let (ends, answers) = load.stop().await;

    let timeline = Timeline {
        fault_at,
        back_at,
        store_timeout,
    };
    verdict(&trial, &server, &answers, &ends, &retired, &timeline).await;
}

/// Waits until `condition` holds for the load (see [`eventually`]); fails at once, with the
/// answer, as soon as a client gets anything but a 2xx or the store's 503.
async fn until(load: &Load, what: &str, condition: impl Fn(&Load) -> bool) {
    eventually(what, || {
        if let Some(answer) = load.first_other() {
            panic!(
                "while waiting until {what}: client {} got {}",
                answer.client, answer.note
            );
        }
        ready(condition(load))
    })
    .await;
}

/// Sessions that wrote and logged out before the fault: their tokens.
async fn retire(server: &Server) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..RETIRED {
        let (token, _) = server
            .demo_login_from("alice", "wonderland", &format!("retired {i}"))
            .await;
        let res = server
            .put("/api/prefs")
            .session(&token)
            .json(&json!({"seq": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        let res = server.post("/logout").session(&token).send().await.unwrap();
        assert_eq!(res.status(), 204);
        let res = server.get("/api/me").session(&token).send().await.unwrap();
        assert_eq!(res.status(), 401);
        tokens.push(token);
    }
    tokens
}

fn main() -> ExitCode {
    servers::run_one_at_a_time([
        trial!(Postgres: postgres_cut_under_load),
        trial!(Postgres: postgres_stall_under_load),
        trial!(Redis: redis_cut_under_load),
        trial!(Redis: redis_stall_under_load),
        trial!(RedisCluster: redis_cluster_freeze_under_load),
    ])
}
