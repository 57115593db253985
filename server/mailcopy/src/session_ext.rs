//! Session commands the folder planner and its executor need (LSUB, CREATE, SUBSCRIBE), kept
//! beside `session.rs` as a second `impl ImapSession` block.

use futures::TryStreamExt;

use crate::error::{imap_error, ConnectError};
use crate::session::ImapSession;

impl ImapSession {
    /// `LSUB "" "*"`: raw names (modified UTF-7) of the subscribed folders, including
    /// subscriptions of folders that no longer exist.
    pub async fn list_subscribed(&mut self) -> Result<Vec<String>, ConnectError> {
        let names: Vec<async_imap::types::Name> = self
            .inner_mut()
            .lsub(Some(""), Some("*"))
            .await
            .map_err(|e| imap_error("LSUB", e))?
            .try_collect()
            .await
            .map_err(|e| imap_error("LSUB", e))?;
        self.drain_unsolicited_ext();
        Ok(names.iter().map(|n| unquote(n.name())).collect())
    }

    /// `CREATE name` (raw, modified UTF-7).
    pub async fn create_folder(&mut self, name: &str) -> Result<(), ConnectError> {
        let result = self.inner_mut().create(name).await;
        self.drain_unsolicited_ext();
        result.map_err(|e| imap_error("CREATE", e))
    }

    /// `SUBSCRIBE name` (raw, modified UTF-7).
    pub async fn subscribe(&mut self, name: &str) -> Result<(), ConnectError> {
        let result = self.inner_mut().subscribe(name).await;
        self.drain_unsolicited_ext();
        result.map_err(|e| imap_error("SUBSCRIBE", e))
    }

    /// Empties the unsolicited-response channel (async-imap drops what does not fit).
    fn drain_unsolicited_ext(&mut self) {
        while self.inner_mut().unsolicited_responses.try_recv().is_ok() {}
    }
}

/// imap-proto keeps the `\\` and `\"` escapes of quoted strings; undo them (as `session.rs`).
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => out.push(chars.next().unwrap_or('\\')),
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unquoting() {
        assert_eq!(super::unquote(r#"a\"b\\c"#), r#"a"b\c"#);
        assert_eq!(super::unquote("plain"), "plain");
    }
}
