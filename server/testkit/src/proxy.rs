//! A test proxy: a loopback TCP port that forwards to another. It can hold every chunk for a
//! fixed delay in each direction (the kernel here has no netem), limit the client's upload
//! rate, stall all traffic while a test holds it, and hide STARTTLS from the server's
//! capabilities (what a downgrading man-in-the-middle, or an old plaintext-only host, looks
//! like to a client). Used to slow a copy down so that tests can watch it run, to keep a job
//! running while a test acts, to have a killed client's commands reach the server late, and
//! to show a server without encryption.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
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
    /// Client → server bytes per second at most (0: no limit), like a slow upload link. The
    /// client's bytes are read as soon as it sends them and queued here, then forwarded in
    /// slices of at most [`UPLOAD_SLICE`] bytes at that pace — all of them, even once the
    /// client has gone: the server goes on receiving a killed client's last commands.
    pub upstream_rate: usize,
}

/// The largest piece of the client's bytes forwarded at once under
/// [`ProxyOptions::upstream_rate`].
pub const UPLOAD_SLICE: usize = 1024;

pub struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    held: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
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
        let queued = Arc::new(AtomicUsize::new(0));
        let (stopped, hold, queue) = (stop.clone(), held.clone(), queued.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            pump_both(client, server, options, hold.clone(), queue.clone());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(DelayProxy {
            port,
            stop,
            held,
            queued,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Client bytes read and not yet forwarded to the server under
    /// [`ProxyOptions::upstream_rate`], over every connection (0 without a rate).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
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

fn pump_both(
    client: TcpStream,
    server: TcpStream,
    options: ProxyOptions,
    held: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
) {
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let held2 = held.clone();
    let upstream = ProxyOptions {
        strip_starttls: false,
        ..options
    };
    if options.upstream_rate > 0 {
        std::thread::spawn(move || pump_paced(client, server, upstream, held, queued));
    } else {
        std::thread::spawn(move || pump(client, server, upstream, held, false));
    }
    std::thread::spawn(move || pump(server2, client2, options, held2, true));
}

/// Waits while the proxy is held (at most [`MAX_HOLD`]).
fn wait_while_held(held: &AtomicBool) {
    let since = Instant::now();
    while held.load(Ordering::SeqCst) && since.elapsed() < MAX_HOLD {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The client → server direction under [`ProxyOptions::upstream_rate`]: a reader queues what
/// the client sends as it comes; this thread forwards it at the rate, to the end of the queue
/// even when the client is gone, then closes the server's side for writing.
fn pump_paced(
    from: TcpStream,
    mut to: TcpStream,
    options: ProxyOptions,
    held: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
) {
    let Ok(mut reader) = from.try_clone() else {
        return;
    };
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let queue = queued.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    queue.fetch_add(n, Ordering::SeqCst);
                    if tx.send(buf[..n].to_vec()).is_err() {
                        queue.fetch_sub(n, Ordering::SeqCst);
                        break;
                    }
                }
            }
        }
    });
    let rate = options.upstream_rate as f64;
    'chunks: for chunk in rx.iter() {
        std::thread::sleep(options.delay);
        for (i, piece) in chunk.chunks(UPLOAD_SLICE).enumerate() {
            wait_while_held(&held);
            if to.write_all(piece).is_err() {
                queued.fetch_sub(chunk.len() - i * UPLOAD_SLICE, Ordering::SeqCst);
                break 'chunks;
            }
            queued.fetch_sub(piece.len(), Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs_f64(piece.len() as f64 / rate));
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    // Also when the server failed first: the reader stops, what it had read is dropped.
    let _ = from.shutdown(Shutdown::Read);
    for rest in rx.iter() {
        queued.fetch_sub(rest.len(), Ordering::SeqCst);
    }
}

/// Forwards `from` to `to` until either fails. With `drain`, once `to` has failed `from` is
/// still read to its end (and dropped): a server keeps answering a client that has gone, and
/// its answers must not pile up unread (closing a socket with unread data resets it, which
/// could cut short the commands the server is still receiving from this proxy).
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    options: ProxyOptions,
    held: Arc<AtomicBool>,
    drain: bool,
) {
    let mut buf = [0u8; 16 * 1024];
    let mut gone = false;
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) if gone => {}
            Ok(n) => {
                std::thread::sleep(options.delay);
                wait_while_held(&held);
                let chunk = if options.strip_starttls {
                    strip(&buf[..n], b" STARTTLS")
                } else {
                    buf[..n].to_vec()
                };
                if to.write_all(&chunk).is_err() {
                    if !drain {
                        break;
                    }
                    gone = true;
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
