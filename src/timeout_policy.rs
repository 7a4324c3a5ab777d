//! Adaptive timeouts: a [`TimeoutPolicy`] picks each session's timeouts at login from who signs
//! in and how ([`Login`]), and the choice is stored with the session.

use std::fmt;
use std::time::Duration;

use crate::store::SessionTerms;

/// Who signs in and how, given to [`Session::login`](crate::Session::login) and, through it,
/// to the layer's [`TimeoutPolicy`].
///
/// `session.login("alice")` is `session.login(Login::new("alice"))`.
///
/// ```
/// use sessionward::Login;
///
/// let login = Login::new("alice").role("admin").remember_me(true);
/// assert!(login.has_role("admin"));
/// assert!(login.remembers_me());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    user: String,
    roles: Vec<String>,
    remember_me: bool,
}

impl Login {
    /// `user` signs in, with no role and no "remember me".
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            roles: Vec::new(),
            remember_me: false,
        }
    }

    /// Adds a role, for the policy to read (sessionward keeps no roles itself).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Whether the user asked to be remembered (a "remember me" box).
    pub fn remember_me(mut self, remember_me: bool) -> Self {
        self.remember_me = remember_me;
        self
    }

    /// The user signing in.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The roles given with [`role`](Self::role).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Whether `role` was given.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the user asked to be remembered.
    pub fn remembers_me(&self) -> bool {
        self.remember_me
    }

    pub(crate) fn into_user(self) -> String {
        self.user
    }
}

impl From<&str> for Login {
    fn from(user: &str) -> Self {
        Self::new(user)
    }
}

impl From<String> for Login {
    fn from(user: String) -> Self {
        Self::new(user)
    }
}

impl From<&String> for Login {
    fn from(user: &String) -> Self {
        Self::new(user.as_str())
    }
}

/// The timeouts of one session: idle, absolute, and whether its cookie outlives the browser
/// session (a persistent cookie gets `Max-Age` up to the absolute deadline, never past it).
///
/// Timeouts are kept within [`MIN`](Self::MIN) and [`MAX`](Self::MAX): a policy never makes
/// a request panic, and a zero timeout would end the session before its first use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    idle: Duration,
    absolute: Duration,
    persistent: bool,
}

impl Timeouts {
    /// The shortest timeout kept; shorter ones are raised to it.
    pub const MIN: Duration = Duration::from_secs(1);

    /// The longest timeout kept, 100 years (36,500 days); longer ones are lowered to it. It is
    /// also the layer's [`SessionConfig::MAX_TIMEOUT`](crate::SessionConfig::MAX_TIMEOUT).
    pub const MAX: Duration = Duration::from_secs(36_500 * 24 * 3600);

    /// `idle` and `absolute` timeouts, with a cookie that ends with the browser session.
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        let keep = |t: Duration| t.clamp(Self::MIN, Self::MAX);
        Self {
            idle: keep(idle),
            absolute: keep(absolute),
            persistent: false,
        }
    }

    /// Whether the cookie outlives the browser session.
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute lifetime, counted from login.
    pub fn absolute(&self) -> Duration {
        self.absolute
    }

    /// Whether the cookie outlives the browser session.
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// The layer's own timeouts.
    /// The layer's own timeouts, kept as set: its builder bounds them already, and tests may
    /// set them under [`MIN`](Self::MIN).
    pub(crate) fn of_layer(idle: Duration, absolute: Duration, persistent: bool) -> Self {
        Self {
            idle,
            absolute,
            persistent,
        }
    }

    /// What a store keeps of these timeouts (the absolute one becomes the deadline).
    pub(crate) fn terms(&self) -> SessionTerms {
        SessionTerms {
            idle_timeout: self.idle,
            persistent: self.persistent,
        }
    }
}

impl fmt::Debug for Timeouts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeouts")
            .field("idle", &self.idle)
            .field("absolute", &self.absolute)
            .field("persistent", &self.persistent)
            .finish()
    }
}

/// Picks a session's timeouts at login, set with
/// [`SessionLayer::timeout_policy`](crate::SessionLayer::timeout_policy).
///
/// It gets the [`Login`] and the layer's own timeouts, and returns the session's. The choice is
/// stored with the session, so every instance sharing the store applies the same deadlines and
/// renews it with the same idle timeout; a session on the layer's own timeouts stores nothing
/// extra and follows later changes of the layer's settings. A closure
/// `Fn(&Login, Timeouts) -> Timeouts` is a policy.
///
/// ```
/// use std::time::Duration;
/// use sessionward::{store::MemoryStore, Login, SessionLayer, Timeouts};
///
/// let layer = SessionLayer::new(MemoryStore::default()).timeout_policy(
///     |login: &Login, layer: Timeouts| {
///         if login.has_role("admin") {
///             Timeouts::new(Duration::from_secs(15 * 60), Duration::from_secs(3600))
///         } else if login.remembers_me() {
///             let week = Duration::from_secs(7 * 24 * 3600);
///             Timeouts::new(week, week).persistent(true)
///         } else {
///             layer
///         }
///     },
/// );
/// ```
pub trait TimeoutPolicy: Send + Sync + 'static {
    /// The timeouts of the session `login` starts; `layer` holds the layer's own.
    fn timeouts(&self, login: &Login, layer: Timeouts) -> Timeouts;
}

impl<F> TimeoutPolicy for F
where
    F: Fn(&Login, Timeouts) -> Timeouts + Send + Sync + 'static,
{
    fn timeouts(&self, login: &Login, layer: Timeouts) -> Timeouts {
        self(login, layer)
    }
}

/// The policy a layer holds (a handle, so the configuration stays `Clone` and `Debug`).
#[derive(Clone)]
pub(crate) struct PolicyHandle(pub(crate) std::sync::Arc<dyn TimeoutPolicy>);

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TimeoutPolicy")
    }
}

/// The timeouts the session `login` starts gets from `policy` (without one, the `layer`'s own),
/// and what the store keeps of them: nothing for a session on the layer's own timeouts that had
/// no terms of its own before (it then follows later changes of the layer's settings).
pub(crate) fn choose(
    layer: Timeouts,
    policy: Option<&PolicyHandle>,
    login: &Login,
    had_terms: bool,
) -> (Timeouts, Option<SessionTerms>) {
    let timeouts = match policy {
        Some(PolicyHandle(policy)) => policy.timeouts(login, layer),
        None => default_timeouts(login, layer),
    };
    let terms = (had_terms || timeouts != layer).then(|| timeouts.terms());
    (timeouts, terms)
}

/// The policy without one set: the layer's timeouts, with a persistent cookie when the user
/// asked to be remembered.
fn default_timeouts(login: &Login, layer: Timeouts) -> Timeouts {
    layer.persistent(layer.persistent || login.remember_me)
}
