//! The JWT layer tests' routes plus those a stateless access token is judged by: who the
//! token says (no store read), the session's record (read by id), and ending the user's other
//! sessions; and stateless instances of them, counting their store calls.
#![allow(dead_code)] // each test binary uses a different subset

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use sessionward::store::{MemoryStore, SessionStore};
use sessionward::token::AccessTokens;
use sessionward::{Authenticated, Session, SessionError, SessionLayer};

use crate::common::audit::Recorder;
use crate::common::{serve, FlakyStore, Server};
use crate::jwt_layer_support::{access_tokens, app};

/// The signed-in user and session, from `Authenticated` alone.
async fn whoami(auth: Authenticated) -> Json<Value> {
    Json(json!({"user": auth.user(), "sid": auth.session_id().to_string()}))
}

/// `Session::user` and `Session::id`, with no extractor in between.
async fn ids(session: Session) -> Result<Json<Value>, SessionError> {
    let user = session.user().await?;
    let sid = session.id().await?.map(|id| id.to_string());
    Ok(Json(json!({"user": user, "sid": sid})))
}

/// What the demo's `/api/me` answers: the record's times, or 401 without a session.
async fn record(auth: Authenticated) -> Result<Response, SessionError> {
    let Some(record) = auth.session().record().await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let secs =
        |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    Ok(Json(json!({
        "user": auth.user(),
        "sid": record.id.to_string(),
        "created_at": secs(record.created_at),
        "expires_at": secs(record.expires_at),
    }))
    .into_response())
}

async fn revoke_others(auth: Authenticated) -> Result<String, SessionError> {
    Ok(auth.session().revoke_others().await?.to_string())
}

async fn revoke_all(auth: Authenticated) -> Result<String, SessionError> {
    Ok(auth.session().revoke_all().await?.to_string())
}

/// The shared access tokens, stateless, with a denylist of `capacity` of this instance's own.
pub fn stateless(capacity: usize) -> AccessTokens {
    access_tokens().stateless(capacity)
}

/// An instance of the routes behind `layer`, recording its audit trail.
pub async fn serve_layer<S: SessionStore>(
    layer: SessionLayer<S>,
) -> (Server, Recorder, SessionLayer<S>) {
    let recorder = Recorder::default();
    let layer = layer.audit(recorder.clone());
    let routes = app()
        .route("/whoami", get(whoami))
        .route("/ids", get(ids))
        .route("/record", get(record))
        .route("/revoke-others", post(revoke_others))
        .route("/revoke-all", post(revoke_all));
    let server = serve(routes.layer(layer.clone())).await;
    (server, recorder, layer)
}

/// A stateless instance on `store` (a denylist of `capacity`), its store calls counted.
pub struct Instance {
    pub server: Server,
    pub store: FlakyStore,
    pub recorder: Recorder,
    pub layer: SessionLayer<FlakyStore>,
}

impl Instance {
    pub async fn stateless(store: MemoryStore, capacity: usize) -> Self {
        Self::with(store, |layer| layer.access_tokens(stateless(capacity))).await
    }

    /// An instance whose layer `configure` finishes (it sets the access tokens).
    pub async fn with(
        store: MemoryStore,
        configure: impl FnOnce(SessionLayer<FlakyStore>) -> SessionLayer<FlakyStore>,
    ) -> Self {
        let store = FlakyStore::wrap(store);
        let (server, recorder, layer) =
            serve_layer(configure(SessionLayer::new(store.clone()))).await;
        Self {
            server,
            store,
            recorder,
            layer,
        }
    }

    /// The `invalid_token` reasons audited since the last call.
    pub async fn refusals(&self) -> Vec<String> {
        let audit = self.layer.config().audit().expect("audited");
        crate::jwt_layer_support::invalid_token_reasons(&self.recorder.take(audit).await)
    }

    /// `GET path` with `bearer`: the status, the body, and how many store calls it made.
    pub async fn get(&self, path: &str, bearer: &str) -> (u16, Value, usize) {
        let before = self.store.calls();
        let res = self
            .server
            .get(path)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body, self.store.calls() - before)
    }

    /// `POST path` with `bearer`: the status and the body as text.
    pub async fn post(&self, path: &str, bearer: &str) -> (u16, String) {
        let res = self
            .server
            .post(path)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Asserts `bearer` is refused by `GET /whoami`, at the cost of `store_calls` store calls,
    /// with the Bearer `invalid_token` challenge.
    pub async fn assert_refused(&self, bearer: &str, store_calls: usize, why: &str) {
        let before = self.store.calls();
        let res = self
            .server
            .get("/whoami")
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{why}");
        assert_eq!(
            res.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some(r#"Bearer error="invalid_token""#),
            "{why}"
        );
        assert_eq!(
            self.store.calls() - before,
            store_calls,
            "{why}: store calls"
        );
    }

    /// Asserts `bearer` is accepted by `GET /whoami` as `user`, with no store call.
    pub async fn assert_accepted(&self, bearer: &str, user: &str, why: &str) {
        let (status, body, calls) = self.get("/whoami", bearer).await;
        assert_eq!((status, body["user"].as_str()), (200, Some(user)), "{why}");
        assert_eq!(calls, 0, "{why}: no store call");
    }
}
