//! HMAC verification with the key schedule done once per key, not once per token.
//!
//! `jsonwebtoken`'s verifier is built from the secret for each verification, which hashes the
//! padded key twice (two SHA-2 blocks) and allocates, for every request. The keyed state is
//! cloned here instead: the same RustCrypto `hmac` and `sha2` crates `jsonwebtoken`'s
//! `rust_crypto` backend uses, and the same constant-time comparison of the tag.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::jwt_algorithm::JwtAlgorithm;

/// An HMAC key, keyed once.
#[derive(Clone)]
pub(super) enum KeyedHmac {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
}

impl KeyedHmac {
    /// `secret` keyed for `algorithm`; `None` for an algorithm that is no HMAC.
    pub(super) fn new(algorithm: JwtAlgorithm, secret: &[u8]) -> Option<Self> {
        Some(match algorithm {
            JwtAlgorithm::Hs256 => Self::Hs256(Hmac::new_from_slice(secret).ok()?),
            JwtAlgorithm::Hs384 => Self::Hs384(Hmac::new_from_slice(secret).ok()?),
            JwtAlgorithm::Hs512 => Self::Hs512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Whether `tag` is this key's HMAC of `message`, compared in constant time.
    pub(super) fn verifies(&self, message: &[u8], tag: &[u8]) -> bool {
        fn check<M: Mac + Clone>(mac: &M, message: &[u8], tag: &[u8]) -> bool {
            let mut mac = mac.clone();
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Self::Hs256(mac) => check(mac, message, tag),
            Self::Hs384(mac) => check(mac, message, tag),
            Self::Hs512(mac) => check(mac, message, tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_agrees_with_jsonwebtoken_and_refuses_any_other_tag() {
        let secret = [42u8; 64];
        for algorithm in [
            JwtAlgorithm::Hs256,
            JwtAlgorithm::Hs384,
            JwtAlgorithm::Hs512,
        ] {
            let key = super::super::JwtKey::hmac("k", algorithm, secret).unwrap();
            let tag = key.sign(b"message").unwrap();
            let keyed = KeyedHmac::new(algorithm, &secret).unwrap();
            assert!(keyed.verifies(b"message", &tag), "{algorithm:?}");
            assert!(!keyed.verifies(b"messagE", &tag));
            assert!(!keyed.verifies(b"message", &tag[1..]));
            assert!(!keyed.verifies(b"message", &[]));
        }
        assert!(KeyedHmac::new(JwtAlgorithm::Rs256, &secret).is_none());
    }
}
