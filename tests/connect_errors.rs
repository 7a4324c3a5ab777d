//! A wrong store setting fails at once with a message that names the server, where it was
//! looked for and why it failed, and never the password: a port with nothing listening, a URL
//! of the wrong kind or that does not parse, an unusable SQLite path. None needs a server.
#![cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redis"
))]

use std::error::Error;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sessionward::StoreError;

/// A loopback port with nothing listening: bound, then released.
#[allow(dead_code)] // not every store kind is built in every run
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// The message of a failed connect, checked to be a [`StoreError::Backend`].
#[allow(dead_code)]
fn backend_message<T>(result: Result<T, StoreError>) -> String {
    match result {
        Ok(_) => panic!("the store connected"),
        Err(err @ StoreError::Backend(_)) => err.to_string(),
        Err(other) => panic!("not a backend error: {other:?}"),
    }
}

/// The kind of the first I/O error behind `err`, for code that tells causes apart.
#[allow(dead_code)]
fn io_kind(err: &(dyn Error + 'static)) -> Option<io::ErrorKind> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        // The redis crate keeps its I/O error behind an `Arc`.
        if let Some(shared) = err.downcast_ref::<Arc<dyn Error + Send + Sync>>() {
            if let Some(io) = shared.downcast_ref::<io::Error>() {
                return Some(io.kind());
            }
        }
        next = err.source();
    }
    None
}

/// A refused connection is reported within `within` (sqlx's pool used to retry it for its
/// whole 3 s checkout timeout and then say only "pool timed out").
#[allow(dead_code)]
async fn refused<T: std::fmt::Debug>(
    connect: impl std::future::Future<Output = Result<T, StoreError>>,
    within: Duration,
) -> StoreError {
    let started = Instant::now();
    let err = connect.await.expect_err("nothing listens on the port");
    let took = started.elapsed();
    assert!(took < within, "took {took:?}: {err}");
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert_eq!(
        io_kind(&err),
        Some(io::ErrorKind::ConnectionRefused),
        "the cause is in the source chain: {err:?}"
    );
    err
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use sessionward::store::PostgresStore;

    #[tokio::test]
    async fn a_closed_port_says_connection_refused_at_once() {
        let port = closed_port();
        let url = format!("postgres://app:hunter2@127.0.0.1:{port}/app");
        let err = refused(PostgresStore::connect(&url), Duration::from_secs(2)).await;
        assert_eq!(
            err.to_string(),
            format!(
                "session store unavailable: cannot connect to PostgreSQL at 127.0.0.1:{port}: \
                 connection refused"
            )
        );
    }

    #[tokio::test]
    async fn a_url_of_another_kind_or_that_does_not_parse_is_named() {
        let message = backend_message(PostgresStore::connect("mysql://app:hunter2@db/app").await);
        assert!(
            message
                .contains("not a PostgreSQL URL (it starts with mysql://); expected postgres://"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        let message =
            backend_message(PostgresStore::connect("postgres://app:hunter2@db:port/app").await);
        assert!(
            message.contains("invalid PostgreSQL URL: invalid port number; expected postgres://"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        let message = backend_message(PostgresStore::connect("").await);
        assert!(
            message.contains("not a PostgreSQL URL; expected"),
            "{message}"
        );
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use sessionward::store::MySqlStore;

    #[tokio::test]
    async fn a_closed_port_says_connection_refused_at_once() {
        let port = closed_port();
        for scheme in ["mysql", "mariadb"] {
            let url = format!("{scheme}://app:hunter2@127.0.0.1:{port}/app");
            let err = refused(MySqlStore::connect(&url), Duration::from_secs(2)).await;
            assert_eq!(
                err.to_string(),
                format!(
                    "session store unavailable: cannot connect to MySQL at 127.0.0.1:{port}: \
                     connection refused"
                )
            );
        }
    }

    #[tokio::test]
    async fn a_url_of_another_kind_or_that_does_not_parse_is_named() {
        let message = backend_message(MySqlStore::connect("postgres://app:hunter2@db/app").await);
        assert!(
            message.contains("not a MySQL URL (it starts with postgres://); expected mysql://"),
            "{message}"
        );
        assert!(message.contains("(or mariadb://…)"), "{message}");
        let message = backend_message(MySqlStore::connect("mysql://app:hunter2@db:port/app").await);
        assert!(message.contains("invalid MySQL URL: "), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use sessionward::store::RedisStore;

    // The connection manager retries its first connection three times (about a second).
    const WITHIN: Duration = Duration::from_secs(3);

    #[tokio::test]
    async fn a_closed_port_says_connection_refused() {
        let port = closed_port();
        let url = format!("redis://:hunter2@127.0.0.1:{port}");
        let err = refused(RedisStore::connect(&url), WITHIN).await;
        assert_eq!(
            err.to_string(),
            format!(
                "session store unavailable: cannot connect to Redis at 127.0.0.1:{port}: \
                 connection refused"
            )
        );
    }

    #[tokio::test]
    async fn a_cluster_with_no_reachable_node_names_its_nodes() {
        let (a, b) = (closed_port(), closed_port());
        let nodes = [
            format!("redis://:hunter2@127.0.0.1:{a}"),
            format!("redis://:hunter2@127.0.0.1:{b}"),
        ];
        let started = Instant::now();
        let message = backend_message(RedisStore::connect_cluster(&nodes).await);
        assert!(started.elapsed() < WITHIN, "{message}");
        let expected = format!("cannot connect to Redis Cluster at 127.0.0.1:{a}, 127.0.0.1:{b}: ");
        assert!(message.contains(&expected), "{message}");
        assert!(
            message.to_lowercase().contains("connection refused"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");

        let none: [&str; 0] = [];
        let message = backend_message(RedisStore::connect_cluster(&none).await);
        assert!(
            message.contains("a Redis Cluster needs at least one node URL"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn an_invalid_url_shows_the_accepted_form() {
        for url in ["redis://:hunter2@127.0.0.1:port", "127.0.0.1:6379", ""] {
            let message = backend_message(RedisStore::connect(url).await);
            assert!(message.contains("invalid Redis URL"), "{url}: {message}");
            assert!(
                message.contains("expected redis://[user:password@]host[:port][/db]"),
                "{url}: {message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
            let message = backend_message(RedisStore::connect_cluster(&[url]).await);
            assert!(message.contains("invalid Redis URL"), "{url}: {message}");
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use sessionward::store::SqliteStore;

    /// A fresh directory under the system's temporary one, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> Self {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).unwrap();
            let name = format!("sessionward-connect-{}", hex::encode(bytes));
            let dir = std::env::temp_dir().join(name);
            std::fs::create_dir(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn an_empty_path_is_refused() {
        let message = backend_message(SqliteStore::open("").await);
        assert_eq!(
            message,
            "session store unavailable: the SQLite database path is empty; give a file path, \
             such as sessions.db"
        );
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused() {
        for path in [
            ":memory:",
            "file::memory:?cache=shared",
            "file:s.db?mode=memory",
        ] {
            let message = backend_message(SqliteStore::open(path).await);
            assert!(
                message.contains("is in memory, so each pooled connection would see its own"),
                "{path}: {message}"
            );
        }
    }

    #[tokio::test]
    async fn a_path_that_cannot_be_a_database_file_says_why() {
        let dir = TempDir::new();
        let message = backend_message(SqliteStore::open(&dir.0).await);
        assert_eq!(
            message,
            format!(
                "session store unavailable: cannot open SQLite database {}: it is a directory",
                dir.0.display()
            )
        );

        let missing = dir.0.join("missing");
        let path = missing.join("sessions.db");
        let message = backend_message(SqliteStore::open(&path).await);
        assert_eq!(
            message,
            format!(
                "session store unavailable: cannot open SQLite database {}: its folder {} does \
                 not exist",
                path.display(),
                missing.display()
            )
        );
        assert!(!missing.exists(), "nothing was created");

        let not_sqlite = dir.0.join("notes.txt");
        std::fs::write(
            &not_sqlite,
            "not a database, but long enough to have a header ".repeat(4),
        )
        .unwrap();
        let message = backend_message(SqliteStore::open(&not_sqlite).await);
        assert_eq!(
            message,
            format!(
                "session store unavailable: cannot open SQLite database {}: file is not a \
                 database",
                not_sqlite.display()
            )
        );
    }
}
