//! The demo's timeout policy: shorter timeouts for the admin, a week and a persistent cookie
//! for a login with "remember me", the layer's own for everyone else.

use std::time::Duration;

use sessionward::{Login, TimeoutPolicy, Timeouts};

/// The demo's only user with the admin role.
const ADMIN: &str = "admin";

/// Timeouts by role and "remember me".
#[derive(Clone, Copy, Debug)]
pub struct DemoPolicy {
    admin_idle: Duration,
    admin_absolute: Duration,
    remember: Duration,
}

impl Default for DemoPolicy {
    fn default() -> Self {
        Self {
            admin_idle: Duration::from_secs(900),
            admin_absolute: Duration::from_secs(3600),
            remember: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl DemoPolicy {
    /// The policy of `SESSIONWARD_ADMIN_IDLE_TIMEOUT`, `SESSIONWARD_ADMIN_ABSOLUTE_TIMEOUT`
    /// and `SESSIONWARD_REMEMBER_TIMEOUT` (seconds; 900, 3600 and 604800).
    pub fn from_env() -> Self {
        let default = Self::default();
        Self {
            admin_idle: super::timeout_or(
                "SESSIONWARD_ADMIN_IDLE_TIMEOUT",
                default.admin_idle.as_secs(),
            ),
            admin_absolute: super::timeout_or(
                "SESSIONWARD_ADMIN_ABSOLUTE_TIMEOUT",
                default.admin_absolute.as_secs(),
            ),
            remember: super::timeout_or("SESSIONWARD_REMEMBER_TIMEOUT", default.remember.as_secs()),
        }
    }
}

impl TimeoutPolicy for DemoPolicy {
    fn timeouts(&self, login: &Login, layer: Timeouts) -> Timeouts {
        // The admin's short timeouts win over "remember me": a privileged session should not
        // outlive a week-long absence.
        if login.has_role("admin") {
            Timeouts::new(self.admin_idle, self.admin_absolute)
        } else if login.remembers_me() {
            Timeouts::new(self.remember, self.remember).persistent(true)
        } else {
            layer
        }
    }
}

/// What the demo knows of a user signing in: the role, and whether to remember them.
pub fn login_of(user: &str, remember: bool) -> Login {
    let login = Login::new(user).remember_me(remember);
    if user == ADMIN {
        login.role("admin")
    } else {
        login
    }
}
