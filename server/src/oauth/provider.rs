//! OAuth2 providers as data: the endpoints, scopes and quirks of Google and Microsoft, and a
//! generic provider an operator describes in a file. Nothing here does I/O.

use std::fmt;

use serde::Deserialize;

/// Which provider: the two built in, or a generic one by the name its file gives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProviderId {
    Google,
    Microsoft,
    Generic(String),
}

impl ProviderId {
    /// Stable identifier (forms, the state store, sealed credentials).
    pub fn as_str(&self) -> &str {
        match self {
            ProviderId::Google => "google",
            ProviderId::Microsoft => "microsoft",
            ProviderId::Generic(name) => name,
        }
    }

    /// The provider an identifier from [`ProviderId::as_str`] names (a generic provider's
    /// file may not take a built-in name, so the two never collide).
    pub fn parse(id: &str) -> ProviderId {
        match id {
            "google" => ProviderId::Google,
            "microsoft" => ProviderId::Microsoft,
            other => ProviderId::Generic(other.to_string()),
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the client authenticates at the token and revocation endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 2.3.1).
    Basic,
    /// `client_secret_post`: id and secret in the form body.
    Post,
}

/// The provider's endpoints. Public so that tests can point one at a local listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub revocation: Option<String>,
    pub userinfo: Option<String>,
}

/// Everything the flow needs to know about one provider, besides the operator's client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSpec {
    pub id: ProviderId,
    /// For "Sign in with …".
    pub display_name: String,
    pub endpoints: Endpoints,
    /// Requested scopes, in order.
    pub scopes: Vec<String>,
    /// The scope that allows IMAP; a grant without it is useless (missing scope).
    pub imap_scope: String,
    /// Extra authorization parameters.
    pub extra_params: Vec<(String, String)>,
    /// ID token / userinfo claims that name the account (the IMAP login), tried in order.
    pub account_claims: Vec<String>,
    /// IMAP hosts this provider signs in for (lower case).
    pub imap_hosts: Vec<String>,
    pub client_auth: ClientAuth,
}

impl ProviderSpec {
    /// Google (Gmail, Workspace).
    pub fn google() -> ProviderSpec {
        ProviderSpec {
            id: ProviderId::Google,
            display_name: "Google".to_string(),
            endpoints: Endpoints {
                authorization: "https://accounts.google.com/o/oauth2/v2/auth".to_string(),
                token: "https://oauth2.googleapis.com/token".to_string(),
                revocation: Some("https://oauth2.googleapis.com/revoke".to_string()),
                userinfo: Some("https://openidconnect.googleapis.com/v1/userinfo".to_string()),
            },
            scopes: strings(&["openid", "email", "https://mail.google.com/"]),
            imap_scope: "https://mail.google.com/".to_string(),
            // Google: there is no `offline_access` scope; `access_type=offline` asks for a
            // refresh token, and without `prompt=consent` a repeated sign-in issues none.
            extra_params: vec![
                ("access_type".to_string(), "offline".to_string()),
                ("prompt".to_string(), "consent".to_string()),
            ],
            account_claims: strings(&["email"]),
            imap_hosts: strings(&["imap.gmail.com", "imap.googlemail.com"]),
            client_auth: ClientAuth::Basic,
        }
    }

    /// Microsoft (Outlook.com / Hotmail, Microsoft 365) for a tenant (`common`, or a tenant
    /// ID or domain).
    pub fn microsoft(tenant: &Tenant) -> ProviderSpec {
        let base = format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0",
            tenant.as_str()
        );
        ProviderSpec {
            id: ProviderId::Microsoft,
            display_name: "Microsoft".to_string(),
            endpoints: Endpoints {
                authorization: format!("{base}/authorize"),
                token: format!("{base}/token"),
                // Microsoft: the identity platform has no RFC 7009 revocation endpoint.
                revocation: None,
                // Microsoft: its userinfo is on Microsoft Graph, and an access token is for one
                // resource only (here Outlook's IMAP): the account comes from the ID token.
                userinfo: None,
            },
            scopes: strings(&[
                "openid",
                "email",
                "profile",
                "offline_access",
                "https://outlook.office.com/IMAP.AccessAsUser.All",
            ]),
            imap_scope: "https://outlook.office.com/IMAP.AccessAsUser.All".to_string(),
            extra_params: Vec::new(),
            // Microsoft: `email` is optional in its ID tokens (only when the account has
            // one set); `preferred_username` is the sign-in name, the mailbox address for
            // Outlook.com and usually for Microsoft 365.
            account_claims: strings(&["email", "preferred_username"]),
            imap_hosts: strings(&["outlook.office365.com", "imap-mail.outlook.com"]),
            // Microsoft: the v2.0 token endpoint's documentation sends `client_secret` in the
            // body; that avoids depending on how it decodes Basic credentials (its secrets
            // contain `~`, which RFC 6749's form-encoding before Basic changes).
            client_auth: ClientAuth::Post,
        }
    }

    /// Whether this provider signs in for the IMAP host (compared without case).
    pub fn serves_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.imap_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether a granted scope list (space-separated, as in a token response) includes the
    /// IMAP scope. Scope values are compared without case: Microsoft answers with its own
    /// spelling of the resource's scopes.
    pub fn grants_imap(&self, granted: &str) -> bool {
        // Microsoft: a scope of a resource may come back without the resource's URI
        // (`IMAP.AccessAsUser.All` for `https://outlook.office.com/IMAP.AccessAsUser.All`).
        let short = match self.id {
            ProviderId::Microsoft => self.imap_scope.rsplit('/').next().filter(|s| !s.is_empty()),
            _ => None,
        };
        granted.split_ascii_whitespace().any(|s| {
            s.eq_ignore_ascii_case(&self.imap_scope)
                || short.is_some_and(|short| s.eq_ignore_ascii_case(short))
        })
    }
}

/// A Microsoft tenant: `common` (any work, school or personal account), `organizations`,
/// `consumers`, a tenant ID (GUID) or a verified domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant(String);

impl Tenant {
    pub fn common() -> Tenant {
        Tenant("common".to_string())
    }

    /// A tenant from configuration: letters, digits, `-` and `.` only (it goes into a path).
    pub fn parse(value: &str) -> Result<Tenant, String> {
        let value = value.trim();
        let ok = !value.is_empty()
            && value.len() <= 100
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && !value.starts_with('.');
        if ok {
            Ok(Tenant(value.to_string()))
        } else {
            Err(format!(
                "{value:?} is not a Microsoft tenant (common, organizations, consumers, a tenant ID or a domain)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant::common()
    }
}

/// The operator's file describing a generic provider (TOML). Its client secret is not in it:
/// it comes from `--oauth2-client-secret-file` or the environment.
///
/// ```toml
/// name = "example"
/// display_name = "Example Mail"
/// authorization_endpoint = "https://id.example.org/authorize"
/// token_endpoint = "https://id.example.org/token"
/// revocation_endpoint = "https://id.example.org/revoke"   # optional
/// userinfo_endpoint = "https://id.example.org/userinfo"   # optional
/// scopes = ["openid", "email", "offline_access", "imap"]
/// imap_scope = "imap"
/// account_claim = "email"                                  # default
/// imap_hosts = ["imap.example.org"]
/// client_id = "imapcopy"
/// client_auth = "basic"                                    # or "post"; default basic
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericProviderFile {
    pub name: String,
    pub display_name: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub scopes: Vec<String>,
    pub imap_scope: String,
    pub account_claim: Option<String>,
    pub imap_hosts: Vec<String>,
    pub client_id: String,
    pub client_auth: Option<ClientAuth>,
    #[serde(default)]
    pub extra_params: Vec<(String, String)>,
}

impl GenericProviderFile {
    pub fn parse(text: &str) -> Result<GenericProviderFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The provider it describes, after checking it (names, endpoints, scopes).
    pub fn spec(&self) -> Result<ProviderSpec, String> {
        let name = self.name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("name must be letters, digits, - or _".to_string());
        }
        if matches!(name, "google" | "microsoft") {
            return Err(format!("name {name:?} is taken by a built-in provider"));
        }
        for (what, url) in [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            ("userinfo_endpoint", self.userinfo_endpoint.as_ref()),
        ] {
            if let Some(url) = url {
                check_endpoint(url).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        if !self.scopes.iter().any(|s| s == &self.imap_scope) {
            return Err(format!(
                "imap_scope {:?} is not among the scopes",
                self.imap_scope
            ));
        }
        if self.imap_hosts.is_empty() {
            return Err("imap_hosts lists no host".to_string());
        }
        if self.client_id.trim().is_empty() {
            return Err("client_id is empty".to_string());
        }
        Ok(ProviderSpec {
            id: ProviderId::Generic(name.to_string()),
            display_name: self
                .display_name
                .clone()
                .unwrap_or_else(|| name.to_string()),
            endpoints: Endpoints {
                authorization: self.authorization_endpoint.clone(),
                token: self.token_endpoint.clone(),
                revocation: self.revocation_endpoint.clone(),
                userinfo: self.userinfo_endpoint.clone(),
            },
            scopes: self.scopes.clone(),
            imap_scope: self.imap_scope.clone(),
            extra_params: self.extra_params.clone(),
            account_claims: vec![self
                .account_claim
                .clone()
                .unwrap_or_else(|| "email".to_string())],
            imap_hosts: self
                .imap_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            client_auth: self.client_auth.unwrap_or(ClientAuth::Basic),
        })
    }
}

/// An endpoint must be `https://`, or `http://` on a loopback host (local test providers).
pub fn check_endpoint(url: &str) -> Result<(), String> {
    let parsed = oauth2::url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    let loopback = match parsed.host() {
        Some(oauth2::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(oauth2::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(oauth2::url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{url:?} must be https:// (http:// only on loopback)"
        )),
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FILE: &str = r#"
name = "example"
authorization_endpoint = "https://id.example.org/authorize"
token_endpoint = "http://127.0.0.1:4444/token"
scopes = ["openid", "email", "imap"]
imap_scope = "imap"
imap_hosts = ["IMAP.example.org"]
client_id = "imapcopy"
"#;

    #[test]
    fn generic_file_becomes_a_provider() {
        let spec = GenericProviderFile::parse(FILE).unwrap().spec().unwrap();
        assert_eq!(spec.id, ProviderId::Generic("example".into()));
        assert_eq!(spec.account_claims, vec!["email".to_string()]);
        assert_eq!(spec.client_auth, ClientAuth::Basic);
        assert!(spec.serves_host("imap.EXAMPLE.org."));
        assert!(!spec.serves_host("imap.gmail.com"));
        assert_eq!(spec.endpoints.revocation, None);
    }

    #[test]
    fn generic_file_is_checked() {
        let bad = |from: &str, to: &str| {
            GenericProviderFile::parse(&FILE.replace(from, to))
                .and_then(|f| f.spec())
                .unwrap_err()
        };
        assert!(bad("https://id.example.org", "http://id.example.org").contains("https"));
        assert!(bad("imap_scope = \"imap\"", "imap_scope = \"mail\"").contains("scopes"));
        assert!(bad("\"example\"", "\"google\"").contains("built-in"));
        assert!(bad("\"example\"", "\"ex ample\"").contains("name"));
        assert!(bad("client_id", "client_secret").contains("unknown field"));
    }

    #[test]
    fn provider_ids_round_trip() {
        for id in [
            ProviderId::Google,
            ProviderId::Microsoft,
            ProviderId::Generic("example".into()),
        ] {
            assert_eq!(ProviderId::parse(id.as_str()), id);
        }
    }

    #[test]
    fn endpoints_must_be_https_unless_loopback() {
        assert!(check_endpoint("https://oauth2.googleapis.com/token").is_ok());
        assert!(check_endpoint("http://localhost:3000/token").is_ok());
        assert!(check_endpoint("http://[::1]:3000/token").is_ok());
        assert!(check_endpoint("http://10.0.0.1/token").is_err());
        assert!(check_endpoint("ftp://localhost/token").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    #[test]
    fn builtin_providers() {
        let g = ProviderSpec::google();
        assert!(g.serves_host("imap.gmail.com"));
        assert!(g.grants_imap(
            "openid https://mail.google.com/ https://www.googleapis.com/auth/userinfo.email"
        ));
        assert!(!g.grants_imap("openid https://www.googleapis.com/auth/userinfo.email"));
        let m = ProviderSpec::microsoft(&Tenant::parse("contoso.onmicrosoft.com").unwrap());
        assert!(m
            .endpoints
            .token
            .starts_with("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/"));
        assert!(m.grants_imap("https://outlook.office.com/imap.accessasuser.all"));
        assert!(m.grants_imap("openid IMAP.AccessAsUser.All"));
        assert!(!m.grants_imap("openid https://outlook.office.com/User.Read"));
        // Only Microsoft's scopes have a short form.
        assert!(!g.grants_imap("mail.google.com"));
        assert!(m.serves_host("outlook.office365.com"));
        assert_eq!(m.endpoints.revocation, None);
        assert!(Tenant::parse("../evil").is_err());
        assert!(Tenant::parse("a/b").is_err());
        assert_eq!(Tenant::default().as_str(), "common");
    }
}
