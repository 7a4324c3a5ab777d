//! Shared by the SQL store suites: names and files no other run uses, cleanup that also runs
//! after a failure, and checks every SQL store must pass beyond the conformance suite. Which
//! server a suite runs against is `servers::Suite`'s business.
#![allow(dead_code)] // each suite uses a different subset

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::value::RawValue;
use sessionward::store::conformance::{sample, unique_user};
#[cfg(feature = "mysql")]
use sessionward::store::MySqlStore;
#[cfg(feature = "postgres")]
use sessionward::store::PostgresStore;
use sessionward::store::{spawn_cleanup, SessionPatch, SessionStore};

/// Drops a PostgreSQL test table and its migration record, then closes the pool.
#[cfg(feature = "postgres")]
pub async fn drop_postgres_table(store: PostgresStore) {
    sqlx::query(&format!(r#"DROP TABLE IF EXISTS "{}""#, store.table()))
        .execute(store.pool())
        .await
        .expect("drop the test table");
    sqlx::query("DELETE FROM sessionward_migrations WHERE table_name = $1")
        .bind(store.table())
        .execute(store.pool())
        .await
        .expect("forget the test table's version");
    store.pool().close().await;
}

/// Drops a MariaDB/MySQL test table and its migration record, then closes the pool.
#[cfg(feature = "mysql")]
pub async fn drop_mysql_table(store: MySqlStore) {
    sqlx::query(&format!("DROP TABLE IF EXISTS `{}`", store.table()))
        .execute(store.pool())
        .await
        .expect("drop the test table");
    sqlx::query("DELETE FROM sessionward_migrations WHERE table_name = ?")
        .bind(store.table())
        .execute(store.pool())
        .await
        .expect("forget the test table's version");
    store.pool().close().await;
}

/// A fresh random lowercase-hex string of `len` characters (at most 64).
pub fn random_hex(len: usize) -> String {
    let (key, _) = sample(None, Duration::ZERO);
    key.to_hex()[..len].to_owned()
}

/// A table name no other run uses.
pub fn unique_table() -> String {
    format!("sw_test_{}", random_hex(16))
}

/// A SQLite file under the temp dir with a random name, removed (with its WAL and shared-memory
/// files) when dropped.
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new() -> Self {
        Self(std::env::temp_dir().join(format!("sessionward-{}.db", random_hex(16))))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs `body` on its own task, then `cleanup` whatever happened, then re-raises a panic of
/// `body`: a failed test still drops its table.
pub async fn run_then_clean<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let result = tokio::spawn(body).await;
    cleanup.await;
    if let Err(err) = result {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("test task failed: {err}"),
        }
    }
}

/// Runs `body` on a store over a fresh, migrated table of the PostgreSQL server the suite
/// names (`servers::Suite::Postgres`), then drops the table, even when `body` fails.
#[cfg(feature = "postgres")]
pub async fn on_fresh_postgres_table<B, F>(body: B)
where
    B: FnOnce(PostgresStore) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let url = crate::servers::Suite::Postgres.value();
    let store = PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {url}: {err}"))
        .with_table(&unique_table())
        .expect("valid table name");
    store.migrate().await.expect("migrate");
    run_then_clean(body(store.clone()), drop_postgres_table(store)).await;
}

/// [`on_fresh_postgres_table`] for the MySQL/MariaDB server (`servers::Suite::MySql`).
#[cfg(feature = "mysql")]
pub async fn on_fresh_mysql_table<B, F>(body: B)
where
    B: FnOnce(MySqlStore) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let url = crate::servers::Suite::MySql.value();
    let store = MySqlStore::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to MySQL at {url}: {err}"))
        .with_table(&unique_table())
        .expect("valid table name");
    store.migrate().await.expect("migrate");
    run_then_clean(body(store.clone()), drop_mysql_table(store)).await;
}

pub fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).expect("valid JSON")
}

fn value<'a>(record: &'a sessionward::store::SessionRecord, key: &str) -> Option<&'a str> {
    record.data.get_raw(key).map(RawValue::get)
}

/// JSON `null` values, odd keys (quotes, dots, JSON-path syntax, backslashes, unicode, empty)
/// and odd values round-trip through create, update and rotate, byte for byte.
pub async fn odd_keys_and_null_values_round_trip<S: SessionStore>(store: &S) {
    let odd: &[(&str, &str)] = &[
        ("nothing", "null"),
        ("a.b", "1"),
        ("quote\"d", r#""it's \"quoted\"""#),
        ("$.path[0]", r#"{"nested":null,"list":[1,2.50,-0,1e400]}"#),
        ("back\\slash", r#""\\ and \u00e9 and \ud83d\ude00""#),
        ("ключ 🔑", r#""значение 🗝""#),
        ("", r#""""#),
        ("'; DROP TABLE x; --", "true"),
        ("big", "123456789012345678901234567890"),
        ("escaped nul", r#""a\u0000b""#),
        ("spaced", "[ 1 ,\t2 ]"),
    ];
    let (key, mut record) = sample(None, Duration::ZERO);
    for (k, v) in odd {
        record.data.insert_raw(k, raw(v));
    }
    store.create(&key, record.clone()).await.expect("create");
    let got = store.load(&key).await.expect("load").expect("exists");
    for (k, v) in odd {
        assert_eq!(value(&got, k), Some(*v), "create then load keeps {k:?}");
    }
    assert_eq!(got.data, record.data);

    // An update that sets a key to null keeps it (null is a value, not a removal), removes
    // exactly the removed key, and leaves the others alone.
    let patch = SessionPatch {
        data: vec![
            ("theme".to_owned(), Some(raw("null"))),
            ("a.b".to_owned(), None),
            ("new \"key\"".to_owned(), Some(raw(r#"["x",null]"#))),
        ],
        ..SessionPatch::default()
    };
    assert!(store.update(&key, &patch).await.expect("update"));
    record.apply(&patch);
    let got = store.load(&key).await.expect("load").expect("exists");
    assert_eq!(
        value(&got, "theme"),
        Some("null"),
        "null set by update kept"
    );
    assert_eq!(
        value(&got, "nothing"),
        Some("null"),
        "null from create kept"
    );
    assert_eq!(value(&got, "a.b"), None, "removed key gone");
    assert_eq!(got.data, record.data, "update changed exactly the patch");

    // Removing a key next to a null-valued one leaves the null alone, through rotate too.
    let (new_key, _) = sample(None, Duration::ZERO);
    let patch = SessionPatch {
        data: vec![("quote\"d".to_owned(), None)],
        ..SessionPatch::default()
    };
    assert!(store.rotate(&key, &new_key, &patch).await.expect("rotate"));
    record.apply(&patch);
    let got = store.load(&new_key).await.expect("load").expect("exists");
    assert_eq!(got.data, record.data, "rotate applied exactly the patch");
    assert_eq!(value(&got, "nothing"), Some("null"));
    assert!(store.delete(&new_key).await.expect("delete"));
}

/// 32 concurrent updates of 32 different keys of one session all persist.
pub async fn concurrent_updates_of_different_keys<S: SessionStore + Clone>(store: &S) {
    let (key, record) = sample(None, Duration::ZERO);
    store.create(&key, record).await.expect("create");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        tasks.spawn(async move {
            let patch = SessionPatch {
                data: vec![(format!("key {i}"), Some(raw(&format!("[{i}]"))))],
                last_seen_at: Some(SystemTime::now()),
                ..SessionPatch::default()
            };
            store.update(&key, &patch).await.expect("update")
        });
    }
    while let Some(updated) = tasks.join_next().await {
        assert!(updated.expect("task"), "every update finds the session");
    }
    let got = store.load(&key).await.expect("load").expect("exists");
    for i in 0..32 {
        assert_eq!(
            value(&got, &format!("key {i}")),
            Some(format!("[{i}]").as_str()),
            "concurrent update of key {i} kept"
        );
    }
    assert_eq!(
        value(&got, "theme"),
        Some(r#""dark""#),
        "untouched key kept"
    );
    assert!(store.delete(&key).await.expect("delete"));
}

/// User names are compared exactly: no case folding, no trailing-space padding.
pub async fn user_names_compare_exactly<S: SessionStore>(store: &S) {
    let base = unique_user("exact");
    let names = [
        base.clone(),
        base.to_uppercase(),
        format!("{base} "),
        format!("{base}\u{301}"),
    ];
    for name in &names {
        let (key, record) = sample(Some(name), Duration::ZERO);
        store.create(&key, record).await.expect("create");
    }
    let now = SystemTime::now();
    for name in &names {
        assert_eq!(
            store.count_by_user(name, now).await.expect("count"),
            1,
            "{name:?} counts only its own session"
        );
        let listed = store.list_by_user(name, now).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].user.as_deref(), Some(name.as_str()));
    }
    for name in &names {
        assert_eq!(store.delete_by_user(name, None).await.expect("delete"), 1);
    }
}

/// The background task `spawn_cleanup` purges rows past their deadline, and only those.
pub async fn cleanup_task_purges_expired_rows<S: SessionStore + Clone>(store: &S) {
    let now = SystemTime::now();
    let mut expiring = Vec::new();
    for i in 0..5 {
        let (key, mut record) = sample(None, Duration::ZERO);
        if i % 2 == 0 {
            record.idle_expires_at = now + Duration::from_millis(300);
        } else {
            record.expires_at = now + Duration::from_millis(300);
        }
        store.create(&key, record).await.expect("create");
        expiring.push(key);
    }
    let (live, live_record) = sample(None, Duration::ZERO);
    store.create(&live, live_record).await.expect("create");

    let cleanup = spawn_cleanup(store.clone(), Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut left = 0;
        for key in &expiring {
            left += usize::from(store.load(key).await.expect("load").is_some());
        }
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} expired sessions still stored after 10 s of cleanup"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cleanup.abort();
    assert!(
        store.load(&live).await.expect("load").is_some(),
        "the cleanup task keeps live sessions"
    );
    assert!(store.delete(&live).await.expect("delete"));
}

/// Every check above, in order.
pub async fn sql_checks<S: SessionStore + Clone>(store: &S) {
    odd_keys_and_null_values_round_trip(store).await;
    concurrent_updates_of_different_keys(store).await;
    user_names_compare_exactly(store).await;
    cleanup_task_purges_expired_rows(store).await;
}

/// `with_table` refuses every name that is not `[a-z_][a-z0-9_]*` of at most 48 characters
/// (or is the migrations table), naming the refused name, and accepts a valid one.
/// `with_table` gives the store's table name, or the refusal.
pub fn table_names_are_validated(
    with_table: impl Fn(&str) -> Result<String, sessionward::store::InvalidTableName>,
) {
    for bad in [
        "Sessions",
        "s-1",
        "1s",
        "",
        "s\"; DROP TABLE x; --",
        "sessionward_migrations",
    ] {
        let err = with_table(bad).expect_err("invalid name refused");
        assert_eq!(err.name(), bad);
    }
    assert_eq!(with_table("my_sessions_2").expect("valid"), "my_sessions_2");
}

/// A store whose server does not answer fails `load`, `create` and `migrate` (given as
/// `migrate`) with [`StoreError::Backend`](sessionward::StoreError::Backend), never a panic.
pub async fn unreachable_server_is_a_backend_error<S, M>(store: &S, migrate: M)
where
    S: SessionStore,
    M: Future<Output = Result<(), sessionward::StoreError>>,
{
    use sessionward::StoreError;
    let (key, record) = sample(None, Duration::ZERO);
    let err = store
        .load(&key)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let err = store.create(&key, record).await.expect_err("no server");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let err = migrate.await.expect_err("no server");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}
