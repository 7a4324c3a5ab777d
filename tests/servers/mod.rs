//! The store servers the tests run against (and the browser tests' chromedriver), each named
//! by an environment variable, and the harness of every test binary that needs one (see
//! tests/README.md).
//!
//! A test that needs a server whose variable is unset is listed as ignored, with the variable
//! it needs: it never counts as passed without having run. Under `CI=true` an unset variable
//! means the suite's default, so a missing server fails its tests there.
// Each test binary uses a different subset (the summary binary only `Suite`).
#![allow(dead_code, unused_imports, unused_macros)]

mod harness;

pub(crate) use harness::trial;
pub use harness::{expect_panic, run, run_one_at_a_time, test};

/// A store suite that runs against a real server, or the browser tests, which drive Chromium
/// through an installed chromedriver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    Postgres,
    MySql,
    Redis,
    RedisCluster,
    Browser,
}

impl Suite {
    pub const ALL: [Self; 5] = [
        Self::Postgres,
        Self::MySql,
        Self::Redis,
        Self::RedisCluster,
        Self::Browser,
    ];

    /// The suite's name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL/MariaDB",
            Self::Redis => "Redis",
            Self::RedisCluster => "Redis Cluster",
            Self::Browser => "Browser",
        }
    }

    /// The variable that turns the suite on.
    pub fn var(self) -> &'static str {
        match self {
            Self::Postgres => "SESSIONWARD_TEST_POSTGRES",
            Self::MySql => "SESSIONWARD_TEST_MYSQL",
            Self::Redis => "SESSIONWARD_TEST_REDIS",
            Self::RedisCluster => "SESSIONWARD_TEST_REDIS_CLUSTER",
            Self::Browser => "SESSIONWARD_TEST_BROWSER",
        }
    }

    /// The value for a default local install, used under `CI=true` when the variable is unset.
    pub fn default_value(self) -> &'static str {
        match self {
            Self::Postgres => "postgres://postgres@127.0.0.1:5432/test",
            Self::MySql => "mysql://root@127.0.0.1:3306/test",
            Self::Redis => "redis://127.0.0.1:6379",
            // The tests start a three-master cluster on free loopback ports.
            Self::RedisCluster => "1",
            // Debian's chromium-driver (it drives Debian's chromium, /usr/bin/chromium).
            Self::Browser => "/usr/bin/chromedriver",
        }
    }

    /// The cargo feature that builds the suite's store.
    pub fn feature(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
            Self::Redis | Self::RedisCluster => "redis",
            // The browser tests run the demo, which needs the memory store.
            Self::Browser => "memory-store",
        }
    }

    /// Whether this build has the suite's store.
    pub fn built(self) -> bool {
        match self {
            Self::Postgres => cfg!(feature = "postgres"),
            Self::MySql => cfg!(feature = "mysql"),
            Self::Redis | Self::RedisCluster => cfg!(feature = "redis"),
            Self::Browser => cfg!(feature = "memory-store"),
        }
    }

    /// The setting that turns the suite on: `VAR=default`.
    pub fn setting(self) -> String {
        format!("{}={}", self.var(), self.default_value())
    }

    /// What the suite runs against: the variable when set and not blank, the default under
    /// `CI=true`, otherwise `None` (its tests are not run).
    pub fn configured(self) -> Option<String> {
        match std::env::var(self.var()) {
            Ok(value) if !value.trim().is_empty() => Some(value),
            _ if under_ci() => Some(self.default_value().to_owned()),
            _ => None,
        }
    }

    /// What the suite runs against.
    ///
    /// # Panics
    /// When the suite is not configured: one of its tests was run by `--ignored` or
    /// `--include-ignored` without the variable.
    pub fn value(self) -> String {
        self.configured().unwrap_or_else(|| {
            panic!(
                "{} is not set: set {} to run the {} tests",
                self.var(),
                self.setting(),
                self.name()
            )
        })
    }
}

/// Whether this is a CI run (`CI=true`): there a missing server fails, never skips.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}
