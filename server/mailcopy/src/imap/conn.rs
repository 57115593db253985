//! The connection after login: tagged commands out, framed and parsed responses in.
//!
//! This is the one place that reads from an IMAP server once async-imap has handed the
//! stream over (after the greeting, STARTTLS and the pre-login CAPABILITY). Every command is
//! written by [`Connection::send`] (or [`Connection::send_literal_command`] for APPEND), and
//! every response is read by [`Connection::read_until`], which also handles what a server
//! may send at any time, interleaved with pipelined commands:
//! - `* BYE` ends the session: the command fails as broken (the server's text kept: Exchange
//!   Online's `Session invalidated - AccessTokenExpired` arrives this way, even mid-APPEND);
//! - `[ALERT]` texts are logged and kept ([`Events::alerts`]) for the user to see;
//! - `* n EXISTS`, `* n EXPUNGE` are counted ([`Events`]);
//! - a response that cannot be parsed is logged with its raw text and skipped.
//!
//! Tags are `M1`, `M2`, ... per connection.

use imap_proto::{MailboxDatum, RequestId, Response, ResponseCode, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::{frame, Frame};
use super::parse::{parse, Reply};
use crate::error::{io_error, truncate, ConnectError};
use crate::stream::MailStream;

/// A command's tag.
pub(crate) type Tag = RequestId;

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
    /// The connection is closed, timed out, or ended by the server (BYE): drop the session
    /// and reconnect.
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

    /// As a [`ConnectError`] (a refusal becomes [`ConnectError::CommandFailed`]).
    pub(crate) fn into_connect_error(self) -> ConnectError {
        match self {
            CmdError::Refused { command, text, .. } => ConnectError::CommandFailed {
                command,
                server_text: text,
            },
            CmdError::Broken(e) => e,
        }
    }
}

impl From<ConnectError> for CmdError {
    fn from(e: ConnectError) -> Self {
        CmdError::Broken(e)
    }
}

/// Which of several commands in flight was answered, and how (its NO/BAD as `Err`).
pub(crate) type Answered = (usize, Result<DoneOk, CmdError>);

/// The end of a command that answered OK.
#[derive(Debug, Default)]
pub(crate) struct DoneOk {
    /// The response code of the tagged OK, for the codes the engine reads after OK.
    pub code: Option<ResponseCode<'static>>,
}

/// What the server said outside the answers to our commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Events {
    /// `[ALERT]` texts (at most [`MAX_ALERTS`], the first ones).
    pub alerts: Vec<String>,
    /// The last `* n EXISTS`.
    pub exists: Option<u32>,
    /// `* n EXPUNGE` responses seen.
    pub expunges: u64,
    /// Responses that could not be parsed (skipped).
    pub unparsed: u64,
    /// Successful answers carrying Gmail's `[THROTTLED]` hint.
    pub throttled: u64,
}

const MAX_ALERTS: usize = 8;

/// An authenticated (or authenticating) connection.
pub(crate) struct Connection {
    stream: MailStream,
    buf: Vec<u8>,
    /// Start of the bytes not yet handed out.
    head: usize,
    next_tag: u32,
    pub(crate) events: Events,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .field("next_tag", &self.next_tag)
            .finish_non_exhaustive()
    }
}

/// How much to read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Commands [`Connection::run_many`] sends before reading their answers.
pub(crate) const PIPELINE_MAX: usize = 64;

impl Connection {
    /// Takes over a stream on which no response is pending (async-imap's `into_inner()` after
    /// the pre-login commands).
    pub(crate) fn new(stream: MailStream) -> Self {
        Connection {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            head: 0,
            next_tag: 1,
            events: Events::default(),
        }
    }

    pub(crate) fn stream(&self) -> &MailStream {
        &self.stream
    }

    pub(crate) fn stream_mut(&mut self) -> &mut MailStream {
        &mut self.stream
    }

    fn tag(&mut self) -> Tag {
        let t = RequestId(format!("M{}", self.next_tag));
        self.next_tag += 1;
        t
    }

    /// Writes `tag command CRLF` and flushes. The line is never logged (LOGIN carries a
    /// password).
    pub(crate) async fn send(&mut self, command: &str) -> Result<Tag, CmdError> {
        let tag = self.tag();
        let written = async {
            self.stream.write_all(tag.0.as_bytes()).await?;
            self.stream.write_all(b" ").await?;
            self.stream.write_all(command.as_bytes()).await?;
            self.stream.write_all(b"\r\n").await?;
            self.stream.flush().await
        }
        .await;
        written.map_err(|e| CmdError::Broken(io_error(command_name(command), &e)))?;
        Ok(tag)
    }

    /// Sends several commands in one write (pipelined), then reads every answer: one round
    /// trip for all of them. Each untagged response goes to `on_reply` with the index of the
    /// first command not answered yet — servers answer pipelined commands in order (Dovecot,
    /// Cyrus, Gmail and Exchange all do; RFC 3501 §5.5 lets a server interleave only commands
    /// whose results cannot be confused, and the engine pipelines only commands whose untagged
    /// data it can tell apart or that the server must run one after the other: SELECT/EXAMINE
    /// and what reads the selected folder, CREATE, SUBSCRIBE, LIST then NAMESPACE then LSUB).
    /// Returns each command's own result, in order; the outer error is a broken connection.
    ///
    /// At most [`PIPELINE_MAX`] commands are sent before their answers are read: a server
    /// stops reading while its answers wait unread, and a client that writes on without
    /// reading would deadlock with it once both sockets' buffers are full.
    pub(crate) async fn run_many(
        &mut self,
        command: &'static str,
        lines: &[String],
        mut on_reply: impl FnMut(usize, &Reply<'_>),
    ) -> Result<Vec<Result<DoneOk, CmdError>>, CmdError> {
        let mut all = Vec::with_capacity(lines.len());
        for (k, chunk) in lines.chunks(PIPELINE_MAX).enumerate() {
            let base = k * PIPELINE_MAX;
            let done = self
                .run_chunk(command, chunk, |i, r| on_reply(base + i, r))
                .await?;
            all.extend(done);
        }
        Ok(all)
    }

    async fn run_chunk(
        &mut self,
        command: &'static str,
        lines: &[String],
        mut on_reply: impl FnMut(usize, &Reply<'_>),
    ) -> Result<Vec<Result<DoneOk, CmdError>>, CmdError> {
        let mut tags = Vec::with_capacity(lines.len());
        let mut out = Vec::new();
        for line in lines {
            let tag = self.tag();
            out.extend_from_slice(tag.0.as_bytes());
            out.push(b' ');
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            tags.push(tag);
        }
        let written = async {
            self.stream.write_all(&out).await?;
            self.stream.flush().await
        }
        .await;
        written.map_err(|e| CmdError::Broken(io_error(command, &e)))?;
        let mut results: Vec<Option<Result<DoneOk, CmdError>>> =
            (0..lines.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..lines.len()).collect();
        while let Some(&first) = pending.first() {
            let waiting: Vec<Tag> = pending.iter().map(|&i| tags[i].clone()).collect();
            let (k, done) = self
                .read_until(command, &waiting, |r| on_reply(first, r))
                .await?;
            let index = pending.remove(k);
            results[index] = Some(done);
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// Writes `tag command` whose last item is a literal announcement (`{n}` or `{n+}`), CRLF,
    /// without flushing: the caller sends the literal with [`Connection::send_bytes`].
    pub(crate) async fn send_literal_command(&mut self, command: &str) -> Result<Tag, CmdError> {
        let tag = self.tag();
        let written = async {
            self.stream.write_all(tag.0.as_bytes()).await?;
            self.stream.write_all(b" ").await?;
            self.stream.write_all(command.as_bytes()).await?;
            self.stream.write_all(b"\r\n").await
        }
        .await;
        written.map_err(|e| CmdError::Broken(io_error(command_name(command), &e)))?;
        Ok(tag)
    }

    /// Writes raw bytes (a literal, a SASL response line), then flushes if `flush`.
    pub(crate) async fn send_bytes(
        &mut self,
        stage: &'static str,
        bytes: &[u8],
        flush: bool,
    ) -> Result<(), CmdError> {
        let written = async {
            self.stream.write_all(bytes).await?;
            if flush {
                self.stream.flush().await?;
            }
            Ok::<(), std::io::Error>(())
        }
        .await;
        written.map_err(|e| CmdError::Broken(io_error(stage, &e)))
    }

    /// The next whole response, as the range of `buf` it occupies.
    async fn next_frame(
        &mut self,
        stage: &'static str,
    ) -> Result<std::ops::Range<usize>, CmdError> {
        loop {
            match frame(self.buf.get(self.head..).unwrap_or_default()) {
                Frame::Complete(n) => {
                    let range = self.head..self.head + n;
                    self.head += n;
                    return Ok(range);
                }
                Frame::TooLarge => {
                    return Err(CmdError::Broken(ConnectError::Protocol {
                        detail: format!("during {stage}: a response larger than accepted"),
                    }))
                }
                Frame::Incomplete(need) => {
                    // Drop what was handed out before reading more.
                    if self.head > 0 {
                        self.buf.drain(..self.head);
                        self.head = 0;
                    }
                    let want = need.saturating_sub(self.buf.len()).max(READ_CHUNK);
                    self.buf.reserve(want);
                    let n = self
                        .stream
                        .read_buf(&mut self.buf)
                        .await
                        .map_err(|e| CmdError::Broken(io_error(stage, &e)))?;
                    if n == 0 {
                        return Err(CmdError::Broken(ConnectError::ClosedByServer { stage }));
                    }
                }
            }
        }
    }

    /// Reads responses until the tagged answer to one of `tags` (several commands may be in
    /// flight), handing every other response to `on_reply`. Returns which of `tags` was
    /// answered and how: the outer error is a broken connection (closed, timed out, BYE), the
    /// inner one that command's own NO/BAD.
    pub(crate) async fn read_until(
        &mut self,
        command: &'static str,
        tags: &[Tag],
        mut on_reply: impl FnMut(&Reply<'_>),
    ) -> Result<Answered, CmdError> {
        loop {
            let range = self.next_frame(command).await?;
            let raw = self.buf.get(range).unwrap_or_default();
            let reply = parse(raw);
            if let Some(done) = note_events(&mut self.events, &reply, command, tags)? {
                return Ok(done);
            }
            on_reply(&reply);
        }
    }

    /// [`Connection::read_until`] for one command.
    pub(crate) async fn read_done(
        &mut self,
        command: &'static str,
        tag: &Tag,
        on_reply: impl FnMut(&Reply<'_>),
    ) -> Result<DoneOk, CmdError> {
        self.read_until(command, std::slice::from_ref(tag), on_reply)
            .await?
            .1
    }

    /// Sends `command` and reads until its answer.
    pub(crate) async fn run(
        &mut self,
        command: &'static str,
        line: &str,
        on_reply: impl FnMut(&Reply<'_>),
    ) -> Result<DoneOk, CmdError> {
        let tag = self.send(line).await?;
        self.read_done(command, &tag, on_reply).await
    }

    /// Reads until a continuation request (`+ ...`, returned with its text) or the tagged
    /// answer to `tag` (a refusal before the literal or SASL exchange: `Err(Refused)`; an OK
    /// without continuation is returned as `Ok(None)`).
    pub(crate) async fn read_continuation(
        &mut self,
        command: &'static str,
        tag: &Tag,
    ) -> Result<Option<String>, CmdError> {
        loop {
            let range = self.next_frame(command).await?;
            let raw = self.buf.get(range).unwrap_or_default();
            let reply = parse(raw);
            if let Reply::Parsed(Response::Continue(outcome)) = &reply {
                return Ok(Some(
                    outcome
                        .information
                        .as_deref()
                        .unwrap_or_default()
                        .to_string(),
                ));
            }
            // imap-proto wants `+ text`; a bare `+` (some servers) is a continuation too.
            if raw.starts_with(b"+") {
                let text = String::from_utf8_lossy(raw.get(1..).unwrap_or_default());
                return Ok(Some(text.trim().to_string()));
            }
            if let Some((_, done)) =
                note_events(&mut self.events, &reply, command, std::slice::from_ref(tag))?
            {
                return done.map(|_| None);
            }
        }
    }
}

/// The first word of a command line, for error messages.
fn command_name(line: &str) -> &'static str {
    let word = line.split(' ').next().unwrap_or_default();
    for known in [
        "SELECT",
        "EXAMINE",
        "LIST",
        "LSUB",
        "STATUS",
        "NAMESPACE",
        "FETCH",
        "APPEND",
        "STORE",
        "CREATE",
        "SUBSCRIBE",
        "CAPABILITY",
        "LOGIN",
        "AUTHENTICATE",
        "LOGOUT",
        "SEARCH",
        "ID",
        "GETQUOTAROOT",
        "UID",
        "NOOP",
        "UNSELECT",
        "CLOSE",
    ] {
        if word.eq_ignore_ascii_case(known) {
            return known;
        }
    }
    "a command"
}

/// The resp-text of an answer: known codes rendered back, unknown codes (which imap-proto
/// leaves in the text, e.g. `[OVERQUOTA]`) kept as they came.
pub(crate) fn outcome_text(code: Option<&ResponseCode<'_>>, info: Option<&str>) -> String {
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

/// The one place where responses that are not data for the running command are handled.
/// Returns the tagged answer if `reply` is one of `tags`'; `Err` for BYE.
fn note_events(
    events: &mut Events,
    reply: &Reply<'_>,
    command: &'static str,
    tags: &[Tag],
) -> Result<Option<Answered>, CmdError> {
    let resp = match reply {
        Reply::Parsed(r) => r,
        Reply::Unparsed(raw) => {
            events.unparsed += 1;
            tracing::debug!(
                during = command,
                response = %truncate(String::from_utf8_lossy(raw).trim_end().to_string()),
                "skipped a response that could not be parsed"
            );
            return Ok(None);
        }
        Reply::Namespace(_) | Reply::Status(_) => return Ok(None),
    };
    match resp {
        Response::Done {
            tag,
            status,
            outcome,
        } => {
            let Some(index) = tags.iter().position(|t| t == tag) else {
                tracing::debug!(during = command, tag = %tag.0, "answer to a command not waited for");
                return Ok(None);
            };
            let text = || outcome_text(outcome.code.as_ref(), outcome.information.as_deref());
            if matches!(outcome.code, Some(ResponseCode::Alert)) {
                note_alert(events, outcome.information.as_deref());
            }
            let done = match status {
                Status::Ok => {
                    // Gmail: `OK [THROTTLED]` on a successful answer is a hint to slow down.
                    if outcome
                        .information
                        .as_deref()
                        .is_some_and(|i| i.starts_with("[THROTTLED]"))
                    {
                        events.throttled += 1;
                    }
                    Ok(DoneOk {
                        code: outcome.code.as_ref().and_then(owned_code),
                    })
                }
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
            Ok(Some((index, done)))
        }
        Response::Data {
            status: Status::Bye,
            outcome,
        } => {
            // LOGOUT: BYE is the expected answer; its tagged OK (or the end of the stream)
            // follows.
            if command == "LOGOUT" {
                return Ok(None);
            }
            Err(CmdError::Broken(ConnectError::Rejected {
                server_text: format!(
                    "it ended the session during {command} (BYE {})",
                    outcome_text(outcome.code.as_ref(), outcome.information.as_deref())
                ),
            }))
        }
        Response::Data { outcome, .. } => {
            if matches!(outcome.code, Some(ResponseCode::Alert)) {
                note_alert(events, outcome.information.as_deref());
            }
            Ok(None)
        }
        Response::MailboxData(MailboxDatum::Exists(n)) => {
            events.exists = Some(*n);
            Ok(None)
        }
        Response::Expunge(_) => {
            events.expunges += 1;
            Ok(None)
        }
        _ => Ok(None),
    }
}

fn note_alert(events: &mut Events, text: Option<&str>) {
    let text = truncate(text.unwrap_or_default().to_string());
    tracing::warn!(alert = %text, "the server sent an ALERT");
    if events.alerts.len() < MAX_ALERTS {
        events.alerts.push(text);
    }
}

/// The response codes the engine reads after OK (imap-proto has `into_owned`, but not
/// `Clone`, on borrowed codes).
fn owned_code(c: &ResponseCode<'_>) -> Option<ResponseCode<'static>> {
    Some(match c {
        ResponseCode::AppendUid(v, set) => ResponseCode::AppendUid(*v, set.clone()),
        ResponseCode::CopyUid(v, a, b) => ResponseCode::CopyUid(*v, a.clone(), b.clone()),
        ResponseCode::UidValidity(v) => ResponseCode::UidValidity(*v),
        ResponseCode::UidNext(v) => ResponseCode::UidNext(*v),
        ResponseCode::ReadOnly => ResponseCode::ReadOnly,
        ResponseCode::ReadWrite => ResponseCode::ReadWrite,
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tags(v: &[&str]) -> Vec<Tag> {
        v.iter().map(|t| RequestId(t.to_string())).collect()
    }

    fn feed(
        events: &mut Events,
        raw: &[u8],
        command: &'static str,
        t: &[Tag],
    ) -> Result<Option<Answered>, CmdError> {
        note_events(events, &parse(raw), command, t)
    }

    #[test]
    fn tagged_answers_are_matched_by_tag() {
        let mut ev = Events::default();
        let t = tags(&["M1", "M2"]);
        let (i, done) = feed(&mut ev, b"M2 OK [APPENDUID 7 12] done\r\n", "APPEND", &t)
            .unwrap()
            .unwrap();
        assert_eq!(i, 1);
        assert!(matches!(
            done.unwrap().code,
            Some(ResponseCode::AppendUid(7, _))
        ));
        let (i, done) = feed(&mut ev, b"M1 NO [OVERQUOTA] full\r\n", "APPEND", &t)
            .unwrap()
            .unwrap();
        assert_eq!(i, 0);
        assert_eq!(
            done.unwrap_err(),
            CmdError::Refused {
                command: "APPEND",
                bad: false,
                text: "[OVERQUOTA] full".into()
            }
        );
        assert!(feed(&mut ev, b"M9 OK other\r\n", "APPEND", &t)
            .unwrap()
            .is_none());
    }

    #[test]
    fn bye_breaks_the_command_except_logout() {
        let mut ev = Events::default();
        let t = tags(&["M1"]);
        let e = feed(
            &mut ev,
            b"* BYE Session invalidated - AccessTokenExpired\r\n",
            "APPEND",
            &t,
        )
        .unwrap_err();
        assert!(e.describe().contains("AccessTokenExpired"), "{e:?}");
        assert!(feed(&mut ev, b"* BYE bye\r\n", "LOGOUT", &t)
            .unwrap()
            .is_none());
    }

    #[test]
    fn untagged_events_are_counted() {
        let mut ev = Events::default();
        let t = tags(&["M1"]);
        for raw in [
            &b"* 5 EXISTS\r\n"[..],
            b"* 3 EXPUNGE\r\n",
            b"* OK [ALERT] Please enable IMAP in settings\r\n",
            b"* WHATEVER this is\r\n",
            b"* 2 FETCH (FLAGS (\\Seen))\r\n",
        ] {
            assert!(feed(&mut ev, raw, "FETCH", &t).unwrap().is_none());
        }
        assert_eq!(ev.exists, Some(5));
        assert_eq!(ev.expunges, 1);
        assert_eq!(ev.unparsed, 1);
        assert_eq!(
            ev.alerts,
            vec!["Please enable IMAP in settings".to_string()]
        );
        feed(&mut ev, b"M1 OK [THROTTLED] done\r\n", "FETCH", &t)
            .unwrap()
            .unwrap()
            .1
            .unwrap();
        assert_eq!(ev.throttled, 1);
    }

    #[test]
    fn command_names() {
        assert_eq!(command_name("UID FETCH 1:* (FLAGS)"), "UID");
        assert_eq!(command_name("append x"), "APPEND");
        assert_eq!(command_name("LOGIN a b"), "LOGIN");
        assert_eq!(command_name("XYZZY"), "a command");
    }
}
