//! Upgrading a SQL table from an older schema version to the current one (3): the sessions
//! stored before the upgrade keep working, on the layer's timeouts, can take terms (version 2)
//! and can be ended and kept for listing (version 3, retention) afterwards. An older table is
//! made from the current one by dropping the columns the later versions added.
//!
//! SQLite always runs; PostgreSQL and MySQL need their server variables (see tests/README.md),
//! and without them are reported as ignored.

mod servers;
mod sql_support;

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use servers::trial;
use sessionward::store::conformance::{sample, unique_user};
use sessionward::store::{
    EndReason, EndTarget, Ended, SessionPatch, SessionQuery, SessionState, SessionStore,
    SessionTerms, SqliteStore,
};
use sql_support::TempDb;

/// The current schema version.
const CURRENT: i64 = 3;

/// The columns each version added, from version 2 on.
const ADDED: [(i64, [&str; 2]); 2] = [
    (2, ["idle_timeout", "persistent_cookie"]),
    (3, ["ended_at", "end_reason"]),
];

/// What an upgrade test needs of a store beyond the trait: its migration, and SQL run on its
/// own database.
trait Upgradable: SessionStore + Sized {
    async fn migrate_table(&self);
    async fn drop_column(&self, column: &str);
    async fn set_version(&self, version: i64);
    async fn version(&self) -> i64;
    /// The same store, keeping ended sessions for a day.
    fn retaining(&self) -> Self;

    /// Makes the table a version-`to` table: drops the later columns and sets the version.
    async fn downgrade(&self, to: i64) {
        for (_, columns) in ADDED.iter().filter(|(version, _)| *version > to) {
            for column in columns {
                self.drop_column(column).await;
            }
        }
        self.set_version(to).await;
    }
}

/// From each older version: stores sessions, downgrades, migrates, and checks the sessions
/// survive, take terms, and can be ended and listed as ended.
async fn upgrade_keeps_sessions<S: Upgradable>(store: &S) {
    store.migrate_table().await;
    for from in 1..CURRENT {
        upgrade_from(store, from).await;
    }
}

async fn upgrade_from<S: Upgradable>(store: &S, from: i64) {
    let user = unique_user("upgrade");
    let (key, record) = sample(Some(&user), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    let (other_key, other) = sample(Some(&user), Duration::from_secs(10));
    store
        .create(&other_key, other.clone())
        .await
        .expect("create");
    // The rows now live in an older table, as if stored before the upgrade.
    store.downgrade(from).await;
    assert_eq!(store.version().await, from);
    store.migrate_table().await;
    assert_eq!(
        store.version().await,
        CURRENT,
        "migrate upgrades version {from} to the current one"
    );
    let got = store
        .load(&key)
        .await
        .expect("load")
        .expect("a session stored before the upgrade still loads");
    assert_eq!(got.id, record.id);
    assert_eq!(got.user, record.user);
    assert_eq!(got.data, record.data);
    assert_eq!(got.terms, None, "an old session is on the layer's timeouts");
    assert_eq!(got.ended, None, "an old session is not ended");
    let terms = SessionTerms {
        idle_timeout: Duration::from_secs(900),
        persistent: true,
    };
    let login = SessionPatch {
        terms: Some(terms),
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &login).await.expect("update"));
    let got = store.load(&key).await.expect("load").expect("still there");
    assert_eq!(got.terms, Some(terms), "the upgraded table keeps terms");
    // An old session ends and is kept for listing on the upgraded table.
    let now = SystemTime::now();
    let ended = Ended::new(now, EndReason::LoggedOut);
    let retaining = store.retaining();
    assert_eq!(
        retaining
            .end(EndTarget::Id(&other.id), ended)
            .await
            .expect("end"),
        1
    );
    assert!(store.load(&other_key).await.expect("load").is_none());
    let listed = store
        .query(&SessionQuery {
            state: SessionState::Expired,
            user: Some(user.clone()),
            now,
            offset: 0,
            limit: 10,
        })
        .await
        .expect("query");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, other.id);
    assert_eq!(
        listed[0].ended.map(|e| e.reason),
        Some(EndReason::LoggedOut)
    );
    store.migrate_table().await;
    assert_eq!(
        store.version().await,
        CURRENT,
        "a second migrate changes nothing"
    );
    assert_eq!(store.delete_by_user(&user, None).await.expect("cleanup"), 2);
}

impl Upgradable for SqliteStore {
    async fn migrate_table(&self) {
        self.migrate().await.expect("migrate");
    }

    async fn drop_column(&self, column: &str) {
        sqlx::query(&format!(
            r#"ALTER TABLE "{}" DROP COLUMN {column}"#,
            self.table()
        ))
        .execute(self.pool())
        .await
        .expect("drop a column");
    }

    async fn set_version(&self, version: i64) {
        sqlx::query("UPDATE sessionward_migrations SET version = ?1 WHERE table_name = ?2")
            .bind(version)
            .bind(self.table())
            .execute(self.pool())
            .await
            .expect("set the version");
    }

    async fn version(&self) -> i64 {
        sqlx::query_scalar("SELECT version FROM sessionward_migrations WHERE table_name = ?1")
            .bind(self.table())
            .fetch_one(self.pool())
            .await
            .expect("version")
    }

    fn retaining(&self) -> Self {
        self.clone().with_retention(Duration::from_secs(86_400))
    }
}

async fn sqlite_upgrades_from_every_older_version() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    upgrade_keeps_sessions(&store).await;
    store.pool().close().await;
}

#[cfg(feature = "postgres")]
mod postgres {
    use sessionward::store::PostgresStore;

    use super::servers::Suite;
    use super::sql_support::{drop_postgres_table, run_then_clean, unique_table};
    use super::{upgrade_keeps_sessions, Upgradable};

    impl Upgradable for PostgresStore {
        async fn migrate_table(&self) {
            self.migrate().await.expect("migrate");
        }

        async fn drop_column(&self, column: &str) {
            sqlx::query(&format!(
                "ALTER TABLE \"{}\" DROP COLUMN {column}",
                self.table()
            ))
            .execute(self.pool())
            .await
            .expect("drop a column");
        }

        async fn set_version(&self, version: i64) {
            sqlx::query("UPDATE sessionward_migrations SET version = $1 WHERE table_name = $2")
                .bind(i32::try_from(version).expect("small"))
                .bind(self.table())
                .execute(self.pool())
                .await
                .expect("set the version");
        }

        async fn version(&self) -> i64 {
            let version: i32 = sqlx::query_scalar(
                "SELECT version FROM sessionward_migrations WHERE table_name = $1",
            )
            .bind(self.table())
            .fetch_one(self.pool())
            .await
            .expect("version");
            version.into()
        }

        fn retaining(&self) -> Self {
            self.clone()
                .with_retention(std::time::Duration::from_secs(86_400))
        }
    }

    pub async fn postgres_upgrades_from_every_older_version() {
        let url = Suite::Postgres.value();
        let store = PostgresStore::connect(&url)
            .await
            .expect("connect")
            .with_table(&unique_table())
            .expect("valid table name");
        let s = store.clone();
        run_then_clean(
            async move { upgrade_keeps_sessions(&s).await },
            drop_postgres_table(store),
        )
        .await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use sessionward::store::MySqlStore;

    use super::servers::Suite;
    use super::sql_support::{drop_mysql_table, run_then_clean, unique_table};
    use super::{upgrade_keeps_sessions, Upgradable};

    impl Upgradable for MySqlStore {
        async fn migrate_table(&self) {
            self.migrate().await.expect("migrate");
        }

        async fn drop_column(&self, column: &str) {
            sqlx::query(&format!(
                "ALTER TABLE `{}` DROP COLUMN {column}",
                self.table()
            ))
            .execute(self.pool())
            .await
            .expect("drop a column");
        }

        async fn set_version(&self, version: i64) {
            sqlx::query("UPDATE sessionward_migrations SET version = ? WHERE table_name = ?")
                .bind(i32::try_from(version).expect("small"))
                .bind(self.table())
                .execute(self.pool())
                .await
                .expect("set the version");
        }

        async fn version(&self) -> i64 {
            let version: i32 = sqlx::query_scalar(
                "SELECT version FROM sessionward_migrations WHERE table_name = ?",
            )
            .bind(self.table())
            .fetch_one(self.pool())
            .await
            .expect("version");
            version.into()
        }

        fn retaining(&self) -> Self {
            self.clone()
                .with_retention(std::time::Duration::from_secs(86_400))
        }
    }

    pub async fn mysql_upgrades_from_every_older_version() {
        let url = Suite::MySql.value();
        let store = MySqlStore::connect(&url)
            .await
            .expect("connect")
            .with_table(&unique_table())
            .expect("valid table name");
        let s = store.clone();
        run_then_clean(
            async move { upgrade_keeps_sessions(&s).await },
            drop_mysql_table(store),
        )
        .await;
    }
}

fn main() -> ExitCode {
    #[allow(unused_mut)] // only the server stores' features add tests
    let mut trials = vec![trial!(sqlite_upgrades_from_every_older_version)];
    #[cfg(feature = "postgres")]
    {
        use postgres::postgres_upgrades_from_every_older_version;
        trials.push(trial!(Postgres: postgres_upgrades_from_every_older_version));
    }
    #[cfg(feature = "mysql")]
    {
        use mysql::mysql_upgrades_from_every_older_version;
        trials.push(trial!(MySql: mysql_upgrades_from_every_older_version));
    }
    servers::run(trials)
}
