//! The access tokens a layer has verified, remembered so that a repeat costs no verification.
//!
//! Whether a token's size, header, signature and claims pass (everything but its times) depends
//! on nothing but its text and the layer's `AccessTokens`, which never change once the layer is
//! built. A client sends the same access token on every request until it nears expiry, so the
//! layer remembers the tokens that passed: a repeat then costs a lookup and a byte-for-byte
//! comparison of the whole token instead of decoding it, parsing its header and claims and
//! checking its signature (about 1 µs). What a request is told does not change: the token's
//! times (`exp`, `nbf`, `iat`) are checked on every request, and so are the denylist of the
//! stateless mode and the session of the stateful one.
//!
//! Only tokens that passed are remembered, so junk cannot fill the table. It has a fixed number
//! of places, and a token goes to the place its last eight bytes pick (its signature, which
//! nobody can choose without the key); a newcomer takes the place of whatever was there. Memory
//! stays bounded whatever is sent: at most one token (up to 8 KiB) and its subject per place.

use std::sync::{Arc, Mutex, MutexGuard};

use super::jwt::ClaimTimes;
use super::SessionId;

/// The default number of places: a token and its claims take about 300 bytes, so a full table
/// of tokens of the usual size holds about 300 KiB.
pub(crate) const DEFAULT_VERIFIED_PLACES: usize = 1024;

/// A fixed-size table of verified tokens, shared by every request of a layer.
pub(crate) struct VerifiedTokens {
    places: Box<[Mutex<Option<Arc<Verified>>>]>,
}

/// A token that passed every check but its times, and the claims a request needs.
pub(super) struct Verified {
    token: Box<[u8]>,
    pub(super) sub: String,
    pub(super) sid: SessionId,
    pub(super) times: ClaimTimes,
}

impl VerifiedTokens {
    /// A table of `places` tokens; `0` remembers none.
    pub(crate) fn new(places: usize) -> Self {
        Self {
            places: (0..places).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// The claims of `token`, if it is the very token remembered in its place.
    pub(super) fn get(&self, token: &[u8]) -> Option<Arc<Verified>> {
        let place = self.place(token)?;
        place.as_ref().filter(|v| *v.token == *token).cloned()
    }

    /// Remembers `token`, which has just passed every check but its times, with its claims.
    pub(super) fn remember(&self, token: &[u8], sub: &str, sid: SessionId, times: ClaimTimes) {
        if let Some(mut place) = self.place(token) {
            *place = Some(Arc::new(Verified {
                token: token.into(),
                sub: sub.to_owned(),
                sid,
                times,
            }));
        }
    }

    /// The place of `token`, locked; `None` when the table has no places.
    fn place(&self, token: &[u8]) -> Option<MutexGuard<'_, Option<Arc<Verified>>>> {
        if self.places.is_empty() {
            return None;
        }
        let mut tail = [0u8; 8];
        let last = &token[token.len().saturating_sub(8)..];
        tail[..last.len()].copy_from_slice(last);
        // Base64url text has 6 bits of choice per byte: mixed (Fibonacci hashing) so that
        // every bit of the tail counts, then scaled onto the table.
        let mixed = u64::from_le_bytes(tail).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let at = ((u128::from(mixed) * self.places.len() as u128) >> 64) as usize;
        // A panic while holding the lock cannot leave the place half-written.
        Some(self.places[at].lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many tokens are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.places
            .iter()
            .filter(|p| p.lock().unwrap_or_else(|e| e.into_inner()).is_some())
            .count()
    }
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokens are bearer credentials: only the size is shown.
        f.debug_struct("VerifiedTokens")
            .field("places", &self.places.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times() -> ClaimTimes {
        ClaimTimes {
            exp: Some(100),
            iat: 1,
            nbf: 1,
        }
    }

    #[test]
    fn only_the_very_same_token_is_found() {
        let table = VerifiedTokens::new(16);
        let token = b"header.payload.signature-AAAAAAAA";
        table.remember(token, "alice", SessionId([1; 16]), times());
        let hit = table.get(token).expect("remembered");
        assert_eq!((hit.sub.as_str(), hit.sid), ("alice", SessionId([1; 16])));
        // Same last bytes (same place), another payload: not this token.
        assert!(table.get(b"header.PAYLOAD.signature-AAAAAAAA").is_none());
        assert!(table.get(b"signature-AAAAAAAA").is_none());
        assert!(table.get(b"").is_none());
    }

    #[test]
    fn the_table_stays_bounded_and_a_newcomer_takes_the_place() {
        let table = VerifiedTokens::new(8);
        for i in 0..1000u32 {
            let token = format!("h.p.{i:08}");
            table.remember(token.as_bytes(), "u", SessionId([0; 16]), times());
            assert!(table.get(token.as_bytes()).is_some());
        }
        assert_eq!(table.len(), 8);
        assert!(table.get(b"h.p.00000000").is_none(), "evicted long ago");
    }

    /// The layer's path: `verify_with` on a table, answering the subject and session id.
    fn check(
        tokens: &crate::token::AccessTokens,
        table: &VerifiedTokens,
        token: &str,
        at: std::time::SystemTime,
    ) -> Result<(String, SessionId), crate::token::InvalidToken> {
        tokens.verify_with(table, token.as_bytes(), at, |sub, sid| {
            (sub.to_owned(), sid)
        })
    }

    #[test]
    fn a_remembered_token_still_expires_and_is_not_valid_before_its_time() {
        use crate::token::{AccessTokens, InvalidToken, KeyRing};
        use std::time::{Duration, SystemTime};

        let ring = KeyRing::from_secret([7u8; 32]).unwrap();
        let tokens = AccessTokens::new(ring).leeway(Duration::ZERO);
        let now = SystemTime::now();
        let sid = SessionId([3; 16]);
        let token = tokens.issue("alice", sid, now).unwrap().token;
        let table = VerifiedTokens::new(16);
        assert_eq!(
            check(&tokens, &table, &token, now),
            Ok(("alice".into(), sid))
        );
        assert_eq!(table.len(), 1, "remembered once verified");
        // Answered from the table, with the times checked at each use.
        assert_eq!(
            check(&tokens, &table, &token, now),
            Ok(("alice".into(), sid))
        );
        let expired = now + tokens.lifetime + Duration::from_secs(2);
        assert_eq!(
            check(&tokens, &table, &token, expired),
            Err(InvalidToken::Expired)
        );
        let before = now - Duration::from_secs(60);
        assert_eq!(
            check(&tokens, &table, &token, before),
            Err(InvalidToken::IssuedInFuture)
        );
    }

    #[test]
    fn a_token_that_differs_from_a_remembered_one_is_verified_in_full() {
        use crate::token::{AccessTokens, InvalidToken, KeyRing};
        use std::time::SystemTime;

        let tokens = AccessTokens::new(KeyRing::from_secret([7u8; 32]).unwrap());
        let now = SystemTime::now();
        let alice = tokens
            .issue("alice", SessionId([3; 16]), now)
            .unwrap()
            .token;
        let bob = tokens.issue("bob", SessionId([4; 16]), now).unwrap().token;
        let table = VerifiedTokens::new(16);
        assert!(check(&tokens, &table, &alice, now).is_ok());
        // Bob's claims under alice's signature: the same place in the table, another token.
        let (a, b): (Vec<&str>, Vec<&str>) = (alice.split('.').collect(), bob.split('.').collect());
        let forged = format!("{}.{}.{}", a[0], b[1], a[2]);
        assert_eq!(
            check(&tokens, &table, &forged, now),
            Err(InvalidToken::BadSignature)
        );
        // A refused token is never remembered; the verified one still is.
        assert_eq!(table.len(), 1);
        assert!(table.get(alice.as_bytes()).is_some());
        // Over the size limit: refused before the table is looked at.
        let huge = format!("{alice}{}", "A".repeat(9000));
        assert_eq!(
            check(&tokens, &table, &huge, now),
            Err(InvalidToken::TooLarge)
        );
    }

    #[test]
    fn no_places_remember_nothing() {
        let table = VerifiedTokens::new(0);
        table.remember(b"a.b.c", "u", SessionId([0; 16]), times());
        assert!(table.get(b"a.b.c").is_none());
        assert_eq!(table.len(), 0);
    }
}
