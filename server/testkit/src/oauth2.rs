//! A real OAuth2 authorization server on loopback for tests: `node oauth2/provider.mjs`
//! (oidc-provider 9; `npm ci` in `server/testkit/oauth2`, as `make deps-test` does), and a
//! client that goes through its pages the way a browser does.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use testkit::oauth2::{OAuth2Provider, ProviderOptions};
//! let provider = OAuth2Provider::start(ProviderOptions::default())?;
//! let client = provider.client(); // the first configured client
//! let tokens = provider.sign_in(client, "alice@example.test")?;
//! let fresh = provider.refresh(client, tokens.refresh()?)?.map_err(|e| anyhow::anyhow!("{e}"))?;
//! # let _ = fresh; Ok(()) }
//! ```

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::http::{self, query_param};

/// How long node may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Start attempts when the chosen port turns out to be taken.
const PORT_ATTEMPTS: usize = 5;
/// Pages and redirects followed in one authorization, at most.
const MAX_STEPS: usize = 12;

/// A registered client (confidential: `client_secret_basic` at the token, introspection and
/// revocation endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Client {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    /// This client's access token lifetime (whole seconds), instead of the provider's.
    pub access_token_ttl: Option<Duration>,
}

impl OAuth2Client {
    /// A client with a random secret, one redirect URI and the provider's token lifetime.
    pub fn new(client_id: &str, redirect_uri: &str) -> OAuth2Client {
        OAuth2Client {
            client_id: client_id.to_string(),
            client_secret: random_token(24),
            redirect_uris: vec![redirect_uri.to_string()],
            access_token_ttl: None,
        }
    }

    /// `Authorization: Basic …` (RFC 6749 2.3.1: id and secret form-encoded first).
    fn basic_auth(&self) -> String {
        let pair = format!(
            "{}:{}",
            http::percent_encode(&self.client_id),
            http::percent_encode(&self.client_secret)
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    fn redirect_uri(&self) -> Result<&str> {
        self.redirect_uris
            .first()
            .map(String::as_str)
            .ok_or_else(|| anyhow!("client {} has no redirect_uri", self.client_id))
    }
}

/// What the provider is started with.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Access token lifetime (whole seconds; at least 1).
    pub access_token_ttl: Duration,
    /// The custom scope for IMAP, requested with `openid email offline_access`.
    pub imap_scope: String,
    pub clients: Vec<OAuth2Client>,
}

impl Default for ProviderOptions {
    /// One client `imapcopy-test` with a random secret and redirect URI
    /// `http://127.0.0.1:9/oauth2/callback` (nothing listens there: the flow stops at the
    /// redirect), access tokens valid for an hour, scope `imap`.
    fn default() -> Self {
        ProviderOptions {
            access_token_ttl: Duration::from_secs(3600),
            imap_scope: "imap".to_string(),
            clients: vec![OAuth2Client::new(
                "imapcopy-test",
                "http://127.0.0.1:9/oauth2/callback",
            )],
        }
    }
}

/// Tokens from the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: String,
    pub token_type: String,
}

impl Tokens {
    /// The refresh token, or an error if none was issued.
    pub fn refresh(&self) -> Result<&str> {
        self.refresh_token
            .as_deref()
            .ok_or_else(|| anyhow!("no refresh token was issued"))
    }

    fn from_json(v: &serde_json::Value) -> Result<Tokens> {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Ok(Tokens {
            access_token: s("access_token").ok_or_else(|| anyhow!("no access_token in {v}"))?,
            refresh_token: s("refresh_token"),
            expires_in: v.get("expires_in").and_then(serde_json::Value::as_u64),
            scope: s("scope").unwrap_or_default(),
            token_type: s("token_type").unwrap_or_default(),
        })
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[hidden]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[hidden]"),
            )
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The refresh_token grants the provider answered for one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshCounts {
    /// New tokens issued.
    pub granted: u64,
    /// Refused (`invalid_grant`…), a rotated refresh token presented again included.
    pub refused: u64,
}

/// An OAuth2 error answer (RFC 6749 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub http_status: u16,
    pub error: String,
    pub description: String,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {}: {} ({})",
            self.http_status, self.error, self.description
        )
    }
}

/// PKCE (RFC 7636) verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_token(32);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// A running `node provider.mjs`; killed on drop.
pub struct OAuth2Provider {
    port: u16,
    options: ProviderOptions,
    child: Option<Child>,
    /// Its stdin: closed when this process goes away, which makes the provider exit.
    _stdin: Option<ChildStdin>,
    stderr_path: PathBuf,
    // Last: removed after the child is gone.
    dir: tempfile::TempDir,
}

impl OAuth2Provider {
    /// Starts the provider on a free loopback port and waits for its ready line.
    pub fn start(options: ProviderOptions) -> Result<OAuth2Provider> {
        let script = provider_dir().join("provider.mjs");
        if !provider_dir().join("node_modules/oidc-provider").is_dir() {
            bail!(
                "oidc-provider is not installed: run `npm ci` in {} (make deps-test does)",
                provider_dir().display()
            );
        }
        if options.clients.is_empty() {
            bail!("the provider needs at least one client");
        }
        let dir = tempfile::Builder::new()
            .prefix("imapcopy-oauth2-")
            .tempdir()
            .context("creating temp dir")?;
        let config_path = dir.path().join("config.json");
        let stderr_path = dir.path().join("provider.stderr");
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = crate::free_port()?;
            let config = serde_json::json!({
                "port": port,
                "access_token_ttl": options.access_token_ttl.as_secs().max(1),
                "imap_scope": options.imap_scope,
                // A provider in a `static` is never dropped: node cleans up when the test
                // process is gone (its stdin closes).
                "remove_on_exit": dir.path(),
                "clients": options.clients.iter().map(|c| serde_json::json!({
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                    "redirect_uris": c.redirect_uris,
                    "access_token_ttl": c.access_token_ttl.map(|t| t.as_secs().max(1)),
                })).collect::<Vec<_>>(),
            });
            // The client secrets are in this file (mode 0600), never in argv.
            crate::write_file(&config_path, config.to_string().as_bytes(), 0o600)?;
            let stderr = fs::File::create(&stderr_path).context("creating stderr file")?;
            let mut child = Command::new("node")
                .arg(&script)
                .arg(&config_path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(stderr))
                .spawn()
                .context("spawning node (Debian: apt-get install nodejs)")?;
            let stdin = child.stdin.take();
            match wait_ready(&mut child) {
                Ok(()) => {
                    return Ok(OAuth2Provider {
                        port,
                        options,
                        child: Some(child),
                        _stdin: stdin,
                        stderr_path,
                        dir,
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let err = fs::read_to_string(&stderr_path).unwrap_or_default();
                    last = format!("{e:#}; stderr:\n{err}");
                    if !err.contains("EADDRINUSE") {
                        break;
                    }
                }
            }
        }
        bail!("the OAuth2 provider did not start: {last}")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://localhost:PORT`.
    pub fn issuer(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    pub fn options(&self) -> &ProviderOptions {
        &self.options
    }

    /// The first configured client.
    pub fn client(&self) -> &OAuth2Client {
        // `start` refuses an empty client list.
        &self.options.clients[0]
    }

    /// The configured client with this id.
    pub fn client_named(&self, client_id: &str) -> Option<&OAuth2Client> {
        self.options
            .clients
            .iter()
            .find(|c| c.client_id == client_id)
    }

    /// The scope requested by [`OAuth2Provider::sign_in`].
    pub fn scope(&self) -> String {
        format!("openid email offline_access {}", self.options.imap_scope)
    }

    /// RFC 7662 introspection URL with the client's credentials in it, as Dovecot's
    /// `introspection_url` wants it (`introspection_mode = post`).
    pub fn introspection_url(&self, client: &OAuth2Client) -> String {
        format!(
            "http://{}:{}@localhost:{}/token/introspection",
            http::percent_encode(&client.client_id),
            http::percent_encode(&client.client_secret),
            self.port
        )
    }

    /// The authorization URL for the client's first redirect URI, PKCE S256, the given
    /// `state`, `prompt=consent` (needed for `offline_access`) and a login hint.
    pub fn authorization_url(
        &self,
        client: &OAuth2Client,
        pkce: &Pkce,
        state: &str,
        login_hint: &str,
    ) -> Result<String> {
        let scope = self.scope();
        let query = http::form_encode(&[
            ("response_type", "code"),
            ("client_id", &client.client_id),
            ("redirect_uri", client.redirect_uri()?),
            ("scope", &scope),
            ("state", state),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "consent"),
            ("login_hint", login_hint),
        ]);
        Ok(format!("{}/auth?{query}", self.issuer()))
    }

    /// What a browser does with an authorization URL of this provider: follows it to the
    /// login page, signs in as `login` (the development pages accept any name, which becomes
    /// `sub` and `email`), allows on the consent page, and returns the URL the provider
    /// finally redirects to (the client's redirect URI with `code` and `state`, or `error`).
    pub fn authorize_in_browser(&self, authorization_url: &str, login: &str) -> Result<String> {
        self.browse(authorization_url, login, true)
    }

    /// Like [`OAuth2Provider::authorize_in_browser`], but the user clicks "Cancel" on the
    /// consent page: the provider redirects with `error=access_denied`.
    pub fn deny_in_browser(&self, authorization_url: &str, login: &str) -> Result<String> {
        self.browse(authorization_url, login, false)
    }

    fn browse(&self, authorization_url: &str, login: &str, allow: bool) -> Result<String> {
        let mut browser = http::Client::new(self.port);
        let mut next = self
            .local_path(authorization_url)
            .ok_or_else(|| anyhow!("not a URL of this provider: {authorization_url}"))?;
        let mut post: Option<Vec<(&str, &str)>> = None;
        for _ in 0..MAX_STEPS {
            let response = match post.take() {
                Some(form) => browser.post_form(&next, &[], &form)?,
                None => browser.get(&next)?,
            };
            match response.status {
                301 | 302 | 303 | 307 => {
                    let location = response
                        .header("location")
                        .ok_or_else(|| anyhow!("a redirect without Location"))?;
                    match self.local_path(location) {
                        Some(path) => next = path,
                        // Leaving the provider: the redirect to the client.
                        None => return Ok(location.to_string()),
                    }
                }
                200 => {
                    let page = response.text();
                    // oidc-provider's development pages post back to the page's own URL.
                    if page.contains(r#"name="prompt" value="login""#) {
                        post = Some(vec![
                            ("prompt", "login"),
                            ("login", login),
                            ("password", "any"),
                        ]);
                    } else if page.contains(r#"name="prompt" value="consent""#) {
                        if allow {
                            post = Some(vec![("prompt", "consent")]);
                        } else {
                            let cancel = cancel_link(&page)
                                .ok_or_else(|| anyhow!("no Cancel link on the consent page"))?;
                            next = self
                                .local_path(&cancel)
                                .ok_or_else(|| anyhow!("a Cancel link elsewhere: {cancel}"))?;
                        }
                    } else {
                        bail!("an unexpected page at {next}: {}", excerpt(&page));
                    }
                }
                status => bail!("HTTP {status} at {next}: {}", excerpt(&response.text())),
            }
        }
        bail!("no redirect to the client after {MAX_STEPS} steps")
    }

    /// The whole authorization-code flow with PKCE as `login`: authorization URL, the pages,
    /// the redirect with `code` (its `state` checked), the code exchanged for tokens.
    pub fn sign_in(&self, client: &OAuth2Client, login: &str) -> Result<Tokens> {
        let pkce = Pkce::new();
        let state = random_token(12);
        let url = self.authorization_url(client, &pkce, &state, login)?;
        let callback = self.authorize_in_browser(&url, login)?;
        if !callback.starts_with(client.redirect_uri()?) {
            bail!("redirected elsewhere than the redirect URI: {callback}");
        }
        if let Some(error) = query_param(&callback, "error") {
            bail!("authorization refused: {error}");
        }
        if query_param(&callback, "state").as_deref() != Some(state.as_str()) {
            bail!("the state came back changed");
        }
        let code = query_param(&callback, "code").ok_or_else(|| anyhow!("no code"))?;
        self.exchange_code(client, &code, &pkce.verifier)?
            .map_err(|e| anyhow!("code exchange refused: {e}"))
    }

    /// `grant_type=authorization_code` at the token endpoint.
    pub fn exchange_code(
        &self,
        client: &OAuth2Client,
        code: &str,
        verifier: &str,
    ) -> Result<std::result::Result<Tokens, OAuthError>> {
        self.token_request(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", client.redirect_uri()?),
                ("code_verifier", verifier),
            ],
        )
    }

    /// `grant_type=refresh_token`: new tokens (with rotation, a new refresh token too), or the
    /// provider's refusal (`invalid_grant` for an unknown, expired, revoked or already used
    /// refresh token; using a rotated one also revokes the grant).
    pub fn refresh(
        &self,
        client: &OAuth2Client,
        refresh_token: &str,
    ) -> Result<std::result::Result<Tokens, OAuthError>> {
        self.token_request(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }

    /// RFC 7009 revocation of an access or refresh token (revoking a refresh token ends its
    /// grant: its access tokens stop being active too).
    pub fn revoke(&self, client: &OAuth2Client, token: &str) -> Result<()> {
        let auth = client.basic_auth();
        let r = http::Client::new(self.port).post_form(
            "/token/revocation",
            &[("Authorization", &auth)],
            &[("token", token)],
        )?;
        if r.status != 200 {
            bail!(
                "revocation answered HTTP {}: {}",
                r.status,
                excerpt(&r.text())
            );
        }
        Ok(())
    }

    /// RFC 7662 introspection, as the client: the JSON answer (`active`, `sub`, `scope`…).
    pub fn introspect(&self, client: &OAuth2Client, token: &str) -> Result<serde_json::Value> {
        let auth = client.basic_auth();
        let r = http::Client::new(self.port).post_form(
            "/token/introspection",
            &[("Authorization", &auth)],
            &[("token", token)],
        )?;
        if r.status != 200 {
            bail!(
                "introspection answered HTTP {}: {}",
                r.status,
                excerpt(&r.text())
            );
        }
        r.json()
    }

    /// The OpenID Connect userinfo endpoint (`/me`) with an access token: the JSON claims
    /// (`sub`, `email`, `email_verified`).
    pub fn userinfo(&self, access_token: &str) -> Result<serde_json::Value> {
        let auth = format!("Bearer {access_token}");
        let r = http::Client::new(self.port).get_with("/me", &[("Authorization", &auth)])?;
        if r.status != 200 {
            bail!(
                "userinfo answered HTTP {}: {}",
                r.status,
                excerpt(&r.text())
            );
        }
        r.json()
    }

    /// How many refresh_token grants the provider answered for `account` (the login that
    /// signed in) since it started. Refusals before the account is known (an unknown or
    /// revoked refresh token) count under the account `""`.
    pub fn refreshes(&self, account: &str) -> Result<RefreshCounts> {
        let r = http::Client::new(self.port).get("/testkit/refreshes")?;
        if r.status != 200 {
            bail!("/testkit/refreshes answered HTTP {}", r.status);
        }
        let all = r.json()?;
        let n = |k: &str| {
            all.get(account)
                .and_then(|c| c.get(k))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        Ok(RefreshCounts {
            granted: n("granted"),
            refused: n("refused"),
        })
    }

    /// Revokes every grant `account` holds (its access and refresh tokens too), as a user
    /// removing the app's access at the provider does. Returns how many grants went.
    pub fn revoke_account(&self, account: &str) -> Result<u64> {
        let path = format!(
            "/testkit/revoke-account?account={}",
            http::percent_encode(account)
        );
        let r = http::Client::new(self.port).post_form(&path, &[], &[])?;
        if r.status != 200 {
            bail!("{path} answered HTTP {}", r.status);
        }
        Ok(r.json()?
            .get("revoked")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0))
    }

    /// The provider's stderr so far (its warnings, server errors).
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The temp dir with its config (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn token_request(
        &self,
        client: &OAuth2Client,
        form: &[(&str, &str)],
    ) -> Result<std::result::Result<Tokens, OAuthError>> {
        let auth = client.basic_auth();
        let r =
            http::Client::new(self.port).post_form("/token", &[("Authorization", &auth)], form)?;
        let v = r.json()?;
        if r.status == 200 {
            return Tokens::from_json(&v).map(Ok);
        }
        let s = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        Ok(Err(OAuthError {
            http_status: r.status,
            error: s("error"),
            description: s("error_description"),
        }))
    }

    /// The path (and query) of a URL on this provider: relative ones, and absolute ones on
    /// `localhost:PORT` or `127.0.0.1:PORT`. None for any other place.
    fn local_path(&self, url: &str) -> Option<String> {
        if url.starts_with('/') {
            return Some(url.to_string());
        }
        for origin in [
            format!("http://localhost:{}", self.port),
            format!("http://127.0.0.1:{}", self.port),
        ] {
            if let Some(rest) = url.strip_prefix(&origin) {
                if rest.is_empty() {
                    return Some("/".to_string());
                }
                if rest.starts_with('/') {
                    return Some(rest.to_string());
                }
            }
        }
        None
    }
}

impl Drop for OAuth2Provider {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (bounded) for the `READY` line on the child's stdout; the rest of stdout is
/// drained by the reader thread so node never blocks on a full pipe.
fn wait_ready(child: &mut Child) -> Result<()> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("node has no stdout"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = reader.read_line(&mut line).map(|_| line.clone());
        let _ = tx.send(first);
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(line)) if line.starts_with("READY ") => Ok(()),
        Ok(Ok(line)) => bail!("node exited or said {line:?} instead of READY"),
        Ok(Err(e)) => Err(e).context("reading node's stdout"),
        Err(_) => bail!("no READY line within {READY_TIMEOUT:?}"),
    }
}

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oauth2")
}

/// `n` random bytes from the kernel, base64url without padding.
fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let read = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // Unique enough for a test where /dev/urandom is missing.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = format!("{nanos}-{}", std::process::id()).into_bytes();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The `href` of oidc-provider's `[ Cancel ]` link (its interaction abort URL), unescaped.
fn cancel_link(page: &str) -> Option<String> {
    let before = &page[..page.find(r#"">[ Cancel ]</a>"#)?];
    let start = before.rfind(r#"href=""#)? + r#"href=""#.len();
    Some(before[start..].replace("&amp;", "&"))
}

fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let p = Pkce::new();
        assert_eq!(p.verifier.len(), 43);
        assert_ne!(p.verifier, Pkce::new().verifier);
    }

    #[test]
    fn basic_auth_encodes_id_and_secret() {
        let c = OAuth2Client {
            client_id: "a:b".into(),
            client_secret: "s".into(),
            redirect_uris: vec![],
            access_token_ttl: None,
        };
        // base64("a%3Ab:s")
        assert_eq!(c.basic_auth(), "Basic YSUzQWI6cw==");
        assert!(c.redirect_uri().is_err());
    }

    #[test]
    fn cancel_link_is_found() {
        let page = r#"<h1>Authorize</h1><div class="login-help"><a href="http://localhost:1/interaction/abc/abort">[ Cancel ]</a>"#;
        assert_eq!(
            cancel_link(page).as_deref(),
            Some("http://localhost:1/interaction/abc/abort")
        );
        assert_eq!(cancel_link("<a href=\"x\">Allow</a>"), None);
    }

    #[test]
    fn tokens_debug_hides_them() {
        let t = Tokens {
            access_token: "at-secret".into(),
            refresh_token: Some("rt-secret".into()),
            expires_in: Some(5),
            scope: "imap".into(),
            token_type: "Bearer".into(),
        };
        let d = format!("{t:?}");
        assert!(!d.contains("secret"), "{d}");
    }
}
