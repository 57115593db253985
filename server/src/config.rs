//! Configuration of `imapcopy serve`: flags, each with an environment variable twin.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::builder::BoolishValueParser;
use clap::Args;
use mailcopy::net::{AddressPolicy, Resolver, StaticResolver, SystemResolver};
use mailcopy::{ConnectOptions, ConnectionCaps, ConnectionLimiter};

use crate::web::client::{ClientResolver, ProxyHeader, TrustedProxies};
use crate::web::{body::BodyLimits, hosts::AllowedHosts, ServeLimits, WebConfig};

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "IMAPCOPY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the key file.
    #[arg(long, env = "IMAPCOPY_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Directory holding the built site (pkg/ with JS, WASM and CSS; public assets).
    #[arg(long, env = "IMAPCOPY_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// The 32-byte key that seals passwords at rest (created on first start, mode 0600).
    /// Default: `<data-dir>/secret.key`. Keep it apart from the database in production.
    #[arg(long, env = "IMAPCOPY_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for IMAP servers, besides the public web PKI roots.
    #[arg(long, env = "IMAPCOPY_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Allow connections to loopback, private, link-local and other non-public addresses.
    /// Off by default: a public web form must not reach into the operator's own network.
    #[arg(long, env = "IMAPCOPY_ALLOW_PRIVATE_NETWORKS", value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_networks: bool,
    /// Resolve server names only from this hosts-format file (`IP NAME...` per line) instead of
    /// the system's DNS. For tests and closed networks.
    #[arg(long, env = "IMAPCOPY_STATIC_HOSTS")]
    pub static_hosts: Option<PathBuf>,
    /// Mark cookies `Secure` (set this when the service is reached over HTTPS).
    #[arg(long, env = "IMAPCOPY_SECURE_COOKIES", value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub secure_cookies: bool,
    /// Validate attempts allowed per client address and minute (0: unlimited).
    #[arg(long, env = "IMAPCOPY_VALIDATE_PER_MINUTE", default_value_t = 20)]
    pub validate_per_minute: u32,
    /// Synchronize attempts allowed per client address and minute (0: unlimited).
    #[arg(long, env = "IMAPCOPY_SYNCHRONIZE_PER_MINUTE", default_value_t = 6)]
    pub synchronize_per_minute: u32,
    /// Distinct source addresses one client may look up per minute on the public status
    /// page (0: unlimited). Refreshing an address already looked up does not count.
    #[arg(long, env = "IMAPCOPY_LOOKUP_PER_MINUTE", default_value_t = 10)]
    pub lookup_per_minute: u32,
    /// Reverse proxies whose forwarded client address is believed (IPs or CIDR networks,
    /// comma-separated). They are also exempt from the per-client connection cap.
    #[arg(long, env = "IMAPCOPY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies write the client address into.
    #[arg(long, env = "IMAPCOPY_PROXY_HEADER", value_enum, default_value_t = ProxyHeader::XForwardedFor)]
    pub proxy_header: ProxyHeader,
    /// More names (`host` or `host:port`, comma-separated) this service answers to, besides
    /// the host of --public-url, the listen address, 127.0.0.1, localhost and ::1. Requests
    /// for any other Host are refused (403).
    #[arg(long, env = "IMAPCOPY_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Seconds a client has to send a request's head once it started, and its body.
    #[arg(long, env = "IMAPCOPY_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds an idle keep-alive connection (or a response the client does not read) is
    /// kept open.
    #[arg(long, env = "IMAPCOPY_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "IMAPCOPY_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// HTTP connections open at the same time per client address (an IPv6 /64 counts as
    /// one; 0: no cap).
    #[arg(
        long,
        env = "IMAPCOPY_HTTP_CONNECTIONS_PER_CLIENT",
        default_value_t = 32
    )]
    pub http_connections_per_client: usize,
    /// HTTP connections open at the same time in all; beyond, new ones wait to be accepted.
    #[arg(long, env = "IMAPCOPY_MAX_HTTP_CONNECTIONS", default_value_t = 512)]
    pub max_http_connections: usize,
    /// Copy jobs run at the same time.
    #[arg(long, env = "IMAPCOPY_JOBS", default_value_t = 2)]
    pub jobs: usize,
    /// IMAP connections per side of one copy.
    #[arg(long, env = "IMAPCOPY_CONNECTIONS", default_value_t = 4)]
    pub connections: usize,
    /// The first pause, in seconds, of a job that met a provider's daily limit (Gmail's
    /// "Account exceeded command or bandwidth limits"); each next one twice as long, at most
    /// a day.
    #[arg(long, env = "IMAPCOPY_DAILY_LIMIT_PAUSE", default_value_t = 3600)]
    pub daily_limit_pause_secs: u64,
    /// IMAP connections open at the same time to one server (by name, all ports), over all
    /// jobs and Validate checks of this process; 0: no cap.
    #[arg(
        long,
        env = "IMAPCOPY_MAX_CONNECTIONS_PER_SERVER",
        default_value_t = 64
    )]
    pub max_connections_per_server: usize,
    /// IMAP connections open at the same time as one account (Dovecot allows 10 per user and
    /// address by default, Gmail about 15); 0: no cap.
    #[arg(
        long,
        env = "IMAPCOPY_MAX_CONNECTIONS_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub max_connections_per_account: usize,
    /// Base URL of this service as users reach it (for links in report e-mails).
    /// Default: `http://<listen address>`.
    #[arg(long, env = "IMAPCOPY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `From:` of report e-mails.
    #[arg(
        long,
        env = "IMAPCOPY_REPORT_FROM",
        default_value = "IMAPCopy <imapcopy@localhost>"
    )]
    pub report_from: String,
    /// Time zone the report e-mail writes its dates in (an IANA name such as
    /// `Europe/Madrid`, or `UTC`).
    #[arg(long, env = "IMAPCOPY_REPORT_TIME_ZONE", default_value = "UTC")]
    pub report_time_zone: String,
    /// SMTP relay for report e-mails. Without it, reports are delivered by IMAP APPEND into
    /// the destination INBOX.
    #[arg(long, env = "IMAPCOPY_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "IMAPCOPY_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    /// `starttls` (default), `tls` (implicit) or `plain` (local relays only).
    #[arg(long, env = "IMAPCOPY_SMTP_SECURITY", default_value = "starttls")]
    pub smtp_security: String,
    #[arg(long, env = "IMAPCOPY_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// File holding the SMTP password (never given on the command line).
    #[arg(long, env = "IMAPCOPY_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// Time limit of one Validate, in seconds.
    #[arg(long, env = "IMAPCOPY_CHECK_TIMEOUT_SECS", default_value_t = 20)]
    pub check_timeout_secs: u64,
    /// OAuth2 sign-in (Google, Microsoft, a generic provider).
    #[command(flatten)]
    pub oauth2: crate::oauth::OAuthArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
}

/// The daily volumes a copy keeps under (`imapcopy serve` and `imapcopy copy`).
#[derive(Debug, Clone, Args)]
pub struct PacingArgs {
    /// Megabytes a day one copy reads from a Gmail account (Google's IMAP download limit is
    /// 2,500 MB a day for Workspace): near it the copy stops for the day and goes on by itself
    /// the next; 0: no limit.
    #[arg(long, env = "IMAPCOPY_GMAIL_DAILY_DOWNLOAD_MB", default_value_t = 2500)]
    pub gmail_daily_download_mb: u64,
    /// Megabytes a day one copy writes into a Gmail account (Google's IMAP upload limit is
    /// 500 MB a day); 0: no limit.
    #[arg(long, env = "IMAPCOPY_GMAIL_DAILY_UPLOAD_MB", default_value_t = 500)]
    pub gmail_daily_upload_mb: u64,
}

impl PacingArgs {
    /// The copy's pacing: `None` when both volumes are 0 (no limit).
    pub fn pacing(&self) -> Option<mailcopy::copy::Pacing> {
        let bytes = |mb: u64| match mb {
            0 => u64::MAX,
            mb => mb.saturating_mul(mailcopy::profile::MB),
        };
        (self.gmail_daily_download_mb > 0 || self.gmail_daily_upload_mb > 0).then(|| {
            mailcopy::copy::Pacing {
                volumes: mailcopy::profile::DailyVolumes {
                    gmail_download: bytes(self.gmail_daily_download_mb),
                    gmail_upload: bytes(self.gmail_daily_upload_mb),
                },
                ..Default::default()
            }
        })
    }
}

impl ServeArgs {
    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The OAuth2 providers the operator enabled; redirect URIs under `--public-url`.
    pub fn oauth2_providers(&self) -> anyhow::Result<crate::oauth::Providers> {
        self.oauth2.providers(&self.public_url())
    }

    fn trusted(&self) -> anyhow::Result<TrustedProxies> {
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))
    }

    /// The HTTP layers' configuration: the service's names, the client address, bodies.
    pub fn web_config(&self) -> anyhow::Result<WebConfig> {
        let hosts = AllowedHosts::new(self.listen, self.public_url.as_deref(), &self.allowed_hosts)
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(WebConfig {
            hosts,
            clients: ClientResolver {
                trusted: self.trusted()?,
                header: self.proxy_header,
            },
            body: BodyLimits {
                max_bytes: self.max_body_bytes,
                timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            },
        })
    }

    /// Timeouts and connection caps of the listener.
    pub fn serve_limits(&self) -> anyhow::Result<ServeLimits> {
        Ok(ServeLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            per_client: self.http_connections_per_client,
            max_connections: self.max_http_connections.max(1),
            trusted: self.trusted()?,
            ..ServeLimits::default()
        })
    }

    pub fn delivery(&self) -> anyhow::Result<crate::report::Delivery> {
        let Some(host) = &self.smtp_host else {
            return Ok(crate::report::Delivery::ImapAppend);
        };
        if !matches!(self.smtp_security.as_str(), "starttls" | "tls" | "plain") {
            bail!("--smtp-security must be starttls, tls or plain");
        }
        let password = match &self.smtp_password_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            None => None,
        };
        Ok(crate::report::Delivery::Smtp(crate::report::SmtpRelay {
            host: host.clone(),
            port: self.smtp_port,
            security: self.smtp_security.clone(),
            username: self.smtp_username.clone(),
            password,
        }))
    }

    pub fn connect_options(&self) -> anyhow::Result<ConnectOptions> {
        let resolver: Arc<dyn Resolver> = match &self.static_hosts {
            Some(path) => Arc::new(load_hosts(path)?),
            None => Arc::new(SystemResolver),
        };
        let policy = if self.allow_private_networks {
            AddressPolicy::AllowAll
        } else {
            AddressPolicy::PublicOnly
        };
        // One limiter for the whole process: every job and Validate check shares it.
        let limiter = ConnectionLimiter::new(ConnectionCaps {
            per_server: self.max_connections_per_server,
            per_account: self.max_connections_per_account,
        });
        let mut options = ConnectOptions::new(resolver)
            .with_policy(policy)
            .with_limiter(limiter);
        if let Some(ca) = &self.ca_file {
            options = options
                .with_ca_file(ca)
                .with_context(|| format!("loading CA file {}", ca.display()))?;
        }
        Ok(options)
    }
}

/// Reads a hosts-format file: `IP NAME [NAME...]`, `#` comments.
pub fn load_hosts(path: &Path) -> anyhow::Result<StaticResolver> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_hosts(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn parse_hosts(text: &str) -> anyhow::Result<StaticResolver> {
    let mut table: Vec<(String, Vec<IpAddr>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let ip: IpAddr = match words.next().map(str::parse) {
            Some(Ok(ip)) => ip,
            _ => bail!("line {}: expected an IP address first", n + 1),
        };
        let mut any = false;
        for name in words {
            any = true;
            let name = name.to_ascii_lowercase();
            match table.iter_mut().find(|(n, _)| *n == name) {
                Some((_, ips)) => ips.push(ip),
                None => table.push((name, vec![ip])),
            }
        }
        if !any {
            bail!("line {}: no host name after the address", n + 1);
        }
    }
    Ok(table
        .into_iter()
        .fold(StaticResolver::new(), |r, (name, ips)| r.with(&name, ips)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcopy::net::Resolver;

    fn serve_args(argv: &[&str]) -> Result<ServeArgs, clap::Error> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ServeArgs,
        }
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("imapcopy").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn web_flags_build_the_http_configuration() {
        let args = serve_args(&[
            "--listen",
            "127.0.0.1:8080",
            "--public-url",
            "https://copy.example.org",
            "--allowed-hosts",
            "alt.example.org,pinned.example.org:8443",
            "--trusted-proxies",
            "10.0.0.0/8,::1",
            "--proxy-header",
            "forwarded",
            "--header-timeout-secs",
            "3",
            "--http-connections-per-client",
            "4",
        ])
        .unwrap();
        let web = args.web_config().unwrap();
        assert!(web.hosts.allows_host("copy.example.org"));
        assert!(web.hosts.allows_host("alt.example.org:80"));
        assert!(web.hosts.allows_host("127.0.0.1:8080"));
        assert!(!web.hosts.allows_host("pinned.example.org"));
        assert!(!web.hosts.allows_host("other.example.org"));
        assert!(web.clients.trusted.contains("10.1.1.1".parse().unwrap()));
        assert_eq!(web.clients.header, ProxyHeader::Forwarded);
        assert_eq!(web.body.timeout, Duration::from_secs(3));
        let limits = args.serve_limits().unwrap();
        assert_eq!(limits.per_client, 4);
        assert_eq!(limits.idle_timeout, Duration::from_secs(60));
        assert!(limits.trusted.contains("::1".parse().unwrap()));

        let defaults = serve_args(&[]).unwrap();
        assert_eq!(
            (
                defaults.validate_per_minute,
                defaults.synchronize_per_minute,
                defaults.lookup_per_minute
            ),
            (20, 6, 10)
        );
        assert!(defaults.web_config().unwrap().clients.trusted.is_empty());
        let bad = serve_args(&["--trusted-proxies", "proxy.example"]).unwrap();
        assert!(bad.web_config().is_err() && bad.serve_limits().is_err());
        let bad = serve_args(&["--public-url", "copy.example.org"]).unwrap();
        assert!(bad.web_config().is_err());
    }

    #[test]
    fn oauth2_flags_are_part_of_serve() {
        let args = serve_args(&[
            "--public-url",
            "https://copy.example.org",
            "--microsoft-client-id",
            "mid",
        ])
        .unwrap();
        assert_eq!(args.oauth2.microsoft_tenant, "common");
        // A client ID without its secret (file or IMAPCOPY_MICROSOFT_CLIENT_SECRET) is refused.
        let env = |_: &str| None;
        assert!(args
            .oauth2
            .providers_with(&args.public_url(), &env)
            .is_err());
        let env = |_: &str| Some("s".to_string());
        let providers = args
            .oauth2
            .providers_with(&args.public_url(), &env)
            .unwrap();
        let ms = providers.get(&crate::oauth::ProviderId::Microsoft).unwrap();
        assert_eq!(ms.redirect_uri, "https://copy.example.org/oauth2/callback");
        assert!(serve_args(&[]).unwrap().oauth2_providers().is_ok());
    }

    #[tokio::test]
    async fn hosts_file_resolves_only_its_names() {
        let r = parse_hosts("# test\n127.0.0.1 imap.test mail.test\n::1 imap.test\n").unwrap();
        let addrs = r.resolve("IMAP.test", 993).await.unwrap();
        assert_eq!(addrs.len(), 2);
        assert!(r.resolve("example.com", 993).await.is_err());
        assert!(parse_hosts("notanip name\n").is_err());
        assert!(parse_hosts("127.0.0.1\n").is_err());
    }
}

/// Property tests: the hosts file is the operator's, written by hand.
#[cfg(test)]
mod props {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use mailcopy::net::Resolver;
    use proptest::prelude::*;

    /// One line of a hosts file.
    #[derive(Debug, Clone)]
    enum Line {
        Blank(String),
        Comment(String),
        Entry {
            ip: IpAddr,
            names: Vec<String>,
            seps: Vec<String>,
            comment: Option<String>,
        },
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<Ipv4Addr>().prop_map(IpAddr::V4),
            any::<Ipv6Addr>().prop_map(IpAddr::V6),
        ]
    }

    /// Host names in either case, from a small set so that lines share some.
    fn name() -> impl Strategy<Value = String> {
        "(imap|mail|mx|a-1|B2)(\\.[a-zA-Z0-9-]{1,3}){0,2}\\.(test|LAN|Example)"
    }

    fn sep() -> impl Strategy<Value = String> {
        "[ \\t]{1,3}"
    }

    fn comment() -> impl Strategy<Value = String> {
        "[^\\r\\n]{0,20}".prop_map(|c| format!("#{c}"))
    }

    fn line() -> impl Strategy<Value = Line> {
        prop_oneof![
            1 => "[ \\t]{0,3}".prop_map(Line::Blank),
            1 => ("[ \\t]{0,2}", comment()).prop_map(|(ws, c)| Line::Comment(format!("{ws}{c}"))),
            4 => (
                ip(),
                proptest::collection::vec((name(), sep()), 1..4),
                sep(),
                proptest::option::of(comment()),
            )
                .prop_map(|(ip, names, lead, comment)| {
                    let (names, mut seps): (Vec<_>, Vec<_>) = names.into_iter().unzip();
                    seps.insert(0, lead);
                    Line::Entry { ip, names, seps, comment }
                }),
        ]
    }

    /// A line of addresses, names, comments and junk in any order.
    fn words() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            ip().prop_map(|ip| ip.to_string()),
            name(),
            "#[a-z ]{0,5}",
            "[^\\n]{0,5}",
        ];
        (
            proptest::collection::vec((word, sep()), 0..4),
            "[ \\t]{0,2}",
        )
            .prop_map(|(words, lead)| {
                words
                    .into_iter()
                    .fold(lead, |line, (w, s)| format!("{line}{w}{s}"))
            })
    }

    fn render(line: &Line) -> String {
        match line {
            Line::Blank(ws) => ws.clone(),
            Line::Comment(c) => c.clone(),
            Line::Entry {
                ip,
                names,
                seps,
                comment,
            } => {
                // seps[0] leads the line, seps[i + 1] follows names[i].
                let mut out = format!("{}{ip}", &seps[0][..seps[0].len() - 1]);
                for (name, sep) in names.iter().zip(&seps[1..]) {
                    out.push_str(sep);
                    out.push_str(name);
                }
                if let Some(c) = comment {
                    out.push_str(&seps[seps.len() - 1]);
                    out.push_str(c);
                }
                out
            }
        }
    }

    fn file(lines: &[Line], crlf: bool) -> String {
        let eol = if crlf { "\r\n" } else { "\n" };
        lines
            .iter()
            .map(|l| format!("{}{eol}", render(l)))
            .collect()
    }

    /// Each name (lower-cased) with its addresses in file order.
    fn model(lines: &[Line]) -> Vec<(String, Vec<IpAddr>)> {
        let mut table: Vec<(String, Vec<IpAddr>)> = Vec::new();
        for line in lines {
            if let Line::Entry { ip, names, .. } = line {
                for name in names {
                    let name = name.to_ascii_lowercase();
                    match table.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, ips)) => ips.push(*ip),
                        None => table.push((name, vec![*ip])),
                    }
                }
            }
        }
        table
    }

    fn resolve(r: &StaticResolver, name: &str) -> std::io::Result<Vec<std::net::SocketAddr>> {
        futures::executor::block_on(r.resolve(name, 993))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text: no panic; an error names a line that holds something other than a
        /// comment.
        #[test]
        fn any_text_parses_or_names_a_bad_line(
            text in prop_oneof![
                any::<String>(),
                proptest::collection::vec(any::<char>(), 0..200).prop_map(String::from_iter),
                "([0-9a-f.:]{0,12}[ \\t#]{0,2}[a-z.]{0,6}\\r?\\n){0,6}",
                proptest::collection::vec(words(), 0..8).prop_map(|lines| lines.join("\n")),
            ],
        ) {
            match parse_hosts(&text) {
                Ok(r) => {
                    // Every name of every line resolves to (at least) that line's address.
                    for line in text.lines() {
                        let mut words = line.split('#').next().unwrap_or_default().split_whitespace();
                        let Some(ip) = words.next() else { continue };
                        let ip: IpAddr = ip.parse().map_err(|_| TestCaseError::fail(format!("accepted {line:?}")))?;
                        for name in words {
                            let literal = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok();
                            let got = resolve(&r, name).map_err(|e| TestCaseError::fail(format!("{name:?}: {e}")))?;
                            prop_assert!(literal || got.contains(&std::net::SocketAddr::new(ip, 993)), "{name:?}");
                        }
                    }
                }
                Err(e) => {
                    let e = e.to_string();
                    let n: usize = e
                        .strip_prefix("line ")
                        .and_then(|r| r.split_once(':'))
                        .and_then(|(n, _)| n.parse().ok())
                        .ok_or_else(|| TestCaseError::fail(format!("no line number: {e}")))?;
                    let line = n
                        .checked_sub(1)
                        .and_then(|i| text.lines().nth(i))
                        .ok_or_else(|| TestCaseError::fail(format!("no such line: {e}")))?;
                    let content = line.split('#').next().unwrap_or_default().trim();
                    let words: Vec<&str> = content.split_whitespace().collect();
                    let bad = match words.as_slice() {
                        [] => false,
                        [_] => true,
                        [ip, ..] => ip.parse::<IpAddr>().is_err(),
                    };
                    prop_assert!(bad, "{e}: {line:?}");
                }
            }
        }

        /// A well-formed file resolves exactly its names, in any case, to their addresses in
        /// file order, and nothing else.
        #[test]
        fn well_formed_files_resolve_exactly_their_names(
            lines in proptest::collection::vec(line(), 0..12),
            crlf in any::<bool>(),
            others in proptest::collection::vec(name(), 0..4),
        ) {
            let text = file(&lines, crlf);
            let r = parse_hosts(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
            let table = model(&lines);
            for (name, ips) in &table {
                let want: Vec<_> = ips.iter().map(|ip| std::net::SocketAddr::new(*ip, 993)).collect();
                for asked in [name.clone(), name.to_ascii_uppercase()] {
                    let got = resolve(&r, &asked).map_err(|e| TestCaseError::fail(format!("{asked}: {e}")))?;
                    prop_assert_eq!(&got, &want, "{}", asked);
                }
            }
            for other in others {
                let listed = table.iter().any(|(n, _)| n.eq_ignore_ascii_case(&other));
                prop_assert_eq!(resolve(&r, &other).is_ok(), listed, "{}", other);
            }
        }

        /// One bad line (no address first, or nothing after it) makes the file an error that
        /// names that line.
        #[test]
        fn a_bad_line_is_an_error_naming_it(
            lines in proptest::collection::vec(line(), 0..8),
            at in any::<proptest::sample::Index>(),
            bad in prop_oneof![
                (ip(), proptest::option::of(comment()))
                    .prop_map(|(ip, c)| format!("{ip} {}", c.unwrap_or_default())),
                (name(), name()).prop_map(|(a, b)| format!("{a} {b}")),
                (ip(), name()).prop_map(|(ip, n)| format!("{ip}%eth0 {n}")),
                (ip(), name()).prop_map(|(ip, n)| format!("{ip},{n}")),
            ],
            crlf in any::<bool>(),
        ) {
            let at = at.index(lines.len() + 1);
            let mut text = file(&lines[..at], crlf);
            text.push_str(&bad);
            text.push('\n');
            text.push_str(&file(&lines[at..], crlf));
            let e = parse_hosts(&text).err().ok_or_else(|| TestCaseError::fail(text.clone()))?;
            let want = format!("line {}: ", at + 1);
            prop_assert!(e.to_string().starts_with(&want), "{e}");
        }
    }
}
