//! "One copy of each message" applied to the scan's work (the decisions are
//! `copy::labels`): each folder keeps to copy only the messages whose home it is, and those
//! carry their other labels as keywords.

use std::collections::{HashMap, HashSet};

use super::{FlagUpdate, FolderWork};
use crate::copy::identity::ElsewhereKey;
use crate::copy::labels::{self, Place};
use crate::copy::report::FolderReport;
use crate::flag::Flag;
use crate::plan::FolderMapping;

/// One live source message of a folder as the scan found it.
pub(super) struct Held {
    pub key: Option<ElsewhereKey>,
    /// Source UID.
    pub uid: u32,
    /// The destination's copy of the folder holds it.
    pub present: bool,
    /// Its destination UID and flags, when paired with one.
    pub dst: Option<(u32, Vec<Flag>)>,
}

/// Keeps in each folder's work what "one copy of each message" copies there: `held` by job
/// index (empty for a folder not scanned). A message without a key stays where it is
/// (copied rather than risked).
pub(super) fn take_one_copy(
    jobs: &[FolderMapping],
    scans: &mut [Option<FolderWork>],
    reports: &mut [FolderReport],
    held: &[Vec<Held>],
) {
    let ranks: Vec<Option<labels::Rank>> = jobs.iter().map(labels::rank_of).collect();
    let mut places: HashMap<ElsewhereKey, Vec<Place>> = HashMap::new();
    let mut kept: HashSet<ElsewhereKey> = HashSet::new();
    for (i, folder) in held.iter().enumerate() {
        if scans.get(i).is_none_or(Option::is_none) {
            continue;
        }
        for h in folder {
            let Some(key) = h.key else { continue };
            if ranks[i].is_some() {
                places.entry(key).or_default().push(Place {
                    folder: i,
                    present: h.present,
                });
            } else {
                kept.insert(key);
            }
        }
    }
    let homes = labels::homes(&ranks, &places, &kept);
    for (i, folder) in held.iter().enumerate() {
        let (Some(_), Some(work)) = (&ranks[i], scans.get_mut(i).and_then(Option::as_mut)) else {
            continue;
        };
        let mut elsewhere: HashSet<u32> = HashSet::new();
        for h in folder {
            let Some(home) = h.key.and_then(|k| homes.get(&k)) else {
                continue;
            };
            if home.folder != Some(i) {
                if !h.present {
                    elsewhere.insert(h.uid);
                }
                continue;
            }
            if home.labels.is_empty() {
                continue;
            }
            match &h.dst {
                None if !h.present => {
                    work.labels.insert(h.uid, home.labels.clone());
                }
                None => {}
                Some((dst_uid, dst_flags)) => {
                    let missing: Vec<Flag> = home
                        .labels
                        .iter()
                        .filter(|k| !dst_flags.contains(k))
                        .cloned()
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    match work.flag_updates.iter_mut().find(|u| u.uid == *dst_uid) {
                        Some(u) => u.add.extend(missing),
                        None => work.flag_updates.push(FlagUpdate {
                            uid: *dst_uid,
                            add: missing,
                            remove: Vec::new(),
                        }),
                    }
                }
            }
        }
        let (mut count, mut bytes) = (0u32, 0u64);
        work.messages.retain(|m| {
            let away = elsewhere.contains(&m.uid);
            if away {
                count += 1;
                bytes += u64::from(m.size);
            }
            !away
        });
        let report = &mut reports[i];
        report.in_other_folders = count;
        report.source_count = report.source_count.saturating_sub(count);
        report.source_bytes = report.source_bytes.saturating_sub(bytes);
        tracing::debug!(folder = %jobs[i].source.raw(), in_other_folders = count, to_copy = work.messages.len(), "one copy of each message");
    }
}
