//! The HTTP side: axum router, Leptos SSR and server functions, static files, headers.

pub mod drafts;
pub mod form;
pub mod preflight;
pub mod ratelimit;
pub mod wizard;

use std::net::SocketAddr;
use std::sync::Arc;

use app::api::backend::SharedBackend;
use app::{shell, App};
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::set_header::SetResponseHeaderLayer;

/// Builds the whole HTTP application.
pub fn router(options: LeptosOptions, backend: SharedBackend) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let backend = backend.clone();
        move || provide_context::<SharedBackend>(backend.clone())
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/lang/{code}", get(set_language))
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options)
        .layer(axum::middleware::from_fn(same_origin_posts))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            // Same-origin referrers are what lets a no-JavaScript form post come back to its page.
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
            ),
        ))
}

/// `GET /lang/{code}`: remembers the language in a cookie and goes back to the page the link
/// was on (same-origin path only, so this is no open redirect).
async fn set_language(
    axum::extract::Path(code): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok())
        .and_then(|uri| uri.path_and_query().map(|pq| pq.as_str().to_string()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/lang/"))
        .unwrap_or_else(|| "/".to_string());
    let Some(lang) = app::i18n::Lang::from_code(&code) else {
        return (axum::http::StatusCode::NOT_FOUND, "unknown language").into_response();
    };
    let cookie = format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        app::lang::LANG_COOKIE,
        lang.code()
    );
    (
        axum::http::StatusCode::SEE_OTHER,
        [(header::LOCATION, back), (header::SET_COOKIE, cookie)],
    )
        .into_response()
}

/// Refuses state-changing requests from other sites (CSRF): a POST must come from this origin.
/// Browsers send `Origin` on every POST, form posts included; `Sec-Fetch-Site` is checked when
/// it is absent. Requests with neither (non-browser clients) carry no ambient cookies to abuse.
async fn same_origin_posts(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.method() == axum::http::Method::POST {
        let headers = request.headers();
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        let fetch_site = headers.get("sec-fetch-site").and_then(|o| o.to_str().ok());
        let cross = match (origin, host) {
            (Some("null"), _) => true,
            (Some(origin), Some(host)) => {
                origin.split_once("://").map(|(_, rest)| rest) != Some(host)
            }
            (Some(_), None) => true,
            (None, _) => matches!(fetch_site, Some("cross-site") | Some("same-site")),
        };
        if cross {
            tracing::info!(?origin, ?host, "cross-origin POST refused");
            return (
                axum::http::StatusCode::FORBIDDEN,
                "cross-origin request refused",
            )
                .into_response();
        }
    }
    next.run(request).await
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

pub fn shared(service: wizard::WizardService) -> SharedBackend {
    Arc::new(service)
}
