//! A proxy that ends sessions the way Exchange Online does when an access token expires:
//! `* BYE Session invalidated - AccessTokenExpired`, at any point of a session, even in the
//! middle of an APPEND. It forwards a loopback port to another (plain IMAP: it reads the
//! client's command lines) and counts the APPEND command lines of all its connections; at
//! each count listed in `at` it forwards that APPEND line (not its literal: the server is left
//! waiting for the message), drops the server side, answers the client with the BYE and
//! closes.
//!
//! The line scanner looks at the start of every line the client sends, message literals
//! included: a message line starting with `<word> APPEND ` would count too (test messages do
//! not have one).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::Result;

/// What Exchange Online sends when a session's access token expires.
pub const ACCESS_TOKEN_EXPIRED: &[u8] = b"* BYE Session invalidated - AccessTokenExpired\r\n";

pub struct ByeProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

struct Shared {
    /// The APPEND counts (1-based, all connections) at which a session is ended.
    at: Vec<u64>,
    appends: AtomicU64,
    byes: AtomicU64,
}

impl ByeProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`, ending the session
    /// at the `at`-th APPEND commands.
    pub fn start(target: u16, at: &[u64]) -> Result<ByeProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            at: at.to_vec(),
            appends: AtomicU64::new(0),
            byes: AtomicU64::new(0),
        });
        let (stopped, state) = (stop.clone(), shared.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            let _ = client.set_nodelay(true);
                            let _ = server.set_nodelay(true);
                            connection(client, server, state.clone());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(ByeProxy { port, stop, shared })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// APPEND command lines seen so far.
    pub fn appends(&self) -> u64 {
        self.shared.appends.load(Ordering::SeqCst)
    }

    /// Sessions ended with the BYE so far.
    pub fn byes(&self) -> u64 {
        self.shared.byes.load(Ordering::SeqCst)
    }
}

impl Drop for ByeProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Finds APPEND command lines in a byte stream fed in pieces. Only a line's first bytes are
/// kept.
#[derive(Default)]
pub struct AppendScanner {
    line: Vec<u8>,
    /// This line is an APPEND command (decided once its first words are in).
    append: bool,
    /// The current line is longer than what is kept.
    long: bool,
}

const KEPT: usize = 64;

impl AppendScanner {
    /// Feeds `data`; returns the offsets just after each APPEND command line's end (`\n`).
    pub fn feed(&mut self, data: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' {
                if self.append || (!self.long && is_append(&self.line)) {
                    ends.push(i + 1);
                }
                self.line.clear();
                self.append = false;
                self.long = false;
                continue;
            }
            if self.line.len() < KEPT {
                self.line.push(b);
                if !self.append && is_append(&self.line) {
                    self.append = true;
                }
            } else {
                self.long = true;
            }
        }
        ends
    }
}

/// `TAG APPEND ` at the start of `line` (case-insensitive).
fn is_append(line: &[u8]) -> bool {
    let Some(space) = line.iter().position(|&b| b == b' ') else {
        return false;
    };
    let rest = &line[space + 1..];
    space > 0 && rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"APPEND ")
}

fn connection(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (Ok(client_out), Ok(server_in)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    // Server → client, until the server side ends; says whether its last byte ended a line.
    let (done_tx, done_rx) = mpsc::channel::<bool>();
    std::thread::spawn(move || {
        let (mut from, mut to) = (server_in, client_out);
        let mut buf = [0u8; 16 * 1024];
        let mut at_line_end = true;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            at_line_end = buf[n - 1] == b'\n';
        }
        let _ = done_tx.send(at_line_end);
    });
    std::thread::spawn(move || {
        let (mut from, mut to) = (client, server);
        let mut scanner = AppendScanner::default();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let mut end_at = None;
            for end in scanner.feed(chunk) {
                let k = shared.appends.fetch_add(1, Ordering::SeqCst) + 1;
                if shared.at.contains(&k) {
                    end_at = Some(end);
                    break;
                }
            }
            let Some(end) = end_at else {
                if to.write_all(chunk).is_err() {
                    break;
                }
                continue;
            };
            // The APPEND line reaches the server, its message does not.
            let _ = to.write_all(&chunk[..end]);
            let _ = to.shutdown(Shutdown::Both);
            // Everything the server had sent is forwarded before the BYE, which then starts
            // a line of its own.
            let at_line_end = done_rx.recv_timeout(Duration::from_secs(5)).unwrap_or(true);
            if !at_line_end {
                let _ = from.write_all(b"\r\n");
            }
            let _ = from.write_all(ACCESS_TOKEN_EXPIRED);
            let _ = from.shutdown(Shutdown::Both);
            shared.byes.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_lines_are_found_across_pieces() {
        let mut s = AppendScanner::default();
        let stream = b"a1 LOGIN x y\r\nA2 append INBOX (\\Seen) {5+}\r\nhello\r\nA3 APPEND \"Sent\" {3}\r\nabc\r\nA4 NOOP\r\n";
        let mut ends = Vec::new();
        // Byte by byte, the hardest split.
        for (i, b) in stream.iter().enumerate() {
            ends.extend(s.feed(&[*b]).into_iter().map(|e| e + i));
        }
        let line_end = |needle: &[u8]| {
            let at = stream
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap();
            at + stream[at..].iter().position(|&b| b == b'\n').unwrap() + 1
        };
        assert_eq!(ends, vec![line_end(b"A2 append"), line_end(b"A3 APPEND")]);
        // All at once: the same.
        let mut whole = AppendScanner::default();
        assert_eq!(whole.feed(stream), ends);
        assert!(!is_append(b" APPEND x"));
        assert!(!is_append(b"A1 APPENDX"));
    }
}
