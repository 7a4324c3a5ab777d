//! The signed-in state a bearer client shares between its requests.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::{ClientError, TokenPair};

/// When to refresh an access token before it expires.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum RefreshMargin {
    /// This long before `exp` (30 seconds by default). A margin longer than the token's
    /// lifetime refreshes before every request.
    Before(Duration),
    /// Once less than this fraction of the token's lifetime (as it was when the token arrived)
    /// remains: `0.2` refreshes a 10-minute token after 8 minutes.
    Fraction(f64),
}

impl Default for RefreshMargin {
    fn default() -> Self {
        Self::Before(Duration::from_secs(30))
    }
}

/// The tokens of one signed-in user, shared by every clone of a
/// [`BearerService`](super::BearerService) (put it in an [`Arc`]).
///
/// It holds at most one [`TokenPair`]; a refresh replaces it for every request at once. It is
/// `Send + Sync`: share it between tasks freely.
#[derive(Debug, Default)]
pub struct ClientSession {
    state: RwLock<State>,
    /// Held during a refresh, so concurrent requests wait for one refresh instead of each
    /// spending the (single-use) refresh token.
    pub(crate) refreshing: Arc<tokio::sync::Mutex<()>>,
    margin: RefreshMargin,
}

#[derive(Debug, Default)]
struct State {
    pair: Option<Arc<TokenPair>>,
    /// Bumped on every change, so a request waiting for a refresh can tell whether another
    /// request refreshed meanwhile.
    generation: u64,
    /// The server refused a refresh: `SessionExpired` until the next sign-in.
    expired: bool,
}

/// The pair a request uses, and which version of the state it came from.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) pair: Arc<TokenPair>,
    pub(crate) generation: u64,
}

impl ClientSession {
    /// A session with no tokens yet: requests fail with [`ClientError::NotLoggedIn`] until
    /// [`set_tokens`](Self::set_tokens) or [`login`](Self::login).
    pub fn new() -> Self {
        Self::default()
    }

    /// A session holding `pair` (from an earlier login, kept by the app).
    pub fn with_tokens(pair: TokenPair) -> Self {
        let session = Self::new();
        session.set_tokens(pair);
        session
    }

    /// Refreshes at `margin` before expiry instead of 30 seconds.
    pub fn refresh_margin(mut self, margin: RefreshMargin) -> Self {
        self.margin = margin;
        self
    }

    /// Holds `pair` from now on (after a sign-in).
    pub fn set_tokens(&self, pair: TokenPair) {
        self.update_if(None, Some(Arc::new(pair)), false);
    }

    /// Forgets the tokens: requests fail with [`ClientError::NotLoggedIn`].
    pub fn sign_out(&self) {
        self.update_if(None, None, false);
    }

    /// The current pair, for example to keep it across restarts.
    pub fn tokens(&self) -> Option<TokenPair> {
        self.read(|state| state.pair.as_deref().cloned())
    }

    pub(crate) fn current<E>(&self) -> Result<Current, ClientError<E>> {
        self.read(|state| match (&state.pair, state.expired) {
            (Some(pair), _) => Ok(Current {
                pair: pair.clone(),
                generation: state.generation,
            }),
            (None, true) => Err(ClientError::SessionExpired),
            (None, false) => Err(ClientError::NotLoggedIn),
        })
    }

    /// Stores a refreshed pair, unless the app signed out or in again since the refresh
    /// began (`seen`): its choice wins.
    pub(crate) fn refreshed<E>(
        &self,
        seen: u64,
        pair: TokenPair,
    ) -> Result<Current, ClientError<E>> {
        let pair = Arc::new(pair);
        match self.update_if(seen, Some(pair.clone()), false) {
            Some(generation) => Ok(Current { pair, generation }),
            None => self.current(),
        }
    }

    /// The server refused the refresh token: the session is over (unless the app signed in
    /// again meanwhile).
    pub(crate) fn expire(&self, seen: u64) {
        self.update_if(seen, None, true);
    }

    /// Whether `pair` is within the margin of its expiry (or past it).
    pub(crate) fn needs_refresh(&self, pair: &TokenPair) -> bool {
        let Some(expires_at) = pair.expires_at() else {
            return false; // no expiry known: only a 401 triggers a refresh
        };
        let margin = match self.margin {
            RefreshMargin::Before(margin) => margin,
            RefreshMargin::Fraction(fraction) => pair
                .lifetime()
                .and_then(|lifetime| {
                    Duration::try_from_secs_f64(lifetime.as_secs_f64() * fraction.clamp(0.0, 1.0))
                        .ok()
                })
                .unwrap_or_default(),
        };
        match expires_at.checked_sub(margin) {
            Some(refresh_at) => SystemTime::now() >= refresh_at,
            None => true,
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        // No code panics while holding the lock, so a poisoned one is still consistent.
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the state if it is still at generation `seen` (or whatever it is, for `None`);
    /// returns the new generation.
    fn update_if(
        &self,
        seen: impl Into<Option<u64>>,
        pair: Option<Arc<TokenPair>>,
        expired: bool,
    ) -> Option<u64> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if seen.into().is_some_and(|seen| seen != state.generation) {
            return None;
        }
        state.pair = pair;
        state.expired = expired;
        state.generation += 1;
        Some(state.generation)
    }
}
