//! The demo's `SESSIONWARD_STORE` forms (docs/demo-http.md): each one opens its store, and
//! the demo served over it signs a user in and out over real HTTP on loopback. The forms that
//! need a server use the store suites' servers, variables and CI rule (a missing server fails
//! under `CI=true`, and is reported as skipped otherwise).

mod common;

#[allow(dead_code)] // the demo's `main` is not used here
#[path = "../examples/demo/main.rs"]
mod demo;
#[allow(dead_code)] // uses a few of the helpers
#[path = "redis_support/mod.rs"]
mod redis_support;
#[path = "sql_support/mod.rs"]
mod sql_support;

use common::{serve, WithSession};
use serde_json::Value;
use sql_support::{server_url, TempDb, MYSQL, POSTGRES};

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

#[tokio::test]
async fn memory_and_sqlite() {
    signs_in_and_out("memory").await;
    let db = TempDb::new();
    signs_in_and_out(&format!("sqlite:{}", db.0.display())).await;
    assert!(db.0.exists(), "sqlite:PATH creates the file");
}

#[tokio::test]
async fn postgres() {
    let Some(url) = server_url(POSTGRES, "demo over PostgreSQL") else {
        return;
    };
    signs_in_and_out(&url).await;
}

#[tokio::test]
async fn mysql_and_its_mariadb_spelling() {
    let Some(url) = server_url(MYSQL, "demo over MySQL") else {
        return;
    };
    signs_in_and_out(&url).await;
    signs_in_and_out(&url.replacen("mysql://", "mariadb://", 1)).await;
}

#[tokio::test]
async fn redis() {
    let Some(url) = redis_support::standalone_url() else {
        return;
    };
    signs_in_and_out(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    let Some(ports) = redis_support::cluster_ports() else {
        return;
    };
    let cluster = redis_support::Cluster::start(ports);
    let nodes: Vec<String> = cluster
        .ports()
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    signs_in_and_out(&format!("redis-cluster://{}", nodes.join(","))).await;
}

#[tokio::test]
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

#[tokio::test]
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
