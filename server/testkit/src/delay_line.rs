//! A cheap latency proxy for benchmarks: every chunk read is forwarded one fixed delay later,
//! keeping its place in the stream but **not** waiting for the chunks before it, so pipelined
//! traffic keeps its throughput (a link with latency, not a slower link). Unlike
//! [`crate::proxy::DelayProxy`], which sleeps per chunk and is meant for tests, this one is
//! for measuring: per connection and direction one reader and one writer thread with a queue
//! between them, reads of up to 256 KiB, no copying beyond the one buffer per chunk.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

const CHUNK: usize = 256 * 1024;

/// A listener on a free loopback port forwarding to `127.0.0.1:target` with `one_way` delay
/// in each direction. Runs until the process ends.
pub struct DelayLine {
    port: u16,
}

impl DelayLine {
    pub fn start(target: u16, one_way: Duration) -> Result<DelayLine> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the delay line")?;
        let port = listener.local_addr()?.port();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                match TcpStream::connect(("127.0.0.1", target)) {
                    Ok(server) => {
                        if let Err(e) = join(client, server, one_way) {
                            eprintln!("delay line: {e:#}");
                        }
                    }
                    Err(e) => eprintln!("delay line: connecting to port {target}: {e}"),
                }
            }
        });
        Ok(DelayLine { port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

fn join(client: TcpStream, server: TcpStream, one_way: Duration) -> Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    pipe(client.try_clone()?, server.try_clone()?, one_way);
    pipe(server, client, one_way);
    Ok(())
}

/// The chunks read and not yet written, each with the instant it may be written; `None` data
/// is the end of the stream.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<(Instant, Option<Vec<u8>>)>,
}

fn pipe(mut from: TcpStream, mut to: TcpStream, one_way: Duration) {
    let queue = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
    let q = queue.clone();
    thread::spawn(move || {
        let push = |chunk: Option<Vec<u8>>| {
            let (lock, ready) = &*q;
            if let Ok(mut g) = lock.lock() {
                g.chunks.push_back((Instant::now() + one_way, chunk));
                ready.notify_one();
            }
        };
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    push(None);
                    return;
                }
                Ok(n) => push(Some(buf[..n].to_vec())),
            }
        }
    });
    thread::spawn(move || {
        let (lock, ready) = &*queue;
        loop {
            let next = {
                let Ok(mut g) = lock.lock() else { return };
                loop {
                    if let Some(front) = g.chunks.pop_front() {
                        break front;
                    }
                    g = match ready.wait(g) {
                        Ok(g) => g,
                        Err(_) => return,
                    };
                }
            };
            let (due, chunk) = next;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            match chunk {
                Some(data) => {
                    if to.write_all(&data).is_err() {
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                }
                None => {
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn delays_without_serialising() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = echo.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => s.write_all(&buf[..n]).unwrap(),
                }
            }
        });
        let line = DelayLine::start(target, Duration::from_millis(30)).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", line.port())).unwrap();
        let start = Instant::now();
        // Ten writes in a row: all ten answers arrive after one round trip, not ten.
        for i in 0..10u8 {
            c.write_all(&[i]).unwrap();
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while got.len() < 10 {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let took = start.elapsed();
        assert_eq!(got, (0..10).collect::<Vec<u8>>());
        assert!(took >= Duration::from_millis(60), "{took:?}");
        assert!(took < Duration::from_millis(60 * 5), "{took:?}");
    }
}
