//! The copy engine's own IMAP commands, written over async-imap's tagged-command primitives
//! (`run_command` + `read_response`) instead of its high-level methods, so that the engine
//! sees every response code (`[APPENDUID]`, `[OVERQUOTA]`, `[LIMIT]`, `PERMANENTFLAGS`...)
//! and controls the literal of APPEND.
//!
//! Everything here speaks in the engine's types ([`CmdError`], [`Selected`], [`MessageMeta`],
//! [`FetchedMessage`], [`Appended`]); the executor never touches async-imap. `run_command`
//! returns the tag and the readers match the tagged answer by tag, so several commands can be
//! in flight: [`fetch_bodies`] fetches a batch of messages in one `UID FETCH`, and
//! [`append_send`] / [`append_wait`] let the executor pipeline APPENDs with `LITERAL+`.

use std::borrow::Cow;
use std::collections::BTreeMap;

pub(crate) use async_imap::imap_proto::RequestId;
use async_imap::imap_proto::{
    rfc4315::UidSetMember, AttributeValue, MailboxDatum, Response, ResponseCode, Status,
};
use tokio::io::AsyncWriteExt;

use crate::copy::identity::{parse_internaldate, HeaderIdentity, Ident, IDENTITY_FIELDS};
use crate::error::{io_error, truncate, ConnectError};
use crate::session::ImapSession;

/// How a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CmdError {
    /// Tagged NO or BAD: the server refused this command; the connection is still usable.
    /// `text` is the server's resp-text, response code included (e.g. `[OVERQUOTA] Quota
    /// exceeded`).
    Refused {
        command: &'static str,
        bad: bool,
        text: String,
    },
    /// The connection is closed, timed out, or out of step (an answer async-imap could not
    /// parse leaves it unusable): drop the session and reconnect.
    Broken(ConnectError),
}

impl CmdError {
    /// A one-line description for reports and logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            CmdError::Refused { command, bad, text } => format!(
                "the server answered {} to {command}: {text}",
                if *bad { "BAD" } else { "NO" }
            ),
            CmdError::Broken(e) => e.to_string(),
        }
    }
}

fn broken(command: &'static str, e: async_imap::error::Error) -> CmdError {
    CmdError::Broken(crate::error::imap_error(command, e))
}

/// What SELECT / EXAMINE reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selected {
    pub exists: u32,
    pub uid_validity: Option<u32>,
    pub uid_next: Option<u32>,
    /// `PERMANENTFLAGS` as sent (`\*` included when new keywords may be created); `None`
    /// when the server sent none (RFC 3501: then every flag of FLAGS is permanent).
    pub permanent_flags: Option<Vec<String>>,
    /// `FLAGS`: the flags and keywords defined in the mailbox.
    pub flags: Vec<String>,
}

/// One message as the metadata pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageMeta {
    pub uid: u32,
    pub size: u32,
    pub flags: Vec<String>,
    /// Exactly as the server sent it, e.g. `" 1-Jan-2020 10:00:00 +0530"`.
    pub internaldate: Option<String>,
    /// The identity header fields, reduced (only when they were fetched).
    pub header: Option<HeaderIdentity>,
}

impl MessageMeta {
    /// What matching needs.
    pub(crate) fn ident(&self) -> Ident {
        Ident {
            uid: self.uid,
            size: self.size,
            instant: self.internaldate.as_deref().and_then(parse_internaldate),
            header: self.header,
        }
    }
}

/// One message fetched whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchedMessage {
    /// Flags at fetch time (fresher than the metadata pass), if the server sent them.
    pub flags: Option<Vec<String>>,
    pub internaldate: Option<String>,
    pub body: Vec<u8>,
}

/// What a successful APPEND told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Appended {
    /// `[APPENDUID uidvalidity uid]` (RFC 4315), when the server sent it.
    pub uid: Option<(u32, u32)>,
}

/// An IMAP quoted string for a mailbox name (raw modified UTF-7, as LIST gave it).
pub(crate) fn quote(s: &str) -> Result<String, CmdError> {
    if s.bytes()
        .any(|b| b == b'\r' || b == b'\n' || b == 0 || !b.is_ascii())
    {
        return Err(CmdError::Broken(ConnectError::InvalidInput {
            detail: format!("the mailbox name {s:?} cannot be sent as an IMAP quoted string"),
        }));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// imap-proto keeps the `\\` and `\"` escapes of quoted strings; undo them.
pub(crate) fn unquote(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().unwrap_or('\\'));
        } else {
            out.push(c);
        }
    }
    out
}

/// The resp-text of a tagged answer: known codes rendered back, unknown codes (which imap-proto
/// leaves in the text, e.g. `[OVERQUOTA]`) kept as they came.
fn outcome_text(code: Option<&ResponseCode<'_>>, info: Option<&str>) -> String {
    let code = match code {
        None => None,
        Some(ResponseCode::Alert) => Some("[ALERT]".to_string()),
        Some(ResponseCode::Parse) => Some("[PARSE]".to_string()),
        Some(ResponseCode::TryCreate) => Some("[TRYCREATE]".to_string()),
        Some(ResponseCode::ReadOnly) => Some("[READ-ONLY]".to_string()),
        Some(ResponseCode::ReadWrite) => Some("[READ-WRITE]".to_string()),
        Some(ResponseCode::UidNotSticky) => Some("[UIDNOTSTICKY]".to_string()),
        Some(other) => Some(format!("[{other:?}]")),
    };
    let text = match (code, info) {
        (Some(c), Some(i)) => format!("{c} {i}"),
        (Some(c), None) => c,
        (None, Some(i)) => i.to_string(),
        (None, None) => "(no text)".to_string(),
    };
    truncate(text)
}

/// The end of a command that answered OK: its response code, if any.
struct DoneOk {
    code: Option<ResponseCode<'static>>,
}

/// Reads responses until the tagged answer to `id`, handing every other response to
/// `on_response`. NO/BAD become [`CmdError::Refused`]; BYE, end of stream, timeouts and
/// unparsable data become [`CmdError::Broken`].
async fn read_until_done(
    s: &mut ImapSession,
    command: &'static str,
    id: &RequestId,
    on_response: impl FnMut(&Response<'_>),
) -> Result<DoneOk, CmdError> {
    read_until_any_done(s, command, std::slice::from_ref(id), on_response)
        .await?
        .1
}

/// Reads responses until the tagged answer to one of `ids` (several commands in flight),
/// handing every other response to `on_response`. Returns which of `ids` was answered and
/// how: the outer error is [`CmdError::Broken`] (BYE, end of stream, timeouts, unparsable
/// data), the inner one the command's own NO/BAD ([`CmdError::Refused`]).
async fn read_until_any_done(
    s: &mut ImapSession,
    command: &'static str,
    ids: &[RequestId],
    mut on_response: impl FnMut(&Response<'_>),
) -> Result<(usize, Result<DoneOk, CmdError>), CmdError> {
    loop {
        let resp = match s.inner_mut().read_response().await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(CmdError::Broken(ConnectError::ClosedByServer {
                    stage: command,
                }))
            }
            Err(e) => return Err(CmdError::Broken(io_error(command, &e))),
        };
        match resp.parsed() {
            Response::Done {
                tag,
                status,
                outcome,
            } if ids.contains(tag) => {
                let index = ids.iter().position(|i| i == tag).unwrap_or_default();
                let text = || outcome_text(outcome.code.as_ref(), outcome.information.as_deref());
                let done = match status {
                    Status::Ok => Ok(DoneOk {
                        code: outcome.code.as_ref().map(|c| clone_code(c)),
                    }),
                    Status::No => Err(CmdError::Refused {
                        command,
                        bad: false,
                        text: text(),
                    }),
                    _ => Err(CmdError::Refused {
                        command,
                        bad: true,
                        text: text(),
                    }),
                };
                return Ok((index, done));
            }
            Response::Data {
                status: Status::Bye,
                outcome,
            } => {
                return Err(CmdError::Broken(ConnectError::Rejected {
                    server_text: format!(
                        "it ended the session during {command} (BYE {})",
                        outcome_text(outcome.code.as_ref(), outcome.information.as_deref())
                    ),
                }));
            }
            other => on_response(other),
        }
    }
}

/// Only the codes the engine reads after OK are kept (imap-proto has `into_owned`, but not
/// `Clone`, on borrowed codes).
fn clone_code(c: &ResponseCode<'_>) -> ResponseCode<'static> {
    match c {
        ResponseCode::AppendUid(v, set) => ResponseCode::AppendUid(*v, set.clone()),
        ResponseCode::UidValidity(v) => ResponseCode::UidValidity(*v),
        ResponseCode::UidNext(v) => ResponseCode::UidNext(*v),
        ResponseCode::ReadOnly => ResponseCode::ReadOnly,
        _ => ResponseCode::ReadWrite,
    }
}

fn strings(v: &[Cow<'_, str>]) -> Vec<String> {
    v.iter().map(|f| f.to_string()).collect()
}

/// `SELECT` (or `EXAMINE` when `read_only`) and what the server said about the mailbox.
pub(crate) async fn select(
    s: &mut ImapSession,
    mailbox: &str,
    read_only: bool,
) -> Result<Selected, CmdError> {
    let command = if read_only { "EXAMINE" } else { "SELECT" };
    let id = s
        .inner_mut()
        .run_command(format!("{command} {}", quote(mailbox)?))
        .await
        .map_err(|e| broken(command, e))?;
    let mut sel = Selected::default();
    read_until_done(s, command, &id, |r| match r {
        Response::MailboxData(MailboxDatum::Exists(n)) => sel.exists = *n,
        Response::MailboxData(MailboxDatum::Flags(f)) => sel.flags = strings(f),
        Response::Data {
            status: Status::Ok,
            outcome,
        } => match &outcome.code {
            Some(ResponseCode::PermanentFlags(f)) => sel.permanent_flags = Some(strings(f)),
            Some(ResponseCode::UidValidity(v)) => sel.uid_validity = Some(*v),
            Some(ResponseCode::UidNext(v)) => sel.uid_next = Some(*v),
            _ => {}
        },
        _ => {}
    })
    .await?;
    Ok(sel)
}

/// `UID FETCH <set> (UID FLAGS INTERNALDATE RFC822.SIZE)`, with
/// `BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM TO CC SUBJECT)]` when `with_headers`
/// (reduced to a [`HeaderIdentity`] as each answer arrives: the raw fields are not kept).
/// Sorted by UID.
pub(crate) async fn fetch_meta(
    s: &mut ImapSession,
    uid_set: &str,
    with_headers: bool,
) -> Result<Vec<MessageMeta>, CmdError> {
    const CMD: &str = "UID FETCH";
    let headers = if with_headers {
        format!(" BODY.PEEK[HEADER.FIELDS ({IDENTITY_FIELDS})]")
    } else {
        String::new()
    };
    let id = s
        .inner_mut()
        .run_command(format!(
            "UID FETCH {uid_set} (UID FLAGS INTERNALDATE RFC822.SIZE{headers})"
        ))
        .await
        .map_err(|e| broken(CMD, e))?;
    let mut out = Vec::new();
    read_until_done(s, CMD, &id, |r| {
        let Response::Fetch(_, attrs) = r else {
            return;
        };
        let mut m = MessageMeta {
            uid: 0,
            size: 0,
            flags: Vec::new(),
            internaldate: None,
            header: None,
        };
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => m.uid = *u,
                AttributeValue::Rfc822Size(n) => m.size = *n,
                AttributeValue::Flags(f) => m.flags = strings(f),
                AttributeValue::InternalDate(d) => m.internaldate = Some(d.to_string()),
                AttributeValue::BodySection { data, .. } if with_headers => {
                    m.header = Some(HeaderIdentity::of(data.as_deref().unwrap_or_default()));
                }
                _ => {}
            }
        }
        // A FETCH without UID is an unsolicited flag update for some other message.
        if m.uid != 0 {
            if with_headers && m.header.is_none() {
                // Sent no header section at all: an empty header block is what it has.
                m.header = Some(HeaderIdentity::of(b""));
            }
            out.push(m);
        }
    })
    .await?;
    out.sort_by_key(|m| m.uid);
    out.dedup_by_key(|m| m.uid);
    Ok(out)
}

/// `UID FETCH <uid> (UID FLAGS INTERNALDATE BODY.PEEK[])`: the whole message, without setting
/// `\Seen`. `Ok(None)` when the server sent no body for that UID (the message is gone).
pub(crate) async fn fetch_body(
    s: &mut ImapSession,
    uid: u32,
) -> Result<Option<FetchedMessage>, CmdError> {
    let mut found = BTreeMap::new();
    fetch_bodies(s, &uid.to_string(), &mut found).await?;
    Ok(found.remove(&uid))
}

/// `UID FETCH <set> (UID FLAGS INTERNALDATE BODY.PEEK[])`: several whole messages in one
/// command (one round trip for a batch), without setting `\Seen`. What arrived is put into
/// `found` by UID as it arrives, so that the messages received before an error are kept; a
/// UID without a body in the answer is simply absent. A server may split one message's
/// attributes over several FETCH responses: they are merged.
pub(crate) async fn fetch_bodies(
    s: &mut ImapSession,
    uid_set: &str,
    found: &mut BTreeMap<u32, FetchedMessage>,
) -> Result<(), CmdError> {
    const CMD: &str = "UID FETCH";
    let id = s
        .inner_mut()
        .run_command(format!(
            "UID FETCH {uid_set} (UID FLAGS INTERNALDATE BODY.PEEK[])"
        ))
        .await
        .map_err(|e| broken(CMD, e))?;
    // Attributes that came before their body (split answers).
    let mut partial: BTreeMap<u32, (Option<Vec<String>>, Option<String>)> = BTreeMap::new();
    let result = read_until_done(s, CMD, &id, |r| {
        let Response::Fetch(_, attrs) = r else {
            return;
        };
        let mut this_uid = None;
        let mut flags = None;
        let mut date = None;
        let mut body = None;
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => this_uid = Some(*u),
                AttributeValue::Flags(f) => flags = Some(strings(f)),
                AttributeValue::InternalDate(d) => date = Some(d.to_string()),
                AttributeValue::BodySection {
                    section: None,
                    data: Some(d),
                    ..
                } => body = Some(d.to_vec()),
                _ => {}
            }
        }
        // A FETCH without UID is an unsolicited flag update.
        let Some(uid) = this_uid else { return };
        if let Some(m) = found.get_mut(&uid) {
            if flags.is_some() {
                m.flags = flags;
            }
            if date.is_some() {
                m.internaldate = date;
            }
            if let Some(b) = body {
                m.body = b;
            }
            return;
        }
        let earlier = partial.entry(uid).or_default();
        if flags.is_some() {
            earlier.0 = flags;
        }
        if date.is_some() {
            earlier.1 = date;
        }
        if let Some(body) = body {
            let (flags, internaldate) = partial.remove(&uid).unwrap_or_default();
            found.insert(
                uid,
                FetchedMessage {
                    flags,
                    internaldate,
                    body,
                },
            );
        }
    })
    .await;
    result.map(|_| ())
}

/// `UID FETCH <uid> (UID BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])`: enough to describe a
/// message that was not copied. `Ok(None)` when the server sent nothing for that UID.
pub(crate) async fn fetch_summary_headers(
    s: &mut ImapSession,
    uid: u32,
) -> Result<Option<Vec<u8>>, CmdError> {
    const CMD: &str = "UID FETCH";
    let id = s
        .inner_mut()
        .run_command(format!(
            "UID FETCH {uid} (UID BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])"
        ))
        .await
        .map_err(|e| broken(CMD, e))?;
    let mut found = None;
    read_until_done(s, CMD, &id, |r| {
        let Response::Fetch(_, attrs) = r else {
            return;
        };
        let mut this_uid = None;
        let mut data = None;
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => this_uid = Some(*u),
                AttributeValue::BodySection { data: Some(d), .. } => data = Some(d.to_vec()),
                _ => {}
            }
        }
        if this_uid == Some(uid) {
            found = data;
        }
    })
    .await?;
    Ok(found)
}

/// Whether `d` looks like an IMAP date-time (`"dd-Mon-yyyy hh:mm:ss +zzzz"`), so that it can be
/// sent back inside a quoted string as it came.
fn is_date_time(d: &str) -> bool {
    d.len() == 26
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b':' | b'+'))
}

/// `APPEND mailbox (flags) "date" {n}` and its answer: [`append_send`] then [`append_wait`].
pub(crate) async fn append(
    s: &mut ImapSession,
    mailbox: &str,
    flags: &[String],
    internaldate: Option<&str>,
    body: &[u8],
) -> Result<Appended, CmdError> {
    let id = append_send(s, mailbox, flags, internaldate, body).await?;
    append_wait(s, std::slice::from_ref(&id)).await?.1
}

/// Whether an APPEND of `len` bytes can be sent without waiting for the server (RFC 7888
/// non-synchronizing literal): then several APPENDs can be in flight at once.
pub(crate) fn append_can_pipeline(s: &ImapSession, len: usize) -> bool {
    s.has_capability("LITERAL+") || (len <= 4096 && s.has_capability("LITERAL-"))
}

/// Sends `APPEND mailbox (flags) "date" {n}` and the message; returns the command's tag for
/// [`append_wait`]. With a non-synchronizing literal (LITERAL+: Dovecot, Cyrus, Gmail; LITERAL-
/// up to 4096 bytes) the body follows the command at once and nothing is read here, so other
/// commands may still be waiting for their answers. Otherwise it waits for the server's "+"
/// (the server may refuse before the body is sent: size announced in the literal, and then
/// nothing is sent) — only when no other command is in flight.
pub(crate) async fn append_send(
    s: &mut ImapSession,
    mailbox: &str,
    flags: &[String],
    internaldate: Option<&str>,
    body: &[u8],
) -> Result<RequestId, CmdError> {
    const CMD: &str = "APPEND";
    let mut command = format!("APPEND {} ({})", quote(mailbox)?, flags.join(" "));
    match internaldate {
        Some(d) if is_date_time(d) => {
            command.push_str(" \"");
            command.push_str(d);
            command.push('"');
        }
        Some(d) => tracing::warn!(date = %d, "INTERNALDATE not in IMAP syntax: APPEND without it"),
        None => {}
    }
    // One round trip less per message than waiting for "+".
    let non_sync = append_can_pipeline(s, body.len());
    command.push_str(&format!(
        " {{{}{}}}",
        body.len(),
        if non_sync { "+" } else { "" }
    ));
    let id = s
        .inner_mut()
        .run_command(command)
        .await
        .map_err(|e| broken(CMD, e))?;

    // Wait for the continuation, or an early tagged refusal.
    if !non_sync {
        wait_for_continuation(s, &id).await?;
    }
    let stream = s.inner_mut().get_mut();
    let written = async {
        stream.write_all(body).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await
    }
    .await;
    if let Err(e) = written {
        return Err(CmdError::Broken(io_error(CMD, &e)));
    }
    Ok(id)
}

/// Reads until one of the APPENDs `ids` (sent by [`append_send`]) is answered: which one, and
/// its result (`[APPENDUID]` read when sent). The outer error is a broken connection; the inner
/// one the server's refusal of that APPEND.
pub(crate) async fn append_wait(
    s: &mut ImapSession,
    ids: &[RequestId],
) -> Result<(usize, Result<Appended, CmdError>), CmdError> {
    let (index, done) = read_until_any_done(s, "APPEND", ids, |_| {}).await?;
    let appended = done.map(|done| {
        let uid = match done.code {
            Some(ResponseCode::AppendUid(validity, set)) => match set.as_slice() {
                [UidSetMember::Uid(u)] => Some((validity, *u)),
                _ => None,
            },
            _ => None,
        };
        Appended { uid }
    });
    Ok((index, appended))
}

/// A command without results of interest (`CREATE`, `SUBSCRIBE`, `UNSELECT`...).
pub(crate) async fn simple(
    s: &mut ImapSession,
    command: &'static str,
    mailbox: &str,
) -> Result<(), CmdError> {
    let id = s
        .inner_mut()
        .run_command(format!("{command} {}", quote(mailbox)?))
        .await
        .map_err(|e| broken(command, e))?;
    read_until_done(s, command, &id, |_| {}).await.map(|_| ())
}

/// `UID STORE <uid> +FLAGS.SILENT (<flag>)` on the selected mailbox.
pub(crate) async fn uid_store_add(
    s: &mut ImapSession,
    uid: u32,
    flag: &str,
) -> Result<(), CmdError> {
    uid_store(
        s,
        &uid.to_string(),
        true,
        std::slice::from_ref(&flag.to_string()),
    )
    .await
}

/// `UID STORE <set> +FLAGS.SILENT (<flags>)` (or `-FLAGS.SILENT` when `!add`) on the
/// selected mailbox.
pub(crate) async fn uid_store(
    s: &mut ImapSession,
    uid_set: &str,
    add: bool,
    flags: &[String],
) -> Result<(), CmdError> {
    const CMD: &str = "UID STORE";
    let sign = if add { '+' } else { '-' };
    let id = s
        .inner_mut()
        .run_command(format!(
            "UID STORE {uid_set} {sign}FLAGS.SILENT ({})",
            flags.join(" ")
        ))
        .await
        .map_err(|e| broken(CMD, e))?;
    read_until_done(s, CMD, &id, |_| {}).await.map(|_| ())
}

/// `LSUB "" "*"`: the subscribed names (raw).
pub(crate) async fn lsub(s: &mut ImapSession) -> Result<Vec<String>, CmdError> {
    const CMD: &str = "LSUB";
    let id = s
        .inner_mut()
        .run_command("LSUB \"\" \"*\"")
        .await
        .map_err(|e| broken(CMD, e))?;
    let mut out = Vec::new();
    read_until_done(s, CMD, &id, |r| {
        if let Response::MailboxData(MailboxDatum::List(l)) = r {
            out.push(unquote(&l.name));
        }
    })
    .await?;
    Ok(out)
}

/// Waits for the server's "+" before a synchronizing literal, or its early tagged refusal.
async fn wait_for_continuation(s: &mut ImapSession, id: &RequestId) -> Result<(), CmdError> {
    const CMD: &str = "APPEND";
    loop {
        let resp = match s.inner_mut().read_response().await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(CmdError::Broken(ConnectError::ClosedByServer {
                    stage: CMD,
                }))
            }
            Err(e) => return Err(CmdError::Broken(io_error(CMD, &e))),
        };
        match resp.parsed() {
            Response::Continue { .. } => return Ok(()),
            Response::Done {
                tag,
                status,
                outcome,
            } if tag == id => {
                let text = outcome_text(outcome.code.as_ref(), outcome.information.as_deref());
                return Err(CmdError::Refused {
                    command: CMD,
                    bad: *status != Status::No,
                    text,
                });
            }
            Response::Data {
                status: Status::Bye,
                outcome,
            } => {
                return Err(CmdError::Broken(ConnectError::Rejected {
                    server_text: format!(
                        "it ended the session during APPEND (BYE {})",
                        outcome_text(outcome.code.as_ref(), outcome.information.as_deref())
                    ),
                }))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("INBOX.a b").unwrap(), "\"INBOX.a b\"");
        assert_eq!(quote("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert_eq!(unquote("a\\\"b\\\\c"), "a\"b\\c");
        assert!(quote("a\r\nb").is_err());
        assert!(quote("é").is_err());
    }

    #[test]
    fn date_times() {
        assert!(is_date_time(" 1-Jan-2020 10:00:00 +0530"));
        assert!(is_date_time("31-Dec-1998 20:15:00 -0800"));
        assert!(!is_date_time("31-Dec-1998 20:15:00 -0800\" {5}"));
        assert!(!is_date_time("yesterday"));
    }

    #[test]
    fn outcome_texts() {
        assert_eq!(
            outcome_text(None, Some("[OVERQUOTA] Quota exceeded")),
            "[OVERQUOTA] Quota exceeded"
        );
        assert_eq!(
            outcome_text(
                Some(&ResponseCode::TryCreate),
                Some("Mailbox doesn't exist")
            ),
            "[TRYCREATE] Mailbox doesn't exist"
        );
        assert_eq!(outcome_text(None, None), "(no text)");
    }
}
