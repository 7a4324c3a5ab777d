//! Self-service on one's devices and session caps through two demo instances sharing one
//! store, over real HTTP on loopback, on every store but memory (`devices.rs` and
//! `session_caps.rs` cover that one): each instance has its own connection to the server, so
//! what one revokes or evicts must be refused by the other on its next request.
//!
//! The server stores need their variables, as the store suites do; without one, its test is
//! reported as ignored.

mod common;
#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // the cluster helpers this file does not use
mod redis_support;
mod servers;
mod sql_support;

use std::process::ExitCode;

use common::{serve, Server, WithSession};
use serde_json::{json, Value};
use servers::{trial, Suite};
use sessionward::store::{
    MySqlStore, Overflow, PostgresStore, RedisStore, SessionStore, SqliteStore,
};
use sql_support::{on_fresh_mysql_table, on_fresh_postgres_table, TempDb};

/// Two demo instances over `store` and its clone-from-elsewhere `other`: one with the demo's
/// layer, one with a per-user cap of 2 that evicts (as an app would configure every instance;
/// the scenario only logs in through the capped one where it says so).
async fn instances<S: SessionStore>(a: S, b: S) -> (Server, Server) {
    let a = serve(demo::app().layer(demo::session_layer(a))).await;
    let b =
        serve(demo::app().layer(
            demo::session_layer(b).max_sessions_per_user(2, Overflow::EvictLeastRecentlyUsed),
        ))
        .await;
    (a, b)
}

async fn login(server: &Server, user: &str, password: &str, agent: &str) -> (String, String) {
    server.demo_login_from(user, password, agent).await
}

async fn me(server: &Server, token: &str) -> u16 {
    let res = server.get("/api/me").session(token).send().await.unwrap();
    res.status().as_u16()
}

async fn list(server: &Server, token: &str) -> Vec<Value> {
    let res = server
        .get("/api/sessions")
        .session(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn revoke(server: &Server, token: &str, id: &str) -> (u16, Value) {
    let res = server
        .delete(&format!("/api/sessions/{id}"))
        .session(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The scenario every store must pass; `user` prefixes are not needed: the demo's users are
/// fixed, so each store runs on a table or prefix of its own.
async fn devices_across_instances(a: &Server, b: &Server) {
    // alice on a laptop through A and on a phone through B; bob through A.
    let (laptop, laptop_id) = login(a, "alice", "wonderland", "laptop").await;
    let (phone, phone_id) = login(a, "alice", "wonderland", "phone").await;
    let (bob, bob_id) = login(a, "bob", "builder", "bob's").await;

    // Each instance lists alice's two, the caller's flagged, never bob's, never a token.
    for (server, token, current) in [(a, &laptop, &laptop_id), (b, &phone, &phone_id)] {
        let sessions = list(server, token).await;
        assert_eq!(sessions.len(), 2, "{sessions:?}");
        assert!(sessions.iter().all(|s| s["id"] != bob_id.as_str()));
        for s in &sessions {
            assert_eq!(s["current"], s["id"] == current.as_str(), "{s}");
        }
        let text = serde_json::to_string(&sessions).unwrap();
        assert!(!text.contains(&laptop) && !text.contains(&phone) && !text.contains(&bob));
    }

    // alice cannot end bob's session: the same 404 as for an id that exists nowhere.
    let bobs = revoke(b, &phone, &bob_id).await;
    let unknown = revoke(b, &phone, "AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(bobs.0, 404);
    assert_eq!(bobs, unknown);
    assert_eq!(me(a, &bob).await, 200);

    // The phone, on B, revokes the laptop: A refuses the laptop's next request.
    assert_eq!(me(a, &laptop).await, 200);
    assert_eq!(revoke(b, &phone, &laptop_id).await.0, 204);
    assert_eq!(me(a, &laptop).await, 401);
    assert_eq!(me(b, &phone).await, 200);

    // Two more logins through A, then revoke-others from the phone on B ends both.
    let (tablet, _) = login(a, "alice", "wonderland", "tablet").await;
    let (desk, _) = login(a, "alice", "wonderland", "desk").await;
    let res = b
        .post("/api/sessions/revoke-others")
        .session(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"revoked": 2}));
    assert_eq!(me(a, &tablet).await, 401);
    assert_eq!(me(a, &desk).await, 401);
    assert_eq!(list(a, &phone).await.len(), 1);

    // The cap on B (2 per user, evict): alice has the phone; two logins through B evict the
    // least recently seen session, the phone (last seen is recorded at login and at each
    // renewal), which A then refuses.
    let (watch, _) = login(b, "alice", "wonderland", "watch").await;
    assert_eq!(me(a, &phone).await, 200, "two sessions: within the cap");
    let (car, _) = login(b, "alice", "wonderland", "car").await;
    assert_eq!(
        me(a, &phone).await,
        401,
        "the least recently seen one is evicted"
    );
    assert_eq!(me(a, &watch).await, 200);
    assert_eq!(me(a, &car).await, 200);
    assert_eq!(me(a, &bob).await, 200, "other users are not counted");
}

/// The scenario through two instances, one over `a` and one over `b`.
async fn across<S: SessionStore>(a: S, b: S) {
    let (a, b) = instances(a, b).await;
    devices_across_instances(&a, &b).await;
}

async fn sqlite() {
    let file = TempDb::new();
    let a = SqliteStore::open(&file.0).await.expect("open");
    let b = SqliteStore::open(&file.0).await.expect("open again");
    across(a, b).await;
}

async fn postgres() {
    on_fresh_postgres_table(|a| async move {
        // The second instance's own pool, on the same table.
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
    let prefix = redis_support::unique_prefix("devices");
    let connect = || async {
        RedisStore::connect(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot reach the Redis at {url}: {err}"))
            .with_prefix(prefix.clone())
    };
    across(connect().await, connect().await).await;
}

async fn redis_cluster() {
    let (cluster, a) = redis_support::cluster_store("devices").await;
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
