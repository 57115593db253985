//! The quiet-folder check: a destination folder is trusted only once it stopped changing
//! (APPENDs of a killed copy or a lost connection may still be landing).

use super::*;

/// A destination folder's UIDNEXT and message count at one moment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    pub(super) at: Instant,
    pub(super) exists: u32,
    pub(super) uid_next: Option<Uid>,
}

impl Reading {
    pub(super) fn same(&self, other: &Reading) -> bool {
        self.exists == other.exists && self.uid_next == other.uid_next
    }
}

impl Run<'_> {
    /// SELECT the destination folder after a connection with APPENDs unanswered was lost,
    /// once it holds `want` messages or did not change for [`QUIET`]: the server may still
    /// be storing what the lost connection had sent (it executes one connection's commands
    /// in order, whether or not the client is still there), and counting too early would
    /// send again a message that is about to land. Still changing after [`QUIET_MAX`]: a
    /// folder error, not a guess.
    pub(super) async fn dst_select_quiet(
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
    pub(super) async fn dst_reading(&self, lane: &mut Lane, folder: &str) -> Result<Reading, Fail> {
        lane.dst_box = None; // read-only now: appends SELECT it again
        match dst_twice!(self, lane, None, |s| mailbox::select(s, folder, true))? {
            Tried::Done(sel) => Ok(Reading {
                at: Instant::now(),
                exists: sel.exists,
                uid_next: sel.uid_next,
            }),
            Tried::Refused(text) => Err(Fail::Folder(format!(
                "the destination refused to open it: {text}"
            ))),
            Tried::Broken(last) => Err(Fail::Message(last)),
        }
    }

    /// [`Run::confirm_quiet`] for several folders at once: waits until the last reading is
    /// [`QUIET`] old, then reads every folder again in one round trip. `true` for each folder
    /// that did not change; one that changed (or could not be read) is `false`: the caller
    /// checks it alone.
    pub(super) async fn quiet_batch(
        &self,
        lane: &mut Lane,
        batch: &[(String, Reading)],
    ) -> Result<Vec<bool>, Fail> {
        if let Some(latest) = batch.iter().map(|(_, r)| r.at).max() {
            tokio::time::sleep(QUIET.saturating_sub(latest.elapsed())).await;
        }
        let names: Vec<String> = batch.iter().map(|(n, _)| n.clone()).collect();
        lane.dst_box = None; // read-only now: appends SELECT it again
        let now = match dst_twice!(self, lane, None, |s| mailbox::examine_many(s, &names))? {
            Tried::Done(v) => v,
            Tried::Refused(_) => return Ok(vec![false; batch.len()]),
            Tried::Broken(last) => return Err(Fail::Message(last)),
        };
        Ok(batch
            .iter()
            .zip(now)
            .map(|((_, before), now)| match now {
                Ok(sel) => before.same(&Reading {
                    at: Instant::now(),
                    exists: sel.exists,
                    uid_next: sel.uid_next,
                }),
                Err(_) => false,
            })
            .collect())
    }

    /// Whether a destination folder scanned at `first` was quiet: unchanged for [`QUIET`]
    /// after the scan read it. APPENDs an earlier session had sent (a killed copy, a lost
    /// connection) may still be arriving while the scan lists the folder; a server stores
    /// one connection's APPENDs back to back, so a folder that does not change for
    /// [`QUIET`] has no more coming. `Ok(false)`: it changed (and is quiet now): scan it
    /// again. Still changing after [`QUIET_MAX`]: a folder error.
    pub(super) async fn confirm_quiet(
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
}
