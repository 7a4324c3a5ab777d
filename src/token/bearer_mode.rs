//! Choosing how the layer checks a valid JWT access token: by reading its session from the
//! store on every request (stateful), or by its claims alone, with a denylist of the sessions
//! this instance ended (stateless).

use std::sync::Arc;
use std::time::SystemTime;

use super::denylist::{Denylist, Verdict};
use super::jwt::unix_seconds;
use super::{AccessTokens, SessionId};

/// How a [`SessionLayer`](crate::SessionLayer) checks the session of a valid access token;
/// chosen with [`AccessTokens::stateless`] and [`AccessTokens::stateful`], read with
/// [`AccessTokens::mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerMode {
    /// Every request that uses the session reads it from the store by `sid` (one read): a
    /// logout, a revocation, an eviction or the session's expiry refuses every token of the
    /// session at once, on every instance sharing the store. The default.
    Stateful,
    /// The token's claims are the identity, with no store read; only the session's data and
    /// the calls that act on it read it. A session this instance ended is refused at once
    /// here; on other instances its tokens stay valid until they expire. See
    /// [`AccessTokens::stateless`].
    Stateless {
        /// The most sessions the denylist holds.
        denylist_capacity: usize,
    },
}

impl AccessTokens {
    /// Makes the layer's access tokens stateless: a request with a valid token costs no store
    /// read to authenticate, and a revoked token stops working at the latest when it expires.
    ///
    /// * [`Authenticated`](crate::Authenticated), [`Session::user`](crate::Session::user) and
    ///   [`Session::id`](crate::Session::id) answer from the claims (`sub`, `sid`) alone,
    ///   without reading the store.
    /// * Everything else reads the session, once per request, by `sid`, and checks it as the
    ///   stateful mode does (it exists, it is active, its user is `sub`): its data (`get`,
    ///   `insert`, `remove`, `record`, `created_at`, `expires_at`), and what acts on sessions
    ///   (`logout`, `login`, `rotate`, `list_mine`, `revoke*`, and
    ///   [`issue_access_token`](crate::Session::issue_access_token), so a token of an ended
    ///   session cannot be swapped for a fresh one). A session ended meanwhile then reads as
    ///   none. Only a request that reads the session renews its idle deadline.
    /// * When this instance ends a session (a `logout` through any of its credentials,
    ///   `revoke`, `revoke_others`, `revoke_all`, an eviction at login), its public id goes
    ///   into this instance's denylist, so every token of that session is refused here at once
    ///   (reason `revoked` in the audit trail), before the call returns. The entry is kept
    ///   until every token the session can hold has expired: the lifetime after the
    ///   revocation, plus twice the leeway (the verifier's, and an issuing clock running
    ///   ahead), plus a second for whole-second `exp`; then it is purged, lazily.
    /// * Another instance, and anything that ends sessions in the store directly (the admin
    ///   and remote routes, the session's own expiry, another process), does not reach this
    ///   denylist: there a token stays valid until its `exp`, at most the
    ///   [lifetime](Self::lifetime) plus the [leeway](Self::leeway) after it was issued.
    ///
    /// The denylist holds at most `denylist_capacity` sessions (roughly 100 bytes each). Full,
    /// it forgets no revocation: a session it cannot list makes this instance read every
    /// token's session from the store (as the stateful mode does) until that session's tokens
    /// have expired, and a warning is logged when that begins. Choose a capacity above the
    /// sessions ended per token lifetime: 10 000 take about a megabyte.
    ///
    /// Clones of these `AccessTokens` share one denylist, as one instance's layers should;
    /// each instance calls `stateless` for its own. Instances must agree on the lifetime and
    /// the leeway.
    ///
    /// ```
    /// # #[cfg(feature = "jwt")] {
    /// use std::time::Duration;
    /// use sessionward::token::{AccessTokens, BearerMode, KeyRing};
    /// use sessionward::{store::MemoryStore, SessionLayer};
    ///
    /// let ring = KeyRing::from_secret("a secret of at least 32 bytes, shared by all instances")?;
    /// let tokens = AccessTokens::new(ring)
    ///     .lifetime(Duration::from_secs(120))
    ///     .stateless(10_000);
    /// assert_eq!(tokens.mode(), BearerMode::Stateless { denylist_capacity: 10_000 });
    /// let layer = SessionLayer::new(MemoryStore::default()).access_tokens(tokens);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stateless(mut self, denylist_capacity: usize) -> Self {
        self.denylist = Some(Arc::new(Denylist::new(denylist_capacity)));
        self
    }

    /// Makes the layer's access tokens stateful, the default: every request that uses the
    /// session reads it from the store, so ending a session refuses its tokens at once on
    /// every instance. Drops the denylist of [`stateless`](Self::stateless).
    pub fn stateful(mut self) -> Self {
        self.denylist = None;
        self
    }

    /// The mode in force.
    pub fn mode(&self) -> BearerMode {
        match &self.denylist {
            None => BearerMode::Stateful,
            Some(list) => BearerMode::Stateless {
                denylist_capacity: list.capacity(),
            },
        }
    }

    /// Refuses every access token of session `id`, ended at `now`, on this instance until
    /// they have all expired (the stateless mode; in the stateful mode the store says so, and
    /// this does nothing). For whatever ends a session through this instance.
    pub(crate) fn deny_session(&self, id: SessionId, now: SystemTime) {
        let Some(list) = &self.denylist else {
            return;
        };
        let now = unix_seconds(now);
        // A token issued up to `now` (by a clock up to the leeway ahead) has `exp` at most
        // `now + lifetime + leeway`, and is accepted up to the leeway after that second.
        let leeway = self.leeway.as_secs();
        let until = now
            .saturating_add(self.lifetime.as_secs())
            .saturating_add(leeway.saturating_mul(2))
            .saturating_add(1);
        if list.deny(id, until, now) {
            tracing::warn!(
                capacity = list.capacity(),
                "sessionward: the stateless bearer denylist is full; every access token's \
                 session is read from the store until the unlisted revocations expire"
            );
        }
    }

    /// Whether a valid token of session `id` can be trusted at `now` without the store.
    pub(crate) fn verdict(&self, id: &SessionId, now: SystemTime) -> Verdict {
        match &self.denylist {
            None => Verdict::AskStore,
            Some(list) => list.check(id, unix_seconds(now)),
        }
    }

    /// Whether ended sessions are to be denied by this instance.
    pub(crate) fn is_stateless(&self) -> bool {
        self.denylist.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::token::KeyRing;

    fn tokens() -> AccessTokens {
        AccessTokens::new(KeyRing::from_secret([5u8; 32]).unwrap())
            .lifetime(Duration::from_secs(60))
            .leeway(Duration::from_secs(5))
    }

    #[test]
    fn the_mode_is_stateful_unless_chosen() {
        assert_eq!(tokens().mode(), BearerMode::Stateful);
        let stateless = tokens().stateless(8);
        assert_eq!(
            stateless.mode(),
            BearerMode::Stateless {
                denylist_capacity: 8
            }
        );
        assert_eq!(stateless.stateful().mode(), BearerMode::Stateful);
    }

    #[test]
    fn a_denied_session_stays_denied_until_every_token_of_it_expired() {
        let tokens = tokens().stateless(8);
        let id = SessionId([4; 16]);
        let at = |secs| UNIX_EPOCH + Duration::from_millis(secs);
        // Denied at 1000.9 s: a token issued then by a clock 5 s ahead expires at 1065 and is
        // accepted through second 1070.
        tokens.deny_session(id, at(1_000_900));
        assert_eq!(tokens.verdict(&id, at(1_070_999)), Verdict::Denied);
        assert_eq!(tokens.verdict(&id, at(1_071_000)), Verdict::Allowed);
        let other = SessionId([6; 16]);
        assert_eq!(tokens.verdict(&other, at(1_000_900)), Verdict::Allowed);
    }

    #[test]
    fn the_stateful_mode_asks_the_store_and_denies_nothing() {
        let tokens = tokens();
        let id = SessionId([4; 16]);
        tokens.deny_session(id, SystemTime::now());
        assert_eq!(tokens.verdict(&id, SystemTime::now()), Verdict::AskStore);
    }

    #[test]
    fn clones_share_the_denylist() {
        let tokens = tokens().stateless(8);
        let clone = tokens.clone();
        let id = SessionId([4; 16]);
        tokens.deny_session(id, SystemTime::now());
        assert_eq!(clone.verdict(&id, SystemTime::now()), Verdict::Denied);
        let own = tokens.clone().stateless(8);
        assert_eq!(own.verdict(&id, SystemTime::now()), Verdict::Allowed);
    }
}
