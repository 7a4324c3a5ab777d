//! Why a JWT key or key ring was refused when configured.

use std::fmt;

use super::jwt_algorithm::JwtAlgorithm;
use super::jwt_key::MIN_RSA_BITS;

/// A key refused when it was configured. The message names the key by its `kid` and never
/// contains key material.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A `kid` must be 1 to 64 characters from `A–Z a–z 0–9 - _ .`.
    InvalidKid,
    /// Two keys in one ring have the same `kid`.
    DuplicateKid(String),
    /// An HMAC secret shorter than its algorithm's hash output (32 bytes for HS256).
    SecretTooShort {
        /// The key's id.
        kid: String,
        /// The key's algorithm.
        algorithm: JwtAlgorithm,
        /// The secret's length in bytes.
        len: usize,
        /// The shortest length accepted.
        min: usize,
    },
    /// An RSA modulus under 2048 bits.
    RsaKeyTooShort {
        /// The key's id.
        kid: String,
        /// The modulus's length in bits.
        bits: usize,
    },
    /// A secret given for a public-key algorithm, or a PEM key for an HMAC one.
    WrongAlgorithm {
        /// The key's id.
        kid: String,
        /// The algorithm asked for.
        algorithm: JwtAlgorithm,
    },
    /// The PEM text is not a key of the algorithm's type, or its private half does not sign
    /// what its public half verifies.
    InvalidKey {
        /// The key's id.
        kid: String,
        /// The algorithm asked for.
        algorithm: JwtAlgorithm,
    },
    /// The ring's signing key has no private half (it was given as a public key).
    NotSigningKey(String),
    /// No key in the ring has this `kid`.
    UnknownKid(String),
    /// The signing key cannot be retired; rotate to another key first.
    RetiringCurrent(String),
    /// An entry of a `kid=secret,kid=secret` list is not `kid=secret` (counted from 1; the
    /// entry itself is not echoed, as it may be a secret).
    MalformedList {
        /// The entry's position, from 1.
        entry: usize,
    },
    /// A secret list with no entry.
    Empty,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKid => {
                f.write_str("a JWT key id must be 1 to 64 characters from A-Z a-z 0-9 - _ .")
            }
            Self::DuplicateKid(kid) => write!(f, "two JWT keys have the id {kid:?}"),
            Self::SecretTooShort { kid, algorithm, len, min } => write!(
                f,
                "JWT key {kid:?}: an {algorithm} secret must be at least {min} bytes, this one has {len}"
            ),
            Self::RsaKeyTooShort { kid, bits } => write!(
                f,
                "JWT key {kid:?}: an RSA key must be at least {MIN_RSA_BITS} bits, this one has {bits}"
            ),
            Self::WrongAlgorithm { kid, algorithm } => {
                write!(f, "JWT key {kid:?}: this kind of key cannot be used for {algorithm}")
            }
            Self::InvalidKey { kid, algorithm } => {
                write!(f, "JWT key {kid:?}: not a usable {algorithm} key")
            }
            Self::NotSigningKey(kid) => {
                write!(f, "JWT key {kid:?} has no private key, so it cannot sign")
            }
            Self::UnknownKid(kid) => write!(f, "no JWT key has the id {kid:?}"),
            Self::RetiringCurrent(kid) => {
                write!(f, "JWT key {kid:?} signs new tokens; rotate to another key before retiring it")
            }
            Self::MalformedList { entry } => {
                write!(f, "JWT key list: entry {entry} is not kid=secret")
            }
            Self::Empty => f.write_str("JWT key list: no key"),
        }
    }
}

impl std::error::Error for KeyError {}
