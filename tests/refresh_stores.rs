//! Bearer sessions on every store, through two demo instances sharing it (two layers, one
//! store, one key ring), over real HTTP on loopback: a pair issued by A refreshes on B; many
//! refreshes racing on one token get exactly one new pair (the store's rotate is atomic); a
//! replayed refresh token revokes the session on both instances.

mod common;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod servers;
mod sql_support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use common::{serve, Server};
use serde_json::{json, Value};
use servers::{trial, Suite};
use sessionward::store::{MySqlStore, PostgresStore, RedisStore, SessionStore, SqliteStore};
use sessionward::token::{AccessTokens, KeyRing};
use sql_support::{on_fresh_mysql_table, on_fresh_postgres_table, TempDb};
use tokio::sync::Barrier;

const SECRET: &str = "a shared secret of at least 32 bytes, for both instances";

/// An instance of the demo on `store`, with the shared key and a race window of `window`.
async fn instance<S: SessionStore>(store: S, window: Duration) -> Server {
    let ring = KeyRing::from_secret(SECRET).unwrap();
    let tokens = AccessTokens::new(ring).refresh_race_window(window);
    serve(demo::app().layer(demo::session_layer(store).access_tokens(tokens))).await
}

async fn sign_in(server: &Server) -> Value {
    let res = server
        .post("/api/token")
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn refresh(server: &Server, pair: &Value) -> reqwest::Response {
    server
        .post("/api/token/refresh")
        .json(&json!({ "refresh_token": pair["refresh_token"] }))
        .send()
        .await
        .unwrap()
}

async fn me(server: &Server, pair: &Value) -> u16 {
    let access = pair["access_token"].as_str().unwrap();
    let res = server
        .get("/api/me")
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

/// Runs the scenario on two instances: `a` and `b` are two handles of one store.
async fn across<S: SessionStore>(a: S, b: S) {
    // A wide window for the race, so that the losers are refused cleanly; the replay below
    // presents a token older than the last one used, which is reuse whatever the window.
    let (a, b) = (
        instance(a, Duration::from_secs(60)).await,
        instance(b, Duration::from_secs(60)).await,
    );
    let first = sign_in(&a).await;
    assert_eq!(me(&b, &first).await, 200, "B accepts A's access token");
    let res = refresh(&b, &first).await;
    assert_eq!(res.status(), 200, "B refreshes A's pair");
    let second: Value = res.json().await.unwrap();
    assert_eq!(me(&a, &second).await, 200);

    // Eight refreshes of one token at once, spread over both instances.
    const RACERS: usize = 8;
    let barrier = Arc::new(Barrier::new(RACERS));
    let (a, b) = (Arc::new(a), Arc::new(b));
    let racers: Vec<_> = (0..RACERS)
        .map(|n| {
            let server = if n % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, pair) = (barrier.clone(), second.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let res = refresh(&server, &pair).await;
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            (200, pair) => winners.push(pair),
            (status, body) => {
                assert_eq!((status, &body["error"]), (409, &json!("refresh_conflict")))
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh wins");
    let third = winners.pop().unwrap();
    assert_eq!(me(&a, &third).await, 200, "the losers changed nothing");

    // A replay of the first refresh token revokes the session, on both instances.
    let res = refresh(&a, &first).await;
    assert_eq!(res.status(), 401);
    assert_eq!(me(&b, &third).await, 401);
    assert_eq!(refresh(&b, &third).await.status(), 401);
}

async fn sqlite() {
    let file = TempDb::new();
    let a = SqliteStore::open(&file.0).await.expect("open");
    let b = SqliteStore::open(&file.0).await.expect("open again");
    across(a, b).await;
}

async fn postgres() {
    on_fresh_postgres_table(|a| async move {
        let b = PostgresStore::connect(&Suite::Postgres.value())
            .await
            .expect("PostgreSQL again")
            .with_table(a.table())
            .unwrap();
        across(a, b).await;
    })
    .await;
}

async fn mysql() {
    on_fresh_mysql_table(|a| async move {
        let b = MySqlStore::connect(&Suite::MySql.value())
            .await
            .expect("MySQL again")
            .with_table(a.table())
            .unwrap();
        across(a, b).await;
    })
    .await;
}

async fn redis() {
    let url = redis_support::standalone_url();
    let prefix = redis_support::unique_prefix("refresh");
    let connect = || async {
        RedisStore::connect(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"))
            .with_prefix(prefix.clone())
    };
    across(connect().await, connect().await).await;
}

async fn redis_cluster() {
    let (cluster, a) = redis_support::cluster_store("refresh").await;
    let b = RedisStore::connect_cluster(&cluster.urls())
        .await
        .expect("the cluster")
        .with_prefix(a.prefix().to_owned());
    across(a, b).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(sqlite),
        trial!(Postgres: postgres),
        trial!(MySql: mysql),
        trial!(Redis: redis),
        trial!(RedisCluster: redis_cluster),
    ])
}
