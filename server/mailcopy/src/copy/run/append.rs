//! The destination side of a lane: APPENDs in a window, settled in source order, with the
//! fall-backs for refusals.

use super::*;
use crate::copy::throttle;

/// A message stored at the destination: its APPENDUID (validity, UID) when known, and the
/// keywords that could not be kept.
pub(super) type AppendDone = (Option<(UidValidity, Uid)>, Vec<Flag>);

/// One APPEND sent without waiting for the answer of the previous ones (an entry of the
/// lane's [`Window`]).
pub(super) struct InFlight {
    pub(super) index: usize,
    pub(super) msg: FetchedMessage,
    /// The flags to copy; `attempt` the ones sent, `upfront` the ones left out by the
    /// destination's PERMANENTFLAGS.
    pub(super) flags: Vec<Flag>,
    pub(super) attempt: Vec<Flag>,
    pub(super) upfront: Vec<Flag>,
    pub(super) date: Option<String>,
    pub(super) _budget: Option<OwnedSemaphorePermit>,
}

/// What recording a settled APPEND needs besides the report.
pub(super) struct Settle<'a> {
    pub(super) job: &'a FolderMapping,
    pub(super) messages: &'a [MessageMeta],
    /// Appended messages to read back: destination UID and digest of what was sent.
    pub(super) appended: &'a mut Vec<(u32, [u8; 32])>,
}

impl Run<'_> {
    /// The destination side of [`Run::copy_messages`]: takes the source side's messages in
    /// order and appends them. With `LITERAL+` up to [`APPEND_WINDOW`] APPENDs are in flight
    /// (sent without waiting for the previous answers); every answer is matched to its message
    /// by tag, and results are recorded in message order. A refused APPEND is tried again
    /// alone through [`Run::append`] (keyword fall-backs, size and quota refusals as without
    /// pipelining) once the APPENDs sent after it are answered. Skipped and rejected messages
    /// wait until everything before them is settled, so the report keeps the source order.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn append_all(
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
        let mut inflight: Window<InFlight> = Window::new(APPEND_WINDOW, APPEND_WINDOW_BYTES);
        let mut ctx = Settle {
            job,
            messages,
            appended,
        };
        // The destination folder is selected while the source side fetches the first
        // messages, not after: one round trip less per folder.
        if dest.is_none() && !self.options.dry_run && messages.iter().any(|m| !is_deleted(&m.flags))
        {
            *dest = Some(self.open_dest(lane, job.destination.raw()).await?);
        }
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
                    // No new APPEND while the copy is paused for throttling.
                    self.pace().await?;
                    let meta = &messages[index];
                    let size = u64::from(meta.size);
                    let mut flags = flags_to_copy(msg.flags.as_deref().unwrap_or(&meta.flags));
                    // Its other labels, as keywords ("one copy of each message").
                    for k in work.labels.get(&meta.uid).into_iter().flatten() {
                        if !flags.contains(k) {
                            flags.push(k.clone());
                        }
                    }
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
                        *dest = Some(self.open_dest(lane, job.destination.raw()).await?);
                    }
                    // Recorded before anything is sent: a copy that dies now leaves its
                    // successor a folder to wait for. Not recorded: one in flight at most.
                    let window = if self.mark_appending(job, work).await {
                        APPEND_WINDOW
                    } else {
                        1
                    };
                    let pipelined = lane.dst_box.as_deref() == Some(job.destination.raw())
                        && lane
                            .dst
                            .as_ref()
                            .is_some_and(|s| message::append_can_pipeline(s, msg.body.len()));
                    if pipelined {
                        // Room in the window's bytes first (a larger message goes alone).
                        while !inflight.has_room_for(msg.body.len()) {
                            self.settle_some(lane, work, report, dest, &mut inflight, &mut ctx)
                                .await?;
                        }
                    }
                    // Settling may have lost the connection or changed the folder's state.
                    let Some(s) = lane.dst.as_mut().filter(|_| {
                        pipelined && lane.dst_box.as_deref() == Some(job.destination.raw())
                    }) else {
                        // One at a time: wait for every answer, then this message alone.
                        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                        let d = match dest {
                            Some(d) => d,
                            None => dest.insert(self.open_dest(lane, job.destination.raw()).await?),
                        };
                        let result = self
                            .append(lane, job.destination.raw(), d, flags, date.as_deref(), &msg)
                            .await;
                        self.settled(lane, work, report, &mut ctx, index, &msg, date, result)
                            .await?;
                        continue;
                    };
                    let (attempt, upfront) = match dest.as_ref() {
                        Some(d) => d.policy.filter(&flags),
                        None => (flags.clone(), Vec::new()),
                    };
                    let sent = message::append_send(
                        s,
                        job.destination.raw(),
                        &attempt,
                        date.as_deref(),
                        &msg.body,
                    )
                    .await;
                    let broken = matches!(sent, Err(CmdError::Broken(_)));
                    let bytes = msg.body.len();
                    let entry = InFlight {
                        index,
                        msg,
                        flags,
                        attempt,
                        upfront,
                        date,
                        _budget,
                    };
                    match sent {
                        Ok(tag) => inflight.sent(tag, bytes, entry),
                        // Broken while it was sent: maybe stored anyway (the folder's count
                        // tells).
                        Err(CmdError::Broken(_)) => inflight.broken_while_sent(bytes, entry),
                        // Refused before it was sent: tried again alone.
                        Err(CmdError::Refused { .. }) => inflight.refused_before_sent(bytes, entry),
                    }
                    if broken {
                        lane.dst = None;
                        lane.dst_box = None;
                        self.settle_all(lane, work, report, dest, &mut inflight, &mut ctx)
                            .await?;
                    } else if inflight.is_full(window) {
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
    pub(super) async fn settle_some(
        &self,
        lane: &mut Lane,
        work: &mut FolderWork,
        report: &mut FolderReport,
        dest: &mut Option<DestFolder>,
        inflight: &mut Window<InFlight>,
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
        for (f, uid) in inflight.take_stored_front() {
            self.settled(
                lane,
                work,
                report,
                ctx,
                f.index,
                &f.msg,
                f.date,
                Ok((uid, f.upfront)),
            )
            .await?;
        }
        if inflight.front_needs_retry() {
            return self
                .settle_all(lane, work, report, dest, inflight, ctx)
                .await;
        }
        Ok(())
    }

    /// Reads the next answer to one of the pending APPENDs into its entry. `Err(())`: the
    /// connection broke (it is dropped).
    pub(super) async fn read_answer(
        &self,
        lane: &mut Lane,
        dest: &mut Option<DestFolder>,
        inflight: &mut Window<InFlight>,
    ) -> Result<(), ()> {
        if inflight.pending() == 0 {
            return Ok(());
        }
        let tags = inflight.pending_tags();
        let (Some(s), Some(ids)) = (lane.dst.as_mut(), tags) else {
            // One was not sent in full: the connection is not usable.
            lane.dst = None;
            lane.dst_box = None;
            return Err(());
        };
        match message::append_wait(s, &ids).await {
            Ok((k, Ok(a))) => {
                if let (Some(d), Some(entry)) = (dest.as_mut(), inflight.answered(k, Some(a.uid))) {
                    d.expected += 1;
                    d.policy.learn(&entry.attempt);
                }
                Ok(())
            }
            Ok((k, Err(e))) => {
                tracing::debug!(error = %e.describe(), "pipelined APPEND refused: trying it alone");
                inflight.answered(k, None);
                // A throttled one: the copy pauses before it is tried alone. Should the
                // attempt stop instead (a daily limit), it stops: the lone APPEND is not
                // sent, the messages still in flight are settled first.
                if let CmdError::Refused { text, .. } = &e {
                    if throttle::busy(text).is_some() {
                        if let Err(Fail::Fatal(stop)) = self.throttled(text).await {
                            self.stop(stop);
                        }
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
    pub(super) async fn settle_all(
        &self,
        lane: &mut Lane,
        work: &mut FolderWork,
        report: &mut FolderReport,
        dest: &mut Option<DestFolder>,
        inflight: &mut Window<InFlight>,
        ctx: &mut Settle<'_>,
    ) -> Result<(), Fail> {
        if inflight.is_empty() {
            return Ok(());
        }
        let mut broke = false;
        while inflight.pending() > 0 {
            if self.read_answer(lane, dest, inflight).await.is_err() {
                broke = true;
                break;
            }
        }
        let folder = ctx.job.destination.raw();
        let mut failure: Option<Fail> = None;
        if broke || lane.dst.is_none() {
            let pending = inflight.pending();
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
                        d.expected = inflight.connection_lost(d.expected, sel.exists).expected;
                    }
                }
                Err(e) => failure = Some(e),
            }
        }
        for (f, answer) in inflight.drain() {
            let result = match answer {
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
            self.settled(lane, work, report, ctx, f.index, &f.msg, f.date, result)
                .await?;
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

    /// Records the end of one message's APPEND: copied (checkpoint, progress), or rejected
    /// with the destination's refusal. Fatal and folder errors are returned.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn settled(
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
                        .any(|x| x.eq_ignore_ascii_case(k.as_str()))
                    {
                        report.keywords_refused.push(k.to_string());
                    }
                }
                work.resume.done.insert(meta.uid);
                if let Some((validity, uid)) = appended_uid {
                    let known = *work.dest_uid_validity.get_or_insert(validity);
                    if known == validity {
                        work.resume.map.insert(meta.uid, uid.0);
                        if self.options.verify {
                            ctx.appended.push((uid.0, body_digest(&msg.body)));
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
                self.save_checkpoint(job, work, false).await;
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
    pub(super) async fn open_dest(
        &self,
        lane: &mut Lane,
        folder: &str,
    ) -> Result<DestFolder, Fail> {
        let sel = self.dst_select(lane, folder).await?;
        Ok(DestFolder {
            policy: KeywordPolicy::from_select(sel.permanent_flags.as_deref(), &sel.flags),
            expected: sel.exists,
        })
    }

    /// APPEND with the keyword fall-backs; returns the APPENDUID and the keywords dropped.
    /// `Fail::Message` carries the destination's refusal.
    pub(super) async fn append(
        &self,
        lane: &mut Lane,
        folder: &str,
        dest: &mut DestFolder,
        flags: Vec<Flag>,
        date: Option<&str>,
        msg: &FetchedMessage,
    ) -> Result<AppendDone, Fail> {
        // Keywords PERMANENTFLAGS does not allow are left out from the start.
        let (mut attempt, upfront) = dest.policy.filter(&flags);
        let mut first_refusal: Option<String> = None;
        let mut broke: Option<String> = None;
        let mut breaks = 0;
        // Keywords left out after a refusal that did not say which keyword it was about.
        let mut unknown_dropped: Vec<Flag> = Vec::new();
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
            match message::append(s, folder, &attempt, date, &msg.body).await {
                Ok(a) => {
                    dest.expected += 1;
                    dest.policy.learn(&attempt);
                    if !unknown_dropped.is_empty() {
                        if let Some((_, uid)) = a.uid {
                            self.restore_keywords(lane, dest, uid.0, &mut unknown_dropped)
                                .await;
                        }
                    }
                    let mut dropped = upfront;
                    dropped.extend(unknown_dropped);
                    return Ok((a.uid, dropped));
                }
                // A throttled APPEND was not stored: the same again after the pause (the
                // pauses are bounded by `throttle::MAX_PAUSES`).
                Err(CmdError::Refused { text, .. }) if throttle::busy(&text).is_some() => {
                    self.throttled(&text).await?;
                    self.pace().await?;
                }
                Err(CmdError::Refused { text, .. }) => match classify_refusal(&text) {
                    Refusal::QuotaFull => {
                        return Err(Fail::Fatal(Stop::new(
                            StopKind::QuotaFull,
                            true,
                            format!("the destination account is full: {text}"),
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
                        if !attempt.iter().any(Flag::is_keyword) {
                            return Err(Fail::Message(first));
                        }
                        // Maybe a keyword was refused (too long, too many in the mailbox...),
                        // and the server does not say which: keep only keywords known to be
                        // storable (then none at all); once the message is in, the others are
                        // tried one by one with STORE.
                        let known = dest.policy.only_known(&attempt);
                        let next: Vec<Flag> = if known.len() < attempt.len() {
                            known
                        } else {
                            attempt.iter().filter(|f| f.is_system()).cloned().collect()
                        };
                        let removed: Vec<Flag> = attempt
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
                    breaks += 1;
                    // A lost connection is not the message's fault: sent again on a new one
                    // (after counting what landed); only a destination that keeps breaking
                    // stops the copy.
                    if breaks >= APPEND_BREAKS_PER_MESSAGE {
                        let text = format!(
                            "the destination connection broke each of the {breaks} times a message was appended: {e}"
                        );
                        return Err(Fail::Fatal(Stop::from_connect(&e, text)));
                    }
                    broke = Some(e.to_string());
                }
            }
        }
    }

    /// After an APPEND without some keywords went through: adds them back one at a time with
    /// `UID STORE +FLAGS`, so that only the keywords the destination really refuses are lost.
    /// What is stored is removed from `keywords`.
    pub(super) async fn restore_keywords(
        &self,
        lane: &mut Lane,
        dest: &mut DestFolder,
        uid: u32,
        keywords: &mut Vec<Flag>,
    ) {
        let mut still_refused = Vec::new();
        for k in std::mem::take(keywords) {
            let Some(s) = lane.dst.as_mut() else {
                still_refused.push(k);
                continue;
            };
            match message::uid_store_add(s, uid, &k).await {
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
}
