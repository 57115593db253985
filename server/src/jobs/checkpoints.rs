//! The job runner's checkpoint store: the copy engine's per-folder checkpoints
//! ([`FolderCheckpoint`], JSON) in the `checkpoints` table, keyed by job id and source folder.
//! A job resumed after a retry or a restart reads what its previous attempt wrote; a job that
//! reached a final state has its checkpoints deleted ([`clear`]).

use std::sync::Arc;

use mailcopy::copy::{CheckpointError, CheckpointStore, FolderCheckpoint};
use rusqlite::{params, OptionalExtension};

use super::store::Store;

pub struct SqliteCheckpoints {
    store: Arc<Store>,
    job_id: String,
}

impl SqliteCheckpoints {
    pub fn new(store: Arc<Store>, job_id: impl Into<String>) -> SqliteCheckpoints {
        SqliteCheckpoints {
            store,
            job_id: job_id.into(),
        }
    }
}

impl CheckpointStore for SqliteCheckpoints {
    fn load(&self, folder: &str) -> Result<Option<FolderCheckpoint>, CheckpointError> {
        let data: Option<String> = self.store.with_conn(|c| {
            c.query_row(
                "SELECT data FROM checkpoints WHERE job_id = ?1 AND folder = ?2",
                params![self.job_id, folder],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    fn save(&self, folder: &str, checkpoint: &FolderCheckpoint) -> Result<(), CheckpointError> {
        let data = serde_json::to_string(checkpoint)?;
        self.store.with_conn(|c| {
            c.execute(
                "INSERT INTO checkpoints (job_id, folder, uidvalidity, data) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (job_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, data = excluded.data",
                params![self.job_id, folder, i64::from(checkpoint.uidvalidity), data],
            )
        })?;
        Ok(())
    }
}

/// Deletes a job's checkpoints; returns how many there were.
pub fn clear(store: &Store, job_id: &str) -> anyhow::Result<usize> {
    store.with_conn(|c| c.execute("DELETE FROM checkpoints WHERE job_id = ?1", [job_id]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::jobs::store::{AccountSpec, NewJob, SystemClock};
    use secrecy::SecretString;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn round_trip_per_job_and_folder_then_clear() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::new(
            crate::db::open(dir.path()).unwrap(),
            crate::seal::Sealer::ephemeral(),
            Arc::new(SystemClock),
        ));
        let account = |login: &str| AccountSpec {
            host: "imap.test".into(),
            port: 993,
            security: mailcopy::Security::Tls,
            login: login.into(),
        };
        let mut ids = Vec::new();
        for login in ["a@x.test", "b@x.test"] {
            ids.push(
                store
                    .insert(NewJob {
                        source: account(login),
                        source_password: SecretString::from("p"),
                        destination: account("d@x.test"),
                        destination_password: SecretString::from("q"),
                        lang: "en".into(),
                        report_to: None,
                    })
                    .unwrap(),
            );
        }
        let a = SqliteCheckpoints::new(store.clone(), ids[0].clone());
        let b = SqliteCheckpoints::new(store.clone(), ids[1].clone());
        assert!(a.load("INBOX").unwrap().is_none());
        let cp = |v: u32| {
            FolderCheckpoint::new(
                v,
                "INBOX",
                Some(7),
                &[1, 2, 3],
                &BTreeSet::from([1, 2]),
                &BTreeMap::from([(1, 10), (2, 11)]),
            )
        };
        a.save("INBOX", &cp(5)).unwrap();
        a.save("Archive/2020", &cp(6)).unwrap();
        assert_eq!(a.load("INBOX").unwrap(), Some(cp(5)));
        assert!(b.load("INBOX").unwrap().is_none(), "per job");
        a.save("INBOX", &cp(8)).unwrap();
        assert_eq!(a.load("INBOX").unwrap(), Some(cp(8)), "replaced");
        assert_eq!(clear(&store, &ids[0]).unwrap(), 2);
        assert!(a.load("INBOX").unwrap().is_none());
    }
}
