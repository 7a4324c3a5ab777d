//! What the `jwt_*` tests share: the fixture keys (tests/fixtures/jwt/README.md says how they
//! were made), a fixed clock, and hand-crafted tokens for the cases `AccessTokens` would never
//! issue.

#![allow(dead_code)] // each test binary uses part of it

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST_CRYPTO;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};
use sessionward::token::{AccessTokens, JwtAlgorithm, JwtKey, KeyRing};
use sessionward::SessionId;

pub const RSA: &str = include_str!("../fixtures/jwt/rsa.pem");
pub const RSA_PUB: &str = include_str!("../fixtures/jwt/rsa.pub.pem");
pub const RSA_PKCS1: &str = include_str!("../fixtures/jwt/rsa.pkcs1.pem");
pub const RSA_PKCS1_PUB: &str = include_str!("../fixtures/jwt/rsa.pkcs1.pub.pem");
pub const RSA_OTHER: &str = include_str!("../fixtures/jwt/rsa_other.pem");
pub const RSA_1024: &str = include_str!("../fixtures/jwt/rsa1024.pem");
pub const EC: &str = include_str!("../fixtures/jwt/ec.pem");
pub const EC_PUB: &str = include_str!("../fixtures/jwt/ec.pub.pem");
pub const EC_OTHER: &str = include_str!("../fixtures/jwt/ec_other.pem");
pub const EC_384: &str = include_str!("../fixtures/jwt/ec384.pem");
pub const ED: &str = include_str!("../fixtures/jwt/ed25519.pem");
pub const ED_PUB: &str = include_str!("../fixtures/jwt/ed25519.pub.pem");
pub const ED_OTHER: &str = include_str!("../fixtures/jwt/ed25519_other.pem");

/// A 32-byte HS256 secret.
pub const SECRET: &str = "a-test-secret-of-exactly-32-byte";
/// Another one.
pub const SECRET_2: &str = "another-test-secret-of-32-bytes!";

/// The tests' "now": a fixed instant, so no test depends on the wall clock.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn session() -> SessionId {
    SessionId([42; 16])
}

/// HS256 access tokens with the key `hs` = [`SECRET`].
pub fn hs_tokens() -> AccessTokens {
    AccessTokens::new(KeyRing::new(JwtKey::hs256("hs", SECRET).unwrap()).unwrap())
}

/// An RS256 signing key with the `kid` "rsa".
pub fn rsa_key() -> JwtKey {
    JwtKey::private_pem("rsa", JwtAlgorithm::Rs256, RSA).unwrap()
}

/// Claims an issued token would carry at `now`, for hand-crafted tokens to start from.
pub fn claims_at(now: SystemTime) -> Value {
    let now = unix(now);
    json!({
        "sub": "alice",
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": "hand-crafted",
        "sid": session().to_string(),
    })
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

/// `key`'s signature of `message`, base64url. Like the crate, the tests call the RustCrypto
/// backend directly, never `jsonwebtoken`'s process-wide default, so they also run with the
/// `aws_lc_rs` backend compiled in (`--features jsonwebtoken/aws_lc_rs`).
pub fn sign(message: &[u8], key: &EncodingKey, algorithm: Algorithm) -> String {
    let signer = (RUST_CRYPTO.signer_factory)(&algorithm, key).unwrap();
    b64(&signer.try_sign(message).unwrap())
}

/// The public JWK of an ES256 private key, or of an HMAC secret, as an attacker would embed it.
pub fn jwk_of(key: &EncodingKey, algorithm: Algorithm) -> Value {
    match algorithm {
        Algorithm::ES256 => {
            let (_, x, y) = (RUST_CRYPTO.key_utils.ec_pub_components_from_private_key)(
                key.as_bytes(),
                algorithm,
            )
            .unwrap();
            json!({"kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y), "alg": "ES256"})
        }
        Algorithm::HS256 => json!({"kty": "oct", "k": b64(key.as_bytes()), "alg": "HS256"}),
        other => panic!("no JWK for {other:?} in these tests"),
    }
}

/// A token with exactly this header and these claims, signed with `key` as `algorithm` (the
/// header's `alg` is whatever `header` says).
pub fn craft(header: &Value, claims: &Value, key: &EncodingKey, algorithm: Algorithm) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = sign(message.as_bytes(), key, algorithm);
    format!("{message}.{signature}")
}

/// A token signed by [`SECRET`] under `kid` "hs", with this header (plus `kid`) and these
/// claims: the shape `hs_tokens()` verifies, with any content.
pub fn craft_hs(mut header: Value, claims: &Value) -> String {
    header["kid"] = json!("hs");
    if header.get("alg").is_none() {
        header["alg"] = json!("HS256");
    }
    let key = EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    craft(&header, claims, &key, Algorithm::HS256)
}

/// The decoded header of a compact token.
pub fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}
