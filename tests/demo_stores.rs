//! The demo's `SESSIONWARD_STORE` forms (docs/demo-http.md): each one opens its store, and
//! the demo served over it signs a user in and out over real HTTP on loopback. The forms that
//! need a server use the store suites' servers, variables and CI rule (a missing server fails
//! under `CI=true`, and its test is reported as ignored otherwise).

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // uses a few of the helpers
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;
#[path = "sql_support/mod.rs"]
mod sql_support;

use std::process::ExitCode;

use common::{serve, WithSession};
use serde_json::Value;
use servers::{trial, Suite};
use sql_support::TempDb;

/// Opens `spec` as the demo does, serves the demo over it, and signs alice in and out.
async fn signs_in_and_out(spec: &str) {
    let store = demo::open_store(spec, demo::DEFAULT_RETENTION)
        .await
        .unwrap_or_else(|err| panic!("{spec}: {err}"));
    let server = serve(demo::app().layer(demo::session_layer(store))).await;
    let token = server.demo_login().await;
    let res = server.get("/api/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{spec}: the session is stored");
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["user"], "alice", "{spec}");
    let res = server.post("/logout").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 204, "{spec}: logout");
    let res = server.get("/api/me").session(&token).send().await.unwrap();
    assert_eq!(res.status(), 401, "{spec}: the token is dead after logout");
}

async fn memory_and_sqlite() {
    signs_in_and_out("memory").await;
    let db = TempDb::new();
    signs_in_and_out(&format!("sqlite:{}", db.0.display())).await;
    assert!(db.0.exists(), "sqlite:PATH creates the file");
}

async fn postgres() {
    let url = Suite::Postgres.value();
    signs_in_and_out(&url).await;
}

async fn mysql_and_its_mariadb_spelling() {
    let url = Suite::MySql.value();
    signs_in_and_out(&url).await;
    signs_in_and_out(&url.replacen("mysql://", "mariadb://", 1)).await;
}

async fn redis() {
    let url = redis_support::standalone_url();
    signs_in_and_out(&url).await;
}

async fn redis_cluster() {
    let cluster = redis_support::Cluster::start(redis_support::cluster_ports());
    let nodes: Vec<String> = cluster
        .ports()
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    signs_in_and_out(&format!("redis-cluster://{}", nodes.join(","))).await;
}

async fn an_unknown_form_is_refused_with_the_list_of_forms() {
    for spec in ["", "mongodb://localhost", "sqlite", "file:/tmp/x"] {
        let err = demo::open_store(spec, demo::DEFAULT_RETENTION)
            .await
            .err()
            .unwrap_or_else(|| panic!("{spec:?} was accepted"));
        assert!(
            err.contains("accepted forms: memory, sqlite:PATH, postgres://"),
            "{spec:?}: {err}"
        );
    }
}

async fn an_incomplete_form_says_what_is_missing() {
    for (spec, says) in [
        ("sqlite:", "sqlite: needs a file path"),
        ("sqlite://", "sqlite: needs a file path"),
        ("redis-cluster://", "needs at least one HOST:PORT"),
        ("redis-cluster://,", "needs at least one HOST:PORT"),
    ] {
        let err = demo::open_store(spec, demo::DEFAULT_RETENTION)
            .await
            .err()
            .unwrap_or_else(|| panic!("{spec:?} was accepted"));
        assert!(err.contains(says), "{spec:?}: {err}");
        assert!(err.contains("accepted forms"), "{spec:?}: {err}");
    }
}

fn main() -> ExitCode {
    servers::run([
        trial!(memory_and_sqlite),
        trial!(Postgres: postgres),
        trial!(MySql: mysql_and_its_mariadb_spelling),
        trial!(Redis: redis),
        trial!(RedisCluster: redis_cluster),
        trial!(an_unknown_form_is_refused_with_the_list_of_forms),
        trial!(an_incomplete_form_says_what_is_missing),
    ])
}
