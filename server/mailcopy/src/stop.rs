//! Why a copy stopped before the end: a typed cause for [`crate::Outcome::Incomplete`], so
//! that a caller (the job runner) decides what to do from the kind, not from the text.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ConnectError, ErrorKind};

/// What kind of trouble stopped the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// A server refused the login (password changed, access revoked, login not allowed).
    LoginRefused,
    /// A server refused the OAuth2 access token (expired, revoked, wrong scope). Waiting does
    /// not help; a refreshed token may: the caller refreshes before trying again, and asks the
    /// person to sign in again when the refresh itself is refused.
    TokenRefused,
    /// The OAuth2 grant is gone (revoked, expired): nothing runs until a person signs in at
    /// the provider again. The job waits for that, bounded in time.
    SignInNeeded,
    /// TLS could not be set up or the certificate is not trusted.
    Tls,
    /// The server name is unknown, nothing listens, or the address is not allowed.
    Unreachable,
    /// A connection broke or timed out and could not be opened again.
    ConnectionLost,
    /// The server said it is busy or throttling this account (see `retry_after`).
    Throttled,
    /// A provider's limit per day was reached (Gmail: "Account exceeded command or bandwidth
    /// limits"): the job pauses, it does not fail (see `retry_after`).
    DailyLimit,
    /// The copy moved about as much as a provider allows in a day (it keeps under Gmail's
    /// daily volumes itself, see `copy::volume`): it goes on when the day is over
    /// (`retry_after`); not a failure.
    DailyVolume,
    /// The destination is full (`[OVERQUOTA]`).
    QuotaFull,
    /// A folder could not be copied in full (still changing, refused to open...); a re-run
    /// continues it.
    Folder,
    /// The copy was cancelled.
    Cancelled,
    /// Anything else (an answer that cannot be understood, a local fault).
    #[default]
    Internal,
}

/// A typed reason to stop: the kind, whether waiting can fix it, the server's suggested wait,
/// and the one-line English cause shown to people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    pub kind: StopKind,
    /// Trying again later cannot help (wrong password, untrusted certificate, full quota...).
    pub permanent: bool,
    /// How long the server asked to wait before trying again, if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    pub text: String,
}

impl Stop {
    pub fn new(kind: StopKind, permanent: bool, text: impl Into<String>) -> Stop {
        Stop {
            kind,
            permanent,
            retry_after_ms: None,
            text: text.into(),
        }
    }

    /// The stop for a connection or login failure, `text` being its description.
    pub fn from_connect(e: &ConnectError, text: impl Into<String>) -> Stop {
        let text = text.into();
        let (kind, permanent) = match e.kind() {
            ErrorKind::AuthFailed | ErrorKind::LoginDisabled | ErrorKind::OAuth2NotOffered => {
                (StopKind::LoginRefused, true)
            }
            // Not permanent: a new access token (refresh) can fix it; the same one cannot.
            ErrorKind::TokenRefused => (StopKind::TokenRefused, false),
            ErrorKind::SignInNeeded => (StopKind::SignInNeeded, false),
            // The provider could not renew the token now: like a network failure.
            ErrorKind::TokenUnavailable => (StopKind::ConnectionLost, false),
            ErrorKind::CertificateUntrusted
            | ErrorKind::Tls
            | ErrorKind::TlsNotSpoken
            | ErrorKind::StartTlsNotOffered
            | ErrorKind::InvalidCaFile => (StopKind::Tls, true),
            ErrorKind::AddressNotAllowed => (StopKind::Unreachable, true),
            // DNS trouble and a server being restarted are often brief.
            ErrorKind::HostNotFound | ErrorKind::ConnectionRefused => {
                (StopKind::Unreachable, false)
            }
            ErrorKind::TimedOut
            | ErrorKind::ClosedByServer
            | ErrorKind::Io
            | ErrorKind::NoGreeting => (StopKind::ConnectionLost, false),
            ErrorKind::InvalidInput => (StopKind::Internal, true),
            _ => (StopKind::Internal, false),
        };
        let mut stop = Stop::new(kind, permanent, text);
        // A server that refuses sessions or answers with a throttling text is busy.
        let server_text = match e {
            ConnectError::Rejected { server_text }
            | ConnectError::CommandFailed { server_text, .. } => Some(server_text.as_str()),
            _ => None,
        };
        if let Some(hint) = server_text.and_then(throttle_hint) {
            stop.kind = StopKind::Throttled;
            stop.permanent = false;
            stop.retry_after_ms = hint.map(|d| d.as_millis() as u64);
        } else if matches!(e, ConnectError::Rejected { .. }) {
            stop.kind = StopKind::ConnectionLost;
        }
        stop
    }

    /// A connection that broke and could not be used again (`text` says how): lost, or
    /// throttled when the text carries a server's throttling answer.
    pub fn lost(text: impl Into<String>) -> Stop {
        let text = text.into();
        match throttle_hint(&text) {
            Some(hint) => Stop {
                kind: StopKind::Throttled,
                permanent: false,
                retry_after_ms: hint.map(|d| d.as_millis() as u64),
                text,
            },
            None => Stop::new(StopKind::ConnectionLost, false, text),
        }
    }

    /// The stop for a command a server refused (`text`: its resp-text).
    pub fn from_refusal(server_text: &str, text: impl Into<String>) -> Stop {
        let text = text.into();
        if let Some(hint) = throttle_hint(server_text) {
            let mut stop = Stop::new(StopKind::Throttled, false, text);
            stop.retry_after_ms = hint.map(|d| d.as_millis() as u64);
            return stop;
        }
        if is_overquota(server_text) {
            return Stop::new(StopKind::QuotaFull, true, text);
        }
        Stop::new(StopKind::Internal, false, text)
    }

    /// Only a person signing in again at the OAuth2 provider can help: the grant is gone, or
    /// the server refused a token although it had just been renewed.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self.kind, StopKind::SignInNeeded | StopKind::TokenRefused)
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `[OVERQUOTA]` (RFC 5530): the mailbox is full. Gmail's daily limit says "Account exceeded
/// command or bandwidth limits" with the same code and is a throttle, not a full mailbox.
pub(crate) fn is_overquota(server_text: &str) -> bool {
    server_text.to_ascii_uppercase().contains("[OVERQUOTA]") && throttle_hint(server_text).is_none()
}

/// Whether a server's text says it is busy or throttling: `Some(wait)` with the wait it
/// suggests, if any.
pub(crate) fn throttle_hint(server_text: &str) -> Option<Option<Duration>> {
    let upper = server_text.to_ascii_uppercase();
    // Microsoft 365 / Outlook.com: "Request is throttled. Suggested Backoff Time: 299961
    // milliseconds".
    if upper.contains("THROTTLED") {
        return Some(suggested_backoff(&upper));
    }
    // Gmail: "[OVERQUOTA] Account exceeded command or bandwidth limits" (a daily limit).
    if upper.contains("EXCEEDED COMMAND OR BANDWIDTH LIMITS") {
        return Some(None);
    }
    // RFC 5530 codes for a busy or limiting server; Dovecot and others: "Too many
    // simultaneous connections", "Maximum number of connections from user+IP exceeded".
    const BUSY: [&str; 4] = [
        "[UNAVAILABLE]",
        "[INUSE]",
        "TOO MANY SIMULTANEOUS CONNECTIONS",
        "MAXIMUM NUMBER OF CONNECTIONS",
    ];
    // RFC 5530 [LIMIT] is an implementation limit; Dovecot also answers an APPEND over
    // quota_max_mail_size with "[LIMIT] Mail size is larger than the maximum size…", which
    // is the message's size, not the server's load.
    let limit =
        upper.contains("[LIMIT]") && !["SIZE", "LARGE", "BIG"].iter().any(|w| upper.contains(w));
    (limit || BUSY.iter().any(|b| upper.contains(b))).then_some(None)
}

/// The number before "MILLISECONDS" after "BACKOFF TIME" (Microsoft's wording).
fn suggested_backoff(upper: &str) -> Option<Duration> {
    let after = &upper[upper.find("BACKOFF TIME")? + "BACKOFF TIME".len()..];
    let digits: String = after
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: u64 = digits.parse().ok()?;
    let unit = after
        .trim_start_matches([':', ' '])
        .get(digits.len()..)?
        .trim_start();
    if unit.starts_with("MILLISECOND") || unit.starts_with("MS") {
        Some(Duration::from_millis(n))
    } else if unit.starts_with("SECOND") {
        Some(Duration::from_secs(n))
    } else {
        Some(Duration::from_millis(n))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn throttle_texts() {
        assert_eq!(
            throttle_hint("Request is throttled. Suggested Backoff Time: 299961 milliseconds"),
            Some(Some(Duration::from_millis(299_961)))
        );
        assert_eq!(
            throttle_hint("NO [UNAVAILABLE] Server busy, try later"),
            Some(None)
        );
        assert_eq!(
            throttle_hint("[OVERQUOTA] Account exceeded command or bandwidth limits."),
            Some(None)
        );
        assert_eq!(
            throttle_hint("Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)"),
            Some(None)
        );
        assert_eq!(
            throttle_hint("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            None
        );
        assert_eq!(throttle_hint("Mailbox doesn't exist"), None);
        assert_eq!(
            throttle_hint("[LIMIT] Too many commands in this session"),
            Some(None)
        );
        assert_eq!(
            throttle_hint("[LIMIT] Mail size is larger than the maximum size allowed"),
            None
        );
    }

    #[test]
    fn overquota_is_a_full_mailbox_unless_it_is_gmails_daily_limit() {
        assert!(is_overquota("[OVERQUOTA] Quota exceeded"));
        assert!(!is_overquota(
            "[OVERQUOTA] Account exceeded command or bandwidth limits."
        ));
        assert!(!is_overquota("[TRYCREATE] no such mailbox"));
    }

    #[test]
    fn kinds_of_connect_errors() {
        let s = |e: ConnectError| Stop::from_connect(&e, "x");
        let auth = s(ConnectError::AuthFailed {
            server_text: "no".into(),
        });
        assert_eq!((auth.kind, auth.permanent), (StopKind::LoginRefused, true));
        let token = s(ConnectError::TokenRefused {
            server_text: "status invalid_token".into(),
        });
        assert_eq!(
            (token.kind, token.permanent),
            (StopKind::TokenRefused, false)
        );
        assert!(token.needs_sign_in());
        let gone = s(ConnectError::from(
            crate::connect::TokenUnavailable::SignInNeeded {
                detail: "invalid_grant".into(),
            },
        ));
        assert_eq!(
            (gone.kind, gone.needs_sign_in()),
            (StopKind::SignInNeeded, true)
        );
        let later = s(ConnectError::from(
            crate::connect::TokenUnavailable::Temporary {
                detail: "provider down".into(),
            },
        ));
        assert_eq!(
            (later.kind, later.needs_sign_in()),
            (StopKind::ConnectionLost, false)
        );
        let offered = s(ConnectError::OAuth2NotOffered);
        assert_eq!(
            (offered.kind, offered.permanent),
            (StopKind::LoginRefused, true)
        );
        let cert = s(ConnectError::CertificateUntrusted { detail: "d".into() });
        assert_eq!((cert.kind, cert.permanent), (StopKind::Tls, true));
        let lost = s(ConnectError::ClosedByServer { stage: "FETCH" });
        assert_eq!(
            (lost.kind, lost.permanent),
            (StopKind::ConnectionLost, false)
        );
        let refused = s(ConnectError::ConnectionRefused { addr: "a".into() });
        assert_eq!(
            (refused.kind, refused.permanent),
            (StopKind::Unreachable, false)
        );
        let busy = s(ConnectError::Rejected {
            server_text: "Too many simultaneous connections".into(),
        });
        assert_eq!((busy.kind, busy.permanent), (StopKind::Throttled, false));
        let ms = s(ConnectError::CommandFailed {
            command: "SELECT",
            server_text: "Request is throttled. Suggested Backoff Time: 1500 milliseconds".into(),
        });
        assert_eq!(ms.retry_after(), Some(Duration::from_millis(1500)));
        let bye = s(ConnectError::Rejected {
            server_text: "it ended the session during APPEND (BYE shutting down)".into(),
        });
        assert_eq!((bye.kind, bye.permanent), (StopKind::ConnectionLost, false));
    }

    #[test]
    fn lost_connections() {
        assert_eq!(
            Stop::lost("the server closed the connection").kind,
            StopKind::ConnectionLost
        );
        let t = Stop::lost("lost the connection: BYE Too many simultaneous connections");
        assert_eq!((t.kind, t.permanent), (StopKind::Throttled, false));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Stop::from_refusal("[OVERQUOTA] Quota exceeded", "full").kind,
            StopKind::QuotaFull
        );
        assert_eq!(
            Stop::from_refusal(
                "[OVERQUOTA] Account exceeded command or bandwidth limits",
                "x"
            )
            .kind,
            StopKind::Throttled
        );
    }

    #[test]
    fn serde_shape() {
        let s = Stop::new(StopKind::QuotaFull, true, "full");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"quota_full","permanent":true,"text":"full"}"#
        );
        let back: Stop = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
