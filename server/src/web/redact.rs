//! What the user may read of a connection error: never the address a name resolved to. A
//! resolved address is an oracle for the operator's internal names ("imap.corp resolves to
//! 10.1.2.3") and says nothing the user can act on. The log keeps the full error.

use std::net::{IpAddr, SocketAddr};

use mailcopy::ConnectError;

/// What replaces an address in a text shown to the user.
pub const HIDDEN: &str = "[address hidden]";

/// The English cause shown after the localized sentence for a failed connection.
pub fn user_detail(error: &ConnectError) -> String {
    match error {
        ConnectError::AddressNotAllowed { host, .. } => format!(
            "{host} resolves to a private, local or reserved address that this service may not connect to"
        ),
        ConnectError::ConnectionRefused { .. } => {
            "the connection was refused: nothing listens on that port".to_string()
        }
        other => without_addresses(&other.to_string()),
    }
}

/// `text` with every IP address (with or without a port) replaced by [`HIDDEN`]; for texts
/// that reach the user only as strings (a job's last error, the report).
pub fn without_addresses(text: &str) -> String {
    let is_part = |c: char| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '[' | ']');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_part) {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !is_part(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        // Sentence punctuation after an address is not part of it ("… to 10.0.0.1.").
        let core = run.trim_end_matches(['.', ':']);
        if is_address(core) {
            out.push_str(HIDDEN);
            out.push_str(&run[core.len()..]);
        } else {
            out.push_str(run);
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

fn is_address(s: &str) -> bool {
    if !s.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>().is_ok() || s.parse::<SocketAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_not_allowed_names_the_host_not_the_address() {
        let e = ConnectError::AddressNotAllowed {
            host: "imap.corp.example".into(),
            addr: "10.1.2.3".into(),
        };
        assert!(
            e.to_string().contains("10.1.2.3"),
            "the engine's message has it"
        );
        let shown = user_detail(&e);
        assert!(
            shown.starts_with("imap.corp.example resolves to a private"),
            "{shown}"
        );
        assert!(!shown.contains("10.1.2.3"), "{shown}");
        let refused = user_detail(&ConnectError::ConnectionRefused {
            addr: "[fd00::5]:993".into(),
        });
        assert!(
            !refused.contains("fd00") && refused.contains("refused"),
            "{refused}"
        );
    }

    #[test]
    fn texts_lose_every_address_and_keep_the_rest() {
        assert_eq!(
            without_addresses("source: imap.corp resolves to 10.1.2.3, a private address"),
            "source: imap.corp resolves to [address hidden], a private address"
        );
        assert_eq!(
            without_addresses("the connection to 203.0.113.9:993 was refused."),
            "the connection to [address hidden] was refused."
        );
        assert_eq!(
            without_addresses("to [2001:db8::1]:143 and fd00::7."),
            "to [address hidden] and [address hidden]."
        );
        for kept in [
            "the server closed the connection during FETCH",
            "NO [OVERQUOTA] quota exceeded (10:30:00)",
            "deadbeef cafe: a::b 1.2.3",
            "INBOX.Archive.2020",
        ] {
            assert_eq!(without_addresses(kept), kept);
        }
    }
}
