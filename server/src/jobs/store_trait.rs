//! The job store as the rest of the server sees it: [`JobStore`], an async trait with typed
//! values at its edge, and those values. The SQLite backend is [`super::store::Store`]; a
//! second backend (PostgreSQL) implements the same trait, and nothing that holds an
//! `Arc<dyn JobStore>` (the runner, the web backend, the report, the `jobs` commands) changes.
//!
//! Every implementation keeps the queue's invariants: one active (queued or running) job per
//! source mailbox, whatever its name (`super::mailbox`); jobs into one destination mailbox
//! run one after another; a claim takes the oldest claimable job with a lease; a state changes only
//! through [`transition`](super::state::transition), atomically with the columns it sets;
//! credentials (passwords and OAuth2 grants) are kept sealed and wiped once a job is final; a
//! rotated refresh token is stored ([`JobStore::store_tokens`]) before its access token is
//! used. Calls never block the task that awaits them (the SQLite backend does its work on
//! tokio's blocking pool).
//!
//! An `async_trait` (boxed futures): a native `async fn` in a trait is not dyn-compatible.

use mailcopy::copy::CheckpointStore;
use mailcopy::LabelPolicy;
use mailcopy::Security;
use secrecy::SecretString;

use super::lookup::{self, Decision, Query, SourceRow};
use super::state::{JobEvent, JobState};
pub use super::volume_day::VolumeDay;
use crate::oauth::{ProviderId, Tokens};

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

/// Which account of a job: the wizard's own type (one for drafts and jobs).
pub use app::presets::Side;

/// What proves one account's login: a password, or an OAuth2 grant (signed in at a
/// provider). `Debug` shows neither.
#[derive(Clone)]
pub enum AccountSecret {
    Password(SecretString),
    OAuth2(OAuthGrant),
}

impl AccountSecret {
    /// The provider of an OAuth2 grant; None for a password.
    pub fn provider(&self) -> Option<&ProviderId> {
        match self {
            AccountSecret::Password(_) => None,
            AccountSecret::OAuth2(grant) => Some(&grant.provider),
        }
    }
}

impl std::fmt::Debug for AccountSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountSecret::Password(_) => f.write_str("Password([hidden])"),
            AccountSecret::OAuth2(grant) => f.debug_tuple("OAuth2").field(grant).finish(),
        }
    }
}

/// An OAuth2 sign-in kept for a job: which provider, and its tokens (`Debug` hides them).
#[derive(Clone, Debug)]
pub struct OAuthGrant {
    pub provider: ProviderId,
    pub tokens: Tokens,
}

pub struct NewJob {
    pub source: AccountSpec,
    /// The addresses both hosts resolved to when the job was queued: with the names they
    /// make the mailbox keys (`super::mailbox`) that keep one job per mailbox.
    pub resolved: Resolved,
    pub source_secret: AccountSecret,
    pub destination: AccountSpec,
    pub destination_secret: AccountSecret,
    pub lang: String,
    pub report_to: Option<String>,
    /// How a source with labels (Gmail) is copied.
    pub labels: LabelPolicy,
}

/// What each side's host resolved to (empty when unknown: the names still count).
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub source: Vec<std::net::IpAddr>,
    pub destination: Vec<std::net::IpAddr>,
}

impl NewJob {
    /// The mailbox keys of each side (`super::mailbox::mailbox_keys`).
    pub fn mailbox_keys(&self) -> (Vec<String>, Vec<String>) {
        use super::mailbox::mailbox_keys;
        (
            mailbox_keys(&self.source.login, &self.source.host, &self.resolved.source),
            mailbox_keys(
                &self.destination.login,
                &self.destination.host,
                &self.resolved.destination,
            ),
        )
    }
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
    /// The first attempt's start (later claims keep it).
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
    /// The provider each side signs in with (None: a password). Not secret: the page offering
    /// "Sign in again" names it.
    pub source_provider: Option<ProviderId>,
    pub destination_provider: Option<ProviderId>,
    /// Waiting for sign-in: the sides whose grant is gone, and since when (ms).
    pub sign_in_sides: Vec<Side>,
    pub sign_in_since: Option<i64>,
    /// Queued: not to be claimed before then (ms), e.g. after a retry or a pause.
    pub not_before: Option<i64>,
    /// Pauses taken for a provider's daily limit.
    pub limit_pauses: i64,
    /// What it copied in its current day (pacing under a daily volume); `None` before the
    /// first attempt.
    pub volume_day: Option<VolumeDay>,
    /// How a source with labels (Gmail) is copied.
    pub labels: LabelPolicy,
}

/// `error_kind` of a job paused by a provider's daily limit.
pub const DAILY_LIMIT_KIND: &str = "daily_limit";

impl Job {
    /// Paused by a provider's daily limit: until when (ms).
    pub fn paused_until(&self, now_ms: i64) -> Option<i64> {
        (self.state == JobState::Queued && self.error_kind.as_deref() == Some(DAILY_LIMIT_KIND))
            .then_some(self.not_before)
            .flatten()
            .filter(|&t| t > now_ms)
    }
}

pub use app::model::AttemptEnd;

/// How a running job's attempt ends when it takes `event`: `by_owner` when its runner
/// settled it, not when it was taken back (start-up takeover, expired lease). None for
/// events that do not end an attempt. A daily-limit pause is a `Retry` the store marks
/// [`AttemptEnd::Paused`].
pub fn attempt_end_after(event: JobEvent, by_owner: bool) -> Option<AttemptEnd> {
    match event {
        JobEvent::Claim | JobEvent::SignedInAgain => None,
        JobEvent::Complete => Some(AttemptEnd::Finished),
        JobEvent::Fail => Some(AttemptEnd::Failed),
        JobEvent::Retry => Some(AttemptEnd::Retried),
        JobEvent::Cancel => Some(AttemptEnd::Cancelled),
        JobEvent::NeedSignIn => Some(AttemptEnd::SignInNeeded),
        JobEvent::Abandon if by_owner => Some(AttemptEnd::Stopped),
        JobEvent::Abandon => Some(AttemptEnd::Lost),
    }
}

/// One attempt of a job: a claim, until the job left running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// 1, 2, … in claim order.
    pub number: i64,
    pub started_at: i64,
    /// None while it runs.
    pub ended_at: Option<i64>,
    pub end: Option<AttemptEnd>,
    /// The English cause it stopped on, if any.
    pub error: Option<String>,
}

/// What a public lookup ([`JobStore::lookup`]) found.
#[derive(Clone, Debug)]
pub enum LookupResult {
    Found(Box<Job>),
    NotFound,
    /// A bare login that more than one recent mailbox has: the full address is needed.
    Ambiguous,
}

/// Opened credentials of a claimed job. Never logged: `Debug` is redacted.
#[derive(Debug)]
pub struct JobSecrets {
    pub source: AccountSecret,
    pub destination: AccountSecret,
}

impl JobSecrets {
    pub fn side(&self, side: Side) -> &AccountSecret {
        match side {
            Side::Source => &self.source,
            Side::Destination => &self.destination,
        }
    }
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

    /// The jobs whose source login, lower-cased, is `login` (created at `since_ms` or later
    /// when given), newest first, at most `limit`: a lookup's candidates.
    async fn sources_with_login(
        &self,
        login: &str,
        since_ms: Option<i64>,
        limit: usize,
    ) -> anyhow::Result<Vec<SourceRow>>;

    /// The public lookup of what someone typed, by the rule of [`lookup`]: the exact source
    /// address first, then the candidates of its login ([`JobStore::sources_with_login`],
    /// at most [`lookup::MAX_CANDIDATES`]; a bare login's from the last
    /// [`lookup::BARE_LOGIN_RECENT_MS`] only).
    async fn lookup(&self, query: &Query) -> anyhow::Result<LookupResult> {
        if let Some(address) = query.address() {
            if let Some(job) = self.latest_for_address(&address).await? {
                return Ok(LookupResult::Found(Box::new(job)));
            }
        }
        let Some(login) = query.candidate_login() else {
            return Ok(LookupResult::NotFound);
        };
        let since = match query {
            Query::BareLogin(_) => Some(self.now_ms() - lookup::BARE_LOGIN_RECENT_MS),
            Query::Address { .. } => None,
        };
        let candidates = self
            .sources_with_login(login, since, lookup::MAX_CANDIDATES)
            .await?;
        Ok(match lookup::decide(query, &candidates) {
            Decision::Found(id) => match self.get(&id).await? {
                Some(job) => LookupResult::Found(Box::new(job)),
                None => LookupResult::NotFound,
            },
            Decision::NotFound => LookupResult::NotFound,
            Decision::Ambiguous => LookupResult::Ambiguous,
        })
    }

    /// The most recent jobs, newest first.
    async fn list(&self, limit: usize) -> anyhow::Result<Vec<Job>>;

    /// Takes the oldest claimable queued job for `owner` with a lease of `lease_ms`, and
    /// records the attempt's start. `Job::started_at` stays the first attempt's start.
    async fn claim(&self, owner: &str, lease_ms: i64) -> anyhow::Result<Option<Job>>;

    /// The attempts of a job, in claim order. Every event that takes a job out of running
    /// ends its attempt ([`attempt_end_after`]), in the same transaction as the state change.
    async fn attempts(&self, id: &str) -> anyhow::Result<Vec<Attempt>>;

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

    /// A provider's daily limit: queued again, paused until `until` (ms); the attempt does
    /// not count, the pause does (`Job::limit_pauses`).
    async fn pause_for_limit(
        &self,
        id: &str,
        owner: &str,
        until: i64,
        error: &str,
    ) -> anyhow::Result<Option<JobState>>;

    /// Shutdown: a running job goes back to the queue to resume at the next start.
    /// Records what the job copied in its current day ([`VolumeDay`]).
    async fn record_volume(&self, id: &str, day: VolumeDay) -> anyhow::Result<()>;

    async fn release(&self, id: &str, owner: &str) -> anyhow::Result<Option<JobState>>;

    /// Re-seals one side's OAuth2 tokens (a refresh's result) in one write, keeping its
    /// provider. Called before the new access token is used: a rotated refresh token must
    /// never exist only in memory. An error when the side holds no grant (a password, or
    /// wiped).
    async fn store_tokens(&self, id: &str, side: Side, tokens: &Tokens) -> anyhow::Result<()>;

    /// The copy stopped because a grant is gone: the job waits for someone to sign in again
    /// on `sides` (credentials kept sealed, the source account still taken, not claimable).
    async fn need_sign_in(
        &self,
        id: &str,
        owner: &str,
        sides: &[Side],
        error: &str,
        result_json: Option<&str>,
    ) -> anyhow::Result<Option<JobState>>;

    /// "Sign in again": re-seals `side` with the new grant; once no side waits any more the
    /// job is queued again (it resumes where it stopped). `Some(WaitingForSignIn)` while the
    /// other side still waits; None when the job is not waiting for sign-in.
    async fn resume_after_sign_in(
        &self,
        id: &str,
        side: Side,
        grant: OAuthGrant,
    ) -> anyhow::Result<Option<JobState>>;

    /// Fails every job that has waited for sign-in since `waiting_since_ms` or earlier, with
    /// `cause` before its own error ("nobody signed in again within 3 days: …"). Returns
    /// their ids (the runner sends their reports and wipes them).
    async fn fail_sign_in_waits(
        &self,
        waiting_since_ms: i64,
        cause: &str,
    ) -> anyhow::Result<Vec<String>>;

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

    /// Erases the sealed credentials of a final job; false when it is not final (or unknown).
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
