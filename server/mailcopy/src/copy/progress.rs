//! Progress events: what the status page and the ETA are computed from.

use serde::{Deserialize, Serialize};

use super::report::{Outcome, SkipReason};
use crate::names::{MailboxName, Uid, UidValidity};

/// What happened to one source message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageResult {
    /// Appended. `appended_uid` is the destination's `[APPENDUID uidvalidity uid]` when it
    /// sent one (checkpoints use it); `keywords_dropped` counts keywords it was copied without.
    Copied {
        appended_uid: Option<(UidValidity, Uid)>,
        keywords_dropped: u32,
    },
    /// Not copied on purpose.
    Skipped { reason: SkipReason },
    /// Not copied: refused by the destination, too large, or unreadable at the source.
    Rejected,
}

/// One progress event. Cheap: at most one per message, never per byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// Folders are planned, connections open.
    Planned {
        folders: u64,
    },
    /// The metadata scan of both sides is done: what there is to copy. `messages` and
    /// `bytes` count the source messages that are not at the destination (each gets a
    /// [`Progress::Message`]); `already_present` the ones that were there before this copy,
    /// `copied_before` the ones an earlier run of this copy appended (its checkpoints say
    /// so: [`FolderCheckpoint::appended_from`](super::FolderCheckpoint::appended_from)).
    /// Together they are every source message, each counted once; the byte counts are
    /// source sizes.
    Scanned {
        folders: u64,
        messages: u64,
        bytes: u64,
        #[serde(default)]
        already_present: u64,
        #[serde(default)]
        already_present_bytes: u64,
        #[serde(default)]
        copied_before: u64,
        #[serde(default)]
        copied_before_bytes: u64,
    },
    /// Folder names serialize as their raw form.
    FolderStarted {
        source: MailboxName,
        destination: MailboxName,
    },
    /// One message done. The counters are totals over the whole copy so far; `failed`
    /// counts rejected messages.
    Message {
        source: MailboxName,
        uid: Uid,
        result: MessageResult,
        copied: u64,
        skipped: u64,
        failed: u64,
        bytes_done: u64,
    },
    FolderDone {
        source: MailboxName,
        destination: MailboxName,
        copied: u32,
        skipped: u32,
        failed: u32,
    },
    Finished {
        outcome: Outcome,
    },
}

/// Where progress goes. Called from the copy task; must not block for long.
pub trait ProgressSink: Send + Sync {
    fn event(&self, progress: Progress);
}

/// Discards every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&self, _progress: Progress) {}
}

/// A channel: events are dropped when the receiver is gone.
impl ProgressSink for tokio::sync::mpsc::UnboundedSender<Progress> {
    fn event(&self, progress: Progress) {
        let _ = self.send(progress);
    }
}

/// Any closure.
impl<F: Fn(Progress) + Send + Sync> ProgressSink for F {
    fn event(&self, progress: Progress) {
        self(progress)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_serialize_raw() {
        let event = Progress::FolderStarted {
            source: MailboxName::from_raw("Entw&APw-rfe"),
            destination: MailboxName::from_raw("INBOX.Drafts"),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"folder_started","source":"Entw&APw-rfe","destination":"INBOX.Drafts"}"#
        );
        match serde_json::from_str(&json).unwrap() {
            Progress::FolderStarted { source, .. } => assert_eq!(source.display(), "Entwürfe"),
            other => panic!("{other:?}"),
        }
    }
}
