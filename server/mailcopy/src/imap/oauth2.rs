//! The OAuth2 SASL mechanisms as pure functions: which one to use, the initial client
//! responses (OAUTHBEARER, RFC 7628; Google's and Microsoft's XOAUTH2), the reply to an error
//! challenge, and what the server said in that challenge.

use serde::Deserialize;

use crate::connect::has_cap;
use crate::error::truncate;

/// An OAuth2 SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// RFC 7628: the standard one, preferred where offered.
    OAuthBearer,
    /// Google's and Microsoft's predecessor of OAUTHBEARER (Gmail, Outlook.com, Microsoft 365).
    XOAuth2,
}

impl Mechanism {
    /// The preferred mechanism among the advertised capabilities (`AUTH=…`).
    pub(crate) fn choose(caps: &[String]) -> Option<Mechanism> {
        if has_cap(caps, "AUTH=OAUTHBEARER") {
            Some(Mechanism::OAuthBearer)
        } else if has_cap(caps, "AUTH=XOAUTH2") {
            Some(Mechanism::XOAuth2)
        } else {
            None
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// The client's first (and only) message, before base64.
    pub(crate) fn initial_response(
        self,
        login: &str,
        token: &str,
        host: &str,
        port: u16,
    ) -> Vec<u8> {
        match self {
            Mechanism::OAuthBearer => oauthbearer_response(login, token, host, port),
            Mechanism::XOAuth2 => xoauth2_response(login, token),
        }
    }

    /// What the client sends after the server's error challenge, before base64, so that the
    /// server ends the exchange with its tagged NO.
    pub(crate) fn error_ack(self) -> &'static [u8] {
        match self {
            // RFC 7628 section 3.2.3: a single %x01.
            Mechanism::OAuthBearer => b"\x01",
            // Google's XOAUTH2 documentation: an empty response.
            Mechanism::XOAuth2 => b"",
        }
    }
}

/// RFC 7628 section 3.1: GS2 header with the authorization identity (`,` and `=` escaped as
/// `=2C` and `=3D`, RFC 5801), then `host`, `port` and `auth` key/values, each ended by %x01,
/// and a final %x01.
pub(crate) fn oauthbearer_response(login: &str, token: &str, host: &str, port: u16) -> Vec<u8> {
    let user = login.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// XOAUTH2: `user=<login>^Aauth=Bearer <token>^A^A`.
pub(crate) fn xoauth2_response(login: &str, token: &str) -> Vec<u8> {
    format!("user={login}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// The JSON a server sends as its error challenge (RFC 7628 section 3.2.2; Gmail sends the
/// same keys with an HTTP status code, `{"status":"401","schemes":"bearer","scope":"…"}`;
/// Dovecot sends `{"status":"invalid_token","schemes":"bearer","scope":"…"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ErrorChallenge {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl ErrorChallenge {
    /// Decodes the text after `+ ` (base64 of a JSON object). None if it is not one.
    pub(crate) fn decode(challenge: &str) -> Option<ErrorChallenge> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(challenge.trim())
            .ok()?;
        serde_json::from_slice(&raw).ok()
    }

    /// `status invalid_token, scope "imap"`; empty when the server said neither.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status.as_deref().map(printable) {
            parts.push(format!("status {status}"));
        }
        if let Some(scope) = self.scope.as_deref().map(printable) {
            parts.push(format!("scope \"{scope}\""));
        }
        parts.join(", ")
    }
}

/// The tagged NO text, followed by what the server's error challenge said.
pub(crate) fn refusal_text(tagged: &str, challenge: Option<&ErrorChallenge>) -> String {
    let said = challenge.map(ErrorChallenge::describe).unwrap_or_default();
    if said.is_empty() {
        truncate(tagged.to_string())
    } else {
        truncate(format!("{tagged} (the server's OAuth2 answer: {said})"))
    }
}

/// Server-provided text without control characters, short enough for one line.
fn printable(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    clean.trim().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mechanism_choice() {
        let both = caps(&[
            "IMAP4rev1",
            "AUTH=PLAIN",
            "AUTH=XOAUTH2",
            "auth=oauthbearer",
        ]);
        assert_eq!(Mechanism::choose(&both), Some(Mechanism::OAuthBearer));
        let gmail = caps(&["IMAP4rev1", "AUTH=XOAUTH2", "AUTH=PLAIN", "SASL-IR"]);
        assert_eq!(Mechanism::choose(&gmail), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::choose(&caps(&["AUTH=PLAIN"])), None);
        assert_eq!(Mechanism::XOAuth2.name(), "XOAUTH2");
        assert_eq!(Mechanism::OAuthBearer.name(), "OAUTHBEARER");
    }

    #[test]
    fn xoauth2_bytes() {
        assert_eq!(
            xoauth2_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        // Google's documented example, base64 of the above.
        assert_eq!(
            crate::imap::auth::base64(&xoauth2_response(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            )),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn oauthbearer_bytes() {
        // RFC 7628 section 4.1 (its example, with the authorization identity).
        assert_eq!(
            oauthbearer_response("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        // GS2 saslname escaping (RFC 5801).
        assert_eq!(
            oauthbearer_response("a,b=c", "t", "h", 993),
            b"n,a=a=2Cb=3Dc,\x01host=h\x01port=993\x01auth=Bearer t\x01\x01"
        );
        assert_eq!(
            Mechanism::OAuthBearer.initial_response("u", "t", "h", 1),
            oauthbearer_response("u", "t", "h", 1)
        );
        assert_eq!(
            Mechanism::XOAuth2.initial_response("u", "t", "h", 1),
            xoauth2_response("u", "t")
        );
        assert_eq!(Mechanism::OAuthBearer.error_ack(), b"\x01");
        assert_eq!(Mechanism::XOAuth2.error_ack(), b"");
    }

    #[test]
    fn error_challenges() {
        let b64 = |s: &str| crate::imap::auth::base64(s.as_bytes());
        // Gmail.
        let gmail = ErrorChallenge::decode(&b64(
            r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#,
        ))
        .unwrap();
        assert_eq!(gmail.status.as_deref(), Some("401"));
        assert_eq!(
            gmail.describe(),
            r#"status 401, scope "https://mail.google.com/""#
        );
        // Dovecot 2.3.
        let dovecot = ErrorChallenge::decode(&b64(
            r#"{"status":"invalid_token","schemes":"bearer","scope":"mail"}"#,
        ))
        .unwrap();
        assert_eq!(dovecot.describe(), r#"status invalid_token, scope "mail""#);
        // Keys missing, control characters, not JSON, not base64.
        let bare = ErrorChallenge::decode(&b64(r#"{"status":"x\ny"}"#)).unwrap();
        assert_eq!(bare.describe(), "status x y");
        assert_eq!(ErrorChallenge::decode(&b64("{}")).unwrap().describe(), "");
        assert_eq!(ErrorChallenge::decode(&b64("not json")), None);
        assert_eq!(ErrorChallenge::decode("%%%"), None);

        assert_eq!(
            refusal_text(
                "[AUTHENTICATIONFAILED] Authentication failed.",
                Some(&dovecot)
            ),
            r#"[AUTHENTICATIONFAILED] Authentication failed. (the server's OAuth2 answer: status invalid_token, scope "mail")"#
        );
        assert_eq!(refusal_text("nope", None), "nope");
        assert_eq!(
            refusal_text("nope", Some(&ErrorChallenge::default())),
            "nope"
        );
    }
}
