//! How the SQL stores connect, and what they say when they cannot.
//!
//! sqlx's pool retries a refused connection until its checkout timeout and then reports only
//! "pool timed out while waiting for an open connection", which hides a wrong port or a server
//! that is down. So `connect` first opens one connection by itself, once, and reports the
//! server, its address and sqlx's cause (refused, unknown host, bad password, unknown
//! database) at once; the pool opens its own connections afterwards, as requests need them.

use sqlx::pool::Pool;
use sqlx::{ConnectOptions, Connection, Database};

use crate::error::StoreError;
use crate::store::connect_error::{io_cause, ConnectError};
use crate::store::sql;

/// A database server the stores connect to by URL.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(super) struct Server {
    /// Its name in messages: "PostgreSQL".
    pub(super) name: &'static str,
    /// The URL schemes it accepts, lowercase, the first one the usual.
    pub(super) schemes: &'static [&'static str],
    /// The accepted form, for messages: `postgres://user:password@host:port/database`.
    pub(super) form: &'static str,
}

/// Connects a pool to the database at `url`, after checking one connection: the store's
/// options for the pool, and a clear error naming the server and the cause otherwise (never
/// the URL, which may hold a password). `address` says where the options point.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(super) async fn connect<DB: Database>(
    server: &Server,
    url: &str,
    address: impl Fn(&<DB::Connection as Connection>::Options) -> String,
) -> Result<Pool<DB>, StoreError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !scheme.is_some_and(|s| server.schemes.iter().any(|ok| s.eq_ignore_ascii_case(ok))) {
        let found = match scheme {
            Some(s)
                if s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                format!(" (it starts with {s}://)")
            }
            _ => String::new(),
        };
        return Err(ConnectError::refused(format!(
            "not a {} URL{found}; expected {}",
            server.name,
            accepted(server)
        )));
    }
    let options: <DB::Connection as Connection>::Options = url.parse().map_err(|err| {
        ConnectError::caused(
            format!(
                "invalid {} URL: {}; expected {}",
                server.name,
                cause(&err),
                accepted(server)
            ),
            err,
        )
    })?;
    let at = address(&options);
    let cannot = |why: String| format!("cannot connect to {} at {at}: {why}", server.name);
    match tokio::time::timeout(sql::CHECKOUT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            // The check is done; the pool opens its own connections.
            let _ = conn.close().await;
        }
        Ok(Err(err)) => return Err(ConnectError::caused(cannot(cause(&err)), err)),
        Err(elapsed) => {
            let secs = sql::CHECKOUT_TIMEOUT.as_secs();
            return Err(ConnectError::caused(
                cannot(format!("no answer within {secs} s")),
                elapsed,
            ));
        }
    }
    Ok(sql::pool_options().connect_lazy_with(options))
}

/// `postgres://… (or postgresql://…)`.
fn accepted(server: &Server) -> String {
    let mut text = server.form.to_owned();
    if let [_, others @ ..] = server.schemes {
        for other in others {
            text.push_str(&format!(" (or {other}://…)"));
        }
    }
    text
}

/// What went wrong, in the database's or the OS's words, without sqlx's category prefix
/// ("error returned from database: ", "error communicating with database: ").
pub(super) fn cause(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Io(io) => io_cause(io),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Tls(tls) => format!("TLS: {tls}"),
        sqlx::Error::Configuration(inner) => match inner.downcast_ref::<sqlx::Error>() {
            // sqlx sometimes wraps a configuration error in another one.
            Some(inner) => cause(inner),
            None => inner.to_string(),
        },
        other => other.to_string(),
    }
}
