//! Copying one folder: flags first, then the messages left, with the folder's checkpoint.

use super::*;

impl Run<'_> {
    pub(super) async fn copy_all(
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
        let done = join_all(lanes.iter_mut().enumerate().map(|(index, lane)| {
            let work = &work;
            async move {
                let mut out = Vec::new();
                loop {
                    self.take_hints(lane);
                    // After a throttling pause (or hint) the copy goes on with fewer lanes:
                    // this one leaves between two folders.
                    if !self.lane_wanted(index) {
                        tracing::info!(lane = index, "throttled: closing a lane");
                        lane.logout().await;
                        break;
                    }
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

    pub(super) async fn copy_folder(
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
        let started = Instant::now();
        let result = self.copy_messages(lane, job, work, report).await;
        tracing::debug!(folder = %job.source.raw(), messages = report.copied, ms = started.elapsed().as_millis() as u64, "folder copied");
        match result {
            Ok(finished) => report.finished = finished,
            Err(Fail::Fatal(e)) => self.stop(e),
            Err(Fail::Folder(e)) | Err(Fail::Message(e)) | Err(Fail::Busy(e)) => {
                report.error = Some(e)
            }
        }
        self.save_checkpoint(job, work, true).await;
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
    pub(super) async fn save_checkpoint(
        &self,
        job: &FolderMapping,
        work: &mut FolderWork,
        force: bool,
    ) -> bool {
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
            job.destination.raw(),
            work.dest_uid_validity,
            &r.source_uids,
            &r.done,
            &r.map,
        );
        checkpoint.appending = r.appending;
        checkpoint.appended_from = r.appended_from;
        r.last_saved = Some(Instant::now());
        if r.loaded.as_ref() == Some(&checkpoint) {
            return true;
        }
        match self.checkpoints.save(job.source.raw(), &checkpoint).await {
            Ok(()) => {
                r.loaded = Some(checkpoint);
                true
            }
            Err(e) => {
                tracing::warn!(folder = %job.source.raw(), error = %e, "checkpoint not saved");
                false
            }
        }
    }

    /// Records in the folder's checkpoint, before an APPEND is sent, that APPENDs may be in
    /// flight ([`FolderCheckpoint::appending`]). Returns whether the store has it: only then
    /// may more than one be in flight (with one, the status quo before the window).
    pub(super) async fn mark_appending(&self, job: &FolderMapping, work: &mut FolderWork) -> bool {
        if !work.resume.appending {
            work.resume.appending = true;
            work.resume.marked = self.save_checkpoint(job, work, true).await;
            // The mark is not progress: the first copied message is written at once, as
            // without the mark, and from then on at most once per CHECKPOINT_EVERY.
            work.resume.last_saved = None;
        }
        work.resume.marked
    }

    pub(super) fn size_limit(&self, lane: &Lane) -> Option<u64> {
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
        // Without APPENDLIMIT, the destination provider's known maximum (Microsoft).
        let profile = appendlimit
            .is_none()
            .then(|| {
                lane.dst
                    .as_ref()
                    .and_then(|d| d.provider().max_message_size())
            })
            .flatten();
        [appendlimit, profile, self.options.max_message_size]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) async fn copy_messages(
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
}
