//! The token keeper: the engine's [`TokenSource`] for one OAuth2 side of one job. Every
//! connection of the job's copy asks it for an access token before logging in (and once more
//! with the token a server refused); it refreshes at the provider ahead of expiry or on a
//! refusal, one refresh at a time, and stores the new tokens in the job store before anyone
//! uses them.
//!
//! One refresh at a time: a provider that detects refresh-token reuse (OAuth 2.1's advice,
//! oidc-provider's default) revokes the whole grant when a rotated refresh token is presented
//! again, so two connections refreshing at once would end the job's sign-in. The keeper holds
//! a lock across the refresh; callers waiting on it then see the new token and do not refresh
//! again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mailcopy::{TokenSource, TokenUnavailable};
use secrecy::{ExposeSecret, SecretString};

use super::config::OAuthClient;
use super::error::OAuthError;
use super::flow::{self, OAuthHttp};
use super::tokens::{needs_refresh, Tokens, UnixMs, REFRESH_MARGIN};
use crate::jobs::store_trait::{JobStore, Side};

/// What to do for a caller, before any refresh. Pure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Hand out the current access token.
    UseCurrent,
    /// Refresh first.
    Refresh,
}

/// `refused_is_current`: the caller's refused token is the one held (nobody renewed it since).
/// A refused token that is not the current one was already replaced: the current one is
/// handed out, unless it is itself about to expire.
pub fn next_step(
    now: UnixMs,
    expires_at: Option<UnixMs>,
    margin: Duration,
    refused_is_current: bool,
) -> Step {
    if refused_is_current || needs_refresh(now, expires_at, margin) {
        Step::Refresh
    } else {
        Step::UseCurrent
    }
}

/// What a failed (or impossible) refresh leaves the caller with. Pure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Refreshing ahead of time failed, but the token has not expired and nobody refused it:
    /// it still serves.
    UseCurrent,
    /// The grant is gone: only signing in again helps.
    SignInNeeded,
    /// Try again later (the provider could not be reached, or answered a temporary error).
    Temporary,
}

/// `error` None: there is no refresh token to refresh with.
pub fn after_failed_refresh(
    now: UnixMs,
    expires_at: Option<UnixMs>,
    refused_is_current: bool,
    error: Option<&OAuthError>,
) -> Fallback {
    let still_valid = !refused_is_current && expires_at.is_some_and(|at| now < at);
    match error {
        _ if still_valid => Fallback::UseCurrent,
        None => Fallback::SignInNeeded,
        Some(e) if e.needs_sign_in() => Fallback::SignInNeeded,
        Some(_) => Fallback::Temporary,
    }
}

/// Where a keeper's renewed tokens are kept before anyone uses them: a job's sealed grant
/// ([`KeeperSlot`]), or the operator's refresh token file (`imapcopy copy`).
#[async_trait::async_trait]
pub trait TokenHome: Send + Sync {
    /// Stores renewed tokens (a rotated refresh token must never exist only in memory).
    async fn keep(&self, tokens: &Tokens) -> anyhow::Result<()>;
    /// Which account side they sign in.
    fn side(&self) -> Side;
    /// What the logs call it (never a token).
    fn label(&self) -> String;
    /// The clock expiry is judged by.
    fn now(&self) -> UnixMs {
        UnixMs::now()
    }
}

/// Where a job's keeper's tokens belong: the job and side whose sealed grant it re-seals.
pub struct KeeperSlot {
    pub store: Arc<dyn JobStore>,
    pub job_id: String,
    pub side: Side,
}

#[async_trait::async_trait]
impl TokenHome for KeeperSlot {
    async fn keep(&self, tokens: &Tokens) -> anyhow::Result<()> {
        self.store
            .store_tokens(&self.job_id, self.side, tokens)
            .await
    }

    fn side(&self) -> Side {
        self.side
    }

    fn label(&self) -> String {
        format!("job {} {}", self.job_id, self.side.as_str())
    }

    fn now(&self) -> UnixMs {
        UnixMs(self.store.now_ms())
    }
}

/// One account side's OAuth2 tokens during a job.
pub struct TokenKeeper {
    http: OAuthHttp,
    client: Arc<OAuthClient>,
    home: Box<dyn TokenHome>,
    margin: Duration,
    held: tokio::sync::Mutex<Held>,
    grant_gone: AtomicBool,
    token_refused: AtomicBool,
    refreshes: AtomicU64,
}

struct Held {
    tokens: Tokens,
    /// The tokens in memory are newer than the stored ones (storing them failed): they are
    /// stored before they are handed out.
    unsaved: bool,
}

impl TokenKeeper {
    /// A keeper for `tokens` (the job's opened grant), refreshing through `client`
    /// [`REFRESH_MARGIN`] before expiry.
    pub fn new(
        home: impl TokenHome + 'static,
        tokens: Tokens,
        client: Arc<OAuthClient>,
        http: OAuthHttp,
    ) -> Self {
        TokenKeeper {
            http,
            client,
            home: Box::new(home),
            margin: REFRESH_MARGIN,
            held: tokio::sync::Mutex::new(Held {
                tokens,
                unsaved: false,
            }),
            grant_gone: AtomicBool::new(false),
            token_refused: AtomicBool::new(false),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Refreshes this long before expiry instead (tests use tokens of a few seconds).
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    pub fn side(&self) -> Side {
        self.home.side()
    }

    /// The provider refused a refresh for good (or there was no refresh token).
    pub fn grant_gone(&self) -> bool {
        self.grant_gone.load(Ordering::SeqCst)
    }

    /// A server refused one of this keeper's tokens at least once.
    pub fn token_refused(&self) -> bool {
        self.token_refused.load(Ordering::SeqCst)
    }

    /// Refresh requests sent to the provider.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    async fn store(&self, tokens: &Tokens) -> Result<(), TokenUnavailable> {
        self.home.keep(tokens).await.map_err(|e| {
                tracing::error!(tokens = %self.home.label(), error = %e, "storing renewed OAuth2 tokens failed");
                TokenUnavailable::Temporary {
                    detail: "the renewed token could not be stored".to_string(),
                }
            })
    }
}

#[async_trait::async_trait]
impl TokenSource for TokenKeeper {
    async fn access_token(
        &self,
        refused: Option<&SecretString>,
    ) -> Result<SecretString, TokenUnavailable> {
        // Held across the refresh: one refresh at a time; the others wait and see its result.
        let mut held = self.held.lock().await;
        if refused.is_some() {
            self.token_refused.store(true, Ordering::SeqCst);
        }
        if held.unsaved {
            self.store(&held.tokens).await?;
            held.unsaved = false;
        }
        let now = self.home.now();
        let current = held.tokens.access_token.clone();
        let expires_at = held.tokens.expires_at;
        let refused_is_current =
            refused.is_some_and(|r| r.expose_secret() == current.expose_secret());
        if next_step(now, expires_at, self.margin, refused_is_current) == Step::UseCurrent {
            return Ok(current);
        }
        let outcome = match held.tokens.refresh_token.clone() {
            Some(refresh_token) => {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
                flow::refresh(&self.http, &self.client, &refresh_token, now)
                    .await
                    .map(|r| r.tokens)
                    .map_err(Some)
            }
            None => Err(None),
        };
        match outcome {
            Ok(tokens) => {
                // Kept in memory first: with rotation the old refresh token is dead now, and
                // must never be presented again (that would revoke the grant). A provider
                // that returns no new one (Google) left the old one in `tokens`.
                held.tokens = tokens;
                if let Err(e) = self.store(&held.tokens).await {
                    held.unsaved = true;
                    return Err(e);
                }
                tracing::debug!(tokens = %self.home.label(), "OAuth2 access token renewed");
                Ok(held.tokens.access_token.clone())
            }
            Err(error) => {
                let detail = error.as_ref().map_or_else(
                    || "the provider gave no refresh token".to_string(),
                    OAuthError::to_string,
                );
                match after_failed_refresh(now, expires_at, refused_is_current, error.as_ref()) {
                    Fallback::UseCurrent => {
                        tracing::warn!(tokens = %self.home.label(), error = %detail, "renewing the OAuth2 token ahead of time failed; the current one still serves");
                        Ok(current)
                    }
                    Fallback::SignInNeeded => {
                        self.grant_gone.store(true, Ordering::SeqCst);
                        Err(TokenUnavailable::SignInNeeded { detail })
                    }
                    Fallback::Temporary => Err(TokenUnavailable::Temporary { detail }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_current_token_serves_until_the_margin_or_a_refusal_of_it() {
        let at = Some(UnixMs(1_000_000));
        assert_eq!(
            next_step(UnixMs(900_000), at, MARGIN, false),
            Step::UseCurrent
        );
        assert_eq!(next_step(UnixMs(940_000), at, MARGIN, false), Step::Refresh);
        // Refused, and nobody renewed it since: refresh even long before expiry.
        assert_eq!(next_step(UnixMs(0), at, MARGIN, true), Step::Refresh);
        // No expiry known: only a refusal refreshes.
        assert_eq!(
            next_step(UnixMs(i64::MAX / 2), None, MARGIN, false),
            Step::UseCurrent
        );
        assert_eq!(next_step(UnixMs(0), None, MARGIN, true), Step::Refresh);
    }

    #[test]
    fn a_failed_refresh_falls_back_by_cause() {
        let at = Some(UnixMs(1_000_000));
        let network = OAuthError::Network("down".into());
        let gone = OAuthError::InvalidGrant;
        // Ahead of time, token still valid: use it, whatever the provider said.
        for e in [Some(&network), Some(&gone), None] {
            assert_eq!(
                after_failed_refresh(UnixMs(999_999), at, false, e),
                Fallback::UseCurrent
            );
        }
        // Expired, or refused by the server.
        for (now, refused) in [(UnixMs(1_000_000), false), (UnixMs(0), true)] {
            assert_eq!(
                after_failed_refresh(now, at, refused, Some(&network)),
                Fallback::Temporary
            );
            assert_eq!(
                after_failed_refresh(now, at, refused, Some(&gone)),
                Fallback::SignInNeeded
            );
            assert_eq!(
                after_failed_refresh(now, at, refused, None),
                Fallback::SignInNeeded,
                "no refresh token"
            );
        }
        let scope = OAuthError::MissingScope {
            scope: "imap".into(),
        };
        assert_eq!(
            after_failed_refresh(UnixMs(0), None, true, Some(&scope)),
            Fallback::SignInNeeded
        );
    }
}
