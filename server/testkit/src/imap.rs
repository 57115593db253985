//! A deliberately tiny, blocking IMAP client for tests and for seeding mailboxes.
//!
//! It is NOT the product's IMAP code (that lives in `mailcopy`): it speaks just enough IMAP
//! to check greetings, log in, run simple commands and APPEND with flags and a date.
//! Responses are returned as raw lines; a literal inside a response line (`{N}\r\n…`) is
//! read and inlined (lossily as UTF-8), so line-based inspection works for LIST, STATUS,
//! small FETCHes and the like. Every socket operation has a timeout, so a test never hangs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// Socket read/write timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only transiently, while switching to TLS.
    Gone,
}

impl Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => Err(std::io::Error::other("connection is gone")),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(buf).and_then(|()| s.flush()),
            Conn::Tls(s) => s.write_all(buf).and_then(|()| s.flush()),
            Conn::Gone => Err(std::io::Error::other("connection is gone")),
        }
    }
}

/// Minimal blocking IMAP client (see the module docs for what it does not do).
pub struct ImapClient {
    conn: Conn,
    buf: Vec<u8>,
    greeting: String,
    next_tag: u32,
}

/// A rustls client config trusting exactly the CA(s) in `ca_pem`.
pub fn tls_config(ca_pem: &str) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.context("parsing CA PEM")?)
            .context("adding CA certificate")?;
    }
    if roots.is_empty() {
        bail!("no certificate found in CA PEM");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tcp(port: u16, timeout: Duration) -> Result<TcpStream> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(2)))
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn tls_wrap(
    stream: TcpStream,
    ca_pem: &str,
    server_name: &str,
) -> Result<StreamOwned<ClientConnection, TcpStream>> {
    let name = ServerName::try_from(server_name.to_owned())
        .with_context(|| format!("invalid TLS server name {server_name:?}"))?;
    let conn = ClientConnection::new(tls_config(ca_pem)?, name).context("TLS client")?;
    let mut tls = StreamOwned::new(conn, stream);
    // Drive the handshake now so certificate errors surface here.
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .context("TLS handshake")?;
    }
    Ok(tls)
}

impl ImapClient {
    /// Plain TCP connection to 127.0.0.1:`port`; reads the greeting.
    pub fn connect_plain(port: u16) -> Result<ImapClient> {
        Self::connect_plain_with_timeout(port, IO_TIMEOUT)
    }

    /// Like [`ImapClient::connect_plain`] with a custom socket timeout (default 15 s).
    pub fn connect_plain_with_timeout(port: u16, timeout: Duration) -> Result<ImapClient> {
        Self::with_conn(Conn::Plain(tcp(port, timeout)?))
    }

    /// Implicit TLS to 127.0.0.1:`port`, verifying the server as `localhost` against `ca_pem`.
    pub fn connect_tls(port: u16, ca_pem: &str) -> Result<ImapClient> {
        Self::connect_tls_as(port, ca_pem, "localhost")
    }

    /// Implicit TLS, verifying the certificate for `server_name` (e.g. `"127.0.0.1"`).
    pub fn connect_tls_as(port: u16, ca_pem: &str, server_name: &str) -> Result<ImapClient> {
        Self::connect_tls_with_timeout(port, ca_pem, server_name, IO_TIMEOUT)
    }

    /// Implicit TLS with a custom socket timeout (default 15 s).
    pub fn connect_tls_with_timeout(
        port: u16,
        ca_pem: &str,
        server_name: &str,
        timeout: Duration,
    ) -> Result<ImapClient> {
        let tls = tls_wrap(tcp(port, timeout)?, ca_pem, server_name)?;
        Self::with_conn(Conn::Tls(Box::new(tls)))
    }

    fn with_conn(conn: Conn) -> Result<ImapClient> {
        let mut client = ImapClient {
            conn,
            buf: Vec::new(),
            greeting: String::new(),
            next_tag: 1,
        };
        client.greeting = client.read_line().context("reading greeting")?;
        Ok(client)
    }

    /// The server greeting line (without CRLF), e.g. `* OK [CAPABILITY …] Dovecot ready.`
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// True once the connection is TLS (implicit or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
    }

    /// STARTTLS, verifying the server as `localhost` against `ca_pem`.
    pub fn starttls(&mut self, ca_pem: &str) -> Result<()> {
        self.command("STARTTLS")?;
        if !self.buf.is_empty() {
            bail!("server sent data after STARTTLS OK");
        }
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            bail!("STARTTLS on a connection that is not plain");
        };
        self.conn = Conn::Tls(Box::new(tls_wrap(tcp, ca_pem, "localhost")?));
        Ok(())
    }

    /// LOGIN with both arguments sent as LITERAL+ literals (any bytes except CR/LF are fine).
    pub fn login(&mut self, login: &str, password: &str) -> Result<()> {
        let tag = self.tag();
        let mut cmd = format!("{tag} LOGIN {{{}+}}\r\n", login.len()).into_bytes();
        cmd.extend_from_slice(login.as_bytes());
        cmd.extend_from_slice(format!(" {{{}+}}\r\n", password.len()).as_bytes());
        cmd.extend_from_slice(password.as_bytes());
        cmd.extend_from_slice(b"\r\n");
        self.conn.write_all(&cmd).context("sending LOGIN")?;
        self.finish(&tag, "LOGIN").map(|_| ())
    }

    /// Sends `TAG <command>` and returns every response line (untagged ones, then the tagged
    /// one). Fails if the tagged status is not OK.
    pub fn command(&mut self, command: &str) -> Result<Vec<String>> {
        let tag = self.tag();
        self.conn
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .with_context(|| format!("sending {command}"))?;
        self.finish(&tag, command)
    }

    /// APPEND `raw` to `mailbox` (a UTF-8 name, full path incl. any namespace prefix; it is
    /// encoded to modified UTF-7 here) with `flags` (e.g. `["\\Seen", "$Label1"]`) and an
    /// optional INTERNALDATE in IMAP syntax (`"01-Jan-2020 10:00:00 +0000"`).
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: &[&str],
        internaldate: Option<&str>,
        raw: &[u8],
    ) -> Result<Vec<String>> {
        let tag = self.tag();
        let name = encode_mailbox_name(mailbox);
        let mut cmd = format!(
            "{tag} APPEND {{{}+}}\r\n{name} ({})",
            name.len(),
            flags.join(" ")
        )
        .into_bytes();
        if let Some(date) = internaldate {
            cmd.extend_from_slice(format!(" \"{date}\"").as_bytes());
        }
        cmd.extend_from_slice(format!(" {{{}+}}\r\n", raw.len()).as_bytes());
        cmd.extend_from_slice(raw);
        cmd.extend_from_slice(b"\r\n");
        self.conn.write_all(&cmd).context("sending APPEND")?;
        self.finish(&tag, "APPEND")
    }

    /// LOGOUT (errors ignored: the server may close first).
    pub fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }

    fn tag(&mut self) -> String {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    fn finish(&mut self, tag: &str, what: &str) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let line = self
                .read_line()
                .with_context(|| format!("reading {what} response"))?;
            let tagged = line
                .strip_prefix(tag)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(str::to_owned);
            lines.push(line);
            if let Some(status) = tagged {
                if status.starts_with("OK") {
                    return Ok(lines);
                }
                bail!("{what} failed: {status}");
            }
        }
    }

    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        // A read with a timeout can be interrupted by a signal (EINTR) when the process is
        // stopped and resumed under load: that is no error, read again.
        let n = loop {
            match self.conn.read(&mut chunk) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.context("reading from server")?,
            }
        };
        if n == 0 {
            bail!("server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One response line without CRLF; literals announced at the end of a line are inlined.
    fn read_line(&mut self) -> Result<String> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let pos = loop {
                if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break pos;
                }
                self.fill()?;
            };
            let part: Vec<u8> = self.buf.drain(..pos + 2).take(pos).collect();
            out.extend_from_slice(&part);
            let Some(len) = literal_len(&part) else {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            };
            while self.buf.len() < len {
                self.fill()?;
            }
            out.extend_from_slice(b"\r\n");
            out.extend(self.buf.drain(..len));
        }
    }
}

/// `Some(N)` if `line` ends with `{N}`.
fn literal_len(line: &[u8]) -> Option<usize> {
    let rest = line.strip_suffix(b"}")?;
    let open = rest.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&rest[open + 1..]).ok()?.parse().ok()
}

/// Encodes a UTF-8 mailbox name to IMAP modified UTF-7 (RFC 3501 §5.1.3).
pub fn encode_mailbox_name(name: &str) -> String {
    fn flush(out: &mut String, pending: &mut Vec<u16>) {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&modified_base64(&bytes));
        out.push('-');
        pending.clear();
    }
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if c == '&' {
            flush(&mut out, &mut pending);
            out.push_str("&-");
        } else if (' '..='~').contains(&c) {
            flush(&mut out, &mut pending);
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut pending);
    out
}

fn modified_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4; no padding
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutf7() {
        assert_eq!(encode_mailbox_name("INBOX"), "INBOX");
        assert_eq!(encode_mailbox_name("Grüße"), "Gr&APwA3w-e");
        assert_eq!(encode_mailbox_name("a&b"), "a&-b");
        assert_eq!(encode_mailbox_name("日本語"), "&ZeVnLIqe-");
        assert_eq!(encode_mailbox_name("😀"), "&2D3eAA-");
    }

    #[test]
    fn literal_suffix() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {12}"), Some(12));
        assert_eq!(literal_len(b"* OK done"), None);
        assert_eq!(literal_len(b"{x}"), None);
    }
}
