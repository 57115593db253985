//! The engine's authenticated IMAP session and the account check built on it.
//!
//! [`ImapSession`] owns the connection after login (module `imap`); its public methods are
//! the engine's IMAP API for the rest of the workspace (the account check, the report's
//! APPEND, tests).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::connect::{connect, has_cap, ConnectOptions, Credentials, Endpoint};
use crate::error::ConnectError;
use crate::flag::Flag;
use crate::imap::conn::Connection;
pub use crate::imap::mailbox::{Quota, Selected};
pub use crate::imap::message::{Appended, FetchedMessage};
pub use crate::imap::parse::Namespace;
use crate::imap::{mailbox, message};
use crate::limit::ConnectionPermit;
use crate::names::{MailboxName, Uid, UidValidity};
use crate::stream::MailStream;

/// A mailbox as LIST reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Folder {
    /// The name: raw as the server sent it (modified UTF-7, `INBOX` upper-case) and decoded.
    pub name: MailboxName,
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
    pub uid_next: Option<Uid>,
    pub uid_validity: Option<UidValidity>,
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
    pub(crate) conn: Connection,
    capabilities: Vec<String>,
    host: String,
    /// The text of the server's greeting (`* OK …`), e.g. to tell Exchange.
    greeting: String,
    /// This connection's place under the process's connection cap, given back on drop.
    permit: Option<ConnectionPermit>,
    /// The metadata FETCH asks for Gmail's message id (`X-GM-MSGID`) where `X-GM-EXT-1` is
    /// offered: a copy's source sessions (the destination's identity is the content's).
    gmail_ids: bool,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("host", &self.host)
            .field("stream", self.conn.stream())
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl ImapSession {
    pub(crate) fn new(conn: Connection, host: String, greeting: String) -> Self {
        ImapSession {
            conn,
            capabilities: Vec::new(),
            host,
            greeting,
            permit: None,
            gmail_ids: false,
        }
    }

    /// The metadata FETCH of this session asks for Gmail's message ids, if the server offers
    /// `X-GM-EXT-1` (a copy's source sessions).
    pub(crate) fn with_gmail_ids(mut self) -> Self {
        self.gmail_ids = true;
        self
    }

    /// Whether the metadata FETCH asks for `X-GM-MSGID`.
    pub(crate) fn asks_gmail_ids(&self) -> bool {
        self.gmail_ids && self.has_capability("X-GM-EXT-1")
    }

    /// Keeps `permit` as long as the session lives.
    pub(crate) fn hold(&mut self, permit: ConnectionPermit) {
        self.permit = Some(permit);
    }

    /// The text of the server's greeting.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// Which provider the server is (see [`crate::profile::Provider::detect`]).
    pub fn provider(&self) -> crate::profile::Provider {
        crate::profile::Provider::detect(&self.host, &self.greeting, &self.capabilities)
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

    /// The underlying stream (TLS or not, peer address).
    pub fn stream(&self) -> &MailStream {
        self.conn.stream()
    }

    /// `[ALERT]` texts the server sent on this session (the first few).
    /// Successful answers that carried Gmail's `[THROTTLED]` hint on this session.
    pub fn throttle_hints(&self) -> u64 {
        self.conn.events.throttled
    }

    pub fn alerts(&self) -> &[String] {
        &self.conn.events.alerts
    }

    /// Asks CAPABILITY again.
    pub async fn refresh_capabilities(&mut self) -> Result<(), ConnectError> {
        let mut caps = Vec::new();
        self.conn
            .run("CAPABILITY", "CAPABILITY", |r| {
                if let crate::imap::parse::Reply::Parsed(imap_proto::Response::Capabilities(cs)) = r
                {
                    caps.extend(cs.iter().map(crate::connect::cap_string));
                }
            })
            .await
            .map_err(|e| e.into_connect_error())?;
        if caps.is_empty() {
            return Err(ConnectError::Protocol {
                detail: "the server answered CAPABILITY without listing capabilities".to_string(),
            });
        }
        caps.sort();
        caps.dedup();
        self.capabilities = caps;
        Ok(())
    }

    /// `LIST "" "*"`: every folder.
    pub async fn list_folders(&mut self) -> Result<Vec<Folder>, ConnectError> {
        mailbox::list(self)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// `LSUB "" "*"`: raw names (modified UTF-7) of the subscribed folders, including
    /// subscriptions of folders that no longer exist.
    pub async fn list_subscribed(&mut self) -> Result<Vec<String>, ConnectError> {
        mailbox::lsub(self)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// `STATUS folder (MESSAGES UIDNEXT UIDVALIDITY)`.
    pub async fn status(&mut self, folder: &str) -> Result<FolderStatus, ConnectError> {
        let st = mailbox::status(self, folder, "MESSAGES UIDNEXT UIDVALIDITY")
            .await
            .map_err(|e| e.into_connect_error())?;
        let small = |v: Option<u64>| v.and_then(|v| u32::try_from(v).ok());
        Ok(FolderStatus {
            messages: small(st.get("MESSAGES")).unwrap_or_default(),
            uid_next: small(st.get("UIDNEXT")).map(Uid),
            uid_validity: small(st.get("UIDVALIDITY")).map(UidValidity),
        })
    }

    /// The first personal namespace, if the server supports NAMESPACE (RFC 2342).
    pub async fn namespace(&mut self) -> Result<Option<Namespace>, ConnectError> {
        mailbox::namespace(self)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// `CREATE name` (raw, modified UTF-7).
    pub async fn create_folder(&mut self, name: &str) -> Result<(), ConnectError> {
        mailbox::simple(self, "CREATE", name)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// `SUBSCRIBE name` (raw, modified UTF-7).
    pub async fn subscribe(&mut self, name: &str) -> Result<(), ConnectError> {
        mailbox::simple(self, "SUBSCRIBE", name)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// `EXAMINE name` (read-only).
    pub async fn examine(&mut self, name: &str) -> Result<Selected, ConnectError> {
        mailbox::select(self, name, true)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// `APPEND` of one message (flags and INTERNALDATE in IMAP syntax, e.g. `\\Seen` and
    /// `"01-Jan-2020 10:00:00 +0000"` without quotes).
    pub async fn append(
        &mut self,
        mailbox: &str,
        flags: &[Flag],
        internaldate: Option<&str>,
        body: &[u8],
    ) -> Result<Appended, ConnectError> {
        message::append(self, mailbox, flags, internaldate, body)
            .await
            .map_err(|e| e.into_connect_error())
    }

    /// LOGOUT and close the connection.
    pub async fn logout(mut self) -> Result<(), ConnectError> {
        let result = match self.conn.run("LOGOUT", "LOGOUT", |_| {}).await {
            Ok(_) => Ok(()),
            // The connection ended after (or instead of) the BYE before the tagged OK
            // arrived; the session is over either way.
            Err(crate::imap::CmdError::Broken(ConnectError::ClosedByServer { .. })) => Ok(()),
            Err(e) => Err(e.into_connect_error()),
        };
        // Best effort TLS close_notify / FIN; the server may already be gone.
        if let Err(e) = self.conn.stream_mut().shutdown().await {
            tracing::debug!(error = %e, "shutdown after LOGOUT failed");
        }
        result
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
        let names: Vec<String> = folders
            .iter()
            .filter(|f| f.is_selectable())
            .map(|f| f.name.raw().to_string())
            .collect();
        // Every folder's STATUS in flight at once: one round trip, not one per folder.
        let answers = mailbox::status_many(&mut session, &names, "MESSAGES UIDNEXT UIDVALIDITY")
            .await
            .map_err(|e| e.into_connect_error())?;
        let selectable = names.len();
        let mut messages = 0u64;
        for answer in answers {
            let st = answer.map_err(|server_text| ConnectError::CommandFailed {
                command: "STATUS",
                server_text,
            })?;
            messages += st.get("MESSAGES").unwrap_or_default();
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
