//! `imapcopy copy`: the operator's command-line copy, on the same engine as the web service.
//! It runs on the operator's own machine, so the outbound address guard does not apply.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mailcopy::copy::{
    copy_mailbox_with, render_table, CancellationToken, CheckpointStore, CopyOptions,
    FileCheckpoints, NoCheckpoints, Progress, ProgressSink,
};
use mailcopy::net::{AddressPolicy, Resolver, SystemResolver};
use mailcopy::{ConnectError, ConnectOptions, Credentials, Endpoint, Security};

use crate::jobs::store_trait::Side;
use crate::oauth::token_file::RefreshTokenFile;
use crate::oauth::{OAuthArgs, OAuthHttp, Providers, TokenKeeper};
use crate::token_cmd::TokenCommand;

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source account: `imaps://USER@HOST[:PORT]` (implicit TLS) or `imap://USER@HOST[:PORT]`
    /// (STARTTLS). A login containing `@` may be written as is or percent-encoded.
    #[arg(long)]
    pub from: String,
    /// Destination account, same form as --from.
    #[arg(long)]
    pub to: String,
    /// File holding the source password (else $IMAPCOPY_FROM_PASSWORD).
    #[arg(long)]
    pub from_password_file: Option<PathBuf>,
    /// File holding the destination password (else $IMAPCOPY_TO_PASSWORD).
    #[arg(long)]
    pub to_password_file: Option<PathBuf>,
    /// Sign in to the source with OAuth2: a command (run by `sh -c`, like mbsync's PassCmd)
    /// whose first line of output is an access token; run again when the server refuses it.
    #[arg(long, value_name = "CMD", conflicts_with = "from_password_file")]
    pub from_oauth2_token_cmd: Option<String>,
    /// Sign in to the destination with OAuth2, as --from-oauth2-token-cmd.
    #[arg(long, value_name = "CMD", conflicts_with = "to_password_file")]
    pub to_oauth2_token_cmd: Option<String>,
    /// Sign in to the source with OAuth2 from a refresh token (the file's first line),
    /// refreshed through the provider configured for the source's IMAP host
    /// (--google-client-id, --microsoft-client-id or --oauth2-provider-file). A rotated
    /// refresh token is written back to the file before it is used.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from_password_file", "from_oauth2_token_cmd"])]
    pub from_oauth2_refresh_token_file: Option<PathBuf>,
    /// The destination's refresh token file, as --from-oauth2-refresh-token-file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["to_password_file", "to_oauth2_token_cmd"])]
    pub to_oauth2_refresh_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub oauth: OAuthArgs,
    /// Extra trusted CA certificates (PEM).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// IMAP connections per side.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Do not copy messages larger than this many bytes (they are listed as rejected).
    #[arg(long)]
    pub max_message_size: Option<u64>,
    /// Also copy Gmail's virtual folders (All Mail, Important, Starred).
    #[arg(long)]
    pub include_gmail_virtual: bool,
    /// A source whose folders are labels (Gmail): `folders` copies each label as a folder
    /// (a message with two labels arrives twice) and archived mail into the archive folder;
    /// `one-copy` copies each message once (INBOX, Sent, Drafts, its first label by name,
    /// else the archive folder), its other labels as keywords.
    #[arg(long, value_name = "POLICY", default_value = "folders", value_parser = parse_label_policy)]
    pub gmail_labels: mailcopy::LabelPolicy,
    /// Allow `imap://` without STARTTLS (password in clear text on the network).
    #[arg(long)]
    pub allow_plaintext: bool,
    /// Resolve names only from this hosts-format file (no DNS).
    #[arg(long)]
    pub static_hosts: Option<PathBuf>,
    /// Print the folder plan and what would be copied; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep checkpoints in this directory (one JSON file per source and destination account
    /// pair) so that an interrupted copy resumes with less to fetch. Without it a re-run is
    /// just as exact: it scans both sides and appends only what is missing.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Read every copied message back from the destination and compare it with the source's.
    #[arg(long)]
    pub verify: bool,
    /// Keeping under Gmail's daily volumes: a larger copy stops for the day (exit status 1,
    /// incomplete, with the cause) and is run again the next day.
    #[command(flatten)]
    pub pacing: crate::config::PacingArgs,
}

fn parse_label_policy(s: &str) -> Result<mailcopy::LabelPolicy, String> {
    mailcopy::LabelPolicy::parse(s).ok_or_else(|| format!("{s:?}: expected folders or one-copy"))
}

/// An account given as a URL.
#[derive(Debug, PartialEq, Eq)]
pub struct AccountUrl {
    pub endpoint: Endpoint,
    pub login: String,
}

pub fn parse_account_url(url: &str) -> anyhow::Result<AccountUrl> {
    let (security, rest) = if let Some(rest) = url.strip_prefix("imaps://") {
        (Security::Tls, rest)
    } else if let Some(rest) = url.strip_prefix("imap://") {
        (Security::StartTls, rest)
    } else {
        bail!("{url:?}: expected imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]");
    };
    let rest = rest.trim_end_matches('/');
    // The last `@` separates the login (which may itself contain `@`) from the host.
    let (login, hostport) = rest
        .rsplit_once('@')
        .with_context(|| format!("{url:?}: no USER@ before the host"))?;
    let login = percent_encoding::percent_decode_str(login)
        .decode_utf8()
        .context("login is not valid UTF-8")?
        .to_string();
    if login.is_empty() {
        bail!("{url:?}: empty login");
    }
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .with_context(|| format!("{url:?}: unclosed ["))?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port),
                None if after.is_empty() => None,
                None => bail!("{url:?}: {after:?} after the ]"),
            };
            if host.parse::<std::net::IpAddr>().is_err() {
                bail!("{url:?}: {host:?} in brackets is not an IP address");
            }
            (host.to_string(), port)
        }
        None => match hostport.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                bail!("{url:?}: an IPv6 address goes in brackets, [{hostport}]")
            }
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        },
    };
    if host.is_empty() {
        bail!("{url:?}: empty host");
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .with_context(|| format!("{url:?}: bad port {p:?}"))?,
        None => security.default_port(),
    };
    Ok(AccountUrl {
        endpoint: Endpoint::new(host, port, security),
        login,
    })
}

/// How one side of the command line signs in.
struct SideArgs<'a> {
    side: Side,
    token_cmd: &'a Option<String>,
    refresh_token_file: &'a Option<PathBuf>,
    password_file: &'a Option<PathBuf>,
    password_var: &'a str,
}

/// The redirect URI the CLI's OAuth2 clients are built with: it only refreshes tokens, which
/// sends none.
const CLI_REDIRECT: &str = "http://localhost";

/// An account's credentials: a token command's tokens, a refresh token file's, or the
/// password.
fn credentials(
    account: &AccountUrl,
    how: SideArgs<'_>,
    oauth: &OAuthArgs,
) -> anyhow::Result<Credentials> {
    let login = account.login.as_str();
    if let Some(cmd) = how.token_cmd {
        return Ok(Credentials::oauth2_source(
            login,
            Arc::new(TokenCommand::new(cmd.clone())),
        ));
    }
    if let Some(path) = how.refresh_token_file {
        let providers = oauth.providers(CLI_REDIRECT)?;
        let client = provider_for(&providers, &account.endpoint.host)?;
        let (home, tokens) = RefreshTokenFile::open(path, how.side)?;
        let http = OAuthHttp::new().map_err(|e| anyhow::anyhow!("{e}"))?;
        let keeper = TokenKeeper::new(home, tokens, client, http);
        return Ok(Credentials::oauth2_source(login, Arc::new(keeper)));
    }
    Ok(Credentials::new(
        login,
        password(how.password_file, how.password_var)?,
    ))
}

/// The configured OAuth2 provider for an IMAP host.
fn provider_for(
    providers: &Providers,
    host: &str,
) -> anyhow::Result<Arc<crate::oauth::OAuthClient>> {
    let id = providers.for_imap_host(host).with_context(|| {
        format!("no OAuth2 provider is configured for {host}: give --google-client-id, --microsoft-client-id or --oauth2-provider-file")
    })?;
    providers
        .get(&id)
        .map_err(|e| anyhow::anyhow!("{}", e.message()))
}

fn password(file: &Option<PathBuf>, var: &str) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    std::env::var(var).with_context(|| format!("no password: set {var} or give a password file"))
}

/// Progress on stderr: a bar on a terminal, a line per folder otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
}

impl ProgressSink for Reporter {
    fn event(&self, progress: Progress) {
        match (&self.bar, progress) {
            (
                Some(bar),
                Progress::Scanned {
                    messages,
                    bytes,
                    folders,
                    ..
                },
            ) => {
                bar.set_length(bytes.max(1));
                bar.set_message(format!("{folders} folders, {messages} messages"));
            }
            (Some(bar), Progress::FolderStarted { source, .. }) => {
                bar.set_message(source.to_string())
            }
            (Some(bar), Progress::Message { bytes_done, .. }) => bar.set_position(bytes_done),
            (Some(bar), Progress::Finished { .. }) => bar.finish_and_clear(),
            (
                None,
                Progress::Scanned {
                    folders,
                    messages,
                    bytes,
                    already_present,
                    copied_before,
                    ..
                },
            ) => {
                eprintln!("scanned: {folders} folders, {messages} messages ({bytes} bytes) to copy, {already_present} already at the destination, {copied_before} copied by an earlier run with this state")
            }
            (
                None,
                Progress::FolderDone {
                    source,
                    copied,
                    skipped,
                    failed,
                    ..
                },
            ) => eprintln!("{source}: {copied} copied, {skipped} skipped, {failed} rejected"),
            _ => {}
        }
    }
}

/// With --allow-plaintext: connects once to check the account, and for `imap://` falls back
/// to plain text when STARTTLS is not offered.
async fn preflight(
    account: &mut AccountUrl,
    creds: &Credentials,
    opts: &ConnectOptions,
    allow_plaintext: bool,
) -> anyhow::Result<()> {
    match mailcopy::connect(&account.endpoint, creds, opts).await {
        Ok(session) => {
            // The copy opens its own connections at once: LOGOUT is not waited for.
            tokio::spawn(async move {
                let _ = session.logout().await;
            });
            Ok(())
        }
        Err(ConnectError::StartTlsNotOffered) if allow_plaintext => {
            eprintln!(
                "warning: {} offers no STARTTLS; continuing in plain text (--allow-plaintext)",
                account.endpoint.host
            );
            account.endpoint.security = Security::Plain;
            let session = mailcopy::connect(&account.endpoint, creds, opts).await?;
            tokio::spawn(async move {
                let _ = session.logout().await;
            });
            Ok(())
        }
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("{}@{}", account.login, account.endpoint)))
        }
    }
}

/// Runs the copy; returns the process exit status (0 complete, 3 with rejections, 1 incomplete).
pub async fn run(args: CopyArgs) -> anyhow::Result<i32> {
    let mut from = parse_account_url(&args.from)?;
    let mut to = parse_account_url(&args.to)?;
    let from_creds = credentials(
        &from,
        SideArgs {
            side: Side::Source,
            token_cmd: &args.from_oauth2_token_cmd,
            refresh_token_file: &args.from_oauth2_refresh_token_file,
            password_file: &args.from_password_file,
            password_var: "IMAPCOPY_FROM_PASSWORD",
        },
        &args.oauth,
    )?;
    let to_creds = credentials(
        &to,
        SideArgs {
            side: Side::Destination,
            token_cmd: &args.to_oauth2_token_cmd,
            refresh_token_file: &args.to_oauth2_refresh_token_file,
            password_file: &args.to_password_file,
            password_var: "IMAPCOPY_TO_PASSWORD",
        },
        &args.oauth,
    )?;
    let resolver: Arc<dyn Resolver> = match &args.static_hosts {
        Some(path) => Arc::new(crate::config::load_hosts(path)?),
        None => Arc::new(SystemResolver),
    };
    let mut opts = ConnectOptions::new(resolver).with_policy(AddressPolicy::AllowAll);
    if let Some(ca) = &args.ca_file {
        opts = opts.with_ca_file(ca)?;
    }
    // Only a plain-text fallback needs a connection of its own first (to find out whether
    // STARTTLS is offered); otherwise the copy's own first connections check the accounts, and
    // a refused login or an unreachable server ends it at once with that cause. Over a link
    // with latency a separate check would cost a whole login's round trips.
    if args.allow_plaintext {
        let (checked_from, checked_to) = tokio::join!(
            preflight(&mut from, &from_creds, &opts, true),
            preflight(&mut to, &to_creds, &opts, true)
        );
        checked_from?;
        checked_to?;
    }

    let options = CopyOptions {
        connections: args.connections.max(1),
        max_message_size: args.max_message_size,
        dry_run: args.dry_run,
        include_gmail_virtual: args.include_gmail_virtual,
        verify: args.verify,
        pacing: args.pacing.pacing(),
        labels: args.gmail_labels,
    };
    let checkpoints: Box<dyn CheckpointStore> = match &args.state {
        Some(dir) => {
            let id =
                |a: &AccountUrl| format!("{}@{}:{}", a.login, a.endpoint.host, a.endpoint.port);
            let store = FileCheckpoints::open(dir, &id(&from), &id(&to))
                .with_context(|| format!("state directory {}", dir.display()))?;
            eprintln!("checkpoints: {}", store.path().display());
            Box::new(store)
        }
        None => Box::new(NoCheckpoints),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: stopping after the current messages");
                cancel.cancel();
            }
        })
    };
    let report = copy_mailbox_with(
        (&from.endpoint, &from_creds),
        (&to.endpoint, &to_creds),
        &opts,
        &options,
        &Reporter { bar },
        &cancel,
        checkpoints.as_ref(),
    )
    .await;
    on_ctrl_c.abort();
    if let Some(plan) = &report.plan {
        if args.dry_run {
            println!("{}", mailcopy::render_plan(plan));
        }
    }
    println!("{}", render_table(&report));
    if let (None, mailcopy::Outcome::Incomplete { error, .. }) = (&report.plan, &report.outcome) {
        // Stopped before any folder was planned (a login refused, a server not reached).
        eprintln!("error: {error}");
    }
    Ok(report.outcome.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_command_instead_of_a_password() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: CopyArgs,
        }
        use clap::Parser;
        let parse = |extra: &[&str]| {
            let base = ["imapcopy", "--from", "imaps://a@h", "--to", "imaps://b@h"];
            Cli::try_parse_from(base.iter().chain(extra)).map(|c| c.args)
        };
        fn side(a: &CopyArgs) -> SideArgs<'_> {
            SideArgs {
                side: Side::Source,
                token_cmd: &a.from_oauth2_token_cmd,
                refresh_token_file: &a.from_oauth2_refresh_token_file,
                password_file: &None,
                password_var: "UNSET_VAR",
            }
        }
        let account = parse_account_url("imaps://a@imap.example.test").unwrap();
        let a = parse(&["--from-oauth2-token-cmd", "oama access a@h"]).unwrap();
        let creds = credentials(&account, side(&a), &a.oauth).unwrap();
        assert!(creds.is_oauth2());
        assert!(parse(&["--from-oauth2-token-cmd", "x", "--from-password-file", "f"]).is_err());
        assert!(parse(&["--to-oauth2-token-cmd", "x", "--to-password-file", "f"]).is_err());
        let b = parse(&["--to-oauth2-token-cmd", "x"]).unwrap();
        assert_eq!(b.to_oauth2_token_cmd.as_deref(), Some("x"));
        assert_eq!(b.from_oauth2_token_cmd, None);
        // A refresh token file: one way per side, and a provider for the host is needed.
        assert!(parse(&[
            "--from-oauth2-refresh-token-file",
            "f",
            "--from-oauth2-token-cmd",
            "x"
        ])
        .is_err());
        assert!(parse(&[
            "--to-oauth2-refresh-token-file",
            "f",
            "--to-password-file",
            "g"
        ])
        .is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refresh");
        std::fs::write(&file, "a-refresh-token\n").unwrap();
        let path = file.to_string_lossy().to_string();
        let c = parse(&["--from-oauth2-refresh-token-file", &path]).unwrap();
        let error = credentials(&account, side(&c), &OAuthArgs::default())
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("no OAuth2 provider is configured for imap.example.test"),
            "{error}"
        );
    }

    #[test]
    fn account_urls() {
        let a = parse_account_url("imaps://user@example.com@imap.example.com").unwrap();
        assert_eq!(a.login, "user@example.com");
        assert_eq!(
            a.endpoint,
            Endpoint::new("imap.example.com", 993, Security::Tls)
        );
        let a = parse_account_url("imap://user%40example.com@127.0.0.1:1143/").unwrap();
        assert_eq!(a.login, "user@example.com");
        assert_eq!(
            a.endpoint,
            Endpoint::new("127.0.0.1", 1143, Security::StartTls)
        );
        let a = parse_account_url("imaps://me@[::1]:9993").unwrap();
        assert_eq!(a.endpoint, Endpoint::new("::1", 9993, Security::Tls));
        for bad in [
            "http://a@b",
            "imaps://b",
            "imaps://@b",
            "imaps://a@",
            "imaps://a@b:0",
            "imaps://a@b:x",
            "imaps://a@[::1",
            // Caught by the property tests: text after the ] was ignored, brackets held any
            // text, and an unbracketed IPv6 address was split at its last colon (host `:`,
            // port 1).
            "imaps://a@[::1]x",
            "imaps://a@[::1]993",
            "imaps://a@[[y]",
            "imaps://a@[imap.example.com]:993",
            "imaps://a@::1",
            "imaps://a@fe80::1:993",
        ] {
            assert!(parse_account_url(bad).is_err(), "{bad}");
        }
    }
}

/// Property tests: account URLs are typed by the operator, in any shape.
#[cfg(test)]
mod props {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
            "(imaps?://)?[a-zA-Z0-9@:/%\\[\\]. -]{0,30}",
            "imaps?://[^@]{0,10}@[\\[\\]0-9a-f:.]{0,20}(:[0-9]{0,6})?/?",
        ]
    }

    fn security() -> impl Strategy<Value = Security> {
        prop_oneof![Just(Security::Tls), Just(Security::StartTls)]
    }

    fn scheme(security: Security) -> &'static str {
        match security {
            Security::Tls => "imaps",
            _ => "imap",
        }
    }

    /// A host as written in the URL, and as parsed.
    fn host() -> impl Strategy<Value = (String, String)> {
        prop_oneof![
            "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}".prop_map(|h| (h.clone(), h)),
            any::<Ipv4Addr>().prop_map(|ip| (ip.to_string(), ip.to_string())),
            any::<Ipv6Addr>().prop_map(|ip| (format!("[{ip}]"), ip.to_string())),
        ]
    }

    /// The URL's canonical form: login fully percent-encoded, port always given.
    fn render(a: &AccountUrl) -> String {
        let host = if a.endpoint.host.contains(':') {
            format!("[{}]", a.endpoint.host)
        } else {
            a.endpoint.host.clone()
        };
        format!(
            "{}://{}@{host}:{}",
            scheme(a.endpoint.security),
            utf8_percent_encode(&a.login, NON_ALPHANUMERIC),
            a.endpoint.port
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text: no panic; what is accepted has a login, a host and a port, and reads
        /// back the same from its canonical form.
        #[test]
        fn anything_accepted_is_a_whole_account(url in any_text()) {
            if let Ok(a) = parse_account_url(&url) {
                let prefix = format!("{}://", scheme(a.endpoint.security));
                prop_assert!(url.starts_with(&prefix), "{url:?} {a:?}");
                prop_assert!(!a.login.is_empty());
                prop_assert!(!a.endpoint.host.is_empty() && !a.endpoint.host.contains('@'));
                if a.endpoint.host.contains(':') {
                    let bracketed = format!("[{}]", a.endpoint.host);
                    prop_assert!(url.contains(&bracketed), "{url:?} {a:?}");
                }
                prop_assert!(a.endpoint.port > 0);
                prop_assert_eq!(parse_account_url(&render(&a)).ok(), Some(a));
            }
        }

        /// A URL built from parts parses to exactly those parts, the login written as is or
        /// percent-encoded.
        #[test]
        fn built_urls_round_trip(
            security in security(),
            login in proptest::collection::vec(any::<char>(), 1..30).prop_map(String::from_iter),
            encode in any::<bool>(),
            (written, host) in host(),
            port in proptest::option::of(1..=u16::MAX),
            slash in any::<bool>(),
        ) {
            let encode = encode || login.contains('%');
            let user = if encode {
                utf8_percent_encode(&login, NON_ALPHANUMERIC).to_string()
            } else {
                login.clone()
            };
            let url = format!(
                "{}://{user}@{written}{}{}",
                scheme(security),
                port.map(|p| format!(":{p}")).unwrap_or_default(),
                if slash { "/" } else { "" },
            );
            let a = parse_account_url(&url).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
            let port = port.unwrap_or(security.default_port());
            prop_assert_eq!(a, AccountUrl { endpoint: Endpoint::new(host, port, security), login });
        }

        /// Only `imap://` and `imaps://`, in lower case, are account URLs.
        #[test]
        fn other_schemes_are_errors(
            scheme in "[a-zA-Z+.-]{0,8}(:/{0,3})?",
            rest in "[a-z]{1,5}@[a-z]{1,5}(:[0-9]{1,4})?",
        ) {
            let url = format!("{scheme}{rest}");
            prop_assume!(!url.starts_with("imap://") && !url.starts_with("imaps://"));
            prop_assert!(parse_account_url(&url).is_err(), "{url:?}");
        }

        /// A port that is not 1–65535, or text after a bracketed address, is an error.
        #[test]
        fn bad_ports_are_errors(
            security in security(),
            (written, _) in host(),
            bad in prop_oneof![
                Just(String::new()),
                Just("0".to_string()),
                (65536..u64::MAX).prop_map(|n| n.to_string()),
                "[0-9]{0,3}[^0-9+:/@][0-9a-z]{0,3}",
            ],
        ) {
            let url = format!("{}://a@{written}:{bad}", scheme(security));
            prop_assert!(parse_account_url(&url).is_err(), "{url:?}");
            if written.starts_with('[') {
                let url = format!("{}://a@{written}{bad}", scheme(security));
                prop_assume!(!bad.is_empty());
                prop_assert!(parse_account_url(&url).is_err(), "{url:?}");
            }
        }
    }
}
