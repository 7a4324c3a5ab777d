//! `SESSIONWARD_STORE`: which store the demo runs on. Only the stores whose cargo features
//! were enabled are built in; naming another says which feature to add.

use std::time::Duration;

use sessionward::store::{BoxedStore, MemoryStore};

/// The accepted forms, for error messages.
const FORMS: &str = "memory, sqlite:PATH, postgres://…, mysql://… (or mariadb://…), redis://… \
                     or redis-cluster://HOST:PORT,HOST:PORT,…";

/// A parsed `SESSIONWARD_STORE`.
#[derive(Debug, PartialEq)]
pub enum StoreSetting {
    Memory,
    Sqlite(String),
    Postgres(String),
    MySql(String),
    Redis(String),
    RedisCluster(Vec<String>),
}

impl StoreSetting {
    /// Parses a setting, whether or not its store is built in.
    pub fn parse(spec: &str) -> Result<Self, String> {
        if spec == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(path) = spec.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!(
                    "sqlite: needs a file path, as in sqlite:sessions.db (accepted forms: {FORMS})"
                ));
            }
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            return Ok(Self::Postgres(spec.to_owned()));
        }
        if let Some(rest) = spec.strip_prefix("mariadb://") {
            return Ok(Self::MySql(format!("mysql://{rest}")));
        }
        if spec.starts_with("mysql://") {
            return Ok(Self::MySql(spec.to_owned()));
        }
        if let Some(nodes) = spec.strip_prefix("redis-cluster://") {
            let nodes: Vec<String> = nodes
                .split(',')
                .filter(|n| !n.is_empty())
                .map(|n| format!("redis://{n}"))
                .collect();
            if nodes.is_empty() {
                return Err(format!(
                    "redis-cluster:// needs at least one HOST:PORT (accepted forms: {FORMS})"
                ));
            }
            return Ok(Self::RedisCluster(nodes));
        }
        if spec.starts_with("redis://") {
            return Ok(Self::Redis(spec.to_owned()));
        }
        Err(format!("unknown store; accepted forms: {FORMS}"))
    }

    /// The cargo feature that builds this store in.
    fn feature(&self) -> &'static str {
        match self {
            Self::Memory => "memory-store",
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
            Self::MySql(_) => "mysql",
            Self::Redis(_) | Self::RedisCluster(_) => "redis",
        }
    }

    fn not_built(&self) -> String {
        format!(
            "this demo was built without the `{feature}` feature; run it with \
             `cargo run --release --example demo --features {feature}` (or --features all-stores)",
            feature = self.feature()
        )
    }
}

/// Opens the store named by `SESSIONWARD_STORE` (tables are created on start):
///
/// | value | store | cargo feature |
/// |---|---|---|
/// | `memory` (default) | in this process | (default) |
/// | `sqlite:PATH` | a SQLite file, created if missing | `sqlite` |
/// | `postgres://…` or `postgresql://…` | PostgreSQL | `postgres` |
/// | `mysql://…` or `mariadb://…` | MySQL / MariaDB | `mysql` |
/// | `redis://…` | standalone Redis | `redis` |
/// | `redis-cluster://HOST:PORT,HOST:PORT,…` | Redis Cluster, from any of its nodes | `redis` |
///
/// Ended sessions are kept for `retention` (`SESSIONWARD_RETENTION`; zero: not at all).
pub async fn open_store(spec: &str, retention: Duration) -> Result<BoxedStore, String> {
    let setting = StoreSetting::parse(spec)?;
    #[allow(unused)] // with no store feature, only the memory store is opened
    let fail = |err: sessionward::StoreError| err.to_string();
    match setting {
        StoreSetting::Memory => Ok(BoxedStore::new(
            MemoryStore::default().with_retention(retention),
        )),
        #[cfg(feature = "sqlite")]
        StoreSetting::Sqlite(path) => {
            let store = sessionward::store::SqliteStore::open(&path)
                .await
                .map_err(fail)?
                .with_retention(retention);
            Ok(BoxedStore::new(store))
        }
        #[cfg(feature = "postgres")]
        StoreSetting::Postgres(url) => {
            let store = sessionward::store::PostgresStore::connect(&url)
                .await
                .map_err(fail)?
                .with_retention(retention);
            store.migrate().await.map_err(fail)?;
            Ok(BoxedStore::new(store))
        }
        #[cfg(feature = "mysql")]
        StoreSetting::MySql(url) => {
            let store = sessionward::store::MySqlStore::connect(&url)
                .await
                .map_err(fail)?
                .with_retention(retention);
            store.migrate().await.map_err(fail)?;
            Ok(BoxedStore::new(store))
        }
        #[cfg(feature = "redis")]
        StoreSetting::Redis(url) => {
            let store = sessionward::store::RedisStore::connect(&url)
                .await
                .map_err(fail)?
                .with_retention(retention);
            Ok(BoxedStore::new(with_near_cache(store).await?))
        }
        #[cfg(feature = "redis")]
        StoreSetting::RedisCluster(nodes) => {
            let store = sessionward::store::RedisStore::connect_cluster(&nodes)
                .await
                .map_err(fail)?
                .with_retention(retention);
            Ok(BoxedStore::new(with_near_cache(store).await?))
        }
        #[allow(unreachable_patterns)] // every store built in
        other => Err(other.not_built()),
    }
}

/// `store` with the near cache `SESSIONWARD_NEAR_CACHE` asks for: its staleness bound in
/// milliseconds (`0` or unset: none).
#[cfg(feature = "redis")]
async fn with_near_cache(
    store: sessionward::store::RedisStore,
) -> Result<sessionward::store::RedisStore, String> {
    let value = std::env::var("SESSIONWARD_NEAR_CACHE").unwrap_or_default();
    let ms: u64 = match value.trim() {
        "" => 0,
        text => text.parse().map_err(|_| {
            format!("SESSIONWARD_NEAR_CACHE must be a number of milliseconds, got {text:?}")
        })?,
    };
    if ms == 0 {
        return Ok(store);
    }
    let config = sessionward::store::NearCache::new(Duration::from_millis(ms));
    store
        .with_near_cache(config)
        .await
        .map_err(|err| format!("SESSIONWARD_NEAR_CACHE: {err}"))
}
