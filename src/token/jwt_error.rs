//! Why a JWT was refused (one variant and one stable reason string per refusal), and why one
//! could not be issued.

use std::fmt;

/// Why an access token was refused. Every refusal of a presented token is one of these, never
/// a panic or a server error; [`reason`](Self::reason) is a stable short string for the audit
/// trail (`invalid_token` events) and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Over 8 KiB: refused before any parsing.
    TooLarge,
    /// Not three base64url parts, a header or claims that are not the expected JSON, a claim
    /// of the wrong type, or a `sid` that is not a session id.
    Malformed,
    /// `alg: none`: an unsigned token.
    AlgNone,
    /// A `crit` header: this verifier understands no header extension, so it must refuse
    /// every token that requires one (RFC 7515 §4.1.11).
    UnsupportedCritical,
    /// No `kid`, or one the key ring does not list (never listed, or retired).
    UnknownKid,
    /// The header's `alg` is not the algorithm of the key its `kid` names.
    AlgMismatch,
    /// The signature does not verify with the key its `kid` names.
    BadSignature,
    /// The `typ` header is missing or not the type the application set.
    WrongType,
    /// A required claim is missing: `sub`, `exp`, `iat`, `nbf`, `jti`, `sid`, and `iss` or
    /// `aud` when one is configured.
    MissingClaim(&'static str),
    /// `exp` has passed, by more than the leeway.
    Expired,
    /// `nbf` is still ahead, by more than the leeway.
    NotYetValid,
    /// `iat` is in the future, by more than the leeway.
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not name the configured audience.
    WrongAudience,
}

impl InvalidToken {
    /// A stable short reason: `too_large`, `malformed`, `alg_none`, `unsupported_critical`,
    /// `unknown_kid`, `alg_mismatch`, `bad_signature`, `wrong_type`, `missing_claim`,
    /// `expired`, `not_yet_valid`, `issued_in_future`, `wrong_issuer` or `wrong_audience`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::AlgNone => "alg_none",
            Self::UnsupportedCritical => "unsupported_critical",
            Self::UnknownKid => "unknown_kid",
            Self::AlgMismatch => "alg_mismatch",
            Self::BadSignature => "bad_signature",
            Self::WrongType => "wrong_type",
            Self::MissingClaim(_) => "missing_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
        }
    }
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingClaim(claim) => write!(f, "invalid token: missing_claim ({claim})"),
            other => write!(f, "invalid token: {}", other.reason()),
        }
    }
}

impl std::error::Error for InvalidToken {}

/// Why an access token could not be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueError {
    /// The token would be over 8 KiB (a very long subject, issuer or audience), so the
    /// verifier would refuse it.
    TooLarge,
    /// The crypto backend failed to sign. Keys are checked when configured, so this is not
    /// expected.
    Signing,
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "the access token would exceed 8 KiB",
            Self::Signing => "the access token could not be signed",
        })
    }
}

impl std::error::Error for IssueError {}
