//! The job runner's checkpoint store: the copy engine's per-folder checkpoints
//! ([`FolderCheckpoint`], JSON) in the `checkpoints` table, keyed by job id and source folder.
//! A job resumed after a retry or a restart reads what its previous attempt wrote; a job that
//! reached a final state has its checkpoints deleted ([`clear`]). The statements run on
//! tokio's blocking pool, never on the copy lanes' tasks.

use mailcopy::copy::{CheckpointError, CheckpointStore, FolderCheckpoint};
use rusqlite::{params, OptionalExtension};

use super::store::Store;

pub struct SqliteCheckpoints {
    store: Store,
    job_id: String,
}

impl SqliteCheckpoints {
    pub fn new(store: &Store, job_id: impl Into<String>) -> SqliteCheckpoints {
        SqliteCheckpoints {
            store: store.clone(),
            job_id: job_id.into(),
        }
    }
}

/// Runs `work` on the blocking pool (a panic in it is resumed in the caller).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CheckpointError> + Send + 'static,
) -> Result<T, CheckpointError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(e.into()),
    }
}

#[async_trait::async_trait]
impl CheckpointStore for SqliteCheckpoints {
    async fn load(&self, folder: &str) -> Result<Option<FolderCheckpoint>, CheckpointError> {
        let (store, job_id, folder) = (self.store.clone(), self.job_id.clone(), folder.to_string());
        let data: Option<String> = blocking(move || {
            Ok(store.with_conn(|c| {
                c.query_row(
                    "SELECT data FROM checkpoints WHERE job_id = ?1 AND folder = ?2",
                    params![job_id, folder],
                    |r| r.get(0),
                )
                .optional()
            })?)
        })
        .await?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    async fn save(
        &self,
        folder: &str,
        checkpoint: &FolderCheckpoint,
    ) -> Result<(), CheckpointError> {
        let data = serde_json::to_string(checkpoint)?;
        let (store, job_id, folder) = (self.store.clone(), self.job_id.clone(), folder.to_string());
        let uidvalidity = i64::from(checkpoint.uidvalidity.0);
        blocking(move || {
            store.with_conn(|c| {
                c.execute(
                    "INSERT INTO checkpoints (job_id, folder, uidvalidity, data) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (job_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, data = excluded.data",
                    params![job_id, folder, uidvalidity, data],
                )
            })?;
            Ok(())
        })
        .await
    }
}

/// Deletes a job's checkpoints; returns how many there were. Blocking: async code calls
/// [`JobStore::clear_checkpoints`](super::store_trait::JobStore::clear_checkpoints).
pub fn clear(store: &Store, job_id: &str) -> anyhow::Result<usize> {
    store.with_conn(|c| c.execute("DELETE FROM checkpoints WHERE job_id = ?1", [job_id]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::jobs::store::{AccountSecret, AccountSpec, NewJob, SystemClock};
    use secrecy::SecretString;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    #[tokio::test]
    async fn round_trip_per_job_and_folder_then_clear() {
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
                        resolved: Default::default(),
                        source: account(login),
                        source_secret: AccountSecret::Password(SecretString::from("p")),
                        destination: account("d@x.test"),
                        destination_secret: AccountSecret::Password(SecretString::from("q")),
                        lang: "en".into(),
                        report_to: None,
                        labels: Default::default(),
                    })
                    .unwrap(),
            );
        }
        let a = SqliteCheckpoints::new(&store, ids[0].clone());
        let b = SqliteCheckpoints::new(&store, ids[1].clone());
        assert!(a.load("INBOX").await.unwrap().is_none());
        let cp = |v: u32| {
            FolderCheckpoint::new(
                mailcopy::UidValidity(v),
                "INBOX",
                Some(mailcopy::UidValidity(7)),
                &[1, 2, 3],
                &BTreeSet::from([1, 2]),
                &BTreeMap::from([(1, 10), (2, 11)]),
            )
        };
        a.save("INBOX", &cp(5)).await.unwrap();
        a.save("Archive/2020", &cp(6)).await.unwrap();
        assert_eq!(a.load("INBOX").await.unwrap(), Some(cp(5)));
        assert!(b.load("INBOX").await.unwrap().is_none(), "per job");
        a.save("INBOX", &cp(8)).await.unwrap();
        assert_eq!(a.load("INBOX").await.unwrap(), Some(cp(8)), "replaced");
        assert_eq!(clear(&store, &ids[0]).unwrap(), 2);
        assert!(a.load("INBOX").await.unwrap().is_none());
    }
}
