//! Fixed-window rate limits per client (an IPv4 address, or an IPv6 /64: one subscriber's
//! network), for what makes outbound connections or reveals something on the user's behalf:
//! Validate, Synchronize and the public status lookup, each with its own limiter.
//!
//! Hand-written: a map and a counter. The well-known crates (governor, tower_governor) bring
//! a middleware shape keyed on the TCP peer that does not fit server functions, whose client
//! is known only after the trusted-proxy headers are read, nor the lookup's rule (distinct
//! addresses count, refreshing the same one does not).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::client_key;

/// Clients remembered at most; past it, new clients are refused until windows expire (memory
/// stays bounded even when someone cycles through many IPv6 prefixes).
const MAX_CLIENTS: usize = 100_000;

/// For [`RateLimiter::check_distinct`]: lookups of items already counted in the window are
/// free up to this many per window (the status page refreshes itself every 2 s).
pub const REPEATS_PER_WINDOW: u32 = 120;

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hasher: RandomState,
    hits: Mutex<HashMap<Option<IpAddr>, Window>>,
}

struct Window {
    start: Instant,
    count: u32,
    repeats: u32,
    /// Hashes of the distinct items counted in this window (`check_distinct`).
    seen: Vec<u64>,
}

impl RateLimiter {
    /// `limit` requests per `window` and client; 0 means unlimited.
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            limit,
            window,
            hasher: RandomState::new(),
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Per minute, the unit of the `--*-per-minute` flags.
    pub fn per_minute(limit: u32) -> RateLimiter {
        RateLimiter::new(limit, Duration::from_secs(60))
    }

    /// Counts one request; `Err(wait)` when the client is over its limit, `wait` being the
    /// time until its window ends.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        self.check_at(client, None, Instant::now())
    }

    /// Counts a request about `item` (e.g. an address looked up) only the first time the
    /// client asks about it in the window: the limit is on distinct items. Repeats are
    /// allowed up to [`REPEATS_PER_WINDOW`].
    pub fn check_distinct(&self, client: Option<IpAddr>, item: &str) -> Result<(), Duration> {
        let hash = self.hasher.hash_one(item.trim().to_lowercase());
        self.check_at(client, Some(hash), Instant::now())
    }

    fn check_at(
        &self,
        client: Option<IpAddr>,
        item: Option<u64>,
        now: Instant,
    ) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        let key = client.map(client_key);
        let window = self.window;
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() >= MAX_CLIENTS && !hits.contains_key(&key) {
            hits.retain(|_, w| now.duration_since(w.start) < window);
            if hits.len() >= MAX_CLIENTS {
                tracing::warn!("rate limiter full: refusing new clients until windows expire");
                return Err(window);
            }
        }
        let entry = hits.entry(key).or_insert(Window {
            start: now,
            count: 0,
            repeats: 0,
            seen: Vec::new(),
        });
        let elapsed = now.duration_since(entry.start);
        if elapsed >= window {
            *entry = Window {
                start: now,
                count: 0,
                repeats: 0,
                seen: Vec::new(),
            };
        }
        let wait = window.saturating_sub(now.duration_since(entry.start));
        if let Some(hash) = item {
            if entry.seen.contains(&hash) {
                if entry.repeats >= REPEATS_PER_WINDOW {
                    return Err(wait);
                }
                entry.repeats += 1;
                return Ok(());
            }
        }
        if entry.count >= self.limit {
            return Err(wait);
        }
        entry.count += 1;
        if let Some(hash) = item {
            entry.seen.push(hash);
        }
        Ok(())
    }
}

/// Whole seconds for `Retry-After` (rounded up, at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
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
        assert!(limiter.check_at(a, None, t0).is_ok());
        assert!(limiter.check_at(a, None, t0).is_ok());
        let wait = limiter
            .check_at(a, None, t0 + Duration::from_secs(15))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(45), "until the window ends");
        assert!(limiter.check_at(b, None, t0).is_ok());
        assert!(limiter
            .check_at(a, None, t0 + Duration::from_secs(61))
            .is_ok());
        assert!(RateLimiter::new(0, Duration::from_secs(1)).check(a).is_ok());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check_at(Some(one), None, t0).is_ok());
        assert!(limiter.check_at(Some(same_64), None, t0).is_err());
        assert!(limiter.check_at(Some(other_64), None, t0).is_ok());
        // An IPv4 client seen through a dual-stack socket is the IPv4 client.
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(limiter.check_at(Some(v4), None, t0).is_ok());
        assert!(limiter.check_at(Some(mapped), None, t0).is_err());
    }

    #[test]
    fn distinct_items_count_once_and_repeats_are_bounded() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let a = Some(IpAddr::from([198, 51, 100, 1]));
        let t0 = Instant::now();
        let hash = |s: &str| Some(limiter.hasher.hash_one(s.to_string()));
        assert!(limiter.check_at(a, hash("x@example.org"), t0).is_ok());
        for _ in 0..REPEATS_PER_WINDOW {
            assert!(limiter.check_at(a, hash("x@example.org"), t0).is_ok());
        }
        assert!(
            limiter.check_at(a, hash("x@example.org"), t0).is_err(),
            "repeats are bounded too"
        );
        assert!(limiter.check_at(a, hash("y@example.org"), t0).is_ok());
        assert!(
            limiter.check_at(a, hash("z@example.org"), t0).is_err(),
            "a third distinct address in the window is refused"
        );
        // Case and surrounding spaces do not make another address.
        let fresh = RateLimiter::new(1, Duration::from_secs(60));
        assert!(fresh.check_distinct(a, "x@example.org").is_ok());
        assert!(fresh.check_distinct(a, " X@Example.org ").is_ok());
        assert!(fresh.check_distinct(a, "w@example.org").is_err());
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
