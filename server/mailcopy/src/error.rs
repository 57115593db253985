//! Errors of the connection layer. Every message is an English sentence fit to follow a
//! localized general sentence in the web UI; none ever contains the password.

use std::io;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tokio_rustls::rustls;

/// Why connecting, logging in or talking to an IMAP server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// DNS knows no address for the name.
    #[error("the host name {host} could not be found (DNS lookup failed)")]
    HostNotFound { host: String },
    /// The name resolves only to addresses the address policy refuses.
    #[error(
        "{host} resolves to {addr}, a private, local or reserved address that this service may not connect to"
    )]
    AddressNotAllowed { host: String, addr: String },
    /// TCP connection refused: nothing listens there.
    #[error("the connection to {addr} was refused: nothing listens on that port")]
    ConnectionRefused { addr: String },
    /// A step took longer than its timeout.
    #[error("the server did not answer in time (during {stage})")]
    TimedOut { stage: &'static str },
    /// We started TLS but the server answered in plaintext.
    #[error("the server answered without TLS: is this a plain IMAP port? try STARTTLS")]
    TlsNotSpoken,
    /// The certificate chain or name could not be verified.
    #[error("the server's TLS certificate is not trusted: {detail}")]
    CertificateUntrusted { detail: String },
    /// Any other TLS failure.
    #[error("the TLS handshake failed: {detail}")]
    Tls { detail: String },
    /// No IMAP greeting arrived in time.
    #[error("the server sent no IMAP greeting in time: maybe a TLS port contacted without TLS (try TLS on port 993)")]
    NoGreeting,
    /// Security::StartTls but the server does not advertise STARTTLS.
    #[error("the server does not offer STARTTLS on this port")]
    StartTlsNotOffered,
    /// The server closed the connection.
    #[error("the server closed the connection during {stage}")]
    ClosedByServer { stage: &'static str },
    /// The greeting was BYE: the server refuses sessions (overloaded, blocked address...).
    #[error("the server refused the connection: {server_text}")]
    Rejected { server_text: String },
    /// LOGIN/AUTHENTICATE answered NO.
    #[error("the server rejected the login: {server_text}")]
    AuthFailed { server_text: String },
    /// AUTHENTICATE with an OAuth2 access token answered NO: the token is expired, revoked,
    /// lacks the scope, or is not for this account. A refreshed token (or signing in at the
    /// provider again) may be accepted; the same token will not be. `server_text` carries the
    /// server's tagged text and, when it sent one, its OAuth2 error (status, scope).
    #[error("the server refused the OAuth2 access token: {server_text}")]
    TokenRefused { server_text: String },
    /// Credentials carry an access token but the server offers neither AUTH=OAUTHBEARER nor
    /// AUTH=XOAUTH2.
    #[error("the server does not offer OAuth2 sign-in (XOAUTH2/OAUTHBEARER)")]
    OAuth2NotOffered,
    /// The access token could not be had: the grant is gone (`sign_in_needed`: a person has
    /// to sign in at the provider again) or the provider could not renew it now.
    #[error("{detail}")]
    TokenUnavailable {
        sign_in_needed: bool,
        detail: String,
    },
    /// The server forbids LOGIN here (LOGINDISABLED) and offers no AUTH=PLAIN.
    #[error("the server does not allow logging in here (LOGINDISABLED): use TLS or STARTTLS")]
    LoginDisabled,
    /// A command after login answered NO or BAD.
    #[error("the server refused the {command} command: {server_text}")]
    CommandFailed {
        command: &'static str,
        server_text: String,
    },
    /// The server said something we could not understand.
    #[error("the server's answer could not be understood: {detail}")]
    Protocol { detail: String },
    /// The caller's input cannot be sent (e.g. a line break in the login name).
    #[error("invalid input: {detail}")]
    InvalidInput { detail: String },
    /// The extra CA file could not be read or holds no certificate.
    #[error("the CA certificate file could not be used: {detail}")]
    InvalidCaFile { detail: String },
    /// Any other network error.
    #[error("network error: {detail}")]
    Io { detail: String },
}

impl From<crate::connect::TokenUnavailable> for ConnectError {
    fn from(e: crate::connect::TokenUnavailable) -> ConnectError {
        let sign_in_needed = matches!(e, crate::connect::TokenUnavailable::SignInNeeded { .. });
        ConnectError::TokenUnavailable {
            sign_in_needed,
            detail: e.to_string(),
        }
    }
}

/// Field-less twin of [`ConnectError`] for the web layer to map to localized sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    HostNotFound,
    AddressNotAllowed,
    ConnectionRefused,
    TimedOut,
    TlsNotSpoken,
    CertificateUntrusted,
    Tls,
    NoGreeting,
    StartTlsNotOffered,
    ClosedByServer,
    Rejected,
    AuthFailed,
    TokenRefused,
    OAuth2NotOffered,
    SignInNeeded,
    TokenUnavailable,
    LoginDisabled,
    CommandFailed,
    Protocol,
    InvalidInput,
    InvalidCaFile,
    Io,
}

impl ConnectError {
    /// The field-less kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConnectError::HostNotFound { .. } => ErrorKind::HostNotFound,
            ConnectError::AddressNotAllowed { .. } => ErrorKind::AddressNotAllowed,
            ConnectError::ConnectionRefused { .. } => ErrorKind::ConnectionRefused,
            ConnectError::TimedOut { .. } => ErrorKind::TimedOut,
            ConnectError::TlsNotSpoken => ErrorKind::TlsNotSpoken,
            ConnectError::CertificateUntrusted { .. } => ErrorKind::CertificateUntrusted,
            ConnectError::Tls { .. } => ErrorKind::Tls,
            ConnectError::NoGreeting => ErrorKind::NoGreeting,
            ConnectError::StartTlsNotOffered => ErrorKind::StartTlsNotOffered,
            ConnectError::ClosedByServer { .. } => ErrorKind::ClosedByServer,
            ConnectError::Rejected { .. } => ErrorKind::Rejected,
            ConnectError::AuthFailed { .. } => ErrorKind::AuthFailed,
            ConnectError::TokenRefused { .. } => ErrorKind::TokenRefused,
            ConnectError::OAuth2NotOffered => ErrorKind::OAuth2NotOffered,
            ConnectError::TokenUnavailable {
                sign_in_needed: true,
                ..
            } => ErrorKind::SignInNeeded,
            ConnectError::TokenUnavailable { .. } => ErrorKind::TokenUnavailable,
            ConnectError::LoginDisabled => ErrorKind::LoginDisabled,
            ConnectError::CommandFailed { .. } => ErrorKind::CommandFailed,
            ConnectError::Protocol { .. } => ErrorKind::Protocol,
            ConnectError::InvalidInput { .. } => ErrorKind::InvalidInput,
            ConnectError::InvalidCaFile { .. } => ErrorKind::InvalidCaFile,
            ConnectError::Io { .. } => ErrorKind::Io,
        }
    }

    /// Removes `secret` from every text of the error (a server that echoes the command line
    /// must not get the password into logs or the UI).
    pub(crate) fn redact(self, secret: &str) -> ConnectError {
        if secret.is_empty() {
            return self;
        }
        let clean = |s: String| s.replace(secret, "[hidden]");
        match self {
            ConnectError::AuthFailed { server_text } => ConnectError::AuthFailed {
                server_text: clean(server_text),
            },
            ConnectError::TokenRefused { server_text } => ConnectError::TokenRefused {
                server_text: clean(server_text),
            },
            ConnectError::Rejected { server_text } => ConnectError::Rejected {
                server_text: clean(server_text),
            },
            ConnectError::CommandFailed {
                command,
                server_text,
            } => ConnectError::CommandFailed {
                command,
                server_text: clean(server_text),
            },
            ConnectError::Protocol { detail } => ConnectError::Protocol {
                detail: clean(detail),
            },
            ConnectError::Io { detail } => ConnectError::Io {
                detail: clean(detail),
            },
            ConnectError::Tls { detail } => ConnectError::Tls {
                detail: clean(detail),
            },
            other => other,
        }
    }

    /// Whether trying again later may help (network trouble rather than wrong settings).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::TimedOut | ErrorKind::ClosedByServer | ErrorKind::Rejected | ErrorKind::Io
        )
    }
}

const MAX_DETAIL: usize = 300;

/// Cuts server-provided text to a displayable length (on a char boundary).
pub(crate) fn truncate(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Maps a rustls error met while setting up or using TLS.
pub(crate) fn tls_error(e: &rustls::Error) -> ConnectError {
    use rustls::{CertificateError as C, Error as E, InvalidMessage as M};
    match e {
        E::InvalidCertificate(c) => {
            let detail = match c {
                C::UnknownIssuer => "it is issued by an unknown certificate authority (self-signed, or a private CA that is not configured)".to_string(),
                C::NotValidForName => "it is not valid for this host name (name mismatch)".to_string(),
                C::NotValidForNameContext { expected, presented } => format!(
                    "it is not valid for this host name (name mismatch): expected {}, the certificate names {}",
                    server_name_str(expected),
                    if presented.is_empty() { "nothing usable".to_string() } else { presented.join(", ") }
                ),
                C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet (check the server's clock)".to_string(),
                C::Revoked => "it has been revoked".to_string(),
                other => format!("{other:?}"),
            };
            ConnectError::CertificateUntrusted { detail }
        }
        // The first bytes were no TLS record header: "* OK" gives an invalid content type
        // ('*' = 0x2a), other text an unknown version or an absurd record length.
        E::InvalidMessage(
            M::InvalidContentType | M::UnknownProtocolVersion | M::MessageTooLarge,
        ) => ConnectError::TlsNotSpoken,
        E::AlertReceived(alert) => ConnectError::Tls {
            detail: format!("the server sent the TLS alert {alert:?}"),
        },
        E::PeerIncompatible(p) => ConnectError::Tls {
            detail: format!("no TLS version or cipher in common with the server ({p:?})"),
        },
        other => ConnectError::Tls {
            detail: truncate(other.to_string()),
        },
    }
}

fn server_name_str(name: &rustls_pki_types::ServerName<'_>) -> String {
    match name {
        rustls_pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls_pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// Maps an I/O error met during `stage`.
pub(crate) fn io_error(stage: &'static str, e: &io::Error) -> ConnectError {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return tls_error(tls);
    }
    match e.kind() {
        io::ErrorKind::TimedOut => ConnectError::TimedOut { stage },
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ConnectError::ClosedByServer { stage },
        // async-imap reports unparsable server data as `Other` "... during parsing of ...".
        io::ErrorKind::Other if e.to_string().contains("during parsing") => {
            ConnectError::Protocol {
                detail: truncate(format!("during {stage}: {e}")),
            }
        }
        _ => ConnectError::Io {
            detail: truncate(format!("during {stage}: {e}")),
        },
    }
}

/// Maps an error from a TCP connect to `addr`.
pub(crate) fn connect_error(addr: SocketAddr, e: &io::Error) -> ConnectError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectError::ConnectionRefused {
            addr: addr.to_string(),
        },
        io::ErrorKind::TimedOut => ConnectError::TimedOut { stage: "connect" },
        _ => ConnectError::Io {
            detail: truncate(format!("could not connect to {addr}: {e}")),
        },
    }
}

/// Maps an async-imap error met while running `command`; NO/BAD become [`ConnectError::CommandFailed`].
pub(crate) fn imap_error(command: &'static str, e: async_imap::error::Error) -> ConnectError {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) => io_error(command, &io),
        E::ConnectionLost => ConnectError::ClosedByServer { stage: command },
        E::No(s) | E::Bad(s) => ConnectError::CommandFailed {
            command,
            server_text: outcome_text(&s),
        },
        E::Validate(v) => ConnectError::InvalidInput {
            detail: v.to_string(),
        },
        other => ConnectError::Protocol {
            detail: truncate(format!("during {command}: {other}")),
        },
    }
}

/// async-imap 0.12 renders NO/BAD as `code: Some(..), info: Some("text")` (or
/// `outcome: Outcome { code: .., information: Some("text") }` for STATUS). Recover the server's
/// own text; fall back to the whole string.
pub(crate) fn outcome_text(s: &str) -> String {
    for marker in ["info: Some(\"", "information: Some(\""] {
        if let Some(start) = s.find(marker) {
            let rest = &s[start + marker.len()..];
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return truncate(out),
                    '\\' => match chars.next() {
                        Some('n') => out.push(' '),
                        Some('r') | Some('t') => out.push(' '),
                        Some('u') => {
                            // \u{XXXX}
                            let code: String = chars
                                .by_ref()
                                .skip_while(|c| *c == '{')
                                .take_while(|c| *c != '}')
                                .collect();
                            if let Some(ch) =
                                u32::from_str_radix(&code, 16).ok().and_then(char::from_u32)
                            {
                                out.push(ch);
                            }
                        }
                        Some(other) => out.push(other),
                        None => break,
                    },
                    c => out.push(c),
                }
            }
            return truncate(out);
        }
    }
    if s.contains("info: None") || s.contains("information: None") {
        return "(no text)".to_string();
    }
    truncate(s.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn outcome_text_is_recovered() {
        assert_eq!(
            outcome_text(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            outcome_text(
                r#"outcome: Outcome { code: None, information: Some("Mailbox \"x\" doesn't exist: \\y") }"#
            ),
            r#"Mailbox "x" doesn't exist: \y"#
        );
        assert_eq!(outcome_text("code: None, info: None"), "(no text)");
        assert_eq!(outcome_text("weird"), "weird");
    }

    #[test]
    fn kinds_serialize_as_snake_case() {
        let k = ConnectError::TlsNotSpoken.kind();
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"tls_not_spoken\"");
        let back: ErrorKind = serde_json::from_str("\"auth_failed\"").unwrap();
        assert_eq!(back, ErrorKind::AuthFailed);
    }

    #[test]
    fn plaintext_reply_is_tls_not_spoken() {
        let e = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let io = io::Error::new(io::ErrorKind::InvalidData, e);
        assert_eq!(io_error("TLS handshake", &io), ConnectError::TlsNotSpoken);
    }

    #[test]
    fn certificate_problems_are_distinguishable() {
        use rustls::CertificateError as C;
        let detail = |c: C| match tls_error(&rustls::Error::InvalidCertificate(c)) {
            ConnectError::CertificateUntrusted { detail } => detail,
            other => panic!("{other:?}"),
        };
        assert!(detail(C::UnknownIssuer).contains("unknown certificate authority"));
        assert!(detail(C::Expired).contains("expired"));
        assert!(detail(C::NotValidYet).contains("not valid yet"));
        let d = detail(C::NotValidForNameContext {
            expected: rustls_pki_types::ServerName::try_from("imap.example.org").unwrap(),
            presented: vec!["DnsName(\"localhost\")".into()],
        });
        assert!(
            d.contains("name mismatch") && d.contains("imap.example.org"),
            "{d}"
        );
        let alert = tls_error(&rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(alert.kind(), ErrorKind::Tls);
    }

    #[test]
    fn redaction() {
        let e = ConnectError::AuthFailed {
            server_text: "bad LOGIN u hunter2".into(),
        }
        .redact("hunter2");
        assert_eq!(
            e.to_string(),
            "the server rejected the login: bad LOGIN u [hidden]"
        );
        assert_eq!(
            ConnectError::NoGreeting.redact("x"),
            ConnectError::NoGreeting
        );
        let e = ConnectError::TokenRefused {
            server_text: "no ya29.abc (status 401)".into(),
        }
        .redact("ya29.abc");
        assert_eq!(
            e.to_string(),
            "the server refused the OAuth2 access token: no [hidden] (status 401)"
        );
        assert_eq!(e.kind(), ErrorKind::TokenRefused);
        assert!(!e.is_transient());
    }

    #[test]
    fn truncate_on_char_boundary() {
        let s = "é".repeat(400);
        let t = truncate(s);
        assert!(t.len() <= MAX_DETAIL + '…'.len_utf8());
    }
}
