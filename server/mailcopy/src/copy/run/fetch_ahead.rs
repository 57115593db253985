//! The source side of a lane: fetch ahead in pipelined batches while the destination side
//! appends.

use super::*;
use crate::copy::throttle;

/// What the source side of a lane hands to its destination side, in UID order. `index` is
/// the message's place in the folder's work list.
pub(super) enum Ahead {
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

/// One batch `UID FETCH` of [`Run::fetch_ahead`]: messages `start..end` of the folder's work
/// list, their share of the budget, and the command in flight.
struct Batch {
    start: usize,
    end: usize,
    /// One permit per message, in order.
    permits: VecDeque<OwnedSemaphorePermit>,
    /// `None`: not sent (the connection broke first).
    tag: Option<imap_proto::RequestId>,
    /// The command's answer, once read; `Err(text)`: its connection broke.
    answer: Option<Result<Result<(), CmdError>, String>>,
}

impl Run<'_> {
    /// The source side of [`Run::copy_messages`]: decides what is not sent (`\Deleted`, too
    /// large, dry run), fetches the rest in batches (one `UID FETCH` for several messages,
    /// at most [`FETCH_BATCH_BYTES`] by the scan's sizes) and hands everything over in UID
    /// order. Up to [`FETCH_PIPELINE`] batches are in flight on the connection (the next ones
    /// are asked for while one arrives, so a round trip is paid once, not per batch), all
    /// within [`AHEAD_BYTES`] of messages not yet settled at the destination (and always at
    /// least one message). A message a batch did not deliver is fetched alone (with the
    /// single-message retry) once nothing else is in flight, so batching and pipelining change
    /// nothing about what is reported.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn fetch_ahead(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        limit: Option<u64>,
        messages: &[MessageMeta],
        tx: mpsc::Sender<Ahead>,
        budget: &Arc<Semaphore>,
    ) {
        let too_large = |m: &MessageMeta| limit.is_some_and(|l| u64::from(m.size) > l);
        let fetched_at_all = |m: &MessageMeta| !is_deleted(&m.flags) && !too_large(m);
        let mut pending: VecDeque<Batch> = VecDeque::new();
        let mut bodies = message::Bodies::default();
        // Next message not yet in a batch or handed over.
        let mut i = 0;
        loop {
            if self.stopped() {
                return;
            }
            // More batches in flight while there is room (budget, pipeline depth).
            while !self.options.dry_run
                && pending.len() < FETCH_PIPELINE
                && i < messages.len()
                && fetched_at_all(&messages[i])
                && pending.back().is_none_or(|b| b.tag.is_some())
            {
                let end = batch_end(messages, i, &fetched_at_all);
                // Within the day's volume (Gmail): what does not fit waits for tomorrow.
                let end = i + self.take_volume(&messages[i..end]);
                if end == i {
                    if pending.is_empty() {
                        // After everything handed over: the destination side appends what
                        // was fetched, then stops the copy for the day.
                        if let Some(stop) = self.day_over() {
                            let _ = tx.send(Ahead::Stop(Fail::Fatal(stop))).await;
                        }
                        return;
                    }
                    break;
                }
                let Some(permits) = self
                    .batch_budget(budget, &messages[i..end], pending.is_empty())
                    .await
                else {
                    if pending.is_empty() {
                        // Closed: the destination side is done.
                        return;
                    }
                    break;
                };
                let tag = match self
                    .send_batch(
                        lane,
                        job,
                        uid_validity,
                        &messages[i..end],
                        !pending.is_empty(),
                    )
                    .await
                {
                    Ok(tag) => tag,
                    Err(fail) => {
                        let _ = tx.send(Ahead::Stop(fail)).await;
                        return;
                    }
                };
                pending.push_back(Batch {
                    start: i,
                    end,
                    permits,
                    tag,
                    answer: None,
                });
                i = end;
            }
            let Some(mut batch) = pending.pop_front() else {
                if i >= messages.len() {
                    return;
                }
                // A message that is not fetched: nothing is in flight now.
                let meta = &messages[i];
                let size = u64::from(meta.size);
                let item = if is_deleted(&meta.flags) {
                    let summary = self.summary(lane, job, uid_validity, meta).await;
                    Ahead::Skip {
                        index: i,
                        reason: SkipReason::Deleted,
                        summary,
                    }
                } else if let Some(limit) = limit.filter(|l| size > *l) {
                    let summary = self.summary(lane, job, uid_validity, meta).await;
                    Ahead::Reject {
                        index: i,
                        reason: RejectReason::TooLarge { size, limit },
                        text: format!(
                            "{size} bytes, more than the {limit} bytes the destination accepts; not sent"
                        ),
                        summary,
                    }
                } else {
                    Ahead::WouldCopy { index: i }
                };
                if tx.send(item).await.is_err() {
                    return;
                }
                i += 1;
                continue;
            };
            // The oldest batch's answer (servers answer in order: usually the next one read).
            self.read_batches(lane, &mut batch, &mut pending, &mut bodies, true)
                .await;
            let uids = batch.start..batch.end;
            let missing = messages[uids.clone()]
                .iter()
                .any(|m| !bodies.found.contains_key(&m.uid));
            let mut found = BTreeMap::new();
            for m in &messages[uids] {
                if let Some(f) = bodies.found.remove(&m.uid) {
                    found.insert(m.uid, f);
                }
            }
            if missing {
                // Fetched again (throttled) or alone below, with nothing else in flight.
                self.read_batches(lane, &mut batch, &mut pending, &mut bodies, false)
                    .await;
                if let Some(Ok(Err(CmdError::Refused { text, .. }))) = &batch.answer {
                    if throttle::busy(text).is_some() {
                        let text = text.clone();
                        let again = match self.throttled(&text).await {
                            Ok(()) => {
                                self.fetch_batch(
                                    lane,
                                    job,
                                    uid_validity,
                                    &messages[batch.start..batch.end],
                                    &mut found,
                                )
                                .await
                            }
                            Err(fail) => Err(fail),
                        };
                        match again {
                            Ok(()) | Err(Fail::Message(_)) => {}
                            Err(other) => {
                                let _ = tx.send(Ahead::Stop(other)).await;
                                return;
                            }
                        }
                    }
                }
            }
            if !self
                .hand_over(lane, job, uid_validity, messages, batch, found, &tx)
                .await
            {
                return;
            }
        }
    }

    /// The budget for one batch: one permit per message (a message larger than the whole
    /// budget takes all of it). `wait`: for room (the only batch); else only if there is room
    /// now. `None`: no room, or the budget was closed.
    async fn batch_budget(
        &self,
        budget: &Arc<Semaphore>,
        batch: &[MessageMeta],
        wait: bool,
    ) -> Option<VecDeque<OwnedSemaphorePermit>> {
        let share = |m: &MessageMeta| m.size.clamp(1, AHEAD_BYTES);
        let total: u32 = batch.iter().map(share).sum::<u32>().min(AHEAD_BYTES);
        let mut all = if wait {
            budget.clone().acquire_many_owned(total).await.ok()?
        } else {
            budget.clone().try_acquire_many_owned(total).ok()?
        };
        let mut permits = VecDeque::with_capacity(batch.len());
        for m in &batch[..batch.len() - 1] {
            // `split` fails only when fewer are left; the last message keeps the rest.
            let take = (share(m) as usize).min(all.num_permits().saturating_sub(1));
            if let Some(p) = all.split(take) {
                permits.push_back(p);
            }
        }
        permits.push_back(all);
        Some(permits)
    }

    /// Sends a batch's `UID FETCH` on the lane's source session (examining the folder first
    /// if needed, unless other batches are in flight: then a connection that is gone is left
    /// for them to find). `Ok(None)`: not sent, the connection broke; `Err`: stop the folder
    /// or the copy.
    async fn send_batch(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        batch: &[MessageMeta],
        others_in_flight: bool,
    ) -> Result<Option<imap_proto::RequestId>, Fail> {
        if others_in_flight && lane.src.is_none() {
            return Ok(None);
        }
        let uids: Vec<u32> = batch.iter().map(|m| m.uid).collect();
        let set = identity::uid_sets(&uids, MAX_RANGES).join(",");
        let folder = job.source.raw();
        if !others_in_flight && lane.src_box.as_deref() != Some(folder) {
            self.pace().await?;
            if let Some(s) = lane.src.as_mut() {
                // The folder opened and its first batch asked for in one round trip.
                match message::examine_then_fetch(s, folder, &set).await {
                    Ok(Ok((sel, tag))) => {
                        if let (Some(want), Some(got)) = (uid_validity, sel.uid_validity) {
                            if want != got {
                                // The FETCH in flight is of other messages: drop the session.
                                lane.src = None;
                                return Err(Fail::Folder(format!(
                                    "its UIDVALIDITY changed during the copy ({want} → {got}): run the copy again"
                                )));
                            }
                        }
                        lane.src_box = Some(folder.to_string());
                        lane.src_selected = sel;
                        return Ok(Some(tag));
                    }
                    // Refused (or throttled): the usual way below says what to do.
                    Ok(Err(_)) => lane.src_box = None,
                    Err(_) => lane.src = None,
                }
            }
        }
        loop {
            self.pace().await?;
            let s = match self.src_session(lane, folder, uid_validity).await {
                Ok(s) => s,
                Err(Fail::Busy(text)) if !others_in_flight => {
                    self.throttled(&text).await?;
                    continue;
                }
                // Each message is fetched alone instead (with its own retries).
                Err(Fail::Message(_)) | Err(Fail::Busy(_)) => return Ok(None),
                Err(other) => return Err(other),
            };
            return match message::fetch_bodies_send(s, &set).await {
                Ok(tag) => Ok(Some(tag)),
                Err(_) => {
                    lane.src = None;
                    Ok(None)
                }
            };
        }
    }

    /// Reads answers of the batches in flight: until `front`'s is in (`only_front`), or until
    /// every one is. A broken connection answers every batch still waiting.
    async fn read_batches(
        &self,
        lane: &mut Lane,
        front: &mut Batch,
        pending: &mut VecDeque<Batch>,
        bodies: &mut message::Bodies,
        only_front: bool,
    ) {
        loop {
            let waiting: Vec<(usize, imap_proto::RequestId)> = std::iter::once(&*front)
                .chain(pending.iter())
                .enumerate()
                .filter(|(_, b)| b.answer.is_none())
                .filter_map(|(k, b)| b.tag.clone().map(|t| (k, t)))
                .collect();
            // Not sent: nothing to read.
            for b in std::iter::once(&mut *front).chain(pending.iter_mut()) {
                if b.tag.is_none() && b.answer.is_none() {
                    b.answer = Some(Err("not sent: the connection broke".to_string()));
                }
            }
            if waiting.is_empty() || (only_front && front.answer.is_some()) {
                return;
            }
            let tags: Vec<imap_proto::RequestId> = waiting.iter().map(|(_, t)| t.clone()).collect();
            let read =
                match lane.src.as_mut() {
                    Some(s) => message::fetch_bodies_read(s, &tags, bodies)
                        .await
                        .map_err(|e| match e {
                            CmdError::Broken(e) => e.to_string(),
                            CmdError::Refused { text, .. } => text,
                        }),
                    None => Err("no source connection".to_string()),
                };
            match read {
                Ok((k, done)) => {
                    let at = waiting[k].0;
                    let b = if at == 0 {
                        &mut *front
                    } else {
                        &mut pending[at - 1]
                    };
                    b.answer = Some(Ok(done));
                }
                Err(e) => {
                    lane.src = None;
                    tracing::debug!(error = %e, "batch FETCH broken");
                    for b in std::iter::once(&mut *front).chain(pending.iter_mut()) {
                        if b.answer.is_none() {
                            b.answer = Some(Err(e.clone()));
                        }
                    }
                }
            }
        }
    }

    /// Hands a batch's messages to the destination side in order: those that arrived, the
    /// others fetched alone. False: stop (the destination side is gone, or a fatal error).
    #[allow(clippy::too_many_arguments)]
    async fn hand_over(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        messages: &[MessageMeta],
        mut batch: Batch,
        mut found: BTreeMap<u32, FetchedMessage>,
        tx: &mpsc::Sender<Ahead>,
    ) -> bool {
        for (index, m) in messages
            .iter()
            .enumerate()
            .take(batch.end)
            .skip(batch.start)
        {
            let permit = batch.permits.pop_front();
            let fetched = match found.remove(&m.uid) {
                Some(f) => Ok(Some(f)),
                None => self.fetch(lane, job, uid_validity, m.uid).await,
            };
            let item = match fetched {
                Ok(Some(msg)) => {
                    lane.src_reconnects = 0;
                    lane.src_fetched += 1;
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
                return false;
            }
        }
        true
    }

    /// One `UID FETCH` for the messages of `batch`; what arrived goes into `found` (also when
    /// the command failed half-way). `Fail::Message`: fetch them alone instead.
    pub(super) async fn fetch_batch(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        batch: &[MessageMeta],
        found: &mut BTreeMap<u32, FetchedMessage>,
    ) -> Result<(), Fail> {
        loop {
            self.pace().await?;
            let s = match self.src_session(lane, job.source.raw(), uid_validity).await {
                Ok(s) => s,
                Err(Fail::Busy(text)) => {
                    self.throttled(&text).await?;
                    continue;
                }
                Err(other) => return Err(other),
            };
            // After a throttled answer, only what has not arrived yet.
            let uids: Vec<u32> = batch
                .iter()
                .map(|m| m.uid)
                .filter(|uid| !found.contains_key(uid))
                .collect();
            let set = identity::uid_sets(&uids, MAX_RANGES).join(",");
            match message::fetch_bodies(s, &set, found).await {
                Ok(()) => return Ok(()),
                // Pauses are bounded by `throttle::MAX_PAUSES`.
                Err(CmdError::Refused { text, .. }) if throttle::busy(&text).is_some() => {
                    self.throttled(&text).await?
                }
                Err(CmdError::Refused { text, .. }) => return Err(Fail::Message(text)),
                Err(CmdError::Broken(e)) => {
                    lane.src = None;
                    return Err(Fail::Message(e.to_string()));
                }
            }
        }
    }

    /// The whole message. A refusal (or an answer that cannot be parsed) is tried once more;
    /// a lost connection is never the message's fault: it is fetched again on a fresh
    /// connection, up to [`FETCH_BREAKS_PER_MESSAGE`] times. Only when the source serves
    /// other messages (this lane fetched some) is one that breaks every connection reported
    /// as unreadable, with the evidence; otherwise the copy stops as connection lost.
    /// `Ok(None)`: the message is gone from the source.
    pub(super) async fn fetch(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        uid: u32,
    ) -> Result<Option<FetchedMessage>, Fail> {
        let mut refusals = 0;
        let mut breaks = 0;
        loop {
            match src_twice!(self, lane, job.source.raw(), uid_validity, |s| {
                message::fetch_body(s, uid)
            })? {
                Tried::Done(found) => return Ok(found),
                // RFC 5530 [EXPUNGEISSUED] (Dovecot: "NO [EXPUNGEISSUED] Some of the requested
                // messages no longer exist"): expunged by another session.
                Tried::Refused(text) if text.to_ascii_uppercase().contains("[EXPUNGEISSUED]") => {
                    return Ok(None)
                }
                Tried::Refused(text) => {
                    refusals += 1;
                    if refusals >= 2 {
                        return Err(Fail::Message(text));
                    }
                }
                // src_twice! tried two connections.
                Tried::Broken(e) => {
                    breaks += 2;
                    if breaks >= FETCH_BREAKS_PER_MESSAGE {
                        let text = format!(
                            "the connection to the source broke each of the {breaks} times this message was fetched: {e}"
                        );
                        return Err(if lane.src_fetched > 0 {
                            Fail::Message(text)
                        } else {
                            Fail::Fatal(Stop::lost(text))
                        });
                    }
                }
            }
        }
    }
}

/// The end of the batch starting at `start`: the following messages to fetch, within
/// [`FETCH_BATCH_MESSAGES`] and [`FETCH_BATCH_BYTES`] (a larger message goes alone).
fn batch_end(
    messages: &[MessageMeta],
    start: usize,
    fetched: &impl Fn(&MessageMeta) -> bool,
) -> usize {
    let mut end = start;
    let mut bytes = 0u64;
    while end < messages.len() && end - start < FETCH_BATCH_MESSAGES {
        let m = &messages[end];
        if !fetched(m) || (end > start && bytes + u64::from(m.size) > FETCH_BATCH_BYTES) {
            break;
        }
        bytes += u64::from(m.size);
        end += 1;
    }
    end.max(start + 1)
}
