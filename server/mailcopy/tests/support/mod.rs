//! Shared helpers of the copy tests: connection options, seeding a generated mailbox into
//! Dovecot, and the exactness check (snapshots compared per folder as multisets).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fake;
pub mod gen;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{
    ConnectOptions, Credentials, Endpoint, MailboxName, Progress, ProgressSink, Security,
};
use sha2::{Digest, Sha256};
use testkit::Dovecot;

use gen::{GenMailbox, GenMessage};

/// `localhost` → 127.0.0.1, nothing asked of real DNS; loopback allowed; every given CA
/// trusted (one PEM blob may hold several certificates).
pub fn connect_options(servers: &[&Dovecot]) -> ConnectOptions {
    let resolver =
        Arc::new(StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]));
    let pem: String = servers
        .iter()
        .map(|d| d.ca_pem())
        .collect::<Vec<_>>()
        .join("\n");
    let opts = ConnectOptions::new(resolver)
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(20));
    if servers.is_empty() {
        opts
    } else {
        opts.with_ca_pem(pem).unwrap()
    }
}

pub fn endpoint(d: &Dovecot) -> Endpoint {
    Endpoint::new("localhost", d.imaps_port(), Security::Tls)
}

pub fn account(d: &Dovecot, login: &str) -> (Endpoint, Credentials) {
    let password = d.password(login).expect("user added");
    (endpoint(d), Credentials::new(login, &password))
}

/// The full mailbox name of a generated path on `d`.
pub fn full_name(d: &Dovecot, path: &[String]) -> String {
    if path.len() == 1 && path[0] == "INBOX" {
        return "INBOX".to_string();
    }
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    d.mailbox_name(&parts)
}

/// Creates the folders, APPENDs every message (flags, INTERNALDATE) over one connection, and
/// subscribes what the generator says.
pub fn seed(d: &Dovecot, login: &str, mailbox: &GenMailbox) {
    for f in &mailbox.folders {
        let name = full_name(d, &f.path);
        if name != "INBOX" {
            d.create_mailbox(login, &name).unwrap();
        }
    }
    let mut c = Client::new(d, login);
    for f in &mailbox.folders {
        let name = full_name(d, &f.path);
        for m in &f.messages {
            let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
            c.append(&name, &flags, Some(&m.internaldate), &m.raw);
        }
        if f.subscribed {
            let enc = testkit::imap::encode_mailbox_name(&name);
            c.command(&format!("SUBSCRIBE \"{enc}\""));
        }
    }
    c.logout();
}

/// The harness's blocking client, made to survive spurious read failures: a socket read with
/// a timeout fails with EINTR when the process is stopped and resumed (signal(7)), and
/// `testkit::imap::ImapClient` does not retry it. On a failure it logs in again (and selects
/// again what was selected); an APPEND is sent again only if the folder's message count shows
/// it did not arrive, so nothing is appended twice.
pub struct Client<'a> {
    d: &'a Dovecot,
    login: String,
    c: Option<testkit::imap::ImapClient>,
    selected: Option<String>,
    /// Messages per folder (UTF-8 name) as far as this client knows.
    counts: BTreeMap<String, usize>,
}

const ATTEMPTS: usize = 5;

impl<'a> Client<'a> {
    pub fn new(d: &'a Dovecot, login: &str) -> Client<'a> {
        Client {
            d,
            login: login.to_string(),
            c: None,
            selected: None,
            counts: BTreeMap::new(),
        }
    }

    fn conn(&mut self) -> anyhow::Result<&mut testkit::imap::ImapClient> {
        if self.c.is_none() {
            let mut c = self.d.login(&self.login)?;
            if let Some(sel) = &self.selected {
                c.command(sel)?;
            }
            self.c = Some(c);
        }
        Ok(self.c.as_mut().expect("connected"))
    }

    fn retry<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut testkit::imap::ImapClient) -> anyhow::Result<T>,
    ) -> T {
        for attempt in 1..=ATTEMPTS {
            match self.conn().and_then(&mut f) {
                Ok(v) => return v,
                Err(e) if attempt < ATTEMPTS => {
                    eprintln!("test client: {what} failed ({e:#}); logging in again");
                    self.c = None;
                }
                Err(e) => panic!("{what}: {e:#}"),
            }
        }
        unreachable!()
    }

    /// A command that may be sent twice (not APPEND). SELECT/EXAMINE are remembered.
    pub fn command(&mut self, command: &str) -> Vec<String> {
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("SELECT ") || upper.starts_with("EXAMINE ") {
            self.selected = Some(command.to_string());
        }
        self.retry(command, |c| c.command(command))
    }

    /// STATUS MESSAGES of a folder (UTF-8 name).
    pub fn messages(&mut self, folder: &str) -> usize {
        let enc = testkit::imap::encode_mailbox_name(folder);
        let lines = self.command(&format!("STATUS \"{enc}\" (MESSAGES)"));
        let l = lines
            .iter()
            .find(|l| l.starts_with("* STATUS"))
            .expect("STATUS answer");
        let n = &l[l.find("MESSAGES ").expect("MESSAGES") + 9..];
        n[..n.find(')').expect(")")].trim().parse().expect("count")
    }

    /// APPEND to a folder (UTF-8 name, prefix included), exactly once.
    pub fn append(&mut self, folder: &str, flags: &[&str], date: Option<&str>, raw: &[u8]) {
        let before = match self.counts.get(folder) {
            Some(n) => *n,
            None => self.messages(folder),
        };
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .conn()
                .and_then(|c| c.append(folder, flags, date, raw).map(|_| ()));
            match sent {
                Ok(()) => break,
                Err(e) if attempt < ATTEMPTS => {
                    eprintln!("test client: APPEND to {folder} failed ({e:#}); checking");
                    self.c = None;
                    if self.messages(folder) == before + 1 {
                        break;
                    }
                }
                Err(e) => panic!("seeding {folder}: {e:#}"),
            }
        }
        self.counts.insert(folder.to_string(), before + 1);
    }

    pub fn logout(mut self) {
        if let Some(c) = self.c.take() {
            c.logout();
        }
    }
}

/// One message as compared: digest of the full message, flags (sorted, `\Recent` dropped),
/// INTERNALDATE as a UTC instant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Msg {
    pub sha256: String,
    pub flags: Vec<String>,
    pub utc: i64,
    pub size: usize,
}

pub type Snapshot = BTreeMap<Vec<String>, Vec<Msg>>;

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sorted_flags(flags: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = flags.filter(|f| f != "\\Recent").collect();
    v.sort();
    v
}

impl Msg {
    pub fn of(m: &GenMessage) -> Msg {
        Msg {
            sha256: sha256_hex(&m.raw),
            flags: sorted_flags(m.flags.iter().cloned()),
            utc: m.utc,
            size: m.raw.len(),
        }
    }
}

/// What a server should hold for `mailbox`, keeping the messages `keep` accepts.
pub fn expected(mailbox: &GenMailbox, keep: impl Fn(&GenMessage) -> bool) -> Snapshot {
    let mut out = Snapshot::new();
    for f in &mailbox.folders {
        let mut v: Vec<Msg> = f.messages.iter().filter(|m| keep(m)).map(Msg::of).collect();
        v.sort();
        out.insert(f.path.clone(), v);
    }
    out
}

fn flag_string(f: async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match f {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(c) => c.to_string(),
    }
}

/// The decoded form of a raw name; panics unless the raw name is canonical modified UTF-7
/// (the only form Dovecot and the fake server send).
pub fn decoded(raw: &str) -> String {
    let name = MailboxName::from_raw(raw);
    assert_eq!(
        MailboxName::from_display(name.display()).raw(),
        raw,
        "{raw:?} is not canonical modified UTF-7"
    );
    name.display().to_string()
}

/// Path components of a raw name on `d` (prefix removed, modified UTF-7 decoded).
pub fn path_of(d: &Dovecot, raw: &str) -> Vec<String> {
    let name = decoded(raw);
    if name.eq_ignore_ascii_case("INBOX") {
        return vec!["INBOX".to_string()];
    }
    let rel = name.strip_prefix(d.prefix()).unwrap_or(&name);
    rel.split(d.separator()).map(str::to_string).collect()
}

/// Every selectable folder of `login` on `d`, fetched over IMAP with `BODY.PEEK[]` — by
/// async-imap directly on the plain port, not by the engine under test.
pub async fn snapshot(d: &Dovecot, login: &str) -> Snapshot {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", d.imap_port()))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().expect("greeting");
    let password = d.password(login).expect("user added");
    let mut s = client
        .login(login, &password)
        .await
        .map_err(|e| e.0)
        .unwrap();
    let names: Vec<_> = s
        .list(Some(""), Some("*"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut out = Snapshot::new();
    for n in &names {
        let selectable = !n.attributes().iter().any(|a| match a {
            async_imap::types::NameAttribute::NoSelect => true,
            async_imap::types::NameAttribute::Extension(e) => {
                e.eq_ignore_ascii_case("\\NonExistent")
            }
            _ => false,
        });
        if !selectable {
            continue;
        }
        let name = unescape(n.name());
        let mbox = s.examine(&name).await.unwrap();
        let mut msgs = Vec::new();
        if mbox.exists > 0 {
            let fetches: Vec<_> = s
                .uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            for m in fetches {
                let body = m.body().expect("body");
                msgs.push(Msg {
                    sha256: sha256_hex(body),
                    flags: sorted_flags(m.flags().map(flag_string)),
                    utc: m.internal_date().expect("internaldate").timestamp(),
                    size: body.len(),
                });
            }
        }
        msgs.sort();
        out.insert(path_of(d, &name), msgs);
    }
    s.logout().await.unwrap();
    out
}

/// imap-proto keeps quoted-string escapes in names.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// Subscribed folders (paths) of `login` on `d`.
pub fn subscriptions(d: &Dovecot, login: &str) -> Vec<Vec<String>> {
    let mut c = Client::new(d, login);
    let lines = c.command("LSUB \"\" \"*\"");
    c.logout();
    let mut out: Vec<Vec<String>> = lines
        .iter()
        .filter(|l| l.starts_with("* LSUB"))
        .filter_map(|l| {
            // `* LSUB () "." "name with spaces"` or `* LSUB () "." atom`
            let name = if l.ends_with('"') {
                let parts: Vec<&str> = l.split('"').collect();
                parts[parts.len() - 2]
            } else {
                l.rsplit_once(' ')?.1
            };
            Some(path_of(d, name))
        })
        .collect();
    out.sort();
    out
}

/// Compares two snapshots folder by folder with readable differences.
pub fn assert_same(actual: &Snapshot, expected: &Snapshot, what: &str) {
    let a_keys: Vec<_> = actual.keys().collect();
    let e_keys: Vec<_> = expected.keys().collect();
    assert_eq!(a_keys, e_keys, "{what}: folder sets differ");
    for (k, e) in expected {
        let a = &actual[k];
        if a != e {
            let missing: Vec<_> = e.iter().filter(|m| !a.contains(m)).collect();
            let extra: Vec<_> = a.iter().filter(|m| !e.contains(m)).collect();
            panic!(
                "{what}: folder {k:?} differs ({} vs {} messages)\n missing: {missing:#?}\n extra: {extra:#?}",
                a.len(),
                e.len()
            );
        }
    }
}

/// Collects progress events.
#[derive(Default)]
pub struct Events(pub Mutex<Vec<Progress>>);

impl ProgressSink for Events {
    fn event(&self, progress: Progress) {
        self.0.lock().unwrap().push(progress);
    }
}

impl Events {
    pub fn take(&self) -> Vec<Progress> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// Σ (UIDNEXT − 1) over the selectable folders of `login` on `d`: every APPEND raises it by
/// one, so the difference between two calls counts the APPENDs in between.
pub async fn uidnext_total(d: &Dovecot, login: &str) -> u64 {
    let (ep, creds) = account(d, login);
    let mut s = mailcopy::connect(&ep, &creds, &connect_options(&[d]))
        .await
        .unwrap();
    let folders = s.list_folders().await.unwrap();
    let mut total = 0u64;
    for f in folders.iter().filter(|f| f.is_selectable()) {
        let st = s.status(f.name.raw()).await.unwrap();
        total += u64::from(st.uid_next.expect("UIDNEXT").0) - 1;
    }
    s.logout().await.unwrap();
    total
}

/// A snapshot without the messages flagged `\Deleted` (the copy skips them).
pub fn without_deleted(s: &Snapshot) -> Snapshot {
    s.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.iter()
                    .filter(|m| !m.flags.iter().any(|f| f == "\\Deleted"))
                    .cloned()
                    .collect(),
            )
        })
        .collect()
}

/// Counts `Progress::Message` events whose result is `Copied`.
pub fn copied_events(events: &[Progress]) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Progress::Message {
                    result: mailcopy::copy::MessageResult::Copied { .. },
                    ..
                }
            )
        })
        .count()
}
