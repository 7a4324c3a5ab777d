//! Hostile tokens (RFC 8725): algorithm confusion, `alg: none`, keys smuggled in headers,
//! oversized and malformed input. Each is refused with its typed reason, and none panics.

mod jwt_support;

use std::net::TcpListener;

use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_support::*;
use rand::RngExt as _;
use serde_json::json;
use sessionward::token::{
    AccessTokens, InvalidToken, JwtAlgorithm, JwtKey, KeyRing, MAX_TOKEN_LEN,
};

/// A ring with one key of each family: HS256 "hs" signs; "rsa", "ec" and "ed" verify.
fn mixed_tokens() -> AccessTokens {
    let ring = KeyRing::new(JwtKey::hs256("hs", SECRET).unwrap())
        .unwrap()
        .with_verifying_key(rsa_key())
        .unwrap()
        .with_verifying_key(JwtKey::public_pem("ec", JwtAlgorithm::Es256, EC_PUB).unwrap())
        .unwrap()
        .with_verifying_key(JwtKey::public_pem("ed", JwtAlgorithm::EdDsa, ED_PUB).unwrap())
        .unwrap();
    AccessTokens::new(ring)
}

#[test]
fn an_rsa_public_key_is_never_used_as_an_hmac_secret() {
    // The classic confusion: sign HS256 with the verifier's public key as the secret.
    let public_as_secret = EncodingKey::from_secret(RSA_PUB.as_bytes()).unwrap();
    let forged = craft(
        &json!({"alg": "HS256", "typ": "JWT", "kid": "rsa"}),
        &claims_at(now()),
        &public_as_secret,
        Algorithm::HS256,
    );
    assert_eq!(
        mixed_tokens().verify(&forged, now()),
        Err(InvalidToken::AlgMismatch)
    );
}

#[test]
fn the_algorithm_comes_from_the_key_never_from_the_header() {
    let tokens = mixed_tokens();
    let genuine = tokens.issue("alice", session(), now()).unwrap().token;
    let (_, rest) = genuine.split_once('.').unwrap();
    for alg in [
        "HS384", "HS512", "RS256", "ES256", "EdDSA", "hs256", "PS256", "", "HS256 ",
    ] {
        let header = b64_json(&json!({"alg": alg, "typ": "JWT", "kid": "hs"}));
        let token = format!("{header}.{rest}");
        assert_eq!(
            tokens.verify(&token, now()),
            Err(InvalidToken::AlgMismatch),
            "{alg:?}"
        );
    }
    // A well-signed RS256 token relabelled for the EC key is refused before any signature
    // check.
    let rsa_signed = craft(
        &json!({"alg": "RS256", "kid": "ec"}),
        &claims_at(now()),
        &EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    assert_eq!(
        tokens.verify(&rsa_signed, now()),
        Err(InvalidToken::AlgMismatch)
    );
}

#[test]
fn unsigned_tokens_are_refused() {
    let tokens = mixed_tokens();
    let claims = b64_json(&claims_at(now()));
    for alg in ["none", "None", "NONE", "nOnE"] {
        for kid in [Some("hs"), None] {
            let mut header = json!({"alg": alg, "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let header = b64_json(&header);
            for signature in ["", "c2lnbmF0dXJl"] {
                let token = format!("{header}.{claims}.{signature}");
                assert_eq!(
                    tokens.verify(&token, now()),
                    Err(InvalidToken::AlgNone),
                    "{token}"
                );
            }
        }
    }
}

#[test]
fn keys_are_never_taken_or_fetched_from_headers() {
    // Anything that would fetch a key from jku or x5u would connect here.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());

    let tokens = mixed_tokens();
    let attacker = EncodingKey::from_ec_pem(EC_OTHER.as_bytes()).unwrap();
    let attacker_jwk = jwk_of(&attacker, Algorithm::ES256);
    let claims = claims_at(now());
    let cases = [
        // The attacker's own key embedded, under a kid the ring lacks, under ours, under none.
        (
            json!({"alg": "ES256", "kid": "attacker", "jwk": attacker_jwk}),
            InvalidToken::UnknownKid,
        ),
        (
            json!({"alg": "ES256", "kid": "ec", "jwk": attacker_jwk}),
            InvalidToken::BadSignature,
        ),
        (
            json!({"alg": "ES256", "jwk": attacker_jwk}),
            InvalidToken::UnknownKid,
        ),
        // Key URLs.
        (
            json!({"alg": "ES256", "kid": "attacker", "jku": url}),
            InvalidToken::UnknownKid,
        ),
        (
            json!({"alg": "ES256", "kid": "ec", "jku": url}),
            InvalidToken::BadSignature,
        ),
        (
            json!({"alg": "ES256", "kid": "ec", "x5u": url}),
            InvalidToken::BadSignature,
        ),
        (
            json!({"alg": "ES256", "x5u": url, "jku": url}),
            InvalidToken::UnknownKid,
        ),
    ];
    for (header, refusal) in cases {
        let token = craft(&header, &claims, &attacker, Algorithm::ES256);
        assert_eq!(tokens.verify(&token, now()), Err(refusal), "{header}");
    }
    // An HMAC secret embedded as a jwk is ignored as well.
    let attacker_secret = EncodingKey::from_secret(b"the attacker's own 32-byte secret").unwrap();
    let secret_jwk = jwk_of(&attacker_secret, Algorithm::HS256);
    let token = craft(
        &json!({"alg": "HS256", "kid": "hs", "jwk": secret_jwk, "jku": url}),
        &claims,
        &attacker_secret,
        Algorithm::HS256,
    );
    assert_eq!(
        tokens.verify(&token, now()),
        Err(InvalidToken::BadSignature)
    );

    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a verification connected to a key URL"
    );

    // Our own key listed in the header changes nothing: the ring's key verifies.
    let genuine = craft_hs(json!({"jku": url, "x5u": url}), &claims);
    assert!(tokens.verify(&genuine, now()).is_ok());
}

#[test]
fn a_signature_by_another_key_under_a_listed_kid_is_refused() {
    let tokens = mixed_tokens();
    let claims = claims_at(now());
    let cases = [
        (
            "rsa",
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RSA_OTHER.as_bytes()).unwrap(),
        ),
        (
            "ec",
            Algorithm::ES256,
            EncodingKey::from_ec_pem(EC_OTHER.as_bytes()).unwrap(),
        ),
        (
            "ed",
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(ED_OTHER.as_bytes()).unwrap(),
        ),
        (
            "hs",
            Algorithm::HS256,
            EncodingKey::from_secret(SECRET_2.as_bytes()).unwrap(),
        ),
    ];
    for (kid, algorithm, key) in cases {
        let header = json!({"alg": format!("{algorithm:?}"), "kid": kid});
        let token = craft(&header, &claims, &key, algorithm);
        assert_eq!(
            tokens.verify(&token, now()),
            Err(InvalidToken::BadSignature),
            "{kid}"
        );
        // And truncated or empty signatures, which some backends parse by length.
        let (message, signature) = token.rsplit_once('.').unwrap();
        for cut in [0, 1, signature.len() / 2] {
            let token = format!("{message}.{}", &signature[..cut]);
            let result = tokens.verify(&token, now());
            assert!(
                matches!(
                    result,
                    Err(InvalidToken::BadSignature | InvalidToken::Malformed)
                ),
                "{kid} cut at {cut}: {result:?}"
            );
        }
    }
}

#[test]
fn a_critical_header_extension_is_refused() {
    let token = craft_hs(json!({"crit": ["exp"], "exp": 1}), &claims_at(now()));
    assert_eq!(
        hs_tokens().verify(&token, now()),
        Err(InvalidToken::UnsupportedCritical)
    );
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let tokens = hs_tokens();
    // Just over the limit, even if its start is a genuine token.
    let genuine = tokens.issue("alice", session(), now()).unwrap().token;
    let padded = format!("{genuine}{}", "A".repeat(MAX_TOKEN_LEN + 1 - genuine.len()));
    assert_eq!(padded.len(), MAX_TOKEN_LEN + 1);
    assert_eq!(tokens.verify(&padded, now()), Err(InvalidToken::TooLarge));
    // A huge header, and a megabyte of junk.
    let huge_header = craft_hs(json!({"junk": "x".repeat(9000)}), &claims_at(now()));
    assert_eq!(
        tokens.verify(&huge_header, now()),
        Err(InvalidToken::TooLarge)
    );
    let junk = vec![b'.'; 1 << 20];
    assert_eq!(tokens.verify(&junk, now()), Err(InvalidToken::TooLarge));
    // At exactly the limit the token is parsed (and refused for what it is).
    let at_limit = "A".repeat(MAX_TOKEN_LEN);
    assert_eq!(
        tokens.verify(&at_limit, now()),
        Err(InvalidToken::Malformed)
    );
    // A large header under the limit is parsed like any other.
    let large_header = craft_hs(json!({"junk": "x".repeat(5000)}), &claims_at(now()));
    assert!(large_header.len() < MAX_TOKEN_LEN);
    assert!(tokens.verify(&large_header, now()).is_ok());
}

#[test]
fn malformed_tokens_get_a_typed_refusal() {
    let tokens = mixed_tokens();
    let claims = b64_json(&claims_at(now()));
    let header = b64_json(&json!({"alg": "HS256", "kid": "hs"}));
    let cases: Vec<(String, InvalidToken)> = vec![
        (String::new(), InvalidToken::Malformed),
        (".".into(), InvalidToken::Malformed),
        ("..".into(), InvalidToken::Malformed),
        ("...".into(), InvalidToken::Malformed),
        ("a.b.c".into(), InvalidToken::Malformed),
        ("!!!.!!!.!!!".into(), InvalidToken::Malformed),
        (format!("{header}.{claims}"), InvalidToken::Malformed),
        (
            format!("{header}.{claims}.c2ln.c2ln"),
            InvalidToken::Malformed,
        ),
        (format!("{header}=.{claims}.c2ln"), InvalidToken::Malformed),
        (format!("{header}.{claims}.c2ln+/"), InvalidToken::Malformed),
        (
            format!("{}.{claims}.c2ln", b64(b"not json")),
            InvalidToken::Malformed,
        ),
        (
            format!("{}.{claims}.c2ln", b64(b"[]")),
            InvalidToken::Malformed,
        ),
        (
            format!("{}.{claims}.c2ln", b64(b"{}")),
            InvalidToken::Malformed,
        ),
        (
            format!("{}.{claims}.c2ln", b64(br#"{"alg":7,"kid":"hs"}"#)),
            InvalidToken::Malformed,
        ),
        (
            format!("{}.{claims}.c2ln", b64(br#"{"alg":"HS256","kid":["hs"]}"#)),
            InvalidToken::Malformed,
        ),
        (
            format!(
                "{}.{claims}.c2ln",
                b64(br#"{"alg":"HS256","alg":"none","kid":"hs"}"#)
            ),
            InvalidToken::Malformed,
        ),
        (
            format!("{}.{claims}.c2ln", b64(br#"{"alg":"HS256"}"#)),
            InvalidToken::UnknownKid,
        ),
        (
            format!("{}.{claims}.c2ln", b64(&[0xff, 0xfe, b'{'])),
            InvalidToken::Malformed,
        ),
    ];
    for (token, refusal) in cases {
        assert_eq!(tokens.verify(&token, now()), Err(refusal), "{token:?}");
    }
    // Validly signed, but the claims are not the expected JSON.
    for payload in [&b"not json"[..], b"[]", b"null", br#"{"exp":"soon"}"#] {
        let message = format!("{header}.{}", b64(payload));
        let signature = sign(
            message.as_bytes(),
            &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
            Algorithm::HS256,
        );
        let token = format!("{message}.{signature}");
        assert_eq!(tokens.verify(&token, now()), Err(InvalidToken::Malformed));
    }
}

#[test]
fn random_input_never_panics() {
    let tokens = mixed_tokens();
    let mut rng = rand::rng();
    let alphabet = b"ABCxyz019-_.=+/ \0{}\"";
    for round in 0..2_000 {
        let len = rng.random_range(0..200);
        let input: Vec<u8> = if round % 2 == 0 {
            (0..len).map(|_| rng.random::<u8>()).collect()
        } else {
            (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        };
        assert!(tokens.verify(&input, now()).is_err(), "{input:?}");
    }
}

#[test]
fn any_single_change_to_a_genuine_token_is_refused() {
    let tokens = hs_tokens();
    let genuine = tokens.issue("alice", session(), now()).unwrap().token;
    let mut rng = rand::rng();
    for position in 0..genuine.len() {
        for _ in 0..4 {
            let mut bytes = genuine.clone().into_bytes();
            let original = bytes[position];
            while bytes[position] == original {
                bytes[position] = b"ABCabc019-_.=+/"[rng.random_range(0..15)];
            }
            let result = tokens.verify(&bytes, now());
            assert!(result.is_err(), "changed byte {position}: accepted");
        }
    }
    assert!(tokens.verify(&genuine, now()).is_ok());
}
