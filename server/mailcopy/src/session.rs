//! The engine's authenticated IMAP session and the account check built on it.

use std::fmt;
use std::time::Duration;

use async_imap::imap_proto::NameAttribute;
use async_imap::types::{StatusAttribute, UnsolicitedResponse};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::connect::{connect, has_cap, ConnectOptions, Credentials, Endpoint};
use crate::error::{imap_error, truncate, ConnectError};
use crate::stream::MailStream;

/// A mailbox as LIST reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Folder {
    /// The name as the server sent it (modified UTF-7 is *not* decoded; `INBOX` is upper-case).
    pub name: String,
    /// Hierarchy delimiter; `None` for a flat namespace.
    pub delimiter: Option<char>,
    /// Name attributes as sent, e.g. `\Noselect`, `\HasChildren`, `\Sent`.
    pub attributes: Vec<String>,
}

impl Folder {
    /// Whether the folder holds messages (it is neither `\Noselect` nor `\NonExistent`).
    pub fn is_selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }

    /// Whether the folder carries `attr` (case-insensitive, backslash included).
    pub fn has_attribute(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }
}

/// What STATUS says about a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderStatus {
    pub messages: u32,
    pub uid_next: Option<u32>,
    pub uid_validity: Option<u32>,
}

/// The personal namespace (RFC 2342).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// E.g. `""` or `"INBOX."`.
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// Result of [`check_account`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCheck {
    /// Number of selectable folders.
    pub folders: usize,
    /// Messages in all selectable folders together.
    pub messages: u64,
    /// Capabilities after login.
    pub capabilities: Vec<String>,
}

/// An authenticated IMAP session over a [`MailStream`].
pub struct ImapSession {
    session: async_imap::Session<MailStream>,
    capabilities: Vec<String>,
    host: String,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("host", &self.host)
            .field("stream", self.session.get_ref())
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl ImapSession {
    pub(crate) fn new(session: async_imap::Session<MailStream>, host: String) -> Self {
        ImapSession {
            session,
            capabilities: Vec::new(),
            host,
        }
    }

    /// The host name this session was opened for.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Capabilities as read after login (sorted).
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Case-insensitive capability test, e.g. `has_capability("UIDPLUS")`.
    pub fn has_capability(&self, cap: &str) -> bool {
        has_cap(&self.capabilities, cap)
    }

    /// The underlying async-imap session, for commands this type does not wrap yet.
    pub fn inner_mut(&mut self) -> &mut async_imap::Session<MailStream> {
        &mut self.session
    }

    /// The underlying stream (TLS or not, peer address).
    pub fn stream(&self) -> &MailStream {
        self.session.get_ref()
    }

    /// Asks CAPABILITY again.
    pub async fn refresh_capabilities(&mut self) -> Result<(), ConnectError> {
        let caps = self
            .session
            .capabilities()
            .await
            .map_err(|e| imap_error("CAPABILITY", e))?;
        let mut caps: Vec<String> = caps
            .iter()
            .map(|c| match c {
                async_imap::types::Capability::Imap4rev1 => "IMAP4rev1".to_string(),
                async_imap::types::Capability::Auth(m) => format!("AUTH={m}"),
                async_imap::types::Capability::Atom(a) => a.clone(),
            })
            .collect();
        caps.sort();
        self.capabilities = caps;
        self.drain_unsolicited();
        Ok(())
    }

    /// `LIST "" "*"`: every folder.
    pub async fn list_folders(&mut self) -> Result<Vec<Folder>, ConnectError> {
        let names: Vec<async_imap::types::Name> = self
            .session
            .list(Some(""), Some("*"))
            .await
            .map_err(|e| imap_error("LIST", e))?
            .try_collect()
            .await
            .map_err(|e| imap_error("LIST", e))?;
        self.drain_unsolicited();
        Ok(names
            .iter()
            .map(|n| Folder {
                name: unquote(n.name()),
                delimiter: n.delimiter().and_then(|d| unquote(d).chars().next()),
                attributes: n.attributes().iter().map(attribute_string).collect(),
            })
            .collect())
    }

    /// `STATUS folder (MESSAGES UIDNEXT UIDVALIDITY)`.
    pub async fn status(&mut self, folder: &str) -> Result<FolderStatus, ConnectError> {
        let mbox = self
            .session
            .status(folder, "(MESSAGES UIDNEXT UIDVALIDITY)")
            .await
            .map_err(|e| imap_error("STATUS", e))?;
        let mut status = FolderStatus {
            messages: mbox.exists,
            uid_next: mbox.uid_next,
            uid_validity: mbox.uid_validity,
        };
        // async-imap matches the STATUS answer against our (unescaped) name while imap-proto
        // keeps quoted-string escapes, so for names holding `"` or `\` the answer arrives as an
        // unsolicited response instead: pick it up there. Dovecot sends such names as escaped
        // quoted strings (covered by the Dovecot tests).
        for u in self.drain_unsolicited() {
            let UnsolicitedResponse::Status {
                mailbox,
                attributes,
            } = u
            else {
                continue;
            };
            if status.uid_validity.is_some() || unquote(&mailbox) != folder {
                continue;
            }
            for a in attributes {
                match a {
                    StatusAttribute::Messages(n) => status.messages = n,
                    StatusAttribute::UidNext(n) => status.uid_next = Some(n),
                    StatusAttribute::UidValidity(n) => status.uid_validity = Some(n),
                    _ => {}
                }
            }
        }
        Ok(status)
    }

    /// The first personal namespace, if the server supports NAMESPACE (RFC 2342).
    pub async fn namespace(&mut self) -> Result<Option<Namespace>, ConnectError> {
        if !self.has_capability("NAMESPACE") {
            return Ok(None);
        }
        // imap-proto cannot parse `* NAMESPACE` (a parse failure would end the session), so
        // the stream takes that response out before async-imap sees it.
        self.session.get_mut().begin_capture("NAMESPACE");
        let result = self.session.run_command_and_check_ok("NAMESPACE").await;
        let captured = self.session.get_mut().end_capture();
        result.map_err(|e| imap_error("NAMESPACE", e))?;
        self.drain_unsolicited();
        match captured.first() {
            Some(raw) => parse_namespace(raw).map_err(|detail| ConnectError::Protocol {
                detail: truncate(format!(
                    "NAMESPACE answer {:?}: {detail}",
                    String::from_utf8_lossy(raw)
                )),
            }),
            None => Ok(None),
        }
    }

    /// LOGOUT and close the connection.
    pub async fn logout(mut self) -> Result<(), ConnectError> {
        let result = match self.session.logout().await {
            Ok(()) => Ok(()),
            // The connection ended after (or instead of) the BYE before the tagged OK
            // arrived; not a known server's habit, but the session is over either way.
            Err(async_imap::error::Error::ConnectionLost) => Ok(()),
            Err(e) => Err(imap_error("LOGOUT", e)),
        };
        // Best effort TLS close_notify / FIN; the server may already be gone.
        if let Err(e) = self.session.get_mut().shutdown().await {
            tracing::debug!(error = %e, "shutdown after LOGOUT failed");
        }
        result
    }

    /// Empties the unsolicited-response channel (bounded: async-imap drops what does not fit).
    fn drain_unsolicited(&mut self) -> Vec<UnsolicitedResponse> {
        let mut v = Vec::new();
        while let Ok(u) = self.session.unsolicited_responses.try_recv() {
            v.push(u);
        }
        v
    }
}

/// imap-proto returns quoted strings with their `\\` and `\"` escapes kept; undo them.
fn unquote(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn attribute_string(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".to_string(),
        NameAttribute::NoSelect => "\\Noselect".to_string(),
        NameAttribute::Marked => "\\Marked".to_string(),
        NameAttribute::Unmarked => "\\Unmarked".to_string(),
        NameAttribute::All => "\\All".to_string(),
        NameAttribute::Archive => "\\Archive".to_string(),
        NameAttribute::Drafts => "\\Drafts".to_string(),
        NameAttribute::Flagged => "\\Flagged".to_string(),
        NameAttribute::Junk => "\\Junk".to_string(),
        NameAttribute::Sent => "\\Sent".to_string(),
        NameAttribute::Trash => "\\Trash".to_string(),
        NameAttribute::Extension(e) => e.to_string(),
        other => format!("{other:?}"),
    }
}

/// Parses `* NAMESPACE (("prefix" "delim") ...) <other> <shared>` and returns the first
/// personal namespace (`NIL` → `None`).
fn parse_namespace(raw: &[u8]) -> Result<Option<Namespace>, String> {
    let mut p = Parser { s: raw, i: 0 };
    p.expect_ci(b"* NAMESPACE ")?;
    p.spaces();
    if p.nil() {
        return Ok(None);
    }
    p.expect_ci(b"(")?;
    p.spaces();
    p.expect_ci(b"(")?;
    p.spaces();
    let prefix = p.string()?;
    p.spaces();
    let delimiter = if p.nil() {
        None
    } else {
        let d = p.string()?;
        String::from_utf8_lossy(&d).chars().next()
    };
    Ok(Some(Namespace {
        prefix: String::from_utf8_lossy(&prefix).into_owned(),
        delimiter,
    }))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &[u8] {
        self.s.get(self.i..).unwrap_or_default()
    }

    fn spaces(&mut self) {
        while self.rest().first() == Some(&b' ') {
            self.i += 1;
        }
    }

    fn expect_ci(&mut self, tok: &[u8]) -> Result<(), String> {
        match self.rest().get(..tok.len()) {
            Some(got) if got.eq_ignore_ascii_case(tok) => {
                self.i += tok.len();
                Ok(())
            }
            _ => Err(format!(
                "expected {:?} at byte {}",
                String::from_utf8_lossy(tok),
                self.i
            )),
        }
    }

    fn nil(&mut self) -> bool {
        self.expect_ci(b"NIL").is_ok()
    }

    /// quoted string or literal
    fn string(&mut self) -> Result<Vec<u8>, String> {
        match self.rest().first() {
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    let Some(&b) = self.rest().first() else {
                        return Err("unterminated quoted string".to_string());
                    };
                    self.i += 1;
                    match b {
                        b'"' => return Ok(out),
                        b'\\' => {
                            let Some(&n) = self.rest().first() else {
                                return Err("unterminated quoted string".to_string());
                            };
                            self.i += 1;
                            out.push(n);
                        }
                        b'\r' | b'\n' => return Err("line break in quoted string".to_string()),
                        _ => out.push(b),
                    }
                }
            }
            Some(b'{') => {
                let rest = self.rest();
                let close = rest
                    .iter()
                    .position(|b| *b == b'}')
                    .ok_or("unterminated literal")?;
                let digits = rest
                    .get(1..close)
                    .map(|d| d.strip_suffix(b"+").unwrap_or(d))
                    .unwrap_or_default();
                let n: usize = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or("bad literal length")?;
                self.i += close + 1;
                self.expect_ci(b"\r\n")?;
                let data = self
                    .rest()
                    .get(..n)
                    .ok_or("literal shorter than announced")?
                    .to_vec();
                self.i += n;
                Ok(data)
            }
            _ => Err(format!("expected a string at byte {}", self.i)),
        }
    }
}

/// Connects, logs in, lists every folder and asks STATUS of each selectable one, all within
/// `overall`. What the "check account" button runs.
pub async fn check_account(
    endpoint: &Endpoint,
    creds: &Credentials,
    opts: &ConnectOptions,
    overall: Duration,
) -> Result<AccountCheck, ConnectError> {
    let work = async {
        let mut session = connect(endpoint, creds, opts).await?;
        let folders = session.list_folders().await?;
        let mut selectable = 0usize;
        let mut messages = 0u64;
        for f in folders.iter().filter(|f| f.is_selectable()) {
            selectable += 1;
            messages += u64::from(session.status(&f.name).await?.messages);
        }
        let capabilities = session.capabilities().to_vec();
        // The check succeeded; a failing LOGOUT does not change that.
        if let Err(e) = session.logout().await {
            tracing::debug!(error = %e, "logout after account check failed");
        }
        Ok(AccountCheck {
            folders: selectable,
            messages,
            capabilities,
        })
    };
    match tokio::time::timeout(overall, work).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::TimedOut {
            stage: "account check",
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn namespace_parsing() {
        let ns = |s: &str| parse_namespace(s.as_bytes());
        assert_eq!(
            ns("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n").unwrap(),
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('.')
            })
        );
        assert_eq!(
            ns("* NAMESPACE ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\"))) ((\"~\" \"/\")) NIL\r\n")
                .unwrap(),
            Some(Namespace {
                prefix: "".into(),
                delimiter: Some('/')
            })
        );
        assert_eq!(
            ns("* namespace ((\"\" NIL)) NIL NIL\r\n").unwrap(),
            Some(Namespace {
                prefix: "".into(),
                delimiter: None
            })
        );
        assert_eq!(
            ns("* NAMESPACE (({6}\r\nINBOX. \"\\\\\")) NIL NIL\r\n").unwrap(),
            Some(Namespace {
                prefix: "INBOX.".into(),
                delimiter: Some('\\')
            })
        );
        assert_eq!(ns("* NAMESPACE NIL NIL NIL\r\n").unwrap(), None);
        assert!(ns("* NAMESPACE ((\"x\r\n").is_err());
        assert!(ns("* NAMESPACE (({99}\r\nab").is_err());
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote(r#"a\"b\\c"#), r#"a"b\c"#);
        assert_eq!(unquote("plain"), "plain");
    }

    #[test]
    fn selectable() {
        let f = |attrs: &[&str]| Folder {
            name: "x".into(),
            delimiter: Some('/'),
            attributes: attrs.iter().map(|s| s.to_string()).collect(),
        };
        assert!(f(&["\\HasNoChildren"]).is_selectable());
        assert!(!f(&["\\NoSelect"]).is_selectable());
        assert!(!f(&["\\NonExistent", "\\HasChildren"]).is_selectable());
        assert!(f(&["\\Sent"]).has_attribute("\\sent"));
    }
}
