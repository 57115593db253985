//! Tokens in memory and when to refresh them. Pure.

use std::time::Duration;

use secrecy::SecretString;

/// How long before its expiry an access token is refreshed: longer than one command may take
/// (an APPEND of a large message on a slow link), far shorter than the hour Google's and
/// Microsoft's tokens live.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Milliseconds since the Unix epoch (the job store's clock: `Clock::now_ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMs(pub i64);

impl UnixMs {
    pub fn now() -> UnixMs {
        UnixMs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        )
    }

    pub fn plus(self, d: Duration) -> UnixMs {
        UnixMs(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

/// An access token, the refresh token that goes with it, and when the access token expires.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    /// From `expires_in`; None when the provider did not say.
    pub expires_at: Option<UnixMs>,
    /// The granted scope, when the provider said (space-separated).
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[hidden]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[hidden]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The JSON form of [`Tokens`] that gets sealed (a draft's sign-in, a job's grant).
#[derive(serde::Serialize)]
struct SealableOut<'a> {
    v: u8,
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    expires_at: Option<i64>,
    scope: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct SealableIn {
    v: u8,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<i64>,
    scope: Option<String>,
}

impl Tokens {
    /// The bytes to seal (versioned JSON), wiped from memory when dropped.
    pub fn to_sealable(&self) -> zeroize::Zeroizing<Vec<u8>> {
        use secrecy::ExposeSecret;
        let out = SealableOut {
            v: 1,
            access_token: self.access_token.expose_secret(),
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose_secret()),
            expires_at: self.expires_at.map(|t| t.0),
            scope: self.scope.as_deref(),
        };
        // Serialising plain strings and numbers cannot fail.
        zeroize::Zeroizing::new(serde_json::to_vec(&out).unwrap_or_default())
    }

    /// Tokens from bytes made by [`Tokens::to_sealable`] (once opened).
    pub fn from_sealed(bytes: &[u8]) -> anyhow::Result<Tokens> {
        let stored: SealableIn = serde_json::from_slice(bytes)?;
        anyhow::ensure!(
            stored.v == 1,
            "sealed tokens of unknown version {}",
            stored.v
        );
        Ok(Tokens {
            access_token: SecretString::from(stored.access_token),
            refresh_token: stored.refresh_token.map(SecretString::from),
            expires_at: stored.expires_at.map(UnixMs),
            scope: stored.scope,
        })
    }
}

/// Whether an access token expiring at `expires_at` should be refreshed at `now`, `margin`
/// ahead of its expiry (a command must not outlive its token). No known expiry: no refresh
/// ahead of time; the caller refreshes when the server refuses the token.
pub fn needs_refresh(now: UnixMs, expires_at: Option<UnixMs>, margin: Duration) -> bool {
    match expires_at {
        Some(at) => now.plus(margin) >= at,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_within_the_margin() {
        let m = Duration::from_secs(60);
        let at = Some(UnixMs(1_000_000));
        assert!(!needs_refresh(UnixMs(1_000_000 - 60_001), at, m));
        assert!(needs_refresh(UnixMs(1_000_000 - 60_000), at, m));
        assert!(needs_refresh(UnixMs(2_000_000), at, m));
        assert!(!needs_refresh(UnixMs(2_000_000), None, m));
        assert!(needs_refresh(UnixMs(0), Some(UnixMs(0)), Duration::ZERO));
        assert!(needs_refresh(UnixMs(i64::MAX - 5), at, m));
    }

    #[test]
    fn sealable_form_round_trips() {
        use secrecy::ExposeSecret;
        let t = Tokens {
            access_token: SecretString::from("at\"1"),
            refresh_token: None,
            expires_at: Some(UnixMs(42)),
            scope: Some("openid email".into()),
        };
        let back = Tokens::from_sealed(&t.to_sealable()).unwrap();
        assert_eq!(back.access_token.expose_secret(), "at\"1");
        assert!(back.refresh_token.is_none());
        assert_eq!(back.expires_at, Some(UnixMs(42)));
        assert_eq!(back.scope.as_deref(), Some("openid email"));
        assert!(Tokens::from_sealed(br#"{"v":2,"access_token":"x"}"#).is_err());
        assert!(Tokens::from_sealed(b"hunter2").is_err());
    }

    #[test]
    fn tokens_debug_hides_them() {
        let t = Tokens {
            access_token: SecretString::from("at-secret"),
            refresh_token: Some(SecretString::from("rt-secret")),
            expires_at: None,
            scope: None,
        };
        assert!(!format!("{t:?}").contains("secret\""));
        assert!(!format!("{t:?}").contains("at-secret"));
    }
}
