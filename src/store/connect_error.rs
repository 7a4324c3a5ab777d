//! Why a store could not connect, in one line that names the server and the cause.
//!
//! Drivers describe a failed connection in their own terms ("pool timed out while waiting for
//! an open connection", "Connection refused (os error 111)") without saying which server or
//! address was tried; an operator who mistyped a port or a host then has to guess. The
//! constructors wrap each failure in a [`ConnectError`] that says which server, where, and why,
//! and keeps the driver's error as its source for code that inspects it.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::error::StoreError;

/// A store that could not connect or open: the message, and the driver's error behind it.
#[derive(Debug)]
pub(crate) struct ConnectError {
    message: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl ConnectError {
    /// A failure with `message` and no underlying error (a setting refused before any I/O).
    pub(crate) fn refused(message: impl Into<String>) -> StoreError {
        StoreError::backend(Self {
            message: message.into(),
            source: None,
        })
    }

    /// A failure with `message`, caused by `source`.
    pub(crate) fn caused(
        message: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::backend(Self {
            message: message.into(),
            source: Some(source.into()),
        })
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|err| err as &(dyn Error + 'static))
    }
}

/// An I/O failure in words: the kind for the usual network failures (the OS text adds only an
/// error number), the OS text otherwise (a failed name lookup says which lookup failed).
pub(crate) fn io_cause(err: &io::Error) -> String {
    use io::ErrorKind as K;
    match err.kind() {
        kind @ (K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::TimedOut) => kind.to_string(),
        _ => err.to_string(),
    }
}

/// The first I/O error in `err`'s chain of sources, itself included.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn find_io<'a>(mut err: &'a (dyn Error + 'static)) -> Option<&'a io::Error> {
    loop {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        // The redis crate gives its I/O error as the source behind an `Arc`, which hides its
        // type from a plain downcast.
        let shared = err.downcast_ref::<Arc<dyn Error + Send + Sync>>();
        if let Some(io) = shared.and_then(|inner| inner.downcast_ref::<io::Error>()) {
            return Some(io);
        }
        err = err.source()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_cause_as_source() {
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let err = ConnectError::caused("cannot connect to X at h:1: connection refused", io);
        assert_eq!(
            err.to_string(),
            "session store unavailable: cannot connect to X at h:1: connection refused"
        );
        let found = find_io(&err).expect("the io error is in the chain");
        assert_eq!(found.kind(), io::ErrorKind::ConnectionRefused);
        assert!(find_io(&ConnectError::refused("bad")).is_none());
        let shared: Arc<dyn Error + Send + Sync> =
            Arc::new(io::Error::from(io::ErrorKind::TimedOut));
        let found = find_io(&shared).expect("the io error behind an Arc");
        assert_eq!(found.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn describes_io_errors() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_cause(&refused), "connection refused");
        let lookup = io::Error::other("failed to lookup address information");
        assert_eq!(io_cause(&lookup), "failed to lookup address information");
    }
}
