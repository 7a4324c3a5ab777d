//! The crypto backend stays the crate's own business: JWTs work without any process-wide
//! `jsonwebtoken` provider, and the application can still install its own afterwards. Run
//! also as `cargo test --features jwt,jsonwebtoken/aws_lc_rs --test jwt_backend`, where
//! `jsonwebtoken` has two backends and no default of its own.
//!
//! One test in its own binary: the process-wide provider can be set once per process.

mod jwt_support;

use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::CryptoProvider;
use jwt_support::*;
use sessionward::token::{AccessTokens, JwtAlgorithm, JwtKey, KeyRing};

#[test]
fn tokens_need_no_process_wide_provider_and_leave_it_to_the_app() {
    let keys = [
        JwtKey::hs256("hs", SECRET).unwrap(),
        rsa_key(),
        JwtKey::private_pem("ec", JwtAlgorithm::Es256, EC).unwrap(),
        JwtKey::private_pem("ed", JwtAlgorithm::EdDsa, ED).unwrap(),
    ];
    for key in keys {
        let tokens = AccessTokens::new(KeyRing::new(key).unwrap());
        let token = tokens.issue("alice", session(), now()).unwrap().token;
        assert_eq!(tokens.verify(&token, now()).unwrap().sid, session());
    }
    assert!(
        CryptoProvider::install_default(&DEFAULT_PROVIDER).is_ok(),
        "sessionward took the process-wide provider"
    );
}
