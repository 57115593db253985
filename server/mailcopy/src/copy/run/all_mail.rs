//! A source with labels (an `\All` folder, Gmail): the scan's work cut to what each folder
//! receives under the copy's policy (`copy::labels` decides). By default the `\All` folder
//! keeps only its remainder; under "one copy of each message" each folder keeps only the
//! messages whose home it is, and those carry their other labels as keywords. Under both, a
//! destination message paired with a twin that belongs elsewhere is given to the twin that
//! belongs here.

use std::collections::{HashMap, HashSet};

use super::{FlagUpdate, FolderWork};
use crate::copy::identity::{self, ElsewhereKey};
use crate::copy::labels::{self, Place};
use crate::copy::report::FolderReport;
use crate::flag::Flag;
use crate::plan::FolderMapping;

/// One live source message of a folder as the scan found it.
pub(super) struct Held {
    pub key: Option<ElsewhereKey>,
    /// Its content key (what pairs it with a destination message), even where `key` is
    /// Gmail's id: byte-identical twins share it.
    pub twin: Option<ElsewhereKey>,
    /// Source UID.
    pub uid: u32,
    pub size: u32,
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
    held: &mut [Vec<Held>],
    keywords: &HashSet<Flag>,
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
    for (i, folder) in held.iter_mut().enumerate() {
        let (Some(_), Some(work)) = (&ranks[i], scans.get_mut(i).and_then(Option::as_mut)) else {
            continue;
        };
        let belongs = |h: &Held| {
            h.key
                .and_then(|k| homes.get(&k))
                .is_none_or(|home| home.folder == Some(i))
        };
        let (swapped, swapped_bytes) = give_pairs_to_twins(work, folder, &belongs, keywords);
        let mut elsewhere: HashSet<u32> = HashSet::new();
        for h in folder.iter() {
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
        report.in_other_folders = count + swapped;
        report.source_count = report.source_count.saturating_sub(count + swapped);
        report.source_bytes = report.source_bytes.saturating_sub(bytes + swapped_bytes);
        tracing::debug!(folder = %jobs[i].source.raw(), in_other_folders = count, to_copy = work.messages.len(), "one copy of each message");
    }
}

/// A folder whose destination holds a message twice-listed at the source — once as a
/// message that belongs in this folder, once as one whose place is elsewhere (Gmail twins:
/// other ids, the same bytes) — may have the destination's copy paired with the wrong one:
/// the one that belongs would be copied again. Each such pair goes to the one that belongs
/// (its checkpoint mapping and flag update with it). Returns how many pairs moved and the
/// sizes of the messages they left (now counted in other folders).
pub(super) fn give_pairs_to_twins(
    work: &mut FolderWork,
    held: &mut [Held],
    belongs: &dyn Fn(&Held) -> bool,
    keywords: &HashSet<Flag>,
) -> (u32, u64) {
    let (mut moved, mut bytes) = (0u32, 0u64);
    let waiting: Vec<usize> = (0..held.len())
        .filter(|&k| belongs(&held[k]) && !held[k].present && held[k].twin.is_some())
        .collect();
    for k in waiting {
        let Some(e) = (0..held.len())
            .find(|&e| !belongs(&held[e]) && held[e].dst.is_some() && held[e].twin == held[k].twin)
        else {
            continue;
        };
        let Some((dst_uid, dst_flags)) = held[e].dst.take() else {
            continue;
        };
        held[e].present = false;
        let (k_uid, e_uid) = (held[k].uid, held[e].uid);
        let Some(at) = work.messages.iter().position(|m| m.uid == k_uid) else {
            continue;
        };
        let meta = work.messages.remove(at);
        work.resume.done.remove(&e_uid);
        work.resume.map.remove(&e_uid);
        work.resume.done.insert(k_uid);
        work.resume.map.insert(k_uid, dst_uid);
        work.flag_updates.retain(|u| u.uid != dst_uid);
        let (add, mut remove) = identity::flag_changes(&meta.flags, &dst_flags);
        remove.retain(|f| !keywords.contains(f));
        if !add.is_empty() || !remove.is_empty() {
            work.flag_updates.push(FlagUpdate {
                uid: dst_uid,
                add,
                remove,
            });
        }
        held[k].present = true;
        held[k].dst = Some((dst_uid, dst_flags));
        moved += 1;
        bytes += u64::from(held[e].size);
    }
    (moved, bytes)
}

/// The `\All` folder's work keeps only its remainder: the messages no other copied folder
/// holds (Gmail's archived ones). The others are counted in its row as in other folders.
pub(super) fn take_remainder_of_all(
    jobs: &[FolderMapping],
    scans: &mut [Option<FolderWork>],
    reports: &mut [FolderReport],
    held: &mut [Vec<Held>],
    elsewhere: &HashSet<ElsewhereKey>,
) {
    for (i, job) in jobs.iter().enumerate() {
        let (true, Some(work)) = (job.all_mail, scans[i].as_mut()) else {
            continue;
        };
        let belongs = |h: &Held| h.key.is_none_or(|k| !elsewhere.contains(&k));
        let (swapped, swapped_bytes) =
            give_pairs_to_twins(work, &mut held[i], &belongs, &HashSet::new());
        let keys: Vec<Option<ElsewhereKey>> = work
            .messages
            .iter()
            .map(|m| m.ident().elsewhere_key())
            .collect();
        let keep = identity::remainder_of_all(&keys, elsewhere);
        let (mut count, mut bytes) = (swapped, swapped_bytes);
        let mut kept = keep.iter();
        work.messages.retain(|m| {
            let k = kept.next().copied().unwrap_or(true);
            if !k {
                count += 1;
                bytes += u64::from(m.size);
            }
            k
        });
        let report = &mut reports[i];
        report.in_other_folders = count;
        report.source_count = report.source_count.saturating_sub(count);
        report.source_bytes = report.source_bytes.saturating_sub(bytes);
        tracing::debug!(folder = %job.source.raw(), in_other_folders = count, archived = work.messages.len(), "the remainder of \\All");
    }
}
