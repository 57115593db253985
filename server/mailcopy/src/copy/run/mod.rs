//! The copy run: lanes of (source, destination) sessions working through the folder plan.

mod all_mail;
mod append;
mod fetch_ahead;
mod flags;
mod folder;
mod lanes;
mod pace;
mod prepare;
mod quiet;
mod scan;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, CheckpointStore, FolderCheckpoint, NoCheckpoints};
use super::identity::{self, body_digest, Ident, MatchedBy};
use super::labels::{self, LabelPolicy};
use super::message::{
    classify_refusal, flags_to_copy, is_deleted, summarize, KeywordPolicy, Refusal,
};
use super::progress::{MessageResult, Progress, ProgressSink};
use super::report::{
    CopyReport, FolderReport, MessageSummary, Outcome, RejectReason, RejectedMessage, SkipReason,
    SkippedMessage,
};
use super::window::{Answer, Window};
use super::CopyOptions;
use crate::connect::{connect, ConnectOptions, Credentials, Endpoint};
use crate::error::ConnectError;
use crate::flag::Flag;
use crate::imap::mailbox::{self, Selected};
use crate::imap::message::{self, FetchedMessage, MessageMeta};
use crate::imap::CmdError;
use crate::names::{MailboxName, Uid, UidValidity};
use crate::plan::{plan_folders, FolderMapping, FolderPlan, PlanOptions, Side as Listing};
use crate::profile::Provider;
use crate::session::Folder;
use crate::session::ImapSession;
use crate::stop::{Stop, StopKind};

use fetch_ahead::*;
use lanes::*;
use quiet::*;

/// Reconnects in a row (without one message copied in between) before a side is declared
/// unusable and the copy stops.
const MAX_RECONNECTS_IN_A_ROW: u32 = 6;

/// Waits before trying a failed reconnect again (transient failures only): about 15 s in all,
/// enough for a server restart or a short network cut.
const REOPEN_WAITS: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(750),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// Times one message's APPEND may break the connection before the copy stops.
const APPEND_BREAKS_PER_MESSAGE: u32 = 4;

/// Listings of both accounts tried when a connection is lost while listing.
const LISTING_TRIES: u32 = 3;

/// Scans of one folder whose connection broke before the folder is given up.
const SCAN_TRIES: usize = 5;

/// Times one message's FETCH may break the connection before it is given up: reported as a
/// message the source cannot serve when the source serves others, else the copy stops (and
/// its retry resumes).
const FETCH_BREAKS_PER_MESSAGE: u32 = 4;

/// LOGOUT is a courtesy: never wait long for it.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// A folder's checkpoint is saved at most this often while it is copied (and at its end).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Ranges per UID set in one command (`UID FETCH`, `UID STORE`).
const MAX_RANGES: usize = 500;

/// Bytes of messages (by the scan's sizes) one lane holds between the source FETCH and the
/// destination's answer to their APPEND: fetched ahead, waiting, or in flight. A larger
/// message is still fetched, alone.
const AHEAD_BYTES: u32 = 8 << 20;

/// Messages one lane holds ahead at most (many small ones).
const AHEAD_MESSAGES: usize = 256;

/// One batch `UID FETCH` asks for at most this many bytes (by the scan's sizes; a larger
/// message goes alone) ...
const FETCH_BATCH_BYTES: u64 = 512 << 10;

/// ... and at most this many messages. Small batches reach the destination side sooner (a
/// batch is handed over once its answer is complete); the pipeline hides the round trips.
const FETCH_BATCH_MESSAGES: usize = 50;

/// Batch `UID FETCH`es in flight on one source connection at most (all within
/// [`AHEAD_BYTES`]): 8 × 512 KB covers 100 ms of round trip at 40 MB/s.
const FETCH_PIPELINE: usize = 8;

/// APPENDs in flight on one destination connection at most (with `LITERAL+`), and the bytes
/// they may hold together (a larger message goes alone). An APPEND the server has received
/// is stored even when the client is gone — its commands sit in the server's input buffer,
/// in the kernel's socket buffers on both ends, in a proxy — so a copy killed and started
/// again at once could scan the destination while the server still stores them and append
/// them a second time (the `abort-early` case of `tests/copy_rerun.rs`). The window is safe
/// because of two things: the folder's checkpoint says `appending` before the first APPEND
/// is sent, and a scan of a destination folder that may have APPENDs still arriving (marked
/// so, or no checkpoint to tell) trusts its listing only once the folder has been quiet for
/// [`QUIET`] (see [`Run::confirm_quiet`]); a reconnect with APPENDs unanswered waits the same
/// way before it counts what landed ([`Run::dst_select_quiet`]). The bytes bound how long a
/// killed copy's APPENDs can go on arriving.
const APPEND_WINDOW: usize = 128;
const APPEND_WINDOW_BYTES: usize = 2 << 20;

/// A destination folder whose UIDNEXT and message count did not change for this long is
/// taken to have stored every APPEND a previous (killed) session or connection had sent: a
/// server stores one connection's APPENDs one after the other, so while some are still
/// arriving the folder changes at least every few milliseconds (a window holds at most
/// [`APPEND_WINDOW_BYTES`]).
const QUIET: Duration = Duration::from_millis(250);

/// How long a folder may keep changing before the copy gives up on it (a folder error: a
/// re-run copies the rest) rather than risk appending a message twice.
const QUIET_MAX: Duration = Duration::from_secs(10);
/// Folders one lane lists (both sides' EXAMINE and metadata FETCH) in one round trip.
const SCAN_GROUP: usize = 8;

/// Destination folders read again in one round trip by the quiet check.
const QUIET_BATCH: usize = 64;

/// Copies every planned folder and message from `source` to `destination`, without
/// checkpoints (see [`copy_mailbox_with`]).
///
/// Never fails as such: problems end up in the returned report ([`Outcome::Incomplete`]
/// with one error when the copy had to stop). `connect` applies to both sides (its extra CA
/// PEM may hold several certificates). Cancelling `cancel` stops the copy between two
/// messages. The last event sent to `progress` is [`Progress::Finished`]. Running it again
/// appends only what is missing at the destination.
pub async fn copy_mailbox(
    source: (&Endpoint, &Credentials),
    destination: (&Endpoint, &Credentials),
    connect: &ConnectOptions,
    options: &CopyOptions,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
) -> CopyReport {
    copy_mailbox_with(
        source,
        destination,
        connect,
        options,
        progress,
        cancel,
        &NoCheckpoints,
    )
    .await
}

/// [`copy_mailbox`] with a checkpoint store: resuming an interrupted copy (or re-running a
/// finished one) then fetches less. The result is the same with or without it.
pub async fn copy_mailbox_with(
    source: (&Endpoint, &Credentials),
    destination: (&Endpoint, &Credentials),
    connect: &ConnectOptions,
    options: &CopyOptions,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
    checkpoints: &dyn CheckpointStore,
) -> CopyReport {
    // A copy's extra connections take a place under the process's cap only if one is free.
    let at_once = connect.without_limiter_wait();
    let run = Run {
        src: Account {
            role: lanes::SOURCE,
            endpoint: source.0,
            creds: source.1,
            opts: connect,
            at_once: &at_once,
        },
        dst: Account {
            role: "destination",
            endpoint: destination.0,
            creds: destination.1,
            opts: connect,
            at_once: &at_once,
        },
        options,
        progress,
        cancel,
        checkpoints,
        state: Mutex::new(State::default()),
    };
    let report = run.execute().await;
    progress.event(Progress::Finished {
        outcome: report.outcome.clone(),
    });
    report
}

/// Why an operation did not produce its result.
#[derive(Debug)]
enum Fail {
    /// Pointless to go on with anything: stop the copy.
    Fatal(Stop),
    /// This folder cannot be copied (further); other folders can.
    Folder(String),
    /// The command was refused / the connection broke (after the retries): this message only.
    Message(String),
    /// The server answered with a throttling text: pause ([`Run::throttled`]), then the same
    /// again.
    Busy(String),
}

#[derive(Default)]
struct State {
    fatal: Option<Stop>,
    copied: u64,
    skipped: u64,
    failed: u64,
    bytes_done: u64,
    /// Throttling: see `pace.rs`.
    pace: pace::Pace,
    /// Destination folders this run created (CREATE answered OK): empty, and quiet.
    fresh: BTreeSet<String>,
    /// What may still be moved today under a provider's daily volume (`None`: not paced).
    volume: Option<crate::copy::volume::Budget>,
    /// The destination keeps one message per Message-ID (Gmail): see
    /// [`identity::merged_at_destination`].
    merging_destination: bool,
    /// "One copy of each message" applies to this copy: the plan's label keywords, which a
    /// pass never takes off a copied message ([`crate::copy::labels`]).
    one_copy: Option<HashSet<Flag>>,
}

/// A folder after the scan of both sides and the matching: what is left to do.
struct FolderWork {
    /// Source UIDVALIDITY at scan time.
    uid_validity: Option<UidValidity>,
    /// Destination UIDVALIDITY at scan time.
    dest_uid_validity: Option<UidValidity>,
    /// Source messages not at the destination, in UID order (`\Deleted` ones included: they
    /// are skipped and listed).
    messages: Vec<MessageMeta>,
    /// Messages already present whose flags differ from the source's.
    flag_updates: Vec<FlagUpdate>,
    /// Keywords to add to source messages (by UID) when they are appended: their other
    /// labels under "one copy of each message".
    labels: HashMap<u32, Vec<Flag>>,
    resume: Resume,
    /// The destination folder as the scan found it, when APPENDs of an earlier session may
    /// still have been arriving: the scan holds only if the folder stays so for [`QUIET`].
    quiet: Option<Reading>,
}

/// Flags to change on one destination message.
struct FlagUpdate {
    uid: u32,
    add: Vec<Flag>,
    remove: Vec<Flag>,
}

/// What the folder's checkpoint is made of.
#[derive(Default)]
struct Resume {
    /// Every source UID of the scan.
    source_uids: Vec<u32>,
    /// Source UIDs at the destination: found by the scan or copied by this run.
    done: BTreeSet<u32>,
    /// Source UID → destination UID, where known.
    map: BTreeMap<u32, u32>,
    /// The checkpoint the scan used (a save that would write the same is skipped).
    loaded: Option<FolderCheckpoint>,
    last_saved: Option<Instant>,
    /// APPENDs into the folder may be unanswered ([`FolderCheckpoint::appending`]).
    appending: bool,
    /// `appending` reached the store: several APPENDs may be in flight.
    marked: bool,
    /// [`FolderCheckpoint::appended_from`]: kept from the checkpoint the scan used, else read
    /// by this scan (before this run appended anything).
    appended_from: Option<Uid>,
}

/// What the scan found out for the folder's report row.
struct ScanFacts {
    source_count: u32,
    source_bytes: u64,
    destination_before: u32,
    already_present: u32,
    already_present_bytes: u64,
    /// Found at the destination, appended there by an earlier run of this copy.
    copied_before: u32,
    copied_before_bytes: u64,
    altered: u32,
    /// The live source messages' keys, when the plan has an `\All` folder to take the
    /// remainder of (see [`identity::remainder_of_all`]).
    elsewhere: Vec<identity::ElsewhereKey>,
    /// Every live source message, under "one copy of each message" (else empty).
    held: Vec<all_mail::Held>,
}

/// Destination folder state while a lane copies into it.
struct DestFolder {
    policy: KeywordPolicy,
    /// Messages the destination folder should hold now.
    expected: u32,
}

struct Run<'a> {
    src: Account<'a>,
    dst: Account<'a>,
    options: &'a CopyOptions,
    progress: &'a dyn ProgressSink,
    cancel: &'a CancellationToken,
    checkpoints: &'a dyn CheckpointStore,
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Run<'_> {
    /// Records the first fatal error; later ones are consequences and are dropped.
    fn stop(&self, error: Stop) {
        let mut st = lock(&self.state);
        if st.fatal.is_none() {
            tracing::warn!(%error, "copy stopped");
            st.fatal = Some(error);
        }
    }

    /// How many of `messages` (in order) may be fetched within the day's volume — all of
    /// them when the copy is not paced; they count as moved.
    fn take_volume(&self, messages: &[MessageMeta]) -> usize {
        match lock(&self.state).volume.as_mut() {
            Some(budget) => budget.take(messages.iter().map(|m| u64::from(m.size))),
            None => messages.len(),
        }
    }

    /// Why the copy stops for the day, the next message not fitting in the day's volume.
    fn day_over(&self) -> Option<Stop> {
        lock(&self.state).volume.as_ref().map(|b| b.stop())
    }

    fn stopped(&self) -> bool {
        self.cancel.is_cancelled() || lock(&self.state).fatal.is_some()
    }

    fn record(&self, folder: &MailboxName, uid: u32, result: MessageResult, bytes: u64) {
        let event = {
            let mut st = lock(&self.state);
            match &result {
                MessageResult::Copied { .. } => {
                    st.copied += 1;
                    st.bytes_done += bytes;
                }
                MessageResult::Skipped { .. } => {
                    st.skipped += 1;
                    st.bytes_done += bytes;
                }
                MessageResult::Rejected => {
                    st.failed += 1;
                    st.bytes_done += bytes;
                }
            }
            Progress::Message {
                source: folder.clone(),
                uid: Uid(uid),
                result,
                copied: st.copied,
                skipped: st.skipped,
                failed: st.failed,
                bytes_done: st.bytes_done,
            }
        };
        self.progress.event(event);
    }

    async fn execute(&self) -> CopyReport {
        let connections = self.options.connections.max(1);
        // Every lane is opened at once (the logins' round trips overlap); the first one lists
        // and prepares, the others wait for the scan.
        let mut opened = join_all((0..connections).map(|i| self.open_lane_with(i == 0))).await;
        let Some(at) = opened.iter().position(Result::is_ok) else {
            let e = match opened.into_iter().next() {
                Some(Err(e)) => e,
                _ => Stop::lost("no connection"),
            };
            return self.finish(Vec::new(), Some(e));
        };
        let mut first = match opened.remove(at) {
            Ok(l) => l,
            Err(e) => return self.finish(Vec::new(), Some(e)),
        };
        tracing::debug!(phase = "connected", "copy phase done");
        // The destination's profile: Gmail keeps one message per Message-ID.
        if let Some(d) = first.dst.as_ref() {
            lock(&self.state).merging_destination = d.provider().limits().merges_by_message_id;
        }
        // Pacing under a daily volume, by the providers the sessions found (Gmail).
        if let (Some(pacing), Some(s), Some(d), false) = (
            self.options.pacing.as_ref(),
            first.src.as_ref(),
            first.dst.as_ref(),
            self.options.dry_run,
        ) {
            lock(&self.state).volume =
                crate::copy::volume::Budget::new(pacing, s.provider(), d.provider());
        }
        let mut extra: Vec<Lane> = Vec::new();
        for l in opened {
            match l {
                Ok(l) => extra.push(l),
                // Fewer lanes is slower, not wrong (e.g. a server's per-user connection
                // limit).
                Err(e) => tracing::info!(error = %e, "extra connection not opened"),
            }
        }

        // A connection lost while listing is not a reason to stop: list again on new
        // connections (a refused login then says so at once).
        let mut tries = 0;
        let listings = loop {
            match self.listings(&mut first).await {
                Ok(l) => break l,
                Err(e) if e.kind == StopKind::ConnectionLost && tries < LISTING_TRIES => {
                    tries += 1;
                    tracing::info!(error = %e, "connection lost while listing; listing again");
                    first.logout().await;
                    first = match self.open_lane().await {
                        Ok(l) => l,
                        Err(e) => return self.finish(Vec::new(), Some(e)),
                    };
                }
                Err(e) => {
                    first.logout().await;
                    return self.finish(Vec::new(), Some(e));
                }
            }
        };
        let (source_side, mut dest_side) = listings;
        tracing::debug!(phase = "listed", "copy phase done");
        // The source's provider profile: Microsoft's non-mail folders are not copied.
        let provider = first.src.as_ref().map(ImapSession::provider);
        let mut plan_options = PlanOptions {
            include_gmail_virtual: self.options.include_gmail_virtual,
            non_mail: provider.map(Provider::non_mail_folders).unwrap_or_default(),
            ..PlanOptions::default()
        };
        let mut plan = plan_folders(&source_side, &dest_side, &plan_options);
        self.progress.event(Progress::Planned {
            folders: plan.folders.len() as u64,
        });
        let mut create_errors = BTreeMap::new();
        if !self.options.dry_run {
            let result = self
                .prepare_destination(
                    &mut first,
                    plan,
                    &source_side,
                    &mut dest_side,
                    &mut plan_options,
                )
                .await;
            plan = match result {
                Ok((p, errors)) => {
                    create_errors = errors;
                    p
                }
                Err((p, e)) => {
                    self.stop(e);
                    p
                }
            };
        }
        tracing::debug!(phase = "prepared", "copy phase done");
        let jobs = plan.folders.clone();
        let mut reports: Vec<FolderReport> = jobs
            .iter()
            .map(|j| FolderReport {
                source: j.source.clone(),
                destination: j.destination.clone(),
                error: create_errors.get(j.destination.raw()).cloned(),
                // Nothing to copy from a \Noselect folder.
                finished: !j.selectable,
                ..FolderReport::default()
            })
            .collect();

        let mut lanes = vec![first];
        lanes.extend(extra);
        self.lanes_opened(lanes.len());

        let scans = self.scan_all(&mut lanes, &jobs, &mut reports).await;
        let (messages, bytes) = scans.iter().flatten().fold((0u64, 0u64), |(m, b), w| {
            (
                m + w.messages.len() as u64,
                b + w.messages.iter().map(|x| u64::from(x.size)).sum::<u64>(),
            )
        });
        tracing::debug!(phase = "scanned", "copy phase done");
        self.progress.event(Progress::Scanned {
            folders: jobs.len() as u64,
            messages,
            bytes,
            already_present: reports.iter().map(|r| u64::from(r.already_present)).sum(),
            already_present_bytes: reports.iter().map(|r| r.already_present_bytes).sum(),
            copied_before: reports.iter().map(|r| u64::from(r.copied_before)).sum(),
            copied_before_bytes: reports.iter().map(|r| r.copied_before_bytes).sum(),
        });

        self.copy_all(&mut lanes, &jobs, scans, &mut reports).await;
        tracing::debug!(phase = "copied", "copy phase done");

        if !self.options.dry_run {
            if let Some(first) = lanes.first_mut() {
                self.verify(first, &jobs, &mut reports).await;
            }
        }
        tracing::debug!(phase = "verified", "copy phase done");
        join_all(lanes.iter_mut().map(Lane::logout)).await;
        let mut report = self.finish(reports, None);
        report.plan = Some(plan);
        report
    }

    fn finish(&self, folders: Vec<FolderReport>, error: Option<Stop>) -> CopyReport {
        if let Some(e) = error {
            self.stop(e);
        }
        let fatal = lock(&self.state).fatal.clone();
        let folder_errors: Vec<String> = folders
            .iter()
            .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.source)))
            .collect();
        let outcome = if let Some(stop) = fatal {
            Outcome::incomplete(stop)
        } else if self.cancel.is_cancelled() {
            Outcome::incomplete(Stop::new(
                StopKind::Cancelled,
                true,
                "the copy was cancelled",
            ))
        } else if let Some(first) = folder_errors.first() {
            // A folder that could not be copied in full (still changing, refused to open...)
            // is continued by a re-run.
            Outcome::incomplete(Stop::new(
                StopKind::Folder,
                false,
                if folder_errors.len() == 1 {
                    format!("a folder could not be copied in full: {first}")
                } else {
                    format!(
                        "{} folders could not be copied in full; the first: {first}",
                        folder_errors.len()
                    )
                },
            ))
        } else if folders.iter().any(|f| !f.rejected.is_empty()) {
            Outcome::CompleteWithRejections
        } else {
            Outcome::Complete
        };
        CopyReport {
            outcome,
            totals: CopyReport::compute_totals(&folders),
            folders,
            plan: None,
            dry_run: self.options.dry_run,
        }
    }

    fn skip(
        &self,
        report: &mut FolderReport,
        job: &FolderMapping,
        meta: &MessageMeta,
        reason: SkipReason,
        summary: MessageSummary,
    ) {
        report.skipped.push(SkippedMessage {
            uid: Uid(meta.uid),
            reason: reason.clone(),
            summary,
        });
        self.record(
            &job.source,
            meta.uid,
            MessageResult::Skipped { reason },
            u64::from(meta.size),
        );
    }

    fn reject(
        &self,
        report: &mut FolderReport,
        job: &FolderMapping,
        uid: u32,
        reason: RejectReason,
        server_text: String,
        summary: MessageSummary,
    ) {
        let size = summary.size;
        tracing::info!(folder = %job.source.raw(), uid, %server_text, "message not copied");
        report.rejected.push(RejectedMessage {
            uid: Uid(uid),
            reason,
            server_text,
            summary,
        });
        self.record(&job.source, uid, MessageResult::Rejected, size);
    }

    /// Date/From/Subject of a message that is not copied (best effort: without them the
    /// listing still has UID, size and INTERNALDATE).
    async fn summary(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        meta: &MessageMeta,
    ) -> MessageSummary {
        let size = u64::from(meta.size);
        let date = meta.internaldate.as_deref();
        let Ok(s) = self.src_session(lane, job.source.raw(), uid_validity).await else {
            return summarize(b"", size, date);
        };
        match message::fetch_summary_headers(s, meta.uid).await {
            Ok(Some(h)) => summarize(&h, size, date),
            Ok(None) | Err(CmdError::Refused { .. }) => summarize(b"", size, date),
            Err(CmdError::Broken(_)) => {
                lane.src = None;
                summarize(b"", size, date)
            }
        }
    }
}
