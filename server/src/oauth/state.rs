//! The single-use, server-side authorization `state` store.
//!
//! The provider's callback arrives cross-site, so the wizard's SameSite=Strict draft cookie is
//! not sent with it: the `state` is how the callback finds its draft, side, provider, PKCE
//! verifier and nonce. Each entry is taken at most once and expires after [`STATE_TTL`].
//!
//! In memory, bounded: the drafts it points to are in memory too (`web::drafts`), so an entry
//! in SQLite would outlive nothing useful, and the PKCE verifier is not written anywhere. With
//! more than one node behind a load balancer the callback may reach another node: then this
//! store (and the drafts) must move to the shared store, or the balancer must keep clients on
//! one node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::presets::Side;
use secrecy::SecretString;

use super::provider::ProviderId;

/// How long a sign-in may take between the authorization URL and the callback.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);
/// Entries kept at most; beyond, the oldest goes.
pub const MAX_PENDING: usize = 10_000;

/// Whose sign-in it is: a wizard draft's side, or a job waiting for someone to sign in again
/// ("Sign in again" on its private page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInFor {
    Draft(String),
    Job(String),
}

/// What a `state` stands for.
pub struct PendingAuthorization {
    pub target: SignInFor,
    pub side: Side,
    pub provider: ProviderId,
    pub pkce_verifier: SecretString,
    pub nonce: String,
    pub created_at: Instant,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("side", &self.side)
            .field("provider", &self.provider)
            .field("pkce_verifier", &"[hidden]")
            .finish_non_exhaustive()
    }
}

/// Why a callback's `state` leads nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("This sign-in link is unknown or was already used; start the sign-in again.")]
    Unknown,
    #[error("This sign-in took too long (more than ten minutes); start it again.")]
    Expired,
}

/// Whether an entry created at `created_at` is expired at `now`.
pub fn is_expired(created_at: Instant, now: Instant, ttl: Duration) -> bool {
    now.saturating_duration_since(created_at) >= ttl
}

pub struct StateStore {
    ttl: Duration,
    capacity: usize,
    pending: Mutex<HashMap<String, PendingAuthorization>>,
}

impl Default for StateStore {
    fn default() -> Self {
        StateStore::new(STATE_TTL, MAX_PENDING)
    }
}

impl StateStore {
    pub fn new(ttl: Duration, capacity: usize) -> StateStore {
        StateStore {
            ttl,
            capacity: capacity.max(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingAuthorization>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a started sign-in. A newer sign-in for the same draft (or job) and side replaces the
    /// older one (its link stops working). Expired entries are dropped; when still full, the
    /// oldest entry goes. The entry's `created_at` is "now" for the sweep.
    pub fn insert(&self, state: String, entry: PendingAuthorization) {
        let now = entry.created_at;
        let mut map = self.lock();
        let same_side = |e: &PendingAuthorization| e.target == entry.target && e.side == entry.side;
        map.retain(|_, e| !is_expired(e.created_at, now, self.ttl) && !same_side(e));
        while map.len() >= self.capacity {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.created_at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => map.remove(&k),
                None => break,
            };
        }
        map.insert(state, entry);
    }

    /// Takes the entry of a callback's `state`: at most once, and only before it expires.
    pub fn take(&self, state: &str, now: Instant) -> Result<PendingAuthorization, StateError> {
        let entry = self.lock().remove(state).ok_or(StateError::Unknown)?;
        if is_expired(entry.created_at, now, self.ttl) {
            return Err(StateError::Expired);
        }
        Ok(entry)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(draft: &str, side: Side, created_at: Instant) -> PendingAuthorization {
        PendingAuthorization {
            target: SignInFor::Draft(draft.to_string()),
            side,
            provider: ProviderId::Google,
            pkce_verifier: SecretString::from("verifier"),
            nonce: "n".to_string(),
            created_at,
        }
    }

    #[test]
    fn expiry() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(600);
        assert!(!is_expired(t0, t0, ttl));
        assert!(!is_expired(t0, t0 + Duration::from_secs(599), ttl));
        assert!(is_expired(t0, t0 + ttl, ttl));
        // A clock that went back (not monotonic here, but defensively) is not expired.
        assert!(!is_expired(t0 + ttl, t0, ttl));
    }

    #[test]
    fn single_use_and_expiring() {
        let store = StateStore::default();
        let now = Instant::now();
        store.insert("s1".into(), entry("d1", Side::Source, now));
        store.insert("s2".into(), entry("d1", Side::Destination, now));
        let got = store.take("s1", now).unwrap();
        assert_eq!(
            (got.target, got.side),
            (SignInFor::Draft("d1".into()), Side::Source)
        );
        assert_eq!(store.take("s1", now).unwrap_err(), StateError::Unknown);
        assert_eq!(
            store.take("s2", now + STATE_TTL).unwrap_err(),
            StateError::Expired
        );
        assert_eq!(store.take("s2", now).unwrap_err(), StateError::Unknown);
        assert!(store.is_empty());
    }

    #[test]
    fn a_new_sign_in_replaces_the_old_one_for_the_same_side() {
        let store = StateStore::default();
        let now = Instant::now();
        store.insert("old".into(), entry("d1", Side::Source, now));
        store.insert("new".into(), entry("d1", Side::Source, now));
        store.insert("other".into(), entry("d2", Side::Source, now));
        // A job's sign-in never replaces a draft's of the same id.
        let mut job = entry("d1", Side::Source, now);
        job.target = SignInFor::Job("d1".into());
        store.insert("job".into(), job);
        assert!(store.take("job", now).is_ok());
        assert_eq!(store.take("old", now).unwrap_err(), StateError::Unknown);
        assert!(store.take("new", now).is_ok());
        assert!(store.take("other", now).is_ok());
    }

    #[test]
    fn bounded() {
        let store = StateStore::new(STATE_TTL, 3);
        let t0 = Instant::now();
        for i in 0..5u64 {
            let at = t0 + Duration::from_millis(i);
            store.insert(format!("s{i}"), entry(&format!("d{i}"), Side::Source, at));
        }
        assert_eq!(store.len(), 3);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(store.take("s0", later).unwrap_err(), StateError::Unknown);
        assert_eq!(store.take("s1", later).unwrap_err(), StateError::Unknown);
        assert!(store.take("s4", later).is_ok());
        // Expired entries are swept on insert.
        let store = StateStore::new(Duration::from_millis(1), 10);
        store.insert("a".into(), entry("d", Side::Source, t0));
        store.insert(
            "b".into(),
            entry("e", Side::Source, t0 + Duration::from_secs(1)),
        );
        assert_eq!(store.len(), 1);
    }
}
