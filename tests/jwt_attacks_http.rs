//! Hostile access tokens over real HTTP on loopback (RFC 8725), one test per attack vector:
//! `alg: none`, an RSA public key used as an HMAC secret, a wrong signature, tampered claims,
//! unknown and path-like `kid`s, `jku`/`x5u` key URLs (never fetched), expired and not yet
//! valid tokens, a wrong issuer or audience, oversized tokens, a reused refresh token, and a
//! revoked session whose access token has not expired yet.
//!
//! Each hostile token goes as `Authorization: Bearer` to an axum app behind
//! `SessionLayer::new(MemoryStore::default()).access_tokens(..)` (stateful) with an audit
//! recorder, and is answered 401 with the challenge `Bearer error="invalid_token"`, never a
//! 5xx, with one `invalid_token` audit event carrying the refusal's reason. A genuine token
//! still works afterwards: the attack changed nothing. `tests/jwt_attacks.rs` checks the same
//! vectors on `AccessTokens::verify` alone.

mod common;
mod jwt_layer_support;
mod jwt_support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, SystemTime};

use axum::routing::post;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_layer_support::{
    app, assert_refused, audited, get_me, invalid_token_reasons, log_in, LoggedIn,
};
use jwt_support::{
    b64_json, craft, craft_hs, jwk_of, unix, EC_OTHER, RSA, RSA_OTHER, RSA_PUB, SECRET,
};
use serde_json::{json, Value};
use sessionward::audit::{AuditEvent, AuditHandle, AuditKind};
use sessionward::store::MemoryStore;
use sessionward::token::{
    AccessTokens, BearerTokens, JwtAlgorithm, JwtKey, KeyRing, MAX_TOKEN_LEN,
};
use sessionward::{Session, SessionError, SessionId, SessionLayer};

use common::audit::Recorder;
use common::{serve, Server};

const ISSUER: &str = "https://auth.sessionward.test";
const AUDIENCE: &str = "api";

/// The app's ring: HS256 "hs" ([`SECRET`]) signs; the RSA public key "rsa" verifies.
fn ring() -> KeyRing {
    KeyRing::new(JwtKey::hs256("hs", SECRET).unwrap())
        .unwrap()
        .with_verifying_key(JwtKey::public_pem("rsa", JwtAlgorithm::Rs256, RSA_PUB).unwrap())
        .unwrap()
}

/// The app's access tokens: [`ring`], with an issuer and an audience required.
fn tokens() -> AccessTokens {
    AccessTokens::new(ring()).issuer(ISSUER).audience(AUDIENCE)
}

fn hs_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).unwrap()
}

/// The decoded claims of a compact token.
fn claims_of(token: &str) -> Value {
    let claims = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
}

/// The app under attack, with alice signed in and the audit trail of her login cleared.
struct Target {
    server: Server,
    recorder: Recorder,
    layer: SessionLayer<MemoryStore>,
    alice: LoggedIn,
}

impl Target {
    async fn start() -> Self {
        let layer = SessionLayer::new(MemoryStore::default()).access_tokens(tokens());
        let (server, recorder, layer) = audited(layer).await;
        let alice = log_in(&server, "alice").await;
        let target = Self {
            server,
            recorder,
            layer,
            alice,
        };
        target.events().await;
        target.assert_alice_served().await;
        target
    }

    fn audit(&self) -> &AuditHandle {
        self.layer.config().audit().unwrap()
    }

    /// The audit events since the last call.
    async fn events(&self) -> Vec<AuditEvent> {
        self.recorder.take(self.audit()).await
    }

    /// Claims a token for alice's session would carry now, to craft hostile ones from.
    fn claims(&self) -> Value {
        let now = unix(SystemTime::now());
        json!({
            "iss": ISSUER,
            "sub": "alice",
            "aud": AUDIENCE,
            "exp": now + 300,
            "iat": now,
            "nbf": now,
            "jti": "crafted-by-the-attacker",
            "sid": self.alice.sid,
        })
    }

    /// `token` is refused: 401 with the Bearer `invalid_token` challenge and no cookie, and
    /// exactly one audit event, `invalid_token` with `reason`.
    async fn assert_refused(&self, token: &str, reason: &str, why: &str) {
        let (status, _, cookie, challenge) = get_me(&self.server, token).await;
        assert_eq!(status, 401, "{why}");
        let challenge = challenge.unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{why}: {challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{why}: {challenge}"
        );
        assert!(!cookie, "{why}: a bearer response sets no cookie");
        let events = self.events().await;
        assert_eq!(invalid_token_reasons(&events), [reason], "{why}");
        assert_eq!(events.len(), 1, "{why}: {events:?}");
    }

    /// Alice's genuine token still reads her session.
    async fn assert_alice_served(&self) {
        let (status, body, _, _) = get_me(&self.server, &self.alice.jwt).await;
        assert_eq!(status, 200, "the genuine token is still accepted");
        assert_eq!(body["user"], "alice");
        assert_eq!(body["sid"], self.alice.sid.as_str());
        assert!(
            self.events().await.is_empty(),
            "a genuine request audits nothing"
        );
    }
}

#[tokio::test]
async fn alg_none_is_refused() {
    let target = Target::start().await;
    let claims = b64_json(&target.claims());
    for alg in ["none", "None", "NONE", "nOnE"] {
        for header in [
            json!({"alg": alg, "typ": "JWT", "kid": "hs"}),
            json!({"alg": alg, "typ": "JWT"}),
        ] {
            let header = b64_json(&header);
            for signature in ["", "c2lnbmF0dXJl"] {
                let token = format!("{header}.{claims}.{signature}");
                target.assert_refused(&token, "alg_none", &token).await;
            }
        }
    }
    target.assert_alice_served().await;
}

#[tokio::test]
async fn an_rsa_public_key_used_as_an_hmac_secret_is_refused() {
    let target = Target::start().await;
    // The RSA key is live: a token signed by its private key under "rsa" is accepted.
    let rs256 = craft(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa"}),
        &target.claims(),
        &EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    let (status, body, _, _) = get_me(&target.server, &rs256).await;
    assert_eq!((status, &body["user"]), (200, &json!("alice")));
    target.events().await;

    // The classic confusion: HS256 with the verifier's public key PEM as the secret.
    for secret in [RSA_PUB, RSA_PUB.trim_end()] {
        let forged = craft(
            &json!({"alg": "HS256", "typ": "JWT", "kid": "rsa"}),
            &target.claims(),
            &hs_key(secret.as_bytes()),
            Algorithm::HS256,
        );
        target
            .assert_refused(
                &forged,
                "alg_mismatch",
                "HS256 keyed with the RSA public key",
            )
            .await;
    }
    target.assert_alice_served().await;
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    let target = Target::start().await;
    let cases = [
        (
            "hs",
            Algorithm::HS256,
            hs_key(b"the attacker's own 32-byte secret"),
        ),
        (
            "rsa",
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RSA_OTHER.as_bytes()).unwrap(),
        ),
    ];
    for (kid, algorithm, key) in cases {
        let header = json!({"alg": format!("{algorithm:?}"), "typ": "JWT", "kid": kid});
        let token = craft(&header, &target.claims(), &key, algorithm);
        target.assert_refused(&token, "bad_signature", kid).await;
    }
    // Alice's own token with one signature character changed (not the last, which carries
    // padding bits), and with the signature cut off.
    let jwt = &target.alice.jwt;
    let at = jwt.rfind('.').unwrap() + 5;
    let mut changed = jwt.clone().into_bytes();
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    target
        .assert_refused(&changed, "bad_signature", "a changed signature")
        .await;
    let cut = &jwt[..=jwt.rfind('.').unwrap()];
    target
        .assert_refused(cut, "bad_signature", "no signature")
        .await;
    target.assert_alice_served().await;
}

#[tokio::test]
async fn tampered_claims_are_refused() {
    let target = Target::start().await;
    // Mallory holds a genuine token of her own and rewrites its claims, keeping its signature.
    let mallory = log_in(&target.server, "mallory").await;
    // Used once first, so the layer remembers it: a rewrite keeping its signature is another
    // token all the same, and is verified in full.
    let (status, _, _, _) = get_me(&target.server, &mallory.jwt).await;
    assert_eq!(status, 200);
    target.events().await;
    let (header, rest) = mallory.jwt.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let genuine = claims_of(&mallory.jwt);
    let rewrites = [
        (
            "alice's session",
            json!({"sub": "alice", "sid": target.alice.sid}),
        ),
        ("only the sid", json!({"sid": target.alice.sid})),
        (
            "a later exp",
            json!({"exp": genuine["exp"].as_u64().unwrap() + 86_400}),
        ),
        ("another audience", json!({"aud": "admin"})),
    ];
    for (why, changes) in rewrites {
        let mut claims = genuine.clone();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let token = format!("{header}.{}.{signature}", b64_json(&claims));
        target.assert_refused(&token, "bad_signature", why).await;
    }
    // Mallory's token itself still works, for her own session.
    let (status, body, _, _) = get_me(&target.server, &mallory.jwt).await;
    assert_eq!((status, &body["sid"]), (200, &json!(mallory.sid)));
    target.events().await;
    target.assert_alice_served().await;
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let target = Target::start().await;
    let attacker = hs_key(b"the attacker's own 32-byte secret");
    for kid in [json!("attacker"), json!(""), json!("HS"), json!("hs ")] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        let token = craft(&header, &target.claims(), &attacker, Algorithm::HS256);
        target
            .assert_refused(&token, "unknown_kid", &kid.to_string())
            .await;
    }
    // No kid at all, even when signed with the ring's own secret: the key is never guessed.
    let token = craft(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &target.claims(),
        &hs_key(SECRET.as_bytes()),
        Algorithm::HS256,
    );
    target.assert_refused(&token, "unknown_kid", "no kid").await;
    target.assert_alice_served().await;
}

#[tokio::test]
async fn a_path_like_kid_is_refused() {
    let target = Target::start().await;
    // Each kid is signed with what a verifier that read the kid as a file name (or a query)
    // would use as the secret. HMAC pads its key with zeros, so the key "\0" signs exactly as
    // the empty content of /dev/null would.
    let passwd = b"root:x:0:0:root:/root:/bin/bash\n";
    let cases: [(&str, &[u8]); 6] = [
        ("../../etc/passwd", passwd),
        ("../../../../../../etc/passwd", passwd),
        ("/etc/passwd", passwd),
        ("/dev/null", b"\0"),
        ("../../../../dev/null", b"\0"),
        ("x' UNION SELECT 'attacker-key", b"attacker-key"),
    ];
    for (kid, secret) in cases {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        let token = craft(&header, &target.claims(), &hs_key(secret), Algorithm::HS256);
        target.assert_refused(&token, "unknown_kid", kid).await;
    }
    target.assert_alice_served().await;
}

#[tokio::test]
async fn jku_and_x5u_pointing_at_a_local_server_are_never_fetched() {
    let target = Target::start().await;
    // Anything that fetched a key from jku or x5u would connect here: the kernel completes the
    // connection into the backlog even though nothing accepts it yet.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );

    let attacker = EncodingKey::from_ec_pem(EC_OTHER.as_bytes()).unwrap();
    let jwk = jwk_of(&attacker, Algorithm::ES256);
    let secret = hs_key(b"the attacker's own 32-byte secret");
    let secret_jwk = jwk_of(&secret, Algorithm::HS256);
    let cases = [
        // A kid the ring lacks, for the key at the URL.
        (
            json!({"alg": "ES256", "kid": "attacker", "jku": url, "x5u": url}),
            &attacker,
            Algorithm::ES256,
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "jku": url, "jwk": jwk}),
            &attacker,
            Algorithm::ES256,
            "unknown_kid",
        ),
        // The ring's own kid, signed by the attacker's key the URL would serve.
        (
            json!({"alg": "HS256", "kid": "hs", "jku": url}),
            &secret,
            Algorithm::HS256,
            "bad_signature",
        ),
        (
            json!({"alg": "HS256", "kid": "hs", "x5u": url, "jwk": secret_jwk}),
            &secret,
            Algorithm::HS256,
            "bad_signature",
        ),
    ];
    for (mut header, key, algorithm, reason) in cases {
        header["typ"] = json!("JWT");
        let token = craft(&header, &target.claims(), key, algorithm);
        target
            .assert_refused(&token, reason, &header.to_string())
            .await;
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "a request reached the key URL"
    );
    target.assert_alice_served().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let target = Target::start().await;
    let sid = SessionId::parse(&target.alice.sid).unwrap();
    let now = SystemTime::now();
    // Lifetime 300 s, leeway 10 s: issued 311 s ago, it expired 11 s ago, past the leeway.
    for issued_ago in [3600, 311] {
        let issued_at = now - Duration::from_secs(issued_ago);
        let token = tokens().issue("alice", sid, issued_at).unwrap().token;
        let why = format!("issued {issued_ago} s ago");
        target.assert_refused(&token, "expired", &why).await;
    }
    target.assert_alice_served().await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let target = Target::start().await;
    let now = unix(SystemTime::now());
    // Genuinely signed, issued now, valid only from an hour on (or past the leeway).
    for ahead in [3600, 60] {
        let mut claims = target.claims();
        claims["nbf"] = json!(now + ahead);
        claims["exp"] = json!(now + ahead + 300);
        let token = craft_hs(json!({"typ": "JWT"}), &claims);
        let why = format!("nbf {ahead} s ahead");
        target.assert_refused(&token, "not_yet_valid", &why).await;
    }
    target.assert_alice_served().await;
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let target = Target::start().await;
    let sid = SessionId::parse(&target.alice.sid).unwrap();
    // Signed by the ring's own key, for alice's session, by another issuer sharing the key.
    for issuer in ["https://evil.test", "https://auth.sessionward.test/", ""] {
        let other = AccessTokens::new(ring()).issuer(issuer).audience(AUDIENCE);
        let token = other.issue("alice", sid, SystemTime::now()).unwrap().token;
        target.assert_refused(&token, "wrong_issuer", issuer).await;
    }
    target.assert_alice_served().await;
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let target = Target::start().await;
    let sid = SessionId::parse(&target.alice.sid).unwrap();
    for audience in ["admin", "API", "api "] {
        let other = AccessTokens::new(ring()).issuer(ISSUER).audience(audience);
        let token = other.issue("alice", sid, SystemTime::now()).unwrap().token;
        target
            .assert_refused(&token, "wrong_audience", audience)
            .await;
    }
    // An audience list that does not name ours.
    let mut claims = target.claims();
    claims["aud"] = json!(["admin", "billing"]);
    let token = craft_hs(json!({"typ": "JWT"}), &claims);
    target
        .assert_refused(&token, "wrong_audience", "a list without ours")
        .await;
    target.assert_alice_served().await;
}

#[tokio::test]
async fn an_oversized_token_is_refused_without_a_server_error() {
    let target = Target::start().await;
    // Alice's genuine token padded to one byte over the limit.
    let jwt = &target.alice.jwt;
    let padded = format!("{jwt}{}", "A".repeat(MAX_TOKEN_LEN + 1 - jwt.len()));
    assert_eq!(padded.len(), MAX_TOKEN_LEN + 1);
    target
        .assert_refused(&padded, "too_large", "one byte over")
        .await;
    // Validly signed tokens with huge headers, and 64 KiB of dots.
    for junk in [9_000, 48_000] {
        let header = json!({"typ": "JWT", "junk": "x".repeat(junk)});
        let token = craft_hs(header, &target.claims());
        assert!(token.len() > MAX_TOKEN_LEN);
        let why = format!("{} bytes", token.len());
        target.assert_refused(&token, "too_large", &why).await;
    }
    let dots = ".".repeat(64 * 1024);
    target
        .assert_refused(&dots, "too_large", "64 KiB of dots")
        .await;
    target.assert_alice_served().await;
}

/// Signs the user in the body in as a bearer client: an OAuth token response.
async fn bearer_token(
    session: Session,
    Json(user): Json<String>,
) -> Result<Json<BearerTokens>, SessionError> {
    Ok(Json(session.sign_in_bearer(user).await?))
}

/// Exchanges the refresh token in the body for the next pair.
async fn bearer_refresh(
    session: Session,
    Json(refresh): Json<String>,
) -> Result<Json<BearerTokens>, SessionError> {
    Ok(Json(session.refresh_bearer(&refresh).await?))
}

async fn sign_in_bearer(server: &Server, user: &str) -> Value {
    let res = server
        .post("/bearer/token")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "bearer sign-in");
    res.json().await.unwrap()
}

async fn refresh(server: &Server, pair: &Value) -> (u16, Value) {
    let res = server
        .post("/bearer/refresh")
        .json(&pair["refresh_token"])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn a_reused_refresh_token_is_refused_and_ends_its_session() {
    // A zero race window: any second presentation of a used refresh token is reuse.
    let tokens = tokens().refresh_race_window(Duration::ZERO);
    let recorder = Recorder::default();
    let layer = SessionLayer::new(MemoryStore::default())
        .access_tokens(tokens)
        .audit(recorder.clone());
    let routes = app()
        .route("/bearer/token", post(bearer_token))
        .route("/bearer/refresh", post(bearer_refresh));
    let server = serve(routes.layer(layer.clone())).await;
    let audit = layer.config().audit().unwrap();

    let first = sign_in_bearer(&server, "alice").await;
    let other = sign_in_bearer(&server, "alice").await;
    let (status, second) = refresh(&server, &first).await;
    assert_eq!(status, 200, "the first use of the refresh token");
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(get_me(&server, access).await.0, 200);
    let sid = claims_of(access)["sid"].as_str().unwrap().to_owned();
    recorder.take(audit).await;

    // The thief replays the used refresh token.
    let (status, body) = refresh(&server, &first).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_grant")));
    let events = recorder.take(audit).await;
    let reuse: Vec<_> = events
        .iter()
        .filter(|e| e.event == AuditKind::RefreshReuse)
        .collect();
    assert_eq!(reuse.len(), 1, "{events:?}");
    assert_eq!(reuse[0].user.as_deref(), Some("alice"));
    assert_eq!(reuse[0].session_id.map(|id| id.to_string()), Some(sid));

    // The session's unexpired access tokens are refused at once, and so is its current
    // refresh token.
    for token in [access, first["access_token"].as_str().unwrap()] {
        assert_refused(&server, token, "an access token of the revoked session").await;
        assert_eq!(
            invalid_token_reasons(&recorder.take(audit).await),
            ["unknown"]
        );
    }
    let (status, body) = refresh(&server, &second).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_grant")));

    // Alice's other session is untouched.
    let (status, body, _, _) = get_me(&server, other["access_token"].as_str().unwrap()).await;
    assert_eq!((status, &body["user"]), (200, &json!("alice")));
    assert_eq!(refresh(&server, &other).await.0, 200);
}

#[tokio::test]
async fn a_revoked_sessions_unexpired_token_is_refused_at_once() {
    let target = Target::start().await;
    // alice's first session is the phone; she signs in again on a laptop.
    let phone = &target.alice;
    let laptop = log_in(&target.server, "alice").await;
    let exp = claims_of(&phone.jwt)["exp"].as_u64().unwrap();
    assert!(
        exp > unix(SystemTime::now()) + 60,
        "the phone's token is far from expiry"
    );
    target.events().await;

    let res = target
        .server
        .post(&format!("/revoke/{}", phone.sid))
        .bearer_auth(&laptop.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "the laptop revokes the phone");
    target.events().await;

    // Stateful: the session is read on every use, so the very next request is refused.
    target
        .assert_refused(&phone.jwt, "unknown", "the revoked session's token")
        .await;
    target
        .assert_refused(&phone.token, "unknown", "and its opaque token")
        .await;
    let (status, body, _, _) = get_me(&target.server, &laptop.jwt).await;
    assert_eq!(status, 200, "the laptop's token still works");
    assert_eq!(body["sid"], laptop.sid.as_str());
}
