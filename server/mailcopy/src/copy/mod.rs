//! The exact message copier.
//!
//! [`copy_mailbox`] copies every folder and message of one account into another:
//!
//! 1. **Connect**: `connections` sessions per side ([`CopyOptions::connections`]), paired into
//!    *lanes* (one source + one destination session each). Only the first lane is required;
//!    lanes the servers refuse are logged and done without.
//! 2. **List and plan**: LIST, NAMESPACE and LSUB on both sides, then the folder plan
//!    ([`crate::plan`]): source name → destination name, whether to create, subscribe.
//! 3. **Prepare the destination**: CREATE missing folders (parents first, empty ones too;
//!    `[ALREADYEXISTS]` tolerated), SUBSCRIBE as planned.
//! 4. **Scan**: per folder, both sides read-only (EXAMINE) and one metadata round trip each:
//!    `UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID
//!    DATE FROM TO CC SUBJECT)])`. With a usable checkpoint ([`checkpoint`]) the header
//!    fields are fetched only for the messages its UID map does not pair. Then **matching**
//!    (module `identity`): per folder, the multiset of source identities against the
//!    destination's; what is at the destination already is not copied again (k at the source,
//!    j < k at the destination → k − j copied), nothing at the destination is ever deleted.
//!    [`Progress::Scanned`] gives what is left to copy, for the ETA.
//! 5. **Copy**: lanes take whole folders, largest first (one folder is copied by one lane,
//!    so the destination keeps the source's order). Flags of messages already present are
//!    brought in line with the source (`UID STORE` +/−, grouped). Then per message left, in UID
//!    order: `\Deleted` → skipped; over the size limit (APPENDLIMIT or
//!    [`CopyOptions::max_message_size`]) → rejected without fetching; else `UID FETCH n (FLAGS
//!    INTERNALDATE BODY.PEEK[])` (never sets `\Seen`) and `APPEND` with the flags minus
//!    `\Recent` and the INTERNALDATE exactly as the source sent it. One body is in memory per
//!    lane at a time. The folder's checkpoint is saved about once a second and at its end.
//!    With [`CopyOptions::verify`], each copied message is read back from the destination and
//!    compared ([`FolderReport::altered`]).
//! 6. **Verify**: STATUS MESSAGES of every destination folder fills
//!    [`FolderReport::destination_count`]; fewer messages than expected makes the copy
//!    incomplete.
//!
//! Re-runs and resumed copies: the scan alone decides what is copied, so a copy interrupted
//! anywhere (cancelled, killed, connection lost — even with an APPEND in flight) and run again
//! ends exact without duplicates, with or without checkpoints.
//!
//! Failures: a message the destination refuses (NO, `[LIMIT]`/`[TOOBIG]`, too large) or the
//! source cannot deliver twice is listed in [`FolderReport::rejected`] and the copy goes on.
//! Keywords the destination cannot store (PERMANENTFLAGS without `\*`, or an APPEND refused
//! while keywords were present) are dropped and counted in
//! [`FolderReport::keywords_dropped`]; the message itself is never lost for a flag. A full
//! destination (`[OVERQUOTA]`), a login refused on reconnect, or a connection that keeps
//! failing stop the whole copy once, with one error in [`Outcome::Incomplete`].
//!
//! Per-message results, including the destination's `[APPENDUID]`, travel in
//! [`Progress::Message`] events, not in the report.
//!
//! The IMAP commands are the engine's own (module `imap`: tagged commands over the engine's
//! own connection, typed results, every response code visible). Within a lane the source
//! side fetches ahead in batches (one `UID FETCH` for up to 1 MB / 100 messages) while the
//! destination side appends, so FETCH and APPEND overlap; with LITERAL+ several APPENDs are
//! unconfirmed at once (see `APPEND_WINDOW` in the executor). A connection limiter
//! shared across jobs can be added in the lane pool without changing this module's API.
//!
//! Memory: a lane holds at most 8 MB of message bodies fetched ahead and not yet appended
//! (by the scan's sizes; a larger message is fetched alone), plus async-imap's response
//! buffer; the metadata of a folder (UID, size, flags, date) is kept for the folder being
//! copied, never its bodies.

pub mod checkpoint;
pub(crate) mod identity;
pub mod labels;
mod message;
mod progress;
mod report;
mod run;
mod throttle;
pub mod volume;
mod window;

use serde::{Deserialize, Serialize};

pub use checkpoint::{
    CheckpointError, CheckpointStore, FileCheckpoints, FolderCheckpoint, MemoryCheckpoints,
    NoCheckpoints,
};
pub use labels::LabelPolicy;
pub use progress::{MessageResult, NoProgress, Progress, ProgressSink};
pub use report::{
    human_bytes, render_table, CopyReport, FolderReport, MessageSummary, Outcome, RejectReason,
    RejectedMessage, SkipReason, SkippedMessage, Totals,
};
pub use run::{copy_mailbox, copy_mailbox_with};
pub use tokio_util::sync::CancellationToken;

/// How to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyOptions {
    /// Connections per side (at least 1). Default 4.
    pub connections: usize,
    /// Messages larger than this (RFC822.SIZE, bytes) are not copied and are listed as
    /// rejected. The destination's APPENDLIMIT applies as well.
    pub max_message_size: Option<u64>,
    /// List, plan and scan only: nothing is created or appended; `copied` counts what would be.
    pub dry_run: bool,
    /// Also copy Gmail's virtual folders (`\All`, `\Important`, `\Flagged`), which would
    /// otherwise duplicate every message held in a label.
    pub include_gmail_virtual: bool,
    /// Read every copied message back from the destination and compare it with the source's
    /// bytes; differences are counted in [`FolderReport::altered`] (the destination keeps
    /// what it keeps: nothing is copied again for it).
    #[serde(default)]
    pub verify: bool,
    /// Keep under the providers' daily volumes (Gmail): the copy stops for the day once it
    /// has moved about that much ([`Pacing`]). `None`: no pacing.
    #[serde(default)]
    pub pacing: Option<Pacing>,
    /// A source whose folders are labels (an `\All` folder, or Gmail): each label a folder
    /// (default) or each message once, its other labels as keywords ([`labels`]).
    #[serde(default)]
    pub labels: LabelPolicy,
}

/// How a copy keeps under a provider's daily volume: the volumes, and what this copy already
/// moved in the current day (by earlier attempts: the job runner keeps the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pacing {
    pub volumes: crate::profile::DailyVolumes,
    /// Octets copied in the current day before this run.
    pub used_today: u64,
    /// Milliseconds until the current day is over (when the copy may go on).
    pub day_left_ms: u64,
}

impl Default for Pacing {
    /// The profiles' volumes, a day that starts now.
    fn default() -> Self {
        Pacing {
            volumes: crate::profile::DailyVolumes::default(),
            used_today: 0,
            day_left_ms: 24 * 60 * 60 * 1000,
        }
    }
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            connections: 4,
            max_message_size: None,
            dry_run: false,
            include_gmail_virtual: false,
            verify: false,
            pacing: Some(Pacing::default()),
            labels: LabelPolicy::default(),
        }
    }
}
