//! What the server functions need from the server, as a trait the `server` crate implements.
//! Keeps this crate free of database and IMAP code.

use std::sync::Arc;

use crate::error::ApiError;
use crate::i18n::Lang;
use crate::model::{AccountForm, JobView, PreflightView, PublicState, WizardView};

/// A draft identifier as carried by the wizard cookie.
pub type DraftId = String;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The wizard state of this draft (an empty wizard for an unknown or expired draft).
    async fn wizard(&self, draft: Option<&str>) -> WizardView;

    /// Checks the account in `form` and stores the form (password sealed) and the outcome in the
    /// draft, creating the draft when needed. Returns the draft id to keep in the cookie, and
    /// where to send the browser when the form started an OAuth2 sign-in.
    async fn validate(
        &self,
        client: ClientInfo,
        draft: Option<&str>,
        form: AccountForm,
    ) -> Result<Validated, ApiError>;

    /// Queues the copy of a draft whose two accounts are established. `Ok(Some(job id))` when
    /// queued (the draft is gone); `Ok(None)` when refused, the reason stored in the draft.
    async fn synchronize(
        &self,
        client: ClientInfo,
        draft: Option<&str>,
        lang: Lang,
        report_to: String,
        // How to copy a source's labels (`folders`, `one-copy`; empty: the default).
        labels: String,
    ) -> Result<Option<String>, ApiError>;

    /// The preflight of a draft whose two accounts are established (folder mapping, counts,
    /// limits), `None` otherwise. Bounded in time; the server may answer from a cache.
    /// The preflight of the draft, its warnings written in `lang`.
    async fn preflight(&self, draft: Option<&str>, lang: Lang) -> Option<PreflightView>;

    /// The coarse state of the most recent job for a source address (rate-limited per
    /// client: the lookup must not serve to enumerate who is migrating).
    async fn public_status(
        &self,
        client: ClientInfo,
        address: &str,
    ) -> Result<PublicState, ApiError>;

    /// Everything about one job, by its private id.
    /// A job's page, its texts in `lang`.
    async fn job(&self, id: &str, lang: Lang) -> Option<JobView>;

    /// "Sign in again" on one side (`source`, `destination`) of a job waiting for sign-in:
    /// where to send the browser — the provider's authorization page, or back to the job's
    /// page when that side does not wait (any more).
    async fn sign_in_again(
        &self,
        client: ClientInfo,
        id: &str,
        side: &str,
    ) -> Result<String, ApiError>;

    /// Origins the pages' forms may lead to besides this one: the OAuth2 providers'
    /// authorization pages (CSP `form-action`: browsers apply it to a form post's redirect).
    fn form_action_origins(&self) -> Vec<String> {
        Vec::new()
    }

    /// The `Set-Cookie` attributes suffix (e.g. `; Secure`) chosen by the operator's config.
    fn cookie_attributes(&self) -> &str;
}

/// What Validate answers.
pub struct Validated {
    pub draft: DraftId,
    pub view: WizardView,
    /// The provider's authorization page, when the form started a sign-in there.
    pub redirect: Option<String>,
}

/// Who is asking: used for rate limits. The server puts it in the request's extensions (the
/// TCP peer, or the address a trusted reverse proxy forwarded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
}

pub type SharedBackend = Arc<dyn Backend>;

pub const DRAFT_COOKIE: &str = "imapcopy_draft";
pub const DRAFT_MAX_AGE_SECS: u64 = 30 * 60;

pub fn backend() -> Result<SharedBackend, ApiError> {
    leptos::prelude::use_context::<SharedBackend>().ok_or(ApiError::Internal)
}

/// The draft id from the request's cookie header, if any.
pub async fn draft_cookie() -> Option<String> {
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.ok()?;
    cookie_value(&headers, DRAFT_COOKIE)
}

pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

pub async fn client_info() -> ClientInfo {
    if let Ok(axum::Extension(info)) = leptos_axum::extract::<axum::Extension<ClientInfo>>().await {
        return info;
    }
    let ip = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|ci| ci.0.ip());
    ClientInfo { ip }
}

/// Sets the status of the response being built (the page's, when called while rendering).
pub fn set_status(code: u16) {
    if let (Some(options), Ok(status)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(code),
    ) {
        options.set_status(status);
    }
}

/// Gives the response being built the status of `error` (and `Retry-After` when waiting
/// helps). For server functions a page calls while it is rendered on the server: the HTTP
/// layer maps the errors of server functions called over HTTP.
pub fn set_error_status(error: &ApiError) {
    set_status(error.status());
    if let (Some(options), Some(secs)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        error.retry_after_secs(),
    ) {
        options.insert_header(axum::http::header::RETRY_AFTER, secs.into());
    }
}

/// Drops the draft cookie (the draft became a job).
pub fn clear_draft_cookie(backend: &dyn Backend) {
    let cookie = format!(
        "{DRAFT_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        backend.cookie_attributes()
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
        let options = leptos::prelude::expect_context::<leptos_axum::ResponseOptions>();
        options.append_header(axum::http::header::SET_COOKIE, value);
    }
}

/// Keeps the draft cookie on the response (HttpOnly, SameSite=Strict, short lifetime).
pub fn set_draft_cookie(backend: &dyn Backend, id: &str) {
    let cookie = format!(
        "{DRAFT_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={DRAFT_MAX_AGE_SECS}{}",
        backend.cookie_attributes()
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&cookie) {
        let options = leptos::prelude::expect_context::<leptos_axum::ResponseOptions>();
        options.append_header(axum::http::header::SET_COOKIE, value);
    }
}
