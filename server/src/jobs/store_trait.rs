//! The job store as the rest of the server sees it: [`JobStore`], an async trait with typed
//! values at its edge, and those values. The SQLite backend is [`super::store::Store`]; a
//! second backend (PostgreSQL) implements the same trait, and nothing that holds an
//! `Arc<dyn JobStore>` (the runner, the web backend, the report, the `jobs` commands) changes.
//!
//! Every implementation keeps the queue's invariants: one active (queued or running) job per
//! source account; a claim takes the oldest claimable job with a lease; a state changes only
//! through [`transition`](super::state::transition), atomically with the columns it sets;
//! passwords are kept sealed and wiped once a job is final. Calls never block the task that
//! awaits them (the SQLite backend does its work on tokio's blocking pool).
//!
//! An `async_trait` (boxed futures): a native `async fn` in a trait is not dyn-compatible.

use mailcopy::copy::CheckpointStore;
use mailcopy::Security;
use secrecy::SecretString;

use super::state::JobState;

/// Milliseconds since the Unix epoch. Injected so tests control time.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSpec {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub login: String,
}

impl AccountSpec {
    /// What users type to look a job up: the login when it is an address, else `login@host`.
    pub fn address(&self) -> String {
        source_address(&self.login, &self.host)
    }

    /// One active job per source account: login (case-insensitive), host and port.
    pub fn account_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.login.to_lowercase(),
            self.host.to_lowercase(),
            self.port
        )
    }
}

pub fn source_address(login: &str, host: &str) -> String {
    let login = login.trim().to_lowercase();
    if login.contains('@') {
        login
    } else {
        format!("{login}@{}", host.trim().to_lowercase())
    }
}

pub struct NewJob {
    pub source: AccountSpec,
    pub source_password: SecretString,
    pub destination: AccountSpec,
    pub destination_password: SecretString,
    pub lang: String,
    pub report_to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The exact English cause the original IMAPCopy shows.
    #[error("A task for sync this account exists.")]
    TaskExists,
    #[error(transparent)]
    Db(#[from] anyhow::Error),
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub state: JobState,
    pub source_address: String,
    pub source: AccountSpec,
    pub destination: AccountSpec,
    pub lang: String,
    pub report_to: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub progress: Option<String>,
    pub last_error: Option<String>,
    pub error_kind: Option<String>,
    pub outcome: Option<String>,
    pub result: Option<String>,
    pub report_state: String,
    pub report_error: Option<String>,
    pub has_secrets: bool,
}

/// Opened credentials of a claimed job. Never logged: `Debug` is redacted by `SecretString`.
pub struct JobSecrets {
    pub source: SecretString,
    pub destination: SecretString,
}

/// The job queue: the one write path for jobs. Settling calls (`complete`, `fail`, `retry`,
/// `release`, `cancelled`) take the lease `owner` and return the new state, or `None` when
/// the job is not ours or not in a state that takes the event.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// The store's clock (the one jobs are stamped with), in ms since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Queues a job; refused while another job for the same source account is queued or running.
    async fn insert(&self, job: NewJob) -> Result<String, InsertError> {
        self.insert_with_progress(job, None).await
    }

    /// [`JobStore::insert`] with a first progress record (JSON of `app::model::ProgressView`),
    /// e.g. the totals the wizard's preflight counted, shown until the job's own scan.
    async fn insert_with_progress(
        &self,
        job: NewJob,
        progress: Option<&str>,
    ) -> Result<String, InsertError>;

    async fn get(&self, id: &str) -> anyhow::Result<Option<Job>>;

    /// The most recent job for a source address.
    async fn latest_for_address(&self, address: &str) -> anyhow::Result<Option<Job>>;

    /// The most recent jobs, newest first.
    async fn list(&self, limit: usize) -> anyhow::Result<Vec<Job>>;

    /// Takes the oldest claimable queued job for `owner` with a lease of `lease_ms`.
    async fn claim(&self, owner: &str, lease_ms: i64) -> anyhow::Result<Option<Job>>;

    /// Opens the sealed credentials of a job (None once wiped).
    async fn secrets(&self, id: &str) -> anyhow::Result<Option<JobSecrets>>;

    /// Renews the lease and stores progress. False when the lease is no longer ours (the job
    /// was taken back or cancelled): the runner must stop working on it.
    async fn heartbeat(
        &self,
        id: &str,
        owner: &str,
        lease_ms: i64,
        progress: Option<&str>,
    ) -> anyhow::Result<bool>;

    async fn cancel_requested(&self, id: &str) -> anyhow::Result<bool>;

    /// The copy ended: finished, with its outcome and completeness table.
    async fn complete(
        &self,
        id: &str,
        owner: &str,
        outcome: &str,
        result_json: &str,
    ) -> anyhow::Result<Option<JobState>>;

    /// The copy stopped for good.
    async fn fail(
        &self,
        id: &str,
        owner: &str,
        kind: &str,
        error: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>>;

    /// A transient failure: back to the queue, claimable again at `not_before`.
    async fn retry(
        &self,
        id: &str,
        owner: &str,
        not_before: i64,
        kind: &str,
        error: &str,
    ) -> anyhow::Result<Option<JobState>>;

    /// Shutdown: a running job goes back to the queue to resume at the next start.
    async fn release(&self, id: &str, owner: &str) -> anyhow::Result<Option<JobState>>;

    /// Operator cancel: a queued job ends at once; a running one is flagged and its runner
    /// stops at the next check, then reports the cancellation through [`JobStore::cancelled`].
    async fn cancel(&self, id: &str) -> anyhow::Result<Option<JobState>>;

    /// The runner stopped a job whose cancellation was requested.
    async fn cancelled(
        &self,
        id: &str,
        owner: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>>;

    /// Start-up of the single node: every job left running by a previous process is its own
    /// and goes back to the queue at once (no waiting for leases to expire).
    async fn take_back_all_running(&self) -> anyhow::Result<usize>;

    /// Jobs whose lease ran out (their runner died or hung) go back to the queue.
    async fn requeue_expired(&self) -> anyhow::Result<usize>;

    /// Records the outcome of a report delivery attempt.
    async fn report_attempt(
        &self,
        id: &str,
        delivered: bool,
        error: Option<&str>,
        give_up: bool,
    ) -> anyhow::Result<()>;

    /// Erases the sealed passwords of a final job; false when it is not final (or unknown).
    async fn wipe_secrets(&self, id: &str) -> anyhow::Result<bool>;

    /// Final jobs that still hold secrets (startup clean-up).
    async fn final_jobs_with_secrets(&self) -> anyhow::Result<Vec<String>>;

    /// After [`JobStore::wipe_secrets`]: makes sure no copy of what was erased is left in the
    /// store's files (SQLite: the WAL is written back and truncated).
    async fn purge_wiped(&self) -> anyhow::Result<()>;

    /// The copy engine's checkpoints of one job, kept by this store.
    fn checkpoints(&self, job_id: &str) -> Box<dyn CheckpointStore>;

    /// Deletes a job's checkpoints; returns how many there were.
    async fn clear_checkpoints(&self, job_id: &str) -> anyhow::Result<usize>;
}
