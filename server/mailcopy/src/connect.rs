//! Opening an authenticated IMAP session: resolve, check addresses, TCP, TLS or STARTTLS,
//! greeting, CAPABILITY, AUTHENTICATE (PLAIN, OAUTHBEARER, XOAUTH2) or LOGIN, CAPABILITY again.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_imap::types::UnsolicitedResponse;
use async_imap::Client;
use imap_proto::{Response, ResponseCode, Status};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::error::{connect_error, imap_error, io_error, truncate, ConnectError};
use crate::imap::{auth, conn::Connection};
use crate::limit::ConnectionLimiter;
use crate::net::{AddressPolicy, Resolver, SystemResolver};
use crate::session::ImapSession;
use crate::stream::{timed, MailStream};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS from the first byte (usually port 993).
    Tls,
    /// Plain IMAP, then `STARTTLS` before anything else (usually port 143). Refused if the
    /// server does not offer it: never falls back to plaintext.
    StartTls,
    /// No encryption at all: only when the caller explicitly chose it.
    Plain,
}

impl Security {
    /// The usual port for this kind of connection.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::Plain => 143,
        }
    }
}

/// Where an IMAP server is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// DNS name or IP literal; also the name the TLS certificate must carry.
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl Endpoint {
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> Self {
        Endpoint {
            host: host.into(),
            port,
            security,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sec = match self.security {
            Security::Tls => "TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "no encryption",
        };
        write!(f, "{}:{} ({sec})", self.host, self.port)
    }
}

/// What proves the login: a password, or an OAuth2 access token (signed in at the provider).
/// `Debug` never shows either.
#[derive(Clone)]
pub enum Secret {
    /// AUTHENTICATE PLAIN, or LOGIN.
    Password(SecretString),
    /// AUTHENTICATE OAUTHBEARER (RFC 7628) or XOAUTH2, whichever the server offers.
    AccessToken(SecretString),
    /// Access tokens from a source that renews them (a long copy outlives one token): asked
    /// before every login, and asked again once with the refused token when the server
    /// refuses it.
    Tokens(Arc<dyn TokenSource>),
}

/// Where a long copy gets OAuth2 access tokens: the job runner refreshes them at the
/// provider. Every connection of a copy asks the same source, so an implementation makes one
/// refresh at a time (a provider that detects refresh-token reuse revokes the whole grant when
/// a rotated refresh token is presented twice).
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// A current access token. `refused` is the token the server has just refused (expired
    /// or revoked early): the source then renews it, unless it already holds a newer one
    /// (another connection renewed it meanwhile).
    async fn access_token(
        &self,
        refused: Option<&SecretString>,
    ) -> Result<SecretString, TokenUnavailable>;
}

/// Why a [`TokenSource`] has no access token to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenUnavailable {
    /// The grant is gone (revoked, expired, `invalid_grant`): a person has to sign in again.
    #[error("the sign-in is no longer valid, sign in again: {detail}")]
    SignInNeeded { detail: String },
    /// The provider could not be reached or answered with a temporary error.
    #[error("the access token could not be renewed: {detail}")]
    Temporary { detail: String },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password([hidden])"),
            Secret::AccessToken(_) => f.write_str("AccessToken([hidden])"),
            Secret::Tokens(_) => f.write_str("Tokens([hidden])"),
        }
    }
}

/// Login name and its secret (password or access token). `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub login: String,
    pub secret: Secret,
}

impl Credentials {
    /// A login name and its password.
    pub fn new(login: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            login: login.into(),
            secret: Secret::Password(SecretString::from(password.into())),
        }
    }

    /// A login name (the mail address the token was issued for) and an OAuth2 access token.
    pub fn oauth2(login: impl Into<String>, access_token: impl Into<String>) -> Self {
        Credentials {
            login: login.into(),
            secret: Secret::AccessToken(SecretString::from(access_token.into())),
        }
    }

    /// A login name and the source of its OAuth2 access tokens.
    pub fn oauth2_source(login: impl Into<String>, source: Arc<dyn TokenSource>) -> Self {
        Credentials {
            login: login.into(),
            secret: Secret::Tokens(source),
        }
    }

    /// Whether these credentials sign in with an OAuth2 access token.
    pub fn is_oauth2(&self) -> bool {
        matches!(self.secret, Secret::AccessToken(_) | Secret::Tokens(_))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A built TLS configuration and the `extra_ca_pem` it was built from.
type CachedTls = (Option<Vec<u8>>, Arc<ClientConfig>);

/// Everything about *how* to connect that is not the server or the account.
#[derive(Clone)]
pub struct ConnectOptions {
    pub resolver: Arc<dyn Resolver>,
    pub policy: AddressPolicy,
    /// PEM certificates trusted in addition to the webpki (Mozilla) roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// DNS lookup, and each TCP connect attempt.
    pub connect_timeout: Duration,
    /// Longest wait for any single read or write on the socket.
    pub io_timeout: Duration,
    /// Longest wait for the server's greeting after the TCP (and TLS) connection is up.
    pub greeting_timeout: Duration,
    /// Everything from the TCP connection to the capabilities after login.
    pub login_timeout: Duration,
    /// Reused TLS configuration (keeps TLS session tickets), keyed by `extra_ca_pem`.
    tls_cache: Arc<Mutex<Option<CachedTls>>>,
    /// The process-wide cap on connections per server and account, if any.
    pub limiter: Option<ConnectionLimiter>,
    /// How long a connection waits for a place under the cap (a copy's extra connections
    /// do not wait).
    pub limiter_wait: Duration,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("resolver", &self.resolver)
            .field("policy", &self.policy)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("greeting_timeout", &self.greeting_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("limiter", &self.limiter)
            .field("limiter_wait", &self.limiter_wait)
            .finish_non_exhaustive()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self::new(Arc::new(SystemResolver))
    }
}

impl ConnectOptions {
    /// Defaults: public addresses only, webpki roots, 10 s connect, 30 s I/O, 10 s greeting,
    /// 60 s for the whole login.
    pub fn new(resolver: Arc<dyn Resolver>) -> Self {
        ConnectOptions {
            resolver,
            policy: AddressPolicy::PublicOnly,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            greeting_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(60),
            tls_cache: Arc::default(),
            limiter: None,
            limiter_wait: Duration::from_secs(120),
        }
    }

    /// Connections go through `limiter` (shared by every copy of the process).
    pub fn with_limiter(mut self, limiter: ConnectionLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The same options, for a connection that does not wait for a place under the cap.
    pub fn without_limiter_wait(&self) -> Self {
        ConnectOptions {
            limiter_wait: Duration::ZERO,
            ..self.clone()
        }
    }

    /// Also trusts the CA certificates in the PEM file at `path`.
    pub fn with_ca_file(self, path: impl AsRef<Path>) -> Result<Self, ConnectError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| ConnectError::InvalidCaFile {
            detail: format!("{}: {e}", path.display()),
        })?;
        self.with_ca_pem(pem)
    }

    /// Also trusts the CA certificates in `pem`.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Result<Self, ConnectError> {
        let pem = pem.into();
        parse_pem_certs(&pem)?;
        self.extra_ca_pem = Some(pem);
        Ok(self)
    }

    pub fn with_policy(mut self, policy: AddressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets `connect_timeout`, `io_timeout` and `greeting_timeout` at once (tests).
    pub fn with_timeouts(mut self, connect: Duration, io: Duration) -> Self {
        self.connect_timeout = connect;
        self.io_timeout = io;
        self.greeting_timeout = io;
        self
    }

    /// The TLS client configuration for these options (built once, then shared).
    pub fn tls_config(&self) -> Result<Arc<ClientConfig>, ConnectError> {
        let mut cache = self
            .tls_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((pem, config)) = cache.as_ref() {
            if *pem == self.extra_ca_pem {
                return Ok(config.clone());
            }
        }
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = &self.extra_ca_pem {
            for cert in parse_pem_certs(pem)? {
                roots.add(cert).map_err(|e| ConnectError::InvalidCaFile {
                    detail: e.to_string(),
                })?;
            }
        }
        // An explicit provider: never depend on a process-wide default that another crate in
        // the binary may or may not have installed.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Tls {
                detail: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Arc::new(config);
        *cache = Some((self.extra_ca_pem.clone(), config.clone()));
        Ok(config)
    }
}

fn parse_pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConnectError::InvalidCaFile {
            detail: format!("not valid PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(ConnectError::InvalidCaFile {
            detail: "no CERTIFICATE block found".to_string(),
        });
    }
    Ok(certs)
}

/// Opens an authenticated session. With a [`TokenSource`], the login uses its current token
/// and, when the server refuses that one, one renewed token on a new connection.
pub async fn connect(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<ImapSession, ConnectError> {
    let permit = match &opts.limiter {
        Some(limiter) => Some(
            limiter
                .acquire(&endpoint.host, &creds.login, opts.limiter_wait)
                .await
                .ok_or_else(|| too_many(limiter, &endpoint.host))?,
        ),
        None => None,
    };
    let mut session = connect_unlimited(endpoint, creds, opts).await?;
    if let Some(p) = permit {
        session.hold(p);
    }
    Ok(session)
}

/// The error for a connection the limiter has no place for: worded like a server's own
/// answer, so that it is taken as throttling (`stop::throttle_hint`).
fn too_many(limiter: &ConnectionLimiter, host: &str) -> ConnectError {
    let caps = limiter.caps();
    ConnectError::Rejected {
        server_text: format!(
            "too many simultaneous connections to {host} from this service (at most {} per server and {} per account); try again later",
            caps.per_server, caps.per_account
        ),
    }
}

async fn connect_unlimited(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<ImapSession, ConnectError> {
    let Secret::Tokens(source) = &creds.secret else {
        return connect_once(endpoint, creds, opts).await;
    };
    let with_token = |token: SecretString| Credentials {
        login: creds.login.clone(),
        secret: Secret::AccessToken(token),
    };
    let token = source.access_token(None).await?;
    match connect_once(endpoint, &with_token(token.clone()), opts).await {
        Err(ConnectError::TokenRefused { .. }) => {
            let renewed = source.access_token(Some(&token)).await?;
            connect_once(endpoint, &with_token(renewed), opts).await
        }
        other => other,
    }
}

async fn connect_once(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<ImapSession, ConnectError> {
    let tls = match endpoint.security {
        Security::Tls | Security::StartTls => Some(opts.tls_config()?),
        Security::Plain => None,
    };
    let tcp = open_tcp(endpoint, opts).await?;
    tracing::trace!(host = %endpoint.host, "connect: TCP open");
    match timeout(
        opts.login_timeout,
        establish(tcp, endpoint, creds, opts, tls),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(ConnectError::TimedOut { stage: "login" }),
    }
}

/// Resolves, applies the address policy to every address, and connects to the allowed ones in
/// order until one answers.
pub(crate) async fn open_tcp(
    endpoint: &Endpoint,
    opts: &ConnectOptions,
) -> Result<TcpStream, ConnectError> {
    let host = endpoint.host.trim();
    if host.is_empty() {
        return Err(ConnectError::InvalidInput {
            detail: "the server name is empty".to_string(),
        });
    }
    let addrs: Vec<SocketAddr> = match timeout(
        opts.connect_timeout,
        opts.resolver.resolve(host, endpoint.port),
    )
    .await
    {
        Err(_) => {
            return Err(ConnectError::TimedOut {
                stage: "DNS lookup",
            })
        }
        Ok(Err(e)) => {
            tracing::debug!(host, error = %e, "resolution failed");
            return Err(ConnectError::HostNotFound {
                host: host.to_string(),
            });
        }
        Ok(Ok(a)) => a,
    };
    let (allowed, refused) = opts.policy.filter(&addrs);
    if let Some(first) = refused.first() {
        tracing::debug!(host, ?refused, "addresses refused by policy");
        if allowed.is_empty() {
            return Err(ConnectError::AddressNotAllowed {
                host: host.to_string(),
                addr: first.ip().to_string(),
            });
        }
    }
    let mut last = ConnectError::HostNotFound {
        host: host.to_string(),
    };
    for addr in allowed {
        match timeout(opts.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                // Small commands and their answers: latency beats batching.
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "set_nodelay failed");
                }
                return Ok(tcp);
            }
            Ok(Err(e)) => last = connect_error(addr, &e),
            Err(_) => last = ConnectError::TimedOut { stage: "connect" },
        }
        tracing::debug!(%addr, error = %last, "connect attempt failed");
    }
    Err(last)
}

async fn establish(
    tcp: TcpStream,
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
    tls: Option<Arc<ClientConfig>>,
) -> Result<ImapSession, ConnectError> {
    let host = endpoint.host.trim();
    let mut stream = MailStream::plain(timed(tcp, opts.io_timeout));
    if let (Security::Tls, Some(config)) = (endpoint.security, &tls) {
        stream = stream.start_tls(host, config.clone()).await?;
    }
    let mut client = Client::new(stream);
    let (greeting_caps, greeting) = read_greeting(&mut client, opts.greeting_timeout).await?;
    tracing::trace!(host, "connect: greeting read");

    let (client, caps) = match (endpoint.security, tls) {
        (Security::StartTls, Some(config)) => {
            let caps = match greeting_caps {
                Some(c) => c,
                None => pre_auth_capabilities(&mut client).await?,
            };
            if !has_cap(&caps, "STARTTLS") {
                return Err(ConnectError::StartTlsNotOffered);
            }
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| imap_error("STARTTLS", e))?;
            let stream = client.into_inner().start_tls(host, config).await?;
            // No second greeting after STARTTLS; capabilities from before TLS must be
            // discarded (RFC 3501 6.2.1), so ask again.
            let mut client = Client::new(stream);
            let caps = pre_auth_capabilities(&mut client).await?;
            (client, caps)
        }
        _ => match greeting_caps {
            Some(c) => (client, c),
            None => {
                let caps = pre_auth_capabilities(&mut client).await?;
                (client, caps)
            }
        },
    };

    // From here on the engine's own protocol layer talks to the server: nothing is pending
    // on the stream (the last command, CAPABILITY or STARTTLS, was answered).
    let mut conn = Connection::new(client.into_inner());
    tracing::trace!(host, "connect: ready to log in");
    auth::authenticate(&mut conn, &caps, creds, endpoint).await?;
    tracing::trace!(host, "connect: logged in");
    let mut session = ImapSession::new(conn, host.to_string(), greeting);
    // Servers announce more (or other) capabilities once logged in.
    session.refresh_capabilities().await?;
    Ok(session)
}

/// Reads the greeting; returns the capabilities if the server put them in it, and its text.
async fn read_greeting(
    client: &mut Client<MailStream>,
    greeting_timeout: Duration,
) -> Result<(Option<Vec<String>>, String), ConnectError> {
    let resp = match timeout(greeting_timeout, client.read_response()).await {
        Err(_) => return Err(ConnectError::NoGreeting),
        Ok(Err(e)) => {
            return Err(match io_error("greeting", &e) {
                ConnectError::TimedOut { .. } => ConnectError::NoGreeting,
                other => other,
            });
        }
        Ok(Ok(None)) => return Err(ConnectError::ClosedByServer { stage: "greeting" }),
        Ok(Ok(Some(r))) => r,
    };
    match resp.parsed() {
        Response::Data {
            status: Status::Ok,
            outcome,
        } => Ok((
            match &outcome.code {
                Some(ResponseCode::Capabilities(caps)) => {
                    Some(caps.iter().map(cap_string).collect())
                }
                _ => None,
            },
            truncate(
                outcome
                    .information
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
            ),
        )),
        Response::Data {
            status: Status::Bye,
            outcome,
        } => Err(ConnectError::Rejected {
            server_text: truncate(outcome.information.as_deref().unwrap_or("BYE").to_string()),
        }),
        Response::Data {
            status: Status::PreAuth,
            ..
        } => Err(ConnectError::Protocol {
            detail: "the server greeted with PREAUTH (already logged in), which is not supported"
                .to_string(),
        }),
        other => Err(ConnectError::Protocol {
            detail: truncate(format!("unexpected greeting: {other:?}")),
        }),
    }
}

pub(crate) fn cap_string(c: &imap_proto::Capability<'_>) -> String {
    match c {
        imap_proto::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
        imap_proto::Capability::Auth(m) => format!("AUTH={m}"),
        imap_proto::Capability::Atom(a) => a.to_string(),
    }
}

pub(crate) fn has_cap(caps: &[String], cap: &str) -> bool {
    caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
}

/// CAPABILITY before login. `Client` has no `capabilities()`, so the untagged answer is taken
/// from the unsolicited-response channel.
async fn pre_auth_capabilities(
    client: &mut Client<MailStream>,
) -> Result<Vec<String>, ConnectError> {
    let (tx, rx) = async_channel::bounded(64);
    client
        .run_command_and_check_ok("CAPABILITY", Some(tx))
        .await
        .map_err(|e| imap_error("CAPABILITY", e))?;
    let mut caps = Vec::new();
    while let Ok(u) = rx.try_recv() {
        if let UnsolicitedResponse::Other(data) = u {
            if let Response::Capabilities(cs) = data.parsed() {
                caps.extend(cs.iter().map(cap_string));
            }
        }
    }
    if caps.is_empty() {
        return Err(ConnectError::Protocol {
            detail: "the server answered CAPABILITY without listing capabilities".to_string(),
        });
    }
    Ok(caps)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_password() {
        let c = Credentials::new("alice", "s3cr3t-\"\\é§ x");
        let d = format!("{c:?}");
        assert!(d.contains("alice"));
        assert!(!d.contains("s3cr3t"));
        assert!(d.contains("[hidden]"));
        assert!(!c.is_oauth2());
        let t = Credentials::oauth2("bob@example.test", "ya29.tok3n");
        let d = format!("{t:?}");
        assert!(t.is_oauth2());
        assert!(d.contains("bob@example.test") && d.contains("AccessToken([hidden])"));
        assert!(!d.contains("tok3n"), "{d}");
        match &t.secret {
            Secret::AccessToken(s) => {
                assert_eq!(secrecy::ExposeSecret::expose_secret(s), "ya29.tok3n")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn security_serde_and_ports() {
        assert_eq!(
            serde_json::to_string(&Security::StartTls).unwrap(),
            "\"starttls\""
        );
        let s: Security = serde_json::from_str("\"tls\"").unwrap();
        assert_eq!(s, Security::Tls);
        assert_eq!(Security::Tls.default_port(), 993);
        assert_eq!(Security::StartTls.default_port(), 143);
    }

    #[test]
    fn options_defaults_and_ca() {
        let o = ConnectOptions::default();
        assert_eq!(o.policy, AddressPolicy::PublicOnly);
        assert_eq!(o.connect_timeout, Duration::from_secs(10));
        assert_eq!(o.io_timeout, Duration::from_secs(30));
        let c1 = o.tls_config().unwrap();
        let c2 = o.tls_config().unwrap();
        assert!(Arc::ptr_eq(&c1, &c2));
        let err = o.clone().with_ca_pem(b"not pem".to_vec()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidCaFile);
        let err = o.with_ca_file("/nonexistent/ca.pem").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidCaFile);
    }
}
