//! `testkit serve`: runs a Dovecot pair for end-to-end tests (e.g. Playwright) until
//! SIGTERM/SIGINT/SIGHUP. See the README in server/testkit.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use testkit::proxy::{DelayProxy, ProxyOptions};
use testkit::{Dovecot, DovecotPair};

#[derive(Parser)]
#[command(about = "Real Dovecot servers for IMAPCopy tests")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a Slash and a DotInbox Dovecot, write their details to the state file, print
    /// `ready <path>`, and run until SIGTERM/SIGINT/SIGHUP. The state also names a control
    /// port on loopback taking one command per line (see `control`).
    Serve {
        /// JSON file written (atomically) once both servers accept connections.
        #[arg(long)]
        state_file: PathBuf,
        /// LOGIN:PASSWORD, repeatable; added to both servers. Default: alice@example.test /
        /// alice-secret and bob@example.test / bob-secret.
        #[arg(long = "user", value_parser = parse_user)]
        users: Vec<User>,
        /// Give every user on the Slash server this many small messages in INBOX and in
        /// `Archive/2020`, plus empty folders `Empty`, `v1.2` and `v1_2` (for end-to-end
        /// copies; the last two collide at a `.` destination).
        #[arg(long, default_value_t = 0)]
        seed_messages: usize,
        /// Also expose the Slash server's IMAPS port through a proxy that delays every chunk
        /// by this many milliseconds in each direction (`slash.slow_imaps_port` in the state).
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Also start an OAuth2 provider (oidc-provider, `testkit::oauth2`) with one client
        /// whose redirect URI is this, and a third Dovecot (Slash) whose oauth2 passdb checks
        /// that provider's tokens (`oauth2` in the state; the same users).
        #[arg(long)]
        oauth2_redirect: Option<String>,
    },
    /// A latency proxy for benchmarks (see `testkit::delay_line`): one loopback listener per
    /// TARGET port, each chunk forwarded half of `--rtt-ms` later in each direction without
    /// waiting for the chunks before it. Writes `LISTEN_PORT TARGET_PORT` lines to `--ready`
    /// (atomically) once listening, then runs until killed.
    DelayProxy {
        #[arg(long)]
        rtt_ms: f64,
        #[arg(long)]
        ready: PathBuf,
        #[arg(required = true)]
        target: Vec<u16>,
    },
}

#[derive(Clone, Serialize)]
struct User {
    login: String,
    password: String,
}

fn parse_user(s: &str) -> Result<User, String> {
    let (login, password) = s
        .split_once(':')
        .ok_or_else(|| "expected LOGIN:PASSWORD".to_owned())?;
    if login.is_empty() {
        return Err("empty login".to_owned());
    }
    Ok(User {
        login: login.to_owned(),
        password: password.to_owned(),
    })
}

#[derive(Serialize)]
struct Server {
    flavour: testkit::Flavour,
    imaps_port: u16,
    imap_port: u16,
    separator: String,
    prefix: String,
    ca_pem_path: PathBuf,
    log_path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    slow_imaps_port: Option<u16>,
    /// The plain IMAP port behind a proxy that hides STARTTLS: a server offering no
    /// encryption at all (Slash only).
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_only_port: Option<u16>,
}

impl Server {
    fn of(d: &Dovecot) -> Server {
        Server {
            flavour: d.flavour(),
            imaps_port: d.imaps_port(),
            imap_port: d.imap_port(),
            separator: d.separator().to_string(),
            prefix: d.prefix().to_owned(),
            ca_pem_path: d.ca_pem_path().to_path_buf(),
            log_path: d.log_path().to_path_buf(),
            slow_imaps_port: None,
            plain_only_port: None,
        }
    }
}

/// The OAuth2 provider and the Dovecot that accepts its tokens.
#[derive(Serialize)]
struct OAuth2State {
    /// `http://localhost:PORT` (the browser's side); the provider also answers on 127.0.0.1.
    issuer: String,
    port: u16,
    client_id: String,
    client_secret: String,
    dovecot: Server,
}

#[derive(Serialize)]
struct State {
    slash: Server,
    dot: Server,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth2: Option<OAuth2State>,
    users: Vec<User>,
    /// `testkit` control commands, one line each, answered `ok …` or `error …`.
    control_port: u16,
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("state file has no file name"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

fn seed(server: &Dovecot, user: &str, count: usize) -> Result<()> {
    let archive = server.mailbox_name(&["Archive", "2020"]);
    server.create_mailbox(user, &archive)?;
    server.create_mailbox(user, "Empty")?;
    // Two names that meet at a `.` destination (`v1.2` is escaped to `v1_2`): a collision
    // for the preflight to show.
    server.create_mailbox(user, "v1.2")?;
    server.create_mailbox(user, "v1_2")?;
    for n in 0..count {
        let folder = if n % 2 == 0 {
            "INBOX"
        } else {
            archive.as_str()
        };
        let raw = format!(
            "From: Seed {n} <seed{n}@example.test>\r\nTo: {user}\r\nSubject: Seeded message {n}\r\nMessage-ID: <seed{n}.{user}>\r\nDate: Tue, 2 Jan 2024 09:00:00 +0100\r\n\r\nHello {n}.\r\n{}\r\n",
            "x".repeat(200 + n * 10)
        );
        server.append(
            user,
            folder,
            &["\\Seen"],
            Some("02-Jan-2024 09:00:00 +0100"),
            raw.as_bytes(),
        )?;
    }
    Ok(())
}

/// The provider with one client for `redirect`, and a Dovecot with `users` that accepts its
/// tokens (introspection as that client).
fn start_oauth2(
    redirect: &str,
    users: &[User],
    seed_messages: usize,
) -> Result<(testkit::oauth2::OAuth2Provider, Dovecot)> {
    use testkit::oauth2::{OAuth2Client, OAuth2Provider, ProviderOptions};
    let provider = OAuth2Provider::start(ProviderOptions {
        clients: vec![OAuth2Client::new("imapcopy-e2e", redirect)],
        ..ProviderOptions::default()
    })?;
    let mut options = testkit::Options::new(testkit::Flavour::Slash);
    options.oauth2 = Some(testkit::OAuth2Login {
        introspection_url: provider.introspection_url(provider.client()),
        mechanisms: "xoauth2 oauthbearer".to_string(),
    });
    let dovecot = Dovecot::start_with(options)?;
    for user in users {
        dovecot.add_user(&user.login, &user.password)?;
        if seed_messages > 0 {
            seed(&dovecot, &user.login, seed_messages)?;
        }
    }
    Ok((provider, dovecot))
}

fn serve(
    state_file: &Path,
    mut users: Vec<User>,
    seed_messages: usize,
    latency_ms: u64,
    oauth2_redirect: Option<String>,
) -> Result<()> {
    // Registered first: a signal during startup is queued and handled once started.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).context("signal handlers")?;
    if users.is_empty() {
        users = vec![
            User {
                login: "alice@example.test".to_owned(),
                password: "alice-secret".to_owned(),
            },
            User {
                login: "bob@example.test".to_owned(),
                password: "bob-secret".to_owned(),
            },
        ];
    }
    let pair = DovecotPair::start()?;
    for user in &users {
        pair.add_user(&user.login, &user.password)?;
        if seed_messages > 0 {
            seed(&pair.slash, &user.login, seed_messages)?;
        }
    }
    let proxy = if latency_ms > 0 {
        Some(DelayProxy::start(
            pair.slash.imaps_port(),
            Duration::from_millis(latency_ms),
        )?)
    } else {
        None
    };
    let plain_only = DelayProxy::start_with(
        pair.slash.imap_port(),
        ProxyOptions {
            strip_starttls: true,
            ..ProxyOptions::default()
        },
    )?;
    let oauth2 = match &oauth2_redirect {
        Some(redirect) => Some(Arc::new(start_oauth2(redirect, &users, seed_messages)?)),
        None => None,
    };
    let mut slash = Server::of(&pair.slash);
    slash.slow_imaps_port = proxy.as_ref().map(|p| p.port());
    slash.plain_only_port = Some(plain_only.port());
    let control = Control {
        pair: Arc::new(pair),
        slow: proxy.map(Arc::new),
        oauth2: oauth2.clone(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the control port")?;
    let control_port = listener.local_addr()?.port();
    let stop = Arc::new(AtomicBool::new(false));
    let control_thread = {
        let (control, stop) = (control.clone(), stop.clone());
        listener.set_nonblocking(true)?;
        std::thread::spawn(move || control.serve(&listener, &stop))
    };
    let state = State {
        slash,
        dot: Server::of(&control.pair.dot),
        oauth2: oauth2.as_deref().map(|(provider, dovecot)| OAuth2State {
            issuer: provider.issuer(),
            port: provider.port(),
            client_id: provider.client().client_id.clone(),
            client_secret: provider.client().client_secret.clone(),
            dovecot: Server::of(dovecot),
        }),
        users,
        control_port,
    };
    let json = serde_json::to_vec_pretty(&state)?;
    write_atomically(state_file, &json)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready {}", state_file.display())?;
        out.flush()?;
    }
    let signal = signals.forever().next();
    eprintln!("testkit: signal {signal:?}, stopping");
    stop.store(true, Ordering::SeqCst);
    let _ = control_thread.join();
    drop(plain_only);
    drop(control);
    drop(oauth2);
    let _ = std::fs::remove_file(state_file);
    Ok(())
}

/// What the control port acts on. Commands (one line, words separated by one space; the
/// last argument may contain spaces):
///
/// - `hold` / `release`: stall / resume all traffic through the slow proxy
/// - `password slash|dot LOGIN NEW-PASSWORD`: change a user's password
/// - `kick slash|dot LOGIN`: close the user's IMAP sessions
/// - `count slash|dot LOGIN MAILBOX SUBJECT-TEXT`: `ok N`, the messages of MAILBOX whose
///   Subject contains the text, asked over IMAP (SEARCH)
/// - `messages slash|dot LOGIN MAILBOX`: `ok N`, the mailbox's message count over IMAP
/// - `revoke LOGIN`: `ok N`, the OAuth2 provider revoked the account's N grants (as a user
///   removing the app's access does)
///
/// Where `slash|dot` is asked, `oauth2` names the Dovecot that takes the provider's tokens.
#[derive(Clone)]
struct Control {
    pair: Arc<DovecotPair>,
    slow: Option<Arc<DelayProxy>>,
    oauth2: Option<Arc<(testkit::oauth2::OAuth2Provider, Dovecot)>>,
}

impl Control {
    fn serve(&self, listener: &TcpListener, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = self.session(stream) {
                        eprintln!("testkit control: {e:#}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => {
                    eprintln!("testkit control: accept: {e}");
                    return;
                }
            }
        }
    }

    fn session(&self, stream: TcpStream) -> Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut out = stream.try_clone()?;
        for line in BufReader::new(stream).lines() {
            let line = line?;
            let answer = match self.run(line.trim_end_matches('\r')) {
                Ok(text) => format!("ok {text}"),
                Err(e) => format!("error {e:#}").replace(['\r', '\n'], " "),
            };
            writeln!(out, "{answer}")?;
        }
        Ok(())
    }

    fn server(&self, name: &str) -> Result<&Dovecot> {
        match name {
            "slash" => Ok(&self.pair.slash),
            "dot" => Ok(&self.pair.dot),
            "oauth2" => self
                .oauth2
                .as_ref()
                .map(|o| &o.1)
                .ok_or_else(|| anyhow!("no oauth2 server (start with --oauth2-redirect)")),
            other => Err(anyhow!("unknown server {other:?} (slash, dot or oauth2)")),
        }
    }

    fn run(&self, line: &str) -> Result<String> {
        let mut words = line.splitn(2, ' ');
        let command = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default();
        let args = |n: usize| -> Result<Vec<&str>> {
            let parts: Vec<&str> = rest.splitn(n, ' ').collect();
            if parts.len() == n && parts.iter().all(|p| !p.is_empty()) {
                Ok(parts)
            } else {
                Err(anyhow!("{command}: expected {n} arguments"))
            }
        };
        let slow = || {
            self.slow
                .as_ref()
                .ok_or_else(|| anyhow!("no slow proxy (start with --latency-ms)"))
        };
        match command {
            "hold" => slow()?.hold(),
            "release" => slow()?.release(),
            "password" => {
                let a = args(3)?;
                self.server(a[0])?.set_password(a[1], a[2])?;
            }
            "revoke" => {
                let a = args(1)?;
                let o = self
                    .oauth2
                    .as_ref()
                    .ok_or_else(|| anyhow!("no OAuth2 provider (start with --oauth2-redirect)"))?;
                return Ok(o.0.revoke_account(a[0])?.to_string());
            }
            "kick" => {
                let a = args(2)?;
                self.server(a[0])?.kick(a[1])?;
            }
            "count" | "messages" => {
                let a = if command == "count" {
                    args(4)?
                } else {
                    args(3)?
                };
                let mut client = self.server(a[0])?.login(a[1])?;
                client.command(&format!("SELECT \"{}\"", a[2]))?;
                let search = match a.get(3) {
                    Some(text) => format!("SEARCH SUBJECT \"{}\"", text.replace('"', "")),
                    None => "SEARCH ALL".to_owned(),
                };
                let lines = client.command(&search)?;
                client.logout();
                let n: usize = lines
                    .iter()
                    .filter_map(|l| l.strip_prefix("* SEARCH"))
                    .map(|rest| rest.split_whitespace().count())
                    .sum();
                return Ok(n.to_string());
            }
            other => return Err(anyhow!("unknown command {other:?}")),
        }
        Ok(String::new())
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Serve {
            state_file,
            users,
            seed_messages,
            latency_ms,
            oauth2_redirect,
        } => serve(
            &state_file,
            users,
            seed_messages,
            latency_ms,
            oauth2_redirect,
        ),
        Cmd::DelayProxy {
            rtt_ms,
            ready,
            target,
        } => delay_proxy(rtt_ms, &ready, &target),
    }
}

fn delay_proxy(rtt_ms: f64, ready: &Path, targets: &[u16]) -> Result<()> {
    if !(0.0..=10_000.0).contains(&rtt_ms) {
        return Err(anyhow!("--rtt-ms must be between 0 and 10000"));
    }
    let one_way = Duration::from_secs_f64(rtt_ms / 2000.0);
    let mut lines = String::new();
    let mut lines_kept = Vec::new();
    for &t in targets {
        let line = testkit::delay_line::DelayLine::start(t, one_way)?;
        lines.push_str(&format!("{} {t}\n", line.port()));
        lines_kept.push(line);
    }
    let tmp = ready.with_extension("tmp");
    std::fs::write(&tmp, lines).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, ready)?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    signals.forever().next();
    drop(lines_kept);
    Ok(())
}
