//! `GET /stats`: how many signed-in sessions are active now, and for how many users.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::AdminError;
use super::Admin;
use crate::store::SessionStore;

/// The stats as JSON: `{"active": n, "users": m}`.
pub(crate) async fn current(admin: &Admin) -> Result<Value, AdminError> {
    let counts = admin.sessions.store.count_active(SystemTime::now()).await?;
    Ok(json!({ "active": counts.sessions, "users": counts.users }))
}

/// `GET /stats`: 200 `{"active": n, "users": m}`.
pub(crate) async fn stats(State(admin): State<Arc<Admin>>) -> Result<Json<Value>, AdminError> {
    Ok(Json(current(&admin).await?))
}
