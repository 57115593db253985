//! Mailbox commands: LIST, LSUB, NAMESPACE, STATUS, SELECT/EXAMINE, CREATE/SUBSCRIBE,
//! SEARCH LARGER, GETQUOTAROOT — and [`read_listing`], the one way both the preflight and the
//! copy read an account's folders.

use imap_proto::{MailboxDatum, NameAttribute, Response, ResponseCode, Status};

use super::conn::{CmdError, DoneOk};
use super::parse::{unquote, Namespace, Reply, StatusData};
use super::quote_name;
use crate::flag::{self, Flag};
use crate::names::{MailboxName, Uid, UidValidity};
use crate::plan::Side;
use crate::session::{Folder, ImapSession};

/// What SELECT / EXAMINE reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    pub exists: u32,
    pub uid_validity: Option<UidValidity>,
    pub uid_next: Option<Uid>,
    /// `PERMANENTFLAGS` as sent (`\*` included when new keywords may be created); `None`
    /// when the server sent none (RFC 3501: then every flag of FLAGS is permanent).
    pub permanent_flags: Option<Vec<Flag>>,
    /// `FLAGS`: the flags and keywords defined in the mailbox.
    pub flags: Vec<Flag>,
}

/// The storage quota of a quota root (RFC 2087 / 9208 `STORAGE`, in KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quota {
    pub used_kib: u64,
    pub limit_kib: u64,
}

impl Quota {
    pub fn free_kib(&self) -> u64 {
        self.limit_kib.saturating_sub(self.used_kib)
    }
}

/// `SELECT` (or `EXAMINE` when `read_only`) and what the server said about the mailbox.
pub(crate) async fn select(
    s: &mut ImapSession,
    mailbox: &str,
    read_only: bool,
) -> Result<Selected, CmdError> {
    let command = select_command(read_only);
    let line = select_line(mailbox, read_only)?;
    let mut sel = Selected::default();
    s.conn
        .run(command, &line, |r| note_select(&mut sel, r))
        .await?;
    Ok(sel)
}

pub(crate) fn select_command(read_only: bool) -> &'static str {
    if read_only {
        "EXAMINE"
    } else {
        "SELECT"
    }
}

/// The command line of [`select`].
pub(crate) fn select_line(mailbox: &str, read_only: bool) -> Result<String, CmdError> {
    Ok(format!(
        "{} {}",
        select_command(read_only),
        quote_name(mailbox)?
    ))
}

/// What one response to SELECT/EXAMINE says about the mailbox.
pub(crate) fn note_select(sel: &mut Selected, r: &Reply<'_>) {
    match r {
        Reply::Parsed(Response::MailboxData(MailboxDatum::Exists(n))) => sel.exists = *n,
        Reply::Parsed(Response::MailboxData(MailboxDatum::Flags(f))) => {
            sel.flags = flag::from_server(f)
        }
        Reply::Parsed(Response::Data {
            status: Status::Ok,
            outcome,
        }) => match &outcome.code {
            Some(ResponseCode::PermanentFlags(f)) => {
                sel.permanent_flags = Some(flag::from_server(f))
            }
            Some(ResponseCode::UidValidity(v)) => sel.uid_validity = Some(UidValidity(*v)),
            Some(ResponseCode::UidNext(v)) => sel.uid_next = Some(Uid(*v)),
            _ => {}
        },
        _ => {}
    }
}

/// `EXAMINE` of several mailboxes, pipelined (one round trip): what each said, or its
/// refusal text. The server runs them in order; each one's data comes before its answer.
pub(crate) async fn examine_many(
    s: &mut ImapSession,
    mailboxes: &[String],
) -> Result<Vec<Result<Selected, String>>, CmdError> {
    let lines = mailboxes
        .iter()
        .map(|m| select_line(m, true))
        .collect::<Result<Vec<_>, CmdError>>()?;
    let mut sels = vec![Selected::default(); mailboxes.len()];
    let results = s
        .conn
        .run_many("EXAMINE", &lines, |i, r| {
            if let Some(sel) = sels.get_mut(i) {
                note_select(sel, r);
            }
        })
        .await?;
    Ok(refusals(results)?
        .into_iter()
        .zip(sels)
        .map(|(r, sel)| r.map(|_| sel))
        .collect())
}

/// A command on one mailbox without results of interest (`CREATE`, `SUBSCRIBE`...).
pub(crate) async fn simple(
    s: &mut ImapSession,
    command: &'static str,
    mailbox: &str,
) -> Result<(), CmdError> {
    let line = format!("{command} {}", quote_name(mailbox)?);
    s.conn.run(command, &line, |_| {}).await.map(|_| ())
}

/// [`simple`] for several mailboxes, pipelined (one round trip). Each one's refusal text, in
/// order; the server runs them one after the other, so a parent CREATE listed before its
/// child is done first.
pub(crate) async fn simple_many(
    s: &mut ImapSession,
    command: &'static str,
    mailboxes: &[String],
) -> Result<Vec<Result<(), String>>, CmdError> {
    let lines = mailboxes
        .iter()
        .map(|m| Ok(format!("{command} {}", quote_name(m)?)))
        .collect::<Result<Vec<_>, CmdError>>()?;
    let results = s.conn.run_many(command, &lines, |_, _| {}).await?;
    Ok(refusals(results)?
        .into_iter()
        .map(|r| r.map(|_| ()))
        .collect())
}

/// Each pipelined command's outcome with its refusal as text; any other error (there is none
/// but a broken connection) is the batch's.
fn refusals(
    results: Vec<Result<DoneOk, CmdError>>,
) -> Result<Vec<Result<DoneOk, String>>, CmdError> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(done) => Ok(Ok(done)),
            Err(CmdError::Refused { text, .. }) => Ok(Err(text)),
            Err(e) => Err(e),
        })
        .collect()
}

/// `LIST "" "*"`: every folder, names raw (modified UTF-7, quoted-string escapes undone).
pub(crate) async fn list(s: &mut ImapSession) -> Result<Vec<Folder>, CmdError> {
    let mut out = Vec::new();
    s.conn
        .run("LIST", "LIST \"\" *", |r| {
            if let Reply::Parsed(Response::MailboxData(MailboxDatum::List(l))) = r {
                out.push(list_entry(l));
            }
        })
        .await?;
    Ok(out)
}

/// `LSUB "" "*"`: the subscribed names (raw), subscriptions of folders that no longer exist
/// included.
pub(crate) async fn lsub(s: &mut ImapSession) -> Result<Vec<String>, CmdError> {
    let mut out = Vec::new();
    s.conn
        .run("LSUB", "LSUB \"\" \"*\"", |r| {
            if let Reply::Parsed(Response::MailboxData(MailboxDatum::List(l))) = r {
                out.push(unquote(&l.name));
            }
        })
        .await?;
    Ok(out)
}

/// The first personal namespace, if the server supports NAMESPACE (RFC 2342).
pub(crate) async fn namespace(s: &mut ImapSession) -> Result<Option<Namespace>, CmdError> {
    if !s.has_capability("NAMESPACE") {
        return Ok(None);
    }
    let mut found = None;
    s.conn
        .run("NAMESPACE", "NAMESPACE", |r| {
            if let Reply::Namespace(ns) = r {
                found.get_or_insert_with(|| ns.clone());
            }
        })
        .await?;
    Ok(found.flatten())
}

/// `STATUS mailbox (items)`: every attribute the server returned for that mailbox.
pub(crate) async fn status(
    s: &mut ImapSession,
    mailbox: &str,
    items: &str,
) -> Result<StatusData, CmdError> {
    let line = format!("STATUS {} ({items})", quote_name(mailbox)?);
    let mut found: Option<StatusData> = None;
    s.conn
        .run("STATUS", &line, |r| {
            if let Reply::Status(st) = r {
                // Unsolicited STATUS of other mailboxes (RFC 5465) is not ours.
                if st.mailbox == mailbox || found.is_none() {
                    found = Some(st.clone());
                }
            }
        })
        .await?;
    found.ok_or_else(|| {
        CmdError::Broken(crate::error::ConnectError::Protocol {
            detail: format!("the server answered STATUS of {mailbox:?} without its data"),
        })
    })
}

/// [`status`] of several mailboxes, pipelined: each one's data, or its refusal text, in
/// order. Answers are matched by the mailbox name they carry.
pub(crate) async fn status_many(
    s: &mut ImapSession,
    mailboxes: &[String],
    items: &str,
) -> Result<Vec<Result<StatusData, String>>, CmdError> {
    let lines = mailboxes
        .iter()
        .map(|m| Ok(format!("STATUS {} ({items})", quote_name(m)?)))
        .collect::<Result<Vec<_>, CmdError>>()?;
    let mut found: Vec<Option<StatusData>> = vec![None; mailboxes.len()];
    let results = s
        .conn
        .run_many("STATUS", &lines, |i, r| {
            if let Reply::Status(st) = r {
                // Unsolicited STATUS of other mailboxes (RFC 5465) is not ours.
                if let Some(slot) = found.get_mut(i) {
                    if mailboxes.get(i).is_some_and(|m| *m == st.mailbox) || slot.is_none() {
                        *slot = Some(st.clone());
                    }
                }
            }
        })
        .await?;
    refusals(results)?
        .into_iter()
        .zip(found)
        .zip(mailboxes)
        .map(|((r, st), name)| match (r, st) {
            (Ok(_), Some(st)) => Ok(Ok(st)),
            (Ok(_), None) => Err(CmdError::Broken(crate::error::ConnectError::Protocol {
                detail: format!("the server answered STATUS of {name:?} without its data"),
            })),
            (Err(text), _) => Ok(Err(text)),
        })
        .collect()
}

/// `SEARCH LARGER n` in the selected mailbox: how many messages exceed `n` octets.
pub(crate) async fn count_larger(s: &mut ImapSession, limit: u64) -> Result<u64, CmdError> {
    let mut found = 0u64;
    s.conn
        .run("SEARCH", &format!("SEARCH LARGER {limit}"), |r| {
            if let Reply::Parsed(Response::MailboxData(MailboxDatum::Search(ids))) = r {
                found += ids.len() as u64;
            }
        })
        .await?;
    Ok(found)
}

/// `GETQUOTAROOT INBOX`: the STORAGE resource with the least room among INBOX's quota roots.
/// `None` when there is no storage limit.
pub(crate) async fn inbox_quota(s: &mut ImapSession) -> Result<Option<Quota>, CmdError> {
    let mut quotas = Vec::new();
    s.conn
        .run("GETQUOTAROOT", "GETQUOTAROOT INBOX", |r| {
            if let Reply::Parsed(Response::Quota(q)) = r {
                for res in &q.resources {
                    if matches!(res.name, imap_proto::rfc2087::QuotaResourceName::Storage) {
                        quotas.push(Quota {
                            used_kib: res.usage,
                            limit_kib: res.limit,
                        });
                    }
                }
            }
        })
        .await?;
    Ok(quotas
        .into_iter()
        .min_by_key(|q| (q.free_kib(), q.limit_kib)))
}

/// LIST, NAMESPACE and LSUB of one account: what the planner needs of one side. Pipelined:
/// one round trip. LIST and LSUB data look alike (imap-proto parses both as `List`): each is
/// told by the command it answers, as servers answer in order.
pub(crate) async fn read_listing(s: &mut ImapSession) -> Result<Side, CmdError> {
    let with_namespace = s.has_capability("NAMESPACE");
    let mut lines = vec!["LIST \"\" *".to_string()];
    if with_namespace {
        lines.push("NAMESPACE".to_string());
    }
    lines.push("LSUB \"\" \"*\"".to_string());
    let lsub_index = lines.len() - 1;
    let mut folders = Vec::new();
    let mut subscribed = Vec::new();
    let mut found_namespace = None;
    let results = s
        .conn
        .run_many("LIST", &lines, |i, r| match r {
            Reply::Parsed(Response::MailboxData(MailboxDatum::List(l))) if i == 0 => {
                folders.push(list_entry(l));
            }
            Reply::Parsed(Response::MailboxData(MailboxDatum::List(l))) if i == lsub_index => {
                subscribed.push(unquote(&l.name));
            }
            Reply::Namespace(ns) => {
                found_namespace.get_or_insert_with(|| ns.clone());
            }
            _ => {}
        })
        .await?;
    for r in results {
        r?;
    }
    Ok(Side {
        folders,
        namespace: found_namespace.flatten(),
        subscribed,
        delimiter: None,
    })
}

fn list_entry(l: &imap_proto::MailboxListData<'_>) -> Folder {
    Folder {
        name: MailboxName::from_raw(unquote(&l.name)),
        delimiter: l
            .delimiter
            .as_deref()
            .and_then(|d| unquote(d).chars().next()),
        attributes: l.name_attributes.iter().map(attribute_string).collect(),
    }
}

fn attribute_string(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".to_string(),
        NameAttribute::NoSelect => "\\Noselect".to_string(),
        NameAttribute::Marked => "\\Marked".to_string(),
        NameAttribute::Unmarked => "\\Unmarked".to_string(),
        NameAttribute::All => "\\All".to_string(),
        NameAttribute::Archive => "\\Archive".to_string(),
        NameAttribute::Drafts => "\\Drafts".to_string(),
        NameAttribute::Flagged => "\\Flagged".to_string(),
        NameAttribute::Junk => "\\Junk".to_string(),
        NameAttribute::Sent => "\\Sent".to_string(),
        NameAttribute::Trash => "\\Trash".to_string(),
        NameAttribute::Extension(e) => e.to_string(),
        other => format!("{other:?}"),
    }
}
