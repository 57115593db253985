//! Request bodies: at most `--max-body-bytes`, received within the header timeout. A declared
//! length over the limit is refused before anything is read; a chunked body is read up to the
//! limit and refused as soon as it goes over (413). Bodies are read here, whole, before any
//! handler runs: the forms of this service are small, and a handler never waits on a slow
//! client.

use std::sync::Arc;
use std::time::Duration;

use app::error::ApiError;
use axum::body::{Body, HttpBody};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// Time a client has to send the whole body.
    pub timeout: Duration,
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn too_large(path: &str, headers: &HeaderMap, limit: usize) -> Response {
    tracing::info!(path, limit, "request body over the limit refused");
    if path.starts_with("/api/") {
        return super::api_errors::refuse(path, headers, ApiError::TooLarge);
    }
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONNECTION, "close")],
        "request body too large",
    )
        .into_response()
}

/// Middleware: see the module.
pub async fn limit_body(
    axum::extract::State(limits): axum::extract::State<Arc<BodyLimits>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let max = limits.max_bytes as u64;
    let declared = declared_length(request.headers());
    let hint = HttpBody::size_hint(request.body()).lower();
    if declared.is_some_and(|n| n > max) || hint > max {
        return too_large(request.uri().path(), request.headers(), limits.max_bytes);
    }
    if HttpBody::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(
        limits.timeout,
        Limited::new(body, limits.max_bytes).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return too_large(parts.uri.path(), &parts.headers, limits.max_bytes);
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "request body could not be read");
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONNECTION, "close")],
                "request body could not be read",
            )
                .into_response();
        }
        Err(_) => {
            tracing::info!(path = parts.uri.path(), "request body not received in time");
            return (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                "request body not received in time",
            )
                .into_response();
        }
    };
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await
}
