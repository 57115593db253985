//! The scan: per folder, both sides' metadata, matched by identity, gives what is left to
//! copy; checkpoints make it cheaper.

use super::*;

impl Run<'_> {
    /// Scans every selectable folder (both sides) and matches them, the lanes in parallel (a
    /// shared queue of job indices). Fills the report rows' scan columns.
    pub(super) async fn scan_all(
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
        // With an `\All` folder to take the remainder of, every other folder's source keys;
        // under "one copy of each message" (a source with labels), every folder's.
        let all_mail = jobs.iter().any(|j| j.all_mail && j.selectable);
        let gmail_source = lanes
            .first()
            .and_then(|l| l.src.as_ref())
            .is_some_and(|s| s.provider() == Provider::Gmail);
        let one_copy =
            self.options.labels == LabelPolicy::OneCopyOfEachMessage && (all_mail || gmail_source);
        if one_copy {
            lock(&self.state).one_copy = Some(labels::plan_keywords(jobs));
        }
        let keys_of = |i: usize| one_copy || (all_mail && !jobs[i].all_mail);
        // Every destination folder read once before the scan, in one round trip: the quiet
        // check can then measure from this earlier reading (unchanged from before the scan
        // listed the folder until QUIET later covers the listing too), and is usually past
        // its wait once the scan of every folder is done.
        let early = match lanes.first_mut() {
            Some(lane) if !self.options.dry_run => self.early_readings(lane, jobs, &queue).await,
            _ => BTreeMap::new(),
        };
        let lane_count = lanes.len().max(1);
        let results = join_all(lanes.iter_mut().map(|lane| {
            let queue = &queue;
            async move {
                let mut out = Vec::new();
                loop {
                    if self.stopped() {
                        break;
                    }
                    // A lane's share of what is left, up to SCAN_GROUP folders, listed on both
                    // sides in one round trip.
                    let group: Vec<usize> = {
                        let mut q = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let n = q
                            .len()
                            .div_ceil(lane_count)
                            .clamp(1, SCAN_GROUP)
                            .min(q.len());
                        q.drain(..n).collect()
                    };
                    if group.is_empty() {
                        break;
                    }
                    let listed = self.list_group(lane, jobs, &group, &keys_of).await;
                    for (i, listed) in group.into_iter().zip(listed) {
                        let scan = self.scan_folder(lane, &jobs[i], keys_of(i), listed).await;
                        out.push((i, scan));
                    }
                }
                out
            }
        }))
        .await;
        let mut scans: Vec<Option<FolderWork>> = (0..jobs.len()).map(|_| None).collect();
        let mut elsewhere: HashSet<identity::ElsewhereKey> = HashSet::new();
        let mut held: Vec<Vec<all_mail::Held>> = (0..jobs.len()).map(|_| Vec::new()).collect();
        let mut apply = |scans: &mut Vec<Option<FolderWork>>,
                         reports: &mut [FolderReport],
                         elsewhere: &mut HashSet<identity::ElsewhereKey>,
                         i: usize,
                         r: Result<(FolderWork, ScanFacts), Fail>| {
            scans[i] = None;
            match r {
                Ok((mut work, mut facts)) => {
                    elsewhere.extend(facts.elsewhere.iter().copied());
                    held[i] = std::mem::take(&mut facts.held);
                    if let (Some(q), Some(e)) = (work.quiet.as_mut(), early.get(&i)) {
                        *q = *e;
                    }
                    let report = &mut reports[i];
                    report.source_count = facts.source_count;
                    report.source_bytes = facts.source_bytes;
                    report.destination_before = facts.destination_before;
                    report.already_present = facts.already_present;
                    report.already_present_bytes = facts.already_present_bytes;
                    report.copied_before = facts.copied_before;
                    report.copied_before_bytes = facts.copied_before_bytes;
                    report.altered = facts.altered;
                    scans[i] = Some(work);
                }
                Err(Fail::Fatal(e)) => self.stop(e),
                Err(Fail::Folder(e)) | Err(Fail::Message(e)) | Err(Fail::Busy(e)) => {
                    reports[i].error = Some(e)
                }
            }
        };
        for (i, r) in results.into_iter().flatten() {
            apply(&mut scans, reports, &mut elsewhere, i, r);
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
                    // Up to QUIET_BATCH folders read again in one round trip.
                    let batch: Vec<(usize, Reading)> = {
                        let mut q = checks
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let n = q.len().min(QUIET_BATCH);
                        q.drain(..n).collect()
                    };
                    if batch.is_empty() {
                        break;
                    }
                    let named: Vec<(String, Reading)> = batch
                        .iter()
                        .map(|&(i, r)| (jobs[i].destination.raw().to_string(), r))
                        .collect();
                    let quiet = match self.quiet_batch(lane, &named).await {
                        Ok(q) => q,
                        Err(Fail::Fatal(e)) => {
                            self.stop(e);
                            break;
                        }
                        // Lost while reading them: each is checked alone below.
                        Err(_) => vec![false; batch.len()],
                    };
                    for (&(i, reading), quiet) in batch.iter().zip(quiet) {
                        if quiet {
                            continue;
                        }
                        let job = &jobs[i];
                        match self
                            .confirm_quiet(lane, job.destination.raw(), reading)
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => {
                                out.push((i, self.scan_folder(lane, job, keys_of(i), None).await))
                            }
                            Err(e) => out.push((i, Err(e))),
                        }
                    }
                }
                out
            }
        }))
        .await;
        for (i, r) in results.into_iter().flatten() {
            apply(&mut scans, reports, &mut elsewhere, i, r);
        }
        let keywords = lock(&self.state).one_copy.clone();
        match keywords {
            Some(keywords) => {
                all_mail::take_one_copy(jobs, &mut scans, reports, &mut held, &keywords)
            }
            None if all_mail => {
                all_mail::take_remainder_of_all(jobs, &mut scans, reports, &mut held, &elsewhere)
            }
            None => {}
        }
        scans
    }

    /// The destination folders of `queue` that exist, each read with EXAMINE (pipelined):
    /// by job index. A folder that cannot be read, or a connection that breaks, just has no
    /// early reading (the scan's own is used).
    async fn early_readings(
        &self,
        lane: &mut Lane,
        jobs: &[FolderMapping],
        queue: &Mutex<VecDeque<usize>>,
    ) -> BTreeMap<usize, Reading> {
        let wanted: Vec<usize> = {
            let fresh = &lock(&self.state).fresh;
            queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .copied()
                .filter(|&i| !fresh.contains(jobs[i].destination.raw()))
                .collect()
        };
        if wanted.is_empty() {
            return BTreeMap::new();
        }
        let names: Vec<String> = wanted
            .iter()
            .map(|&i| jobs[i].destination.raw().to_string())
            .collect();
        lane.dst_box = None;
        let Ok(s) = self.dst_session(lane).await else {
            return BTreeMap::new();
        };
        let at = Instant::now();
        match mailbox::examine_many(s, &names).await {
            Ok(answers) => wanted
                .into_iter()
                .zip(answers)
                .filter_map(|(i, a)| {
                    a.ok().map(|sel| {
                        (
                            i,
                            Reading {
                                at,
                                exists: sel.exists,
                                uid_next: sel.uid_next,
                            },
                        )
                    })
                })
                .collect(),
            Err(e) => {
                if matches!(e, CmdError::Broken(_)) {
                    lane.dst = None;
                }
                BTreeMap::new()
            }
        }
    }

    /// Both sides' listings of a group of folders, each side in one round trip
    /// ([`message::examine_many_with_meta`]), with each folder's checkpoint. A folder whose
    /// listing failed is listed again alone by [`Run::scan_folder`].
    async fn list_group(
        &self,
        lane: &mut Lane,
        jobs: &[FolderMapping],
        group: &[usize],
        keys_of: &impl Fn(usize) -> bool,
    ) -> Vec<Option<Listed>> {
        let mut loaded = Vec::with_capacity(group.len());
        for &i in group {
            loaded.push(self.load_checkpoint(jobs[i].source.raw()).await);
        }
        if group.len() < 2 || self.pace().await.is_err() {
            // One folder: scanned the usual way (EXAMINE and FETCH in one round trip anyway).
            return loaded.into_iter().map(|c| Some(Listed::only(c))).collect();
        }
        let src_list: Vec<(String, bool)> = group
            .iter()
            .zip(&loaded)
            .map(|(&i, c)| (jobs[i].source.raw().to_string(), c.is_none() || keys_of(i)))
            .collect();
        // In a dry run a folder that does not exist at the destination yet is not examined.
        let dst_of: Vec<Option<usize>> = {
            let mut n = 0;
            group
                .iter()
                .map(|&i| {
                    (!self.options.dry_run || jobs[i].exists_at_destination).then(|| {
                        n += 1;
                        n - 1
                    })
                })
                .collect()
        };
        let dst_list: Vec<(String, bool)> = group
            .iter()
            .zip(&loaded)
            .zip(&dst_of)
            .filter(|(_, d)| d.is_some())
            .map(|((&i, c), _)| (jobs[i].destination.raw().to_string(), c.is_none()))
            .collect();
        let (mut src_lane, mut dst_lane) = lane.split();
        let (src, dst) = tokio::join!(
            async {
                src_lane.src_box = None;
                let s = self.src_connected(&mut src_lane).await.ok()?;
                match message::examine_many_with_meta(s, &src_list).await {
                    Ok(all) => Some(all),
                    Err(_) => {
                        src_lane.src = None;
                        None
                    }
                }
            },
            async {
                if dst_list.is_empty() {
                    return Some(Vec::new());
                }
                dst_lane.dst_box = None;
                let s = self.dst_session(&mut dst_lane).await.ok()?;
                match message::examine_many_with_meta(s, &dst_list).await {
                    Ok(all) => Some(all),
                    Err(_) => {
                        dst_lane.dst = None;
                        None
                    }
                }
            }
        );
        lane.rejoin(src_lane, dst_lane);
        let (Some(src), Some(dst)) = (src, dst) else {
            // A connection broke: each folder alone, with the usual retries.
            return loaded.into_iter().map(|c| Some(Listed::only(c))).collect();
        };
        let mut dst: Vec<Option<Examined>> = dst.into_iter().map(Some).collect();
        let last = group.len() - 1;
        let mut out = Vec::with_capacity(group.len());
        for (k, (src, loaded)) in src.into_iter().zip(loaded).enumerate() {
            if k == last && src.is_ok() {
                // What the source session has selected now.
                lane.src_box = Some(src_list[k].0.clone());
            }
            let dst = match dst_of[k].and_then(|d| dst.get_mut(d).and_then(Option::take)) {
                None => Ok(None),
                Some(Ok(found)) => Ok(Some(found)),
                Some(Err(CmdError::Refused {
                    command: "EXAMINE", ..
                })) if self.options.dry_run => Ok(None),
                Some(Err(e)) => Err(self.scan_failure(&mut lane.dst, Side::Destination, e)),
            };
            let src = src.map_err(|e| self.scan_failure(&mut lane.src, Side::Source, e));
            out.push(Some(Listed {
                loaded,
                both: Some((src, dst)),
            }));
        }
        out
    }

    /// [`Run::scan_folder_once`], again if a connection broke (up to [`SCAN_TRIES`] times).
    /// `keys`: also give the source messages' keys (every one's header fields fetched).
    /// `listed`: what [`Run::list_group`] already read (used on the first try).
    pub(super) async fn scan_folder(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        keys: bool,
        mut listed: Option<Listed>,
    ) -> Result<(FolderWork, ScanFacts), Fail> {
        let mut last = String::new();
        // A lost connection is not the folder's fault: scanned again on a new one (the lane's
        // reconnect limit still stops a side that keeps failing).
        let mut tries = 0;
        while tries < SCAN_TRIES {
            self.pace().await?;
            match self.scan_folder_once(lane, job, keys, listed.take()).await {
                Err(Fail::Message(e)) => {
                    tries += 1;
                    last = e;
                }
                // Not a try: the pauses are bounded by `throttle::MAX_PAUSES`.
                Err(Fail::Busy(text)) => self.throttled(&text).await?,
                other => return other,
            }
        }
        Err(Fail::Folder(format!(
            "its messages could not be listed: {last}"
        )))
    }

    pub(super) async fn load_checkpoint(&self, folder: &str) -> Option<FolderCheckpoint> {
        match self.checkpoints.load(folder).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%folder, error = %e, "checkpoint not readable: scanning in full");
                None
            }
        }
    }

    /// The metadata of `uid_set` on the lane's source (`Source`) or destination session,
    /// whose folder is selected.
    pub(super) async fn fetch_meta(
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
        match message::fetch_meta(s, uid_set, with_headers).await {
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
    pub(super) async fn fill_headers(
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
    pub(super) async fn scan_folder_once(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        keys: bool,
        listed: Option<Listed>,
    ) -> Result<(FolderWork, ScanFacts), Fail> {
        // The checkpoint first (local): without one, the header fields are fetched with the
        // rest, both sides at once, each side's EXAMINE and FETCH in one round trip.
        let (loaded, both) = match listed {
            Some(l) => (l.loaded, l.both),
            None => (self.load_checkpoint(job.source.raw()).await, None),
        };
        // Listed with other folders: what a session has selected is another folder.
        let grouped = both.is_some();
        let with_headers = loaded.is_none();
        let src_headers = with_headers || keys;
        let examine_dst = !self.options.dry_run || job.exists_at_destination;
        let (src, dst) = match both {
            Some(both) => both,
            None => {
                let (mut src_lane, mut dst_lane) = lane.split();
                let both = tokio::join!(
                    self.src_examine_meta(&mut src_lane, job.source.raw(), src_headers),
                    async {
                        if examine_dst {
                            self.dst_examine_meta(
                                &mut dst_lane,
                                job.destination.raw(),
                                with_headers,
                            )
                            .await
                        } else {
                            Ok(None)
                        }
                    }
                );
                lane.rejoin(src_lane, dst_lane);
                both
            }
        };
        let (src_sel, mut src_msgs) = src?;
        let (dst_sel, mut dst_msgs) = match dst? {
            Some((sel, msgs)) => (Some(sel), msgs),
            None => (None, Vec::new()),
        };
        let examined = Instant::now();
        let dest_uid_validity = dst_sel.as_ref().and_then(|d| d.uid_validity);
        // Only a checkpoint that says so rules out APPENDs of an earlier run still arriving
        // in this folder; without one (no store, a new store, another destination) the
        // listing is checked for quiet after the scan (`Run::confirm_quiet`).
        let quiet_known = loaded
            .as_ref()
            .is_some_and(|c| !c.appending && c.destination == job.destination.raw())
            || lock(&self.state).fresh.contains(job.destination.raw());
        let quiet = match &dst_sel {
            Some(sel) if !quiet_known && !self.options.dry_run => Some(Reading {
                at: examined,
                exists: sel.exists,
                uid_next: sel.uid_next,
            }),
            _ => None,
        };
        let saved = loaded.filter(|c| {
            let ok = c.applies_to(src_sel.uid_validity, job.destination.raw(), dest_uid_validity);
            if !ok {
                tracing::info!(folder = %job.source.raw(), "checkpoint of another UIDVALIDITY or destination: scanning in full");
            }
            ok
        });
        let full = saved.is_none();
        if full && !with_headers {
            // A checkpoint that does not apply: every message is matched by its header fields.
            let all = |m: &[MessageMeta]| {
                m.iter()
                    .filter(|m| m.header.is_none())
                    .map(|m| m.uid)
                    .collect::<Vec<u32>>()
            };
            let (src_all, dst_all) = (all(&src_msgs), all(&dst_msgs));
            if grouped {
                self.examine_again(
                    lane,
                    job,
                    src_sel.uid_validity,
                    !src_all.is_empty(),
                    !dst_all.is_empty(),
                )
                .await?;
            }
            self.fill_headers(lane, Side::Source, &mut src_msgs, &src_all)
                .await?;
            self.fill_headers(lane, Side::Destination, &mut dst_msgs, &dst_all)
                .await?;
        }
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
                .filter(|i| i.header.is_none() && !src_paired.contains(&i.uid))
                .map(|i| i.uid)
                .collect();
            // A destination that merges by Message-ID (Gmail): every destination message's
            // Message-ID counts (`identity::merged_at_destination`).
            let merging = lock(&self.state).merging_destination;
            let dst_need: Vec<u32> = dst_idents
                .iter()
                .filter(|i| !dst_paired.contains(&i.uid) || (merging && i.header.is_none()))
                .map(|i| i.uid)
                .collect();
            if grouped {
                self.examine_again(
                    lane,
                    job,
                    src_sel.uid_validity,
                    !src_need.is_empty(),
                    !dst_need.is_empty(),
                )
                .await?;
            }
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
        // Gmail as the destination keeps one message per Message-ID: a source message whose
        // Message-ID the folder holds is there (merged); appending it would add nothing.
        let merged = if lock(&self.state).merging_destination {
            identity::merged_at_destination(&src_idents, &dst_idents, &pairs)
        } else {
            Vec::new()
        };
        // Which destination messages this copy appended (an earlier attempt of it): the
        // checkpoint's reading, else this scan's, taken before this run appends anything
        // (no listed message is at or above it, so none counts as ours).
        let appended_from = saved.as_ref().and_then(|c| c.appended_from).or_else(|| {
            dst_sel.as_ref().map(|sel| {
                checkpoint::first_uid_from_now(sel.uid_next, dst_msgs.iter().map(|m| m.uid))
            })
        });
        let mut resume = Resume {
            source_uids: src_msgs.iter().map(|m| m.uid).collect(),
            loaded: saved,
            appended_from,
            ..Resume::default()
        };
        let label_keywords = lock(&self.state).one_copy.clone();
        let mut present = vec![false; src_msgs.len()];
        let mut flag_updates = Vec::new();
        let (mut altered, mut by_tier) = (0u32, [0u32; 4]);
        let (mut before, mut before_bytes, mut present_bytes) = (0u32, 0u64, 0u64);
        for p in &pairs {
            let (s, d) = (&src_msgs[live[p.src]], &dst_msgs[p.dst]);
            present[live[p.src]] = true;
            if checkpoint::appended_by_this_copy(appended_from, d.uid) {
                before += 1;
                before_bytes += u64::from(s.size);
            } else {
                present_bytes += u64::from(s.size);
            }
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
            let (add, mut remove) = identity::flag_changes(&s.flags, &d.flags);
            // Labels kept as keywords ("one copy of each message") are not the source's flags.
            if let Some(label_keywords) = &label_keywords {
                remove.retain(|f| !label_keywords.contains(f));
            }
            if !add.is_empty() || !remove.is_empty() {
                flag_updates.push(FlagUpdate {
                    uid: d.uid,
                    add,
                    remove,
                });
            }
        }
        // Under "one copy of each message" every folder's messages; else the `\All`
        // folder's (its pairs may go to twins: `all_mail::give_pairs_to_twins`).
        let held = match label_keywords.is_some() || job.all_mail {
            true => {
                let mut held: Vec<all_mail::Held> = src_idents
                    .iter()
                    .map(|i| all_mail::Held {
                        key: i.elsewhere_key(),
                        twin: Ident {
                            gm_msgid: None,
                            ..*i
                        }
                        .elsewhere_key(),
                        uid: i.uid,
                        size: i.size,
                        present: false,
                        dst: None,
                    })
                    .collect();
                for p in &pairs {
                    let d = &dst_msgs[p.dst];
                    held[p.src].present = true;
                    held[p.src].dst = Some((d.uid, d.flags.clone()));
                }
                for &i in &merged {
                    held[i].present = true;
                }
                held
            }
            false => Vec::new(),
        };
        for &i in &merged {
            let s = &src_msgs[live[i]];
            present[live[i]] = true;
            present_bytes += u64::from(s.size);
            resume.done.insert(s.uid);
        }
        if !merged.is_empty() {
            tracing::debug!(folder = %job.source.raw(), merged = merged.len(), "held merged at the destination (one message per Message-ID)");
        }
        if !pairs.is_empty() {
            tracing::debug!(
                folder = %job.source.raw(),
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
            // Each pair is counted once: appended by this copy earlier, or there before it.
            already_present: (pairs.len() + merged.len()) as u32 - before,
            already_present_bytes: present_bytes,
            copied_before: before,
            copied_before_bytes: before_bytes,
            altered,
            elsewhere: if keys {
                src_idents.iter().filter_map(Ident::elsewhere_key).collect()
            } else {
                Vec::new()
            },
            held,
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
                labels: HashMap::new(),
                resume,
                quiet,
            },
            facts,
        ))
    }
}

/// One folder's EXAMINE and metadata as [`message::examine_many_with_meta`] gives them.
type Examined = Result<(Selected, Vec<MessageMeta>), CmdError>;

/// One folder's listings read by [`Run::list_group`], and its checkpoint.
pub(super) struct Listed {
    loaded: Option<FolderCheckpoint>,
    /// Both sides' EXAMINE and metadata (as `src_examine_meta` / `dst_examine_meta` give
    /// them); `None`: list them alone.
    #[allow(clippy::type_complexity)]
    both: Option<(
        Result<(Selected, Vec<MessageMeta>), Fail>,
        Result<Option<(Selected, Vec<MessageMeta>)>, Fail>,
    )>,
}

impl Listed {
    fn only(loaded: Option<FolderCheckpoint>) -> Listed {
        Listed { loaded, both: None }
    }
}

impl Run<'_> {
    /// Selects the folder again (read-only) on the sides that must read more of it, after it
    /// was listed with others ([`Run::list_group`]): a session has another folder selected.
    async fn examine_again(
        &self,
        lane: &mut Lane,
        job: &FolderMapping,
        uid_validity: Option<UidValidity>,
        source: bool,
        destination: bool,
    ) -> Result<(), Fail> {
        if source {
            self.src_session(lane, job.source.raw(), uid_validity)
                .await?;
        }
        if destination {
            lane.dst_box = None;
            let s = self.dst_session(lane).await?;
            if let Err(e) = mailbox::select(s, job.destination.raw(), true).await {
                return Err(self.scan_failure(&mut lane.dst, Side::Destination, e));
            }
        }
        Ok(())
    }
}
