//! The byte stream under async-imap: TCP or TLS-over-TCP, with read/write timeouts on the
//! socket, plus a small filter that can pull untagged responses which imap-proto cannot parse
//! (e.g. `* NAMESPACE`) out of the stream before async-imap sees them.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::{client::TlsStream, TlsConnector};

use crate::error::{io_error, ConnectError};
use crate::net::parse_ip_literal;

/// TCP with read and write timeouts. TLS sits on top of it, so the timeouts govern the socket
/// itself (handshake included) and STARTTLS can wrap the same value.
pub(crate) type Timed = Pin<Box<TimeoutStream<TcpStream>>>;

pub(crate) fn timed(tcp: TcpStream, io_timeout: Duration) -> Timed {
    let mut s = TimeoutStream::new(tcp);
    s.set_read_timeout(Some(io_timeout));
    s.set_write_timeout(Some(io_timeout));
    Box::pin(s)
}

enum Transport {
    Plain(Timed),
    Tls(Box<TlsStream<Timed>>),
}

/// The stream type the engine's IMAP sessions run over.
pub struct MailStream {
    transport: Transport,
    peer: Option<SocketAddr>,
    filter: Option<CaptureFilter>,
    /// Bytes already read and filtered, not yet handed to the reader.
    out: Vec<u8>,
    out_pos: usize,
    /// Writes gathered until the next flush. async-imap writes a command as four pieces (tag,
    /// space, command, CRLF) and flushes after each command; without this, each piece would
    /// become its own TLS record and TCP segment, and the server would wake up for each.
    pending: Vec<u8>,
}

/// Writes larger than this go out at once instead of being gathered.
const GATHER_LIMIT: usize = 16 * 1024;

impl fmt::Debug for MailStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailStream")
            .field("tls", &self.is_tls())
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl MailStream {
    pub(crate) fn plain(timed: Timed) -> Self {
        let peer = TimeoutStream::get_ref(&timed).peer_addr().ok();
        Self::new(Transport::Plain(timed), peer)
    }

    fn new(transport: Transport, peer: Option<SocketAddr>) -> Self {
        MailStream {
            transport,
            peer,
            filter: None,
            out: Vec::new(),
            out_pos: 0,
            pending: Vec::new(),
        }
    }

    /// Sends what was gathered.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = match Pin::new(&mut self.transport).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "connection closed while writing",
                )));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// The server's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Changes the read and write timeouts of the socket.
    pub fn set_io_timeout(&mut self, timeout: Duration) {
        let timed = match &mut self.transport {
            Transport::Plain(t) => t,
            Transport::Tls(t) => t.get_mut().0,
        };
        timed.as_mut().set_read_timeout_pinned(Some(timeout));
        timed.as_mut().set_write_timeout_pinned(Some(timeout));
    }

    /// Wraps the plain connection in TLS (implicit TLS, or after STARTTLS).
    pub(crate) async fn start_tls(
        self,
        host: &str,
        config: Arc<ClientConfig>,
    ) -> Result<MailStream, ConnectError> {
        let timed = match self.transport {
            Transport::Plain(t) => t,
            Transport::Tls(_) => {
                return Err(ConnectError::Protocol {
                    detail: "TLS was started twice".to_string(),
                });
            }
        };
        // Any bytes read but not yet consumed are dropped on purpose: plaintext that arrived
        // before the handshake must never be taken as coming from the TLS session.
        let name = server_name(host)?;
        let tls = TlsConnector::from(config)
            .connect(name, timed)
            .await
            .map_err(|e| io_error("TLS handshake", &e))?;
        Ok(Self::new(Transport::Tls(Box::new(tls)), self.peer))
    }

    /// From now on, untagged responses `* <keyword> ...` are taken out of the stream and kept
    /// until [`MailStream::end_capture`]. Call between commands only.
    pub(crate) fn begin_capture(&mut self, keyword: &str) {
        self.filter = Some(CaptureFilter::new(keyword));
    }

    /// Stops capturing and returns the captured responses (raw, CRLF included).
    pub(crate) fn end_capture(&mut self) -> Vec<Vec<u8>> {
        match self.filter.take() {
            Some(mut f) => {
                // An undecided line start goes on to the reader.
                let pending = std::mem::take(&mut f.head);
                self.push_out(&pending);
                f.captured
            }
            None => Vec::new(),
        }
    }

    fn push_out(&mut self, bytes: &[u8]) {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        self.out.extend_from_slice(bytes);
    }
}

pub(crate) fn server_name(
    host: &str,
) -> Result<rustls_pki_types::ServerName<'static>, ConnectError> {
    if let Some(ip) = parse_ip_literal(host) {
        return Ok(rustls_pki_types::ServerName::IpAddress(ip.into()));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    rustls_pki_types::ServerName::try_from(name.to_string()).map_err(|_| {
        ConnectError::InvalidInput {
            detail: format!("{host} is not a valid host name"),
        }
    })
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(t) => t.as_mut().poll_read(cx, buf),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(t) => t.as_mut().poll_write(cx, buf),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(t) => t.as_mut().poll_flush(cx),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(t) => t.as_mut().poll_shutdown(cx),
            Transport::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_pos);
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let Some(filter) = this.filter.as_mut() else {
                return Pin::new(&mut this.transport).poll_read(cx, buf);
            };
            let mut tmp = [0u8; 4096];
            let mut rb = ReadBuf::new(&mut tmp);
            ready!(Pin::new(&mut this.transport).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                filter.finish(&mut this.out);
                if this.out.is_empty() {
                    return Poll::Ready(Ok(())); // end of stream
                }
            } else {
                filter.feed(rb.filled(), &mut this.out);
            }
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.pending.len() + buf.len() > GATHER_LIMIT {
            match me.poll_send_pending(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other.map_ok(|()| 0),
            }
            if buf.len() > GATHER_LIMIT {
                return Pin::new(&mut me.transport).poll_write(cx, buf);
            }
        }
        me.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        match me.poll_send_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut me.transport).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        match me.poll_send_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut me.transport).poll_shutdown(cx),
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterState {
    /// At the start of a response line, deciding whether it is one we capture.
    LineStart,
    /// Inside a line (before its CRLF).
    InLine { capture: bool },
    /// Inside a `{n}` literal: `remaining` bytes belong to the response whatever they hold.
    Literal { capture: bool, remaining: usize },
}

/// Splits the server's byte stream into responses (lines plus literals) and keeps those that
/// start with `* KEYWORD `.
struct CaptureFilter {
    pattern: Vec<u8>,
    state: FilterState,
    head: Vec<u8>,
    /// Last bytes of the current line segment, to spot a `{n}` literal announcement.
    seg_tail: Vec<u8>,
    current: Vec<u8>,
    captured: Vec<Vec<u8>>,
}

const TAIL: usize = 24;

impl CaptureFilter {
    fn new(keyword: &str) -> Self {
        CaptureFilter {
            pattern: format!("* {} ", keyword.to_ascii_uppercase()).into_bytes(),
            state: FilterState::LineStart,
            head: Vec::new(),
            seg_tail: Vec::new(),
            current: Vec::new(),
            captured: Vec::new(),
        }
    }

    fn remember(&mut self, bytes: &[u8]) {
        self.seg_tail.extend_from_slice(bytes);
        if self.seg_tail.len() > TAIL {
            let cut = self.seg_tail.len() - TAIL;
            self.seg_tail.drain(..cut);
        }
    }

    fn emit(&mut self, capture: bool, bytes: &[u8], out: &mut Vec<u8>) {
        if capture {
            self.current.extend_from_slice(bytes);
        } else {
            out.extend_from_slice(bytes);
        }
    }

    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < data.len() {
            match self.state {
                FilterState::LineStart => {
                    self.head.push(data[i]);
                    i += 1;
                    let n = self.head.len();
                    if self.head.eq_ignore_ascii_case(&self.pattern[..n]) {
                        if n == self.pattern.len() {
                            let head = std::mem::take(&mut self.head);
                            self.seg_tail.clear();
                            self.remember(&head);
                            self.current = head;
                            self.state = FilterState::InLine { capture: true };
                        }
                    } else {
                        // Not ours: hand over what was held back (it holds no LF, since the
                        // pattern has none) and re-read the deciding byte as part of the line.
                        let head = std::mem::take(&mut self.head);
                        let held = &head[..n - 1];
                        out.extend_from_slice(held);
                        self.seg_tail.clear();
                        self.remember(held);
                        self.state = FilterState::InLine { capture: false };
                        i -= 1;
                    }
                }
                FilterState::InLine { capture } => {
                    let rest = &data[i..];
                    let (chunk, ended) = match rest.iter().position(|b| *b == b'\n') {
                        Some(p) => (&rest[..=p], true),
                        None => (rest, false),
                    };
                    i += chunk.len();
                    self.emit(capture, chunk, out);
                    self.remember(chunk);
                    if ended {
                        let literal = literal_len(&self.seg_tail);
                        self.seg_tail.clear();
                        match literal {
                            Some(remaining) if remaining > 0 => {
                                self.state = FilterState::Literal { capture, remaining }
                            }
                            Some(_) => self.state = FilterState::InLine { capture },
                            None => {
                                if capture {
                                    let done = std::mem::take(&mut self.current);
                                    self.captured.push(done);
                                }
                                self.state = FilterState::LineStart;
                            }
                        }
                    }
                }
                FilterState::Literal { capture, remaining } => {
                    let take = remaining.min(data.len() - i);
                    self.emit(capture, &data[i..i + take], out);
                    i += take;
                    let remaining = remaining - take;
                    self.state = if remaining == 0 {
                        FilterState::InLine { capture }
                    } else {
                        FilterState::Literal { capture, remaining }
                    };
                }
            }
        }
    }

    /// End of stream: release whatever is held back.
    fn finish(&mut self, out: &mut Vec<u8>) {
        let head = std::mem::take(&mut self.head);
        out.extend_from_slice(&head);
        if !self.current.is_empty() {
            let partial = std::mem::take(&mut self.current);
            self.captured.push(partial);
        }
        self.state = FilterState::LineStart;
    }
}

/// `... {123}\r\n` or `... {123+}\r\n` → Some(123).
fn literal_len(line_tail: &[u8]) -> Option<usize> {
    let t = line_tail.strip_suffix(b"\n")?;
    let t = t.strip_suffix(b"\r").unwrap_or(t);
    let t = t.strip_suffix(b"}")?;
    let t = t.strip_suffix(b"+").unwrap_or(t);
    let open = t.iter().rposition(|b| *b == b'{')?;
    let digits = &t[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn run(input: &[u8], chunk: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut f = CaptureFilter::new("namespace");
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            f.feed(c, &mut out);
        }
        f.finish(&mut out);
        (out, f.captured)
    }

    #[test]
    fn captures_namespace_in_any_chunking() {
        let input: &[u8] = b"* OK still here\r\n* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n\
* 1 FETCH (BODY[] {28}\r\n* NAMESPACE fake\r\n0123456789)\r\nA3 OK done\r\n\
* namespace (({5}\r\nINBOX \"/\")) NIL NIL\r\n";
        for chunk in [1, 2, 3, 7, 13, 4096] {
            let (out, captured) = run(input, chunk);
            assert_eq!(
                String::from_utf8_lossy(&out),
                "* OK still here\r\n* 1 FETCH (BODY[] {28}\r\n* NAMESPACE fake\r\n0123456789)\r\nA3 OK done\r\n",
                "chunk {chunk}"
            );
            assert_eq!(captured.len(), 2, "chunk {chunk}");
            assert_eq!(captured[0], b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n");
            assert_eq!(
                captured[1],
                b"* namespace (({5}\r\nINBOX \"/\")) NIL NIL\r\n"
            );
        }
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_len(b"abc {12}\r\n"), Some(12));
        assert_eq!(literal_len(b"abc {0+}\r\n"), Some(0));
        assert_eq!(literal_len(b"abc {x}\r\n"), None);
        assert_eq!(literal_len(b"abc\r\n"), None);
        assert_eq!(literal_len(b"{}\r\n"), None);
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(rustls_pki_types::ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("[::1]"),
            Ok(rustls_pki_types::ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("imap.example.org."),
            Ok(rustls_pki_types::ServerName::DnsName(_))
        ));
        assert!(server_name("bad name!").is_err());
    }
}
