//! Test harness: real Dovecot 2.3 instances on loopback, each with its own CA, users and
//! temp dir. See `README.md` in this folder.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash)?;
//! dovecot.add_user("alice@example.test", "secret")?;
//! dovecot.create_mailbox("alice@example.test", "a/b")?;
//! let port = dovecot.imaps_port(); // trust dovecot.ca_pem()
//! # let _ = port; Ok(()) }
//! ```

pub mod bye_proxy;
mod certs;
pub mod cutter;
pub mod delay_line;
pub mod http;
pub mod imap;
pub mod oauth2;
pub mod proxy;
pub mod smtp;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::imap::ImapClient;

/// System user that owns mail when the harness runs as root (Dovecot refuses uid 0 for mail).
pub const TEST_MAIL_USER: &str = "imapcopy-test";

/// How long to wait for both listeners to greet.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts when a chosen port turns out to be taken.
const PORT_ATTEMPTS: usize = 5;
/// How long [`Dovecot::restart`] keeps trying to bind its ports again.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// Namespace layout of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Separator `/`, no personal-namespace prefix (`a/b`). Storage `maildir` with
    /// `LAYOUT=fs:DIRNAME=mAildir`, so names may contain `.` and may be `cur`/`new`/`tmp`.
    #[default]
    Slash,
    /// Separator `.`, personal namespace prefix `INBOX.` (Courier-style: `INBOX.a.b`).
    /// Storage classic Maildir++.
    DotInbox,
    /// Looks like Gmail to an IMAP client: separator `/`, no prefix (like [`Flavour::Slash`],
    /// same storage), personal folders are Gmail "labels" (`INBOX`, `Work`, `Travel/2024`),
    /// and a `[Gmail]/` namespace made with Dovecot's `virtual` plugin:
    ///
    /// - [`GMAIL_ALL_MAIL`] (`\All`): every message of INBOX, the labels, Sent Mail, Drafts
    ///   and the archived ones ([`Dovecot::append_archived`]), not Spam and Trash;
    /// - [`GMAIL_STARRED`] (`\Flagged`): the `\Flagged` ones among those;
    /// - [`GMAIL_IMPORTANT`] (`\Important`): those with the keyword `$Important`;
    /// - [`GMAIL_SENT`] (`\Sent`), [`GMAIL_DRAFTS`] (`\Drafts`), [`GMAIL_SPAM`] (`\Junk`),
    ///   [`GMAIL_TRASH`] (`\Trash`): each a virtual view of one real mailbox in a hidden
    ///   namespace (APPEND, COPY, STORE and EXPUNGE reach that mailbox).
    ///
    /// Virtual mailboxes are live: a message appended to a label shows in All Mail at the
    /// next SELECT/NOOP. Archived messages (in no label, not in INBOX) live in a hidden
    /// namespace (`hidden = yes`, `list = no`) that only All Mail (and Starred, Important)
    /// include.
    ///
    /// Limitations: a message in two labels is stored twice (once per label folder), so a
    /// message in two labels shows twice in All Mail here; on Gmail once. Messages of the
    /// virtual mailboxes have their own UIDs (not the backend's), and an APPEND to a
    /// `[Gmail]/` mailbox answers without `APPENDUID`. No `X-GM-*` extensions.
    GmailLike,
}

/// Gmail-like names ([`Flavour::GmailLike`]).
pub const GMAIL_ALL_MAIL: &str = "[Gmail]/All Mail";
pub const GMAIL_STARRED: &str = "[Gmail]/Starred";
pub const GMAIL_IMPORTANT: &str = "[Gmail]/Important";
pub const GMAIL_SENT: &str = "[Gmail]/Sent Mail";
pub const GMAIL_DRAFTS: &str = "[Gmail]/Drafts";
pub const GMAIL_SPAM: &str = "[Gmail]/Spam";
pub const GMAIL_TRASH: &str = "[Gmail]/Trash";

/// Hidden namespace (`hidden = yes`, `list = no`) holding the real mailboxes behind the
/// `[Gmail]/` views of [`Flavour::GmailLike`]; not in LIST, still reachable by name.
const GMAIL_STORE_PREFIX: &str = "[Gmail-store]/";
/// Mailbox of the hidden namespace holding archived messages (in All Mail only).
pub const GMAIL_ARCHIVED_STORE: &str = "[Gmail-store]/Archived";

/// `[Gmail]/` virtual mailboxes of [`Flavour::GmailLike`]: (name below `[Gmail]/`,
/// special-use, backing mailbox in the hidden namespace or None for a search view,
/// search program).
const GMAIL_VIRTUAL: [(&str, &str, Option<&str>, &str); 7] = [
    ("All Mail", "\\All", None, "all"),
    ("Starred", "\\Flagged", None, "flagged"),
    ("Important", "\\Important", None, "keyword $Important"),
    ("Sent Mail", "\\Sent", Some("Sent Mail"), "all"),
    ("Drafts", "\\Drafts", Some("Drafts"), "all"),
    ("Spam", "\\Junk", Some("Spam"), "all"),
    ("Trash", "\\Trash", Some("Trash"), "all"),
];
/// Hidden-namespace mailboxes whose messages are in All Mail (besides the personal ones).
const GMAIL_IN_ALL_MAIL: [&str; 3] = ["Sent Mail", "Drafts", "Archived"];

impl Flavour {
    pub fn separator(self) -> char {
        match self {
            Flavour::Slash | Flavour::GmailLike => '/',
            Flavour::DotInbox => '.',
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Flavour::Slash | Flavour::GmailLike => "",
            Flavour::DotInbox => "INBOX.",
        }
    }

    fn mail_location(self) -> &'static str {
        match self {
            Flavour::Slash | Flavour::GmailLike => "maildir:~/Maildir:LAYOUT=fs:DIRNAME=mAildir",
            Flavour::DotInbox => "maildir:~/Maildir",
        }
    }
}

/// Instance options; `Options::new(flavour)` gives the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub flavour: Flavour,
    /// Instance-wide `quota_max_mail_size` (Dovecot size syntax, e.g. `"64K"`, `"10M"`):
    /// larger APPENDs fail with `NO [LIMIT]`. Per user: [`Dovecot::add_user_with_limits`].
    pub max_mail_size: Option<String>,
    /// Appended verbatim to the generated `dovecot.conf` (later settings win).
    pub extra_conf: String,
    /// Also sign in with OAuth2 access tokens, checked by an authorization server.
    pub oauth2: Option<OAuth2Login>,
}

/// OAuth2 sign-in: `passdb { driver = oauth2 }` checking each token by RFC 7662 introspection
/// (`introspection_mode = post`, `force_introspection = yes`, the token's `sub` must be the
/// login, `active` must be true). Passwords keep working for PLAIN and LOGIN (the passwd-file
/// passdb is limited to those mechanisms); users are still added with
/// [`Dovecot::add_user`] (the userdb keeps their mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Login {
    /// `http://CLIENT_ID:SECRET@localhost:PORT/token/introspection`
    /// ([`oauth2::OAuth2Provider::introspection_url`]).
    pub introspection_url: String,
    /// The SASL mechanisms offered for tokens: `"xoauth2 oauthbearer"`, `"xoauth2"`,
    /// `"oauthbearer"`.
    pub mechanisms: String,
}

impl Options {
    pub fn new(flavour: Flavour) -> Options {
        Options {
            flavour,
            ..Options::default()
        }
    }
}

/// Who owns mail and runs Dovecot's unprivileged parts.
#[derive(Debug, Clone)]
struct Identity {
    uid: u32,
    gid: u32,
    /// `Some((user, group))` when not root: used as default_internal/login user.
    non_root: Option<(String, String)>,
}

/// One running Dovecot (`dovecot -F`). Dropping it stops the process tree and removes the
/// temp dir.
pub struct Dovecot {
    flavour: Flavour,
    imap_port: u16,
    imaps_port: u16,
    conf_path: PathBuf,
    ca_pem_path: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    users_dir: PathBuf,
    home_root: PathBuf,
    identity: Identity,
    passwords: Mutex<HashMap<String, String>>,
    child: Option<Child>,
    /// `sh` that SIGTERMs Dovecot and removes the dir when our end of its stdin closes,
    /// i.e. if this process dies without running Drop.
    watchdog: Option<(Child, ChildStdin)>,
    // Last field: dropped (removed) after everything above.
    dir: tempfile::TempDir,
}

/// Kicks a user's sessions periodically ([`Dovecot::kick_every`]); stops when dropped.
pub struct Kicker {
    stop: Arc<AtomicBool>,
    kicks: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Kicker {
    /// Kicks that closed at least one session.
    pub fn kicks(&self) -> u64 {
        self.kicks.load(Ordering::SeqCst)
    }
}

impl Drop for Kicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Both flavours, started in parallel.
pub struct DovecotPair {
    pub slash: Dovecot,
    pub dot: Dovecot,
}

impl DovecotPair {
    pub fn start() -> Result<DovecotPair> {
        let (slash, dot) = std::thread::scope(|s| {
            let slash = s.spawn(|| Dovecot::start(Flavour::Slash));
            let dot = s.spawn(|| Dovecot::start(Flavour::DotInbox));
            (join(slash), join(dot))
        });
        Ok(DovecotPair {
            slash: slash.context("starting Slash instance")?,
            dot: dot.context("starting DotInbox instance")?,
        })
    }

    /// Adds the same user to both instances.
    pub fn add_user(&self, login: &str, password: &str) -> Result<()> {
        self.slash.add_user(login, password)?;
        self.dot.add_user(login, password)
    }
}

fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .map_err(|_| anyhow!("start thread panicked"))?
}

/// A loopback port that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Two distinct free ports (both held while choosing).
fn free_port_pair() -> Result<(u16, u16)> {
    let a = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let b = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

fn dovecot_bin() -> &'static str {
    if Path::new("/usr/sbin/dovecot").exists() {
        "/usr/sbin/dovecot"
    } else {
        "dovecot"
    }
}

fn doveadm_bin() -> &'static str {
    if Path::new("/usr/bin/doveadm").exists() {
        "/usr/bin/doveadm"
    } else {
        "doveadm"
    }
}

fn command_stdout(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `uid:gid` of `name` from `getent passwd`, or None.
fn getent_ids(name: &str) -> Option<(u32, u32)> {
    let line = command_stdout("getent", &["passwd", name]).ok()?;
    let mut fields = line.split(':');
    let uid = fields.nth(2)?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some((uid, gid))
}

fn identity() -> Result<Identity> {
    let euid = fs::metadata("/proc/self").context("stat /proc/self")?.uid();
    if euid != 0 {
        let uid: u32 = command_stdout("id", &["-u"])?.parse().context("id -u")?;
        let gid: u32 = command_stdout("id", &["-g"])?.parse().context("id -g")?;
        let user = command_stdout("id", &["-un"])?;
        let group = command_stdout("id", &["-gn"])?;
        return Ok(Identity {
            uid,
            gid,
            non_root: Some((user, group)),
        });
    }
    if let Some((uid, gid)) = getent_ids(TEST_MAIL_USER) {
        return Ok(Identity {
            uid,
            gid,
            non_root: None,
        });
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            TEST_MAIL_USER,
        ])
        .stdin(Stdio::null())
        .output()
        .context("running useradd")?;
    // A concurrent creator may have won: look again whatever useradd said.
    for _ in 0..50 {
        if let Some((uid, gid)) = getent_ids(TEST_MAIL_USER) {
            return Ok(Identity {
                uid,
                gid,
                non_root: None,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "cannot create system user {TEST_MAIL_USER}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(text) = fs::read_to_string(path) else {
        return String::new();
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

struct ConfParams<'a> {
    dir: &'a Path,
    instance: &'a str,
    identity: &'a Identity,
    options: &'a Options,
    imap_port: u16,
    imaps_port: u16,
}

fn render_conf(p: &ConfParams<'_>) -> String {
    let dir = p.dir.display();
    let flavour = p.options.flavour;
    let dh = Path::new("/usr/share/dovecot/dh.pem");
    // Dovecot 2.3 only needs DH parameters for DHE cipher suites; ECDHE (what rustls and
    // any modern client use) works without them, so a missing file is not fatal.
    let ssl_dh = if dh.exists() {
        format!("ssl_dh = <{}", dh.display())
    } else {
        "# no /usr/share/dovecot/dh.pem: DHE suites unavailable, ECDHE still works".to_owned()
    };
    let non_root = match &p.identity.non_root {
        Some((user, group)) => format!(
            "# Not running as root: everything runs as the current user, no chroots.\n\
             default_internal_user = {user}\n\
             default_internal_group = {group}\n\
             default_login_user = {user}\n\
             service anvil {{\n  chroot =\n}}\n"
        ),
        None => String::new(),
    };
    let login_chroot = if p.identity.non_root.is_some() {
        "  chroot =\n"
    } else {
        ""
    };
    let max_mail_size = match &p.options.max_mail_size {
        Some(size) => format!("  quota_max_mail_size = {size}\n"),
        None => String::new(),
    };
    let (mechanisms, passdbs) = passdbs(p);
    let mut special = String::new();
    // Gmail has no such folders in the personal namespace: its own are below `[Gmail]/`.
    let personal_special: &[(&str, &str)] = if flavour == Flavour::GmailLike {
        &[]
    } else {
        &[
            ("Sent", "\\Sent"),
            ("Drafts", "\\Drafts"),
            ("Trash", "\\Trash"),
            ("Junk", "\\Junk"),
            ("Archive", "\\Archive"),
        ]
    };
    for (name, flag) in personal_special {
        special.push_str(&format!(
            "  mailbox {name} {{\n    special_use = {flag}\n    auto = no\n  }}\n"
        ));
    }
    format!(
        "# Generated by testkit. Do not edit: recreated for every instance.\n\
instance_name = {instance}\n\
base_dir = {dir}/run\n\
state_dir = {dir}/state\n\
log_path = {dir}/dovecot.log\n\
protocols = imap\n\
listen = 127.0.0.1\n\
ssl = yes\n\
ssl_cert = <{dir}/server.pem\n\
ssl_key = <{dir}/server.key\n\
{ssl_dh}\n\
ssl_min_protocol = TLSv1.2\n\
disable_plaintext_auth = no\n\
auth_mechanisms = {mechanisms}\n\
auth_verbose = yes\n\
first_valid_uid = 1\n\
first_valid_gid = 1\n\
mail_max_userip_connections = 100\n\
mail_location = {mail_location}\n\
mail_plugins = $mail_plugins quota{virtual_plugin}\n\
{non_root}\
# One passwd-file per user: a new file is read at once, whereas edits to a shared file\n\
# are only noticed once per second.\n\
{passdbs}\
userdb {{\n  driver = passwd-file\n  args = {dir}/users/%u\n}}\n\
namespace inbox {{\n  inbox = yes\n  separator = {sep}\n  prefix = {prefix}\n{special}}}\n\
{gmail}\
service imap-login {{\n\
{login_chroot}\
  inet_listener imap {{\n    port = {imap_port}\n  }}\n\
  inet_listener imaps {{\n    port = {imaps_port}\n    ssl = yes\n  }}\n\
}}\n\
protocol imap {{\n  mail_plugins = $mail_plugins imap_quota\n}}\n\
plugin {{\n\
  quota = count:User quota\n\
  quota_vsizes = yes\n\
  quota_grace = 0\n\
{max_mail_size}\
}}\n\
{extra}\n",
        instance = p.instance,
        mail_location = flavour.mail_location(),
        sep = flavour.separator(),
        prefix = flavour.prefix(),
        imap_port = p.imap_port,
        imaps_port = p.imaps_port,
        extra = p.options.extra_conf,
        virtual_plugin = if flavour == Flavour::GmailLike {
            " virtual"
        } else {
            ""
        },
        gmail = if flavour == Flavour::GmailLike {
            gmail_namespaces(p.dir)
        } else {
            String::new()
        },
    )
}

/// [`Flavour::GmailLike`]: the `[Gmail]/` namespace of virtual mailboxes (their
/// `dovecot-virtual` files in `DIR/virtual`, written by [`write_gmail_virtuals`], indexes in
/// each home), and the hidden namespace holding the real mailboxes behind them.
fn gmail_namespaces(dir: &Path) -> String {
    let mut virtuals = String::new();
    for (name, flag, _, _) in GMAIL_VIRTUAL {
        virtuals.push_str(&format!(
            "  mailbox \"{name}\" {{\n    special_use = {flag}\n  }}\n"
        ));
    }
    let mut store = String::new();
    for name in GMAIL_VIRTUAL
        .iter()
        .filter_map(|(_, _, backend, _)| *backend)
        .chain(["Archived"])
    {
        store.push_str(&format!(
            "  mailbox \"{name}\" {{\n    auto = create\n  }}\n"
        ));
    }
    format!(
        "# Gmail-like: [Gmail]/ are virtual mailboxes (virtual plugin) over the personal\n\
         # namespace and the hidden store below.\n\
         namespace gmail {{\n  separator = /\n  prefix = [Gmail]/\n  \
         location = virtual:{dir}/virtual:INDEX=~/virtual:CONTROL=~/virtual\n  \
         list = yes\n  subscriptions = no\n{virtuals}}}\n\
         namespace gmail_store {{\n  separator = /\n  prefix = {GMAIL_STORE_PREFIX}\n  \
         location = maildir:~/gmail-store:LAYOUT=fs:DIRNAME=mAildir\n  \
         hidden = yes\n  list = no\n  subscriptions = no\n{store}}}\n",
        dir = dir.display(),
    )
}

/// Writes the `dovecot-virtual` file of every `[Gmail]/` mailbox below `root/virtual`
/// (shared by all users; mailbox patterns are resolved per user).
fn write_gmail_virtuals(root: &Path) -> Result<()> {
    for (name, _, backend, search) in GMAIL_VIRTUAL {
        let boxes = match backend {
            // Saves (APPEND, COPY) go to the `!` mailbox.
            Some(b) => format!("!{GMAIL_STORE_PREFIX}{b}\n"),
            // `*` matches the personal namespace only (INBOX and the labels).
            None => {
                let mut boxes = "*\n".to_owned();
                for b in GMAIL_IN_ALL_MAIL {
                    boxes.push_str(&format!("{GMAIL_STORE_PREFIX}{b}\n"));
                }
                boxes
            }
        };
        let mailbox_dir = root.join("virtual").join(name);
        fs::create_dir_all(&mailbox_dir)
            .with_context(|| format!("mkdir {}", mailbox_dir.display()))?;
        fs::set_permissions(&mailbox_dir, fs::Permissions::from_mode(0o755))?;
        write_file(
            &mailbox_dir.join("dovecot-virtual"),
            format!("{boxes}  {search}\n").as_bytes(),
            0o644,
        )?;
    }
    fs::set_permissions(root.join("virtual"), fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// `auth_mechanisms` and the passdb blocks: passwd-file (PLAIN passwords), and with
/// [`OAuth2Login`] an oauth2 passdb for the token mechanisms.
fn passdbs(p: &ConfParams<'_>) -> (String, String) {
    let dir = p.dir.display();
    let passwd = format!("  driver = passwd-file\n  args = scheme=PLAIN {dir}/users/%u\n");
    match &p.options.oauth2 {
        None => (
            "plain login".to_owned(),
            format!("passdb {{\n{passwd}}}\n"),
        ),
        Some(o) => (
            format!("plain login {}", o.mechanisms),
            format!(
                "passdb {{\n{passwd}  mechanisms = plain login none\n}}\n\
                 passdb {{\n  driver = oauth2\n  mechanisms = {}\n  args = {dir}/{OAUTH2_CONF}\n}}\n\
                 # Tests refuse tokens on purpose, all from 127.0.0.1: no 2 s delay per\n\
                 # failure, and no penalty (2, 4, 8, 15 s) on the IP's next logins (a\n\
                 # listener with mode 0 is not created, so auth runs without anvil's penalty).\n\
                 auth_failure_delay = 0\n\
                 service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n",
                o.mechanisms
            ),
        ),
    }
}

/// The oauth2 passdb's own file (dovecot-oauth2.conf.ext).
const OAUTH2_CONF: &str = "dovecot-oauth2.conf.ext";

fn render_oauth2_conf(o: &OAuth2Login) -> String {
    format!(
        "# Generated by testkit: RFC 7662 introspection of every token.\n\
introspection_mode = post\n\
introspection_url = {url}\n\
force_introspection = yes\n\
username_attribute = sub\n\
active_attribute = active\n\
active_value = true\n",
        url = o.introspection_url
    )
}

/// Greets on both ports, the TLS one verified against our own CA. Short timeouts: a port
/// held by some other process may accept and then say nothing.
fn greets(imap_port: u16, imaps_port: u16, ca_pem: &str) -> Result<()> {
    let probe_timeout = Duration::from_secs(1);
    let plain = ImapClient::connect_plain_with_timeout(imap_port, probe_timeout)?;
    let tls = ImapClient::connect_tls_with_timeout(imaps_port, ca_pem, "localhost", probe_timeout)?;
    for greeting in [plain.greeting(), tls.greeting()] {
        // "* OK Waiting for authentication process to respond.." also starts with "* OK".
        if !greeting.starts_with("* OK") || greeting.contains("Waiting for authentication") {
            bail!("not ready yet: {greeting}");
        }
    }
    Ok(())
}

enum Attempt {
    Ready(Child),
    PortTaken,
}

impl Dovecot {
    /// Starts an instance with default [`Options`].
    pub fn start(flavour: Flavour) -> Result<Dovecot> {
        Self::start_with(Options::new(flavour))
    }

    pub fn start_with(options: Options) -> Result<Dovecot> {
        Self::start_inner(options, &mut free_port_pair)
    }

    /// `ports` yields (imap, imaps) candidates; called again when Dovecot finds one taken.
    fn start_inner(
        options: Options,
        ports: &mut dyn FnMut() -> Result<(u16, u16)>,
    ) -> Result<Dovecot> {
        if !Path::new(dovecot_bin()).exists() && which("dovecot").is_none() {
            bail!("dovecot is not installed (Debian: apt-get install dovecot-imapd)");
        }
        let identity = identity()?;
        // Always under /tmp: the mail user must be able to traverse the path, and socket
        // paths below base_dir must stay short.
        let dir = tempfile::Builder::new()
            .prefix("imapcopy-dovecot-")
            .tempdir_in("/tmp")
            .context("creating temp dir")?;
        let root = dir.path().to_path_buf();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        for sub in ["run", "state", "users", "mail", "mail/home"] {
            fs::create_dir(root.join(sub)).with_context(|| format!("mkdir {sub}"))?;
            fs::set_permissions(root.join(sub), fs::Permissions::from_mode(0o755))?;
        }
        for sub in ["mail", "mail/home"] {
            std::os::unix::fs::chown(root.join(sub), Some(identity.uid), Some(identity.gid))
                .with_context(|| format!("chown {sub}"))?;
        }

        let pki = certs::generate()?;
        let ca_pem_path = root.join("ca.pem");
        write_file(&ca_pem_path, pki.ca_pem.as_bytes(), 0o644)?;
        write_file(
            &root.join("server.pem"),
            pki.server_cert_pem.as_bytes(),
            0o644,
        )?;
        write_file(
            &root.join("server.key"),
            pki.server_key_pem.as_bytes(),
            0o600,
        )?;

        let suffix = root
            .file_name()
            .map(|n| n.to_string_lossy().replace("imapcopy-dovecot-", ""))
            .unwrap_or_default();
        let instance = format!("imapcopy-test-{suffix}");
        let conf_path = root.join("dovecot.conf");
        let log_path = root.join("dovecot.log");
        let stderr_path = root.join("dovecot.stderr");

        if let Some(o) = &options.oauth2 {
            // Holds the client secret: readable by Dovecot's auth process (this user) only.
            write_file(
                &root.join(OAUTH2_CONF),
                render_oauth2_conf(o).as_bytes(),
                0o600,
            )?;
        }

        if options.flavour == Flavour::GmailLike {
            write_gmail_virtuals(&root)?;
        }

        let mut last_err = None;
        for _ in 0..PORT_ATTEMPTS {
            let (imap_port, imaps_port) = ports()?;
            let conf = render_conf(&ConfParams {
                dir: &root,
                instance: &instance,
                identity: &identity,
                options: &options,
                imap_port,
                imaps_port,
            });
            write_file(&conf_path, conf.as_bytes(), 0o644)?;
            match Self::spawn_and_wait(
                &conf_path,
                &log_path,
                &stderr_path,
                &pki.ca_pem,
                imap_port,
                imaps_port,
            )? {
                Attempt::Ready(child) => {
                    let watchdog = spawn_watchdog(child.id(), &root)?;
                    return Ok(Dovecot {
                        flavour: options.flavour,
                        imap_port,
                        imaps_port,
                        conf_path,
                        ca_pem_path,
                        log_path,
                        stderr_path,
                        users_dir: root.join("users"),
                        home_root: root.join("mail/home"),
                        identity,
                        passwords: Mutex::new(HashMap::new()),
                        child: Some(child),
                        watchdog: Some(watchdog),
                        dir,
                    });
                }
                Attempt::PortTaken => {
                    last_err = Some(format!("ports {imap_port}/{imaps_port} were taken"));
                }
            }
        }
        bail!(
            "dovecot did not start after {PORT_ATTEMPTS} attempts ({}); log:\n{}",
            last_err.unwrap_or_default(),
            tail(&log_path, 20)
        )
    }

    fn spawn_and_wait(
        conf: &Path,
        log: &Path,
        stderr_path: &Path,
        ca_pem: &str,
        imap_port: u16,
        imaps_port: u16,
    ) -> Result<Attempt> {
        let stderr = fs::File::create(stderr_path).context("creating stderr file")?;
        let mut child = Command::new(dovecot_bin())
            .arg("-F")
            .arg("-c")
            .arg(conf)
            // Its own process group, so that `stop` reaches every process of the instance.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .context("spawning dovecot")?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                // Startup errors go to stderr too; that file is fresh for every attempt,
                // whereas the log keeps earlier attempts' lines.
                let log_text = format!("{}\n{}", tail(log, 20), tail(stderr_path, 20));
                if tail(stderr_path, 20).contains("Address already in use") {
                    return Ok(Attempt::PortTaken);
                }
                bail!("dovecot exited at startup ({status}):\n{log_text}");
            }
            // A successful TLS greeting verified against our CA proves that this very
            // instance bound its listeners (Dovecot binds all of them before serving).
            let last = match greets(imap_port, imaps_port, ca_pem) {
                Ok(()) => return Ok(Attempt::Ready(child)),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "dovecot not ready within {READY_TIMEOUT:?} (last: {last}); log:\n{}\n{}",
                    tail(log, 20),
                    tail(stderr_path, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    /// PEM of the CA that signed the server certificate (empty if the file vanished).
    pub fn ca_pem(&self) -> String {
        fs::read_to_string(&self.ca_pem_path).unwrap_or_default()
    }

    pub fn separator(&self) -> char {
        self.flavour.separator()
    }

    pub fn prefix(&self) -> &str {
        self.flavour.prefix()
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf_path
    }

    /// The instance's temp dir (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PID of the `dovecot -F` master process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Last `lines` lines of the Dovecot log (and of its stderr).
    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "{}\n{}",
            tail(&self.log_path, lines),
            tail(&self.stderr_path, lines)
        )
    }

    /// Full mailbox name for a path below the personal namespace:
    /// `["a", "b"]` → `a/b` (Slash) or `INBOX.a.b` (DotInbox).
    pub fn mailbox_name(&self, parts: &[&str]) -> String {
        format!(
            "{}{}",
            self.prefix(),
            parts.join(&self.separator().to_string())
        )
    }

    /// Adds a user without quota. Usable as soon as this returns; logins are
    /// case-insensitive (Dovecot lowercases them), and may contain `@`.
    pub fn add_user(&self, login: &str, password: &str) -> Result<()> {
        self.add_user_with_limits(login, password, None, None)
    }

    /// Adds a user with a storage quota of `storage_kib` KiB (`quota_rule=*:storage=NK`).
    pub fn add_user_with_quota(&self, login: &str, password: &str, storage_kib: u64) -> Result<()> {
        self.add_user_with_limits(login, password, Some(storage_kib), None)
    }

    /// Adds a user with an optional storage quota and an optional per-user
    /// `quota_max_mail_size` (KiB): bigger messages are refused with `NO [LIMIT]`.
    pub fn add_user_with_limits(
        &self,
        login: &str,
        password: &str,
        storage_kib: Option<u64>,
        max_mail_size_kib: Option<u64>,
    ) -> Result<()> {
        if login.is_empty()
            || login
                .chars()
                .any(|c| matches!(c, ':' | '/' | '\n' | '\r' | '%' | ' ' | '\t'))
            || login.starts_with('.')
        {
            bail!("unsupported login {login:?} (no ':', '/', '%', whitespace, leading '.')");
        }
        if password.chars().any(|c| matches!(c, ':' | '\n' | '\r')) {
            bail!("passwords may not contain ':' or line breaks");
        }
        // Dovecot's default auth_username_format is %Lu.
        let key = login.to_lowercase();
        let path = self.users_dir.join(&key);
        if path.exists() {
            bail!("user {key} already exists");
        }
        let mut extra = Vec::new();
        if let Some(kib) = storage_kib {
            extra.push(format!("userdb_quota_rule=*:storage={kib}K"));
        }
        if let Some(kib) = max_mail_size_kib {
            extra.push(format!("userdb_quota_max_mail_size={kib}K"));
        }
        let home = self.home_root.join(&key);
        let line = format!(
            "{key}:{{PLAIN}}{password}:{}:{}::{}::{}\n",
            self.identity.uid,
            self.identity.gid,
            home.display(),
            extra.join(" ")
        );
        self.install_passwd_line(&key, &line, password)?;

        // Make sure both lookups see it before returning.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let user = self.doveadm(&["user", "-f", "home", &key]);
            let auth = self.doveadm(&["auth", "lookup", &key]);
            match (user, auth) {
                (Ok(_), Ok(_)) => return Ok(()),
                (u, a) if Instant::now() > deadline => {
                    let e = u.err().or(a.err()).unwrap_or_else(|| anyhow!("?"));
                    return Err(e.context(format!("user {key} not visible to dovecot")));
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Changes the password of a user added with `add_user*` (the passwd-file line is
    /// rewritten in place, other fields kept). New logins must use it at once; sessions
    /// already logged in stay (see [`Dovecot::kick`]).
    pub fn set_password(&self, login: &str, password: &str) -> Result<()> {
        if password.chars().any(|c| matches!(c, ':' | '\n' | '\r')) {
            bail!("passwords may not contain ':' or line breaks");
        }
        let key = login.to_lowercase();
        let path = self.users_dir.join(&key);
        let line = fs::read_to_string(&path).with_context(|| format!("unknown user {key}"))?;
        let mut fields: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
        if fields.len() < 2 {
            bail!("malformed passwd-file line for {key}");
        }
        let sealed = format!("{{PLAIN}}{password}");
        fields[1] = &sealed;
        self.install_passwd_line(&key, &format!("{}\n", fields.join(":")), password)?;
        // Dovecot's auth process caches nothing by default (auth_cache_size = 0), and
        // passwd-file lookups re-read a changed file; wait until a lookup sees the change.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.doveadm(&["auth", "test", &key, password]);
            if out.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(anyhow!("new password for {key} not visible to dovecot"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sets (or with `None` lifts) the storage quota of a user added with `add_user*`, for
    /// its next logins (the passwd-file line is rewritten, other fields kept).
    pub fn set_quota(&self, login: &str, storage_kib: Option<u64>) -> Result<()> {
        let key = login.to_lowercase();
        let path = self.users_dir.join(&key);
        let line = fs::read_to_string(&path).with_context(|| format!("unknown user {key}"))?;
        // The extra fields (the 8th) may hold colons themselves (`quota_rule=*:storage=…`).
        let mut fields: Vec<String> = line
            .trim_end_matches('\n')
            .splitn(8, ':')
            .map(str::to_string)
            .collect();
        if fields.len() < 8 {
            bail!("malformed passwd-file line for {key}");
        }
        let mut extra: Vec<String> = fields[7]
            .split_whitespace()
            .filter(|f| !f.starts_with("userdb_quota_rule="))
            .map(str::to_string)
            .collect();
        if let Some(kib) = storage_kib {
            extra.push(format!("userdb_quota_rule=*:storage={kib}K"));
        }
        fields[7] = extra.join(" ");
        let password = self.password(&key).unwrap_or_default();
        self.install_passwd_line(&key, &format!("{}\n", fields.join(":")), &password)?;
        // Wait until a userdb lookup sees the change (as `set_password` does).
        let want = storage_kib.map(|kib| format!("storage={kib}K"));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.doveadm(&["user", &key]).unwrap_or_default();
            let seen = match &want {
                Some(rule) => out.contains(rule.as_str()),
                None => !out.contains("quota_rule"),
            };
            if seen {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("new quota for {key} not visible to dovecot: {out}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `doveadm kick USER`: closes the user's IMAP sessions (a server restart or an
    /// administrator's action, as seen from a client).
    pub fn kick(&self, login: &str) -> Result<()> {
        match self.doveadm(&["kick", &login.to_lowercase()]) {
            Ok(_) => Ok(()),
            // doveadm exits 68 (EX_NOUSER) when the user had no session: nothing to close.
            Err(e) if format!("{e}").contains("no users kicked") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Kicks `login`'s sessions every `every` until the returned [`Kicker`] is dropped: what
    /// a server that ends a session when its access token expires does (Dovecot checks a
    /// token only at login and keeps the session; Exchange Online ends it).
    pub fn kick_every(&self, login: &str, every: Duration) -> Kicker {
        let stop = Arc::new(AtomicBool::new(false));
        let kicks = Arc::new(AtomicU64::new(0));
        let (stopped, count) = (stop.clone(), kicks.clone());
        let conf = self.conf_path.clone();
        let login = login.to_lowercase();
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now() + every;
            while !stopped.load(Ordering::SeqCst) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                next += every;
                let kicked = Command::new(doveadm_bin())
                    .arg("-c")
                    .arg(&conf)
                    .args(["kick", &login])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                // Exit 68 (EX_NOUSER): no session to kick right now.
                if kicked.is_ok_and(|s| s.success()) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Kicker {
            stop,
            kicks,
            thread: Some(thread),
        }
    }

    /// Installs `line` as the passwd-file of `key` and remembers its password. Written then
    /// renamed: the auth process never sees a half-written file.
    fn install_passwd_line(&self, key: &str, line: &str, password: &str) -> Result<()> {
        let tmp = self.users_dir.join(format!(".{key}.tmp"));
        write_file(&tmp, line.as_bytes(), 0o644)?;
        fs::rename(&tmp, self.users_dir.join(key)).context("installing passwd-file")?;
        self.passwords
            .lock()
            .map_err(|_| anyhow!("poisoned lock"))?
            .insert(key.to_owned(), password.to_owned());
        Ok(())
    }

    /// Password given to `add_*user*` for `login` (case-insensitive).
    pub fn password(&self, login: &str) -> Option<String> {
        self.passwords
            .lock()
            .ok()?
            .get(&login.to_lowercase())
            .cloned()
    }

    /// Runs `doveadm -c <conf> ARGS…`; returns stdout, or an error with stderr.
    pub fn doveadm(&self, args: &[&str]) -> Result<String> {
        self.doveadm_with_input(args, None)
    }

    fn doveadm_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Result<String> {
        let mut child = Command::new(doveadm_bin())
            .arg("-c")
            .arg(&self.conf_path)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning doveadm")?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(data).context("writing doveadm stdin")?;
        }
        let out = child.wait_with_output().context("waiting for doveadm")?;
        if !out.status.success() {
            bail!(
                "doveadm {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `doveadm mailbox create -u USER NAME` (UTF-8 name, full path incl. prefix).
    pub fn create_mailbox(&self, user: &str, name: &str) -> Result<()> {
        self.doveadm(&["mailbox", "create", "-u", user, name])
            .map(|_| ())
    }

    /// `doveadm mailbox list -u USER`: all mailbox names (UTF-8), in Dovecot's order.
    pub fn list_mailboxes(&self, user: &str) -> Result<Vec<String>> {
        Ok(self
            .doveadm(&["mailbox", "list", "-u", user])?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `doveadm save -u USER -m MAILBOX` with `raw` on stdin. No flags, INTERNALDATE = now;
    /// use [`Dovecot::append`] for those.
    pub fn save(&self, user: &str, mailbox: &str, raw: &[u8]) -> Result<()> {
        self.doveadm_with_input(&["save", "-u", user, "-m", mailbox], Some(raw))
            .map(|_| ())
    }

    /// Real IMAP APPEND (plain port, LOGIN with the password given to `add_user`), so flags
    /// (`"\\Seen"`, `"$Label1"`) and INTERNALDATE (`"01-Jan-2020 10:00:00 +0000"`) are set.
    pub fn append(
        &self,
        user: &str,
        mailbox: &str,
        flags: &[&str],
        internaldate: Option<&str>,
        raw: &[u8],
    ) -> Result<()> {
        let mut client = self.login(user)?;
        client.append(mailbox, flags, internaldate, raw)?;
        client.logout();
        Ok(())
    }

    /// [`Flavour::GmailLike`] only: stores an archived message (in no label, not in INBOX),
    /// which then shows in [`GMAIL_ALL_MAIL`] only (and in [`GMAIL_STARRED`] /
    /// [`GMAIL_IMPORTANT`] with `\Flagged` / `$Important`). A real IMAP APPEND to the
    /// hidden [`GMAIL_ARCHIVED_STORE`], like [`Dovecot::append`].
    pub fn append_archived(
        &self,
        user: &str,
        flags: &[&str],
        internaldate: Option<&str>,
        raw: &[u8],
    ) -> Result<()> {
        if self.flavour != Flavour::GmailLike {
            bail!("append_archived needs Flavour::GmailLike");
        }
        self.append(user, GMAIL_ARCHIVED_STORE, flags, internaldate, raw)
    }

    /// A logged-in [`ImapClient`] on the plain port for a user added with `add_user`.
    pub fn login(&self, user: &str) -> Result<ImapClient> {
        let password = self
            .password(user)
            .ok_or_else(|| anyhow!("unknown user {user} (not added with add_user)"))?;
        let mut client = ImapClient::connect_plain(self.imap_port)?;
        client.login(user, &password)?;
        Ok(client)
    }

    /// Stops this instance and starts it again, as a server restart looks to a client. It is
    /// stopped gracefully as on drop (SIGTERM to the master and its whole process group:
    /// every session gets `* BYE` and is closed); for `down` nothing listens (connections are
    /// refused); then the same configuration starts again on the same ports, with the same
    /// temp dir, users, passwords and mail. Returns once both ports greet; [`Dovecot::pid`]
    /// is then the new master's, and the watchdog watches it.
    ///
    /// Dovecot binds its listeners with `SO_REUSEADDR`, so connections left in TIME_WAIT do
    /// not block the ports; a port still held (an old login process not yet gone) is tried
    /// again for up to [`REBIND_TIMEOUT`]. Between the stop and the new start no watchdog
    /// runs: if this process dies then, only the temp dir is left behind.
    pub fn restart(&mut self, down: Duration) -> Result<()> {
        self.stop();
        std::thread::sleep(down);
        let ca_pem = self.ca_pem();
        let deadline = Instant::now() + REBIND_TIMEOUT;
        let child = loop {
            let attempt = Self::spawn_and_wait(
                &self.conf_path,
                &self.log_path,
                &self.stderr_path,
                &ca_pem,
                self.imap_port,
                self.imaps_port,
            )?;
            match attempt {
                Attempt::Ready(child) => break child,
                Attempt::PortTaken if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Attempt::PortTaken => bail!(
                    "ports {}/{} still taken {REBIND_TIMEOUT:?} after the stop; log:\n{}",
                    self.imap_port,
                    self.imaps_port,
                    self.log_tail(20)
                ),
            }
        };
        let pid = child.id();
        // Kept before arming the watchdog: if that fails, Drop still stops this master.
        self.child = Some(child);
        self.watchdog = Some(spawn_watchdog(pid, self.dir.path())?);
        Ok(())
    }

    fn stop(&mut self) {
        // First disarm the watchdog so it neither signals nor deletes anything.
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(stdin);
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Graceful, as a service manager stops a unit: SIGTERM to the master and to every
        // process of its group (`dovecot -F` leads its own, [`Dovecot::spawn_and_wait`]). The
        // master alone is not enough: Dovecot 2.3's logged-in imap processes outlive it (they
        // only stop accepting new connections) and keep their clients' sessions open; each
        // answers SIGTERM with `* BYE` and exits. The master usually exits at once; now and
        // then (with or without the group) it is still there after 5 s.
        let group = format!("-{}", child.id());
        send_signal("-TERM", &group);
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(None) = child.try_wait() {
            if Instant::now() > deadline {
                send_signal("-KILL", &group);
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }
}

/// `kill SIGNAL -- TARGET`: a pid, or `-PGID` for a whole process group.
fn send_signal(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        // `dir` (TempDir) is removed after this, when the field is dropped.
    }
}

/// `sh` that blocks reading stdin; when the pipe closes without it having been killed first
/// (this process died, Drop never ran), it SIGTERMs Dovecot's process group, SIGKILLs it
/// after 5 s, and removes the temp dir.
fn spawn_watchdog(pid: u32, dir: &Path) -> Result<(Child, ChildStdin)> {
    // A zombie (state Z: dead, not yet reaped by init) counts as gone.
    const SCRIPT: &str = r#"read _ignored
alive() { kill -0 "$1" 2>/dev/null && ! grep -qs ') Z' "/proc/$1/stat"; }
kill -TERM "-$1" 2>/dev/null
i=0
while alive "$1" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "-$1" 2>/dev/null
sleep 0.2
rm -rf -- "$2"
"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("testkit-watchdog")
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawning watchdog")?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("watchdog has no stdin"))?;
    Ok((child, stdin))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Dovecot>();
        check::<DovecotPair>();
    }

    /// A port that is already taken makes Dovecot exit; the start is retried on new ports.
    #[test]
    fn retries_when_a_port_is_taken() -> Result<()> {
        let blocker = TcpListener::bind(("127.0.0.1", 0))?;
        let taken = blocker.local_addr()?.port();
        let mut calls = 0;
        let d = Dovecot::start_inner(Options::new(Flavour::Slash), &mut || {
            calls += 1;
            if calls == 1 {
                Ok((free_port()?, taken))
            } else {
                free_port_pair()
            }
        })?;
        assert_eq!(calls, 2);
        assert_ne!(d.imaps_port(), taken);
        assert!(d.log_tail(50).contains("Address already in use"));
        ImapClient::connect_tls(d.imaps_port(), &d.ca_pem())?;
        Ok(())
    }
}
