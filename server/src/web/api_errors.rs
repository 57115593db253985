//! HTTP status codes for server functions. `server_fn` answers every error with 500, argument
//! decoding included (before a function body could set a status); this layer reads the
//! [`ApiError`] in the answer and gives it its own code (400, 409, 413, 429 with
//! `Retry-After`; 500 only for faults of the service).
//!
//! A plain form post (no JavaScript) is answered by `leptos_axum` with a redirect back to the
//! page, the error in the URL for the page to show: that redirect becomes `303 See Other`
//! (the page is fetched with GET), as does the redirect after a successful post.

use app::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::ServerFnUrlError;

/// The header `server_fn` marks its error answers with.
const SERVER_FN_ERROR: &str = "serverfnerror";

/// Error bodies read to map them: an encoded `ApiError` is a few hundred bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Whether a request is a plain HTML form post (answered with a redirect, not data).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The answer to a server-function request that is refused before it runs (`error` for the
/// server function at `path`): for a form post, a 303 back to the page with the error for it
/// to show; for the page's own calls, the error's status with the encoded error, as
/// `server_fn` would send it.
pub fn refuse(path: &str, headers: &HeaderMap, error: ApiError) -> Response {
    let referer = headers.get(header::REFERER).and_then(|r| r.to_str().ok());
    if wants_html(headers) {
        if let Some(url) =
            referer.and_then(|r| ServerFnUrlError::new(path, error.clone()).to_url(r).ok())
        {
            return (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, url.to_string()),
                    (header::CONNECTION, "close".to_string()),
                ],
            )
                .into_response();
        }
    }
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::to_vec(&error).unwrap_or_default();
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONNECTION, "close"),
        ],
        body,
    )
        .into_response();
    if let Ok(path) = HeaderValue::from_str(path) {
        response.headers_mut().insert(SERVER_FN_ERROR, path);
    }
    add_retry_after(response.headers_mut(), &error);
    response
}

fn add_retry_after(headers: &mut HeaderMap, error: &ApiError) {
    if let Some(secs) = error.retry_after_secs() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// Middleware for `/api/…`: maps the status of server-function answers (see the module).
pub async fn server_fn_statuses(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    if parts.status == StatusCode::FOUND {
        parts.status = StatusCode::SEE_OTHER;
        return Response::from_parts(parts, body);
    }
    if parts.status != StatusCode::INTERNAL_SERVER_ERROR
        || !parts.headers.contains_key(SERVER_FN_ERROR)
    {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "reading a server function's error failed");
            return Response::from_parts(parts, Body::empty());
        }
    };
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(error) => {
            parts.status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            add_retry_after(&mut parts.headers, &error);
            if parts.status.is_server_error() {
                tracing::warn!(%error, "server function failed");
            }
        }
        Err(e) => tracing::error!(error = %e, "a server function's error is not an ApiError"),
    }
    Response::from_parts(parts, Body::from(bytes))
}
