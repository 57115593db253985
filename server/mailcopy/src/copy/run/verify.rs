//! Verification: copied messages read back and compared; destination counts.

use super::*;

impl Run<'_> {
    /// [`CopyOptions::verify`]: reads the appended messages back and compares them with what
    /// was sent. Best effort: a connection problem ends the check, not the copy.
    pub(super) async fn read_back(
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
            if lane.dst.is_none() || lane.dst_box.as_deref() != Some(job.destination.raw()) {
                if let Err(e) = self.dst_select(lane, job.destination.raw()).await {
                    tracing::info!(folder = %job.destination.raw(), error = ?e, "read-back check stopped");
                    return;
                }
            }
            let Some(s) = lane.dst.as_mut() else { return };
            match message::fetch_body(s, *uid).await {
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

    /// STATUS MESSAGES of every destination folder; fewer than expected is an error.
    pub(super) async fn verify(
        &self,
        lane: &mut Lane,
        jobs: &[FolderMapping],
        reports: &mut [FolderReport],
    ) {
        if self.cancel.is_cancelled() {
            return;
        }
        let names: Vec<String> = jobs
            .iter()
            .filter(|j| j.selectable)
            .map(|j| j.destination.raw().to_string())
            .collect();
        // Every folder's STATUS in one round trip (in batches), once more on a new connection
        // if the first one breaks; a folder whose STATUS is refused has no count.
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..2 {
            let Ok(s) = self.dst_session(lane).await else {
                break;
            };
            match mailbox::status_many(s, &names, "MESSAGES").await {
                Ok(answers) => {
                    for (name, answer) in names.iter().zip(answers) {
                        if let Some(n) = answer
                            .ok()
                            .and_then(|st| st.get("MESSAGES"))
                            .and_then(|v| u32::try_from(v).ok())
                        {
                            counts.insert(name.clone(), n);
                        }
                    }
                    break;
                }
                Err(CmdError::Broken(_)) => {
                    lane.dst = None;
                    lane.dst_box = None;
                }
                Err(CmdError::Refused { .. }) => break,
            }
        }
        for (job, report) in jobs.iter().zip(reports.iter_mut()) {
            if !job.selectable {
                continue;
            }
            let count = counts.get(job.destination.raw()).copied();
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
