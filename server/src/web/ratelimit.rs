//! A small fixed-window rate limiter per client address, for Validate (which makes outbound
//! connections on the user's behalf). Hand-written: a map and a counter; the well-known crates
//! (governor, tower_governor) bring a middleware shape that does not fit server functions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request; false when the client is over its limit for the current window.
    pub fn check(&self, client: Option<IpAddr>) -> bool {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: Option<IpAddr>, now: Instant) -> bool {
        if self.limit == 0 {
            return true;
        }
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > 100_000 {
            let window = self.window;
            hits.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = hits.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client_and_window() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        let t0 = Instant::now();
        assert!(limiter.check_at(a, t0));
        assert!(limiter.check_at(a, t0));
        assert!(!limiter.check_at(a, t0));
        assert!(limiter.check_at(b, t0));
        assert!(limiter.check_at(a, t0 + Duration::from_secs(61)));
        assert!(RateLimiter::new(0, Duration::from_secs(1)).check(a));
    }
}
