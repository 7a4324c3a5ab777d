//! The signed-in user's own sessions, one per device: list them, end one, or end all others.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;
use sessionward::{Authenticated, SessionError, SessionId};

use super::error;

/// `GET /api/sessions`: the caller's active sessions, newest first, the current one flagged.
pub async fn list(user: Authenticated) -> Result<Response, SessionError> {
    Ok(Json(user.session().list_mine().await?).into_response())
}

/// `DELETE /api/sessions/{id}`: ends one of the caller's sessions; 404 when the id is not one
/// of theirs (someone else's and an unknown id answer alike).
pub async fn revoke(user: Authenticated, Path(id): Path<String>) -> Result<Response, SessionError> {
    Ok(if revoke_mine(&user, &id).await? {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "not_found")
    })
}

/// `POST /api/sessions/revoke-others`: ends every session of the caller but this one.
pub async fn revoke_others(user: Authenticated) -> Result<Response, SessionError> {
    let revoked = user.session().revoke_others().await?;
    Ok(Json(json!({ "revoked": revoked })).into_response())
}

/// `POST /sessions/{id}/revoke`: the home page's revoke button (an HTML form cannot send
/// `DELETE`); answers `303 See Other` to `/` either way.
pub async fn revoke_form(
    user: Authenticated,
    Path(id): Path<String>,
) -> Result<Response, SessionError> {
    revoke_mine(&user, &id).await?;
    Ok(Redirect::to("/").into_response())
}

async fn revoke_mine(user: &Authenticated, id: &str) -> Result<bool, SessionError> {
    match SessionId::parse(id) {
        Some(id) => user.session().revoke(&id).await,
        None => Ok(false),
    }
}
