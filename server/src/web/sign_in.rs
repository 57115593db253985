//! OAuth2 sign-in in the wizard: "Sign in with Google / Microsoft / …" instead of a password.
//!
//! 1. The account form posts with `intent=sign_in` (or Validate without a password for a
//!    preset that accepts only OAuth2): [`WizardService::start_sign_in`] keeps the form in the
//!    draft, records a single-use `state` (draft, side, provider, PKCE verifier, nonce) and
//!    answers with the provider's authorization URL, where the browser is sent.
//! 2. The provider sends the browser to `/oauth2/callback`. That request is cross-site, so the
//!    SameSite=Strict draft cookie does not come with it: [`WizardService::finish_sign_in`]
//!    finds the draft through `state`, exchanges the code (PKCE), checks the signed-in account
//!    against the login typed, logs in over IMAP with the access token (what Validate does
//!    with a password) and stores the sealed tokens in the draft.
//! 3. The callback answers with a page of our own that moves on to `/` at once (meta refresh,
//!    and a link): a navigation started by our page is same-site, so the draft cookie is sent
//!    again and the wizard shows the result. Works the same with and without JavaScript.

use std::time::{Duration, Instant};

use app::i18n::{Lang, T};
use app::model::{utc_minute, FailureKind, SideStatus, SideView, SignInOption};
use app::presets::{self, Side, OTHER};

use crate::jobs::sign_in::DEFAULT_SIGN_IN_WAIT;
use crate::jobs::state::JobState;
use crate::jobs::store_trait::{Job, OAuthGrant};
use crate::oauth::{
    self, OAuthClient, OAuthError, OAuthHttp, PendingAuthorization, ProviderId, Providers,
    SignInFor, SignedIn, StateStore, UnixMs,
};
use mailcopy::{ConnectError, Credentials, Endpoint, ErrorKind};

use super::form::ValidForm;
use super::wizard::{failed, WizardService};

/// The providers this service signs in to, its HTTP client for them, and the sign-ins on
/// their way.
pub struct SignIn {
    pub providers: Providers,
    /// None when no provider is enabled (nothing to talk to).
    pub http: Option<OAuthHttp>,
    pub states: StateStore,
    /// How long a job waits for someone to sign in again (the runner's bound: the page tells
    /// the deadline).
    pub wait: Duration,
}

impl Default for SignIn {
    fn default() -> Self {
        SignIn {
            providers: Providers::default(),
            http: None,
            states: StateStore::default(),
            wait: DEFAULT_SIGN_IN_WAIT,
        }
    }
}

impl SignIn {
    /// Sign-in with the operator's providers (an HTTP client only when there are some).
    pub fn new(providers: Providers) -> anyhow::Result<SignIn> {
        let http = if providers.enabled().next().is_some() {
            Some(OAuthHttp::new().map_err(|e| anyhow::anyhow!("{e}"))?)
        } else {
            None
        };
        Ok(SignIn {
            providers,
            http,
            ..SignIn::default()
        })
    }

    /// The presets whose server has an enabled provider ("Other": the operator's own
    /// providers), with the name for the button.
    pub fn options(&self) -> Vec<SignInOption> {
        let mut options = Vec::new();
        for preset in presets::PRESETS {
            let client = if preset.id == OTHER {
                self.providers
                    .enabled()
                    .find(|c| matches!(c.spec.id, ProviderId::Generic(_)))
                    .cloned()
            } else {
                self.providers
                    .for_imap_host(preset.default_host())
                    .and_then(|id| self.providers.get(&id).ok())
            };
            if let Some(client) = client {
                options.push(SignInOption {
                    preset: preset.id.to_string(),
                    provider: client.spec.display_name.clone(),
                });
            }
        }
        options
    }

    /// The origins of the providers' authorization pages, which the wizard's forms redirect
    /// to: the page's `Content-Security-Policy: form-action` must allow them (browsers apply
    /// it to the redirects that follow a form post, too).
    pub fn form_action_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self
            .providers
            .enabled()
            .filter_map(|c| oauth2::url::Url::parse(&c.spec.endpoints.authorization).ok())
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null")
            .collect();
        origins.sort();
        origins.dedup();
        origins
    }

    /// Whether a form without a password should sign in instead: the preset accepts only
    /// OAuth2 (Microsoft) and this service offers that sign-in.
    pub fn replaces_password(&self, valid: &ValidForm) -> bool {
        valid.preset.oauth_only
            && self
                .providers
                .for_imap_host(&valid.endpoint.host)
                .is_some_and(|id| self.providers.get(&id).is_ok())
    }
}

/// Where the browser goes after the sign-in was started.
pub enum Started {
    /// The provider's authorization page.
    Provider(String),
    /// Back to the wizard, which shows why not (stored in the draft).
    Refused,
}

/// What the callback page says.
pub struct Finished {
    /// None: on to `back_to` at once (the draft or the job holds the outcome); else a page of
    /// its own with this status and cause, and a link to `back_to`.
    pub problem: Option<(u16, String)>,
    /// The wizard (`/`) or the job's private page.
    pub back_to: String,
}

/// Why "Sign in again" cannot start.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInAgainError {
    /// No such job.
    UnknownJob,
    /// The provider the job's side signed in with is no longer enabled here.
    NotEnabled(String),
}

impl WizardService {
    /// Step 1: keeps the form in the draft (created when needed: its id is returned) and
    /// gives the provider's authorization URL.
    pub(super) fn start_sign_in(
        &self,
        draft: Option<&str>,
        mut view: SideView,
        valid: &ValidForm,
    ) -> (String, Started) {
        let draft = self
            .drafts
            .save_signing_in(draft, view.clone(), valid.endpoint.clone());
        let started = self.start_sign_in_for(&draft, &mut view, valid);
        (draft, started)
    }

    fn start_sign_in_for(&self, draft: &str, view: &mut SideView, valid: &ValidForm) -> Started {
        let view_saved = |view: &SideView| {
            self.drafts.save(Some(draft), view.clone(), None, None);
        };
        let side = valid.side;
        let provider = self.sign_in.providers.for_imap_host(&valid.endpoint.host);
        let client = match provider.map(|id| self.sign_in.providers.get(&id)) {
            Some(Ok(client)) => client,
            Some(Err(not_enabled)) => {
                view.status = SideStatus::Failed {
                    kind: FailureKind::SignInNotEnabled,
                    detail: not_enabled.message(),
                };
                view_saved(view);
                return Started::Refused;
            }
            None => {
                view.status = SideStatus::Failed {
                    kind: FailureKind::SignInNotEnabled,
                    detail: format!(
                        "no sign-in is set up for the server {}: type the password",
                        valid.endpoint.host
                    ),
                };
                view_saved(view);
                return Started::Refused;
            }
        };
        let hint = (!valid.login.is_empty()).then_some(valid.login.as_str());
        let target = SignInFor::Draft(draft.to_string());
        match self.authorize(&client, target, side, hint) {
            Ok(url) => {
                view.status = SideStatus::NotChecked;
                view.signed_in_with = None;
                self.drafts
                    .save_signing_in(Some(draft), view.clone(), valid.endpoint.clone());
                Started::Provider(url)
            }
            Err(detail) => {
                view.status = SideStatus::Failed {
                    kind: FailureKind::SignInFailed,
                    detail,
                };
                view_saved(view);
                Started::Refused
            }
        }
    }

    /// The provider's authorization URL for `target`'s `side`, its single-use state recorded.
    fn authorize(
        &self,
        client: &OAuthClient,
        target: SignInFor,
        side: Side,
        login_hint: Option<&str>,
    ) -> Result<String, String> {
        let start = oauth::flow::authorization_url(client, login_hint).map_err(|e| {
            tracing::error!(provider = %client.spec.id, error = %e, "authorization URL");
            e.to_string()
        })?;
        let for_job = matches!(target, SignInFor::Job(_));
        self.sign_in.states.insert(
            start.state.clone(),
            PendingAuthorization {
                target,
                side,
                provider: client.spec.id.clone(),
                pkce_verifier: start.pkce_verifier,
                nonce: start.nonce,
                created_at: Instant::now(),
            },
        );
        tracing::info!(side = side.as_str(), provider = %client.spec.id, for_job, "sign-in started");
        Ok(start.url)
    }

    /// "Sign in again" on a job's private page: where to send the browser — the provider's
    /// authorization page, or back to the job's page when that side does not wait for a
    /// sign-in (any more).
    pub async fn start_job_sign_in(
        &self,
        id: &str,
        side: Side,
    ) -> Result<String, SignInAgainError> {
        let job = match self.jobs.get(id).await {
            Ok(Some(job)) => job,
            Ok(None) => return Err(SignInAgainError::UnknownJob),
            Err(e) => {
                tracing::error!(job = %id, error = %e, "job store");
                return Err(SignInAgainError::UnknownJob);
            }
        };
        let back = job_page(id);
        let Some(provider) = waiting_provider(&job, side) else {
            return Ok(back);
        };
        let client = self
            .sign_in
            .providers
            .get(provider)
            .map_err(|e| SignInAgainError::NotEnabled(e.message()))?;
        let login = side_login(&job, side);
        self.authorize(&client, SignInFor::Job(job.id.clone()), side, Some(login))
            .map_err(SignInAgainError::NotEnabled)
    }

    /// Step 2: the provider's redirect (its raw query string).
    pub async fn finish_sign_in(&self, query: &str) -> Finished {
        let callback = oauth::parse_callback(query);
        let pending = match callback
            .state
            .as_deref()
            .map(|s| self.sign_in.states.take(s, Instant::now()))
        {
            Some(Ok(pending)) => pending,
            Some(Err(e)) => return problem(400, e.to_string(), "/"),
            None => return problem(400, oauth::StateError::Unknown.to_string(), "/"),
        };
        match pending.target.clone() {
            SignInFor::Draft(draft) => {
                self.finish_draft_sign_in(&draft, &pending, callback.result)
                    .await
            }
            SignInFor::Job(id) => {
                self.finish_job_sign_in(&id, &pending, callback.result)
                    .await
            }
        }
    }

    async fn finish_draft_sign_in(
        &self,
        draft: &str,
        pending: &PendingAuthorization,
        code: Result<String, OAuthError>,
    ) -> Finished {
        let side = pending.side;
        let Some(mut view) = self.drafts.view(draft).map(|w| match side {
            Side::Source => w.source,
            Side::Destination => w.destination,
        }) else {
            return problem(400, T::SessionExpired.get(Lang::En).to_string(), "/");
        };
        let outcome = self.signed_in_for_draft(draft, pending, &view, code).await;
        let host = view.host.clone();
        match outcome {
            Ok((login, provider_name, tokens, endpoint, check)) => {
                view.login = login;
                view.signed_in_with = Some(provider_name);
                view.status = check;
                let established = view.is_established();
                let saved = self.drafts.save_signed_in(
                    draft,
                    view,
                    pending.provider.clone(),
                    &tokens,
                    Some(endpoint),
                );
                tracing::info!(side = side.as_str(), provider = %pending.provider, server = %host, established, "sign-in finished");
                if !saved {
                    return problem(400, T::SessionExpired.get(Lang::En).to_string(), "/");
                }
            }
            Err(status) => {
                tracing::info!(side = side.as_str(), provider = %pending.provider, status = ?status, "sign-in failed");
                view.status = status;
                view.signed_in_with = None;
                self.drafts.save(Some(draft), view, None, None);
            }
        }
        Finished {
            problem: None,
            back_to: "/".into(),
        }
    }

    /// "Sign in again" came back: the same account as the job's, its IMAP login works with
    /// the new token, then the grant is sealed in the job, which resumes where it stopped.
    /// A failure is told on the callback page (a job has no draft to keep it in).
    async fn finish_job_sign_in(
        &self,
        id: &str,
        pending: &PendingAuthorization,
        code: Result<String, OAuthError>,
    ) -> Finished {
        let back = job_page(id);
        let side = pending.side;
        let job = match self.jobs.get(id).await {
            Ok(Some(job)) => job,
            Ok(None) => return problem(404, "this copy is unknown".into(), "/"),
            Err(e) => {
                tracing::error!(job = %id, error = %e, "job store");
                return problem(500, "the job store is not available".into(), &back);
            }
        };
        if waiting_provider(&job, side) != Some(&pending.provider) {
            // Signed in already (another tab) or ended meanwhile: its page tells.
            return Finished {
                problem: None,
                back_to: back,
            };
        }
        let signed = match self.exchange(pending, code).await {
            Ok(signed) => signed,
            Err(status) => return problem(400, status_detail(&status), &back),
        };
        let login = side_login(&job, side);
        if !signed.identity.is_account(login) {
            return problem(
                400,
                format!(
                    "signed in as {}, but this copy is for {login}: sign in with {login}",
                    signed.identity.login
                ),
                &back,
            );
        }
        let spec = match side {
            Side::Source => &job.source,
            Side::Destination => &job.destination,
        };
        let endpoint = Endpoint::new(spec.host.clone(), spec.port, spec.security);
        let status = self
            .check_token(&endpoint, login, &signed.tokens.access_token)
            .await;
        if !matches!(status, SideStatus::Established { .. }) {
            return problem(400, status_detail(&status), &back);
        }
        let grant = OAuthGrant {
            provider: pending.provider.clone(),
            tokens: signed.tokens,
        };
        match self.jobs.resume_after_sign_in(id, side, grant).await {
            Ok(state) => {
                tracing::info!(job = %id, side = side.as_str(), provider = %pending.provider, state = ?state, "signed in again");
                Finished {
                    problem: None,
                    back_to: back,
                }
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "storing the new sign-in");
                problem(500, "the new sign-in could not be stored".into(), &back)
            }
        }
    }

    /// The code exchanged for tokens and the signed-in identity (PKCE, nonce).
    async fn exchange(
        &self,
        pending: &PendingAuthorization,
        code: Result<String, OAuthError>,
    ) -> Result<SignedIn, SideStatus> {
        let client = self
            .sign_in
            .providers
            .get(&pending.provider)
            .map_err(|e| fail(FailureKind::SignInNotEnabled, e.message()))?;
        let http = self.sign_in.http.as_ref().ok_or_else(|| {
            fail(
                FailureKind::SignInNotEnabled,
                "no OAuth2 provider is enabled".into(),
            )
        })?;
        let code = code.map_err(|e| oauth_failure(&e))?;
        oauth::flow::exchange_code(
            http,
            &client,
            &code,
            &pending.pkce_verifier,
            &pending.nonce,
            UnixMs::now(),
        )
        .await
        .map_err(|e| oauth_failure(&e))
    }

    /// The code exchanged, the account checked against the login typed, and the IMAP login
    /// tried with the token: the side's new login, provider name, tokens, endpoint and status.
    async fn signed_in_for_draft(
        &self,
        draft: &str,
        pending: &PendingAuthorization,
        view: &SideView,
        code: Result<String, OAuthError>,
    ) -> Result<(String, String, oauth::Tokens, Endpoint, SideStatus), SideStatus> {
        let signed = self.exchange(pending, code).await?;
        let typed = view.login.trim();
        if !typed.is_empty() && !signed.identity.is_account(typed) {
            return Err(fail(
                FailureKind::WrongAccount,
                format!(
                    "signed in as {}, but the login typed is {typed}: sign in with {typed}, or empty the login field",
                    signed.identity.login
                ),
            ));
        }
        let login = signed.identity.login.clone();
        let endpoint = self
            .drafts
            .endpoint(draft, pending.side)
            .ok_or_else(|| fail(FailureKind::SignInFailed, "the form was changed".into()))?;
        let status = self
            .check_token(&endpoint, &login, &signed.tokens.access_token)
            .await;
        let provider_name = self
            .sign_in
            .providers
            .get(&pending.provider)
            .map(|c| c.spec.display_name.clone())
            .unwrap_or_else(|_| pending.provider.to_string());
        Ok((login, provider_name, signed.tokens, endpoint, status))
    }

    /// The IMAP login with an access token, as Validate shows it.
    async fn check_token(
        &self,
        endpoint: &Endpoint,
        login: &str,
        access_token: &secrecy::SecretString,
    ) -> SideStatus {
        let creds = Credentials::oauth2(
            login.to_string(),
            secrecy::ExposeSecret::expose_secret(access_token).to_string(),
        );
        // Not waiting for a place under the connection cap: see the wizard's Validate.
        let connect = self.connect.without_limiter_wait();
        match mailcopy::check_account(endpoint, &creds, &connect, self.check_timeout).await {
            Ok(check) => SideStatus::Established {
                folders: check.folders as u64,
                messages: check.messages,
            },
            Err(error) => token_login_failure(&error),
        }
    }

    /// The sides of a job waiting for sign-in, for its private page.
    pub(super) fn sign_in_again_view(&self, job: &Job) -> Vec<app::model::SignInAgainView> {
        let deadline = job
            .sign_in_since
            .map(|since| utc_minute(since + self.sign_in.wait.as_millis() as i64))
            .unwrap_or_default();
        Side::BOTH
            .into_iter()
            .filter_map(|side| {
                let provider = waiting_provider(job, side)?;
                let name = self
                    .sign_in
                    .providers
                    .get(provider)
                    .map(|c| c.spec.display_name.clone())
                    .unwrap_or_else(|_| provider.to_string());
                Some(app::model::SignInAgainView {
                    side,
                    provider: name,
                    login: side_login(job, side).to_string(),
                    deadline: deadline.clone(),
                })
            })
            .collect()
    }

    /// Validate of a side that is signed in already: the kept tokens, refreshed when they
    /// are about to expire.
    pub(super) async fn check_signed_in(
        &self,
        endpoint: &Endpoint,
        login: &str,
        provider: &ProviderId,
        tokens: oauth::Tokens,
    ) -> (SideStatus, oauth::Tokens) {
        let mut tokens = tokens;
        let expiring =
            oauth::needs_refresh(UnixMs::now(), tokens.expires_at, oauth::REFRESH_MARGIN);
        if let (true, Some(refresh), Some(http), Ok(client)) = (
            expiring,
            tokens.refresh_token.clone(),
            self.sign_in.http.as_ref(),
            self.sign_in.providers.get(provider),
        ) {
            match oauth::flow::refresh(http, &client, &refresh, UnixMs::now()).await {
                Ok(refreshed) => tokens = refreshed.tokens,
                Err(e) => return (oauth_failure(&e), tokens),
            }
        }
        let status = self
            .check_token(endpoint, login, &tokens.access_token)
            .await;
        (status, tokens)
    }
}

fn fail(kind: FailureKind, detail: String) -> SideStatus {
    SideStatus::Failed { kind, detail }
}

fn problem(status: u16, text: String, back_to: &str) -> Finished {
    Finished {
        problem: Some((status, text)),
        back_to: back_to.to_string(),
    }
}

/// A job's private page.
pub fn job_page(id: &str) -> String {
    format!("/jobs/{id}")
}

/// The provider `side` of a waiting job must sign in again with; None when that side does
/// not wait for a sign-in.
fn waiting_provider(job: &Job, side: Side) -> Option<&ProviderId> {
    if job.state != JobState::WaitingForSignIn || !job.sign_in_sides.contains(&side) {
        return None;
    }
    match side {
        Side::Source => job.source_provider.as_ref(),
        Side::Destination => job.destination_provider.as_ref(),
    }
}

fn side_login(job: &Job, side: Side) -> &str {
    match side {
        Side::Source => &job.source.login,
        Side::Destination => &job.destination.login,
    }
}

/// The English detail of a failed status.
fn status_detail(status: &SideStatus) -> String {
    match status {
        SideStatus::Failed { detail, .. } => detail.clone(),
        other => format!("{other:?}"),
    }
}

/// A failed sign-in at the provider, as the wizard shows it.
pub fn oauth_failure(error: &OAuthError) -> SideStatus {
    let kind = match error {
        OAuthError::ConsentDenied => FailureKind::SignInDenied,
        OAuthError::MissingScope { .. } => FailureKind::MissingScope,
        _ => FailureKind::SignInFailed,
    };
    fail(kind, error.to_string())
}

/// A refused IMAP login with an access token, as the wizard shows it.
fn token_login_failure(error: &ConnectError) -> SideStatus {
    // Gmail: `[ALERT] … IMAP access is disabled for your account` (or "not enabled") comes
    // with the NO; Microsoft answers only `AUTHENTICATE failed`, so TokenRefused says what to
    // check.
    let text = error.to_string().to_ascii_lowercase();
    if matches!(
        error.kind(),
        ErrorKind::TokenRefused | ErrorKind::AuthFailed
    ) && text.contains("imap")
        && (text.contains("disabled") || text.contains("not enabled"))
    {
        return fail(FailureKind::ImapDisabled, super::redact::user_detail(error));
    }
    failed(error)
}

/// The page of `/oauth2/callback` that hands the browser back to the wizard (same-site), or
/// says why this sign-in cannot go on.
pub fn callback_page(lang: Lang, finished: &Finished) -> (u16, String) {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let code = lang.code();
    let back = escape(&finished.back_to);
    let (back_text, on_text) = if finished.back_to == "/" {
        (T::BackHome, T::SignInContinue)
    } else {
        (T::BackToJob, T::BackToJob)
    };
    match &finished.problem {
        None => (
            200,
            format!(
                "<!DOCTYPE html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <meta http-equiv=\"refresh\" content=\"0;url={back}\"><title>IMAPCopy</title>\
                 <link rel=\"stylesheet\" href=\"/pkg/imapcopy.css\"></head><body><main>\
                 <p role=\"status\">{}</p><p><a href=\"{back}\">{}</a></p></main></body></html>",
                escape(T::SignInReturning.get(lang)),
                escape(on_text.get(lang)),
            ),
        ),
        Some((status, cause)) => (
            *status,
            format!(
                "<!DOCTYPE html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>IMAPCopy</title><link rel=\"stylesheet\" href=\"/pkg/imapcopy.css\">\
                 </head><body><main><div class=\"status error\" role=\"alert\"><p><strong>{}\
                 </strong> <span lang=\"en\">{}</span></p></div><p><a href=\"{back}\">{}</a></p>\
                 </main></body></html>",
                escape(T::SignInLinkInvalid.get(lang)),
                escape(cause),
                escape(back_text.get(lang)),
            ),
        ),
    }
}

/// Whether this validate should start a sign-in: the button said so, or no password was
/// typed or kept for a preset that accepts only OAuth2.
pub fn wants_sign_in(
    sign_in: &SignIn,
    posted: &app::model::AccountForm,
    valid: &ValidForm,
    has_kept_secret: bool,
) -> bool {
    posted.wants_sign_in()
        || (posted.password.is_empty() && !has_kept_secret && sign_in.replaces_password(valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_page_moves_on_same_site_or_explains() {
        let (status, page) = callback_page(
            Lang::Es,
            &Finished {
                problem: None,
                back_to: "/".into(),
            },
        );
        assert_eq!(status, 200);
        assert!(page.contains("http-equiv=\"refresh\" content=\"0;url=/\""));
        assert!(page.contains("Volviendo a IMAPCopy"));
        let (status, page) = callback_page(
            Lang::En,
            &Finished {
                problem: Some((400, "<bad> & \"worse\"".into())),
                back_to: "/".into(),
            },
        );
        assert_eq!(status, 400);
        assert!(!page.contains("refresh"));
        assert!(page.contains("&lt;bad&gt; &amp; &quot;worse&quot;"));
        // "Sign in again" hands back to the job's private page.
        let (_, page) = callback_page(
            Lang::En,
            &Finished {
                problem: None,
                back_to: job_page("j1"),
            },
        );
        assert!(page.contains("content=\"0;url=/jobs/j1\""));
        assert!(page.contains("<a href=\"/jobs/j1\">Back to the copy</a>"));
    }

    #[test]
    fn deadlines_read_in_utc_minutes() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_796_241_840_000), "2026-12-02 20:04 UTC");
    }

    #[test]
    fn failures_at_the_provider_are_typed() {
        let kind = |e: OAuthError| match oauth_failure(&e) {
            SideStatus::Failed { kind, .. } => kind,
            _ => unreachable!(),
        };
        assert_eq!(kind(OAuthError::ConsentDenied), FailureKind::SignInDenied);
        assert_eq!(
            kind(OAuthError::MissingScope {
                scope: "imap".into()
            }),
            FailureKind::MissingScope
        );
        assert_eq!(kind(OAuthError::InvalidGrant), FailureKind::SignInFailed);
    }

    #[test]
    fn gmail_alert_says_imap_is_disabled() {
        let gmail = ConnectError::TokenRefused {
            server_text: "[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page and enable your account for IMAP access.".into(),
        };
        assert!(matches!(
            token_login_failure(&gmail),
            SideStatus::Failed {
                kind: FailureKind::ImapDisabled,
                ..
            }
        ));
        let microsoft = ConnectError::TokenRefused {
            server_text: "AUTHENTICATE failed.".into(),
        };
        assert!(matches!(
            token_login_failure(&microsoft),
            SideStatus::Failed {
                kind: FailureKind::TokenRefused,
                ..
            }
        ));
    }
}
