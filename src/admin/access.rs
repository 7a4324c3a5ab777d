//! Who may use the admin routes: a signed-in session the app's predicate accepts, and for a
//! route that changes something, a request a page of another site cannot forge.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_core::extract::FromRequestParts;
use http::{header, HeaderValue};

use super::error::AdminError;
use super::Admin;
use crate::Authenticated;

/// The admin caller, put in the request's extensions for the handlers that name who acted.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub(crate) String);

/// The middleware in front of every admin route: 401 without a signed-in session, 403 when the
/// predicate refuses it.
pub(crate) async fn admins_only(
    State(admin): State<Arc<Admin>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut response = match check(&admin, &mut parts).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(err) => err.into_response(),
    };
    // Session listings must not linger in a shared or browser cache.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn check(admin: &Admin, parts: &mut http::request::Parts) -> Result<Caller, AdminError> {
    let user = Authenticated::from_request_parts(parts, &())
        .await
        .map_err(AdminError::Unauthenticated)?;
    let record = user
        .session()
        .record()
        .await
        .map_err(AdminError::Session)?
        .ok_or(AdminError::Forbidden)?;
    if !(admin.authorize)(&record) {
        return Err(AdminError::Forbidden);
    }
    Ok(Caller(user.user().to_owned()))
}

/// The middleware in front of each admin route that changes something, after
/// [`admins_only`]: refuses a request that a page of another site could have made.
pub(crate) async fn unforged(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match forgery_checks(&parts) {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(err) => err.into_response(),
    }
}

/// A page on another site can make a browser send a form (urlencoded, multipart or plain
/// text) with the admin's cookie, but not a JSON body without the app's CORS consent; and a
/// browser names where a request comes from (`Sec-Fetch-Site`, `Origin`), judged by the rule
/// of [`CrossOriginLayer`](crate::csrf::CrossOriginLayer), with no origin trusted.
fn forgery_checks(parts: &http::request::Parts) -> Result<(), AdminError> {
    if crate::csrf::refusal(&parts.method, &parts.headers, &HashSet::new()).is_some() {
        return Err(AdminError::CrossOrigin);
    }
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(AdminError::JsonRequired)
    }
}
