//! Wizard drafts: what a browser has entered so far, kept on the server behind an opaque cookie.
//! Held in memory only (a draft lives minutes; losing drafts on restart just asks the user to
//! type again), with passwords sealed under a per-process key and expired drafts dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

use app::model::{PreflightView, SideView, WizardView};
use app::presets::Side;

use crate::oauth::{ProviderId, Tokens};
use crate::seal::Sealer;
use mailcopy::{Endpoint, LabelPolicy};

pub const MAX_DRAFTS: usize = 10_000;

#[derive(Clone, Default)]
struct SideSecret {
    sealed_password: Option<Vec<u8>>,
    /// A finished OAuth2 sign-in: the provider and its tokens (sealed), for the login and
    /// host the view shows.
    grant: Option<(ProviderId, Vec<u8>)>,
    /// Where a sign-in on its way at the provider will log in.
    signing_in: Option<Endpoint>,
    /// Where the last successful Validate connected (server-side only).
    endpoint: Option<Endpoint>,
}

/// What proves one account of a draft: the password typed, or an OAuth2 sign-in.
pub enum DraftSecret {
    Password(Zeroizing<String>),
    OAuth2 {
        provider: ProviderId,
        tokens: Tokens,
    },
}

/// One validated account taken out of a draft to become a job.
pub struct ValidatedAccount {
    pub endpoint: Endpoint,
    pub login: String,
    pub secret: DraftSecret,
}

impl ValidatedAccount {
    /// The secret as the job store keeps it (sealed there).
    pub fn job_secret(&self) -> crate::jobs::store_trait::AccountSecret {
        use crate::jobs::store_trait::{AccountSecret, OAuthGrant};
        match &self.secret {
            DraftSecret::Password(p) => {
                AccountSecret::Password(secrecy::SecretString::from(p.to_string()))
            }
            DraftSecret::OAuth2 { provider, tokens } => AccountSecret::OAuth2(OAuthGrant {
                provider: provider.clone(),
                tokens: tokens.clone(),
            }),
        }
    }

    /// The engine's credentials for this account (a copy of the secret).
    pub fn credentials(&self) -> mailcopy::Credentials {
        match &self.secret {
            DraftSecret::Password(p) => {
                mailcopy::Credentials::new(self.login.clone(), p.to_string())
            }
            DraftSecret::OAuth2 { tokens, .. } => mailcopy::Credentials::oauth2(
                self.login.clone(),
                secrecy::ExposeSecret::expose_secret(&tokens.access_token).to_string(),
            ),
        }
    }
}

struct Draft {
    expires: Instant,
    view: WizardView,
    source: SideSecret,
    destination: SideSecret,
    /// Bumped by every [`DraftStore::save`]: a preflight computed for an older generation is
    /// not kept.
    generation: u64,
    /// The last preflight and until when it may be shown again.
    preflight: Option<(Instant, PreflightView)>,
    /// The way to copy a source's labels last chosen at Synchronize (shown checked again
    /// when Synchronize was refused).
    labels: LabelPolicy,
}

impl Draft {
    fn secret(&mut self, side: Side) -> &mut SideSecret {
        match side {
            Side::Source => &mut self.source,
            Side::Destination => &mut self.destination,
        }
    }
}

pub struct DraftStore {
    sealer: Sealer,
    ttl: Duration,
    drafts: Mutex<HashMap<String, Draft>>,
}

/// What a side's sealed sign-in is bound to (a password's is `{id}/{side}`).
fn grant_aad(id: &str, side: Side) -> String {
    format!("{id}/{}/oauth2", side.as_str())
}

fn new_id() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl DraftStore {
    pub fn new(ttl: Duration) -> DraftStore {
        DraftStore {
            sealer: Sealer::ephemeral(),
            ttl,
            drafts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Draft>> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.drafts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn view(&self, id: &str) -> Option<WizardView> {
        let now = Instant::now();
        let drafts = self.lock();
        drafts
            .get(id)
            .filter(|d| d.expires > now)
            .map(|d| d.view.clone())
    }

    /// The stored password of one side, opened, if the stored login and host match.
    pub fn password(
        &self,
        id: &str,
        side: Side,
        login: &str,
        host: &str,
    ) -> Option<Zeroizing<String>> {
        let now = Instant::now();
        let drafts = self.lock();
        let draft = drafts.get(id).filter(|d| d.expires > now)?;
        let (view, secret) = match side {
            Side::Source => (&draft.view.source, &draft.source),
            Side::Destination => (&draft.view.destination, &draft.destination),
        };
        if view.login != login || view.host != host {
            return None;
        }
        let sealed = secret.sealed_password.as_ref()?;
        let bytes = self
            .sealer
            .open(format!("{id}/{}", side.as_str()).as_bytes(), sealed)
            .ok()?;
        String::from_utf8(bytes.to_vec()).ok().map(Zeroizing::new)
    }

    /// The OAuth2 sign-in kept for one side, opened, if the stored login and host match.
    pub fn grant(
        &self,
        id: &str,
        side: Side,
        login: &str,
        host: &str,
    ) -> Option<(ProviderId, Tokens)> {
        let now = Instant::now();
        let drafts = self.lock();
        let draft = drafts.get(id).filter(|d| d.expires > now)?;
        let (view, secret) = match side {
            Side::Source => (&draft.view.source, &draft.source),
            Side::Destination => (&draft.view.destination, &draft.destination),
        };
        if !view.login.eq_ignore_ascii_case(login) || view.host != host {
            return None;
        }
        let (provider, sealed) = secret.grant.as_ref()?;
        let bytes = self
            .sealer
            .open(grant_aad(id, side).as_bytes(), sealed)
            .ok()?;
        let tokens = Tokens::from_sealed(&bytes).ok()?;
        Some((provider.clone(), tokens))
    }

    /// Keeps one side's form while the person signs in at the provider (created when `id`
    /// is unknown); the endpoint is where the callback logs in. Returns the draft id.
    pub fn save_signing_in(&self, id: Option<&str>, view: SideView, endpoint: Endpoint) -> String {
        let side = view.side;
        let id = self.save(id, view, None, None);
        if let Some(draft) = self.lock().get_mut(&id) {
            draft.secret(side).signing_in = Some(endpoint);
        }
        id
    }

    /// The endpoint of the sign-in on its way for this side.
    pub fn endpoint(&self, id: &str, side: Side) -> Option<Endpoint> {
        let now = Instant::now();
        let mut drafts = self.lock();
        let draft = drafts.get_mut(id).filter(|d| d.expires > now)?;
        draft.secret(side).signing_in.clone()
    }

    /// Whether the draft `id` exists (and has not expired).
    pub fn exists(&self, id: &str) -> bool {
        let now = Instant::now();
        self.lock().get(id).is_some_and(|d| d.expires > now)
    }

    /// Stores one side's view after an OAuth2 sign-in: its tokens replace any password of
    /// that side. `false` when the draft is gone (expired while the person was at the
    /// provider).
    pub fn save_signed_in(
        &self,
        id: &str,
        view: SideView,
        provider: ProviderId,
        tokens: &Tokens,
        endpoint: Option<Endpoint>,
    ) -> bool {
        let now = Instant::now();
        let side = view.side;
        let sealed = self
            .sealer
            .seal(grant_aad(id, side).as_bytes(), &tokens.to_sealable());
        let mut drafts = self.lock();
        let Some(draft) = drafts.get_mut(id).filter(|d| d.expires > now) else {
            return false;
        };
        draft.expires = now + self.ttl;
        draft.generation += 1;
        draft.preflight = None;
        let mut view = view;
        let secret = draft.secret(side);
        secret.sealed_password = None;
        secret.grant = Some((provider, sealed));
        secret.endpoint = if view.is_established() {
            endpoint
        } else {
            None
        };
        view.has_password = false;
        match side {
            Side::Source => draft.view.source = view,
            Side::Destination => draft.view.destination = view,
        }
        true
    }

    /// Stores one side's view (and password, when given), creating the draft when `id` is
    /// unknown or expired. Returns the draft id, which is new when the draft was created.
    pub fn save(
        &self,
        id: Option<&str>,
        view: SideView,
        password: Option<&str>,
        endpoint: Option<Endpoint>,
    ) -> String {
        let now = Instant::now();
        let mut drafts = self.lock();
        if drafts.len() >= MAX_DRAFTS {
            drafts.retain(|_, d| d.expires > now);
        }
        let id = match id {
            Some(id) if drafts.get(id).is_some_and(|d| d.expires > now) => id.to_string(),
            _ => {
                let id = new_id();
                drafts.insert(
                    id.clone(),
                    Draft {
                        expires: now + self.ttl,
                        view: WizardView::default(),
                        source: SideSecret::default(),
                        destination: SideSecret::default(),
                        generation: 0,
                        labels: LabelPolicy::default(),
                        preflight: None,
                    },
                );
                id
            }
        };
        let side = view.side;
        let sealed = password.map(|p| {
            self.sealer
                .seal(format!("{id}/{}", side.as_str()).as_bytes(), p.as_bytes())
        });
        if let Some(draft) = drafts.get_mut(&id) {
            draft.expires = now + self.ttl;
            draft.generation += 1;
            draft.preflight = None;
            let mut view = view;
            let secret = draft.secret(side);
            if let Some(sealed) = sealed {
                secret.sealed_password = Some(sealed);
                // A password typed now replaces an earlier sign-in.
                secret.grant = None;
            }
            // A sign-in holds only for the account it was made for.
            if secret.grant.is_some() && view.signed_in_with.is_none() {
                secret.grant = None;
            }
            secret.endpoint = if view.is_established() {
                endpoint
            } else {
                None
            };
            view.has_password = secret.sealed_password.is_some();
            match side {
                Side::Source => draft.view.source = view,
                Side::Destination => draft.view.destination = view,
            }
        }
        id
    }

    /// Both accounts, when both are validated (passwords opened).
    pub fn validated(&self, id: &str) -> Option<(ValidatedAccount, ValidatedAccount)> {
        let take = |side: Side| -> Option<ValidatedAccount> {
            let (endpoint, login, host) = {
                let now = Instant::now();
                let drafts = self.lock();
                let draft = drafts.get(id).filter(|d| d.expires > now)?;
                let (view, secret) = match side {
                    Side::Source => (&draft.view.source, &draft.source),
                    Side::Destination => (&draft.view.destination, &draft.destination),
                };
                if !view.is_established() {
                    return None;
                }
                (
                    secret.endpoint.clone()?,
                    view.login.clone(),
                    view.host.clone(),
                )
            };
            let secret = match self.grant(id, side, &login, &host) {
                Some((provider, tokens)) => DraftSecret::OAuth2 { provider, tokens },
                None => DraftSecret::Password(self.password(id, side, &login, &host)?),
            };
            Some(ValidatedAccount {
                endpoint,
                login,
                secret,
            })
        };
        Some((take(Side::Source)?, take(Side::Destination)?))
    }

    /// The draft's generation (changes whenever an account is saved again).
    pub fn generation(&self, id: &str) -> Option<u64> {
        let now = Instant::now();
        self.lock()
            .get(id)
            .filter(|d| d.expires > now)
            .map(|d| d.generation)
    }

    /// The cached preflight, while still fresh.
    pub fn preflight(&self, id: &str) -> Option<PreflightView> {
        let now = Instant::now();
        let drafts = self.lock();
        let draft = drafts.get(id).filter(|d| d.expires > now)?;
        draft
            .preflight
            .as_ref()
            .filter(|(until, _)| *until > now)
            .map(|(_, view)| view.clone())
    }

    /// Keeps a preflight for `fresh_for`, unless the draft changed since `generation` was read.
    pub fn set_preflight(
        &self,
        id: &str,
        generation: u64,
        view: PreflightView,
        fresh_for: Duration,
    ) {
        let now = Instant::now();
        if let Some(draft) = self
            .lock()
            .get_mut(id)
            .filter(|d| d.expires > now && d.generation == generation)
        {
            draft.preflight = Some((now + fresh_for, view));
        }
    }

    /// Records the report address typed and whether it was refused.
    pub fn set_report_to(
        &self,
        id: &str,
        report_to: String,
        error: Option<app::model::FieldProblem>,
    ) {
        if let Some(draft) = self.lock().get_mut(id) {
            draft.view.report_to = report_to;
            draft.view.report_to_error = error;
        }
    }

    /// Records the way to copy the source's labels chosen at Synchronize.
    pub fn set_labels(&self, id: &str, labels: LabelPolicy) {
        if let Some(draft) = self.lock().get_mut(id) {
            draft.labels = labels;
        }
    }

    /// The way to copy the source's labels chosen last (the default before any choice).
    pub fn labels(&self, id: &str) -> LabelPolicy {
        self.lock().get(id).map(|d| d.labels).unwrap_or_default()
    }

    /// Records why Synchronize was refused, for the page to show.
    pub fn set_sync_error(&self, id: &str, error: Option<String>) {
        if let Some(draft) = self.lock().get_mut(id) {
            draft.view.sync_error = error;
        }
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    pub fn sweep(&self) {
        let now = Instant::now();
        self.lock().retain(|_, d| d.expires > now);
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn side_view(login: &str, host: &str) -> SideView {
        SideView {
            login: login.into(),
            host: host.into(),
            ..SideView::empty(Side::Source)
        }
    }

    #[test]
    fn save_then_read_back_without_the_password_in_the_view() {
        let store = DraftStore::new(Duration::from_secs(60));
        let id = store.save(None, side_view("a@b", "h"), Some("s3cret"), None);
        let view = store.view(&id).unwrap();
        assert!(view.source.has_password);
        assert!(!format!("{view:?}").contains("s3cret"));
        assert_eq!(
            store
                .password(&id, Side::Source, "a@b", "h")
                .unwrap()
                .as_str(),
            "s3cret"
        );
        // Another login or host does not reuse the stored password.
        assert!(store.password(&id, Side::Source, "x@b", "h").is_none());
        assert!(store.password(&id, Side::Source, "a@b", "other").is_none());
        // Saving without a password keeps the sealed one.
        let same = store.save(Some(&id), side_view("a@b", "h"), None, None);
        assert_eq!(same, id);
        assert!(store.password(&id, Side::Source, "a@b", "h").is_some());
    }

    #[test]
    fn unknown_and_expired_drafts_start_afresh() {
        let store = DraftStore::new(Duration::from_millis(0));
        let id = store.save(None, side_view("a", "h"), Some("p"), None);
        assert!(store.view(&id).is_none());
        let again = store.save(Some(&id), side_view("a", "h"), None, None);
        assert_ne!(again, id);
        let store = DraftStore::new(Duration::from_secs(60));
        let fresh = store.save(Some("forged-id"), side_view("a", "h"), None, None);
        assert_ne!(fresh, "forged-id");
        store.sweep();
        assert_eq!(store.len(), 1);
        store.remove(&fresh);
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn the_preflight_cache_expires_and_is_dropped_when_an_account_changes() {
        let store = DraftStore::new(Duration::from_secs(60));
        let id = store.save(None, side_view("a", "h"), Some("p"), None);
        let generation = store.generation(&id).unwrap();
        let view = PreflightView {
            messages: 7,
            ..PreflightView::default()
        };
        store.set_preflight(&id, generation, view.clone(), Duration::from_secs(60));
        assert_eq!(store.preflight(&id), Some(view.clone()));
        // Saving an account again drops it, and a preflight begun before the save is not kept.
        store.save(Some(&id), side_view("a", "other"), None, None);
        assert_eq!(store.preflight(&id), None);
        store.set_preflight(&id, generation, view.clone(), Duration::from_secs(60));
        assert_eq!(store.preflight(&id), None);
        // Stale entries are not served.
        let generation = store.generation(&id).unwrap();
        store.set_preflight(&id, generation, view, Duration::from_millis(0));
        assert_eq!(store.preflight(&id), None);
        assert_eq!(store.generation("unknown"), None);
    }
}
