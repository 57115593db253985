//! Message commands: metadata and body FETCH, APPEND (pipelined with LITERAL+/LITERAL-,
//! APPENDUID read), UID STORE. Each speaks in the engine's types ([`MessageMeta`],
//! [`FetchedMessage`], [`Appended`], [`CmdError`]); several may be in flight on one connection,
//! their answers matched by tag ([`append_send`] / [`append_wait`]).

use std::collections::BTreeMap;

use imap_proto::{rfc4315::UidSetMember, AttributeValue, RequestId, Response, ResponseCode};

use super::conn::CmdError;
use super::mailbox::Selected;
use super::parse::Reply;
use super::quote_name;
use crate::copy::identity::{parse_internaldate, HeaderIdentity, Ident, IDENTITY_FIELDS};
use crate::flag::{self, flag_list, Flag};
use crate::names::{Uid, UidValidity};
use crate::session::ImapSession;

/// One message as the metadata pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageMeta {
    pub uid: u32,
    pub size: u32,
    pub flags: Vec<Flag>,
    /// Exactly as the server sent it, e.g. `" 1-Jan-2020 10:00:00 +0530"`.
    pub internaldate: Option<String>,
    /// The identity header fields, reduced (only when they were fetched).
    pub header: Option<HeaderIdentity>,
    /// Gmail's message id (`X-GM-MSGID`, fetched where `X-GM-EXT-1` is offered): one message
    /// listed in several labels and in All Mail has one.
    pub gm_msgid: Option<u64>,
}

impl MessageMeta {
    /// What matching needs.
    pub(crate) fn ident(&self) -> Ident {
        Ident {
            uid: self.uid,
            size: self.size,
            instant: self.internaldate.as_deref().and_then(parse_internaldate),
            header: self.header,
            gm_msgid: self.gm_msgid,
        }
    }
}

/// One message fetched whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Flags at fetch time (fresher than the metadata pass), if the server sent them.
    pub flags: Option<Vec<Flag>>,
    pub internaldate: Option<String>,
    pub body: Vec<u8>,
}

/// What a successful APPEND told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Appended {
    /// `[APPENDUID uidvalidity uid]` (RFC 4315), when the server sent it.
    pub uid: Option<(UidValidity, Uid)>,
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
    let gmail = s.asks_gmail_ids();
    let id = s
        .conn
        .send(&fetch_meta_line(uid_set, with_headers, gmail))
        .await?;
    let mut meta = MetaAnswers::new(with_headers);
    s.conn.read_done("UID FETCH", &id, |r| meta.note(r)).await?;
    meta.finish()
}

/// `EXAMINE mailbox` then `UID FETCH 1:* (…)` as [`fetch_meta`], pipelined: the folder's
/// state and every message's metadata in one round trip. A refused EXAMINE is returned as
/// such (the FETCH after it is then refused too: no folder is selected).
pub(crate) async fn examine_with_meta(
    s: &mut ImapSession,
    mailbox: &str,
    with_headers: bool,
) -> Result<(Selected, Vec<MessageMeta>), CmdError> {
    let mut all = examine_many_with_meta(s, &[(mailbox.to_string(), with_headers)]).await?;
    all.pop().unwrap_or(Ok((Selected::default(), Vec::new())))
}

/// [`examine_with_meta`] for several folders in one round trip (EXAMINE and FETCH of each,
/// in order: the server runs them one after the other, so each FETCH reads the folder examined
/// just before it). Each folder's result; the outer error is a broken connection. The folder
/// selected afterwards is the last one examined.
pub(crate) async fn examine_many_with_meta(
    s: &mut ImapSession,
    folders: &[(String, bool)],
) -> Result<Vec<Result<(Selected, Vec<MessageMeta>), CmdError>>, CmdError> {
    let gmail = s.asks_gmail_ids();
    let mut lines = Vec::with_capacity(folders.len() * 2);
    for (mailbox, with_headers) in folders {
        lines.push(super::mailbox::select_line(mailbox, true)?);
        lines.push(fetch_meta_line("1:*", *with_headers, gmail));
    }
    let mut sels = vec![Selected::default(); folders.len()];
    let mut metas: Vec<MetaAnswers> = folders.iter().map(|(_, h)| MetaAnswers::new(*h)).collect();
    let results = s
        .conn
        .run_many("EXAMINE", &lines, |i, r| {
            if i % 2 == 0 {
                if let Some(sel) = sels.get_mut(i / 2) {
                    super::mailbox::note_select(sel, r);
                }
            } else if let Some(meta) = metas.get_mut(i / 2) {
                meta.note(r);
            }
        })
        .await?;
    let mut results = results.into_iter();
    let mut out = Vec::with_capacity(folders.len());
    for (sel, meta) in sels.into_iter().zip(metas) {
        let (examined, fetched) = (results.next(), results.next());
        out.push(match (examined, fetched) {
            (Some(Err(CmdError::Refused { bad, text, .. })), _) => Err(CmdError::Refused {
                command: "EXAMINE",
                bad,
                text,
            }),
            (_, Some(Err(CmdError::Refused { .. }))) if sel.exists == 0 => {
                // `1:*` in an empty mailbox: RFC 3501 leaves `*` without messages open and
                // servers differ (Dovecot answers OK with no data, others NO or BAD); nothing
                // to list.
                Ok((sel, Vec::new()))
            }
            (_, Some(Err(CmdError::Refused { bad, text, .. }))) => Err(CmdError::Refused {
                command: "UID FETCH",
                bad,
                text,
            }),
            (_, Some(Err(e))) | (Some(Err(e)), _) => Err(e),
            _ => meta.finish().map(|m| (sel, m)),
        });
    }
    Ok(out)
}

/// `gmail`: the server offers `X-GM-EXT-1`, and Gmail's message id is asked for too.
fn fetch_meta_line(uid_set: &str, with_headers: bool, gmail: bool) -> String {
    let headers = if with_headers {
        format!(" BODY.PEEK[HEADER.FIELDS ({IDENTITY_FIELDS})]")
    } else {
        String::new()
    };
    let gm = if gmail { " X-GM-MSGID" } else { "" };
    format!("UID FETCH {uid_set} (UID FLAGS INTERNALDATE RFC822.SIZE{gm}{headers})")
}

/// The answers to a metadata FETCH, collected as they arrive.
struct MetaAnswers {
    with_headers: bool,
    out: Vec<MessageMeta>,
    unreadable: Option<String>,
}

impl MetaAnswers {
    fn new(with_headers: bool) -> Self {
        MetaAnswers {
            with_headers,
            out: Vec::new(),
            unreadable: None,
        }
    }

    fn note(&mut self, r: &Reply<'_>) {
        if let Some(raw) = unparsed_fetch(r) {
            self.unreadable.get_or_insert(raw);
        }
        let Reply::Parsed(Response::Fetch(_, attrs)) = r else {
            return;
        };
        let mut m = MessageMeta {
            uid: 0,
            size: 0,
            flags: Vec::new(),
            internaldate: None,
            header: None,
            gm_msgid: None,
        };
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => m.uid = *u,
                AttributeValue::Rfc822Size(n) => m.size = *n,
                AttributeValue::Flags(f) => m.flags = flag::from_server(f),
                AttributeValue::InternalDate(d) => m.internaldate = Some(d.to_string()),
                AttributeValue::GmailMsgId(id) => m.gm_msgid = Some(*id),
                AttributeValue::BodySection { data, .. } if self.with_headers => {
                    m.header = Some(HeaderIdentity::of(data.as_deref().unwrap_or_default()));
                }
                _ => {}
            }
        }
        // A FETCH without UID is an unsolicited flag update for some other message.
        if m.uid != 0 {
            if self.with_headers && m.header.is_none() {
                // Sent no header section at all: an empty header block is what it has.
                m.header = Some(HeaderIdentity::of(b""));
            }
            self.out.push(m);
        }
    }

    /// Sorted by UID. A message whose metadata cannot be read would be invisible to the scan
    /// (never copied, never reported): the folder's scan fails instead.
    fn finish(self) -> Result<Vec<MessageMeta>, CmdError> {
        if let Some(raw) = self.unreadable {
            return Err(CmdError::Broken(crate::error::ConnectError::Protocol {
                detail: format!("during UID FETCH: an answer that cannot be parsed: {raw}"),
            }));
        }
        let mut out = self.out;
        out.sort_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }
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
    let tag = fetch_bodies_send(s, uid_set).await?;
    let mut bodies = Bodies::default();
    let (_, done) = fetch_bodies_read(s, std::slice::from_ref(&tag), &mut bodies).await?;
    found.append(&mut bodies.found);
    done
}

/// Sends the [`fetch_bodies`] command without reading its answer: several may be in flight on
/// one connection (their answers are read by [`fetch_bodies_read`]), so that a folder's next
/// batch is on its way while the previous one arrives.
pub(crate) async fn fetch_bodies_send(
    s: &mut ImapSession,
    uid_set: &str,
) -> Result<RequestId, CmdError> {
    s.conn
        .send(&format!(
            "UID FETCH {uid_set} (UID FLAGS INTERNALDATE BODY.PEEK[])"
        ))
        .await
}

/// `EXAMINE mailbox` and the [`fetch_bodies`] command of `uid_set` in one write (one round
/// trip for opening a folder and asking for its first messages): reads the EXAMINE answer and
/// returns what it said and the FETCH's tag, whose answer is read by [`fetch_bodies_read`]. A
/// refused EXAMINE is `Ok(Err)`, after the FETCH's answer (refused too: nothing selected) has
/// been read, so the session is clean. The outer error is a broken connection.
pub(crate) async fn examine_then_fetch(
    s: &mut ImapSession,
    mailbox: &str,
    uid_set: &str,
) -> Result<Result<(Selected, RequestId), CmdError>, CmdError> {
    let line = super::mailbox::select_line(mailbox, true)?;
    let examine = s.conn.send(&line).await?;
    let fetch = fetch_bodies_send(s, uid_set).await?;
    let mut sel = Selected::default();
    let (_, done) = s
        .conn
        .read_until("EXAMINE", std::slice::from_ref(&examine), |r| {
            super::mailbox::note_select(&mut sel, r)
        })
        .await?;
    match done {
        Ok(_) => Ok(Ok((sel, fetch))),
        Err(refused) => {
            let mut ignored = Bodies::default();
            // Refused too (nothing selected): only read, so the session is clean.
            let _refused = fetch_bodies_read(s, std::slice::from_ref(&fetch), &mut ignored).await?;
            Ok(Err(refused))
        }
    }
}

/// Messages received by [`fetch_bodies_read`], by UID, across the commands in flight (each
/// FETCH response names its UID, so answers to pipelined commands cannot be confused).
#[derive(Default)]
pub(crate) struct Bodies {
    pub(crate) found: BTreeMap<u32, FetchedMessage>,
    /// Attributes that came before their body (split answers).
    partial: BTreeMap<u32, (Option<Vec<Flag>>, Option<String>)>,
    /// A `* n FETCH` response that could not be parsed since the last answered command.
    unreadable: Option<String>,
}

impl Bodies {
    fn take(&mut self, r: &Reply<'_>) {
        if let Some(raw) = unparsed_fetch(r) {
            self.unreadable.get_or_insert(raw);
        }
        let Reply::Parsed(Response::Fetch(_, attrs)) = r else {
            return;
        };
        let mut this_uid = None;
        let mut flags = None;
        let mut date = None;
        let mut body = None;
        for a in attrs {
            match a {
                AttributeValue::Uid(u) => this_uid = Some(*u),
                AttributeValue::Flags(f) => flags = Some(flag::from_server(f)),
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
        if let Some(m) = self.found.get_mut(&uid) {
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
        let earlier = self.partial.entry(uid).or_default();
        if flags.is_some() {
            earlier.0 = flags;
        }
        if date.is_some() {
            earlier.1 = date;
        }
        if let Some(body) = body {
            let (flags, internaldate) = self.partial.remove(&uid).unwrap_or_default();
            self.found.insert(
                uid,
                FetchedMessage {
                    flags,
                    internaldate,
                    body,
                },
            );
        }
    }
}

/// Reads answers of [`fetch_bodies_send`] commands in flight until one of `tags` is answered,
/// putting the messages into `bodies`. Returns which tag and that command's result; the outer
/// error is a broken connection (what arrived before it stays in `bodies`).
pub(crate) async fn fetch_bodies_read(
    s: &mut ImapSession,
    tags: &[RequestId],
    bodies: &mut Bodies,
) -> Result<(usize, Result<(), CmdError>), CmdError> {
    const CMD: &str = "UID FETCH";
    let (k, done) = s.conn.read_until(CMD, tags, |r| bodies.take(r)).await?;
    // The session survives an answer it cannot parse, but the messages in it did not arrive:
    // a refusal of this FETCH, so that they are fetched again alone and, if they still cannot
    // be read, reported with the server's answer as evidence.
    let done = match (done, bodies.unreadable.take()) {
        (Err(e), _) => Err(e),
        (Ok(_), Some(raw)) => Err(CmdError::Refused {
            command: CMD,
            bad: false,
            text: format!("the server's answer could not be understood: {raw}"),
        }),
        (Ok(_), None) => Ok(()),
    };
    Ok((k, done))
}

/// The raw text (shortened) of a `* n FETCH` response that could not be parsed.
fn unparsed_fetch(r: &Reply<'_>) -> Option<String> {
    let Reply::Unparsed(raw) = r else {
        return None;
    };
    let text = String::from_utf8_lossy(raw.get(..200).unwrap_or(raw));
    let mut words = text.split(' ');
    let is_fetch = words.next() == Some("*")
        && words
            .next()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        && words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("FETCH"));
    is_fetch.then(|| crate::error::truncate(text.trim_end().to_string()))
}

/// `UID FETCH <uid> (UID BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])`: enough to describe a
/// message that was not copied. `Ok(None)` when the server sent nothing for that UID.
pub(crate) async fn fetch_summary_headers(
    s: &mut ImapSession,
    uid: u32,
) -> Result<Option<Vec<u8>>, CmdError> {
    const CMD: &str = "UID FETCH";
    let id = s
        .conn
        .send(&format!(
            "UID FETCH {uid} (UID BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])"
        ))
        .await?;
    let mut found = None;
    s.conn
        .read_done(CMD, &id, |r| {
            let Reply::Parsed(Response::Fetch(_, attrs)) = r else {
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
    flags: &[Flag],
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
    flags: &[Flag],
    internaldate: Option<&str>,
    body: &[u8],
) -> Result<RequestId, CmdError> {
    const CMD: &str = "APPEND";
    let mut command = format!("APPEND {} ({})", quote_name(mailbox)?, flag_list(flags));
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
    let id = if non_sync {
        // The command line and the body leave in one write.
        s.conn.send_literal_command(&command).await?
    } else {
        let id = s.conn.send(&command).await?;
        // Wait for the continuation, or an early tagged refusal.
        if s.conn.read_continuation(CMD, &id).await?.is_none() {
            return Err(CmdError::Refused {
                command: CMD,
                bad: true,
                text: "the server answered OK before the message was sent".to_string(),
            });
        }
        id
    };
    s.conn.send_bytes(CMD, body, false).await?;
    s.conn.send_bytes(CMD, b"\r\n", true).await?;
    Ok(id)
}

/// Reads until one of the APPENDs `ids` (sent by [`append_send`]) is answered: which one, and
/// its result (`[APPENDUID]` read when sent). The outer error is a broken connection; the inner
/// one the server's refusal of that APPEND.
pub(crate) async fn append_wait(
    s: &mut ImapSession,
    ids: &[RequestId],
) -> Result<(usize, Result<Appended, CmdError>), CmdError> {
    let (index, done) = s.conn.read_until("APPEND", ids, |_| {}).await?;
    let appended = done.map(|done| {
        let uid = match done.code {
            Some(ResponseCode::AppendUid(validity, set)) => match set.as_slice() {
                [UidSetMember::Uid(u)] => Some((UidValidity(validity), Uid(*u))),
                _ => None,
            },
            _ => None,
        };
        Appended { uid }
    });
    Ok((index, appended))
}

/// `UID STORE <uid> +FLAGS.SILENT (<flag>)` on the selected mailbox.
pub(crate) async fn uid_store_add(
    s: &mut ImapSession,
    uid: u32,
    flag: &Flag,
) -> Result<(), CmdError> {
    uid_store(s, &uid.to_string(), true, std::slice::from_ref(flag)).await
}

/// `UID STORE <set> +FLAGS.SILENT (<flags>)` (or `-FLAGS.SILENT` when `!add`) on the
/// selected mailbox.
pub(crate) async fn uid_store(
    s: &mut ImapSession,
    uid_set: &str,
    add: bool,
    flags: &[Flag],
) -> Result<(), CmdError> {
    const CMD: &str = "UID STORE";
    let sign = if add { '+' } else { '-' };
    let id = s
        .conn
        .send(&format!(
            "UID STORE {uid_set} {sign}FLAGS.SILENT ({})",
            flag_list(flags)
        ))
        .await?;
    s.conn.read_done(CMD, &id, |_| {}).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsed_fetch_responses_are_recognised() {
        let raw = b"* 4 FETCH UID 4 ((garbage\r\n";
        let got = unparsed_fetch(&Reply::Unparsed(raw)).unwrap();
        assert_eq!(got, "* 4 FETCH UID 4 ((garbage");
        assert!(unparsed_fetch(&Reply::Unparsed(b"* FOO 1\r\n")).is_none());
        assert!(unparsed_fetch(&Reply::Unparsed(b"* 1 EXPUNGE x\r\n")).is_none());
    }

    #[test]
    fn date_times() {
        assert!(is_date_time(" 1-Jan-2020 10:00:00 +0530"));
        assert!(is_date_time("31-Dec-1998 20:15:00 -0800"));
        assert!(!is_date_time("31-Dec-1998 20:15:00 -0800\" {5}"));
        assert!(!is_date_time("yesterday"));
    }
}
