//! One JWT key: its `kid`, the algorithm it is pinned to, and its key material, checked
//! when it is configured (HS secrets long enough, RSA moduli of 2048 bits or more, PEM that
//! parses and a private key that signs what its public half verifies).

use std::fmt;

use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST_CRYPTO;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::EllipticCurve;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::jwt_algorithm::JwtAlgorithm;
use super::jwt_hmac::KeyedHmac;
use super::key_error::KeyError;

/// The one crypto backend every signature goes through, called directly rather than through
/// `jsonwebtoken`'s process-wide default: that default panics when two backends are compiled
/// in and nobody installed one, and installing ours would take the choice away from the app.
const BACKEND: &CryptoProvider = &RUST_CRYPTO;

/// Longest accepted `kid`.
const MAX_KID_LEN: usize = 64;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// A JWT key: a `kid`, the one algorithm it is pinned to, and its key material.
///
/// An HMAC key and a key built from a private PEM can sign and verify; a key built from a
/// public PEM only verifies. Its `Debug` output shows the `kid` and algorithm, never the key.
#[derive(Clone)]
pub struct JwtKey {
    kid: String,
    algorithm: JwtAlgorithm,
    signing: Option<EncodingKey>,
    verifying: DecodingKey,
    /// An HMAC key's keyed state, so verifying skips the key schedule.
    keyed: Option<KeyedHmac>,
}

impl JwtKey {
    /// An HMAC key (`Hs256`, `Hs384` or `Hs512`) from a shared secret of at least the hash's
    /// output size (32, 48 or 64 bytes): instances that share it can verify each other's
    /// tokens.
    ///
    /// # Errors
    /// [`KeyError::InvalidKid`], [`KeyError::WrongAlgorithm`] for a public-key algorithm, or
    /// [`KeyError::SecretTooShort`].
    pub fn hmac(
        kid: impl Into<String>,
        algorithm: JwtAlgorithm,
        secret: impl AsRef<[u8]>,
    ) -> Result<Self, KeyError> {
        let kid = checked_kid(kid.into())?;
        let secret = secret.as_ref();
        let Some(min) = algorithm.min_secret_len() else {
            return Err(KeyError::WrongAlgorithm { kid, algorithm });
        };
        if secret.len() < min {
            return Err(KeyError::SecretTooShort {
                kid,
                algorithm,
                len: secret.len(),
                min,
            });
        }
        let invalid = || KeyError::InvalidKey {
            kid: kid.clone(),
            algorithm,
        };
        Ok(Self {
            signing: Some(EncodingKey::from_secret(secret).map_err(|_| invalid())?),
            verifying: DecodingKey::from_secret(secret).map_err(|_| invalid())?,
            keyed: Some(KeyedHmac::new(algorithm, secret).ok_or_else(invalid)?),
            kid,
            algorithm,
        })
    }

    /// An HS256 key from a shared secret of at least 32 bytes.
    ///
    /// # Errors
    /// As [`JwtKey::hmac`].
    pub fn hs256(kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::hmac(kid, JwtAlgorithm::Hs256, secret)
    }

    /// A signing key from a private key in PEM: RSA (PKCS#1 or PKCS#8, 2048 bits or more) for
    /// `Rs256`, P-256 (PKCS#8) for `Es256`, Ed25519 (PKCS#8) for `EdDsa`. Its public half is
    /// derived from it, and a test signature made with one must verify with the other.
    ///
    /// # Errors
    /// [`KeyError::InvalidKid`], [`KeyError::WrongAlgorithm`] for an HMAC algorithm,
    /// [`KeyError::InvalidKey`], or [`KeyError::RsaKeyTooShort`].
    pub fn private_pem(
        kid: impl Into<String>,
        algorithm: JwtAlgorithm,
        pem: impl AsRef<[u8]>,
    ) -> Result<Self, KeyError> {
        let kid = checked_kid(kid.into())?;
        let invalid = || KeyError::InvalidKey {
            kid: kid.clone(),
            algorithm,
        };
        let pem = pem.as_ref();
        let utils = &BACKEND.key_utils;
        let (signing, verifying) = match algorithm {
            JwtAlgorithm::Rs256 => {
                let signing = EncodingKey::from_rsa_pem(pem).map_err(|_| invalid())?;
                let (n, e) = (utils.rsa_pub_components_from_private_key)(signing.as_bytes())
                    .map_err(|_| invalid())?;
                check_rsa_bits(&kid, &n)?;
                (signing, DecodingKey::from_rsa_raw_components(&n, &e))
            }
            JwtAlgorithm::Es256 => {
                let signing = EncodingKey::from_ec_pem(pem).map_err(|_| invalid())?;
                let (curve, x, y) = (utils.ec_pub_components_from_private_key)(
                    signing.as_bytes(),
                    Algorithm::ES256,
                )
                .map_err(|_| invalid())?;
                if curve != EllipticCurve::P256 {
                    return Err(invalid());
                }
                // The uncompressed SEC1 point: 0x04, then x and y.
                let point = [&[4u8][..], &x, &y].concat();
                (signing, DecodingKey::from_ec_der(&point))
            }
            JwtAlgorithm::EdDsa => {
                let signing = EncodingKey::from_ed_pem(pem).map_err(|_| invalid())?;
                let public = (utils.ed_pub_components_from_private_key)(
                    signing.as_bytes(),
                    &EllipticCurve::Ed25519,
                )
                .map_err(|_| invalid())?;
                (signing, DecodingKey::from_ed_der(&public))
            }
            JwtAlgorithm::Hs256 | JwtAlgorithm::Hs384 | JwtAlgorithm::Hs512 => {
                return Err(KeyError::WrongAlgorithm { kid, algorithm });
            }
        };
        let key = Self {
            kid,
            algorithm,
            signing: Some(signing),
            verifying,
            keyed: None,
        };
        match key.check_pair() {
            Ok(()) => Ok(key),
            Err(()) => Err(KeyError::InvalidKey {
                kid: key.kid,
                algorithm,
            }),
        }
    }

    /// A verify-only key from a public key in PEM (`-----BEGIN PUBLIC KEY-----`, or
    /// `-----BEGIN RSA PUBLIC KEY-----` for RSA): for instances that check tokens another
    /// instance signs, and for a retired signing key whose private half is gone.
    ///
    /// # Errors
    /// As [`JwtKey::private_pem`].
    pub fn public_pem(
        kid: impl Into<String>,
        algorithm: JwtAlgorithm,
        pem: impl AsRef<[u8]>,
    ) -> Result<Self, KeyError> {
        let kid = checked_kid(kid.into())?;
        let invalid = || KeyError::InvalidKey {
            kid: kid.clone(),
            algorithm,
        };
        let pem = pem.as_ref();
        let verifying = match algorithm {
            JwtAlgorithm::Rs256 => {
                let key = DecodingKey::from_rsa_pem(pem).map_err(|_| invalid())?;
                let der = key.try_get_as_bytes().map_err(|_| invalid())?;
                let (n, _) = (BACKEND.key_utils.rsa_pub_components_from_public_key)(der)
                    .map_err(|_| invalid())?;
                check_rsa_bits(&kid, &n)?;
                key
            }
            JwtAlgorithm::Es256 => {
                let key = DecodingKey::from_ec_pem(pem).map_err(|_| invalid())?;
                // An uncompressed P-256 point; a P-384 key (97 bytes) is not an ES256 key.
                match key.try_get_as_bytes() {
                    Ok(point) if point.len() == 65 => key,
                    _ => return Err(invalid()),
                }
            }
            JwtAlgorithm::EdDsa => {
                let key = DecodingKey::from_ed_pem(pem).map_err(|_| invalid())?;
                // Checked here because the backend slices the first 32 bytes without looking.
                match key.try_get_as_bytes() {
                    Ok(public) if public.len() == 32 => key,
                    _ => return Err(invalid()),
                }
            }
            JwtAlgorithm::Hs256 | JwtAlgorithm::Hs384 | JwtAlgorithm::Hs512 => {
                return Err(KeyError::WrongAlgorithm { kid, algorithm });
            }
        };
        // Building the verifier parses the key, so a bad point is refused now, not per token.
        (BACKEND.verifier_factory)(&algorithm.backend(), &verifying).map_err(|_| invalid())?;
        Ok(Self {
            kid,
            algorithm,
            signing: None,
            verifying,
            keyed: None,
        })
    }

    /// The key's id, carried in the `kid` header of every token it signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key is pinned to.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// Whether the key can sign (it has a private half or is an HMAC secret).
    pub fn can_sign(&self) -> bool {
        self.signing.is_some()
    }

    /// Signs `message` (the encoded header and claims). `None` for a verify-only key, or if
    /// the backend fails, which a key checked at configuration does not.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let key = self.signing.as_ref()?;
        let signer = (BACKEND.signer_factory)(&self.algorithm.backend(), key).ok()?;
        signer.try_sign(message).ok()
    }

    /// Whether `signature` is this key's signature of `message`, with this key's algorithm.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        if let Some(keyed) = &self.keyed {
            return keyed.verifies(message, signature);
        }
        match (BACKEND.verifier_factory)(&self.algorithm.backend(), &self.verifying) {
            Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
            Err(_) => false,
        }
    }

    /// A private key and the public key derived from it must agree.
    fn check_pair(&self) -> Result<(), ()> {
        const PROBE: &[u8] = b"sessionward key check";
        let signature = self.sign(PROBE).ok_or(())?;
        self.verifies(PROBE, &signature).then_some(()).ok_or(())
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("can_sign", &self.can_sign())
            .finish_non_exhaustive()
    }
}

fn checked_kid(kid: String) -> Result<String, KeyError> {
    let valid = (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(kid)
    } else {
        Err(KeyError::InvalidKid)
    }
}

fn check_rsa_bits(kid: &str, modulus: &[u8]) -> Result<(), KeyError> {
    let leading = modulus
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(modulus.len());
    let significant = &modulus[leading..];
    let bits = significant.first().map_or(0, |&top| {
        significant.len() * 8 - top.leading_zeros() as usize
    });
    if bits < MIN_RSA_BITS {
        return Err(KeyError::RsaKeyTooShort {
            kid: kid.to_owned(),
            bits,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_secrets_must_cover_the_hash_size() {
        assert!(JwtKey::hs256("a", [7u8; 32]).is_ok());
        assert_eq!(
            JwtKey::hs256("a", [7u8; 31]).unwrap_err(),
            KeyError::SecretTooShort {
                kid: "a".into(),
                algorithm: JwtAlgorithm::Hs256,
                len: 31,
                min: 32
            }
        );
        assert!(JwtKey::hmac("a", JwtAlgorithm::Hs384, [7u8; 47]).is_err());
        assert!(JwtKey::hmac("a", JwtAlgorithm::Hs384, [7u8; 48]).is_ok());
        assert!(JwtKey::hmac("a", JwtAlgorithm::Hs512, [7u8; 63]).is_err());
        assert!(JwtKey::hmac("a", JwtAlgorithm::Hs512, [7u8; 64]).is_ok());
        assert!(matches!(
            JwtKey::hmac("a", JwtAlgorithm::Rs256, [7u8; 64]),
            Err(KeyError::WrongAlgorithm { .. })
        ));
    }

    #[test]
    fn kids_are_short_and_plain() {
        for bad in ["", "a b", "a=b", "a,b", "é", &"k".repeat(65)] {
            assert_eq!(
                JwtKey::hs256(bad, [1u8; 32]).unwrap_err(),
                KeyError::InvalidKid,
                "{bad:?}"
            );
        }
        assert!(JwtKey::hs256("2026-12.key_1", [1u8; 32]).is_ok());
        assert!(JwtKey::hs256("k".repeat(64), [1u8; 32]).is_ok());
    }

    #[test]
    fn debug_and_errors_never_show_the_secret() {
        let secret = "correct horse battery staple, 32+ bytes";
        let key = JwtKey::hs256("main", secret).unwrap();
        let debug = format!("{key:?}");
        assert!(
            debug.contains("main") && !debug.contains("horse"),
            "{debug}"
        );
        let err = JwtKey::hs256("main", &secret[..20]).unwrap_err();
        assert!(!err.to_string().contains("horse"));
    }

    #[test]
    fn hmac_signatures_verify_only_with_the_same_secret() {
        let key = JwtKey::hs256("a", [1u8; 32]).unwrap();
        let other = JwtKey::hs256("a", [2u8; 32]).unwrap();
        let signature = key.sign(b"message").unwrap();
        assert!(key.verifies(b"message", &signature));
        assert!(!key.verifies(b"massage", &signature));
        assert!(!other.verifies(b"message", &signature));
        assert!(!key.verifies(b"message", b""));
    }

    #[test]
    fn junk_pem_is_refused_without_panicking() {
        for algorithm in [
            JwtAlgorithm::Rs256,
            JwtAlgorithm::Es256,
            JwtAlgorithm::EdDsa,
        ] {
            for pem in [
                &b""[..],
                b"not a pem",
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
            ] {
                assert!(matches!(
                    JwtKey::private_pem("k", algorithm, pem),
                    Err(KeyError::InvalidKey { .. })
                ));
                assert!(matches!(
                    JwtKey::public_pem("k", algorithm, pem),
                    Err(KeyError::InvalidKey { .. })
                ));
            }
        }
    }

    #[test]
    fn rsa_bits_count_the_significant_bits() {
        let mut modulus = vec![0u8; 257];
        modulus[1] = 0x80;
        assert!(check_rsa_bits("k", &modulus).is_ok());
        modulus[1] = 0x40;
        assert_eq!(
            check_rsa_bits("k", &modulus).unwrap_err(),
            KeyError::RsaKeyTooShort {
                kid: "k".into(),
                bits: 2047
            }
        );
        assert!(check_rsa_bits("k", &[]).is_err());
    }
}
