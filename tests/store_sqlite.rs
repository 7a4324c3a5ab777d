//! The SQLite store, on temporary files: the conformance suite, the SQL checks, persistence
//! across a restart, migrations and corrupt rows. Needs no server, so it always runs.

mod servers;
mod sql_support;

use std::time::{Duration, SystemTime};

use sessionward::store::conformance::{self, sample, unique_user};
use sessionward::store::{SessionPatch, SessionStore, SqliteStore};
use sessionward::StoreError;
use sql_support::{raw, sql_checks, TempDb};
use sqlx::sqlite::SqlitePool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_twice() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    conformance::run(&store).await;
    // With retention, then without again on a table that holds ended rows.
    conformance::run(&store.clone().with_retention(Duration::from_secs(86_400))).await;
    conformance::run(&store).await;
    store.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_sql_checks() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    sql_checks(&store).await;
    store.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_restart() {
    let file = TempDb::new();
    let user = unique_user("restart");
    let (key, mut record) = sample(Some(&user), Duration::ZERO);
    record.data.insert_raw("nothing", raw("null"));
    {
        let first = SqliteStore::open(&file.0).await.expect("open");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(first.pool())
            .await
            .expect("journal mode");
        assert_eq!(mode, "wal");
        first.create(&key, record.clone()).await.expect("create");
        let patch = SessionPatch {
            data: vec![("visits".to_owned(), Some(raw("2")))],
            last_seen_at: Some(SystemTime::now()),
            ..SessionPatch::default()
        };
        assert!(first.update(&key, &patch).await.expect("update"));
        record.apply(&patch);
        first.pool().close().await;
    }
    assert!(file.0.exists(), "the database is a file");

    let second = SqliteStore::open(&file.0).await.expect("reopen");
    let got = second.load(&key).await.expect("load").expect("kept");
    assert_eq!(got.id, record.id);
    assert_eq!(got.user, record.user);
    assert_eq!(got.data, record.data);
    let ms = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    assert_eq!(ms(got.last_seen_at), ms(record.last_seen_at));
    assert_eq!(ms(got.expires_at), ms(record.expires_at));
    let now = SystemTime::now();
    assert_eq!(second.count_by_user(&user, now).await.expect("count"), 1);
    assert!(second.delete(&key).await.expect("delete"));
    second.pool().close().await;
}

#[tokio::test]
async fn migrate_is_idempotent_versioned_and_per_table() {
    let file = TempDb::new();
    // `open` migrates the default table; a second table on the same file is independent.
    let default = SqliteStore::open(&file.0).await.expect("open");
    default.migrate().await.expect("migrate again");
    let pool = SqlitePool::connect_with(SqliteStore::connect_options(&file.0))
        .await
        .expect("pool");
    let other = SqliteStore::new(pool)
        .with_table("other_sessions")
        .expect("valid name");
    let (a, b) = tokio::join!(other.migrate(), other.migrate());
    a.expect("first concurrent migrate");
    b.expect("second concurrent migrate");
    let versions: Vec<(String, i64)> =
        sqlx::query_as("SELECT table_name, version FROM sessionward_migrations ORDER BY 1")
            .fetch_all(other.pool())
            .await
            .expect("versions");
    assert_eq!(
        versions,
        vec![
            ("other_sessions".to_owned(), 3),
            ("sessionward_sessions".to_owned(), 3)
        ]
    );
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'other_sessions'",
    )
    .fetch_all(other.pool())
    .await
    .expect("indexes");
    for name in ["other_sessions_user_idx", "other_sessions_deadline_idx"] {
        assert!(indexes.iter().any(|i| i == name), "{name} in {indexes:?}");
    }
    let (key, record) = sample(None, Duration::ZERO);
    other.create(&key, record).await.expect("create");
    assert!(
        default.load(&key).await.expect("load").is_none(),
        "tables are separate"
    );

    sqlx::query(
        "UPDATE sessionward_migrations SET version = 99 WHERE table_name = 'other_sessions'",
    )
    .execute(other.pool())
    .await
    .expect("pretend a newer version");
    let err = other.migrate().await.expect_err("newer schema refused");
    assert!(err.to_string().contains("version 99"), "{err}");

    sql_support::table_names_are_validated(|name| {
        SqliteStore::new(default.pool().clone())
            .with_table(name)
            .map(|store| store.table().to_owned())
    });
    default.pool().close().await;
    other.pool().close().await;
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let file = TempDb::new();
    let store = SqliteStore::open(&file.0).await.expect("open");
    let insert = "INSERT INTO sessionward_sessions (token_hash, id, user_name, data, created_at, \
                  last_seen_at, expires_at, idle_expires_at, deadline, user_agent, ip) \
                  VALUES (?1, ?2, 'u', ?3, 0, ?4, 4102444800000, 4102444800000, 4102444800000, \
                  NULL, ?5)";
    // The text "0" becomes an integer in an INTEGER column; "yesterday" stays text.
    let cases: [(&[u8], &str, &str, Option<&str>); 5] = [
        (&[7; 15], r#"{"a":"1"}"#, "0", None),
        (&[7; 16], r#"{"a":1}"#, "0", None),
        (&[8; 16], r#"{"a":"not json"}"#, "0", None),
        (&[9; 16], r#"{"a":"1"}"#, "0", Some("not an ip")),
        (&[10; 16], r#"{"a":"1"}"#, "yesterday", None),
    ];
    for (id, data, last_seen, ip) in cases {
        let (key, _) = sample(None, Duration::ZERO);
        sqlx::query(insert)
            .bind(&key.0[..])
            .bind(id)
            .bind(data)
            .bind(last_seen)
            .bind(ip)
            .execute(store.pool())
            .await
            .expect("insert a corrupt row");
        let loaded = store.load(&key).await;
        assert!(
            matches!(loaded, Err(StoreError::Corrupt(_))),
            "id {id:?}, data {data}, last_seen {last_seen}, ip {ip:?}: {loaded:?}"
        );
    }
    store.pool().close().await;
}

#[tokio::test]
async fn an_unopenable_file_is_a_backend_error() {
    let file = TempDb::new();
    let path = file.0.join("no such directory").join("sessions.db");
    let err = SqliteStore::open(&path)
        .await
        .expect_err("no such directory");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}
