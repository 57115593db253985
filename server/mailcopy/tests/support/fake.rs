//! A small in-process IMAP server (plain TCP on 127.0.0.1) for behaviour Dovecot does not
//! produce on demand: PERMANENTFLAGS without `\*`, FETCH answers async-imap cannot parse, a
//! connection lost after an APPEND was stored, a login refused on reconnect.
//!
//! It keeps its mailboxes in memory and speaks just enough IMAP4rev1 for the copy engine
//! (CAPABILITY, LOGIN, LIST, LSUB, NAMESPACE, CREATE, SUBSCRIBE, SELECT, EXAMINE, STATUS,
//! UID FETCH, UID STORE, APPEND, NOOP, LOGOUT); every command line is logged.
//!
//! With `literal_plus` it offers LITERAL+ (the APPEND body follows the command without a
//! "+"), and `refuse_append` refuses APPENDs by content.
//!
//! It can also play a destination that stores messages altered (`rewrite`, as Microsoft
//! Exchange re-renders MIME) and one whose APPEND is stored but never answered
//! (`hang_after_append`: a process killed with an APPEND in flight).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMsg {
    pub uid: u32,
    pub flags: Vec<String>,
    pub date: String,
    pub body: Vec<u8>,
    /// Gmail's message id, sent as `X-GM-MSGID` when asked for (`gmail`).
    pub gm_msgid: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeMailbox {
    pub messages: Vec<FakeMsg>,
    pub uid_next: u32,
}

/// How a destination alters what it stores.
pub type Rewrite = fn(&[u8]) -> Vec<u8>;

#[derive(Debug, Default)]
pub struct FakeState {
    pub mailboxes: BTreeMap<String, FakeMailbox>,
    /// Sent in SELECT as `PERMANENTFLAGS (...)`. Keywords in APPEND that are not listed (when
    /// `\*` is absent) make the APPEND fail with `NO [CANNOT]`.
    pub permanent_flags: Vec<String>,
    /// UID → how many more times its body FETCH gets an unparsable answer.
    pub garble_fetch: BTreeMap<u32, u32>,
    /// APPEND numbers (1-based, over the server's life) after which the connection is closed
    /// *after* the message was stored, before the tagged OK.
    pub drop_after_append: Vec<u32>,
    pub appends: u32,
    /// Logins accepted; later ones get `NO [AUTHENTICATIONFAILED]`.
    pub max_logins: Option<u32>,
    pub logins: u32,
    pub log: Vec<String>,
    /// Applied to every APPENDed message before it is stored.
    pub rewrite: Option<Rewrite>,
    /// APPEND numbers (1-based) that are stored and then never answered: the connection
    /// just hangs.
    pub hang_after_append: Vec<u32>,
    /// Offers LITERAL+ (RFC 7888): an APPEND with `{n+}` gets no "+" and its body follows at
    /// once, so a client may send the next command before the answer.
    pub literal_plus: bool,
    /// An APPENDed body containing the first bytes is refused with `NO <second>`.
    pub refuse_append: Vec<(Vec<u8>, String)>,
    /// The OK of a stored APPEND is held back and sent after the answer to the next command
    /// when that command is already waiting (pipelined): answers out of order, matched by tag.
    pub swap_append_answers: bool,
    /// How many answers were sent out of order so.
    pub swapped: u32,
    /// The greeting's text after the capabilities (default `fake ready`), e.g. Exchange's
    /// `The Microsoft Exchange IMAP4 service is ready.`
    pub greeting: Option<String>,
    /// Faults by the number (1-based, over the server's life) of the `UID FETCH` that asks
    /// for bodies (`BODY.PEEK[]`), counted in `body_fetches` ...
    pub fetch_faults: BTreeMap<u32, Fault>,
    /// Body FETCHes answer `OK [THROTTLED] …` (Gmail's hint to slow down).
    pub throttle_hint: bool,
    pub body_fetches: u32,
    /// ... and of the APPEND received (its literal read, nothing stored yet), counted in
    /// `appends_received`.
    pub append_faults: BTreeMap<u32, Fault>,
    pub appends_received: u32,
    /// Sessions open at once at most: one more is greeted with `* BYE Too many simultaneous
    /// connections` and closed (counted in `refused_sessions`).
    pub max_sessions: Option<u32>,
    pub open_sessions: u32,
    /// The most sessions ever open at once.
    pub peak_sessions: u32,
    pub refused_sessions: u32,
    /// Sessions open when each stored APPEND arrived, in order.
    pub open_at_append: Vec<u32>,
    /// Plays Gmail as a destination: offers `X-GM-EXT-1`, and an APPEND of a message whose
    /// Message-ID the mailbox already holds stores nothing (answered OK with that message's
    /// UID), counted in `merged`.
    pub gmail: bool,
    pub merged: u32,
    /// LIST attributes by mailbox (e.g. `\All`), besides `\HasNoChildren`.
    pub attributes: BTreeMap<String, String>,
}

/// What the server does instead of answering one command (see `fetch_faults`).
#[derive(Debug, Clone)]
pub enum Fault {
    /// `<tag> NO <text>`; nothing done.
    Refuse(String),
    /// `* BYE <text>`, and the connection is closed.
    Bye(String),
    /// Nothing is sent any more; what the client sends is read until it closes.
    Stall,
}

impl FakeState {
    pub fn with_inbox() -> FakeState {
        let mut s = FakeState {
            permanent_flags: [
                "\\Seen",
                "\\Answered",
                "\\Flagged",
                "\\Deleted",
                "\\Draft",
                "\\*",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            ..FakeState::default()
        };
        s.mailboxes.insert(
            "INBOX".into(),
            FakeMailbox {
                messages: Vec::new(),
                uid_next: 1,
            },
        );
        s
    }

    pub fn add(&mut self, mailbox: &str, flags: &[&str], date: &str, body: &[u8]) {
        self.add_gmail(mailbox, flags, date, body, None);
    }

    /// [`FakeState::add`] with Gmail's message id (one message listed in several labels has
    /// one id).
    pub fn add_gmail(
        &mut self,
        mailbox: &str,
        flags: &[&str],
        date: &str,
        body: &[u8],
        gm_msgid: Option<u64>,
    ) {
        let mb = self
            .mailboxes
            .entry(mailbox.to_string())
            .or_insert(FakeMailbox {
                messages: Vec::new(),
                uid_next: 1,
            });
        let uid = mb.uid_next;
        mb.uid_next += 1;
        mb.messages.push(FakeMsg {
            uid,
            flags: flags.iter().map(|s| s.to_string()).collect(),
            date: date.to_string(),
            body: body.to_vec(),
            gm_msgid,
        });
    }
}

pub type Shared = Arc<Mutex<FakeState>>;

/// Starts the server; returns its port. It runs until the test's runtime ends.
pub async fn start(state: Shared) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let refused = {
                    let mut st = state.lock().unwrap();
                    let full = st.max_sessions.is_some_and(|m| st.open_sessions >= m);
                    if full {
                        st.refused_sessions += 1;
                    } else {
                        st.open_sessions += 1;
                        st.peak_sessions = st.peak_sessions.max(st.open_sessions);
                    }
                    full
                };
                if refused {
                    // Dovecot's and others' answer to one connection too many.
                    let mut sock = sock;
                    let _ = sock
                        .write_all(b"* BYE Too many simultaneous connections from your address\r\n")
                        .await;
                    return;
                }
                let _ = session(sock, state.clone()).await;
                state.lock().unwrap().open_sessions -= 1;
            });
        }
    });
    port
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Atom(String),
    Str(String),
    List(Vec<Tok>),
    Literal(usize),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Atom(s) | Tok::Str(s) => s.clone(),
            Tok::List(v) => v.iter().map(Tok::text).collect::<Vec<_>>().join(" "),
            Tok::Literal(n) => format!("{{{n}}}"),
        }
    }
}

fn tokens(line: &str) -> Vec<Tok> {
    fn parse(
        chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
        until: Option<char>,
    ) -> Vec<Tok> {
        let mut out = Vec::new();
        while let Some(&c) = chars.peek() {
            match c {
                ' ' => {
                    chars.next();
                }
                '(' => {
                    chars.next();
                    out.push(Tok::List(parse(chars, Some(')'))));
                }
                ')' if until == Some(')') => {
                    chars.next();
                    return out;
                }
                '"' => {
                    chars.next();
                    let mut s = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => s.extend(chars.next()),
                            '"' => break,
                            c => s.push(c),
                        }
                    }
                    out.push(Tok::Str(s));
                }
                '{' => {
                    chars.next();
                    let n: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    out.push(Tok::Literal(n.trim_end_matches('+').parse().unwrap_or(0)));
                }
                _ => {
                    let mut s = String::new();
                    let mut depth = 0;
                    while let Some(&c) = chars.peek() {
                        if c == '[' {
                            depth += 1;
                        } else if c == ']' {
                            depth -= 1;
                        } else if depth == 0 && (c == ' ' || c == ')' || c == '(') {
                            break;
                        }
                        s.push(c);
                        chars.next();
                    }
                    out.push(Tok::Atom(s));
                }
            }
        }
        out
    }
    parse(&mut line.chars().peekable(), None)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn session(sock: TcpStream, state: Shared) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let caps = {
        let st = state.lock().unwrap();
        let mut caps = "IMAP4rev1 UIDPLUS NAMESPACE".to_string();
        if st.literal_plus {
            caps.push_str(" LITERAL+");
        }
        if st.gmail {
            caps.push_str(" X-GM-EXT-1");
        }
        caps
    };
    let greeting = state
        .lock()
        .unwrap()
        .greeting
        .clone()
        .unwrap_or_else(|| "fake ready".to_string());
    w.write_all(format!("* OK [CAPABILITY {caps}] {greeting}\r\n").as_bytes())
        .await?;
    let mut selected: Option<String> = None;
    // An APPEND's OK held back (`swap_append_answers`), sent after the next answer.
    let mut held: Vec<u8> = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        state.lock().unwrap().log.push(line.clone());
        let toks = tokens(&line);
        let tag = toks.first().map(Tok::text).unwrap_or_default();
        let cmd = toks
            .get(1)
            .map(Tok::text)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let args = &toks[2.min(toks.len())..];
        let mut out: Vec<u8> = Vec::new();
        let ok = |out: &mut Vec<u8>, text: &str| {
            out.extend_from_slice(format!("{tag} OK {text}\r\n").as_bytes())
        };
        match cmd.as_str() {
            "CAPABILITY" => {
                out.extend_from_slice(format!("* CAPABILITY {caps}\r\n").as_bytes());
                ok(&mut out, "done");
            }
            "LOGIN" => {
                let mut st = state.lock().unwrap();
                st.logins += 1;
                if st.max_logins.is_some_and(|m| st.logins > m) {
                    out.extend_from_slice(
                        format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                            .as_bytes(),
                    );
                } else {
                    ok(&mut out, "logged in");
                }
            }
            "NAMESPACE" => {
                out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                ok(&mut out, "done");
            }
            "LIST" => {
                let st = state.lock().unwrap();
                for name in st.mailboxes.keys() {
                    let extra = st
                        .attributes
                        .get(name)
                        .map(|a| format!(" {a}"))
                        .unwrap_or_default();
                    out.extend_from_slice(
                        format!("* LIST (\\HasNoChildren{extra}) \"/\" {}\r\n", quote(name))
                            .as_bytes(),
                    );
                }
                ok(&mut out, "done");
            }
            "LSUB" | "SUBSCRIBE" | "NOOP" => ok(&mut out, "done"),
            "CREATE" => {
                let name = args[0].text();
                state
                    .lock()
                    .unwrap()
                    .mailboxes
                    .entry(name)
                    .or_insert(FakeMailbox {
                        messages: Vec::new(),
                        uid_next: 1,
                    });
                ok(&mut out, "created");
            }
            "SELECT" | "EXAMINE" => {
                let name = args[0].text();
                let st = state.lock().unwrap();
                match st.mailboxes.get(&name) {
                    Some(mb) => {
                        let pf = if cmd == "EXAMINE" {
                            String::new()
                        } else {
                            st.permanent_flags.join(" ")
                        };
                        out.extend_from_slice(
                            format!(
                                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
                                 * OK [PERMANENTFLAGS ({pf})] ok\r\n* {} EXISTS\r\n* 0 RECENT\r\n\
                                 * OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT {}] ok\r\n",
                                mb.messages.len(),
                                mb.uid_next
                            )
                            .as_bytes(),
                        );
                        selected = Some(name);
                        ok(&mut out, "[READ-WRITE] selected");
                    }
                    None => out.extend_from_slice(
                        format!("{tag} NO [NONEXISTENT] Mailbox doesn't exist\r\n").as_bytes(),
                    ),
                }
            }
            "STATUS" => {
                let name = args[0].text();
                let st = state.lock().unwrap();
                let mb = st.mailboxes.get(&name).cloned().unwrap_or_default();
                out.extend_from_slice(
                    format!(
                        "* STATUS {} (MESSAGES {} UIDNEXT {} UIDVALIDITY 42)\r\n",
                        quote(&name),
                        mb.messages.len(),
                        mb.uid_next
                    )
                    .as_bytes(),
                );
                ok(&mut out, "done");
            }
            "UID" => {
                let sub = args[0].text().to_ascii_uppercase();
                let set = args[1].text();
                let body_fetch =
                    sub == "FETCH" && line.to_ascii_uppercase().contains("BODY.PEEK[]");
                let fault = body_fetch
                    .then(|| {
                        let mut st = state.lock().unwrap();
                        st.body_fetches += 1;
                        st.fetch_faults.get(&st.body_fetches).cloned()
                    })
                    .flatten();
                if let Some(fault) = fault {
                    w.write_all(&fault_answer(&tag, &fault)).await?;
                    if matches!(fault, Fault::Refuse(_)) {
                        continue;
                    }
                    return until_closed(&mut r).await;
                }
                let mut st = state.lock().unwrap();
                let name = selected.clone().unwrap_or_default();
                let msgs = st
                    .mailboxes
                    .get(&name)
                    .map(|m| m.messages.clone())
                    .unwrap_or_default();
                let max_uid = msgs.iter().map(|m| m.uid).max().unwrap_or(0);
                let wanted: Vec<(usize, FakeMsg)> = msgs
                    .into_iter()
                    .enumerate()
                    .filter(|(_, m)| in_uid_set(&set, m.uid, max_uid))
                    .collect();
                if sub == "STORE" {
                    let op = args
                        .get(2)
                        .map(Tok::text)
                        .unwrap_or_default()
                        .to_ascii_uppercase();
                    let flags: Vec<String> = match args.get(3) {
                        Some(Tok::List(l)) => l.iter().map(Tok::text).collect(),
                        Some(t) => vec![t.text()],
                        None => Vec::new(),
                    };
                    if let Some(mb) = st.mailboxes.get_mut(&name) {
                        for m in mb
                            .messages
                            .iter_mut()
                            .filter(|m| in_uid_set(&set, m.uid, max_uid))
                        {
                            let has = |m: &FakeMsg, f: &str| {
                                m.flags.iter().any(|x| x.eq_ignore_ascii_case(f))
                            };
                            if op.starts_with('+') {
                                for f in &flags {
                                    if !has(m, f) {
                                        m.flags.push(f.clone());
                                    }
                                }
                            } else if op.starts_with('-') {
                                m.flags
                                    .retain(|x| !flags.iter().any(|f| f.eq_ignore_ascii_case(x)));
                            }
                        }
                    }
                    ok(&mut out, "stored");
                } else {
                    let items = args[2..]
                        .iter()
                        .map(Tok::text)
                        .collect::<Vec<_>>()
                        .join(" ")
                        .to_ascii_uppercase();
                    for (i, m) in wanted {
                        let seq = i + 1;
                        if items.contains("BODY.PEEK[]") {
                            let garble = st.garble_fetch.get_mut(&m.uid);
                            if let Some(n) = garble.filter(|n| **n > 0) {
                                *n -= 1;
                                // Not IMAP: async-imap cannot parse this, and its session is
                                // unusable afterwards.
                                out.extend_from_slice(
                                    format!("* {seq} FETCH UID {} ((garbage\r\n", m.uid).as_bytes(),
                                );
                                continue;
                            }
                        }
                        let mut line = format!("* {seq} FETCH (UID {}", m.uid).into_bytes();
                        if items.contains("FLAGS") {
                            line.extend_from_slice(
                                format!(" FLAGS ({})", m.flags.join(" ")).as_bytes(),
                            );
                        }
                        if items.contains("INTERNALDATE") {
                            line.extend_from_slice(
                                format!(" INTERNALDATE \"{}\"", m.date).as_bytes(),
                            );
                        }
                        if items.contains("RFC822.SIZE") {
                            line.extend_from_slice(
                                format!(" RFC822.SIZE {}", m.body.len()).as_bytes(),
                            );
                        }
                        if let (true, Some(id)) = (items.contains("X-GM-MSGID"), m.gm_msgid) {
                            line.extend_from_slice(format!(" X-GM-MSGID {id}").as_bytes());
                        }
                        if items.contains("BODY.PEEK[]") {
                            line.extend_from_slice(
                                format!(" BODY[] {{{}}}\r\n", m.body.len()).as_bytes(),
                            );
                            line.extend_from_slice(&m.body);
                        } else if let Some(fields) = header_fields_request(&items) {
                            let head = header_fields(&m.body, &fields);
                            line.extend_from_slice(
                                format!(
                                    " BODY[HEADER.FIELDS ({})] {{{}}}\r\n",
                                    fields.join(" "),
                                    head.len()
                                )
                                .as_bytes(),
                            );
                            line.extend_from_slice(&head);
                        }
                        line.extend_from_slice(b")\r\n");
                        out.extend_from_slice(&line);
                    }
                    // Gmail's slow-down hint on a successful answer, when asked for.
                    let hint = if body_fetch && st.throttle_hint {
                        "[THROTTLED] fetched"
                    } else {
                        "fetched"
                    };
                    ok(&mut out, hint);
                }
            }
            "APPEND" => {
                let name = args[0].text();
                let flags: Vec<String> = match args.get(1) {
                    Some(Tok::List(l)) => l.iter().map(Tok::text).collect(),
                    _ => Vec::new(),
                };
                let date = match args.get(2) {
                    Some(Tok::Str(s)) => s.clone(),
                    _ => String::new(),
                };
                let Some(Tok::Literal(n)) = args.last() else {
                    out.extend_from_slice(format!("{tag} BAD no literal\r\n").as_bytes());
                    w.write_all(&out).await?;
                    continue;
                };
                if !line.ends_with("+}") {
                    w.write_all(b"+ go ahead\r\n").await?;
                }
                let mut body = vec![0u8; *n];
                r.read_exact(&mut body).await?;
                let mut rest = String::new();
                r.read_line(&mut rest).await?;
                let fault = {
                    let mut st = state.lock().unwrap();
                    st.appends_received += 1;
                    let n = st.appends_received;
                    st.append_faults.get(&n).cloned()
                };
                if let Some(fault) = fault {
                    w.write_all(&fault_answer(&tag, &fault)).await?;
                    if matches!(fault, Fault::Refuse(_)) {
                        continue;
                    }
                    return until_closed(&mut r).await;
                }
                let hang = {
                    let mut st = state.lock().unwrap();
                    let body = match st.rewrite {
                        Some(f) => f(&body),
                        None => body,
                    };
                    let allow_new = st.permanent_flags.iter().any(|f| f == "\\*");
                    let refused = flags.iter().find(|f| {
                        !f.starts_with('\\') && !allow_new && !st.permanent_flags.contains(f)
                    });
                    let policy = st
                        .refuse_append
                        .iter()
                        .find(|(marker, _)| body.windows(marker.len()).any(|w| w == marker))
                        .map(|(_, text)| text.clone());
                    if let Some(text) = policy {
                        out.extend_from_slice(format!("{tag} NO {text}\r\n").as_bytes());
                        false
                    } else if let Some(k) = refused {
                        out.extend_from_slice(
                            format!("{tag} NO [CANNOT] keyword {k} not allowed\r\n").as_bytes(),
                        );
                        false
                    } else if let Some(uid) = st
                        .gmail
                        .then(|| merged_into(st.mailboxes.get(&name), &body))
                        .flatten()
                    {
                        // Gmail: one message per Message-ID; nothing stored.
                        st.merged += 1;
                        ok(&mut out, &format!("[APPENDUID 42 {uid}] merged"));
                        false
                    } else {
                        st.appends += 1;
                        let number = st.appends;
                        let open = st.open_sessions;
                        st.open_at_append.push(open);
                        let mb = st.mailboxes.entry(name).or_default();
                        let uid = mb.uid_next.max(1);
                        mb.uid_next = uid + 1;
                        mb.messages.push(FakeMsg {
                            uid,
                            flags,
                            date,
                            body,
                            gm_msgid: None,
                        });
                        if st.drop_after_append.contains(&number) {
                            // Stored, but the OK never comes: the connection just ends.
                            return Ok(());
                        }
                        ok(&mut out, &format!("[APPENDUID 42 {uid}] appended"));
                        if st.swap_append_answers && held.is_empty() && !r.buffer().is_empty() {
                            st.swapped += 1;
                            held = std::mem::take(&mut out);
                        }
                        st.hang_after_append.contains(&number)
                    }
                };
                if hang {
                    // Stored, and then nothing at all.
                    std::future::pending::<()>().await;
                }
            }
            "LOGOUT" => {
                out.extend_from_slice(b"* BYE bye\r\n");
                ok(&mut out, "done");
                w.write_all(&out).await?;
                return Ok(());
            }
            _ => out.extend_from_slice(format!("{tag} BAD unknown command\r\n").as_bytes()),
        }
        if !out.is_empty() && !held.is_empty() {
            out.append(&mut held);
        }
        w.write_all(&out).await?;
    }
}

/// The bytes a fault sends (nothing for a stall).
fn fault_answer(tag: &str, fault: &Fault) -> Vec<u8> {
    match fault {
        Fault::Refuse(text) => format!("{tag} NO {text}\r\n").into_bytes(),
        Fault::Bye(text) => format!("* BYE {text}\r\n").into_bytes(),
        Fault::Stall => Vec::new(),
    }
}

/// After a BYE or a stall: reads (and drops) what the client sends until it closes.
async fn until_closed(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<()> {
    let mut sink = [0u8; 4096];
    while r.read(&mut sink).await? > 0 {}
    Ok(())
}

/// The server's mailboxes as a snapshot (names are `/`-separated, no prefix).
pub fn snapshot(state: &Mutex<FakeState>) -> crate::support::Snapshot {
    use crate::support::{decoded, gen::parse_imap_date, sha256_hex, Msg};
    let st = state.lock().unwrap();
    st.mailboxes
        .iter()
        .map(|(name, mb)| {
            let path: Vec<String> = if name == "INBOX" {
                vec!["INBOX".into()]
            } else {
                decoded(name).split('/').map(str::to_string).collect()
            };
            let mut msgs: Vec<Msg> = mb
                .messages
                .iter()
                .map(|m| {
                    let mut flags = m.flags.clone();
                    flags.sort();
                    Msg {
                        sha256: sha256_hex(&m.body),
                        flags,
                        utc: parse_imap_date(&m.date),
                        size: m.body.len(),
                    }
                })
                .collect();
            msgs.sort();
            (path, msgs)
        })
        .collect()
}

/// Whether `uid` is in an IMAP UID set (`1:*`, `3`, `2:5,9`, `7:*`); `*` is the highest UID.
fn in_uid_set(set: &str, uid: u32, max_uid: u32) -> bool {
    let num = |x: &str| -> u32 {
        if x == "*" {
            max_uid
        } else {
            x.parse().unwrap_or(0)
        }
    };
    set.split(',').any(|part| match part.split_once(':') {
        Some((a, b)) => {
            let (a, b) = (num(a), num(b));
            (a.min(b)..=a.max(b)).contains(&uid)
        }
        None => num(part) == uid,
    })
}

/// The field names of `BODY.PEEK[HEADER.FIELDS (A B)]` in the (upper-cased) items.
fn header_fields_request(items: &str) -> Option<Vec<String>> {
    let start = items.find("HEADER.FIELDS (")? + "HEADER.FIELDS (".len();
    let end = start + items[start..].find(')')?;
    Some(
        items[start..end]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// The header lines (continuations included) of `raw` whose names are in `fields`, then the
/// empty line, as servers answer `BODY[HEADER.FIELDS (...)]`.
pub fn header_fields(raw: &[u8], fields: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.is_empty() {
            break;
        }
        if bare[0] == b' ' || bare[0] == b'\t' {
            if keep {
                out.extend_from_slice(line);
            }
            continue;
        }
        let name = bare.split(|&b| b == b':').next().unwrap_or_default();
        keep = fields
            .iter()
            .any(|f| f.as_bytes().eq_ignore_ascii_case(name.trim_ascii()));
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The UID of the message of `mailbox` with the Message-ID of `body`, if it has one.
fn merged_into(mailbox: Option<&FakeMailbox>, body: &[u8]) -> Option<u32> {
    let id = message_id(body)?;
    mailbox?
        .messages
        .iter()
        .find(|m| message_id(&m.body).as_deref() == Some(id.as_slice()))
        .map(|m| m.uid)
}

/// The Message-ID field's value, trimmed.
fn message_id(raw: &[u8]) -> Option<Vec<u8>> {
    let field = header_fields(raw, &["MESSAGE-ID".to_string()]);
    let text = String::from_utf8_lossy(&field);
    let (_, value) = text.split_once(':')?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.as_bytes().to_vec())
}
