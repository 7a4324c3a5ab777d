//! Stateful JWT access tokens on the shared stores, over real HTTP on loopback against the real
//! PostgreSQL and Redis servers: two instances (two layers, one store, one key ring) accept each
//! other's access tokens, and a logout or a revocation on one ends the token on the other at
//! once.

mod common;
mod jwt_layer_support;
#[allow(dead_code)]
#[path = "redis_support/mod.rs"]
mod redis_support;
mod servers;
#[path = "sql_support/mod.rs"]
mod sql_support;

use std::process::ExitCode;

use jwt_layer_support::assert_instances_share;
use servers::trial;

async fn two_instances_share_tokens_and_logouts_through_postgres() {
    sql_support::on_fresh_postgres_table(|store| async move {
        assert_instances_share(store).await;
    })
    .await;
}

async fn two_instances_share_tokens_and_logouts_through_redis() {
    let store = redis_support::standalone_store("jwt-layer").await;
    assert_instances_share(store).await;
}

fn main() -> ExitCode {
    servers::run([
        trial!(Postgres: two_instances_share_tokens_and_logouts_through_postgres),
        trial!(Redis: two_instances_share_tokens_and_logouts_through_redis),
    ])
}
