//! Checks of the Redis store run by both of `store_redis.rs`'s suites (standalone and
//! cluster), and what they share: a raw connection to look behind the store's back, and the
//! documented key layout rebuilt independently of the store.

pub mod data;
pub mod keys;
pub mod retention;

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::FromRedisValue;
use serde_json::value::{to_raw_value, RawValue};
use sessionward::store::{RedisStore, SessionPatch};
use sessionward::token::{SessionId, TokenHash};

/// A plain connection to the same Redis, to look at keys and TTLs behind the store's back.
#[derive(Clone)]
pub enum Raw {
    Standalone(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Raw {
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let result = match self.clone() {
            Self::Standalone(mut c) => cmd.query_async(&mut c).await,
            Self::Cluster(mut c) => cmd.query_async(&mut c).await,
        };
        result.unwrap_or_else(|err| panic!("raw Redis command failed: {err}"))
    }

    pub async fn pttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("PTTL").arg(key)).await
    }

    pub async fn zscore(&self, key: &str, id: &SessionId) -> Option<f64> {
        self.query(redis::cmd("ZSCORE").arg(key).arg(id.to_string()))
            .await
    }

    /// The server's clock, in ms since the epoch.
    pub async fn server_ms(&self) -> i64 {
        let (secs, micros): (i64, i64) = self.query(&redis::cmd("TIME")).await;
        secs * 1000 + micros / 1000
    }

    pub async fn exists(&self, key: &str) -> bool {
        self.query::<i64>(redis::cmd("EXISTS").arg(key)).await == 1
    }
}

/// The documented key layout, rebuilt independently of the store.
pub struct Layout(String);

impl Layout {
    pub fn of(store: &RedisStore) -> Self {
        Self(store.prefix().to_owned())
    }
    pub fn record(&self, key: &TokenHash) -> String {
        format!("{}{{{}}}:s", self.0, key.to_hex())
    }
    pub fn id(&self, id: &SessionId) -> String {
        format!("{}{{{id}}}:i", self.0)
    }
    pub fn user(&self, user: &str) -> String {
        format!("{}{{u:{user}}}:sessions", self.0)
    }
}

/// Deletes every key under the store's prefix (they would expire anyway).
pub async fn clean_up(store: &RedisStore, raw: &Raw) {
    let pattern = format!("{}*", store.prefix());
    let keys: Vec<String> = raw.query(redis::cmd("KEYS").arg(&pattern)).await;
    for key in keys {
        let _: i64 = raw.query(redis::cmd("DEL").arg(key)).await;
    }
}

pub fn raw_json<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    to_raw_value(value).expect("serializable")
}

pub fn set(key: &str, value: Option<Box<RawValue>>) -> SessionPatch {
    SessionPatch {
        data: vec![(key.to_owned(), value)],
        ..SessionPatch::default()
    }
}

/// Asserts that a key lives at least until `deadline` from now (ten seconds of slack).
pub fn assert_outlives(what: &str, got: i64, deadline: Duration) {
    let floor = deadline.as_millis() as i64 - 10_000;
    assert!(got >= floor, "{what} outlives {deadline:?}: PTTL {got} ms");
}

/// Asserts that a key's PTTL is about `want`.
pub fn assert_ttl(what: &str, got: i64, want: Duration) {
    let want = want.as_millis() as i64;
    // A few seconds of slack for a slow machine, never more than asked.
    assert!(
        got <= want && got > want - 5_000,
        "{what}: PTTL {got} ms, want about {want} ms"
    );
}
