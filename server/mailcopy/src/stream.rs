//! The byte stream under the IMAP sessions: TCP or TLS-over-TCP, with read/write timeouts on
//! the socket, and writes gathered until flush. Nothing here looks at IMAP bytes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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
        Pin::new(&mut self.get_mut().transport).poll_read(cx, buf)
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
