//! The floor under any stack on a SQL server: a bare `SELECT 1` on a one-connection pool that
//! does not ping before checkout, one round trip, what a session read costs the server least.

use std::hint::black_box;

use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPool;

/// A one-connection pool for the bare-query floor.
pub enum FloorPool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl FloorPool {
    /// The floor pool on the PostgreSQL server at `url`.
    pub async fn postgres(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect(url)
            .await
            .map(FloorPool::Postgres)
    }

    /// The floor pool on the MySQL or MariaDB server at `url`.
    pub async fn mysql(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect(url)
            .await
            .map(FloorPool::MySql)
    }

    /// One bare `SELECT 1`.
    pub async fn select_one(&self) -> i64 {
        // PostgreSQL answers an `int4`, MariaDB a `bigint`.
        let one = match self {
            FloorPool::Postgres(pool) => sqlx::query_scalar::<_, i32>("SELECT 1")
                .fetch_one(pool)
                .await
                .map(i64::from),
            FloorPool::MySql(pool) => {
                sqlx::query_scalar::<_, i64>("SELECT 1")
                    .fetch_one(pool)
                    .await
            }
        };
        black_box(one.expect("SELECT 1"))
    }
}
