//! A cap on simultaneous IMAP connections per remote server and per account, shared by every
//! copy (and every Validate) of one process: [`ConnectionLimiter`], handed to [`crate::connect`]
//! through [`crate::ConnectOptions::with_limiter`].
//!
//! Servers limit connections themselves — Gmail about 15 per account, Dovecot 10 per user
//! and client address (`mail_max_userip_connections`) — and answer one too many with a BYE
//! or a refused login; a service running many jobs against one host would also open more
//! than its operator wants. The limiter keeps under both: a connection takes a permit for its
//! server and its account and gives it back when the session is dropped. A copy's first
//! connection waits for a permit; its extra connections take one only if free and are
//! otherwise done without (fewer lanes is slower, not wrong).
//!
//! Written here rather than taken from a crate: two keyed counting semaphores that must be
//! taken together, a few dozen lines on `tokio::sync::Notify`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// The caps. Zero means no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCaps {
    /// Connections to one server (by host name, whatever the port).
    pub per_server: usize,
    /// Connections as one account (login at a server).
    pub per_account: usize,
}

impl Default for ConnectionCaps {
    /// 64 per server, 10 per account (Dovecot's default per user and address; Gmail allows
    /// about 15): a copy uses 4 per side by default, so two jobs into one mailbox still fit.
    fn default() -> Self {
        ConnectionCaps {
            per_server: 64,
            per_account: 10,
        }
    }
}

impl ConnectionCaps {
    /// The caps for connections to `host`: the per-account cap is also at most what the
    /// host's provider allows one account ([`crate::profile::Limits::connections_per_account`]:
    /// Gmail 15, Microsoft 16), whatever the operator set.
    pub fn for_host(self, host: &str) -> ConnectionCaps {
        let provider = crate::profile::Provider::from_host(host)
            .limits()
            .connections_per_account;
        let per_account = match (self.per_account, provider) {
            (0, Some(p)) => p,
            (mine, Some(p)) => mine.min(p),
            (mine, None) => mine,
        };
        ConnectionCaps {
            per_account,
            ..self
        }
    }
}

/// Shared by all clones (an `Arc` inside).
#[derive(Clone, Default)]
pub struct ConnectionLimiter {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    caps: ConnectionCaps,
    counts: Mutex<Counts>,
    freed: Notify,
}

#[derive(Debug, Default)]
struct Counts {
    servers: HashMap<String, usize>,
    accounts: HashMap<String, usize>,
}

impl std::fmt::Debug for ConnectionLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLimiter")
            .field("caps", &self.inner.caps)
            .finish_non_exhaustive()
    }
}

/// One connection's place; given back when dropped.
pub struct ConnectionPermit {
    inner: Arc<Inner>,
    server: String,
    account: String,
}

impl std::fmt::Debug for ConnectionPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPermit")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The server's key: the host name without case and trailing dot.
pub fn server_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The account's key: the login without case, at the server's key.
pub fn account_key(host: &str, login: &str) -> String {
    format!("{}\u{0}{}", login.trim().to_lowercase(), server_key(host))
}

/// Whether one more connection fits with `server` and `account` holding that many now.
pub fn admits(caps: ConnectionCaps, server: usize, account: usize) -> bool {
    (caps.per_server == 0 || server < caps.per_server)
        && (caps.per_account == 0 || account < caps.per_account)
}

impl ConnectionLimiter {
    pub fn new(caps: ConnectionCaps) -> Self {
        ConnectionLimiter {
            inner: Arc::new(Inner {
                caps,
                ..Inner::default()
            }),
        }
    }

    pub fn caps(&self) -> ConnectionCaps {
        self.inner.caps
    }

    /// A permit for a connection to `host` as `login`, if one is free now.
    pub fn try_acquire(&self, host: &str, login: &str) -> Option<ConnectionPermit> {
        let server = server_key(host);
        let account = account_key(host, login);
        let mut counts = self
            .inner
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = counts.servers.get(&server).copied().unwrap_or(0);
        let a = counts.accounts.get(&account).copied().unwrap_or(0);
        if !admits(self.inner.caps.for_host(host), s, a) {
            return None;
        }
        *counts.servers.entry(server.clone()).or_default() += 1;
        *counts.accounts.entry(account.clone()).or_default() += 1;
        Some(ConnectionPermit {
            inner: self.inner.clone(),
            server,
            account,
        })
    }

    /// A permit, waiting up to `wait` for one to be given back.
    pub async fn acquire(
        &self,
        host: &str,
        login: &str,
        wait: Duration,
    ) -> Option<ConnectionPermit> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before the check, so a permit given back in between wakes us.
            let freed = self.inner.freed.notified();
            if let Some(p) = self.try_acquire(host, login) {
                return Some(p);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return None;
            }
        }
    }

    /// Connections now held to `host` (all accounts) and as `login` there.
    pub fn held(&self, host: &str, login: &str) -> (usize, usize) {
        let counts = self
            .inner
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (
            counts.servers.get(&server_key(host)).copied().unwrap_or(0),
            counts
                .accounts
                .get(&account_key(host, login))
                .copied()
                .unwrap_or(0),
        )
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        {
            let mut guard = self
                .inner
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let counts = &mut *guard;
            for (map, key) in [
                (&mut counts.servers, &self.server),
                (&mut counts.accounts, &self.account),
            ] {
                if let Some(n) = map.get_mut(key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        map.remove(key);
                    }
                }
            }
        }
        self.inner.freed.notify_waiters();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CAPS: ConnectionCaps = ConnectionCaps {
        per_server: 3,
        per_account: 2,
    };

    #[test]
    fn admits_below_both_caps_and_zero_means_none() {
        assert!(admits(CAPS, 2, 1));
        assert!(!admits(CAPS, 3, 0));
        assert!(!admits(CAPS, 0, 2));
        let none = ConnectionCaps {
            per_server: 0,
            per_account: 0,
        };
        assert!(admits(none, 1000, 1000));
    }

    #[test]
    fn a_providers_cap_per_account_bounds_the_operators() {
        let generous = ConnectionCaps {
            per_server: 100,
            per_account: 40,
        };
        assert_eq!(generous.for_host("imap.gmail.com").per_account, 15);
        assert_eq!(generous.for_host("outlook.office365.com.").per_account, 16);
        assert_eq!(generous.for_host("imap.example.org"), generous);
        assert_eq!(CAPS.for_host("imap.gmail.com"), CAPS);
        let uncapped = ConnectionCaps {
            per_server: 0,
            per_account: 0,
        };
        assert_eq!(uncapped.for_host("imap.gmail.com").per_account, 15);
        assert_eq!(uncapped.for_host("imap.gmail.com").per_server, 0);
        let l = ConnectionLimiter::new(generous);
        let held: Vec<_> = (0..15)
            .map(|_| l.try_acquire("imap.gmail.com", "ann@gmail.com").unwrap())
            .collect();
        assert!(l.try_acquire("imap.gmail.com", "ann@gmail.com").is_none());
        assert!(l.try_acquire("imap.gmail.com", "bob@gmail.com").is_some());
        drop(held);
    }

    #[test]
    fn names_of_one_server_and_one_account_share_their_places() {
        let l = ConnectionLimiter::new(CAPS);
        let a = l
            .try_acquire("IMAP.Example.org.", "Ann@Example.org")
            .unwrap();
        let b = l
            .try_acquire("imap.example.org", "ann@example.org")
            .unwrap();
        // The account is full, the server is not.
        assert!(l
            .try_acquire("imap.example.org", "ANN@example.org")
            .is_none());
        let c = l.try_acquire("imap.example.org", "bob").unwrap();
        // Now the server is full for everyone.
        assert!(l.try_acquire("imap.example.org", "carol").is_none());
        assert!(l
            .try_acquire("other.example.org", "ann@example.org")
            .is_some());
        assert_eq!(l.held("imap.example.org", "ann@example.org"), (3, 2));
        drop((a, b, c));
        assert_eq!(l.held("imap.example.org", "ann@example.org"), (0, 0));
    }

    #[tokio::test]
    async fn a_waiting_connection_gets_the_place_given_back_and_gives_up_at_its_deadline() {
        let l = ConnectionLimiter::new(ConnectionCaps {
            per_server: 1,
            per_account: 1,
        });
        let held = l.try_acquire("h", "u").unwrap();
        assert!(l
            .acquire("h", "u", Duration::from_millis(50))
            .await
            .is_none());
        let l2 = l.clone();
        let waiter =
            tokio::spawn(async move { l2.acquire("h", "u", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        let got = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(got.is_some());
    }
}
