//! JWT access tokens through the public API: a round trip for every algorithm, key rotation
//! and shared keys, the clock leeway at its edges, issuer, audience and type, and the keys
//! refused at configuration.

mod jwt_support;

use jwt_support::*;
use serde_json::json;
use sessionward::token::{
    AccessTokens, InvalidToken, IssueError, JwtAlgorithm, JwtKey, KeyError, KeyRing, DEFAULT_KID,
};

#[test]
fn every_algorithm_round_trips_and_public_keys_verify() {
    let cases = [
        (
            JwtKey::hmac("h1", JwtAlgorithm::Hs256, [1u8; 32]).unwrap(),
            None,
        ),
        (
            JwtKey::hmac("h3", JwtAlgorithm::Hs384, [3u8; 48]).unwrap(),
            None,
        ),
        (
            JwtKey::hmac("h5", JwtAlgorithm::Hs512, [5u8; 64]).unwrap(),
            None,
        ),
        (rsa_key(), Some(RSA_PUB)),
        (
            JwtKey::private_pem("ec", JwtAlgorithm::Es256, EC).unwrap(),
            Some(EC_PUB),
        ),
        (
            JwtKey::private_pem("ed", JwtAlgorithm::EdDsa, ED).unwrap(),
            Some(ED_PUB),
        ),
    ];
    for (key, public) in cases {
        let (kid, algorithm) = (key.kid().to_owned(), key.algorithm());
        let tokens = AccessTokens::new(KeyRing::new(key).unwrap());
        let issued = tokens.issue("alice", session(), now()).unwrap();
        let header = header_of(&issued.token);
        assert_eq!(
            header,
            json!({"alg": algorithm.name(), "typ": "JWT", "kid": kid})
        );

        let claims = tokens.verify(&issued.token, now()).unwrap();
        assert_eq!(claims, issued.claims, "{algorithm}");
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.sid, session());
        assert_eq!((claims.iat, claims.nbf), (unix(now()), unix(now())));
        assert_eq!(claims.exp, unix(now()) + 300, "5 minutes by default");
        assert!(claims.iss.is_none() && claims.aud.is_empty());

        // An instance holding only the public key verifies what the private key signed.
        if let Some(public) = public {
            let verify_only = JwtKey::public_pem(&kid, algorithm, public).unwrap();
            assert!(!verify_only.can_sign());
            let ring = KeyRing::new(JwtKey::hs256("signer", SECRET).unwrap())
                .unwrap()
                .with_verifying_key(verify_only)
                .unwrap();
            let claims = AccessTokens::new(ring)
                .verify(&issued.token, now())
                .unwrap();
            assert_eq!(claims.sid, session(), "{algorithm}");
        }
    }
}

#[test]
fn rsa_keys_are_read_in_pkcs1_and_pkcs8_form() {
    let pkcs1 = JwtKey::private_pem("rsa", JwtAlgorithm::Rs256, RSA_PKCS1).unwrap();
    let token = AccessTokens::new(KeyRing::new(pkcs1).unwrap())
        .issue("alice", session(), now())
        .unwrap()
        .token;
    for public in [RSA_PUB, RSA_PKCS1_PUB] {
        let key = JwtKey::public_pem("rsa", JwtAlgorithm::Rs256, public).unwrap();
        let ring = KeyRing::new(JwtKey::hs256("hs", SECRET).unwrap())
            .unwrap()
            .with_verifying_key(key)
            .unwrap();
        assert!(AccessTokens::new(ring).verify(&token, now()).is_ok());
    }
    // A private key where a public one is expected is refused, not half-read.
    for (algorithm, pem) in [
        (JwtAlgorithm::Rs256, RSA),
        (JwtAlgorithm::Rs256, RSA_PKCS1),
        (JwtAlgorithm::Es256, EC),
        (JwtAlgorithm::EdDsa, ED),
    ] {
        assert!(
            matches!(
                JwtKey::public_pem("k", algorithm, pem),
                Err(KeyError::InvalidKey { .. })
            ),
            "{algorithm}"
        );
    }
}

#[test]
fn each_token_has_its_own_jti_and_the_configured_lifetime() {
    let tokens = hs_tokens().lifetime(secs(60));
    let a = tokens.issue("alice", session(), now()).unwrap();
    let b = tokens.issue("alice", session(), now()).unwrap();
    assert_ne!(a.claims.jti, b.claims.jti);
    assert_ne!(a.token, b.token);
    assert_eq!(a.claims.jti.len(), 22, "128 bits in base64url");
    assert_eq!(a.claims.exp, unix(now()) + 60);
}

#[test]
fn rotation_logs_nobody_out_until_the_old_key_is_retired() {
    let old = KeyRing::new(JwtKey::hs256("old", SECRET).unwrap()).unwrap();
    let before = AccessTokens::new(old.clone());
    let old_token = before.issue("alice", session(), now()).unwrap().token;

    let rotated = old.rotate(JwtKey::hs256("new", SECRET_2).unwrap()).unwrap();
    let after = before.clone().with_key_ring(rotated.clone());
    assert_eq!(after.verify(&old_token, now()).unwrap().sub, "alice");
    let new_token = after.issue("bob", session(), now()).unwrap().token;
    assert_eq!(header_of(&new_token)["kid"], "new");
    assert_eq!(after.verify(&new_token, now()).unwrap().sub, "bob");
    // The instances not rotated yet still accept the old key's tokens only.
    assert_eq!(
        before.verify(&new_token, now()),
        Err(InvalidToken::UnknownKid)
    );

    let retired = after.with_key_ring(rotated.retire("old").unwrap());
    assert_eq!(
        retired.verify(&old_token, now()),
        Err(InvalidToken::UnknownKid)
    );
    assert_eq!(retired.verify(&new_token, now()).unwrap().sub, "bob");
}

#[test]
fn instances_sharing_a_key_list_accept_each_others_tokens() {
    let list = format!("k2={SECRET_2},k1={SECRET}");
    let a = AccessTokens::new(KeyRing::from_shared_secrets(&list).unwrap());
    let b = AccessTokens::new(KeyRing::from_shared_secrets(&list).unwrap());
    let token = a.issue("alice", session(), now()).unwrap().token;
    assert_eq!(header_of(&token)["kid"], "k2", "the first key signs");
    assert_eq!(b.verify(&token, now()).unwrap().sub, "alice");

    // An instance still on k1 alone signs with k1; the others verify that too.
    let lagging = AccessTokens::new(KeyRing::from_shared_secrets(&format!("k1={SECRET}")).unwrap());
    let token = lagging.issue("bob", session(), now()).unwrap().token;
    assert_eq!(a.verify(&token, now()).unwrap().sub, "bob");

    // Same kid, another secret: a forgery as far as the others can tell.
    let wrong = AccessTokens::new(KeyRing::from_shared_secrets(&format!("k2={SECRET}")).unwrap());
    let token = wrong.issue("eve", session(), now()).unwrap().token;
    assert_eq!(a.verify(&token, now()), Err(InvalidToken::BadSignature));

    // One shared secret: the "default" kid, so a later list can keep it as `default=…`.
    let single = AccessTokens::new(KeyRing::from_secret(SECRET).unwrap());
    let token = single.issue("carol", session(), now()).unwrap().token;
    assert_eq!(header_of(&token)["kid"], DEFAULT_KID);
    let listed = AccessTokens::new(
        KeyRing::from_shared_secrets(&format!("next={SECRET_2},default={SECRET}")).unwrap(),
    );
    assert_eq!(listed.verify(&token, now()).unwrap().sub, "carol");
}

#[test]
fn exp_is_honoured_up_to_the_leeway_and_not_a_second_more() {
    let tokens = hs_tokens().lifetime(secs(100)).leeway(secs(30));
    let token = tokens.issue("alice", session(), now()).unwrap().token;
    assert!(tokens.verify(&token, now() + secs(100)).is_ok());
    assert!(tokens.verify(&token, now() + secs(130)).is_ok());
    assert_eq!(
        tokens.verify(&token, now() + secs(131)),
        Err(InvalidToken::Expired)
    );

    let strict = tokens.leeway(secs(0));
    assert!(strict.verify(&token, now() + secs(100)).is_ok());
    assert_eq!(
        strict.verify(&token, now() + secs(101)),
        Err(InvalidToken::Expired)
    );

    // The leeway is capped at 30 s.
    let lax = hs_tokens().lifetime(secs(100)).leeway(secs(3600));
    let token = lax.issue("alice", session(), now()).unwrap().token;
    assert!(lax.verify(&token, now() + secs(130)).is_ok());
    assert_eq!(
        lax.verify(&token, now() + secs(131)),
        Err(InvalidToken::Expired)
    );
}

#[test]
fn iat_and_nbf_may_be_ahead_by_the_leeway_and_not_a_second_more() {
    let tokens = hs_tokens().leeway(secs(10));
    // Issued by an instance whose clock runs ahead: iat (and nbf) in the verifier's future.
    let token = tokens.issue("alice", session(), now()).unwrap().token;
    assert!(tokens.verify(&token, now() - secs(10)).is_ok());
    assert_eq!(
        tokens.verify(&token, now() - secs(11)),
        Err(InvalidToken::IssuedInFuture)
    );

    // Valid only from a minute after its issue.
    let mut claims = claims_at(now());
    claims["nbf"] = json!(unix(now()) + 60);
    let token = craft_hs(json!({"typ": "JWT"}), &claims);
    assert!(tokens.verify(&token, now() + secs(50)).is_ok());
    assert_eq!(
        tokens.verify(&token, now() + secs(49)),
        Err(InvalidToken::NotYetValid)
    );
}

#[test]
fn issuer_and_audience_are_required_when_configured() {
    let strict = hs_tokens().issuer("https://auth.example").audience("api");
    let token = strict.issue("alice", session(), now()).unwrap();
    assert_eq!(token.claims.iss.as_deref(), Some("https://auth.example"));
    assert_eq!(token.claims.aud, ["api"]);
    assert!(strict.verify(&token.token, now()).is_ok());
    // A verifier that requires neither accepts them.
    assert!(hs_tokens().verify(&token.token, now()).is_ok());

    let cases = [
        (hs_tokens(), InvalidToken::MissingClaim("iss")),
        (
            hs_tokens().issuer("https://auth.example"),
            InvalidToken::MissingClaim("aud"),
        ),
        (
            hs_tokens().issuer("https://evil.example").audience("api"),
            InvalidToken::WrongIssuer,
        ),
        (
            hs_tokens().issuer("https://auth.example").audience("other"),
            InvalidToken::WrongAudience,
        ),
    ];
    for (issuer, refusal) in cases {
        let token = issuer.issue("alice", session(), now()).unwrap().token;
        assert_eq!(strict.verify(&token, now()), Err(refusal));
    }

    // An array audience that names ours is accepted; one that does not is refused.
    let mut claims = claims_at(now());
    claims["iss"] = json!("https://auth.example");
    claims["aud"] = json!(["web", "api"]);
    let token = craft_hs(json!({}), &claims);
    assert_eq!(strict.verify(&token, now()).unwrap().aud, ["web", "api"]);
    claims["aud"] = json!(["web"]);
    let token = craft_hs(json!({}), &claims);
    assert_eq!(
        strict.verify(&token, now()),
        Err(InvalidToken::WrongAudience)
    );
}

#[test]
fn the_type_is_checked_where_the_app_sets_one() {
    let typed = hs_tokens().token_type("at+jwt");
    let token = typed.issue("alice", session(), now()).unwrap().token;
    assert_eq!(header_of(&token)["typ"], "at+jwt");
    assert!(typed.verify(&token, now()).is_ok());

    let untyped = hs_tokens().issue("alice", session(), now()).unwrap().token;
    assert_eq!(typed.verify(&untyped, now()), Err(InvalidToken::WrongType));
    // Without a configured type, any typ passes.
    assert!(hs_tokens().verify(&token, now()).is_ok());

    let claims = claims_at(now());
    for (header, accepted) in [
        (json!({"typ": "application/at+jwt"}), true),
        (json!({"typ": "AT+JWT"}), true),
        (json!({}), false),
        (json!({"typ": "jwt"}), false),
        (json!({"typ": "at+jwt+extra"}), false),
    ] {
        let token = craft_hs(header.clone(), &claims);
        let result = typed.verify(&token, now());
        assert_eq!(result.is_ok(), accepted, "{header}: {result:?}");
        if !accepted {
            assert_eq!(result, Err(InvalidToken::WrongType));
        }
    }
}

#[test]
fn weak_or_wrong_keys_are_refused_at_configuration() {
    assert!(matches!(
        JwtKey::hs256("k", &SECRET[..31]),
        Err(KeyError::SecretTooShort {
            len: 31,
            min: 32,
            ..
        })
    ));
    assert!(matches!(
        KeyRing::from_secret("too short"),
        Err(KeyError::SecretTooShort { .. })
    ));
    assert!(matches!(
        KeyRing::from_shared_secrets(&format!("a={SECRET},b=short")),
        Err(KeyError::SecretTooShort { .. })
    ));
    assert!(matches!(
        JwtKey::private_pem("k", JwtAlgorithm::Rs256, RSA_1024),
        Err(KeyError::RsaKeyTooShort { bits: 1024, .. })
    ));
    for (algorithm, pem) in [
        (JwtAlgorithm::Es256, EC_384),
        (JwtAlgorithm::Es256, RSA),
        (JwtAlgorithm::Rs256, EC),
        (JwtAlgorithm::EdDsa, EC),
        (JwtAlgorithm::Rs256, RSA_PUB),
    ] {
        assert!(
            matches!(
                JwtKey::private_pem("k", algorithm, pem),
                Err(KeyError::InvalidKey { .. })
            ),
            "{algorithm}"
        );
    }
    assert!(matches!(
        JwtKey::public_pem("k", JwtAlgorithm::Es256, RSA_PUB),
        Err(KeyError::InvalidKey { .. })
    ));
    assert!(matches!(
        JwtKey::private_pem("k", JwtAlgorithm::Hs256, RSA),
        Err(KeyError::WrongAlgorithm { .. })
    ));
    let public = JwtKey::public_pem("rsa", JwtAlgorithm::Rs256, RSA_PUB).unwrap();
    assert_eq!(
        KeyRing::new(public.clone()).unwrap_err(),
        KeyError::NotSigningKey("rsa".into())
    );
    let ring = KeyRing::new(JwtKey::hs256("hs", SECRET).unwrap()).unwrap();
    assert_eq!(
        ring.rotate(public).unwrap_err(),
        KeyError::NotSigningKey("rsa".into())
    );
}

#[test]
fn nothing_prints_a_secret_or_a_token() {
    let tokens = AccessTokens::new(
        KeyRing::new(rsa_key())
            .unwrap()
            .with_verifying_key(JwtKey::hs256("hs", SECRET).unwrap())
            .unwrap(),
    );
    let debug = format!("{tokens:?}");
    assert!(
        debug.contains("\"rsa\"") && debug.contains("\"hs\""),
        "{debug}"
    );
    assert!(
        !debug.contains(SECRET) && !debug.contains("PRIVATE"),
        "{debug}"
    );
    let issued = tokens.issue("alice", session(), now()).unwrap();
    let debug = format!("{issued:?}");
    assert!(
        !debug.contains(&issued.token) && debug.contains("alice"),
        "{debug}"
    );
}

#[test]
fn a_token_too_large_to_verify_is_not_issued() {
    let tokens = hs_tokens();
    assert_eq!(
        tokens
            .issue(&"a".repeat(8 * 1024), session(), now())
            .unwrap_err(),
        IssueError::TooLarge
    );
    assert!(tokens
        .issue(&"a".repeat(5 * 1024), session(), now())
        .is_ok());
}

#[test]
fn every_refusal_has_a_stable_reason() {
    let reasons = [
        (InvalidToken::TooLarge, "too_large"),
        (InvalidToken::Malformed, "malformed"),
        (InvalidToken::AlgNone, "alg_none"),
        (InvalidToken::UnsupportedCritical, "unsupported_critical"),
        (InvalidToken::UnknownKid, "unknown_kid"),
        (InvalidToken::AlgMismatch, "alg_mismatch"),
        (InvalidToken::BadSignature, "bad_signature"),
        (InvalidToken::WrongType, "wrong_type"),
        (InvalidToken::MissingClaim("exp"), "missing_claim"),
        (InvalidToken::Expired, "expired"),
        (InvalidToken::NotYetValid, "not_yet_valid"),
        (InvalidToken::IssuedInFuture, "issued_in_future"),
        (InvalidToken::WrongIssuer, "wrong_issuer"),
        (InvalidToken::WrongAudience, "wrong_audience"),
    ];
    for (refusal, reason) in reasons {
        assert_eq!(refusal.reason(), reason);
        assert!(refusal.to_string().contains(reason));
    }
}

#[test]
fn a_token_without_a_required_claim_is_refused() {
    for claim in ["sub", "exp", "iat", "nbf", "jti", "sid"] {
        let mut claims = claims_at(now());
        claims.as_object_mut().unwrap().remove(claim);
        let token = craft_hs(json!({}), &claims);
        assert_eq!(
            hs_tokens().verify(&token, now()),
            Err(InvalidToken::MissingClaim(claim))
        );
    }
    // Extra claims are allowed and ignored.
    let mut claims = claims_at(now());
    claims["role"] = json!("admin");
    assert!(hs_tokens()
        .verify(craft_hs(json!({}), &claims), now())
        .is_ok());
}
