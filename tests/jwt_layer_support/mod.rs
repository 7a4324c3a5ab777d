//! Small routes for the JWT layer tests, instances of them over any store, and the check that
//! two instances sharing a store and a key ring accept each other's access tokens and see each
//! other's logouts.
#![allow(dead_code)] // each test binary uses a different subset

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use sessionward::audit::AuditEvent;
use sessionward::store::SessionStore;
use sessionward::token::{AccessTokens, KeyRing};
use sessionward::{Authenticated, Session, SessionError, SessionId, SessionLayer};

use crate::common::audit::Recorder;
use crate::common::{serve, Server};

pub const SECRET: &str = "a shared secret of at least 32 bytes, for every instance";

/// The access tokens every instance of a test uses: one key ring, as instances share it.
pub fn access_tokens() -> AccessTokens {
    AccessTokens::new(KeyRing::from_secret(SECRET).expect("valid secret")).issuer("jwt-layer-test")
}

/// Signs in as the user in the body and answers the opaque token, an access
/// token for the session and its id.
async fn login(session: Session, Json(user): Json<String>) -> Result<Json<Value>, SessionError> {
    session.login(user.as_str()).await?;
    let issued = session.issue_access_token().await?;
    Ok(Json(json!({
        "token": session.issued_token().await,
        "jwt": issued.token,
        "sid": issued.claims.sid.to_string(),
    })))
}

async fn me(auth: Authenticated) -> Result<Json<Value>, SessionError> {
    let n: Option<i64> = auth.session().get("n").await?;
    Ok(Json(json!({
        "user": auth.user(),
        "sid": auth.session_id().to_string(),
        "n": n,
    })))
}

async fn put_n(auth: Authenticated, Json(n): Json<i64>) -> Result<StatusCode, SessionError> {
    auth.session().insert("n", &n).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout(session: Session) -> Result<StatusCode, SessionError> {
    session.logout().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(auth: Authenticated, Path(id): Path<String>) -> Result<StatusCode, SessionError> {
    let Some(id) = SessionId::parse(&id) else {
        return Ok(StatusCode::NOT_FOUND);
    };
    Ok(if auth.session().revoke(&id).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    })
}

/// A new access token for the request's session, whoever it is.
async fn token(session: Session) -> Result<String, SessionError> {
    Ok(session.issue_access_token().await?.token)
}

pub fn app() -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/n", put(put_n))
        .route("/logout", post(logout))
        .route("/revoke/{id}", post(revoke))
        .route("/token", post(token))
        .route("/ping", get(|| async { "pong" }))
}

/// An instance of [`app`] on `store`, with the shared access tokens.
pub async fn instance<S: SessionStore>(store: S) -> Server {
    serve(app().layer(SessionLayer::new(store).access_tokens(access_tokens()))).await
}

/// An instance recording its audit trail, and the layer (for its audit handle).
pub async fn audited<S: SessionStore>(
    layer: SessionLayer<S>,
) -> (Server, Recorder, SessionLayer<S>) {
    let recorder = Recorder::default();
    let layer = layer.audit(recorder.clone());
    let server = serve(app().layer(layer.clone())).await;
    (server, recorder, layer)
}

/// The `invalid_token` reasons among `events`.
pub fn invalid_token_reasons(events: &[AuditEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event == sessionward::audit::AuditKind::InvalidToken)
        .filter_map(|e| e.reason.as_deref().map(str::to_owned))
        .collect()
}

/// What a login answered.
pub struct LoggedIn {
    pub token: String,
    pub jwt: String,
    pub sid: String,
}

pub async fn log_in(server: &Server, user: &str) -> LoggedIn {
    let res = server.post("/login").json(&user).send().await.unwrap();
    assert_eq!(res.status(), 200, "login");
    let body: Value = res.json().await.unwrap();
    LoggedIn {
        token: body["token"].as_str().expect("opaque token").to_owned(),
        jwt: body["jwt"].as_str().expect("access token").to_owned(),
        sid: body["sid"].as_str().expect("session id").to_owned(),
    }
}

/// `GET /me` with `bearer`: the status, the body, whether a cookie was set, and the challenge.
pub async fn get_me(server: &Server, bearer: &str) -> (u16, Value, bool, Option<String>) {
    let res = server.get("/me").bearer_auth(bearer).send().await.unwrap();
    let status = res.status().as_u16();
    let cookie = res.headers().contains_key("set-cookie");
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        res.json().await.unwrap_or(Value::Null),
        cookie,
        challenge,
    )
}

/// Asserts `bearer` is refused: 401 with the Bearer `invalid_token` challenge, no cookie.
pub async fn assert_refused(server: &Server, bearer: &str, why: &str) {
    let (status, _, cookie, challenge) = get_me(server, bearer).await;
    assert_eq!(status, 401, "{why}");
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token""#),
        "{why}"
    );
    assert!(!cookie, "{why}: a bearer response sets no cookie");
}

/// Two instances sharing a store and a key ring: each accepts the other's access tokens, sees
/// its writes, and its logouts and revocations end the tokens at once.
pub async fn assert_instances_share<S: SessionStore + Clone>(store: S) {
    let (a, b) = (instance(store.clone()).await, instance(store).await);
    let alice = log_in(&a, "alice").await;
    let (status, body, cookie, _) = get_me(&b, &alice.jwt).await;
    assert_eq!(status, 200, "a token issued by A is accepted by B");
    assert_eq!(
        (body["user"].as_str(), body["sid"].as_str()),
        (Some("alice"), Some(alice.sid.as_str()))
    );
    assert!(!cookie);

    let res = b
        .put("/n")
        .bearer_auth(&alice.jwt)
        .json(&7)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!res.headers().contains_key("set-cookie"));
    let (_, body, _, _) = get_me(&a, &alice.jwt).await;
    assert_eq!(body["n"], 7, "B's write through the token is read on A");

    // Logout on A through the token: B refuses the token on its next request.
    let res = a
        .post("/logout")
        .bearer_auth(&alice.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!res.headers().contains_key("set-cookie"));
    assert_refused(&b, &alice.jwt, "a logout on A ends the token on B").await;
    assert_refused(&a, &alice.token, "and the opaque token").await;

    // Revocation from another device on B ends the first device's token on A.
    let phone = log_in(&a, "bob").await;
    let laptop = log_in(&b, "bob").await;
    assert_eq!(get_me(&a, &phone.jwt).await.0, 200);
    let res = b
        .post(&format!("/revoke/{}", phone.sid))
        .bearer_auth(&laptop.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "the laptop revokes the phone");
    assert_refused(&a, &phone.jwt, "a revocation on B ends the token on A").await;
    assert_eq!(
        get_me(&a, &laptop.jwt).await.0,
        200,
        "the laptop's token still works"
    );
}
