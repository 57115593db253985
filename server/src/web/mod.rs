//! The HTTP side: axum router, Leptos SSR and server functions, static files, headers, and
//! the protections in front of them (host and origin checks, body limit, client address,
//! status codes of server functions), served by [`serve::serve`] with timeouts and caps.

pub mod api_errors;
pub mod body;
pub mod client;
pub mod drafts;
pub mod form;
pub mod hosts;
pub mod preflight;
pub mod ratelimit;
pub mod redact;
pub mod serve;
pub mod sign_in;
pub mod wizard;

use std::sync::Arc;
use std::time::Duration;

use app::api::backend::SharedBackend;
use app::shell;
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::LeptosRoutes;
use tower_http::set_header::SetResponseHeaderLayer;

pub use serve::{serve, ServeLimits};

/// What the HTTP layers in front of the application need to know.
#[derive(Clone, Debug)]
pub struct WebConfig {
    pub hosts: hosts::AllowedHosts,
    pub clients: client::ClientResolver,
    pub body: body::BodyLimits,
}

impl WebConfig {
    /// A service on 127.0.0.1 with the default names, no proxies, 64 KiB bodies (tests).
    pub fn local() -> WebConfig {
        WebConfig {
            hosts: hosts::AllowedHosts::local(),
            clients: client::ClientResolver::default(),
            body: body::BodyLimits {
                max_bytes: 64 * 1024,
                timeout: Duration::from_secs(10),
            },
        }
    }
}

/// Builds the whole HTTP application.
pub fn router(
    options: LeptosOptions,
    service: Arc<wizard::WizardService>,
    config: &WebConfig,
) -> Router {
    let backend: SharedBackend = service.clone();
    let routes = app::routes::route_list();
    let context = {
        let backend = backend.clone();
        move || provide_context::<SharedBackend>(backend.clone())
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/lang/{code}", get(set_language))
        .route(
            crate::oauth::config::CALLBACK_PATH,
            get(
                move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                    oauth_callback(service.clone(), uri, headers)
                },
            ),
        )
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options)
        // Innermost first: each layer below wraps the ones above it.
        .layer(axum::middleware::from_fn(api_errors::server_fn_statuses))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.clients.clone()),
            client::attach_client_info,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.body),
            body::limit_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.hosts.clone()),
            hosts::check_host_and_origin,
        ))
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
            HeaderValue::from_static(OTHER_RESPONSES_POLICY),
        ))
}

/// The policy of what is not a page rendered by the app (API answers, the sign-in callback's
/// hand-back page, files): nothing may frame them, and their forms post only here. The app's
/// pages carry their own policy (`app::shell`), which also allows the OAuth2 providers'
/// authorization pages as form targets.
const OTHER_RESPONSES_POLICY: &str =
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

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

/// `GET /oauth2/callback`: the provider's redirect after a sign-in (see `sign_in`).
async fn oauth_callback(
    service: Arc<wizard::WizardService>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let finished = service.finish_sign_in(uri.query().unwrap_or("")).await;
    let (status, page) = sign_in::callback_page(app::lang::from_headers(&headers), &finished);
    let status =
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

pub fn shared(service: wizard::WizardService) -> Arc<wizard::WizardService> {
    Arc::new(service)
}
