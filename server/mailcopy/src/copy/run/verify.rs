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
                match s.status(job.destination.raw()).await {
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
