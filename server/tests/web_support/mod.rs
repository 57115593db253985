//! What the tests that talk to the HTTP application share: the service over a store, its
//! router, requests as browsers send them, and reading the answers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Request};
use http_body_util::BodyExt;
use imapcopy::jobs::JobStore;
use imapcopy::web::{
    self,
    drafts::DraftStore,
    sign_in::SignIn,
    wizard::{Limits, WizardService},
    WebConfig,
};
use leptos::config::LeptosOptions;
use mailcopy::ConnectOptions;

/// The name the service is reached at in these tests (one of its default names), and its
/// public URL.
pub const HOST: &str = "127.0.0.1:3000";
pub const PUBLIC: &str = "http://127.0.0.1:3000";

/// The wizard's service over `jobs`: Validate limited to `validate_per_minute` per client.
pub fn service(
    jobs: Arc<dyn JobStore>,
    connect: ConnectOptions,
    sign_in: SignIn,
    validate_per_minute: u32,
    smtp_reports: bool,
) -> WizardService {
    WizardService {
        drafts: DraftStore::new(Duration::from_secs(600)),
        jobs,
        connect: Arc::new(connect),
        limits: Limits::per_minute(validate_per_minute, 100, 100),
        check_timeout: Duration::from_secs(10),
        cookie_attributes: String::new(),
        smtp_reports,
        sign_in,
        volumes: Some(Default::default()),
    }
}

/// The whole HTTP application for `service`.
pub fn router(service: WizardService, config: &WebConfig) -> axum::Router {
    let options = LeptosOptions::builder()
        .output_name("imapcopy")
        .site_root("target/site")
        .build();
    web::router(options, web::shared(service), config)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `name=value` part of the response's `Set-Cookie`, to send back as `Cookie`.
pub fn cookie_pair(response: &axum::response::Response) -> String {
    let header = response.headers()[header::SET_COOKIE].to_str().unwrap();
    header.split(';').next().unwrap().to_string()
}

pub fn get(path: &str) -> axum::http::request::Builder {
    Request::get(path).header(header::HOST, HOST)
}

pub fn post(path: &str) -> axum::http::request::Builder {
    Request::post(path).header(header::HOST, HOST)
}

pub async fn body_text(response: axum::response::Response) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

/// Held for the whole of a test that renders pages: such tests in one process run one at a
/// time. Run side by side, each on its own tokio runtime, one now and then never finished
/// (parked with no timer and no I/O pending: a wake-up lost between runtimes in the page
/// renderer), while one after another they always do. A test-only concern: the service has
/// one runtime.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
