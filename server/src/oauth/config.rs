//! The operator's OAuth2 configuration: flags (with `IMAPCOPY_*` environment twins), client
//! secrets from a file or the environment (never a command-line value), and the resulting
//! set of enabled providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use secrecy::SecretString;

use super::provider::{GenericProviderFile, ProviderId, ProviderSpec, Tenant};

/// The path of the callback, under `--public-url`.
pub const CALLBACK_PATH: &str = "/oauth2/callback";

/// Environment variables holding client secrets (the alternative to the `*-secret-file` flags;
/// there is deliberately no flag taking a secret value).
pub const GOOGLE_SECRET_ENV: &str = "IMAPCOPY_GOOGLE_CLIENT_SECRET";
pub const MICROSOFT_SECRET_ENV: &str = "IMAPCOPY_MICROSOFT_CLIENT_SECRET";
pub const GENERIC_SECRET_ENV: &str = "IMAPCOPY_OAUTH2_CLIENT_SECRET";

#[derive(Debug, Clone, Args)]
pub struct OAuthArgs {
    /// OAuth2 client ID registered with Google ("Sign in with Google" for Gmail).
    #[arg(long, env = "IMAPCOPY_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    /// File holding the Google client secret (or set IMAPCOPY_GOOGLE_CLIENT_SECRET).
    #[arg(long, env = "IMAPCOPY_GOOGLE_CLIENT_SECRET_FILE")]
    pub google_client_secret_file: Option<PathBuf>,
    /// OAuth2 client (application) ID registered with Microsoft.
    #[arg(long, env = "IMAPCOPY_MICROSOFT_CLIENT_ID")]
    pub microsoft_client_id: Option<String>,
    /// File holding the Microsoft client secret (or set IMAPCOPY_MICROSOFT_CLIENT_SECRET).
    #[arg(long, env = "IMAPCOPY_MICROSOFT_CLIENT_SECRET_FILE")]
    pub microsoft_client_secret_file: Option<PathBuf>,
    /// Microsoft tenant: `common` (any account), `organizations`, `consumers`, a tenant ID or
    /// a domain.
    #[arg(long, env = "IMAPCOPY_MICROSOFT_TENANT", default_value = "common")]
    pub microsoft_tenant: String,
    /// TOML file describing one more OAuth2 provider (endpoints, scopes, claim, IMAP hosts,
    /// client ID); see README.
    #[arg(long, env = "IMAPCOPY_OAUTH2_PROVIDER_FILE")]
    pub oauth2_provider_file: Option<PathBuf>,
    /// File holding that provider's client secret (or set IMAPCOPY_OAUTH2_CLIENT_SECRET).
    #[arg(long, env = "IMAPCOPY_OAUTH2_CLIENT_SECRET_FILE")]
    pub oauth2_client_secret_file: Option<PathBuf>,
}

impl Default for OAuthArgs {
    /// Nothing enabled; tenant `common` (as the flag's default).
    fn default() -> Self {
        OAuthArgs {
            google_client_id: None,
            google_client_secret_file: None,
            microsoft_client_id: None,
            microsoft_client_secret_file: None,
            microsoft_tenant: Tenant::common().as_str().to_string(),
            oauth2_provider_file: None,
            oauth2_client_secret_file: None,
        }
    }
}

impl OAuthArgs {
    /// The enabled providers, reading secrets from their files or from the environment.
    pub fn providers(&self, public_url: &str) -> anyhow::Result<Providers> {
        self.providers_with(public_url, &|name| std::env::var(name).ok())
    }

    /// [`OAuthArgs::providers`] with the environment injected (tests).
    pub fn providers_with(
        &self,
        public_url: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Providers> {
        let redirect_uri = redirect_uri(public_url)?;
        let mut enabled = Vec::new();
        if let Some(id) = &self.google_client_id {
            let secret = secret(
                "--google-client-secret-file",
                self.google_client_secret_file.as_deref(),
                GOOGLE_SECRET_ENV,
                env,
            )?;
            enabled.push(OAuthClient::new(
                ProviderSpec::google(),
                id,
                secret,
                &redirect_uri,
            )?);
        }
        if let Some(id) = &self.microsoft_client_id {
            let tenant = Tenant::parse(&self.microsoft_tenant)
                .map_err(|e| anyhow::anyhow!("--microsoft-tenant: {e}"))?;
            let secret = secret(
                "--microsoft-client-secret-file",
                self.microsoft_client_secret_file.as_deref(),
                MICROSOFT_SECRET_ENV,
                env,
            )?;
            enabled.push(OAuthClient::new(
                ProviderSpec::microsoft(&tenant),
                id,
                secret,
                &redirect_uri,
            )?);
        }
        if let Some(path) = &self.oauth2_provider_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let file = GenericProviderFile::parse(&text)
                .and_then(|f| f.spec().map(|spec| (f, spec)))
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
            let (file, spec) = file?;
            let secret = secret(
                "--oauth2-client-secret-file",
                self.oauth2_client_secret_file.as_deref(),
                GENERIC_SECRET_ENV,
                env,
            )?;
            enabled.push(OAuthClient::new(
                spec,
                &file.client_id,
                secret,
                &redirect_uri,
            )?);
        }
        Ok(Providers { enabled })
    }
}

/// `{public_url}/oauth2/callback`; the public URL must be an absolute http(s) URL.
pub fn redirect_uri(public_url: &str) -> anyhow::Result<String> {
    let base = public_url.trim_end_matches('/');
    let parsed = oauth2::url::Url::parse(base)
        .with_context(|| format!("--public-url {public_url:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        bail!("--public-url {public_url:?} must be an http:// or https:// URL");
    }
    Ok(format!("{base}{CALLBACK_PATH}"))
}

/// A client secret from its file (first line) or its environment variable; both set is an
/// error (which one wins would be a guess).
fn secret(
    flag: &str,
    file: Option<&Path>,
    env_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<SecretString> {
    let from_env = env(env_name).filter(|v| !v.is_empty());
    let value = match (file, from_env) {
        (Some(_), Some(_)) => bail!("both {flag} and {env_name} are set: keep one"),
        (Some(path), None) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {flag} {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        (None, Some(value)) => value,
        (None, None) => bail!("a client ID is set but no secret: use {flag} or {env_name}"),
    };
    if value.trim().is_empty() {
        bail!("the client secret from {flag} / {env_name} is empty");
    }
    Ok(SecretString::from(value))
}

/// One provider the operator enabled: what it is and this service's client with it.
pub struct OAuthClient {
    pub spec: ProviderSpec,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
}

impl OAuthClient {
    pub fn new(
        spec: ProviderSpec,
        client_id: &str,
        client_secret: SecretString,
        redirect_uri: &str,
    ) -> anyhow::Result<Arc<OAuthClient>> {
        let client_id = client_id.trim();
        if client_id.is_empty() {
            bail!("{}: the client ID is empty", spec.display_name);
        }
        Ok(Arc::new(OAuthClient {
            spec,
            client_id: client_id.to_string(),
            client_secret,
            redirect_uri: redirect_uri.to_string(),
        }))
    }
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("provider", &self.spec.id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[hidden]")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// Why a provider's sign-in is not available, and what the wizard offers instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotEnabled {
    /// Google without a configured client: an app password still works for Gmail.
    UseAppPassword { provider: ProviderId },
    /// No fallback: the service does not offer this sign-in.
    NotOffered { provider: ProviderId },
}

impl NotEnabled {
    pub fn provider(&self) -> &ProviderId {
        match self {
            NotEnabled::UseAppPassword { provider } | NotEnabled::NotOffered { provider } => {
                provider
            }
        }
    }

    /// An English sentence for the wizard and logs.
    pub fn message(&self) -> String {
        match self {
            NotEnabled::UseAppPassword { .. } => "This service has not enabled Google sign-in: \
                 use an app password (Google Account → Security → 2-Step Verification → App \
                 passwords)."
                .to_string(),
            NotEnabled::NotOffered {
                provider: ProviderId::Microsoft,
            } => "This service has not enabled Microsoft sign-in, and Microsoft accepts no \
                 passwords over IMAP."
                .to_string(),
            NotEnabled::NotOffered { provider } => {
                format!("This service has not enabled sign-in with {provider}.")
            }
        }
    }
}

/// The providers the operator enabled.
#[derive(Debug, Default, Clone)]
pub struct Providers {
    enabled: Vec<Arc<OAuthClient>>,
}

impl Providers {
    /// Providers from already built clients (tests, other front ends).
    pub fn from_clients(enabled: Vec<Arc<OAuthClient>>) -> Providers {
        Providers { enabled }
    }

    /// The enabled provider with this id, or why it is not available.
    pub fn get(&self, id: &ProviderId) -> Result<Arc<OAuthClient>, NotEnabled> {
        if let Some(client) = self.enabled.iter().find(|c| &c.spec.id == id) {
            return Ok(client.clone());
        }
        Err(match id {
            ProviderId::Google => NotEnabled::UseAppPassword {
                provider: id.clone(),
            },
            _ => NotEnabled::NotOffered {
                provider: id.clone(),
            },
        })
    }

    /// Which provider signs in for an IMAP host: an enabled one first, else a built-in one
    /// (so that the wizard can say it is not enabled). None: passwords only.
    pub fn for_imap_host(&self, host: &str) -> Option<ProviderId> {
        if let Some(c) = self.enabled.iter().find(|c| c.spec.serves_host(host)) {
            return Some(c.spec.id.clone());
        }
        [
            ProviderSpec::google(),
            ProviderSpec::microsoft(&Tenant::common()),
        ]
        .into_iter()
        .find(|spec| spec.serves_host(host))
        .map(|spec| spec.id)
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Arc<OAuthClient>> {
        self.enabled.iter()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn args(argv: &[&str]) -> OAuthArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: OAuthArgs,
        }
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("imapcopy").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn nothing_configured_means_fallbacks() {
        let p = args(&[])
            .providers_with("https://copy.example.org", &no_env)
            .unwrap();
        assert_eq!(p.enabled().count(), 0);
        let google = p.get(&ProviderId::Google).unwrap_err();
        assert!(matches!(google, NotEnabled::UseAppPassword { .. }));
        assert!(google.message().contains("app password"));
        let ms = p.get(&ProviderId::Microsoft).unwrap_err();
        assert!(
            ms.message().contains("not enabled Microsoft sign-in"),
            "{}",
            ms.message()
        );
        assert_eq!(p.for_imap_host("IMAP.gmail.com"), Some(ProviderId::Google));
        assert_eq!(
            p.for_imap_host("outlook.office365.com"),
            Some(ProviderId::Microsoft)
        );
        assert_eq!(p.for_imap_host("imap.example.org"), None);
    }

    #[test]
    fn secrets_come_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("google.secret");
        std::fs::write(&file, "file-secret\n").unwrap();
        let a = args(&[
            "--google-client-id",
            "gid",
            "--google-client-secret-file",
            file.to_str().unwrap(),
            "--microsoft-client-id",
            "mid",
            "--microsoft-tenant",
            "contoso.example",
        ]);
        let env = |name: &str| (name == MICROSOFT_SECRET_ENV).then(|| "env-secret".to_string());
        let p = a.providers_with("https://copy.example.org/", &env).unwrap();
        let g = p.get(&ProviderId::Google).unwrap();
        assert_eq!(g.client_secret.expose_secret(), "file-secret");
        assert_eq!(g.redirect_uri, "https://copy.example.org/oauth2/callback");
        let m = p.get(&ProviderId::Microsoft).unwrap();
        assert_eq!(m.client_secret.expose_secret(), "env-secret");
        assert!(m.spec.endpoints.authorization.contains("/contoso.example/"));
        assert!(!format!("{m:?}").contains("env-secret"));

        // A client ID without a secret, or with two, is a configuration error.
        let only_id = args(&["--google-client-id", "gid"]);
        assert!(only_id
            .providers_with("https://c.example", &no_env)
            .is_err());
        let both = |_: &str| Some("x".to_string());
        assert!(a.providers_with("https://c.example", &both).is_err());
        assert!(
            args(&["--microsoft-client-id", "m", "--microsoft-tenant", "a/b"])
                .providers_with("https://c.example", &env)
                .is_err()
        );
    }

    #[test]
    fn there_is_no_flag_for_a_secret_value() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: OAuthArgs,
        }
        use clap::Parser;
        assert!(Cli::try_parse_from(["imapcopy", "--google-client-secret", "s"]).is_err());
    }

    #[test]
    fn default_is_the_flags_default() {
        assert_eq!(
            OAuthArgs::default().microsoft_tenant,
            args(&[]).microsoft_tenant
        );
    }

    #[test]
    fn redirect_uri_from_the_public_url() {
        assert_eq!(
            redirect_uri("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000/oauth2/callback"
        );
        assert!(redirect_uri("copy.example.org").is_err());
    }
}
