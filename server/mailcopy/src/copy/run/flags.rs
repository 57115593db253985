//! Flag sync: flags of messages already at the destination brought in line with the source.

use super::*;

impl Run<'_> {
    /// Brings the flags of messages already at the destination in line with the source's:
    /// messages needing the same change share one `UID STORE` per direction.
    pub(super) async fn sync_flags(
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
                .insert(self.open_dest(lane, job.destination.raw()).await?)
                .policy
                .clone(),
        };
        let mut groups: BTreeMap<(Vec<Flag>, Vec<Flag>), Vec<u32>> = BTreeMap::new();
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
                        .store_flags(lane, job.destination.raw(), &set, is_add, flags, report)
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
    pub(super) async fn store_flags(
        &self,
        lane: &mut Lane,
        folder: &str,
        uid_set: &str,
        add: bool,
        flags: &[Flag],
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

    pub(super) fn flag_refused(
        &self,
        folder: &str,
        flag: &Flag,
        text: &str,
        report: &mut FolderReport,
    ) {
        tracing::info!(%folder, %flag, %text, "flag change refused by the destination");
        if flag.is_keyword()
            && !report
                .keywords_refused
                .iter()
                .any(|k| k.eq_ignore_ascii_case(flag.as_str()))
        {
            report.keywords_refused.push(flag.to_string());
        }
    }

    /// `UID STORE` on the destination folder (SELECTed again after a reconnect). `Ok(None)`:
    /// stored; `Ok(Some(text))`: refused.
    pub(super) async fn dst_store(
        &self,
        lane: &mut Lane,
        folder: &str,
        uid_set: &str,
        add: bool,
        flags: &[Flag],
    ) -> Result<Option<String>, Fail> {
        match dst_twice!(self, lane, Some(folder), |s| message::uid_store(
            s, uid_set, add, flags
        ))? {
            Tried::Done(()) => Ok(None),
            Tried::Refused(text) => Ok(Some(text)),
            Tried::Broken(last) => Err(Fail::Fatal(Stop::lost(format!(
                "the destination connection failed twice while changing flags: {last}"
            )))),
        }
    }
}
