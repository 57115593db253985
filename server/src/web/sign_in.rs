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

use std::time::Instant;

use app::i18n::{Lang, T};
use app::model::{FailureKind, SideStatus, SideView, SignInOption};
use app::presets::{self, Side, OTHER};

use crate::oauth::{
    self, OAuthError, OAuthHttp, PendingAuthorization, ProviderId, Providers, StateStore, UnixMs,
};
use mailcopy::{ConnectError, Credentials, Endpoint, ErrorKind};

use super::form::ValidForm;
use super::wizard::{failed, WizardService};

/// The providers this service signs in to, its HTTP client for them, and the sign-ins on
/// their way.
#[derive(Default)]
pub struct SignIn {
    pub providers: Providers,
    /// None when no provider is enabled (nothing to talk to).
    pub http: Option<OAuthHttp>,
    pub states: StateStore,
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
            states: StateStore::default(),
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
    /// 303 to the wizard (the draft holds the outcome), or a page of its own with this error.
    pub problem: Option<(u16, String)>,
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
        let draft = self.drafts.save(draft, view.clone(), None, None);
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
        let start = match oauth::flow::authorization_url(&client, hint) {
            Ok(start) => start,
            Err(e) => {
                tracing::error!(provider = %client.spec.id, error = %e, "authorization URL");
                view.status = SideStatus::Failed {
                    kind: FailureKind::SignInFailed,
                    detail: e.to_string(),
                };
                view_saved(view);
                return Started::Refused;
            }
        };
        view.status = SideStatus::NotChecked;
        view.signed_in_with = None;
        self.drafts
            .save_signing_in(Some(draft), view.clone(), valid.endpoint.clone());
        self.sign_in.states.insert(
            start.state.clone(),
            PendingAuthorization {
                draft_id: draft.to_string(),
                side,
                provider: client.spec.id.clone(),
                pkce_verifier: start.pkce_verifier,
                nonce: start.nonce,
                created_at: Instant::now(),
            },
        );
        tracing::info!(side = side.as_str(), provider = %client.spec.id, "sign-in started");
        Started::Provider(start.url)
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
            Some(Err(e)) => return problem(400, e.to_string()),
            None => return problem(400, oauth::StateError::Unknown.to_string()),
        };
        let side = pending.side;
        let Some(mut view) = self.drafts.view(&pending.draft_id).map(|w| match side {
            Side::Source => w.source,
            Side::Destination => w.destination,
        }) else {
            return problem(400, app::i18n::T::SessionExpired.get(Lang::En).to_string());
        };
        let outcome = self.signed_in(&pending, &view, callback.result).await;
        let host = view.host.clone();
        match outcome {
            Ok((login, provider_name, tokens, endpoint, check)) => {
                view.login = login;
                view.signed_in_with = Some(provider_name);
                view.status = check;
                let established = view.is_established();
                let saved = self.drafts.save_signed_in(
                    &pending.draft_id,
                    view,
                    pending.provider.clone(),
                    &tokens,
                    Some(endpoint),
                );
                tracing::info!(side = side.as_str(), provider = %pending.provider, server = %host, established, "sign-in finished");
                if !saved {
                    return problem(400, T::SessionExpired.get(Lang::En).to_string());
                }
            }
            Err(status) => {
                tracing::info!(side = side.as_str(), provider = %pending.provider, status = ?status, "sign-in failed");
                view.status = status;
                view.signed_in_with = None;
                self.drafts.save(Some(&pending.draft_id), view, None, None);
            }
        }
        Finished { problem: None }
    }

    /// The code exchanged, the account checked against the login typed, and the IMAP login
    /// tried with the token: the side's new login, provider name, tokens, endpoint and status.
    async fn signed_in(
        &self,
        pending: &PendingAuthorization,
        view: &SideView,
        code: Result<String, OAuthError>,
    ) -> Result<(String, String, oauth::Tokens, Endpoint, SideStatus), SideStatus> {
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
        let signed = oauth::flow::exchange_code(
            http,
            &client,
            &code,
            &pending.pkce_verifier,
            &pending.nonce,
            UnixMs::now(),
        )
        .await
        .map_err(|e| oauth_failure(&e))?;
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
            .endpoint(&pending.draft_id, pending.side)
            .ok_or_else(|| fail(FailureKind::SignInFailed, "the form was changed".into()))?;
        let creds = Credentials::oauth2(
            login.clone(),
            secrecy::ExposeSecret::expose_secret(&signed.tokens.access_token).to_string(),
        );
        let outcome =
            mailcopy::check_account(&endpoint, &creds, &self.connect, self.check_timeout).await;
        let status = match &outcome {
            Ok(check) => SideStatus::Established {
                folders: check.folders as u64,
                messages: check.messages,
            },
            Err(error) => token_login_failure(error),
        };
        Ok((
            login,
            client.spec.display_name.clone(),
            signed.tokens,
            endpoint,
            status,
        ))
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
        let creds = Credentials::oauth2(
            login.to_string(),
            secrecy::ExposeSecret::expose_secret(&tokens.access_token).to_string(),
        );
        let status = match mailcopy::check_account(
            endpoint,
            &creds,
            &self.connect,
            self.check_timeout,
        )
        .await
        {
            Ok(check) => SideStatus::Established {
                folders: check.folders as u64,
                messages: check.messages,
            },
            Err(error) => token_login_failure(&error),
        };
        (status, tokens)
    }
}

fn fail(kind: FailureKind, detail: String) -> SideStatus {
    SideStatus::Failed { kind, detail }
}

fn problem(status: u16, text: String) -> Finished {
    Finished {
        problem: Some((status, text)),
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
    match &finished.problem {
        None => (
            200,
            format!(
                "<!DOCTYPE html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <meta http-equiv=\"refresh\" content=\"0;url=/\"><title>IMAPCopy</title>\
                 <link rel=\"stylesheet\" href=\"/pkg/imapcopy.css\"></head><body><main>\
                 <p role=\"status\">{}</p><p><a href=\"/\">{}</a></p></main></body></html>",
                escape(T::SignInReturning.get(lang)),
                escape(T::SignInContinue.get(lang)),
            ),
        ),
        Some((status, cause)) => (
            *status,
            format!(
                "<!DOCTYPE html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>IMAPCopy</title><link rel=\"stylesheet\" href=\"/pkg/imapcopy.css\">\
                 </head><body><main><div class=\"status error\" role=\"alert\"><p><strong>{}\
                 </strong> <span lang=\"en\">{}</span></p></div><p><a href=\"/\">{}</a></p>\
                 </main></body></html>",
                escape(T::SignInLinkInvalid.get(lang)),
                escape(cause),
                escape(T::BackHome.get(lang)),
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
        let (status, page) = callback_page(Lang::Es, &Finished { problem: None });
        assert_eq!(status, 200);
        assert!(page.contains("http-equiv=\"refresh\" content=\"0;url=/\""));
        assert!(page.contains("Volviendo a IMAPCopy"));
        let (status, page) = callback_page(
            Lang::En,
            &Finished {
                problem: Some((400, "<bad> & \"worse\"".into())),
            },
        );
        assert_eq!(status, 400);
        assert!(!page.contains("refresh"));
        assert!(page.contains("&lt;bad&gt; &amp; &quot;worse&quot;"));
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
