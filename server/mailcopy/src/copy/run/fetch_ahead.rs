//! The source side of a lane: fetch ahead in batches while the destination side appends.

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

impl Run<'_> {
    /// The source side of [`Run::copy_messages`]: decides what is not sent (`\Deleted`, too
    /// large, dry run), fetches the rest in batches (one `UID FETCH` for several messages,
    /// at most [`FETCH_BATCH_BYTES`] by the scan's sizes) and hands everything over in UID
    /// order. Holds at most [`AHEAD_BYTES`] of messages not yet settled at the destination
    /// (and always at least one message). A message the batch did not deliver is fetched alone
    /// (with the single-message retry), so a batch changes nothing about what is reported.
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
                        tracing::debug!(folder = %job.source.raw(), error = %e, "batch FETCH failed")
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
                    return;
                }
            }
            i = end;
        }
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
