//! Session credentials and identifiers.
//!
//! A session has two names:
//!
//! * a [`SessionToken`], the secret the client presents (cookie or bearer). The server never
//!   stores it, only its [`TokenHash`], so a leaked store or log cannot be replayed;
//! * a [`SessionId`], a separate public identifier used in listings, admin views and revocation.
//!   Knowing it grants nothing.
//!
//! With the `jwt` feature, a session can also be named by short-lived signed JWT access
//! tokens (`AccessTokens`), signed and verified with the keys of a `KeyRing`, checked in a
//! stateful or a stateless `BearerMode`; a bearer client holds a `BearerTokens` pair: an access
//! token and a single-use `RefreshToken`.

#[cfg(feature = "jwt")]
mod bearer_mode;
#[cfg(feature = "jwt")]
mod bearer_tokens;
#[cfg(feature = "jwt")]
mod denylist;
#[cfg(feature = "jwt")]
mod jwt;
#[cfg(feature = "jwt")]
mod jwt_algorithm;
#[cfg(feature = "jwt")]
mod jwt_claims;
#[cfg(feature = "jwt")]
mod jwt_cookie;
#[cfg(feature = "jwt")]
mod jwt_error;
#[cfg(feature = "jwt")]
mod jwt_hmac;
#[cfg(feature = "jwt")]
mod jwt_key;
#[cfg(feature = "jwt")]
mod key_error;
#[cfg(feature = "jwt")]
mod key_ring;
mod opaque;
mod presented;
#[cfg(feature = "jwt")]
mod refresh;
#[cfg(feature = "jwt")]
mod verified_tokens;

pub(crate) use opaque::{generate, generate_id, generate_token};
pub(crate) use presented::Credential;
pub use presented::Presented;
#[cfg(feature = "jwt")]
pub(crate) use presented::PresentedJwt;

#[cfg(feature = "jwt")]
pub(crate) use denylist::Verdict;
#[cfg(feature = "jwt")]
pub(crate) use jwt_cookie::has_cookie_type;
#[cfg(feature = "jwt")]
pub(crate) use verified_tokens::{VerifiedTokens, DEFAULT_VERIFIED_PLACES};

pub use opaque::{SessionId, SessionToken, TokenHash};

#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use bearer_mode::BearerMode;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use bearer_tokens::BearerTokens;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt::{AccessTokens, MAX_LEEWAY, MAX_TOKEN_LEN};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt_algorithm::JwtAlgorithm;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt_claims::{AccessClaims, IssuedToken};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt_error::{InvalidToken, IssueError};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt_key::JwtKey;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use key_error::KeyError;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use key_ring::{KeyRing, DEFAULT_KID};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use refresh::RefreshToken;
