//! Session credentials and identifiers.
//!
//! A session has two names:
//!
//! * a [`SessionToken`], the secret the client presents (cookie or bearer). The server never
//!   stores it, only its [`TokenHash`], so a leaked store or log cannot be replayed;
//! * a [`SessionId`], a separate public identifier used in listings, admin views and revocation.
//!   Knowing it grants nothing.

mod opaque;
mod presented;

pub(crate) use opaque::{generate, generate_id, generate_token};
pub(crate) use presented::Credential;

pub use opaque::{SessionId, SessionToken, TokenHash};
