//! The copy run: lanes of (source, destination) sessions working through the folder plan.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::checkpoint::{CheckpointStore, FolderCheckpoint, NoCheckpoints};
use super::identity::{self, body_digest, Ident, MatchedBy};
use super::message::{
    classify_refusal, flags_to_copy, is_deleted, is_keyword, summarize, KeywordPolicy, Refusal,
};
use super::progress::{MessageResult, Progress, ProgressSink};
use super::report::{
    CopyReport, FolderReport, MessageSummary, Outcome, RejectReason, RejectedMessage, SkipReason,
    SkippedMessage,
};
use super::CopyOptions;
use crate::connect::{connect, ConnectOptions, Credentials, Endpoint};
use crate::error::ConnectError;
use crate::imap_ext::{self, CmdError, FetchedMessage, MessageMeta, Selected};
use crate::plan::{plan_folders, FolderMapping, FolderPlan, PlanOptions, Side as Listing};
use crate::session::Folder;
use crate::session::ImapSession;

/// Reconnects in a row (without one message copied in between) before a side is declared
/// unusable and the copy stops.
const MAX_RECONNECTS_IN_A_ROW: u32 = 3;

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
const FETCH_BATCH_BYTES: u64 = 1 << 20;

/// ... and at most this many messages.
const FETCH_BATCH_MESSAGES: usize = 100;

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
const APPEND_WINDOW: usize = 8;
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
    let run = Run {
        src: Account {
            role: "source",
            endpoint: source.0,
            creds: source.1,
            opts: connect,
        },
        dst: Account {
            role: "destination",
            endpoint: destination.0,
            creds: destination.1,
            opts: connect,
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

/// One account of the copy.
struct Account<'a> {
    role: &'static str,
    endpoint: &'a Endpoint,
    creds: &'a Credentials,
    opts: &'a ConnectOptions,
}

impl Account<'_> {
    async fn open(&self) -> Result<ImapSession, String> {
        connect(self.endpoint, self.creds, self.opts)
            .await
            .map_err(|e| {
                format!(
                    "could not connect to the {} ({}): {e}",
                    self.role, self.endpoint.host
                )
            })
    }

    /// A new session after the previous one broke. A refused login now means the password
    /// was changed or the access revoked during the copy.
    async fn reopen(&self) -> Result<ImapSession, String> {
        match connect(self.endpoint, self.creds, self.opts).await {
            Ok(s) => Ok(s),
            Err(ConnectError::AuthFailed { server_text }) => Err(format!(
                "the {} no longer accepts the login (password changed or access revoked?): {server_text}",
                self.role
            )),
            Err(e) => Err(format!(
                "lost the connection to the {} and could not reconnect: {e}",
                self.role
            )),
        }
    }
}

/// A source session and a destination session, used together by one worker.
#[derive(Default)]
struct Lane {
    src: Option<ImapSession>,
    dst: Option<ImapSession>,
    /// Folder selected (EXAMINE) on `src`, with what EXAMINE said.
    src_box: Option<String>,
    src_selected: Selected,
    /// Folder selected (SELECT) on `dst`.
    dst_box: Option<String>,
    src_reconnects: u32,
    dst_reconnects: u32,
}

impl Lane {
    /// A lane with only the source session and one with only the destination session, so
    /// that both sides can work at the same time; [`Lane::rejoin`] puts them back.
    fn split(&mut self) -> (Lane, Lane) {
        let src = Lane {
            src: self.src.take(),
            src_box: self.src_box.take(),
            src_selected: std::mem::take(&mut self.src_selected),
            src_reconnects: self.src_reconnects,
            ..Lane::default()
        };
        let dst = Lane {
            dst: self.dst.take(),
            dst_box: self.dst_box.take(),
            dst_reconnects: self.dst_reconnects,
            ..Lane::default()
        };
        (src, dst)
    }

    fn rejoin(&mut self, src: Lane, dst: Lane) {
        self.src = src.src;
        self.src_box = src.src_box;
        self.src_selected = src.src_selected;
        self.src_reconnects = src.src_reconnects;
        self.dst = dst.dst;
        self.dst_box = dst.dst_box;
        self.dst_reconnects = dst.dst_reconnects;
    }

    async fn logout(&mut self) {
        for s in [self.src.take(), self.dst.take()].into_iter().flatten() {
            if let Ok(Err(e)) = tokio::time::timeout(LOGOUT_TIMEOUT, s.logout()).await {
                tracing::debug!(error = %e, "LOGOUT failed");
            }
        }
    }
}

/// Which session of a lane.
#[derive(Debug, Clone, Copy)]
enum Side {
    Source,
    Destination,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// Why an operation did not produce its result.
#[derive(Debug)]
enum Fail {
    /// Pointless to go on with anything: stop the copy.
    Fatal(String),
    /// This folder cannot be copied (further); other folders can.
    Folder(String),
    /// The command was refused / the connection broke (after the retries): this message only.
    Message(String),
}

#[derive(Default)]
struct State {
    fatal: Option<String>,
    copied: u64,
    skipped: u64,
    failed: u64,
    bytes_done: u64,
}

/// A folder after the scan of both sides and the matching: what is left to do.
struct FolderWork {
    /// Source UIDVALIDITY at scan time.
    uid_validity: Option<u32>,
    /// Destination UIDVALIDITY at scan time.
    dest_uid_validity: Option<u32>,
    /// Source messages not at the destination, in UID order (`\Deleted` ones included: they
    /// are skipped and listed).
    messages: Vec<MessageMeta>,
    /// Messages already present whose flags differ from the source's.
    flag_updates: Vec<FlagUpdate>,
    resume: Resume,
    /// The destination folder as the scan found it, when APPENDs of an earlier session may
    /// still have been arriving: the scan holds only if the folder stays so for [`QUIET`].
    quiet: Option<Reading>,
}

/// Flags to change on one destination message.
struct FlagUpdate {
    uid: u32,
    add: Vec<String>,
    remove: Vec<String>,
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
}

/// A destination folder's UIDNEXT and message count at one moment.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    exists: u32,
    uid_next: Option<u32>,
}

impl Reading {
    fn same(&self, other: &Reading) -> bool {
        self.exists == other.exists && self.uid_next == other.uid_next
    }
}

/// What the scan found out for the folder's report row.
struct ScanFacts {
    source_count: u32,
    source_bytes: u64,
    destination_before: u32,
    already_present: u32,
    altered: u32,
}

/// What the source side of a lane hands to its destination side, in UID order. `index` is
/// the message's place in the folder's work list.
enum Ahead {
    /// Not sent: listed as skipped.
    Skip {
        index: usize,
        reason: SkipReason,
        summary: MessageSummary,
    },
    /// Not sent: listed as not copied.
    Reject {
        index: usize,
        reason: RejectReason,
        text: String,
        summary: MessageSummary,
    },
    /// Dry run: would be copied.
    WouldCopy { index: usize },
    /// Fetched, to be appended; holds its share of [`AHEAD_BYTES`] until settled.
    Fetched {
        index: usize,
        msg: FetchedMessage,
        _budget: Option<OwnedSemaphorePermit>,
    },
    /// The source side cannot go on (fatal, or this folder).
    Stop(Fail),
}

/// A message stored at the destination: its APPENDUID (validity, UID) when known, and the
/// keywords that could not be kept.
type AppendDone = (Option<(u32, u32)>, Vec<String>);

/// What is known about an APPEND in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Sent, not answered yet.
    Pending,
    /// Stored (with the APPENDUID when known).
    Stored(Option<(u32, u32)>),
    /// Refused (or not sent): to be tried again alone, with the fall-backs.
    Retry,
}

/// One APPEND sent without waiting for the answer of the previous ones.
struct InFlight {
    /// `None`: the connection broke while it was being sent.
    id: Option<imap_ext::RequestId>,
    index: usize,
    answer: Answer,
    msg: FetchedMessage,
    /// The flags to copy; `attempt` the ones sent, `upfront` the ones left out by the
    /// destination's PERMANENTFLAGS.
    flags: Vec<String>,
    attempt: Vec<String>,
    upfront: Vec<String>,
    date: Option<String>,
    _budget: Option<OwnedSemaphorePermit>,
}

/// What recording a settled APPEND needs besides the report.
struct Settle<'a> {
    job: &'a FolderMapping,
    messages: &'a [MessageMeta],
    /// Appended messages to read back: destination UID and digest of what was sent.
    appended: &'a mut Vec<(u32, [u8; 32])>,
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
    fn stop(&self, error: String) {
        let mut st = lock(&self.state);
        if st.fatal.is_none() {
            tracing::warn!(%error, "copy stopped");
            st.fatal = Some(error);
        }
    }

    fn stopped(&self) -> bool {
        self.cancel.is_cancelled() || lock(&self.state).fatal.is_some()
    }

    fn record(&self, folder: &str, uid: u32, result: MessageResult, bytes: u64) {
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
                source: folder.to_string(),
                uid,
                result,
                copied: st.copied,
                skipped: st.skipped,
                failed: st.failed,
                bytes_done: st.bytes_done,
            }
        };
        self.progress.event(event);
    }

    async fn open_lane(&self) -> Result<Lane, String> {
        let (src, dst) = tokio::join!(self.src.open(), self.dst.open());
        let mut lane = Lane::default();
        let error = match (src, dst) {
            (Ok(s), Ok(d)) => {
                lane.src = Some(s);
                lane.dst = Some(d);
                return Ok(lane);
            }
            (Err(e), Ok(d)) => {
                lane.dst = Some(d);
                e
            }
            (Ok(s), Err(e)) => {
                lane.src = Some(s);
                e
            }
            (Err(e), Err(_)) => e,
        };
        // Close what did open.
        lane.logout().await;
        Err(error)
    }

    async fn execute(&self) -> CopyReport {
        let connections = self.options.connections.max(1);
        let mut first = match self.open_lane().await {
            Ok(l) => l,
            Err(e) => return self.finish(Vec::new(), Some(e)),
        };

        let listings = match self.listings(&mut first).await {
            Ok(l) => l,
            Err(e) => {
                first.logout().await;
                return self.finish(Vec::new(), Some(e));
            }
        };
        let (source_side, mut dest_side) = listings;
        let mut plan_options = PlanOptions {
            include_gmail_virtual: self.options.include_gmail_virtual,
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
        let jobs = plan.folders.clone();
        let mut reports: Vec<FolderReport> = jobs
            .iter()
            .map(|j| FolderReport {
                source: j.source.clone(),
                destination: j.destination.clone(),
                error: create_errors.get(&j.destination).cloned(),
                // Nothing to copy from a \Noselect folder.
                finished: !j.selectable,
                ..FolderReport::default()
            })
            .collect();

        let mut lanes = vec![first];
        if connections > 1 && !self.stopped() {
            let extra = join_all((1..connections).map(|_| self.open_lane())).await;
            for l in extra {
                match l {
                    Ok(l) => lanes.push(l),
                    // Fewer lanes is slower, not wrong (e.g. a server's per-user connection
                    // limit).
                    Err(e) => tracing::info!(error = %e, "extra connection not opened"),
                }
            }
        }

        let scans = self.scan_all(&mut lanes, &jobs, &mut reports).await;
        let (messages, bytes) = scans.iter().flatten().fold((0u64, 0u64), |(m, b), w| {
            (
                m + w.messages.len() as u64,
                b + w.messages.iter().map(|x| u64::from(x.size)).sum::<u64>(),
            )
        });
        self.progress.event(Progress::Scanned {
            folders: jobs.len() as u64,
            messages,
            bytes,
            already_present: reports.iter().map(|r| u64::from(r.already_present)).sum(),
        });

        self.copy_all(&mut lanes, &jobs, scans, &mut reports).await;

        if !self.options.dry_run {
            if let Some(first) = lanes.first_mut() {
                self.verify(first, &jobs, &mut reports).await;
            }
        }
        join_all(lanes.iter_mut().map(Lane::logout)).await;
        let mut report = self.finish(reports, None);
        report.plan = Some(plan);
        report
    }

    fn finish(&self, folders: Vec<FolderReport>, error: Option<String>) -> CopyReport {
        if let Some(e) = error {
            self.stop(e);
        }
        let fatal = lock(&self.state).fatal.clone();
        let folder_errors: Vec<String> = folders
            .iter()
            .filter_map(|f| {
                f.error
                    .as_ref()
                    .map(|e| format!("{}: {e}", crate::mutf7::decode_lossy(&f.source)))
            })
            .collect();
        let outcome = if let Some(error) = fatal {
            Outcome::Incomplete { error }
        } else if self.cancel.is_cancelled() {
            Outcome::Incomplete {
                error: "the copy was cancelled".to_string(),
            }
        } else if let Some(first) = folder_errors.first() {
            Outcome::Incomplete {
                error: if folder_errors.len() == 1 {
                    format!("a folder could not be copied in full: {first}")
                } else {
                    format!(
                        "{} folders could not be copied in full; the first: {first}",
                        folder_errors.len()
                    )
                },
            }
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

    async fn listings(&self, lane: &mut Lane) -> Result<(Listing, Listing), String> {
        let (src, dst) = match (lane.src.as_mut(), lane.dst.as_mut()) {
            (Some(s), Some(d)) => (s, d),
            _ => return Err("no connection".to_string()),
        };
        let (a, b) = tokio::join!(listing(src, "source"), listing(dst, "destination"));
        Ok((a?, b?))
    }

    /// CREATE what the plan says (parents before children: the plan is sorted so), then
    /// SUBSCRIBE as planned. A name the destination refuses to create goes into
    /// [`PlanOptions::refused`] and the folders are planned again (the planner picks another
    /// name), a few rounds at most. Returns the final plan and, per destination name, the
    /// refusals that remain.
    async fn prepare_destination(
        &self,
        lane: &mut Lane,
        mut plan: FolderPlan,
        source: &Listing,
        dest: &mut Listing,
        options: &mut PlanOptions,
    ) -> Result<(FolderPlan, BTreeMap<String, String>), (FolderPlan, String)> {
        const ROUNDS: usize = 3;
        let mut refusals: BTreeMap<String, String> = BTreeMap::new();
        for round in 0..ROUNDS {
            let mut refused_now = false;
            let delimiter = dest.effective_delimiter();
            let to_create: Vec<String> = plan
                .to_create()
                .filter(|m| !m.exists_at_destination)
                .map(|m| m.destination.clone())
                .collect();
            for name in to_create {
                let created = match self.dst_simple(lane, "CREATE", &name).await {
                    Ok(()) => true,
                    // RFC 5530 [ALREADYEXISTS] (Dovecot: "NO [ALREADYEXISTS] Mailbox already
                    // exists"): made implicitly with a child, or by another client.
                    Err(Fail::Message(text))
                        if text.to_ascii_uppercase().contains("[ALREADYEXISTS]") =>
                    {
                        true
                    }
                    Err(Fail::Message(text)) | Err(Fail::Folder(text)) => {
                        tracing::info!(folder = %name, %text, "CREATE refused");
                        refusals.insert(name.clone(), text);
                        if round + 1 < ROUNDS {
                            options.refused.insert(name.clone());
                            refused_now = true;
                        }
                        false
                    }
                    Err(Fail::Fatal(e)) => return Err((plan, e)),
                };
                if created {
                    refusals.remove(&name);
                    // From now on the planner sees it as existing: a new plan keeps it.
                    dest.folders.push(Folder {
                        name,
                        delimiter,
                        attributes: Vec::new(),
                    });
                }
            }
            if !refused_now {
                break;
            }
            plan = plan_folders(source, dest, options);
        }
        let errors: BTreeMap<String, String> = refusals
            .into_iter()
            .filter(|(name, _)| plan.folders.iter().any(|m| &m.destination == name))
            .map(|(name, text)| {
                (
                    name,
                    format!("the destination refused to create it: {text}"),
                )
            })
            .collect();
        let to_subscribe: Vec<String> = plan
            .to_subscribe()
            .filter(|m| !errors.contains_key(&m.destination))
            .map(|m| m.destination.clone())
            .collect();
        for name in to_subscribe {
            if dest.subscribed.contains(&name) {
                continue;
            }
            match self.dst_simple(lane, "SUBSCRIBE", &name).await {
                Ok(()) => {}
                // A subscription is a convenience: note it, do not fail the folder.
                Err(Fail::Message(text)) | Err(Fail::Folder(text)) => {
                    tracing::info!(folder = %name, %text, "SUBSCRIBE refused")
                }
                Err(Fail::Fatal(e)) => return Err((plan, e)),
            }
        }
        Ok((plan, errors))
    }

    /// CREATE / SUBSCRIBE on the destination, with one reconnect.
    async fn dst_simple(
        &self,
        lane: &mut Lane,
        command: &'static str,
        mailbox: &str,
    ) -> Result<(), Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            let s = self.dst_session(lane).await?;
            match imap_ext::simple(s, command, mailbox).await {
                Ok(()) => return Ok(()),
                Err(CmdError::Refused { text, .. }) => return Err(Fail::Message(text)),
                Err(CmdError::Broken(e)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                    last = e.to_string();
                }
            }
        }
        Err(Fail::Fatal(format!(
            "the destination connection failed twice during {command}: {last}"
        )))
    }

    /// The lane's destination session, reconnecting if needed.
    async fn dst_session<'l>(&self, lane: &'l mut Lane) -> Result<&'l mut ImapSession, Fail> {
        if lane.dst.is_none() {
            if lane.dst_reconnects >= MAX_RECONNECTS_IN_A_ROW {
                return Err(Fail::Fatal(
                    "the destination keeps closing the connection".to_string(),
                ));
            }
            lane.dst_reconnects += 1;
            lane.dst_box = None;
            lane.dst = Some(self.dst.reopen().await.map_err(Fail::Fatal)?);
        }
        lane.dst
            .as_mut()
            .ok_or_else(|| Fail::Fatal("no destination connection".to_string()))
    }

    /// The lane's source session with `folder` examined, reconnecting if needed. A changed
    /// UIDVALIDITY means the UIDs of the scan no longer hold: the folder stops.
    async fn src_session<'l>(
        &self,
        lane: &'l mut Lane,
        folder: &str,
        uid_validity: Option<u32>,
    ) -> Result<&'l mut ImapSession, Fail> {
        if lane.src.is_none() {
            if lane.src_reconnects >= MAX_RECONNECTS_IN_A_ROW {
                return Err(Fail::Fatal(
                    "the source keeps closing the connection".to_string(),
                ));
            }
            lane.src_reconnects += 1;
            lane.src_box = None;
            lane.src = Some(self.src.reopen().await.map_err(Fail::Fatal)?);
        }
        let Some(s) = lane.src.as_mut() else {
            return Err(Fail::Fatal("no source connection".to_string()));
        };
        if lane.src_box.as_deref() != Some(folder) {
            match imap_ext::select(s, folder, true).await {
                Ok(sel) => {
                    if let (Some(want), Some(got)) = (uid_validity, sel.uid_validity) {
                        if want != got {
                            return Err(Fail::Folder(format!(
                                "its UIDVALIDITY changed during the copy ({want} → {got}): run the copy again"
                            )));
                        }
                    }
                    lane.src_box = Some(folder.to_string());
                    lane.src_selected = sel;
                }
                Err(CmdError::Refused { text, .. }) => {
                    return Err(Fail::Folder(format!(
                        "the source refused to open it: {text}"
                    )))
                }
                Err(CmdError::Broken(e)) => {
                    lane.src = None;
                    return Err(Fail::Message(e.to_string()));
                }
            }
        }
        lane.src
            .as_mut()
            .ok_or_else(|| Fail::Fatal("no source connection".to_string()))
    }

    /// Scans every selectable folder (both sides) and matches them, the lanes in parallel (a
    /// shared queue of job indices). Fills the report rows' scan columns.
    async fn scan_all(
        &self,
        lanes: &mut [Lane],
        jobs: &[FolderMapping],
        reports: &mut [FolderReport],
    ) -> Vec<Option<FolderWork>> {
        let queue: Mutex<VecDeque<usize>> = Mutex::new(
            (0..jobs.len())
                .filter(|&i| jobs[i].selectable && reports[i].error.is_none())
                .collect(),
        );
        let results = join_all(lanes.iter_mut().map(|lane| {
            let queue = &queue;
            async move {
                let mut out = Vec::new();
                loop {
                    if self.stopped() {
                        break;
                    }
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop_front();
                    let Some(i) = next else { break };
                    out.push((i, self.scan_folder(lane, &jobs[i]).await));
                }
                out
            }
        }))
        .await;
        let mut scans: Vec<Option<FolderWork>> = (0..jobs.len()).map(|_| None).collect();
        let apply = |scans: &mut Vec<Option<FolderWork>>,
                     reports: &mut [FolderReport],
                     i: usize,
                     r: Result<(FolderWork, ScanFacts), Fail>| {
            scans[i] = None;
            match r {
                Ok((work, facts)) => {
                    let report = &mut reports[i];
                    report.source_count = facts.source_count;
                    report.source_bytes = facts.source_bytes;
                    report.destination_before = facts.destination_before;
                    report.already_present = facts.already_present;
                    report.altered = facts.altered;
                    scans[i] = Some(work);
                }
                Err(Fail::Fatal(e)) => self.stop(e),
                Err(Fail::Folder(e)) | Err(Fail::Message(e)) => reports[i].error = Some(e),
            }
        };
        for (i, r) in results.into_iter().flatten() {
            apply(&mut scans, reports, i, r);
        }

        // The destination folders that may have had APPENDs of an earlier session arriving
        // during the scan: each must have stayed unchanged for QUIET since it was read
        // (usually already past when the scan of every folder is done), else it is scanned
        // again once quiet.
        let checks: Mutex<VecDeque<(usize, Reading)>> = Mutex::new(
            scans
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.as_ref().and_then(|w| w.quiet).map(|r| (i, r)))
                .collect(),
        );
        let results = join_all(lanes.iter_mut().map(|lane| {
            let checks = &checks;
            async move {
                let mut out = Vec::new();
                loop {
                    if self.stopped() {
                        break;
                    }
                    let next = checks
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop_front();
                    let Some((i, reading)) = next else { break };
                    let job = &jobs[i];
                    match self.confirm_quiet(lane, &job.destination, reading).await {
                        Ok(true) => {}
                        Ok(false) => out.push((i, self.scan_folder(lane, job).await)),
                        Err(e) => out.push((i, Err(e))),
                    }
                }
                out
            }
        }))
        .await;
        for (i, r) in results.into_iter().flatten() {
            apply(&mut scans, reports, i, r);
        }
        scans
    }

    /// [`Run::scan_folder_once`], again once if a connection broke.
    async fn scan_folder(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
    ) -> Result<(FolderWork, ScanFacts), Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            match self.scan_folder_once(lane, job).await {
                Err(Fail::Message(e)) => last = e,
                other => return other,
            }
        }
        Err(Fail::Folder(format!(
            "its messages could not be listed: {last}"
        )))
    }

    fn load_checkpoint(&self, folder: &str) -> Option<FolderCheckpoint> {
        match self.checkpoints.load(folder) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%folder, error = %e, "checkpoint not readable: scanning in full");
                None
            }
        }
    }

    /// EXAMINE the destination folder (read-only: the scan changes nothing). `None` in a dry
    /// run when it does not exist (yet).
    async fn dst_examine(&self, lane: &mut Lane, folder: &str) -> Result<Option<Selected>, Fail> {
        lane.dst_box = None;
        let s = self.dst_session(lane).await?;
        match imap_ext::select(s, folder, true).await {
            Ok(sel) => Ok(Some(sel)),
            Err(CmdError::Refused { .. }) if self.options.dry_run => Ok(None),
            Err(CmdError::Refused { text, .. }) => Err(Fail::Folder(format!(
                "the destination refused to open it: {text}"
            ))),
            Err(CmdError::Broken(e)) => {
                lane.dst = None;
                Err(Fail::Message(e.to_string()))
            }
        }
    }

    /// The metadata of `uid_set` on the lane's source (`Source`) or destination session,
    /// whose folder is selected.
    async fn fetch_meta(
        &self,
        lane: &mut Lane,
        side: Side,
        uid_set: &str,
        with_headers: bool,
    ) -> Result<Vec<MessageMeta>, Fail> {
        let slot = match side {
            Side::Source => &mut lane.src,
            Side::Destination => &mut lane.dst,
        };
        let Some(s) = slot.as_mut() else {
            return Err(Fail::Message(format!("no {} connection", side.name())));
        };
        match imap_ext::fetch_meta(s, uid_set, with_headers).await {
            Ok(m) => Ok(m),
            Err(CmdError::Refused { text, .. }) => Err(Fail::Folder(format!(
                "the {} refused to list its messages: {text}",
                side.name()
            ))),
            Err(CmdError::Broken(e)) => {
                *slot = None;
                Err(Fail::Message(e.to_string()))
            }
        }
    }

    /// Fetches the identity header fields of the messages `need` (UIDs) into `msgs`.
    async fn fill_headers(
        &self,
        lane: &mut Lane,
        side: Side,
        msgs: &mut [MessageMeta],
        need: &[u32],
    ) -> Result<(), Fail> {
        if need.is_empty() {
            return Ok(());
        }
        let mut sets = identity::uid_sets(need, MAX_RANGES);
        // Everything, or UIDs scattered enough: one answer for all is cheaper.
        if need.len() == msgs.len() || sets.len() > 4 {
            sets = vec!["1:*".to_string()];
        }
        let wanted: HashSet<u32> = need.iter().copied().collect();
        for set in sets {
            let got = self.fetch_meta(lane, side, &set, true).await?;
            let mut got = got.into_iter().peekable();
            // Both sorted by UID.
            for m in msgs.iter_mut() {
                while got.peek().is_some_and(|g| g.uid < m.uid) {
                    got.next();
                }
                if let Some(g) = got.peek() {
                    if g.uid == m.uid && wanted.contains(&m.uid) {
                        m.header = g.header;
                    }
                }
            }
        }
        Ok(())
    }

    /// Scans one folder: source and destination metadata, then the matching.
    async fn scan_folder_once(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
    ) -> Result<(FolderWork, ScanFacts), Fail> {
        lane.src_box = None; // EXAMINE afresh: its UIDVALIDITY is the scan's
        self.src_session(lane, &job.source, None).await?;
        let src_sel = lane.src_selected.clone();
        let dst_sel = if self.options.dry_run && !job.exists_at_destination {
            None
        } else {
            self.dst_examine(lane, &job.destination).await?
        };
        let examined = Instant::now();
        let dest_uid_validity = dst_sel.as_ref().and_then(|d| d.uid_validity);
        let loaded = self.load_checkpoint(&job.source);
        // Only a checkpoint that says so rules out APPENDs of an earlier run still arriving
        // in this folder; without one (no store, a new store, another destination) the
        // listing is checked for quiet after the scan (`Run::confirm_quiet`).
        let quiet_known = loaded
            .as_ref()
            .is_some_and(|c| !c.appending && c.destination == job.destination);
        let quiet = match &dst_sel {
            Some(sel) if !quiet_known && !self.options.dry_run => Some(Reading {
                at: examined,
                exists: sel.exists,
                uid_next: sel.uid_next,
            }),
            _ => None,
        };
        let saved = loaded.filter(|c| {
            let ok = c.applies_to(src_sel.uid_validity, &job.destination, dest_uid_validity);
            if !ok {
                tracing::info!(folder = %job.source, "checkpoint of another UIDVALIDITY or destination: scanning in full");
            }
            ok
        });
        let full = saved.is_none();
        let mut src_msgs = if src_sel.exists == 0 {
            Vec::new()
        } else {
            self.fetch_meta(lane, Side::Source, "1:*", full).await?
        };
        let mut dst_msgs = match &dst_sel {
            Some(sel) if sel.exists > 0 => {
                self.fetch_meta(lane, Side::Destination, "1:*", full)
                    .await?
            }
            _ => Vec::new(),
        };
        let map = saved
            .as_ref()
            .map(|c| c.uid_map.to_map())
            .unwrap_or_default();
        let live_idents = |msgs: &[MessageMeta]| -> Vec<Ident> {
            msgs.iter()
                .filter(|m| !is_deleted(&m.flags))
                .map(MessageMeta::ident)
                .collect()
        };
        if !full {
            // The checkpoint pairs what it can by UID; header fields only for the rest.
            let src_idents = live_idents(&src_msgs);
            let dst_idents: Vec<Ident> = dst_msgs.iter().map(MessageMeta::ident).collect();
            let pairs = identity::pair_by_map(&src_idents, &dst_idents, &map);
            let src_paired: HashSet<u32> = pairs.iter().map(|p| src_idents[p.src].uid).collect();
            let dst_paired: HashSet<u32> = pairs.iter().map(|p| dst_idents[p.dst].uid).collect();
            let src_need: Vec<u32> = src_idents
                .iter()
                .map(|i| i.uid)
                .filter(|u| !src_paired.contains(u))
                .collect();
            let dst_need: Vec<u32> = dst_idents
                .iter()
                .map(|i| i.uid)
                .filter(|u| !dst_paired.contains(u))
                .collect();
            self.fill_headers(lane, Side::Source, &mut src_msgs, &src_need)
                .await?;
            self.fill_headers(lane, Side::Destination, &mut dst_msgs, &dst_need)
                .await?;
        }
        lane.src_reconnects = 0;
        lane.dst_reconnects = 0;

        // Matching: which live source messages are at the destination.
        let live: Vec<usize> = (0..src_msgs.len())
            .filter(|&i| !is_deleted(&src_msgs[i].flags))
            .collect();
        let src_idents: Vec<Ident> = live.iter().map(|&i| src_msgs[i].ident()).collect();
        let dst_idents: Vec<Ident> = dst_msgs.iter().map(MessageMeta::ident).collect();
        let pairs = identity::match_messages(&src_idents, &dst_idents, &map);
        let mut resume = Resume {
            source_uids: src_msgs.iter().map(|m| m.uid).collect(),
            loaded: saved,
            ..Resume::default()
        };
        let mut present = vec![false; src_msgs.len()];
        let mut flag_updates = Vec::new();
        let (mut altered, mut by_tier) = (0u32, [0u32; 4]);
        for p in &pairs {
            let (s, d) = (&src_msgs[live[p.src]], &dst_msgs[p.dst]);
            present[live[p.src]] = true;
            resume.done.insert(s.uid);
            resume.map.insert(s.uid, d.uid);
            if s.size != d.size {
                altered += 1;
            }
            by_tier[match p.by {
                MatchedBy::Checkpoint => 0,
                MatchedBy::Exact => 1,
                MatchedBy::HeadersAndDate => 2,
                MatchedBy::MessageIdAndDate => 3,
            }] += 1;
            let (add, remove) = identity::flag_changes(&s.flags, &d.flags);
            if !add.is_empty() || !remove.is_empty() {
                flag_updates.push(FlagUpdate {
                    uid: d.uid,
                    add,
                    remove,
                });
            }
        }
        if !pairs.is_empty() {
            tracing::debug!(
                folder = %job.source,
                by_checkpoint = by_tier[0],
                exact = by_tier[1],
                headers_and_date = by_tier[2],
                message_id_and_date = by_tier[3],
                "already at the destination"
            );
        }
        let facts = ScanFacts {
            source_count: src_msgs.len() as u32,
            source_bytes: src_msgs.iter().map(|m| u64::from(m.size)).sum(),
            destination_before: dst_sel.as_ref().map_or(0, |d| d.exists),
            already_present: pairs.len() as u32,
            altered,
        };
        let messages = src_msgs
            .into_iter()
            .zip(present)
            .filter(|(_, p)| !p)
            .map(|(m, _)| m)
            .collect();
        Ok((
            FolderWork {
                uid_validity: src_sel.uid_validity,
                dest_uid_validity,
                messages,
                flag_updates,
                resume,
                quiet,
            },
            facts,
        ))
    }

    async fn copy_all(
        &self,
        lanes: &mut [Lane],
        jobs: &[FolderMapping],
        mut scans: Vec<Option<FolderWork>>,
        reports: &mut [FolderReport],
    ) {
        // Largest folders first: the last folder to finish is then a small one.
        let mut order: Vec<usize> = (0..jobs.len()).filter(|&i| scans[i].is_some()).collect();
        let left = |w: &Option<FolderWork>| -> u64 {
            w.as_ref()
                .map_or(0, |w| w.messages.iter().map(|m| u64::from(m.size)).sum())
        };
        order.sort_by_key(|&i| std::cmp::Reverse(left(&scans[i])));
        let work: Mutex<VecDeque<(usize, FolderWork, FolderReport)>> = Mutex::new(
            order
                .into_iter()
                .filter_map(|i| {
                    scans[i]
                        .take()
                        .map(|s| (i, s, std::mem::take(&mut reports[i])))
                })
                .collect(),
        );
        let done = join_all(lanes.iter_mut().map(|lane| {
            let work = &work;
            async move {
                let mut out = Vec::new();
                loop {
                    let next = work
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop_front();
                    let Some((i, mut folder, mut report)) = next else {
                        break;
                    };
                    if !self.stopped() {
                        self.copy_folder(lane, &jobs[i], &mut folder, &mut report)
                            .await;
                    }
                    out.push((i, report));
                }
                out
            }
        }))
        .await;
        for (i, r) in done.into_iter().flatten() {
            reports[i] = r;
        }
    }

    async fn copy_folder(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        work: &mut FolderWork,
        report: &mut FolderReport,
    ) {
        self.progress.event(Progress::FolderStarted {
            source: job.source.clone(),
            destination: job.destination.clone(),
        });
        let result = self.copy_messages(lane, job, work, report).await;
        match result {
            Ok(finished) => report.finished = finished,
            Err(Fail::Fatal(e)) => self.stop(e),
            Err(Fail::Folder(e)) | Err(Fail::Message(e)) => report.error = Some(e),
        }
        self.save_checkpoint(job, work, true);
        self.progress.event(Progress::FolderDone {
            source: job.source.clone(),
            destination: job.destination.clone(),
            copied: report.copied,
            skipped: report.skipped.len() as u32,
            failed: report.rejected.len() as u32,
        });
    }

    /// Writes the folder's checkpoint: at most once per [`CHECKPOINT_EVERY`] unless `force`,
    /// never in a dry run, not when it would write what was loaded.
    /// Returns whether the store now holds what the folder's state says.
    fn save_checkpoint(&self, job: &FolderMapping, work: &mut FolderWork, force: bool) -> bool {
        if self.options.dry_run {
            return false;
        }
        // A server without UIDVALIDITY: UIDs cannot be kept across sessions.
        let Some(validity) = work.uid_validity else {
            return false;
        };
        if !force
            && work
                .resume
                .last_saved
                .is_some_and(|t| t.elapsed() < CHECKPOINT_EVERY)
        {
            return false;
        }
        let r = &mut work.resume;
        let mut checkpoint = FolderCheckpoint::new(
            validity,
            &job.destination,
            work.dest_uid_validity,
            &r.source_uids,
            &r.done,
            &r.map,
        );
        checkpoint.appending = r.appending;
        r.last_saved = Some(Instant::now());
        if r.loaded.as_ref() == Some(&checkpoint) {
            return true;
        }
        match self.checkpoints.save(&job.source, &checkpoint) {
            Ok(()) => {
                r.loaded = Some(checkpoint);
                true
            }
            Err(e) => {
                tracing::warn!(folder = %job.source, error = %e, "checkpoint not saved");
                false
            }
        }
    }

    /// Records in the folder's checkpoint, before an APPEND is sent, that APPENDs may be in
    /// flight ([`FolderCheckpoint::appending`]). Returns whether the store has it: only then
    /// may more than one be in flight (with one, the status quo before the window).
    fn mark_appending(&self, job: &FolderMapping, work: &mut FolderWork) -> bool {
        if !work.resume.appending {
            work.resume.appending = true;
            work.resume.marked = self.save_checkpoint(job, work, true);
            // The mark is not progress: the first copied message is written at once, as
            // without the mark, and from then on at most once per CHECKPOINT_EVERY.
            work.resume.last_saved = None;
        }
        work.resume.marked
    }

    fn size_limit(&self, lane: &Lane) -> Option<u64> {
        // RFC 7889: APPENDLIMIT=<n> for the whole server (without a value it is per mailbox,
        // via STATUS; not read here).
        let appendlimit = lane.dst.as_ref().and_then(|d| {
            d.capabilities().iter().find_map(|c| {
                let (k, v) = c.split_once('=')?;
                if k.eq_ignore_ascii_case("APPENDLIMIT") {
                    v.parse::<u64>().ok()
                } else {
                    None
                }
            })
        });
        match (appendlimit, self.options.max_message_size) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn copy_messages(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        work: &mut FolderWork,
        report: &mut FolderReport,
    ) -> Result<bool, Fail> {
        // The destination folder is SELECTed only when something is written to it.
        let mut dest: Option<DestFolder> = None;
        if !work.flag_updates.is_empty() {
            if self.options.dry_run {
                report.flags_updated = work.flag_updates.len() as u32;
            } else {
                let updates = std::mem::take(&mut work.flag_updates);
                self.sync_flags(lane, job, &updates, &mut dest, report)
                    .await?;
            }
        }
        if work.messages.is_empty() {
            return Ok(true);
        }
        self.dst_session(lane).await?;
        let limit = self.size_limit(lane);
        // Appended messages to read back: destination UID and digest of what was sent.
        let mut appended: Vec<(u32, [u8; 32])> = Vec::new();
        let messages = std::mem::take(&mut work.messages);
        // The source side fetches ahead while the destination side appends: two loops on the
        // two halves of the lane, joined on this task, a bounded channel between them.
        let (mut src_lane, mut dst_lane) = lane.split();
        let budget = Arc::new(Semaphore::new(AHEAD_BYTES as usize));
        let (tx, rx) = mpsc::channel(AHEAD_MESSAGES);
        let producer = self.fetch_ahead(
            &mut src_lane,
            job,
            work.uid_validity,
            limit,
            &messages,
            tx,
            &budget,
        );
        let consumer = async {
            let result = self
                .append_all(
                    &mut dst_lane,
                    job,
                    work,
                    report,
                    &messages,
                    &mut dest,
                    rx,
                    &mut appended,
                )
                .await;
            // Wakes the fetching side if it waits for room that will not come.
            budget.close();
            result
        };
        let ((), result) = tokio::join!(producer, consumer);
        lane.rejoin(src_lane, dst_lane);
        let finished = result?;
        if finished && !appended.is_empty() {
            self.read_back(lane, job, &appended, report).await;
        }
        Ok(finished)
    }

    /// The source side of [`Run::copy_messages`]: decides what is not sent (`\Deleted`, too
    /// large, dry run), fetches the rest in batches (one `UID FETCH` for several messages,
    /// at most [`FETCH_BATCH_BYTES`] by the scan's sizes) and hands everything over in UID
    /// order. Holds at most [`AHEAD_BYTES`] of messages not yet settled at the destination
    /// (and always at least one message). A message the batch did not deliver is fetched alone
    /// (with the single-message retry), so a batch changes nothing about what is reported.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_ahead(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<u32>,
        limit: Option<u64>,
        messages: &[MessageMeta],
        tx: mpsc::Sender<Ahead>,
        budget: &Arc<Semaphore>,
    ) {
        let too_large = |m: &MessageMeta| limit.is_some_and(|l| u64::from(m.size) > l);
        let mut i = 0;
        while i < messages.len() {
            if self.stopped() {
                return;
            }
            let meta = &messages[i];
            let size = u64::from(meta.size);
            let not_sent = if is_deleted(&meta.flags) {
                let summary = self.summary(lane, job, uid_validity, meta).await;
                Some(Ahead::Skip {
                    index: i,
                    reason: SkipReason::Deleted,
                    summary,
                })
            } else if let Some(limit) = limit.filter(|l| size > *l) {
                let summary = self.summary(lane, job, uid_validity, meta).await;
                Some(Ahead::Reject {
                    index: i,
                    reason: RejectReason::TooLarge { size, limit },
                    text: format!(
                        "{size} bytes, more than the {limit} bytes the destination accepts; not sent"
                    ),
                    summary,
                })
            } else if self.options.dry_run {
                Some(Ahead::WouldCopy { index: i })
            } else {
                None
            };
            if let Some(item) = not_sent {
                if tx.send(item).await.is_err() {
                    return;
                }
                i += 1;
                continue;
            }
            // The batch: this message and the following ones to fetch, within the limits.
            let mut end = i;
            let mut bytes = 0u64;
            while end < messages.len() && end - i < FETCH_BATCH_MESSAGES {
                let m = &messages[end];
                if is_deleted(&m.flags) || too_large(m) {
                    break;
                }
                if end > i && bytes + u64::from(m.size) > FETCH_BATCH_BYTES {
                    break;
                }
                bytes += u64::from(m.size);
                end += 1;
            }
            let batch = &messages[i..end];
            let mut permits = VecDeque::with_capacity(batch.len());
            for m in batch {
                match budget
                    .clone()
                    .acquire_many_owned(m.size.min(AHEAD_BYTES))
                    .await
                {
                    Ok(p) => permits.push_back(p),
                    // Closed: the destination side is done.
                    Err(_) => return,
                }
            }
            let mut found = BTreeMap::new();
            if batch.len() > 1 {
                match self
                    .fetch_batch(lane, job, uid_validity, batch, &mut found)
                    .await
                {
                    Ok(()) => {}
                    // What did not arrive is fetched alone below.
                    Err(Fail::Message(e)) => {
                        tracing::debug!(folder = %job.source, error = %e, "batch FETCH failed")
                    }
                    Err(other) => {
                        let _ = tx.send(Ahead::Stop(other)).await;
                        return;
                    }
                }
            }
            for (k, m) in batch.iter().enumerate() {
                let index = i + k;
                let permit = permits.pop_front();
                let fetched = match found.remove(&m.uid) {
                    Some(f) => Ok(Some(f)),
                    None => self.fetch(lane, job, uid_validity, m.uid).await,
                };
                let item = match fetched {
                    Ok(Some(msg)) => {
                        lane.src_reconnects = 0;
                        Ahead::Fetched {
                            index,
                            msg,
                            _budget: permit,
                        }
                    }
                    Ok(None) => Ahead::Skip {
                        index,
                        reason: SkipReason::Vanished,
                        summary: summarize(b"", u64::from(m.size), m.internaldate.as_deref()),
                    },
                    Err(Fail::Message(text)) => {
                        let summary = self.summary(lane, job, uid_validity, m).await;
                        Ahead::Reject {
                            index,
                            reason: RejectReason::Unreadable,
                            text,
                            summary,
                        }
                    }
                    Err(other) => Ahead::Stop(other),
                };
                let stop = matches!(item, Ahead::Stop(_));
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
            i = end;
        }
    }

    /// One `UID FETCH` for the messages of `batch`; what arrived goes into `found` (also when
    /// the command failed half-way). `Fail::Message`: fetch them alone instead.
    async fn fetch_batch(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<u32>,
        batch: &[MessageMeta],
        found: &mut BTreeMap<u32, FetchedMessage>,
    ) -> Result<(), Fail> {
        let s = self.src_session(lane, &job.source, uid_validity).await?;
        let uids: Vec<u32> = batch.iter().map(|m| m.uid).collect();
        let set = identity::uid_sets(&uids, MAX_RANGES).join(",");
        match imap_ext::fetch_bodies(s, &set, found).await {
            Ok(()) => Ok(()),
            Err(CmdError::Refused { text, .. }) => Err(Fail::Message(text)),
            Err(CmdError::Broken(e)) => {
                lane.src = None;
                Err(Fail::Message(e.to_string()))
            }
        }
    }

    /// The destination side of [`Run::copy_messages`]: takes the source side's messages in
    /// order and appends them. With `LITERAL+` up to [`APPEND_WINDOW`] APPENDs are in flight
    /// (sent without waiting for the previous answers); every answer is matched to its message
    /// by tag, and results are recorded in message order. A refused APPEND is tried again
    /// alone through [`Run::append`] (keyword fall-backs, size and quota refusals as without
    /// pipelining) once the APPENDs sent after it are answered. Skipped and rejected messages
    /// wait until everything before them is settled, so the report keeps the source order.
    #[allow(clippy::too_many_arguments)]
    async fn append_all(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        work: &mut FolderWork,
        report: &mut FolderReport,
        messages: &[MessageMeta],
        dest: &mut Option<DestFolder>,
        mut rx: mpsc::Receiver<Ahead>,
        appended: &mut Vec<(u32, [u8; 32])>,
    ) -> Result<bool, Fail> {
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        let mut ctx = Settle {
            job,
            messages,
            appended,
        };
        loop {
            let next = if inflight.is_empty() {
                rx.recv().await
            } else {
                match rx.try_recv() {
                    Ok(item) => Some(item),
                    // Nothing new yet: collect an answer meanwhile (this also frees budget for
                    // the fetching side).
                    Err(TryRecvError::Empty) => {
                        self.settle_some(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            let Some(item) = next else { break };
            if self.stopped() {
                self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                    .await?;
                return Ok(false);
            }
            match item {
                Ahead::Fetched {
                    index,
                    msg,
                    _budget,
                } => {
                    let meta = &messages[index];
                    let size = u64::from(meta.size);
                    let flags = flags_to_copy(msg.flags.as_deref().unwrap_or(&meta.flags));
                    if is_deleted(&flags) {
                        // Flagged \Deleted between the scan and now.
                        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                        let summary = summarize(&msg.body, size, meta.internaldate.as_deref());
                        self.skip(report, job, meta, SkipReason::Deleted, summary);
                        continue;
                    }
                    let date = msg
                        .internaldate
                        .clone()
                        .or_else(|| meta.internaldate.clone());
                    if dest.is_none() {
                        *dest = Some(self.open_dest(lane, &job.destination).await?);
                    }
                    // Recorded before anything is sent: a copy that dies now leaves its
                    // successor a folder to wait for. Not recorded: one in flight at most.
                    let window = if self.mark_appending(job, work) {
                        APPEND_WINDOW
                    } else {
                        1
                    };
                    let pipelined = lane.dst_box.as_deref() == Some(job.destination.as_str())
                        && lane
                            .dst
                            .as_ref()
                            .is_some_and(|s| imap_ext::append_can_pipeline(s, msg.body.len()));
                    if !pipelined {
                        // One at a time: wait for the answer before anything else.
                        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                        let d = match dest {
                            Some(d) => d,
                            None => dest.insert(self.open_dest(lane, &job.destination).await?),
                        };
                        let result = self
                            .append(lane, &job.destination, d, flags, date.as_deref(), &msg)
                            .await;
                        self.settled(lane, work, report, &mut ctx, index, &msg, date, result)?;
                        continue;
                    }
                    // Room in the window's bytes first (a larger message goes alone).
                    while !inflight.is_empty()
                        && inflight.iter().map(|f| f.msg.body.len()).sum::<usize>() + msg.body.len()
                            > APPEND_WINDOW_BYTES
                    {
                        self.settle_some(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                    }
                    // Settling may have lost the connection or changed the folder's state.
                    let Some(s) = lane
                        .dst
                        .as_mut()
                        .filter(|_| lane.dst_box.as_deref() == Some(job.destination.as_str()))
                    else {
                        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                        let d = match dest {
                            Some(d) => d,
                            None => dest.insert(self.open_dest(lane, &job.destination).await?),
                        };
                        let result = self
                            .append(lane, &job.destination, d, flags, date.as_deref(), &msg)
                            .await;
                        self.settled(lane, work, report, &mut ctx, index, &msg, date, result)?;
                        continue;
                    };
                    let (attempt, upfront) = match dest.as_ref() {
                        Some(d) => d.policy.filter(&flags),
                        None => (flags.clone(), Vec::new()),
                    };
                    let sent = imap_ext::append_send(
                        s,
                        &job.destination,
                        &attempt,
                        date.as_deref(),
                        &msg.body,
                    )
                    .await;
                    let broken = matches!(sent, Err(CmdError::Broken(_)));
                    inflight.push_back(InFlight {
                        id: sent.as_ref().ok().cloned(),
                        index,
                        // Broken while it was sent: maybe stored anyway (the folder's count
                        // tells). Refused before it was sent: tried again alone.
                        answer: if sent.is_ok() || broken {
                            Answer::Pending
                        } else {
                            Answer::Retry
                        },
                        msg,
                        flags,
                        attempt,
                        upfront,
                        date,
                        _budget,
                    });
                    if broken {
                        lane.dst = None;
                        lane.dst_box = None;
                        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                    } else if inflight.len() >= window {
                        self.settle_some(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                    }
                }
                Ahead::Skip {
                    index,
                    reason,
                    summary,
                } => {
                    self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                        .await?;
                    self.skip(report, job, &messages[index], reason, summary);
                }
                Ahead::Reject {
                    index,
                    reason,
                    text,
                    summary,
                } => {
                    self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                        .await?;
                    self.reject(report, job, messages[index].uid, reason, text, summary);
                }
                Ahead::WouldCopy { index } => {
                    // What would be copied.
                    report.copied += 1;
                    report.copied_bytes += u64::from(messages[index].size);
                }
                Ahead::Stop(fail) => {
                    self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                        .await?;
                    return Err(fail);
                }
            }
        }
        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
            .await?;
        Ok(true)
    }

    /// Reads one answer to an APPEND in flight, then records the answered messages at the
    /// front of the queue. A refusal or a broken connection settles everything.
    async fn settle_some(
        &self,
        lane: &mut Lane,
        work: &mut FolderWork,
        report: &mut FolderReport,
        dest: &mut Option<DestFolder>,
        inflight: &mut VecDeque<InFlight>,
        ctx: &mut Settle<'_>,
    ) -> Result<(), Fail> {
        match self.read_answer(lane, dest, inflight).await {
            Ok(()) => {}
            Err(()) => {
                return self
                    .settle_all(lane, work, report, dest, inflight, ctx)
                    .await
            }
        }
        while inflight
            .front()
            .is_some_and(|f| matches!(f.answer, Answer::Stored(_)))
        {
            let Some(f) = inflight.pop_front() else { break };
            let Answer::Stored(uid) = f.answer else { break };
            self.settled(
                lane,
                work,
                report,
                ctx,
                f.index,
                &f.msg,
                f.date,
                Ok((uid, f.upfront)),
            )?;
        }
        if inflight.front().is_some_and(|f| f.answer == Answer::Retry) {
            return self
                .settle_all(lane, work, report, dest, inflight, ctx)
                .await;
        }
        Ok(())
    }

    /// Reads the next answer to one of the pending APPENDs into its entry. `Err(())`: the
    /// connection broke (it is dropped).
    async fn read_answer(
        &self,
        lane: &mut Lane,
        dest: &mut Option<DestFolder>,
        inflight: &mut VecDeque<InFlight>,
    ) -> Result<(), ()> {
        let pending: Vec<usize> = (0..inflight.len())
            .filter(|&k| inflight[k].answer == Answer::Pending)
            .collect();
        let ids: Vec<imap_ext::RequestId> = pending
            .iter()
            .filter_map(|&k| inflight[k].id.clone())
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let Some(s) = lane.dst.as_mut().filter(|_| ids.len() == pending.len()) else {
            // One was not sent in full: the connection is not usable.
            lane.dst = None;
            lane.dst_box = None;
            return Err(());
        };
        match imap_ext::append_wait(s, &ids).await {
            Ok((k, result)) => {
                let entry = &mut inflight[pending[k]];
                match result {
                    Ok(a) => {
                        if let Some(d) = dest.as_mut() {
                            d.expected += 1;
                            d.policy.learn(&entry.attempt);
                        }
                        entry.answer = Answer::Stored(a.uid);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e.describe(), "pipelined APPEND refused: trying it alone");
                        entry.answer = Answer::Retry;
                    }
                }
                Ok(())
            }
            Err(e) => {
                tracing::info!(error = %e.describe(), "destination connection lost with APPENDs in flight");
                lane.dst = None;
                lane.dst_box = None;
                Err(())
            }
        }
    }

    /// Waits for every APPEND in flight and records them all, in order. After a broken
    /// connection the folder's message count tells how many of the unanswered APPENDs were
    /// stored (a server executes one connection's commands in order, and the folder belongs
    /// to this lane): those count as copied, the others are sent again. Refused ones are tried
    /// again alone through [`Run::append`]. A fatal or folder error from that is returned
    /// after the messages known to be stored are recorded.
    async fn settle_all(
        &self,
        lane: &mut Lane,
        work: &mut FolderWork,
        report: &mut FolderReport,
        dest: &mut Option<DestFolder>,
        inflight: &mut VecDeque<InFlight>,
        ctx: &mut Settle<'_>,
    ) -> Result<(), Fail> {
        if inflight.is_empty() {
            return Ok(());
        }
        let mut broke = false;
        while inflight.iter().any(|f| f.answer == Answer::Pending) {
            if self.read_answer(lane, dest, inflight).await.is_err() {
                broke = true;
                break;
            }
        }
        let folder = ctx.job.destination.as_str();
        let mut failure: Option<Fail> = None;
        if broke || lane.dst.is_none() {
            let pending = inflight
                .iter()
                .filter(|f| f.answer == Answer::Pending)
                .count();
            // The old connection's APPENDs may still be being stored: count only once the
            // folder holds them all or has stopped changing.
            let want = dest
                .as_ref()
                .map_or(0, |d| d.expected.saturating_add(pending as u32));
            match self.dst_select_quiet(lane, folder, want).await {
                Ok(sel) => {
                    if let Some(d) = dest.as_mut() {
                        let mut policy =
                            KeywordPolicy::from_select(sel.permanent_flags.as_deref(), &sel.flags);
                        policy.known.extend(d.policy.known.iter().cloned());
                        d.policy = policy;
                        let landed = sel
                            .exists
                            .checked_sub(d.expected)
                            .map(|n| n as usize)
                            .filter(|n| *n <= pending);
                        if landed.is_none() {
                            d.expected = sel.exists;
                        }
                        let mut landed = landed.unwrap_or(0);
                        for f in inflight.iter_mut().filter(|f| f.answer == Answer::Pending) {
                            if landed > 0 {
                                landed -= 1;
                                d.expected += 1;
                                f.answer = Answer::Stored(None);
                            } else {
                                f.answer = Answer::Retry;
                            }
                        }
                    }
                }
                Err(e) => failure = Some(e),
            }
        }
        while let Some(f) = inflight.pop_front() {
            let result = match f.answer {
                Answer::Stored(uid) => Ok((uid, f.upfront)),
                _ if failure.is_some() => continue,
                _ => {
                    let Some(d) = dest.as_mut() else { continue };
                    match self
                        .append(lane, folder, d, f.flags, f.date.as_deref(), &f.msg)
                        .await
                    {
                        Err(e @ (Fail::Fatal(_) | Fail::Folder(_))) => {
                            failure = Some(e);
                            continue;
                        }
                        other => other,
                    }
                }
            };
            self.settled(lane, work, report, ctx, f.index, &f.msg, f.date, result)?;
        }
        match failure {
            Some(e) => Err(e),
            None => {
                // Every APPEND sent is answered or accounted for.
                work.resume.appending = false;
                Ok(())
            }
        }
    }

    /// SELECT the destination folder after a connection with APPENDs unanswered was lost,
    /// once it holds `want` messages or did not change for [`QUIET`]: the server may still
    /// be storing what the lost connection had sent (it executes one connection's commands
    /// in order, whether or not the client is still there), and counting too early would
    /// send again a message that is about to land. Still changing after [`QUIET_MAX`]: a
    /// folder error, not a guess.
    async fn dst_select_quiet(
        &self,
        lane: &mut Lane,
        folder: &str,
        want: u32,
    ) -> Result<Selected, Fail> {
        let started = Instant::now();
        let mut sel = self.dst_select(lane, folder).await?;
        let mut at = Instant::now();
        while sel.exists < want {
            tokio::time::sleep(QUIET.saturating_sub(at.elapsed())).await;
            let again = self.dst_select(lane, folder).await?;
            let same = again.exists == sel.exists && again.uid_next == sel.uid_next;
            sel = again;
            at = Instant::now();
            if same {
                break;
            }
            if started.elapsed() > QUIET_MAX {
                return Err(Fail::Folder(format!(
                    "the destination folder kept changing for {} s after a lost connection; run the copy again",
                    QUIET_MAX.as_secs()
                )));
            }
        }
        Ok(sel)
    }

    /// The destination folder's UIDNEXT and message count now (`EXAMINE`, one reconnect).
    /// Not `STATUS`: the folder is often still the one the scan examined on this session, and
    /// a `STATUS` of the selected folder may answer from the session's own view of it
    /// (Dovecot does: messages another session has stored since stay unseen), which would
    /// make a folder still receiving APPENDs look quiet. RFC 3501 advises against it too.
    async fn dst_reading(&self, lane: &mut Lane, folder: &str) -> Result<Reading, Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            lane.dst_box = None; // read-only now: appends SELECT it again
            let s = self.dst_session(lane).await?;
            match imap_ext::select(s, folder, true).await {
                Ok(sel) => {
                    return Ok(Reading {
                        at: Instant::now(),
                        exists: sel.exists,
                        uid_next: sel.uid_next,
                    })
                }
                Err(CmdError::Refused { text, .. }) => {
                    return Err(Fail::Folder(format!(
                        "the destination refused to open it: {text}"
                    )))
                }
                Err(CmdError::Broken(e)) => {
                    lane.dst = None;
                    last = e.to_string();
                }
            }
        }
        Err(Fail::Message(last))
    }

    /// Whether a destination folder scanned at `first` was quiet: unchanged for [`QUIET`]
    /// after the scan read it. APPENDs an earlier session had sent (a killed copy, a lost
    /// connection) may still be arriving while the scan lists the folder; a server stores
    /// one connection's APPENDs back to back, so a folder that does not change for
    /// [`QUIET`] has no more coming. `Ok(false)`: it changed (and is quiet now): scan it
    /// again. Still changing after [`QUIET_MAX`]: a folder error.
    async fn confirm_quiet(
        &self,
        lane: &mut Lane,
        folder: &str,
        first: Reading,
    ) -> Result<bool, Fail> {
        let mut last = first;
        let mut changed = false;
        loop {
            tokio::time::sleep(QUIET.saturating_sub(last.at.elapsed())).await;
            let now = self.dst_reading(lane, folder).await?;
            if now.same(&last) {
                return Ok(!changed);
            }
            tracing::info!(%folder, before = last.exists, now = now.exists, "destination folder still changing: waiting");
            changed = true;
            last = now;
            if first.at.elapsed() > QUIET_MAX {
                return Err(Fail::Folder(format!(
                    "the destination folder kept changing for {} s; run the copy again",
                    QUIET_MAX.as_secs()
                )));
            }
        }
    }

    /// Records the end of one message's APPEND: copied (checkpoint, progress), or rejected
    /// with the destination's refusal. Fatal and folder errors are returned.
    #[allow(clippy::too_many_arguments)]
    fn settled(
        &self,
        lane: &mut Lane,
        work: &mut FolderWork,
        report: &mut FolderReport,
        ctx: &mut Settle<'_>,
        index: usize,
        msg: &FetchedMessage,
        date: Option<String>,
        result: Result<AppendDone, Fail>,
    ) -> Result<(), Fail> {
        let job = ctx.job;
        let meta = &ctx.messages[index];
        let size = u64::from(meta.size);
        match result {
            Ok((appended_uid, dropped)) => {
                lane.dst_reconnects = 0;
                report.copied += 1;
                report.copied_bytes += msg.body.len() as u64;
                report.keywords_dropped += dropped.len() as u32;
                for k in dropped.iter() {
                    if !report
                        .keywords_refused
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(k))
                    {
                        report.keywords_refused.push(k.clone());
                    }
                }
                work.resume.done.insert(meta.uid);
                if let Some((validity, uid)) = appended_uid {
                    let known = *work.dest_uid_validity.get_or_insert(validity);
                    if known == validity {
                        work.resume.map.insert(meta.uid, uid);
                        if self.options.verify {
                            ctx.appended.push((uid, body_digest(&msg.body)));
                        }
                    }
                }
                self.record(
                    &job.source,
                    meta.uid,
                    MessageResult::Copied {
                        appended_uid,
                        keywords_dropped: dropped.len() as u32,
                    },
                    size,
                );
                self.save_checkpoint(job, work, false);
                Ok(())
            }
            Err(Fail::Message(text)) => {
                let summary = summarize(&msg.body, size, date.as_deref());
                self.reject(report, job, meta.uid, RejectReason::Refused, text, summary);
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// SELECT the destination folder for writing, with its keyword policy.
    async fn open_dest(&self, lane: &mut Lane, folder: &str) -> Result<DestFolder, Fail> {
        let sel = self.dst_select(lane, folder).await?;
        Ok(DestFolder {
            policy: KeywordPolicy::from_select(sel.permanent_flags.as_deref(), &sel.flags),
            expected: sel.exists,
        })
    }

    /// Brings the flags of messages already at the destination in line with the source's:
    /// messages needing the same change share one `UID STORE` per direction.
    async fn sync_flags(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        updates: &[FlagUpdate],
        dest: &mut Option<DestFolder>,
        report: &mut FolderReport,
    ) -> Result<(), Fail> {
        let policy = match dest.as_mut() {
            Some(d) => d.policy.clone(),
            None => dest
                .insert(self.open_dest(lane, &job.destination).await?)
                .policy
                .clone(),
        };
        let mut groups: BTreeMap<(Vec<String>, Vec<String>), Vec<u32>> = BTreeMap::new();
        for u in updates {
            // Keywords the destination cannot store are not asked for (PERMANENTFLAGS without
            // `\*`: Microsoft Exchange / Office 365 store no keywords); they were dropped when
            // the message was copied.
            let (add, _) = policy.filter(&u.add);
            if add.is_empty() && u.remove.is_empty() {
                continue;
            }
            groups
                .entry((add, u.remove.clone()))
                .or_default()
                .push(u.uid);
        }
        for ((add, remove), uids) in groups {
            let mut changed = false;
            for (is_add, flags) in [(true, &add), (false, &remove)] {
                if flags.is_empty() {
                    continue;
                }
                for set in identity::uid_sets(&uids, MAX_RANGES) {
                    changed |= self
                        .store_flags(lane, &job.destination, &set, is_add, flags, report)
                        .await?;
                }
            }
            if changed {
                report.flags_updated += uids.len() as u32;
            }
        }
        Ok(())
    }

    /// One `UID STORE ±FLAGS.SILENT`; refused with several flags, they are tried one by one
    /// (a keyword the destination will not store must not keep the others away). Whether
    /// anything was stored.
    async fn store_flags(
        &self,
        lane: &mut Lane,
        folder: &str,
        uid_set: &str,
        add: bool,
        flags: &[String],
        report: &mut FolderReport,
    ) -> Result<bool, Fail> {
        match self.dst_store(lane, folder, uid_set, add, flags).await? {
            None => return Ok(true),
            Some(text) if flags.len() == 1 => {
                self.flag_refused(folder, &flags[0], &text, report);
                return Ok(false);
            }
            Some(_) => {}
        }
        let mut any = false;
        for f in flags {
            match self
                .dst_store(lane, folder, uid_set, add, std::slice::from_ref(f))
                .await?
            {
                None => any = true,
                Some(text) => self.flag_refused(folder, f, &text, report),
            }
        }
        Ok(any)
    }

    fn flag_refused(&self, folder: &str, flag: &str, text: &str, report: &mut FolderReport) {
        tracing::info!(%folder, %flag, %text, "flag change refused by the destination");
        if is_keyword(flag)
            && !report
                .keywords_refused
                .iter()
                .any(|k| k.eq_ignore_ascii_case(flag))
        {
            report.keywords_refused.push(flag.to_string());
        }
    }

    /// `UID STORE` on the destination folder (SELECTed again after a reconnect). `Ok(None)`:
    /// stored; `Ok(Some(text))`: refused.
    async fn dst_store(
        &self,
        lane: &mut Lane,
        folder: &str,
        uid_set: &str,
        add: bool,
        flags: &[String],
    ) -> Result<Option<String>, Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            if lane.dst.is_none() || lane.dst_box.as_deref() != Some(folder) {
                self.dst_select(lane, folder).await?;
            }
            let s = self.dst_session(lane).await?;
            match imap_ext::uid_store(s, uid_set, add, flags).await {
                Ok(()) => return Ok(None),
                Err(CmdError::Refused { text, .. }) => return Ok(Some(text)),
                Err(CmdError::Broken(e)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                    last = e.to_string();
                }
            }
        }
        Err(Fail::Fatal(format!(
            "the destination connection failed twice while changing flags: {last}"
        )))
    }

    /// [`CopyOptions::verify`]: reads the appended messages back and compares them with what
    /// was sent. Best effort: a connection problem ends the check, not the copy.
    async fn read_back(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        appended: &[(u32, [u8; 32])],
        report: &mut FolderReport,
    ) {
        for (uid, digest) in appended {
            if self.stopped() {
                return;
            }
            if lane.dst.is_none() || lane.dst_box.as_deref() != Some(job.destination.as_str()) {
                if let Err(e) = self.dst_select(lane, &job.destination).await {
                    tracing::info!(folder = %job.destination, error = ?e, "read-back check stopped");
                    return;
                }
            }
            let Some(s) = lane.dst.as_mut() else { return };
            match imap_ext::fetch_body(s, *uid).await {
                Ok(Some(m)) => {
                    report.verified += 1;
                    if body_digest(&m.body) != *digest {
                        report.altered += 1;
                    }
                }
                Ok(None) | Err(CmdError::Refused { .. }) => {}
                Err(CmdError::Broken(_)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                }
            }
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
            uid: meta.uid,
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
        tracing::info!(folder = %job.source, uid, %server_text, "message not copied");
        report.rejected.push(RejectedMessage {
            uid,
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
        uid_validity: Option<u32>,
        meta: &MessageMeta,
    ) -> MessageSummary {
        let size = u64::from(meta.size);
        let date = meta.internaldate.as_deref();
        let Ok(s) = self.src_session(lane, &job.source, uid_validity).await else {
            return summarize(b"", size, date);
        };
        match imap_ext::fetch_summary_headers(s, meta.uid).await {
            Ok(Some(h)) => summarize(&h, size, date),
            Ok(None) | Err(CmdError::Refused { .. }) => summarize(b"", size, date),
            Err(CmdError::Broken(_)) => {
                lane.src = None;
                summarize(b"", size, date)
            }
        }
    }

    /// The whole message, tried twice (a second time alone on a fresh connection if the
    /// first broke it: an answer async-imap cannot parse leaves the session unusable).
    /// `Ok(None)`: the message is gone from the source.
    async fn fetch(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<u32>,
        uid: u32,
    ) -> Result<Option<FetchedMessage>, Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            let s = match self.src_session(lane, &job.source, uid_validity).await {
                Ok(s) => s,
                Err(Fail::Message(e)) => {
                    last = e;
                    continue;
                }
                Err(other) => return Err(other),
            };
            match imap_ext::fetch_body(s, uid).await {
                Ok(found) => return Ok(found),
                // RFC 5530 [EXPUNGEISSUED] (Dovecot: "NO [EXPUNGEISSUED] Some of the requested
                // messages no longer exist"): expunged by another session.
                Err(CmdError::Refused { text, .. })
                    if text.to_ascii_uppercase().contains("[EXPUNGEISSUED]") =>
                {
                    return Ok(None)
                }
                Err(CmdError::Refused { text, .. }) => last = text,
                Err(CmdError::Broken(e)) => {
                    lane.src = None;
                    last = e.to_string();
                }
            }
        }
        Err(Fail::Message(last))
    }

    /// SELECT the destination folder (read-write: EXAMINE would report PERMANENTFLAGS as empty).
    async fn dst_select(&self, lane: &mut Lane, folder: &str) -> Result<Selected, Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            let s = self.dst_session(lane).await?;
            match imap_ext::select(s, folder, false).await {
                Ok(sel) => {
                    lane.dst_box = Some(folder.to_string());
                    return Ok(sel);
                }
                Err(CmdError::Refused { text, .. }) => {
                    return Err(Fail::Folder(format!(
                        "the destination refused to open it: {text}"
                    )))
                }
                Err(CmdError::Broken(e)) => {
                    lane.dst = None;
                    last = e.to_string();
                }
            }
        }
        Err(Fail::Fatal(format!(
            "the destination connection failed twice: {last}"
        )))
    }

    /// APPEND with the keyword fall-backs; returns the APPENDUID and the keywords dropped.
    /// `Fail::Message` carries the destination's refusal.
    async fn append(
        &self,
        lane: &mut Lane,
        folder: &str,
        dest: &mut DestFolder,
        flags: Vec<String>,
        date: Option<&str>,
        msg: &FetchedMessage,
    ) -> Result<AppendDone, Fail> {
        // Keywords PERMANENTFLAGS does not allow are left out from the start.
        let (mut attempt, upfront) = dest.policy.filter(&flags);
        let mut first_refusal: Option<String> = None;
        let mut broke: Option<String> = None;
        // Keywords left out after a refusal that did not say which keyword it was about.
        let mut unknown_dropped: Vec<String> = Vec::new();
        loop {
            if lane.dst.is_none() || lane.dst_box.as_deref() != Some(folder) {
                let sel = if broke.is_some() {
                    self.dst_select_quiet(lane, folder, dest.expected.saturating_add(1))
                        .await?
                } else {
                    self.dst_select(lane, folder).await?
                };
                let mut policy =
                    KeywordPolicy::from_select(sel.permanent_flags.as_deref(), &sel.flags);
                policy.known.extend(dest.policy.known.iter().cloned());
                dest.policy = policy;
                if broke.is_some() {
                    // The connection broke during APPEND: did the message arrive anyway? The
                    // folder belongs to this lane, so only our APPENDs change its count.
                    if sel.exists == dest.expected + 1 {
                        dest.expected += 1;
                        let mut dropped = upfront;
                        dropped.extend(unknown_dropped);
                        return Ok((None, dropped));
                    }
                    dest.expected = sel.exists;
                }
            }
            let s = self.dst_session(lane).await?;
            match imap_ext::append(s, folder, &attempt, date, &msg.body).await {
                Ok(a) => {
                    dest.expected += 1;
                    dest.policy.learn(&attempt);
                    if !unknown_dropped.is_empty() {
                        if let Some((_, uid)) = a.uid {
                            self.restore_keywords(lane, dest, uid, &mut unknown_dropped)
                                .await;
                        }
                    }
                    let mut dropped = upfront;
                    dropped.extend(unknown_dropped);
                    return Ok((a.uid, dropped));
                }
                Err(CmdError::Refused { text, .. }) => match classify_refusal(&text) {
                    Refusal::QuotaFull => {
                        return Err(Fail::Fatal(format!(
                            "the destination account is full: {text}"
                        )))
                    }
                    Refusal::NoMailbox => {
                        return Err(Fail::Folder(format!(
                            "the destination folder is gone: {text}"
                        )))
                    }
                    Refusal::TooBig => return Err(Fail::Message(text)),
                    Refusal::Other => {
                        let first = first_refusal.get_or_insert(text).clone();
                        if !attempt.iter().any(|f| is_keyword(f)) {
                            return Err(Fail::Message(first));
                        }
                        // Maybe a keyword was refused (too long, too many in the mailbox...),
                        // and the server does not say which: keep only keywords known to be
                        // storable (then none at all); once the message is in, the others are
                        // tried one by one with STORE.
                        let known = dest.policy.only_known(&attempt);
                        let next: Vec<String> = if known.len() < attempt.len() {
                            known
                        } else {
                            attempt.iter().filter(|f| !is_keyword(f)).cloned().collect()
                        };
                        let removed: Vec<String> = attempt
                            .iter()
                            .filter(|f| !next.contains(f))
                            .cloned()
                            .collect();
                        unknown_dropped.extend(removed);
                        attempt = next;
                    }
                },
                Err(CmdError::Broken(e)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                    if broke.is_some() {
                        return Err(Fail::Fatal(format!(
                            "the destination connection failed twice while appending a message: {e}"
                        )));
                    }
                    broke = Some(e.to_string());
                }
            }
        }
    }

    /// After an APPEND without some keywords went through: adds them back one at a time with
    /// `UID STORE +FLAGS`, so that only the keywords the destination really refuses are lost.
    /// What is stored is removed from `keywords`.
    async fn restore_keywords(
        &self,
        lane: &mut Lane,
        dest: &mut DestFolder,
        uid: u32,
        keywords: &mut Vec<String>,
    ) {
        let mut still_refused = Vec::new();
        for k in std::mem::take(keywords) {
            let Some(s) = lane.dst.as_mut() else {
                still_refused.push(k);
                continue;
            };
            match imap_ext::uid_store_add(s, uid, &k).await {
                Ok(()) => dest.policy.learn(std::slice::from_ref(&k)),
                Err(CmdError::Refused { text, .. }) => {
                    tracing::debug!(keyword = %k, %text, "keyword refused by STORE");
                    still_refused.push(k);
                }
                Err(CmdError::Broken(_)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                    still_refused.push(k);
                }
            }
        }
        *keywords = still_refused;
    }

    /// STATUS MESSAGES of every destination folder; fewer than expected is an error.
    async fn verify(&self, lane: &mut Lane, jobs: &[FolderMapping], reports: &mut [FolderReport]) {
        for (job, report) in jobs.iter().zip(reports.iter_mut()) {
            if self.cancel.is_cancelled() {
                return;
            }
            if !job.selectable {
                continue;
            }
            let mut count = None;
            for _ in 0..2 {
                let Ok(s) = self.dst_session(lane).await else {
                    break;
                };
                match s.status(&job.destination).await {
                    Ok(st) => {
                        count = Some(st.messages);
                        break;
                    }
                    Err(e) if e.is_transient() => {
                        lane.dst = None;
                        lane.dst_box = None;
                    }
                    Err(_) => break,
                }
            }
            report.destination_count = count;
            if let Some(n) = count {
                if report.finished
                    && report.error.is_none()
                    && u64::from(n) < report.expected_at_destination()
                {
                    report.error = Some(format!(
                        "the destination lists {n} messages where {} were expected",
                        report.expected_at_destination()
                    ));
                }
            }
        }
    }
}

/// LIST, NAMESPACE and LSUB of one side.
async fn listing(s: &mut ImapSession, role: &str) -> Result<Listing, String> {
    let folders = s
        .list_folders()
        .await
        .map_err(|e| format!("could not list the folders of the {role}: {e}"))?;
    let namespace = s
        .namespace()
        .await
        .map_err(|e| format!("could not read the namespace of the {role}: {e}"))?;
    let subscribed = imap_ext::lsub(s).await.map_err(|e| {
        format!(
            "could not list the subscriptions of the {role}: {}",
            e.describe()
        )
    })?;
    Ok(Listing {
        folders,
        namespace,
        subscribed,
        delimiter: None,
    })
}
