//! The job runner: claims queued jobs (up to a configured number at once), runs the copy
//! engine on each, writes progress about once a second, and settles the job (finished, failed,
//! retried with back-off, cancelled). Runs inside the web server process. The engine keeps its
//! checkpoints in the job store ([`JobStore::checkpoints`]), so a retried or resumed job
//! fetches less; what it copies is decided by its scan of both sides, so a retry never appends
//! twice. Every store call is awaited: none blocks the runner's or the copies' tasks.
//!
//! An OAuth2 side logs in with access tokens from a [`TokenKeeper`] (one per side and job,
//! shared by all its connections). When its grant is gone the job waits for sign-in; the
//! runner's sweep fails jobs that waited longer than [`RunnerConfig::sign_in_wait`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{FolderRow, ProgressView};
use mailcopy::copy::{
    copy_mailbox_with, CancellationToken, CopyOptions, CopyReport, Outcome, Progress, ProgressSink,
};
use mailcopy::{ConnectOptions, Credentials, Endpoint};
use rand::Rng;
use secrecy::ExposeSecret;
use tokio::task::JoinSet;

use super::retry::{self, RetryDecision, RetryPolicy};
use super::sign_in::{self, SideTokens, DEFAULT_SIGN_IN_WAIT};
use super::store_trait::{AccountSecret, Job, JobSecrets, JobStore, Side, VolumeDay};
use crate::oauth::{KeeperSlot, OAuthHttp, Providers, TokenKeeper, REFRESH_MARGIN};

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Jobs copied at the same time.
    pub concurrency: usize,
    /// A claimed job is ours for this long without a heartbeat.
    pub lease: Duration,
    /// How often progress is written and the lease renewed.
    pub heartbeat: Duration,
    /// How often the queue is looked at when idle.
    pub poll: Duration,
    /// Attempts before a job fails for good (transient failures only).
    pub max_attempts: i64,
    /// First retry delay; doubled per attempt, with jitter.
    pub retry_base: Duration,
    pub copy: CopyOptions,
    /// Identifies this process as lease owner.
    pub owner: String,
    /// The OAuth2 providers the operator enabled: OAuth2 sides refresh their tokens through
    /// them. None by default (a job with an OAuth2 side then fails with the reason).
    pub providers: Providers,
    /// How long before expiry an access token is refreshed.
    pub token_refresh_margin: Duration,
    /// How long a job waits for someone to sign in again before it fails.
    pub sign_in_wait: Duration,
    /// The first pause after a provider's daily limit (then twice as long each time, at
    /// most a day).
    pub daily_limit_pause: Duration,
}

/// The longest wait before a retry, whatever a server asks for (Microsoft 365 suggests
/// minutes; an hour is the most a job waits in one step).
const RETRY_MAX_WAIT: Duration = Duration::from_secs(3600);

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            concurrency: 2,
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(1),
            poll: Duration::from_secs(1),
            max_attempts: 4,
            retry_base: Duration::from_secs(30),
            copy: CopyOptions::default(),
            owner: format!("node-{}", std::process::id()),
            providers: Providers::default(),
            token_refresh_margin: REFRESH_MARGIN,
            sign_in_wait: DEFAULT_SIGN_IN_WAIT,
            daily_limit_pause: Duration::from_secs(3600),
        }
    }
}

/// Runs after a job reached a final state (the report e-mail). Must not fail the job.
#[async_trait::async_trait]
pub trait AfterJob: Send + Sync {
    async fn job_ended(&self, job: &Job, report: Option<&CopyReport>);
}

pub struct Runner {
    pub store: Arc<dyn JobStore>,
    pub connect: Arc<ConnectOptions>,
    pub config: RunnerConfig,
    pub after: Option<Arc<dyn AfterJob>>,
}

/// Progress events folded into the numbers the status pages show. They cover the whole
/// job, not only this attempt: the scan reports what earlier attempts of the job appended
/// (`copied_before`, from the engine's checkpoints) and what was there before the job
/// (`already_present`), and both count as done, messages and bytes, from the start of the
/// attempt. The rate is this attempt's own bytes over its own time.
struct Tracker {
    started: Instant,
    view: Mutex<Folded>,
}

/// The page's numbers and what the scan counted as done before this attempt sent anything.
#[derive(Default)]
struct Folded {
    view: ProgressView,
    done_at_scan: u64,
    done_bytes_at_scan: u64,
}

impl ProgressSink for Tracker {
    fn event(&self, progress: Progress) {
        let mut folded = self.view.lock().unwrap_or_else(|p| p.into_inner());
        fold(&mut folded, progress, self.started.elapsed());
    }
}

/// One progress event folded into the job page's numbers (pure; `elapsed`: since this
/// attempt started).
fn fold(folded: &mut Folded, progress: Progress, elapsed: Duration) {
    let view = &mut folded.view;
    match progress {
        Progress::Planned { folders } => view.folders_total = folders,
        Progress::Scanned {
            folders,
            messages,
            bytes,
            already_present,
            already_present_bytes,
            copied_before,
            copied_before_bytes,
        } => {
            // Every source message once: to copy, there before the job, or appended by an
            // earlier attempt of it.
            let done = already_present + copied_before;
            let done_bytes = already_present_bytes + copied_before_bytes;
            view.folders_total = folders;
            view.messages_total = messages + done;
            view.messages_done = done;
            view.bytes_total = bytes + done_bytes;
            view.bytes_done = done_bytes;
            view.counted = true;
            folded.done_at_scan = done;
            folded.done_bytes_at_scan = done_bytes;
        }
        Progress::FolderStarted { source, .. } => {
            view.current_folder = Some(source.to_string());
        }
        Progress::Message {
            copied,
            skipped,
            failed,
            bytes_done,
            ..
        } => {
            view.messages_done = folded.done_at_scan + copied + skipped + failed;
            view.bytes_done = folded.done_bytes_at_scan + bytes_done;
            let secs = elapsed.as_secs_f64();
            if secs > 0.5 {
                view.bytes_per_second = (bytes_done as f64 / secs) as u64;
            }
        }
        Progress::FolderDone { .. } => view.folders_done += 1,
        Progress::Finished { .. } => view.current_folder = None,
    }
}

impl Tracker {
    fn json(&self) -> Option<String> {
        let folded = self.view.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_string(&folded.view).ok()
    }
}

/// The stored result of a job: rows for the pages, the whole report for the e-mail.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredResult {
    pub folders: Vec<FolderRow>,
    pub report: CopyReport,
}

pub fn stored_result(report: &CopyReport) -> StoredResult {
    let folders = report
        .folders
        .iter()
        .map(|f| FolderRow {
            source: f.source.to_string(),
            destination: f.destination.to_string(),
            source_count: u64::from(f.source_count),
            destination_count: u64::from(f.destination_count.unwrap_or(0)),
            // Whatever attempt of the job appended it.
            copied: f.copied_by_this_copy(),
            already_present: u64::from(f.already_present),
            skipped: f.skipped.len() as u64,
            rejected: f.rejected.len() as u64,
        })
        .collect();
    StoredResult {
        folders,
        report: report.clone(),
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Complete => "complete",
        Outcome::CompleteWithRejections => "complete_with_rejections",
        Outcome::Incomplete { .. } => "incomplete",
    }
}

impl Runner {
    /// Runs until `shutdown` is cancelled: then claims nothing more, asks running copies to
    /// stop, gives their jobs back to the queue (they resume on the next start) and returns.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        match self.store.take_back_all_running().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                jobs = n,
                "took back jobs left running by the previous process"
            ),
            Err(e) => tracing::error!(error = %e, "taking back running jobs failed"),
        }
        self.wipe_leftover_secrets().await;
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            if let Err(e) = self.store.requeue_expired().await {
                tracing::error!(error = %e, "requeueing expired leases failed");
            }
            self.fail_long_sign_in_waits().await;
            let mut claimed_any = false;
            while running.len() < self.config.concurrency.max(1) {
                match self
                    .store
                    .claim(&self.config.owner, self.config.lease.as_millis() as i64)
                    .await
                {
                    Ok(Some(job)) => {
                        claimed_any = true;
                        let me = self.clone();
                        let stop = shutdown.child_token();
                        running.spawn(async move { me.run_job(job, stop).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming a job failed");
                        break;
                    }
                }
            }
            if !claimed_any {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(self.config.poll) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
        }
        // Graceful stop: the copies see the cancelled token between two messages.
        let deadline = tokio::time::sleep(Duration::from_secs(8));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = running.join_next() => if next.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!(jobs = running.len(), "copies did not stop in time; they resume at the next start");
                    running.abort_all();
                    break;
                }
            }
        }
    }

    /// Jobs nobody signed in again for within the bound fail, with their report.
    async fn fail_long_sign_in_waits(&self) {
        let wait = self.config.sign_in_wait;
        let since = self.store.now_ms() - i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        match self
            .store
            .fail_sign_in_waits(since, &sign_in::timeout_cause(wait))
            .await
        {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(job = %id, "nobody signed in again in time: job failed");
                    self.ended(&id, None).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "failing long sign-in waits failed"),
        }
    }

    async fn wipe_leftover_secrets(&self) {
        // A previous process may have died between a job's end and the wipe.
        if let Ok(ids) = self.store.final_jobs_with_secrets().await {
            for id in ids {
                if let Ok(Some(job)) = self.store.get(&id).await {
                    if job.report_state != "pending" {
                        let _ = self.store.wipe_secrets(&id).await;
                    }
                }
            }
        }
    }

    async fn run_job(&self, job: Job, stop: CancellationToken) {
        let owner = self.config.owner.clone();
        tracing::info!(job = %job.id, attempt = job.attempts, "job started");
        let secrets = match self.store.secrets(&job.id).await {
            Ok(Some(s)) => s,
            other => {
                let why = match other {
                    Err(e) => format!("credentials could not be opened: {e}"),
                    _ => "credentials are missing".to_string(),
                };
                let _ = self
                    .store
                    .fail(&job.id, &owner, "internal", &why, None)
                    .await;
                self.ended(&job.id, None).await;
                return;
            }
        };
        let source_endpoint = Endpoint::new(
            job.source.host.clone(),
            job.source.port,
            job.source.security,
        );
        let dest_endpoint = Endpoint::new(
            job.destination.host.clone(),
            job.destination.port,
            job.destination.security,
        );
        let (source_creds, dest_creds, keepers) = match self.credentials(&job, secrets) {
            Ok(c) => c,
            Err(why) => {
                let _ = self
                    .store
                    .fail(&job.id, &owner, "configuration", &why, None)
                    .await;
                self.ended(&job.id, None).await;
                return;
            }
        };

        let tracker = Arc::new(Tracker {
            started: Instant::now(),
            view: Mutex::new(Folded {
                view: progress_seed(&job),
                ..Folded::default()
            }),
        });
        let cancel = stop.child_token();
        let heartbeat = {
            let store = self.store.clone();
            let tracker = tracker.clone();
            let cancel = cancel.clone();
            let id = job.id.clone();
            let owner = owner.clone();
            let every = self.config.heartbeat;
            let lease = self.config.lease.as_millis() as i64;
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                loop {
                    ticker.tick().await;
                    match store
                        .heartbeat(&id, &owner, lease, tracker.json().as_deref())
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job = %id, "lease lost: stopping this copy");
                            cancel.cancel();
                            return;
                        }
                        Err(e) => tracing::error!(job = %id, error = %e, "heartbeat failed"),
                    }
                    if store.cancel_requested(&id).await.unwrap_or(false) {
                        cancel.cancel();
                    }
                }
            })
        };

        // Pacing under a daily volume counts what earlier attempts copied in the same day.
        let day = VolumeDay::current(job.volume_day, self.store.now_ms());
        let mut options = self.config.copy.clone();
        options.labels = job.labels;
        if let Some(pacing) = options.pacing.as_mut() {
            pacing.used_today = day.bytes;
            pacing.day_left_ms = day.left_ms(self.store.now_ms());
        }
        let report = copy_mailbox_with(
            (&source_endpoint, &source_creds),
            (&dest_endpoint, &dest_creds),
            &self.connect,
            &options,
            tracker.as_ref(),
            &cancel,
            self.store.checkpoints(&job.id).as_ref(),
        )
        .await;
        heartbeat.abort();
        let day = day.plus(report.totals.copied_bytes);
        if job.volume_day != Some(day) {
            if let Err(e) = self.store.record_volume(&job.id, day).await {
                tracing::warn!(job = %job.id, error = %e, "the day's copied volume was not recorded");
            }
        }
        let _ = self
            .store
            .heartbeat(
                &job.id,
                &owner,
                self.config.lease.as_millis() as i64,
                tracker.json().as_deref(),
            )
            .await;

        let result = serde_json::to_string(&stored_result(&report)).unwrap_or_default();
        let settled = if stop.is_cancelled() {
            // Shutting down: the job goes back to the queue and resumes at the next start.
            tracing::info!(job = %job.id, "stopped for shutdown; will resume");
            let _ = self.store.release(&job.id, &owner).await;
            return;
        } else if self.store.cancel_requested(&job.id).await.unwrap_or(false) {
            self.store.cancelled(&job.id, &owner, Some(&result)).await
        } else {
            match &report.outcome {
                Outcome::Complete | Outcome::CompleteWithRejections => {
                    self.store
                        .complete(&job.id, &owner, outcome_name(&report.outcome), &result)
                        .await
                }
                Outcome::Incomplete { error, cause } => {
                    // Re-runs are idempotent (the engine's scan finds what an earlier attempt
                    // copied, an APPEND in flight included), so a retry never appends twice.
                    let policy = RetryPolicy {
                        max_attempts: self.config.max_attempts,
                        base: self.config.retry_base,
                        max_wait: RETRY_MAX_WAIT,
                        daily_limit_pause: self.config.daily_limit_pause,
                    };
                    let jitter = rand::thread_rng().gen_range(0.0..1.0);
                    match retry::decide(&policy, cause, job.attempts, job.limit_pauses, jitter) {
                        RetryDecision::PauseForLimit(pause) => {
                            tracing::warn!(job = %job.id, error = %error, pause_s = pause.as_secs(), "daily limit reached; pausing");
                            let until = self.store.now_ms() + pause.as_millis() as i64;
                            match self
                                .store
                                .pause_for_limit(&job.id, &owner, until, error)
                                .await
                            {
                                Ok(_) => return,
                                Err(e) => Err(e),
                            }
                        }
                        RetryDecision::RetryAfter(delay) => {
                            tracing::warn!(job = %job.id, error = %error, kind = ?cause.kind, retry_in_s = delay.as_secs(), "copy stopped; will retry");
                            let not_before = self.store.now_ms() + delay.as_millis() as i64;
                            match self
                                .store
                                .retry(&job.id, &owner, not_before, "incomplete", error)
                                .await
                            {
                                Ok(_) => return,
                                Err(e) => Err(e),
                            }
                        }
                        // Only an OAuth2 side can be signed in again.
                        RetryDecision::WaitForSignIn if !keepers.is_empty() => {
                            let sides = sign_in::sides_to_sign_in(
                                cause.kind,
                                &keepers.iter().map(side_tokens).collect::<Vec<_>>(),
                            );
                            tracing::warn!(job = %job.id, error = %error, kind = ?cause.kind, sides = ?sides, "copy stopped; waiting for sign-in");
                            match self
                                .store
                                .need_sign_in(&job.id, &owner, &sides, error, Some(&result))
                                .await
                            {
                                Ok(_) => return,
                                Err(e) => Err(e),
                            }
                        }
                        RetryDecision::GiveUp | RetryDecision::WaitForSignIn => {
                            tracing::warn!(job = %job.id, error = %error, kind = ?cause.kind, permanent = cause.permanent, "copy stopped; not retrying");
                            self.store
                                .fail(&job.id, &owner, "incomplete", error, Some(&result))
                                .await
                        }
                    }
                }
            }
        };
        drop((source_creds, dest_creds, keepers));
        match settled {
            Ok(Some(state)) => {
                tracing::info!(job = %job.id, state = state.as_str(), outcome = outcome_name(&report.outcome), "job ended")
            }
            Ok(None) => {
                tracing::warn!(job = %job.id, "job was no longer ours when it ended");
                return;
            }
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "recording the end of a job failed");
                return;
            }
        }
        self.ended(&job.id, Some(&report)).await;
    }

    /// The engine's credentials for both sides: a password as it is; an OAuth2 grant through a
    /// token keeper of the grant's provider. Err: why the job cannot run (a provider the
    /// operator no longer enables).
    fn credentials(
        &self,
        job: &Job,
        secrets: JobSecrets,
    ) -> Result<(Credentials, Credentials, Vec<Arc<TokenKeeper>>), String> {
        let mut http: Option<OAuthHttp> = None;
        let mut keepers = Vec::new();
        let mut creds = Vec::with_capacity(2);
        let JobSecrets {
            source,
            destination,
        } = secrets;
        for (side, secret) in [(Side::Source, source), (Side::Destination, destination)] {
            let login = match side {
                Side::Source => job.source.login.clone(),
                Side::Destination => job.destination.login.clone(),
            };
            match secret {
                AccountSecret::Password(p) => {
                    creds.push(Credentials::new(login, p.expose_secret().to_string()))
                }
                AccountSecret::OAuth2(grant) => {
                    let client = self.config.providers.get(&grant.provider).map_err(|e| {
                        format!(
                            "the {} signs in with {}: {}",
                            side.as_str(),
                            grant.provider,
                            e.message()
                        )
                    })?;
                    let http = match &http {
                        Some(h) => h.clone(),
                        None => {
                            let h = OAuthHttp::new().map_err(|e| e.to_string())?;
                            http = Some(h.clone());
                            h
                        }
                    };
                    let slot = KeeperSlot {
                        store: self.store.clone(),
                        job_id: job.id.clone(),
                        side,
                    };
                    let keeper = Arc::new(
                        TokenKeeper::new(slot, grant.tokens, client, http)
                            .with_margin(self.config.token_refresh_margin),
                    );
                    keepers.push(keeper.clone());
                    creds.push(Credentials::oauth2_source(login, keeper));
                }
            }
        }
        let (Some(dest), Some(source)) = (creds.pop(), creds.pop()) else {
            return Err("credentials are missing".to_string());
        };
        Ok((source, dest, keepers))
    }

    /// Before the report: an OAuth2 destination's stored access token is renewed when it is
    /// about to expire (a job that waited days for a sign-in on its source), so that a report
    /// delivered by APPEND can log in. Failures only leave the token as it was.
    async fn renew_destination_token(&self, id: &str) {
        let Ok(Some(secrets)) = self.store.secrets(id).await else {
            return;
        };
        let AccountSecret::OAuth2(grant) = secrets.destination else {
            return;
        };
        let (Ok(client), Ok(http)) = (self.config.providers.get(&grant.provider), OAuthHttp::new())
        else {
            return;
        };
        let slot = KeeperSlot {
            store: self.store.clone(),
            job_id: id.to_string(),
            side: Side::Destination,
        };
        let keeper = TokenKeeper::new(slot, grant.tokens, client, http)
            .with_margin(self.config.token_refresh_margin);
        if let Err(e) = mailcopy::TokenSource::access_token(&keeper, None).await {
            tracing::warn!(job = %id, error = %e, "renewing the destination's token for the report failed");
        }
    }

    /// Report, then wipe the credentials and the checkpoints: they are not needed any more.
    async fn ended(&self, id: &str, report: Option<&CopyReport>) {
        if self.after.is_some() {
            self.renew_destination_token(id).await;
        }
        let job = self.store.get(id).await;
        if let (Some(after), Ok(Some(job))) = (&self.after, job) {
            after.job_ended(&job, report).await;
        }
        if let Err(e) = self.store.clear_checkpoints(id).await {
            tracing::error!(job = %id, error = %e, "deleting checkpoints failed");
        }
        match self.store.wipe_secrets(id).await {
            Ok(_) => {
                let _ = self.store.purge_wiped().await;
            }
            Err(e) => tracing::error!(job = %id, error = %e, "wiping credentials failed"),
        }
    }
}

/// What a side's token keeper saw, for [`sign_in::sides_to_sign_in`].
fn side_tokens(keeper: &Arc<TokenKeeper>) -> SideTokens {
    SideTokens {
        side: keeper.side(),
        oauth2: true,
        grant_gone: keeper.grant_gone(),
        token_refused: keeper.token_refused(),
    }
}

/// A resumed job starts from the progress it had written.
fn progress_seed(job: &Job) -> ProgressView {
    job.progress
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mailcopy::copy::MessageResult;
    use mailcopy::{MailboxName, Uid};

    #[test]
    fn a_resumed_attempt_counts_what_earlier_attempts_copied_messages_and_bytes() {
        // 2,000 messages of 1,000 bytes: 1,272 appended by the first attempt, 8 there before
        // the job, 720 left for this one.
        let mut f = Folded::default();
        fold(
            &mut f,
            Progress::Scanned {
                folders: 1,
                messages: 720,
                bytes: 720_000,
                already_present: 8,
                already_present_bytes: 8_000,
                copied_before: 1272,
                copied_before_bytes: 1_272_000,
            },
            Duration::from_secs(1),
        );
        assert_eq!((f.view.messages_done, f.view.messages_total), (1280, 2000));
        assert_eq!(
            (f.view.bytes_done, f.view.bytes_total),
            (1_280_000, 2_000_000)
        );
        fold(
            &mut f,
            Progress::Message {
                source: MailboxName::from_raw("INBOX"),
                uid: Uid(1),
                result: MessageResult::Copied {
                    appended_uid: None,
                    keywords_dropped: 0,
                },
                copied: 720,
                skipped: 0,
                failed: 0,
                bytes_done: 720_000,
            },
            Duration::from_secs(4),
        );
        assert_eq!((f.view.messages_done, f.view.messages_total), (2000, 2000));
        assert_eq!(
            (f.view.bytes_done, f.view.bytes_total),
            (2_000_000, 2_000_000)
        );
        // The rate is this attempt's bytes over this attempt's time.
        assert_eq!(f.view.bytes_per_second, 180_000);
        assert_eq!(f.view.percent(), 100);
    }
}
