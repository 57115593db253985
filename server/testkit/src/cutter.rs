//! A fault-injecting proxy: forwards a loopback port to another and cuts connections at byte
//! offsets of the whole traffic drawn from a seeded generator, so a failure can be replayed
//! with the same seed: the gaps between cuts (bytes through the proxy, both directions, all
//! connections) are uniform in `[mean/2, 3·mean/2]`, and the connection that carries the byte
//! at a cut offset is closed on both sides at once, in the middle of whatever it was sending
//! (a FETCH answer, an APPEND literal, a login). After `max_cuts` cuts it only forwards, so a
//! copy can finish.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

/// Where connections are cut.
#[derive(Debug, Clone, Copy)]
pub struct CutPlan {
    /// Seeds the gaps between cuts (the k-th gap is the same for a seed).
    pub seed: u64,
    /// Mean bytes between two cuts.
    pub mean_bytes: u64,
    /// Cuts in all; then connections are left alone.
    pub max_cuts: u64,
}

pub struct CuttingProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
    connections: Arc<AtomicU64>,
}

/// What every connection of one proxy shares.
struct Traffic {
    plan: CutPlan,
    /// Bytes forwarded so far, both directions, all connections.
    seen: AtomicU64,
    /// The offset of the next cut.
    next_cut: AtomicU64,
    cuts: AtomicU64,
}

impl CuttingProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`.
    pub fn start(target: u16, plan: CutPlan) -> Result<CuttingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let traffic = Arc::new(Traffic {
            plan,
            seen: AtomicU64::new(0),
            next_cut: AtomicU64::new(gap(plan, 0)),
            cuts: AtomicU64::new(0),
        });
        let connections = Arc::new(AtomicU64::new(0));
        let (stopped, shared, conn_count) = (stop.clone(), traffic.clone(), connections.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        conn_count.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(("127.0.0.1", target)) {
                            forward(client, server, shared.clone());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(CuttingProxy {
            port,
            stop,
            traffic,
            connections,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> u64 {
        self.traffic.cuts.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Bytes forwarded so far.
    pub fn bytes(&self) -> u64 {
        self.traffic.seen.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The `k`-th gap between cuts (splitmix64 of seed and k: deterministic per seed), uniform in
/// `[mean/2, 3·mean/2)`.
pub fn gap(plan: CutPlan, k: u64) -> u64 {
    let mut z = plan
        .seed
        .wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let mean = plan.mean_bytes.max(2);
    mean / 2 + z % mean
}

impl Traffic {
    /// Counts `n` bytes; returns the offset within them where this connection is to be cut,
    /// if the next cut falls in them and cuts are left.
    fn pass(&self, n: u64) -> Option<u64> {
        let before = self.seen.fetch_add(n, Ordering::SeqCst);
        loop {
            let at = self.next_cut.load(Ordering::SeqCst);
            if at >= before + n || self.cuts.load(Ordering::SeqCst) >= self.plan.max_cuts {
                return None;
            }
            let k = self.cuts.load(Ordering::SeqCst) + 1;
            let next = at.max(before) + gap(self.plan, k);
            if self
                .next_cut
                .compare_exchange(at, next, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                self.cuts.fetch_add(1, Ordering::SeqCst);
                return Some(at.saturating_sub(before));
            }
        }
    }
}

/// Both directions of one connection.
fn forward(client: TcpStream, server: TcpStream, traffic: Arc<Traffic>) {
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let sockets = Arc::new((client.try_clone().ok(), server.try_clone().ok()));
    for (from, to) in [(client, server), (server2, client2)] {
        let (traffic, sockets) = (traffic.clone(), sockets.clone());
        std::thread::spawn(move || pump(from, to, &traffic, &sockets));
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    traffic: &Traffic,
    sockets: &(Option<TcpStream>, Option<TcpStream>),
) {
    let mut buf = [0u8; 8 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(offset) = traffic.pass(n as u64) {
            // Forward up to the cut, then close both sides in the middle of it.
            let send = (offset as usize).min(n);
            let _ = to.write_all(&buf[..send]);
            for s in [&sockets.0, &sockets.1].into_iter().flatten() {
                let _ = s.shutdown(Shutdown::Both);
            }
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_deterministic_and_in_range() {
        let plan = CutPlan {
            seed: 7,
            mean_bytes: 1000,
            max_cuts: 3,
        };
        for k in 0..100 {
            let c = gap(plan, k);
            assert_eq!(c, gap(plan, k));
            assert!((500..1500).contains(&c), "{c}");
        }
        let other = CutPlan { seed: 8, ..plan };
        assert!((0..20).any(|k| gap(plan, k) != gap(other, k)));
    }

    #[test]
    fn cuts_fall_at_the_planned_offsets_until_none_are_left() {
        let plan = CutPlan {
            seed: 1,
            mean_bytes: 100,
            max_cuts: 2,
        };
        let t = Traffic {
            plan,
            seen: AtomicU64::new(0),
            next_cut: AtomicU64::new(gap(plan, 0)),
            cuts: AtomicU64::new(0),
        };
        let first = gap(plan, 0);
        // Bytes before the first cut pass; the chunk holding it is cut at its offset.
        assert_eq!(t.pass(first - 10), None);
        assert_eq!(t.pass(20), Some(10));
        let mut cut = 1;
        for _ in 0..100 {
            if t.pass(50).is_some() {
                cut += 1;
            }
        }
        assert_eq!(cut, 2, "never more than max_cuts");
    }
}
