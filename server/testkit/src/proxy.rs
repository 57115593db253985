//! A test proxy: a loopback TCP port that forwards to another. It can hold every chunk for a
//! fixed delay in each direction (the kernel here has no netem), stall all traffic while a
//! test holds it, and hide STARTTLS from the server's capabilities (what a downgrading
//! man-in-the-middle, or an old plaintext-only host, looks like to a client). Used to slow a
//! copy down so that tests can watch it run, to keep a job running while a test acts, and to
//! show a server without encryption.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

/// How long a hold lasts at most: a test that forgets to release cannot stall a run forever.
const MAX_HOLD: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyOptions {
    /// Held before forwarding each chunk, in each direction.
    pub delay: Duration,
    /// Remove ` STARTTLS` from everything the server sends (capability lists). The bytes of
    /// messages fetched through such a proxy may be altered: use it for logins, not copies.
    pub strip_starttls: bool,
}

pub struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`, delaying chunks.
    pub fn start(target: u16, delay: Duration) -> Result<DelayProxy> {
        Self::start_with(
            target,
            ProxyOptions {
                delay,
                ..ProxyOptions::default()
            },
        )
    }

    pub fn start_with(target: u16, options: ProxyOptions) -> Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicBool::new(false));
        let (stopped, hold) = (stop.clone(), held.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            pump_both(client, server, options, hold.clone());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(DelayProxy { port, stop, held })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stalls all traffic (both directions, every connection) until [`DelayProxy::release`],
    /// or at most two minutes. Connections stay open: to the client it is a server that has
    /// stopped answering for a while.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.held.store(false, Ordering::SeqCst);
    }
}

fn pump_both(client: TcpStream, server: TcpStream, options: ProxyOptions, held: Arc<AtomicBool>) {
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let held2 = held.clone();
    let upstream = ProxyOptions {
        strip_starttls: false,
        ..options
    };
    std::thread::spawn(move || pump(client, server, upstream, held));
    std::thread::spawn(move || pump(server2, client2, options, held2));
}

fn pump(mut from: TcpStream, mut to: TcpStream, options: ProxyOptions, held: Arc<AtomicBool>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                std::thread::sleep(options.delay);
                let since = Instant::now();
                while held.load(Ordering::SeqCst) && since.elapsed() < MAX_HOLD {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let chunk = if options.strip_starttls {
                    strip(&buf[..n], b" STARTTLS")
                } else {
                    buf[..n].to_vec()
                };
                if to.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// `data` without any occurrence of `needle`.
fn strip(data: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(needle) {
            i += needle.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_removes_every_occurrence() {
        assert_eq!(
            super::strip(
                b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] x STARTTLS",
                b" STARTTLS"
            ),
            b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] x".to_vec()
        );
    }
}
