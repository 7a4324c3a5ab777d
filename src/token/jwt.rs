//! Issuing and verifying a session's JWT access tokens, with the checks of RFC 8725.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::denylist::Denylist;
use super::jwt_claims::{AccessClaims, Audience, CheckedClaims, IssuedToken, PresentedClaims};
use super::jwt_error::{InvalidToken, IssueError};
use super::key_ring::KeyRing;
use super::verified_tokens::VerifiedTokens;
use super::{generate_id, SessionId};

/// Longest token accepted (and issued): 8 KiB, checked before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The largest clock leeway [`AccessTokens::leeway`] accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);

/// Default access token lifetime: short, as the session behind it can be ended at any time.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Default clock leeway.
const DEFAULT_LEEWAY: Duration = Duration::from_secs(10);

/// Default [`AccessTokens::refresh_race_window`]: one client's concurrent requests reach the
/// server within milliseconds of each other; a thief's replay rarely does.
const DEFAULT_REFRESH_RACE_WINDOW: Duration = Duration::from_secs(2);

/// The longest [`AccessTokens::refresh_race_window`] accepted.
const MAX_REFRESH_RACE_WINDOW: Duration = Duration::from_secs(60);

/// The `typ` header of issued tokens when the application sets none (RFC 7519 §5.1).
const DEFAULT_TYPE: &str = "JWT";

/// The `typ` header of a session cookie's JWT (see
/// [`SessionLayer::jwt_cookies`](crate::SessionLayer::jwt_cookies)); never accepted as an
/// access token, and an access token is never accepted as a cookie.
pub(super) const COOKIE_TYPE: &str = "session+jwt";

/// JWT access tokens for sessions: issues them with the ring's current key and verifies them
/// strictly (RFC 8725).
///
/// A token carries `iss` (when configured), `sub` (the user), `aud` (when configured), `exp`,
/// `iat`, `nbf`, `jti` (128 random bits) and `sid` (the session's public [`SessionId`]); its
/// header carries `alg`, `typ` and the signing key's `kid`.
///
/// [`verify`](Self::verify) refuses, each with its own [`InvalidToken`]:
///
/// * a token over 8 KiB, before parsing anything (`too_large`);
/// * anything that is not three base64url parts of JSON (`malformed`);
/// * `alg: none` (`alg_none`), and any `crit` header (`unsupported_critical`);
/// * a `kid` the ring does not list (`unknown_kid`). The key comes from the ring only: `jku`,
///   `x5u`, `jwk` and `x5c` headers are never read, so a token cannot bring its own key;
/// * an `alg` other than the algorithm of the key its `kid` names (`alg_mismatch`): the
///   algorithm is the key's, never the header's, so an RSA public key is never used as an
///   HMAC secret;
/// * a signature that does not verify (`bad_signature`);
/// * a `typ` other than the one set with [`token_type`](Self::token_type), or the type of a
///   session cookie's JWT, `session+jwt`, at any setting (`wrong_type`);
/// * claims that are not the expected JSON (`malformed`) or lack one (`missing_claim`);
/// * `exp` passed (`expired`), `iat` ahead (`issued_in_future`) or `nbf` ahead
///   (`not_yet_valid`), each by more than the leeway;
/// * an `iss` or `aud` other than the configured one (`wrong_issuer`, `wrong_audience`).
///
/// Time is a parameter (`now`) of [`issue`](Self::issue) and [`verify`](Self::verify), so
/// the caller decides the clock.
///
/// In a [`SessionLayer`](crate::SessionLayer), a valid token's session is read from the store
/// on every request that uses it ([stateful](super::BearerMode::Stateful), the default), or
/// known from the claims alone, with a denylist of the sessions this instance ended
/// ([`stateless`](Self::stateless)).
///
/// # Crypto backend
///
/// Signatures are made and checked by `jsonwebtoken`'s RustCrypto backend (its
/// `rust_crypto` feature), the only one this crate enables. RustCrypto is pure Rust, so the
/// build needs no C compiler and links no native code (the `aws_lc_rs` backend compiles
/// AWS-LC from C and assembly sources), which suits a library that should not impose a
/// toolchain on the apps that use it.
///
/// Another crate in the same build may enable `jsonwebtoken`'s `aws_lc_rs` feature too. Then
/// `jsonwebtoken`'s own `encode` and `decode` would panic unless the application installed a
/// process-wide provider. This crate never goes through that process-wide default: it calls
/// the RustCrypto provider directly, so it keeps working, keeps using RustCrypto, and never
/// installs a default behind the application's back (which would make the application's own
/// `CryptoProvider::install_default` fail).
///
/// RS256 signatures come from the `rsa` crate 0.10, whose constant-time arithmetic closed the
/// Marvin timing attack (RUSTSEC-2023-0071) of earlier versions; EdDSA and ES256 keys are
/// still smaller and faster, and the better choice for new deployments.
///
/// ```
/// # #[cfg(feature = "jwt")] {
/// use std::time::{Duration, SystemTime};
/// use sessionward::token::{AccessTokens, InvalidToken, KeyRing};
/// use sessionward::SessionId;
///
/// let ring = KeyRing::from_secret("a secret of at least 32 bytes, shared by all instances")?;
/// let tokens = AccessTokens::new(ring).issuer("https://auth.example").audience("api");
///
/// let now = SystemTime::now();
/// let session = SessionId([7; 16]);
/// let issued = tokens.issue("alice", session, now)?;
/// let claims = tokens.verify(&issued.token, now)?;
/// assert_eq!((claims.sub.as_str(), claims.sid), ("alice", session));
///
/// let later = now + Duration::from_secs(3600);
/// assert_eq!(tokens.verify(&issued.token, later).unwrap_err().reason(), "expired");
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AccessTokens {
    ring: KeyRing,
    pub(super) issuer: Option<String>,
    pub(super) audience: Option<String>,
    token_type: Option<String>,
    pub(super) lifetime: Duration,
    pub(super) leeway: Duration,
    refresh_race_window: Duration,
    /// The sessions this instance ended, in the stateless mode (`None`: stateful).
    pub(super) denylist: Option<Arc<Denylist>>,
}

/// The header of an issued token.
#[derive(Serialize)]
struct IssuedHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The header fields a presented token is checked against. Every other field (`jku`, `x5u`,
/// `jwk`, `x5c`, …) is skipped unread.
#[derive(Deserialize)]
struct PresentedHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    crit: Option<serde::de::IgnoredAny>,
}

impl AccessTokens {
    /// Tokens signed with `ring`'s current key, valid for 5 minutes, checked with a 10 s
    /// clock leeway, with no issuer, audience or type required, in the
    /// [stateful](super::BearerMode::Stateful) mode.
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring,
            issuer: None,
            audience: None,
            token_type: None,
            lifetime: DEFAULT_LIFETIME,
            leeway: DEFAULT_LEEWAY,
            refresh_race_window: DEFAULT_REFRESH_RACE_WINDOW,
            denylist: None,
        }
    }

    /// Sets `iss` on issued tokens and requires it on presented ones.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets `aud` on issued tokens and requires presented ones to name it.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the `typ` header of issued tokens (for example `at+jwt`, RFC 9068) and requires it
    /// on presented ones, compared as a media type: case-insensitively, with or without
    /// `application/`. Without it, tokens carry `typ: JWT` and `typ` is not checked.
    pub fn token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = Some(token_type.into());
        self
    }

    /// How long an issued token is valid (5 minutes by default; at least 1 second).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// How far the clocks of the issuer and the verifier may disagree: `exp` is honoured up to
    /// `leeway` after it, `nbf` and `iat` up to `leeway` before them. 10 s by default; values
    /// above [`MAX_LEEWAY`] (30 s) are lowered to it. Whole seconds count.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(MAX_LEEWAY);
        self
    }

    /// How long after a refresh token was used a second presentation of it is taken for a
    /// race of one client's own requests rather than for theft: 2 s by default, at most 60 s.
    ///
    /// Within the window the second refresh is refused with
    /// [`RefreshRefused::Race`](crate::RefreshRefused::Race) (409) and the session is left
    /// alone: the request that won the race holds the new pair. After it, the second
    /// presentation is reuse: the session is revoked
    /// ([`RefreshRefused::Reused`](crate::RefreshRefused::Reused)). Only the token used last
    /// gets the window; an older one is reuse at once. `Duration::ZERO` treats every second
    /// presentation as reuse.
    pub fn refresh_race_window(mut self, window: Duration) -> Self {
        self.refresh_race_window = window.min(MAX_REFRESH_RACE_WINDOW);
        self
    }

    /// See [`refresh_race_window`](Self::refresh_race_window).
    pub(crate) fn race_window(&self) -> Duration {
        self.refresh_race_window
    }

    /// Replaces the key ring, for example after a rotation.
    pub fn with_key_ring(mut self, ring: KeyRing) -> Self {
        self.ring = ring;
        self
    }

    /// The key ring tokens are signed and verified with.
    pub fn key_ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Issues a token for `subject`'s session `session`, valid from `now` for the lifetime,
    /// signed with the ring's current key.
    ///
    /// # Errors
    /// [`IssueError::TooLarge`] if the token would exceed 8 KiB.
    pub fn issue(
        &self,
        subject: &str,
        session: SessionId,
        now: SystemTime,
    ) -> Result<IssuedToken, IssueError> {
        let now = unix_seconds(now);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: self.audience.iter().cloned().collect(),
            exp: now.saturating_add(self.lifetime.as_secs()),
            iat: now,
            nbf: now,
            jti: generate_id().to_string(),
            sid: session,
        };
        let token = self.sign(&claims, self.token_type.as_deref().unwrap_or(DEFAULT_TYPE))?;
        Ok(IssuedToken::new(token, claims))
    }

    /// Verifies a presented token at time `now` and returns its claims.
    ///
    /// # Errors
    /// The first check the token fails, as an [`InvalidToken`]; see [`AccessTokens`] for the
    /// checks and their order.
    pub fn verify(
        &self,
        token: impl AsRef<[u8]>,
        now: SystemTime,
    ) -> Result<AccessClaims, InvalidToken> {
        let payload = self.access_payload(token.as_ref())?;
        Ok(self.checked_claims(&payload, now)?.into_owned())
    }

    /// [`verify`](Self::verify), handing the subject and the session id to `with` without
    /// copying any claim: a request needs no more of them. A token `verified` remembers is
    /// not verified again; only its times are checked (see [`VerifiedTokens`]).
    pub(crate) fn verify_with<R>(
        &self,
        verified: &VerifiedTokens,
        token: &[u8],
        now: SystemTime,
        with: impl FnOnce(&str, SessionId) -> R,
    ) -> Result<R, InvalidToken> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken::TooLarge);
        }
        if let Some(known) = verified.get(token) {
            self.check_times(known.times, unix_seconds(now))?;
            return Ok(with(&known.sub, known.sid));
        }
        let payload = self.access_payload(token)?;
        let claims = self.checked_claims(&payload, now)?;
        verified.remember(token, &claims.sub, claims.sid, claims.times());
        Ok(with(&claims.sub, claims.sid))
    }

    /// The decoded payload of an access token whose signature and type passed.
    fn access_payload(&self, token: &[u8]) -> Result<Vec<u8>, InvalidToken> {
        self.signed_payload(token, |typ| {
            // A session cookie's JWT is no access token, whatever type the app requires.
            if typ.is_some_and(|typ| same_media_type(typ, COOKIE_TYPE)) {
                return false;
            }
            match (&self.token_type, typ) {
                (None, _) => true,
                (Some(expected), Some(typ)) => same_media_type(typ, expected),
                (Some(_), None) => false,
            }
        })
    }

    /// The claims of a verified payload, once present, well-formed and valid at `now`.
    fn checked_claims<'p>(
        &self,
        payload: &'p [u8],
        now: SystemTime,
    ) -> Result<CheckedClaims<'p>, InvalidToken> {
        let claims = from_json::<PresentedClaims<'p>>(payload)?.checked()?;
        let aud = Audience::slice(&claims.aud);
        self.check_claims(
            claims.times(),
            claims.iss.as_deref(),
            aud,
            unix_seconds(now),
        )?;
        Ok(claims)
    }

    /// Signs `claims` with the ring's current key, under a header of type `typ`.
    pub(super) fn sign<C: Serialize>(&self, claims: &C, typ: &str) -> Result<String, IssueError> {
        let key = self.ring.current();
        let header = IssuedHeader {
            alg: key.algorithm().name(),
            typ,
            kid: key.kid(),
        };
        let mut token = encode_json(&header);
        token.push('.');
        token.push_str(&encode_json(claims));
        if token.len() > MAX_TOKEN_LEN {
            return Err(IssueError::TooLarge);
        }
        let signature = key.sign(token.as_bytes()).ok_or(IssueError::Signing)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        if token.len() > MAX_TOKEN_LEN {
            return Err(IssueError::TooLarge);
        }
        Ok(token)
    }

    /// The decoded payload of `token`, once its size, shape, header and signature have passed
    /// (the checks of [`AccessTokens`] up to the signature) and `typ_ok` accepted the header's
    /// `typ` (else [`InvalidToken::WrongType`]).
    pub(super) fn signed_payload(
        &self,
        token: &[u8],
        typ_ok: impl FnOnce(Option<&str>) -> bool,
    ) -> Result<Vec<u8>, InvalidToken> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken::TooLarge);
        }
        let mut parts = token.split(|&b| b == b'.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidToken::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| InvalidToken::Malformed)?;
        let presented: PresentedHeader<'_> =
            serde_json::from_slice(&header_json).map_err(|_| InvalidToken::Malformed)?;
        if presented.alg.eq_ignore_ascii_case("none") {
            return Err(InvalidToken::AlgNone);
        }
        if presented.crit.is_some() {
            return Err(InvalidToken::UnsupportedCritical);
        }
        let key = presented
            .kid
            .as_deref()
            .and_then(|kid| self.ring.find(kid))
            .ok_or(InvalidToken::UnknownKid)?;
        if presented.alg != key.algorithm().name() {
            return Err(InvalidToken::AlgMismatch);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| InvalidToken::Malformed)?;
        let signed = &token[..header.len() + 1 + payload.len()];
        if !key.verifies(signed, &signature) {
            return Err(InvalidToken::BadSignature);
        }
        if !typ_ok(presented.typ.as_deref()) {
            return Err(InvalidToken::WrongType);
        }
        URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| InvalidToken::Malformed)
    }

    /// Checks the times (`exp` only when given), the issuer and the audience of verified
    /// claims at `now`.
    pub(super) fn check_claims(
        &self,
        times: ClaimTimes,
        iss: Option<&str>,
        aud: &[Cow<'_, str>],
        now: u64,
    ) -> Result<(), InvalidToken> {
        self.check_times(times, now)?;
        if let Some(issuer) = &self.issuer {
            match iss {
                None => return Err(InvalidToken::MissingClaim("iss")),
                Some(iss) if iss != issuer.as_str() => return Err(InvalidToken::WrongIssuer),
                Some(_) => {}
            }
        }
        if let Some(audience) = &self.audience {
            if aud.is_empty() {
                return Err(InvalidToken::MissingClaim("aud"));
            }
            if !aud.iter().any(|a| a == audience.as_str()) {
                return Err(InvalidToken::WrongAudience);
            }
        }
        Ok(())
    }

    /// Checks `exp` (only when given), `iat` and `nbf` at `now` (Unix seconds), with the
    /// leeway.
    pub(super) fn check_times(&self, times: ClaimTimes, now: u64) -> Result<(), InvalidToken> {
        let leeway = self.leeway.as_secs();
        if times
            .exp
            .is_some_and(|exp| now > exp.saturating_add(leeway))
        {
            return Err(InvalidToken::Expired);
        }
        if times.iat > now.saturating_add(leeway) {
            return Err(InvalidToken::IssuedInFuture);
        }
        if times.nbf > now.saturating_add(leeway) {
            return Err(InvalidToken::NotYetValid);
        }
        Ok(())
    }
}

/// The times a token's claims are checked by; `exp: None` leaves expiry to the caller.
#[derive(Clone, Copy)]
pub(super) struct ClaimTimes {
    pub(super) exp: Option<u64>,
    pub(super) iat: u64,
    pub(super) nbf: u64,
}

/// Seconds since the Unix epoch; a time before it counts as the epoch.
pub(super) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn encode_json<T: Serialize>(value: &T) -> String {
    // Serializing these structs (strings and integers) cannot fail.
    let json = serde_json::to_vec(value).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Reads decoded JSON; anything unexpected makes the token malformed.
pub(super) fn from_json<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, InvalidToken> {
    serde_json::from_slice(json).map_err(|_| InvalidToken::Malformed)
}

/// Media types compare case-insensitively, and `typ` may omit `application/` (RFC 7515
/// §4.1.9).
pub(super) fn same_media_type(a: &str, b: &str) -> bool {
    fn short(typ: &str) -> &str {
        match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        }
    }
    short(a).eq_ignore_ascii_case(short(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_like_rfc_7515_says() {
        assert!(same_media_type("at+jwt", "at+jwt"));
        assert!(same_media_type("AT+JWT", "application/at+jwt"));
        assert!(same_media_type("Application/at+jwt", "at+jwt"));
        assert!(!same_media_type("jwt", "at+jwt"));
        assert!(!same_media_type("application/", "at+jwt"));
        assert!(!same_media_type("é", "at+jwt"));
    }

    #[test]
    fn times_before_the_epoch_count_as_the_epoch() {
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(2_999)), 2);
    }

    #[test]
    fn leeway_is_capped_and_lifetime_is_at_least_a_second() {
        let ring = KeyRing::from_secret([3u8; 32]).unwrap();
        let tokens = AccessTokens::new(ring)
            .leeway(Duration::from_secs(3600))
            .lifetime(Duration::ZERO);
        assert_eq!(tokens.leeway, MAX_LEEWAY);
        assert_eq!(tokens.lifetime, Duration::from_secs(1));
    }
}
