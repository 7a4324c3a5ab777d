//! `GET /sessions`: a page of sessions by state and user, in JSON or CSV.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue};
use serde::Deserialize;
use serde_json::json;

use super::error::AdminError;
use super::{export, Admin};
use crate::store::{SessionQuery, SessionState, SessionStore};

/// A page holds this many sessions unless `limit` says otherwise.
pub(crate) const DEFAULT_LIMIT: usize = 50;
/// The largest page: a bigger export is several requests.
pub(crate) const MAX_LIMIT: usize = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum StateParam {
    Active,
    Expired,
    All,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize)]
pub(crate) struct Params {
    state: Option<StateParam>,
    user: Option<String>,
    format: Option<Format>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// `GET /sessions?state=active|expired|all&user=U&format=json|csv&offset=N&limit=N`: newest
/// first. JSON is `{"sessions": [...], "offset", "limit", "next_offset"}` (`next_offset` is
/// `null` on the last page); CSV is the page's rows under a header row.
pub(crate) async fn list(
    State(admin): State<Arc<Admin>>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(params) = params.map_err(|_| AdminError::InvalidQuery)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(AdminError::InvalidQuery);
    }
    let offset = params.offset.unwrap_or(0);
    let now = SystemTime::now();
    let query = SessionQuery {
        state: match params.state {
            None | Some(StateParam::Active) => SessionState::Active,
            Some(StateParam::Expired) => SessionState::Expired,
            Some(StateParam::All) => SessionState::All,
        },
        // `user=` (empty) is no filter, as a form's empty field means.
        user: params.user.filter(|u| !u.is_empty()),
        now,
        offset,
        // One more than the page, to tell whether another page follows.
        limit: limit + 1,
    };
    let mut records = admin.sessions.store.query(&query).await?;
    let more = records.len() > limit;
    records.truncate(limit);
    if params.format.unwrap_or_default() == Format::Csv {
        let body = export::csv(&records, now).map_err(|err| {
            tracing::error!("admin CSV export failed: {err}");
            AdminError::Store(crate::StoreError::backend(err))
        })?;
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static(r#"attachment; filename="sessions.csv""#),
        );
        return Ok(response);
    }
    let sessions: Vec<_> = records.iter().map(|r| export::json_row(r, now)).collect();
    Ok(Json(json!({
        "sessions": sessions,
        "offset": offset,
        "limit": limit,
        "next_offset": more.then_some(offset + limit),
    }))
    .into_response())
}
