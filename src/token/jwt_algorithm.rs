//! The signature algorithms a JWT key can be pinned to.

use std::fmt;

use jsonwebtoken::Algorithm;

/// The signature algorithm a key is pinned to. Verification takes the algorithm from the key
/// a token's `kid` names, never from the token's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256; the secret must be at least 32 bytes.
    Hs256,
    /// HMAC with SHA-384; the secret must be at least 48 bytes.
    Hs384,
    /// HMAC with SHA-512; the secret must be at least 64 bytes.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256; the modulus must be at least 2048 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// EdDSA with Ed25519.
    EdDsa,
}

impl JwtAlgorithm {
    /// The name a JWT header carries in `alg` (`"HS256"`, `"RS256"`, `"ES256"`, `"EdDSA"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Whether this is an HMAC (shared secret) algorithm.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }

    /// The shortest secret accepted for an HMAC algorithm: the hash's output size, as RFC 7518
    /// §3.2 requires. `None` for the public-key algorithms.
    pub fn min_secret_len(self) -> Option<usize> {
        match self {
            Self::Hs256 => Some(32),
            Self::Hs384 => Some(48),
            Self::Hs512 => Some(64),
            Self::Rs256 | Self::Es256 | Self::EdDsa => None,
        }
    }

    pub(crate) fn backend(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Hs384 => Algorithm::HS384,
            Self::Hs512 => Algorithm::HS512,
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
