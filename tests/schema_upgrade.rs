//! Upgrading a SQL table from schema version 1 (before timeout policies) to version 2: the
//! sessions stored before the upgrade keep working, on the layer's timeouts, and can take
//! terms afterwards. Version 1 is made from version 2 by dropping the columns version 2 added.
//!
//! SQLite always runs; PostgreSQL and MySQL need their server variables (see tests/README.md),
//! and without them are reported as ignored.

mod servers;
mod sql_support;

use std::process::ExitCode;
use std::time::Duration;

use servers::trial;
use sessionward::store::conformance::{sample, unique_user};
use sessionward::store::{SessionPatch, SessionStore, SessionTerms, SqliteStore};
use sql_support::TempDb;

/// What an upgrade test needs of a store beyond the trait: its migration, and SQL run on its
/// own database.
trait Upgradable: SessionStore {
    async fn migrate_table(&self);
    /// Makes the table a version-1 table: drops the version-2 columns and the version.
    async fn downgrade_to_v1(&self);
    async fn version(&self) -> i64;
}

/// Stores a session, downgrades, migrates, and checks the session survives and takes terms.
async fn upgrade_keeps_sessions<S: Upgradable>(store: &S) {
    store.migrate_table().await;
    let (key, record) = sample(Some(&unique_user("upgrade")), Duration::ZERO);
    store.create(&key, record.clone()).await.expect("create");
    // The row now lives in a version-1 table, as if stored before the upgrade.
    store.downgrade_to_v1().await;
    assert_eq!(store.version().await, 1);
    store.migrate_table().await;
    assert_eq!(store.version().await, 2, "migrate upgrades to version 2");
    let got = store
        .load(&key)
        .await
        .expect("load")
        .expect("a session stored before the upgrade still loads");
    assert_eq!(got.id, record.id);
    assert_eq!(got.user, record.user);
    assert_eq!(got.data, record.data);
    assert_eq!(got.terms, None, "an old session is on the layer's timeouts");
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
    store.migrate_table().await;
    assert_eq!(store.version().await, 2, "a second migrate changes nothing");
}

impl Upgradable for SqliteStore {
    async fn migrate_table(&self) {
        self.migrate().await.expect("migrate");
    }

    async fn downgrade_to_v1(&self) {
        for column in ["idle_timeout", "persistent_cookie"] {
            sqlx::query(&format!(
                r#"ALTER TABLE "{}" DROP COLUMN {column}"#,
                self.table()
            ))
            .execute(self.pool())
            .await
            .expect("drop a version-2 column");
        }
        sqlx::query("UPDATE sessionward_migrations SET version = 1 WHERE table_name = ?1")
            .bind(self.table())
            .execute(self.pool())
            .await
            .expect("set version 1");
    }

    async fn version(&self) -> i64 {
        sqlx::query_scalar("SELECT version FROM sessionward_migrations WHERE table_name = ?1")
            .bind(self.table())
            .fetch_one(self.pool())
            .await
            .expect("version")
    }
}

async fn sqlite_upgrades_from_version_1() {
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

        async fn downgrade_to_v1(&self) {
            sqlx::query(&format!(
                r#"ALTER TABLE "{}" DROP COLUMN idle_timeout, DROP COLUMN persistent_cookie"#,
                self.table()
            ))
            .execute(self.pool())
            .await
            .expect("drop the version-2 columns");
            sqlx::query("UPDATE sessionward_migrations SET version = 1 WHERE table_name = $1")
                .bind(self.table())
                .execute(self.pool())
                .await
                .expect("set version 1");
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
    }

    pub async fn postgres_upgrades_from_version_1() {
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

        async fn downgrade_to_v1(&self) {
            sqlx::query(&format!(
                "ALTER TABLE `{}` DROP COLUMN idle_timeout, DROP COLUMN persistent_cookie",
                self.table()
            ))
            .execute(self.pool())
            .await
            .expect("drop the version-2 columns");
            sqlx::query("UPDATE sessionward_migrations SET version = 1 WHERE table_name = ?")
                .bind(self.table())
                .execute(self.pool())
                .await
                .expect("set version 1");
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
    }

    pub async fn mysql_upgrades_from_version_1() {
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
    let mut trials = vec![trial!(sqlite_upgrades_from_version_1)];
    #[cfg(feature = "postgres")]
    {
        use postgres::postgres_upgrades_from_version_1;
        trials.push(trial!(Postgres: postgres_upgrades_from_version_1));
    }
    #[cfg(feature = "mysql")]
    {
        use mysql::mysql_upgrades_from_version_1;
        trials.push(trial!(MySql: mysql_upgrades_from_version_1));
    }
    servers::run(trials)
}
