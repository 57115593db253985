//! The copy run: lanes of (source, destination) sessions working through the folder plan.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

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

/// Copies every planned folder and message from `source` to `destination`.
///
/// Never fails as such: problems end up in the returned report ([`Outcome::Incomplete`]
/// with one error when the copy had to stop). `connect` applies to both sides (its extra CA
/// PEM may hold several certificates). Cancelling `cancel` stops the copy between two
/// messages. The last event sent to `progress` is [`Progress::Finished`].
pub async fn copy_mailbox(
    source: (&Endpoint, &Credentials),
    destination: (&Endpoint, &Credentials),
    connect: &ConnectOptions,
    options: &CopyOptions,
    progress: &dyn ProgressSink,
    cancel: &CancellationToken,
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
    async fn logout(&mut self) {
        for s in [self.src.take(), self.dst.take()].into_iter().flatten() {
            if let Ok(Err(e)) = tokio::time::timeout(LOGOUT_TIMEOUT, s.logout()).await {
                tracing::debug!(error = %e, "LOGOUT failed");
            }
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

/// Scan result of one folder.
struct FolderScan {
    uid_validity: Option<u32>,
    messages: Vec<MessageMeta>,
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
        let (messages, bytes) = reports.iter().fold((0u64, 0u64), |(m, b), r| {
            (m + u64::from(r.source_count), b + r.source_bytes)
        });
        self.progress.event(Progress::Scanned {
            folders: jobs.len() as u64,
            messages,
            bytes,
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

    /// Scans every selectable folder, the lanes in parallel (a shared queue of job indices).
    async fn scan_all(
        &self,
        lanes: &mut [Lane],
        jobs: &[FolderMapping],
        reports: &mut [FolderReport],
    ) -> Vec<Option<FolderScan>> {
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
                    out.push((i, self.scan_folder(lane, &jobs[i].source).await));
                }
                out
            }
        }))
        .await;
        let mut scans: Vec<Option<FolderScan>> = (0..jobs.len()).map(|_| None).collect();
        for (i, r) in results.into_iter().flatten() {
            match r {
                Ok(scan) => {
                    reports[i].source_count = scan.messages.len() as u32;
                    reports[i].source_bytes = scan.messages.iter().map(|m| u64::from(m.size)).sum();
                    scans[i] = Some(scan);
                }
                Err(Fail::Fatal(e)) => self.stop(e),
                Err(Fail::Folder(e)) | Err(Fail::Message(e)) => reports[i].error = Some(e),
            }
        }
        scans
    }

    async fn scan_folder(&self, lane: &mut Lane, folder: &str) -> Result<FolderScan, Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            lane.src_box = None; // EXAMINE afresh: its UIDVALIDITY is the scan's
            match self.src_session(lane, folder, None).await {
                Ok(_) => {}
                Err(Fail::Message(e)) => {
                    last = e;
                    continue;
                }
                Err(other) => return Err(other),
            }
            let sel = lane.src_selected.clone();
            let Some(s) = lane.src.as_mut() else {
                continue;
            };
            let messages = if sel.exists == 0 {
                Vec::new()
            } else {
                match imap_ext::fetch_meta(s, "1:*").await {
                    Ok(m) => m,
                    Err(CmdError::Refused { text, .. }) => {
                        return Err(Fail::Folder(format!(
                            "the source refused to list its messages: {text}"
                        )))
                    }
                    Err(CmdError::Broken(e)) => {
                        lane.src = None;
                        last = e.to_string();
                        continue;
                    }
                }
            };
            lane.src_reconnects = 0;
            return Ok(FolderScan {
                uid_validity: sel.uid_validity,
                messages,
            });
        }
        Err(Fail::Folder(format!(
            "the source could not list its messages: {last}"
        )))
    }

    async fn copy_all(
        &self,
        lanes: &mut [Lane],
        jobs: &[FolderMapping],
        mut scans: Vec<Option<FolderScan>>,
        reports: &mut [FolderReport],
    ) {
        // Largest folders first: the last folder to finish is then a small one.
        let mut order: Vec<usize> = (0..jobs.len()).filter(|&i| scans[i].is_some()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(reports[i].source_bytes));
        let work: Mutex<VecDeque<(usize, FolderScan, FolderReport)>> = Mutex::new(
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
                    let Some((i, scan, mut report)) = next else {
                        break;
                    };
                    if !self.stopped() {
                        self.copy_folder(lane, &jobs[i], &scan, &mut report).await;
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
        scan: &FolderScan,
        report: &mut FolderReport,
    ) {
        self.progress.event(Progress::FolderStarted {
            source: job.source.clone(),
            destination: job.destination.clone(),
        });
        let result = self.copy_messages(lane, job, scan, report).await;
        match result {
            Ok(finished) => report.finished = finished,
            Err(Fail::Fatal(e)) => self.stop(e),
            Err(Fail::Folder(e)) | Err(Fail::Message(e)) => report.error = Some(e),
        }
        self.progress.event(Progress::FolderDone {
            source: job.source.clone(),
            destination: job.destination.clone(),
            copied: report.copied,
            skipped: report.skipped.len() as u32,
            failed: report.rejected.len() as u32,
        });
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
        scan: &FolderScan,
        report: &mut FolderReport,
    ) -> Result<bool, Fail> {
        let mut dest = if self.options.dry_run {
            None
        } else {
            let sel = self.dst_select(lane, &job.destination).await?;
            report.destination_before = sel.exists;
            Some(DestFolder {
                policy: KeywordPolicy::from_select(sel.permanent_flags.as_deref(), &sel.flags),
                expected: sel.exists,
            })
        };
        let limit = self.size_limit(lane);
        for meta in &scan.messages {
            if self.stopped() {
                return Ok(false);
            }
            let size = u64::from(meta.size);
            if is_deleted(&meta.flags) {
                let summary = self.summary(lane, job, scan, meta).await;
                self.skip(report, job, meta, SkipReason::Deleted, summary);
                continue;
            }
            if let Some(limit) = limit.filter(|l| size > *l) {
                let summary = self.summary(lane, job, scan, meta).await;
                self.reject(
                    report,
                    job,
                    meta.uid,
                    RejectReason::TooLarge { size, limit },
                    format!(
                        "{size} bytes, more than the {limit} bytes the destination accepts; not sent"
                    ),
                    summary,
                );
                continue;
            }
            let Some(dest) = dest.as_mut() else {
                // Dry run: what would be copied.
                report.copied += 1;
                report.copied_bytes += size;
                continue;
            };
            let fetched = match self.fetch(lane, job, scan, meta.uid).await {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.skip(
                        report,
                        job,
                        meta,
                        SkipReason::Vanished,
                        summarize(b"", size, meta.internaldate.as_deref()),
                    );
                    continue;
                }
                Err(Fail::Message(text)) => {
                    let summary = self.summary(lane, job, scan, meta).await;
                    self.reject(
                        report,
                        job,
                        meta.uid,
                        RejectReason::Unreadable,
                        text,
                        summary,
                    );
                    continue;
                }
                Err(other) => return Err(other),
            };
            let flags = flags_to_copy(fetched.flags.as_deref().unwrap_or(&meta.flags));
            if is_deleted(&flags) {
                // Flagged \Deleted between the scan and now.
                let summary = summarize(&fetched.body, size, meta.internaldate.as_deref());
                self.skip(report, job, meta, SkipReason::Deleted, summary);
                continue;
            }
            let date = fetched
                .internaldate
                .as_deref()
                .or(meta.internaldate.as_deref());
            match self
                .append(lane, &job.destination, dest, flags, date, &fetched)
                .await
            {
                Ok((appended_uid, dropped)) => {
                    lane.src_reconnects = 0;
                    lane.dst_reconnects = 0;
                    report.copied += 1;
                    report.copied_bytes += fetched.body.len() as u64;
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
                    self.record(
                        &job.source,
                        meta.uid,
                        MessageResult::Copied {
                            appended_uid,
                            keywords_dropped: dropped.len() as u32,
                        },
                        size,
                    );
                }
                Err(Fail::Message(text)) => {
                    let summary = summarize(&fetched.body, size, date);
                    self.reject(report, job, meta.uid, RejectReason::Refused, text, summary);
                }
                Err(other) => return Err(other),
            }
        }
        Ok(true)
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
        scan: &FolderScan,
        meta: &MessageMeta,
    ) -> MessageSummary {
        let size = u64::from(meta.size);
        let date = meta.internaldate.as_deref();
        let Ok(s) = self.src_session(lane, &job.source, scan.uid_validity).await else {
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
        scan: &FolderScan,
        uid: u32,
    ) -> Result<Option<FetchedMessage>, Fail> {
        let mut last = String::new();
        for _ in 0..2 {
            let s = match self.src_session(lane, &job.source, scan.uid_validity).await {
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
    ) -> Result<(Option<(u32, u32)>, Vec<String>), Fail> {
        // Keywords PERMANENTFLAGS does not allow are left out from the start.
        let (mut attempt, upfront) = dest.policy.filter(&flags);
        let mut first_refusal: Option<String> = None;
        let mut broke: Option<String> = None;
        // Keywords left out after a refusal that did not say which keyword it was about.
        let mut unknown_dropped: Vec<String> = Vec::new();
        loop {
            if lane.dst.is_none() || lane.dst_box.as_deref() != Some(folder) {
                let sel = self.dst_select(lane, folder).await?;
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
