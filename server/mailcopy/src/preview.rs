//! Preflight: what a copy between two accounts would do, read without changing anything.
//!
//! [`preview`] logs in to both sides at once (one connection each), reads LIST, NAMESPACE and
//! LSUB, plans the folders with [`plan_folders`] exactly as the executor would, then asks the
//! source `STATUS (MESSAGES)` of every selectable folder (`SIZE` too when the server
//! advertises `STATUS=SIZE`, RFC 8438). From the destination it takes `APPENDLIMIT=n` from the
//! capabilities (RFC 7889; then it also counts, per source folder, the messages larger than
//! that with `SEARCH LARGER`) and, when `QUOTA` is advertised, the storage quota of INBOX's
//! quota root (`GETQUOTAROOT INBOX`, RFC 2087/9208).
//!
//! Nothing is created, selected read-write or flagged: folders are only `EXAMINE`d (and only
//! when an append limit is known). The whole preview runs under one time limit.
//!
//! Answers that async-imap's parser does not know (`STATUS` with `SIZE`, `QUOTA`) are taken out
//! of the stream before it sees them (the stream's capture, as for NAMESPACE) and parsed here
//! by small pure functions.

use std::collections::BTreeMap;
use std::time::Duration;

use async_imap::imap_proto::{MailboxDatum, Response, Status};
use serde::{Deserialize, Serialize};

use crate::connect::{connect, ConnectOptions, Credentials, Endpoint};
use crate::error::{imap_error, io_error, truncate, ConnectError};
use crate::plan::{plan_folders, FolderPlan, PlanOptions, Side};
use crate::session::ImapSession;

/// What a copy would do: the folder plan and the numbers read from both servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The plan the executor would carry out.
    pub plan: FolderPlan,
    /// One row per planned folder, in the plan's order.
    pub folders: Vec<PreviewFolder>,
    /// Source folders that are not copied: (display name, English reason).
    pub skipped: Vec<(String, String)>,
    /// Messages in the selectable source folders.
    pub messages: u64,
    /// Their size in octets, when the source reported it for every folder (`STATUS=SIZE`).
    pub bytes: Option<u64>,
    /// The largest message the destination accepts (`APPENDLIMIT=n`), in octets.
    pub append_limit: Option<u64>,
    /// Source messages larger than [`Preview::append_limit`] (when the limit is known and
    /// every folder could be searched).
    pub too_large: Option<u64>,
    /// The destination's storage quota (INBOX's quota root), when it reports one.
    pub quota: Option<Quota>,
}

/// One source folder and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewFolder {
    /// Raw source name (modified UTF-7), the key into [`Preview::plan`].
    pub source: String,
    pub source_display: String,
    pub destination_display: String,
    /// The destination folder does not exist yet: the copy creates it (itself, or as the
    /// parent of a folder it creates, for a `\Noselect` source folder with children).
    pub will_create: bool,
    /// The source folder holds messages (not `\Noselect`).
    pub selectable: bool,
    /// False when the source refused to count this selectable folder (then `messages` is 0).
    pub counted: bool,
    /// English notes: the planner's (collision, escaped separator, special use…) and this
    /// module's (STATUS refused).
    pub notes: Vec<String>,
    pub messages: u64,
    /// Octets, when the source reported `SIZE`.
    pub bytes: Option<u64>,
    /// Messages larger than the destination's append limit, when known.
    pub too_large: Option<u64>,
}

/// A storage quota in KiB (RFC 2087 units of 1024 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub used_kib: u64,
    pub limit_kib: u64,
}

impl Quota {
    /// KiB still free (0 when over quota).
    pub fn free_kib(&self) -> u64 {
        self.limit_kib.saturating_sub(self.used_kib)
    }
}

/// What the source said about one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Counts {
    messages: u64,
    bytes: Option<u64>,
    too_large: Option<u64>,
    /// Why a command about this folder was refused (English), if one was.
    refused: Option<String>,
}

/// Reads both accounts and plans the copy; see the module documentation. Fails with the first
/// connection error, or [`ConnectError::TimedOut`] when `limit` is reached.
pub async fn preview(
    source: (&Endpoint, &Credentials),
    destination: (&Endpoint, &Credentials),
    opts: &ConnectOptions,
    plan_options: &PlanOptions,
    limit: Duration,
) -> Result<Preview, ConnectError> {
    let work = async {
        let ((mut src, src_side), (dst, dst_side, append_limit, quota)) = futures::try_join!(
            read_source(source.0, source.1, opts),
            read_destination(destination.0, destination.1, opts),
        )?;
        let plan = plan_folders(&src_side, &dst_side, plan_options);
        let dst_delimiter = dst_side.effective_delimiter();
        let with_size = src.has_capability("STATUS=SIZE");
        // The destination is not needed any more: log out while the source counts.
        let (counts, _) = tokio::join!(
            count_folders(&mut src, &plan, with_size, append_limit),
            quiet_logout(dst)
        );
        let counts = counts?;
        quiet_logout(src).await;
        Ok(assemble(plan, dst_delimiter, &counts, append_limit, quota))
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::TimedOut { stage: "preview" }),
    }
}

async fn quiet_logout(session: ImapSession) {
    if let Err(e) = session.logout().await {
        tracing::debug!(error = %e, "logout after preview failed");
    }
}

async fn read_side(session: &mut ImapSession) -> Result<Side, ConnectError> {
    Ok(Side {
        folders: session.list_folders().await?,
        namespace: session.namespace().await?,
        subscribed: session.list_subscribed().await?,
        delimiter: None,
    })
}

async fn read_source(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<(ImapSession, Side), ConnectError> {
    let mut session = connect(endpoint, creds, opts).await?;
    let side = read_side(&mut session).await?;
    Ok((session, side))
}

type DestinationRead = (ImapSession, Side, Option<u64>, Option<Quota>);

async fn read_destination(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
) -> Result<DestinationRead, ConnectError> {
    let mut session = connect(endpoint, creds, opts).await?;
    let side = read_side(&mut session).await?;
    let append_limit = append_limit(session.capabilities());
    let quota = if session.has_capability("QUOTA") {
        inbox_quota(&mut session).await?
    } else {
        None
    };
    Ok((session, side, append_limit, quota))
}

/// STATUS (and, with an append limit, EXAMINE + SEARCH LARGER) of every selectable source
/// folder, keyed by raw source name.
async fn count_folders(
    session: &mut ImapSession,
    plan: &FolderPlan,
    with_size: bool,
    append_limit: Option<u64>,
) -> Result<BTreeMap<String, Counts>, ConnectError> {
    let mut out = BTreeMap::new();
    for m in plan.folders.iter().filter(|m| m.selectable) {
        let mut counts = Counts::default();
        match folder_status(session, &m.source, with_size).await? {
            Ok((messages, bytes)) => {
                counts.messages = messages;
                counts.bytes = bytes;
            }
            Err(text) => counts.refused = Some(text),
        }
        if let Some(limit) = append_limit.filter(|_| counts.refused.is_none()) {
            if counts.messages == 0 {
                counts.too_large = Some(0);
            } else {
                match larger_than(session, &m.source, limit).await? {
                    Ok(n) => counts.too_large = Some(n),
                    Err(text) => counts.refused = Some(text),
                }
            }
        }
        out.insert(m.source.clone(), counts);
    }
    Ok(out)
}

/// The rows and totals from the plan and the counts (pure). `dst_delimiter`: the
/// destination's hierarchy separator, to see which names exist as parents of created folders.
fn assemble(
    plan: FolderPlan,
    dst_delimiter: Option<char>,
    counts: &BTreeMap<String, Counts>,
    append_limit: Option<u64>,
    quota: Option<Quota>,
) -> Preview {
    let mut messages = 0u64;
    let mut bytes = Some(0u64);
    let mut too_large = append_limit.map(|_| 0u64);
    let mut folders = Vec::with_capacity(plan.folders.len());
    for m in &plan.folders {
        let mut notes: Vec<String> = m.notes.iter().map(ToString::to_string).collect();
        let c = counts.get(&m.source).cloned().unwrap_or_default();
        if m.selectable {
            messages += c.messages;
            bytes = bytes.zip(c.bytes).map(|(a, b)| a + b);
            too_large = too_large.zip(c.too_large).map(|(a, b)| a + b);
        } else {
            notes.push("holds no messages (\\Noselect)".to_string());
        }
        if let Some(text) = &c.refused {
            notes.push(format!("not counted: {text}"));
        }
        folders.push(PreviewFolder {
            source: m.source.clone(),
            source_display: m.source_display.clone(),
            destination_display: m.destination_display.clone(),
            will_create: !m.exists_at_destination
                && (m.create || has_created_child(&plan, &m.destination, dst_delimiter)),
            selectable: m.selectable,
            counted: c.refused.is_none(),
            notes,
            messages: c.messages,
            bytes: if m.selectable { c.bytes } else { Some(0) },
            too_large: if m.selectable {
                c.too_large
            } else {
                append_limit.map(|_| 0)
            },
        });
    }
    let skipped = plan
        .skipped
        .iter()
        .map(|s| (s.source_display.clone(), s.reason.to_string()))
        .collect();
    Preview {
        plan,
        folders,
        skipped,
        messages,
        bytes,
        append_limit,
        too_large,
        quota,
    }
}

/// Whether the plan creates a folder below `parent` (raw names): then CREATE makes `parent` too.
fn has_created_child(plan: &FolderPlan, parent: &str, delimiter: Option<char>) -> bool {
    let Some(d) = delimiter else {
        return false;
    };
    let prefix = format!("{parent}{d}");
    plan.to_create().any(|c| c.destination.starts_with(&prefix))
}

// ---------------------------------------------------------------------------------------------
// Commands

/// A command's end: OK, or refused (NO/BAD) with the server's text.
type Answer = Result<(), String>;

/// Runs one command, capturing the untagged `* <capture> ...` responses (raw) and handing the
/// others to `on_response`. A refusal is an `Ok(Err(text))`; a broken session an `Err`.
async fn run(
    session: &mut ImapSession,
    command: &'static str,
    line: &str,
    capture: Option<&str>,
    on_response: impl FnMut(&Response<'_>),
) -> Result<(Answer, Vec<Vec<u8>>), ConnectError> {
    if let Some(keyword) = capture {
        session.inner_mut().get_mut().begin_capture(keyword);
    }
    let result = run_until_done(session, command, line, on_response).await;
    let captured = match capture {
        Some(_) => session.inner_mut().get_mut().end_capture(),
        None => Vec::new(),
    };
    result.map(|answer| (answer, captured))
}

async fn run_until_done(
    session: &mut ImapSession,
    command: &'static str,
    line: &str,
    mut on_response: impl FnMut(&Response<'_>),
) -> Result<Answer, ConnectError> {
    let id = session
        .inner_mut()
        .run_command(line)
        .await
        .map_err(|e| imap_error(command, e))?;
    loop {
        let resp = match session.inner_mut().read_response().await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(ConnectError::ClosedByServer { stage: command }),
            Err(e) => return Err(io_error(command, &e)),
        };
        match resp.parsed() {
            Response::Done {
                tag,
                status,
                outcome,
            } if *tag == id => {
                return Ok(match status {
                    Status::Ok => Ok(()),
                    _ => Err(truncate(
                        outcome
                            .information
                            .as_deref()
                            .unwrap_or("(no text)")
                            .to_string(),
                    )),
                });
            }
            Response::Data {
                status: Status::Bye,
                outcome,
            } => {
                return Err(ConnectError::Rejected {
                    server_text: format!(
                        "it ended the session during {command} (BYE {})",
                        outcome.information.as_deref().unwrap_or_default()
                    ),
                });
            }
            other => on_response(other),
        }
    }
}

/// `STATUS folder (MESSAGES [SIZE])`: `Ok(Err(text))` when the server refused it.
async fn folder_status(
    session: &mut ImapSession,
    folder: &str,
    with_size: bool,
) -> Result<Result<(u64, Option<u64>), String>, ConnectError> {
    let items = if with_size {
        "MESSAGES SIZE"
    } else {
        "MESSAGES"
    };
    let line = format!("STATUS {} ({items})", quote(folder)?);
    let (answer, captured) = run(session, "STATUS", &line, Some("STATUS"), |_| {}).await?;
    if let Err(text) = answer {
        return Ok(Err(text));
    }
    let parsed = captured
        .iter()
        .map(|raw| parse_status(raw))
        .find(|s| s.0.is_some());
    match parsed {
        Some((Some(messages), size)) => Ok(Ok((messages, size))),
        _ => Err(ConnectError::Protocol {
            detail: truncate(format!(
                "no STATUS answer for {folder:?}: {:?}",
                captured
                    .iter()
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .collect::<Vec<_>>()
            )),
        }),
    }
}

/// `EXAMINE folder` then `SEARCH LARGER limit`: how many messages exceed `limit` octets.
async fn larger_than(
    session: &mut ImapSession,
    folder: &str,
    limit: u64,
) -> Result<Result<u64, String>, ConnectError> {
    let line = format!("EXAMINE {}", quote(folder)?);
    if let (Err(text), _) = run(session, "EXAMINE", &line, None, |_| {}).await? {
        return Ok(Err(text));
    }
    let mut found = 0u64;
    let line = format!("SEARCH LARGER {limit}");
    let (answer, _) = run(session, "SEARCH", &line, None, |r| {
        if let Response::MailboxData(MailboxDatum::Search(ids)) = r {
            found += ids.len() as u64;
        }
    })
    .await?;
    Ok(answer.map(|()| found))
}

/// `GETQUOTAROOT INBOX`: the STORAGE resource with the least room among INBOX's quota roots.
/// `None` when there is no storage limit or the server refused the command.
async fn inbox_quota(session: &mut ImapSession) -> Result<Option<Quota>, ConnectError> {
    let (answer, captured) = run(
        session,
        "GETQUOTAROOT",
        "GETQUOTAROOT INBOX",
        Some("QUOTA"),
        |_| {},
    )
    .await?;
    if let Err(text) = answer {
        tracing::debug!(server_text = %text, "GETQUOTAROOT refused");
        return Ok(None);
    }
    Ok(captured
        .iter()
        .filter_map(|raw| parse_quota_storage(raw))
        .min_by_key(|q| (q.free_kib(), q.limit_kib)))
}

/// An IMAP quoted string for a mailbox name (raw modified UTF-7, as LIST gave it).
fn quote(name: &str) -> Result<String, ConnectError> {
    if name
        .bytes()
        .any(|b| b == b'\r' || b == b'\n' || b == 0 || !b.is_ascii())
    {
        return Err(ConnectError::InvalidInput {
            detail: format!("the mailbox name {name:?} cannot be sent as an IMAP quoted string"),
        });
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parsers (pure)

/// `APPENDLIMIT=n` among the capabilities (RFC 7889). A bare `APPENDLIMIT` (limits per
/// mailbox only) gives `None`.
fn append_limit(capabilities: &[String]) -> Option<u64> {
    capabilities.iter().find_map(|c| {
        let (name, value) = c.split_once('=')?;
        name.eq_ignore_ascii_case("APPENDLIMIT")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// `* STATUS <mailbox> (MESSAGES n SIZE m ...)` → (MESSAGES, SIZE). The attribute list is the
/// last parenthesized group (a mailbox name may hold parentheses, the list never does).
fn parse_status(raw: &[u8]) -> (Option<u64>, Option<u64>) {
    let text = String::from_utf8_lossy(raw);
    let Some(open) = text.rfind('(') else {
        return (None, None);
    };
    let list = text.get(open + 1..).unwrap_or_default();
    let list = list.split(')').next().unwrap_or_default();
    let words: Vec<&str> = list.split_ascii_whitespace().collect();
    let mut messages = None;
    let mut size = None;
    for pair in words.chunks(2) {
        let [name, value] = pair else { break };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        if name.eq_ignore_ascii_case("MESSAGES") {
            messages = Some(value);
        } else if name.eq_ignore_ascii_case("SIZE") {
            size = Some(value);
        }
    }
    (messages, size)
}

/// `* QUOTA <root> (STORAGE used limit [MESSAGE used limit ...])` → the STORAGE resource.
/// The root is an astring (atom, quoted string or literal).
fn parse_quota_storage(raw: &[u8]) -> Option<Quota> {
    const HEAD: &[u8] = b"* QUOTA ";
    if !raw.get(..HEAD.len())?.eq_ignore_ascii_case(HEAD) {
        return None;
    }
    let rest = raw.get(HEAD.len()..)?;
    let rest = skip_astring(rest)?;
    let rest = rest.strip_prefix(b" ")?.strip_prefix(b"(")?;
    let close = rest.iter().position(|b| *b == b')')?;
    let list = std::str::from_utf8(rest.get(..close)?).ok()?;
    let words: Vec<&str> = list.split_ascii_whitespace().collect();
    words.chunks(3).find_map(|triple| match triple {
        [name, used, limit] if name.eq_ignore_ascii_case("STORAGE") => Some(Quota {
            used_kib: used.parse().ok()?,
            limit_kib: limit.parse().ok()?,
        }),
        _ => None,
    })
}

/// The bytes after an astring at the start of `s`.
fn skip_astring(s: &[u8]) -> Option<&[u8]> {
    match s.first()? {
        b'"' => {
            let mut i = 1;
            loop {
                match s.get(i)? {
                    b'"' => return s.get(i + 1..),
                    b'\\' => i += 2,
                    b'\r' | b'\n' => return None,
                    _ => i += 1,
                }
            }
        }
        b'{' => {
            let close = s.iter().position(|b| *b == b'}')?;
            let digits = s.get(1..close)?;
            let digits = digits.strip_suffix(b"+").unwrap_or(digits);
            let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
            let body = s.get(close + 1..)?.strip_prefix(b"\r\n")?;
            body.get(n..)
        }
        _ => {
            let end = s
                .iter()
                .position(|b| *b == b' ' || *b == b'(' || *b == b'\r')
                .unwrap_or(s.len());
            (end > 0).then(|| s.get(end..)).flatten()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::plan::{plan_folders, PlanOptions};
    use crate::session::{Folder, Namespace};

    #[test]
    fn quota_answers() {
        let q = |s: &str| parse_quota_storage(s.as_bytes());
        let want = |used_kib, limit_kib| {
            Some(Quota {
                used_kib,
                limit_kib,
            })
        };
        assert_eq!(
            q("* QUOTA \"User quota\" (STORAGE 12 1024)\r\n"),
            want(12, 1024)
        );
        assert_eq!(q("* QUOTA \"\" (STORAGE 0 10)\r\n"), want(0, 10));
        assert_eq!(q("* quota user.alice (storage 5 50)\r\n"), want(5, 50));
        assert_eq!(
            q("* QUOTA \"a \\\"b\\\" (c)\" (MESSAGE 3 100 STORAGE 7 70)\r\n"),
            want(7, 70)
        );
        assert_eq!(q("* QUOTA {5}\r\nx y z (STORAGE 1 2)\r\n"), want(1, 2));
        assert_eq!(
            q("* QUOTA root (STORAGE 18446744073709551615 18446744073709551615)\r\n"),
            want(u64::MAX, u64::MAX)
        );
        // No storage resource, malformed, or not a QUOTA answer at all.
        assert_eq!(q("* QUOTA root (MESSAGE 1 10)\r\n"), None);
        assert_eq!(q("* QUOTA root ()\r\n"), None);
        assert_eq!(q("* QUOTA root STORAGE 1 2\r\n"), None);
        assert_eq!(q("* QUOTA root (STORAGE x 2)\r\n"), None);
        assert_eq!(q("* QUOTA \"unterminated (STORAGE 1 2)\r\n"), None);
        assert_eq!(q("* QUOTA {99}\r\nab"), None);
        assert_eq!(q("* QUOTAROOT INBOX root\r\n"), None);
        assert_eq!(q(""), None);
        assert_eq!(
            Quota {
                used_kib: 9,
                limit_kib: 5
            }
            .free_kib(),
            0
        );
    }

    #[test]
    fn status_answers() {
        let s = |t: &str| parse_status(t.as_bytes());
        assert_eq!(
            s("* STATUS INBOX (MESSAGES 2 SIZE 736)\r\n"),
            (Some(2), Some(736))
        );
        assert_eq!(
            s("* STATUS \"a (b)\" (SIZE 9 MESSAGES 1)\r\n"),
            (Some(1), Some(9))
        );
        assert_eq!(s("* STATUS {3}\r\n(x) (MESSAGES 4)\r\n"), (Some(4), None));
        assert_eq!(s("* status x (messages 0 uidnext 1)\r\n"), (Some(0), None));
        assert_eq!(s("* STATUS x ()\r\n"), (None, None));
        assert_eq!(s("* STATUS x\r\n"), (None, None));
    }

    #[test]
    fn append_limits() {
        let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            append_limit(&caps(&["IMAP4rev1", "APPENDLIMIT=35651584"])),
            Some(35_651_584)
        );
        assert_eq!(append_limit(&caps(&["appendlimit=10"])), Some(10));
        assert_eq!(append_limit(&caps(&["APPENDLIMIT"])), None);
        assert_eq!(append_limit(&caps(&["APPENDLIMIT=x", "QUOTA"])), None);
        assert_eq!(append_limit(&caps(&["X-APPENDLIMIT=5"])), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert!(quote("a\r\nb").is_err());
    }

    fn folder(name: &str, attrs: &[&str]) -> Folder {
        Folder {
            name: name.into(),
            delimiter: Some('/'),
            attributes: attrs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn assembling_rows_and_totals() {
        let src = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("Work", &[]),
                folder("Box", &["\\Noselect"]),
                folder("Gone", &["\\NonExistent"]),
            ],
            Some(Namespace {
                prefix: String::new(),
                delimiter: Some('/'),
            }),
        );
        let dst = Side::new(
            vec![Folder {
                name: "INBOX".into(),
                delimiter: Some('.'),
                attributes: vec![],
            }],
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('.'),
            }),
        );
        let plan = plan_folders(&src, &dst, &PlanOptions::default());
        let mut counts = BTreeMap::new();
        counts.insert(
            "INBOX".to_string(),
            Counts {
                messages: 3,
                bytes: Some(300),
                too_large: Some(1),
                refused: None,
            },
        );
        counts.insert(
            "Work".to_string(),
            Counts {
                messages: 2,
                bytes: Some(20),
                too_large: Some(0),
                refused: None,
            },
        );
        let p = assemble(
            plan.clone(),
            Some('.'),
            &counts,
            Some(100),
            Some(Quota {
                used_kib: 1,
                limit_kib: 2,
            }),
        );
        assert_eq!((p.messages, p.bytes, p.too_large), (5, Some(320), Some(1)));
        let rows: Vec<(&str, &str, bool)> = p
            .folders
            .iter()
            .map(|f| {
                (
                    f.source_display.as_str(),
                    f.destination_display.as_str(),
                    f.will_create,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("INBOX", "INBOX", false),
                ("Box", "INBOX.Box", true),
                ("Work", "INBOX.Work", true)
            ]
        );
        assert!(p.folders[1].notes.iter().any(|n| n.contains("Noselect")));
        assert_eq!(
            p.skipped,
            vec![(
                "Gone".to_string(),
                "does not exist (\\NonExistent)".to_string()
            )]
        );

        // One folder without SIZE or refused: totals that cannot be complete are unknown.
        counts.insert(
            "Work".to_string(),
            Counts {
                messages: 2,
                bytes: None,
                too_large: None,
                refused: Some("NO way".into()),
            },
        );
        let p = assemble(plan, Some('.'), &counts, None, None);
        assert_eq!((p.messages, p.bytes, p.too_large), (5, None, None));
        assert!(p.folders[2]
            .notes
            .iter()
            .any(|n| n == "not counted: NO way"));
        assert!(!p.folders[2].counted && p.folders[0].counted);
    }

    #[test]
    fn noselect_parents_count_as_created_only_with_a_created_child() {
        let src = Side::new(
            vec![
                folder("INBOX", &[]),
                folder("Parent", &["\\Noselect", "\\HasChildren"]),
                folder("Parent/Kid", &[]),
                folder("Held", &["\\Noselect", "\\HasChildren"]),
                folder("Held/There", &[]),
            ],
            Some(Namespace {
                prefix: String::new(),
                delimiter: Some('/'),
            }),
        );
        let dot = |name: &str| Folder {
            name: name.into(),
            delimiter: Some('.'),
            attributes: vec![],
        };
        let dst = Side::new(
            vec![dot("INBOX"), dot("INBOX.Held.There")],
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('.'),
            }),
        );
        let plan = plan_folders(&src, &dst, &PlanOptions::default());
        let p = assemble(plan, Some('.'), &BTreeMap::new(), None, None);
        let created = |name: &str| {
            p.folders
                .iter()
                .find(|f| f.source_display == name)
                .map(|f| f.will_create)
                .unwrap()
        };
        assert!(created("Parent"), "made by CREATE INBOX.Parent.Kid");
        assert!(created("Parent/Kid"));
        assert!(
            !created("Held"),
            "its only child exists already: nothing makes it"
        );
        assert!(!created("Held/There"));
        assert!(!created("INBOX"));
    }
}
