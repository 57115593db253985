//! Checkpoints: what a copy has done per source folder, so that a resumed copy does little
//! work — never different work. Whether a message is at the destination is always decided by
//! the metadata scan of both sides; a checkpoint only lets the scan skip the header fields
//! of messages it already paired (through the destination's `[APPENDUID]`s).
//!
//! The engine reads a folder's checkpoint at scan time and ignores it when the source's
//! UIDVALIDITY, the destination folder or the destination's UIDVALIDITY is not the one it
//! was made with. It writes it while copying (at most about once a second per folder) and
//! when the folder ends. A store that fails to load or save only makes the copy slower:
//! errors are logged, never fatal.
//!
//! Stores: [`NoCheckpoints`], [`MemoryCheckpoints`] (tests, one process), [`FileCheckpoints`]
//! (`imapcopy copy --state DIR`); the job runner keeps them in SQLite.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::names::{Uid, UidValidity};

/// Errors of a checkpoint store (any error type converts).
pub type CheckpointError = Box<dyn std::error::Error + Send + Sync>;

/// Where checkpoints are kept, per source folder (raw name). Calls may come from several copy
/// lanes at once; they run on the lanes' tasks, so a store whose work blocks (files, a
/// database) does it off them (`tokio::task::spawn_blocking`, a thread of its own). `save`
/// returns once the checkpoint is stored: the engine relies on that ordering (the
/// [`FolderCheckpoint::appending`] mark is stored before the first APPEND is sent).
///
/// An `async_trait` (boxed futures): a native `async fn` in a trait is not dyn-compatible,
/// and the engine takes `&dyn CheckpointStore`.
#[async_trait::async_trait]
pub trait CheckpointStore: Send + Sync {
    async fn load(&self, folder: &str) -> Result<Option<FolderCheckpoint>, CheckpointError>;
    async fn save(
        &self,
        folder: &str,
        checkpoint: &FolderCheckpoint,
    ) -> Result<(), CheckpointError>;
}

/// UIDs as inclusive ranges `[first, last]`, sorted (compact in JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UidRanges(Vec<[u32; 2]>);

impl UidRanges {
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> UidRanges {
        let set: BTreeSet<u32> = uids.into_iter().collect();
        let mut out: Vec<[u32; 2]> = Vec::new();
        for u in set {
            match out.last_mut() {
                Some(r) if r[1].checked_add(1) == Some(u) => r[1] = u,
                _ => out.push([u, u]),
            }
        }
        UidRanges(out)
    }

    pub fn contains(&self, uid: u32) -> bool {
        let i = self.0.partition_point(|r| r[1] < uid);
        self.0.get(i).is_some_and(|r| r[0] <= uid)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().flat_map(|r| r[0]..=r[1])
    }
}

/// A source → destination UID map as runs `[source, destination, length]` (copies in UID
/// order make long runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UidMap(Vec<[u32; 3]>);

impl UidMap {
    pub fn from_map(map: &BTreeMap<u32, u32>) -> UidMap {
        let mut out: Vec<[u32; 3]> = Vec::new();
        for (&s, &d) in map {
            if let Some(run) = out.last_mut() {
                if run[0].checked_add(run[2]) == Some(s) && run[1].checked_add(run[2]) == Some(d) {
                    run[2] += 1;
                    continue;
                }
            }
            out.push([s, d, 1]);
        }
        UidMap(out)
    }

    pub fn to_map(&self) -> BTreeMap<u32, u32> {
        let mut map = BTreeMap::new();
        for &[s, d, n] in &self.0 {
            for k in 0..n {
                if let (Some(s), Some(d)) = (s.checked_add(k), d.checked_add(k)) {
                    map.insert(s, d);
                }
            }
        }
        map
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|r| r[2] as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The checkpoint of one source folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderCheckpoint {
    /// The source folder's UIDVALIDITY: the UIDs below mean nothing under another one.
    pub uidvalidity: UidValidity,
    /// The destination folder (raw name) the messages went to.
    pub destination: String,
    /// Its UIDVALIDITY, for the UID map.
    #[serde(default)]
    pub destination_uidvalidity: Option<UidValidity>,
    /// Every source message with a UID below this is at the destination.
    pub low_water: u32,
    /// Source UIDs at or above `low_water` that are at the destination too (copies may end
    /// out of order).
    #[serde(default)]
    pub done: UidRanges,
    /// Source UID → destination UID, where known (`[APPENDUID]`, or a pair found by the scan).
    #[serde(default)]
    pub uid_map: UidMap,
    /// APPENDs may have been sent to the destination folder whose answers were never read: a
    /// server goes on storing what it has received after the client is gone. Saved *before*
    /// the first APPEND into the folder is sent, cleared once every APPEND sent is answered
    /// (or reconciled). A scan that finds it set, or finds no checkpoint at all, waits until
    /// the destination folder is quiet before it trusts what it lists.
    #[serde(default)]
    pub appending: bool,
    /// The destination folder's UIDNEXT when this copy first scanned it, before it appended
    /// anything: destination messages with a UID at or above it were appended by this copy
    /// (an earlier attempt of the same job included, even one whose APPEND answer was never
    /// read), the ones below it were there before. Carried from checkpoint to checkpoint as
    /// long as the checkpoint applies; `None` in checkpoints written before it existed.
    #[serde(default)]
    pub appended_from: Option<Uid>,
}

impl FolderCheckpoint {
    /// Builds a checkpoint from a folder's source UIDs (as scanned) and which of them are done.
    pub fn new(
        uidvalidity: UidValidity,
        destination: &str,
        destination_uidvalidity: Option<UidValidity>,
        source_uids: &[u32],
        done: &BTreeSet<u32>,
        map: &BTreeMap<u32, u32>,
    ) -> FolderCheckpoint {
        let mut uids = source_uids.to_vec();
        uids.sort_unstable();
        // UIDs only grow: a UID below the first one not done that was not in the scan can
        // never appear later.
        let low_water = uids
            .iter()
            .find(|u| !done.contains(u))
            .copied()
            .unwrap_or_else(|| {
                uids.last()
                    .map_or(1, |u| u.saturating_add(1))
                    .max(done.last().map_or(1, |u| u.saturating_add(1)))
            });
        FolderCheckpoint {
            uidvalidity,
            destination: destination.to_string(),
            destination_uidvalidity,
            low_water,
            done: UidRanges::from_uids(done.range(low_water..).copied()),
            uid_map: UidMap::from_map(map),
            appending: false,
            appended_from: None,
        }
    }

    /// Whether the destination message `destination_uid` (of the folder and UIDVALIDITY this
    /// checkpoint applies to) was appended by this copy rather than there before it.
    pub fn appended_by_this_copy(&self, destination_uid: u32) -> bool {
        appended_by_this_copy(self.appended_from, destination_uid)
    }

    pub fn is_done(&self, uid: u32) -> bool {
        uid < self.low_water || self.done.contains(uid)
    }

    /// Whether it describes this folder pairing as it is now.
    pub fn applies_to(
        &self,
        uidvalidity: Option<UidValidity>,
        destination: &str,
        destination_uidvalidity: Option<UidValidity>,
    ) -> bool {
        uidvalidity == Some(self.uidvalidity)
            && self.destination == destination
            && self.destination_uidvalidity.is_some()
            && self.destination_uidvalidity == destination_uidvalidity
    }
}

/// Whether a destination message was appended by this copy, by its UID: a server assigns
/// UIDs in ascending order (RFC 3501 2.3.1.1), so everything appended after the destination's
/// UIDNEXT was read has a UID at or above it. Without that reading, nothing counts as ours.
pub fn appended_by_this_copy(appended_from: Option<Uid>, destination_uid: u32) -> bool {
    appended_from.is_some_and(|from| destination_uid >= from.0)
}

/// The first UID a message appended from now on can get: the destination's UIDNEXT, else one
/// above the highest UID listed (a lower bound of UIDNEXT, so just as exact for telling
/// earlier messages from later ones), else 1 for an empty folder.
pub fn first_uid_from_now(uid_next: Option<Uid>, listed: impl IntoIterator<Item = u32>) -> Uid {
    let above = listed.into_iter().max().map_or(1, |u| u.saturating_add(1));
    Uid(uid_next.map_or(above, |n| n.0.max(above)))
}

/// No checkpoints: every run scans in full (still idempotent).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheckpoints;

#[async_trait::async_trait]
impl CheckpointStore for NoCheckpoints {
    async fn load(&self, _folder: &str) -> Result<Option<FolderCheckpoint>, CheckpointError> {
        Ok(None)
    }

    async fn save(
        &self,
        _folder: &str,
        _checkpoint: &FolderCheckpoint,
    ) -> Result<(), CheckpointError> {
        Ok(())
    }
}

/// Checkpoints in memory (tests; several runs in one process).
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    folders: Mutex<BTreeMap<String, FolderCheckpoint>>,
    saves: Mutex<u64>,
}

impl MemoryCheckpoints {
    pub fn get(&self, folder: &str) -> Option<FolderCheckpoint> {
        self.folders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(folder)
            .cloned()
    }

    pub fn set(&self, folder: &str, checkpoint: FolderCheckpoint) {
        self.folders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(folder.to_string(), checkpoint);
    }

    pub fn folders(&self) -> Vec<String> {
        self.folders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// How many times `save` was called.
    pub fn saves(&self) -> u64 {
        *self
            .saves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl CheckpointStore for MemoryCheckpoints {
    async fn load(&self, folder: &str) -> Result<Option<FolderCheckpoint>, CheckpointError> {
        Ok(self.get(folder))
    }

    async fn save(
        &self,
        folder: &str,
        checkpoint: &FolderCheckpoint,
    ) -> Result<(), CheckpointError> {
        self.set(folder, checkpoint.clone());
        *self
            .saves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        Ok(())
    }
}

/// The JSON document of a [`FileCheckpoints`] file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    source: String,
    destination: String,
    #[serde(default)]
    folders: BTreeMap<String, FolderCheckpoint>,
}

const STATE_VERSION: u32 = 1;

/// Checkpoints in one JSON file per (source account, destination account) pair, rewritten
/// whole and atomically (temporary file, fsync, rename) on every save. Saves run on tokio's
/// blocking pool, one at a time (the state's lock is held while the file is written).
#[derive(Debug)]
pub struct FileCheckpoints {
    path: PathBuf,
    state: Arc<Mutex<StateFile>>,
}

/// Characters kept as they are in state file names.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(60)
        .collect()
}

impl FileCheckpoints {
    /// The file for this pair of accounts in `dir` (created if needed), loaded if it exists.
    /// `source` and `destination` identify the accounts, e.g. `login@host:port`
    /// (compared without regard to case). A file that cannot be parsed is set aside as
    /// `*.bad` and the copy starts without checkpoints.
    pub fn open(dir: &Path, source: &str, destination: &str) -> std::io::Result<FileCheckpoints> {
        std::fs::create_dir_all(dir)?;
        let (source, destination) = (source.to_lowercase(), destination.to_lowercase());
        let hash: String = Sha256::digest(format!("{source}\n{destination}").as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = dir.join(format!(
            "{}--{}-{hash}.json",
            file_safe(&source),
            file_safe(&destination)
        ));
        let fresh = StateFile {
            version: STATE_VERSION,
            source: source.clone(),
            destination: destination.clone(),
            folders: BTreeMap::new(),
        };
        let state = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(s)
                    if s.version == STATE_VERSION
                        && s.source == source
                        && s.destination == destination =>
                {
                    s
                }
                other => {
                    let why = match other {
                        Ok(_) => "another version or account pair".to_string(),
                        Err(e) => e.to_string(),
                    };
                    tracing::warn!(path = %path.display(), %why, "state file not usable: starting without checkpoints");
                    let _ = std::fs::rename(&path, path.with_extension("json.bad"));
                    fresh
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh,
            Err(e) => return Err(e),
        };
        Ok(FileCheckpoints {
            path,
            state: Arc::new(Mutex::new(state)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `state` to `path` (blocking: called on the blocking pool).
    fn write(path: &Path, state: &StateFile) -> Result<(), CheckpointError> {
        let json = serde_json::to_vec(state)?;
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is synced (best effort).
        if let Some(dir) = path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl CheckpointStore for FileCheckpoints {
    /// From memory (the file was read by [`FileCheckpoints::open`]).
    async fn load(&self, folder: &str) -> Result<Option<FolderCheckpoint>, CheckpointError> {
        Ok(self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .folders
            .get(folder)
            .cloned())
    }

    async fn save(
        &self,
        folder: &str,
        checkpoint: &FolderCheckpoint,
    ) -> Result<(), CheckpointError> {
        let (path, state) = (self.path.clone(), self.state.clone());
        let (folder, checkpoint) = (folder.to_string(), checkpoint.clone());
        tokio::task::spawn_blocking(move || {
            let mut state = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state.folders.insert(folder, checkpoint);
            FileCheckpoints::write(&path, &state)
        })
        .await?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn what_this_copy_appended_is_told_by_the_destination_uid() {
        // Read before the first APPEND: UIDNEXT 41, messages 1..=40 there before.
        let from = first_uid_from_now(Some(Uid(41)), [3, 40]);
        assert_eq!(from, Uid(41));
        assert!(!appended_by_this_copy(Some(from), 40));
        assert!(appended_by_this_copy(Some(from), 41));
        assert!(appended_by_this_copy(Some(from), 900));
        // No UIDNEXT: one above the highest listed; an empty folder: 1.
        assert_eq!(first_uid_from_now(None, [7, 2]), Uid(8));
        assert_eq!(first_uid_from_now(None, []), Uid(1));
        // A stale UIDNEXT below what is listed never counts a listed message as ours.
        assert_eq!(first_uid_from_now(Some(Uid(5)), [9]), Uid(10));
        // Without a reading (a checkpoint from before the field), nothing is ours.
        assert!(!appended_by_this_copy(None, 1));
        // Checkpoints written before the field read it as absent.
        let old = r#"{"uidvalidity":7,"destination":"INBOX","low_water":3}"#;
        let cp: FolderCheckpoint = serde_json::from_str(old).unwrap();
        assert_eq!(cp.appended_from, None);
        assert!(!cp.appended_by_this_copy(5));
    }

    #[test]
    fn ranges_and_runs() {
        let r = UidRanges::from_uids([7, 1, 2, 3, 9, 8]);
        assert_eq!(r, UidRanges(vec![[1, 3], [7, 9]]));
        assert!(r.contains(2) && r.contains(9) && !r.contains(4) && !r.contains(10));
        assert_eq!(r.iter().collect::<Vec<_>>(), [1, 2, 3, 7, 8, 9]);
        let map = BTreeMap::from([(1, 10), (2, 11), (3, 12), (5, 13), (6, 20)]);
        let m = UidMap::from_map(&map);
        assert_eq!(m, UidMap(vec![[1, 10, 3], [5, 13, 1], [6, 20, 1]]));
        assert_eq!(m.to_map(), map);
        assert_eq!(m.len(), 5);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            "[[1,10,3],[5,13,1],[6,20,1]]"
        );
    }

    #[test]
    fn low_water_and_done() {
        let done = BTreeSet::from([1, 2, 4, 7]);
        let cp = FolderCheckpoint::new(
            UidValidity(9),
            "INBOX",
            Some(UidValidity(3)),
            &[1, 2, 4, 5, 7],
            &done,
            &BTreeMap::new(),
        );
        assert_eq!(cp.low_water, 5);
        assert_eq!(cp.done, UidRanges(vec![[7, 7]]));
        assert!(
            cp.is_done(3) && cp.is_done(4) && !cp.is_done(5) && cp.is_done(7) && !cp.is_done(8)
        );
        let all = FolderCheckpoint::new(
            UidValidity(9),
            "INBOX",
            Some(UidValidity(3)),
            &[1, 2],
            &BTreeSet::from([1, 2]),
            &BTreeMap::new(),
        );
        assert_eq!((all.low_water, all.done.is_empty()), (3, true));
        assert!(all.applies_to(Some(UidValidity(9)), "INBOX", Some(UidValidity(3))));
        assert!(!all.applies_to(Some(UidValidity(8)), "INBOX", Some(UidValidity(3))));
        assert!(!all.applies_to(Some(UidValidity(9)), "INBOX", Some(UidValidity(4))));
        assert!(!all.applies_to(Some(UidValidity(9)), "Other", Some(UidValidity(3))));
        assert!(!FolderCheckpoint::new(
            UidValidity(9),
            "INBOX",
            None,
            &[],
            &BTreeSet::new(),
            &BTreeMap::new()
        )
        .applies_to(Some(UidValidity(9)), "INBOX", None));
    }

    #[tokio::test]
    async fn file_store_round_trip_and_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileCheckpoints::open(dir.path(), "Me@Old:993", "me@new:993").unwrap();
        assert!(store.load("INBOX").await.unwrap().is_none());
        let cp = FolderCheckpoint::new(
            UidValidity(5),
            "INBOX",
            Some(UidValidity(6)),
            &[1, 2, 3],
            &BTreeSet::from([1, 3]),
            &BTreeMap::from([(1, 1), (3, 2)]),
        );
        store.save("INBOX", &cp).await.unwrap();
        let name = store
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(name.starts_with("me@old_993--me@new_993-"), "{name}");
        let again = FileCheckpoints::open(dir.path(), "me@old:993", "ME@new:993").unwrap();
        assert_eq!(again.path(), store.path());
        assert_eq!(again.load("INBOX").await.unwrap(), Some(cp));
        // Another pair: another file.
        let other = FileCheckpoints::open(dir.path(), "me@old:993", "you@new:993").unwrap();
        assert_ne!(other.path(), store.path());
        // Garbage is set aside.
        std::fs::write(store.path(), b"{not json").unwrap();
        let fresh = FileCheckpoints::open(dir.path(), "me@old:993", "me@new:993").unwrap();
        assert!(fresh.load("INBOX").await.unwrap().is_none());
        assert!(store.path().with_extension("json.bad").exists());
        // No temporary files left.
        fresh
            .save(
                "INBOX",
                &FolderCheckpoint::new(
                    UidValidity(1),
                    "INBOX",
                    None,
                    &[],
                    &BTreeSet::new(),
                    &BTreeMap::new(),
                ),
            )
            .await
            .unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
