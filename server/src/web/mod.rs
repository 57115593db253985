//! The HTTP side: axum router, Leptos SSR and server functions, static files, headers.

pub mod drafts;
pub mod form;
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
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(context, shell))
        .with_state(options)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            // Same-origin referrers are what lets a no-JavaScript form post come back to its page.
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"),
        ))
}

pub async fn serve(listener: tokio::net::TcpListener, app: Router, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

pub fn shared(service: wizard::WizardService) -> SharedBackend {
    Arc::new(service)
}
