//! The server side of the wizard: implements the server functions' [`Backend`].

use std::sync::Arc;
use std::time::Duration;

use app::api::backend::{Backend, ClientInfo, Validated};
use app::error::ApiError;
use app::i18n::{Lang, T};
use app::model::{
    AccountForm, FailureKind, FolderRow, JobView, PreflightView, ProgressView, PublicState,
    SideStatus, SideView, WizardView,
};

use crate::jobs::lookup::Query;
use crate::jobs::state::JobState;
use crate::jobs::store_trait::{
    AccountSpec, InsertError, Job, JobStore, LookupResult, NewJob, Resolved, Side,
};
use mailcopy::{ConnectError, ConnectOptions, Credentials, ErrorKind, LabelPolicy, MailboxName};

use super::drafts::DraftStore;
use super::form;
use super::ratelimit::{retry_after_secs, RateLimiter};
use super::redact;
use super::sign_in::{self, SignIn, SignInAgainError, Started};

pub struct WizardService {
    pub drafts: DraftStore,
    pub jobs: Arc<dyn JobStore>,
    pub connect: Arc<ConnectOptions>,
    /// Per client: Validate attempts, Synchronize attempts, distinct addresses looked up.
    pub limits: Limits,
    /// Time limit of one Validate (connect, login, LIST, STATUS).
    pub check_timeout: Duration,
    pub cookie_attributes: String,
    /// Reports go through an SMTP relay (so a destination login that is no address needs one).
    pub smtp_reports: bool,
    /// OAuth2 sign-in ("Sign in with Google / Microsoft").
    pub sign_in: SignIn,
    /// The daily volumes the copies keep under (`None`: no pacing), for the preflight's
    /// estimate of how many days a copy takes.
    pub volumes: Option<mailcopy::profile::DailyVolumes>,
}

/// A plausible single e-mail address (the relay has the final word).
pub fn is_plausible_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
}

pub fn failure_kind(kind: ErrorKind) -> FailureKind {
    match kind {
        ErrorKind::HostNotFound => FailureKind::HostNotFound,
        ErrorKind::AddressNotAllowed => FailureKind::AddressNotAllowed,
        ErrorKind::ConnectionRefused => FailureKind::ConnectionRefused,
        ErrorKind::TimedOut => FailureKind::TimedOut,
        ErrorKind::TlsNotSpoken => FailureKind::TlsNotSpoken,
        ErrorKind::CertificateUntrusted => FailureKind::CertificateUntrusted,
        ErrorKind::Tls | ErrorKind::InvalidCaFile => FailureKind::Tls,
        ErrorKind::NoGreeting => FailureKind::NoGreeting,
        ErrorKind::StartTlsNotOffered => FailureKind::StartTlsNotOffered,
        ErrorKind::ClosedByServer | ErrorKind::Rejected => FailureKind::ClosedByServer,
        ErrorKind::AuthFailed | ErrorKind::LoginDisabled => FailureKind::AuthFailed,
        ErrorKind::TokenRefused => FailureKind::TokenRefused,
        ErrorKind::SignInNeeded => FailureKind::SignInFailed,
        ErrorKind::TokenUnavailable => FailureKind::SignInFailed,
        _ => FailureKind::Protocol,
    }
}

impl WizardService {
    async fn answer(&self, draft: String, redirect: Option<String>) -> Validated {
        let view = self.wizard(Some(&draft)).await;
        Validated {
            draft,
            view,
            redirect,
        }
    }

    /// The addresses `endpoint`'s host resolves to now, through the service's resolver: with
    /// the names they make the job's mailbox keys. Empty when it does not resolve in time (the
    /// name still counts; the job itself will say what is wrong with the host).
    async fn addresses_of(&self, endpoint: &mailcopy::Endpoint) -> Vec<std::net::IpAddr> {
        let lookup = self.connect.resolver.resolve(&endpoint.host, endpoint.port);
        match tokio::time::timeout(Duration::from_secs(5), lookup).await {
            Ok(Ok(addrs)) => addrs.iter().map(|a| a.ip()).collect(),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "resolving for the mailbox keys failed");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// The rate limits of the wizard and the lookup, one limiter each.
pub struct Limits {
    pub validate: RateLimiter,
    pub synchronize: RateLimiter,
    pub lookup: RateLimiter,
}

impl Limits {
    /// Limits per client and minute (0: unlimited).
    pub fn per_minute(validate: u32, synchronize: u32, lookup: u32) -> Limits {
        Limits {
            validate: RateLimiter::per_minute(validate),
            synchronize: RateLimiter::per_minute(synchronize),
            lookup: RateLimiter::per_minute(lookup),
        }
    }
}

fn limited(what: &'static str, client: &ClientInfo, wait: Duration) -> ApiError {
    tracing::info!(client = ?client.ip, what, "rate-limited");
    ApiError::RateLimited {
        retry_after_secs: retry_after_secs(wait),
    }
}

pub(super) fn failed(error: &ConnectError) -> SideStatus {
    SideStatus::Failed {
        kind: failure_kind(error.kind()),
        detail: redact::user_detail(error),
    }
}

#[async_trait::async_trait]
impl Backend for WizardService {
    async fn wizard(&self, draft: Option<&str>) -> WizardView {
        let mut view = draft
            .and_then(|id| self.drafts.view(id))
            .unwrap_or_default();
        view.ask_report_to =
            self.smtp_reports && view.ready_to_sync() && !view.destination.login.contains('@');
        view.sign_in = self.sign_in.options();
        view
    }

    async fn validate(
        &self,
        client: ClientInfo,
        draft: Option<&str>,
        posted: AccountForm,
    ) -> Result<Validated, ApiError> {
        self.limits
            .validate
            .check(client.ip)
            .map_err(|wait| limited("validate", &client, wait))?;
        let side = form::parse_side(&posted).ok_or(ApiError::BadRequest("unknown side".into()))?;
        let (preset, login, host, ssl) = form::echo(&posted);
        let plaintext = posted.plaintext.is_some();
        let port: String = posted.port.trim().chars().take(5).collect();
        let mut view = SideView {
            side,
            preset,
            login,
            host,
            ssl,
            port,
            plaintext,
            has_password: false,
            signed_in_with: None,
            status: SideStatus::NotChecked,
        };

        let checked = if posted.wants_sign_in() {
            form::validate_sign_in(side, &posted)
        } else {
            form::validate(side, &posted)
        };
        let valid = match checked {
            Ok(valid) => valid,
            Err(errors) => {
                view.status = SideStatus::Invalid(errors);
                let id = self.drafts.save(draft, view, None, None);
                return Ok(self.answer(id, None).await);
            }
        };
        view.login = valid.login.clone();
        view.host = form::display_host(&valid.endpoint);
        view.preset = valid.preset.id.to_string();

        let typed = (!posted.password.is_empty()).then_some(posted.password.as_str());
        let kept_grant = match (typed, draft) {
            (None, Some(id)) => self.drafts.grant(id, side, &view.login, &view.host),
            _ => None,
        };
        let kept = match (typed, draft) {
            (None, Some(id)) => self.drafts.password(id, side, &view.login, &view.host),
            _ => None,
        };
        if sign_in::wants_sign_in(
            &self.sign_in,
            &posted,
            &valid,
            kept.is_some() || kept_grant.is_some(),
        ) {
            let (id, started) = self.start_sign_in(draft, view, &valid);
            let redirect = match started {
                Started::Provider(url) => Some(url),
                Started::Refused => None,
            };
            return Ok(self.answer(id, redirect).await);
        }
        if let (Some((provider, tokens)), Some(id)) = (kept_grant, draft) {
            // Validate again of a side signed in already (e.g. the SSL box changed).
            let (status, tokens) = self
                .check_signed_in(&valid.endpoint, &valid.login, &provider, tokens)
                .await;
            view.status = status;
            view.signed_in_with = self
                .sign_in
                .providers
                .get(&provider)
                .ok()
                .map(|c| c.spec.display_name.clone());
            let endpoint = valid.endpoint.clone();
            let id = if self
                .drafts
                .save_signed_in(id, view, provider, &tokens, Some(endpoint))
            {
                id.to_string()
            } else {
                return Err(ApiError::SessionExpired);
            };
            return Ok(self.answer(id, None).await);
        }
        let Some(password) = typed
            .map(str::to_string)
            .or_else(|| kept.as_ref().map(|p| p.to_string()))
        else {
            view.status = SideStatus::Invalid(vec![app::model::FieldError {
                field: app::model::Field::Password,
                message: app::model::FieldProblem::Required,
            }]);
            let id = self.drafts.save(draft, view, None, None);
            return Ok(self.answer(id, None).await);
        };
        let creds = Credentials::new(valid.login.clone(), password.clone());

        let started = std::time::Instant::now();
        let mut endpoint = valid.endpoint.clone();
        // A person is waiting: when the account's or server's connection cap is full (jobs
        // running), say so at once instead of waiting for a place.
        let connect = self.connect.without_limiter_wait();
        let mut outcome =
            mailcopy::check_account(&endpoint, &creds, &connect, self.check_timeout).await;
        if plaintext && matches!(outcome, Err(ConnectError::StartTlsNotOffered)) {
            // The user confirmed it: this server offers no encryption at all.
            endpoint.security = mailcopy::Security::Plain;
            outcome =
                mailcopy::check_account(&endpoint, &creds, &connect, self.check_timeout).await;
        }
        view.status = match &outcome {
            Ok(check) => SideStatus::Established {
                folders: check.folders as u64,
                messages: check.messages,
            },
            Err(error) => failed(error),
        };
        tracing::info!(
            side = side.as_str(),
            server = %form::display_host(&valid.endpoint),
            ok = outcome.is_ok(),
            error = outcome.as_ref().err().map(|e| e.to_string()),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "validate"
        );
        // The password is kept (sealed) even when the check failed, so that changing only the
        // server or the SSL box does not require typing it again.
        let id = self.drafts.save(draft, view, typed, Some(endpoint));
        drop(password);
        Ok(self.answer(id, None).await)
    }

    async fn synchronize(
        &self,
        client: ClientInfo,
        draft: Option<&str>,
        lang: Lang,
        report_to: String,
        labels: String,
    ) -> Result<Option<String>, ApiError> {
        self.limits
            .synchronize
            .check(client.ip)
            .map_err(|wait| limited("synchronize", &client, wait))?;
        let draft = draft.ok_or(ApiError::SessionExpired)?;
        // Absent when the source has no labels (the form shows no choice then).
        let labels = match labels.trim() {
            "" => LabelPolicy::default(),
            value => LabelPolicy::parse(value)
                .ok_or_else(|| ApiError::BadRequest("labels: folders or one-copy".into()))?,
        };
        self.drafts.set_labels(draft, labels);
        let report_to = report_to.trim().chars().take(254).collect::<String>();
        let needs_address = self.wizard(Some(draft)).await.ask_report_to;
        if needs_address && !is_plausible_address(&report_to) {
            self.drafts.set_report_to(
                draft,
                report_to,
                Some(app::model::FieldProblem::InvalidAddress),
            );
            return Ok(None);
        }
        let (source, destination) = self
            .drafts
            .validated(draft)
            .ok_or(ApiError::SessionExpired)?;
        let spec = |a: &super::drafts::ValidatedAccount| AccountSpec {
            host: a.endpoint.host.clone(),
            port: a.endpoint.port,
            security: a.endpoint.security,
            login: a.login.clone(),
        };
        let resolved = Resolved {
            source: self.addresses_of(&source.endpoint).await,
            destination: self.addresses_of(&destination.endpoint).await,
        };
        let job = NewJob {
            resolved,
            source: spec(&source),
            source_secret: source.job_secret(),
            destination: spec(&destination),
            destination_secret: destination.job_secret(),
            lang: lang.code().to_string(),
            report_to: needs_address.then_some(report_to),
            labels,
        };
        // The preflight's counts (when fresh) are the job's first totals: the status page shows
        // "0 of N messages" at once. The copy itself reads both sides again when it runs
        // (hours may pass, and exactness depends on what is there then).
        let seeded = self
            .drafts
            .preflight(draft)
            .filter(|p| p.failure.is_none())
            .and_then(|p| {
                serde_json::to_string(&ProgressView {
                    folders_total: p.folders.len() as u64,
                    messages_total: p.messages,
                    bytes_total: p.bytes.unwrap_or_default(),
                    counted: true,
                    ..ProgressView::default()
                })
                .ok()
            });
        match self.jobs.insert_with_progress(job, seeded.as_deref()).await {
            Ok(id) => {
                tracing::info!(job = %id, "job queued");
                self.drafts.remove(draft);
                Ok(Some(id))
            }
            Err(InsertError::TaskExists) => {
                self.drafts
                    .set_sync_error(draft, Some(InsertError::TaskExists.to_string()));
                Ok(None)
            }
            Err(InsertError::Db(e)) => {
                tracing::error!(error = %e, "queueing a job failed");
                Err(ApiError::Internal)
            }
        }
    }

    async fn preflight(&self, draft: Option<&str>, lang: Lang) -> Option<PreflightView> {
        let mut view = self.preflight_view(draft).await?;
        view.warning_texts = view.warnings.iter().map(|w| w.text(lang)).collect();
        let one_copy =
            draft.map(|d| self.drafts.labels(d)) == Some(LabelPolicy::OneCopyOfEachMessage);
        view.label_choice = view
            .label_counts
            .map(|c| c.choice(lang))
            .unwrap_or_default();
        view.label_one_copy = one_copy;
        Some(view)
    }

    async fn public_status(
        &self,
        client: ClientInfo,
        address: &str,
    ) -> Result<PublicState, ApiError> {
        let address = address.trim();
        if address.is_empty() {
            return Ok(PublicState::NotFound);
        }
        if address.len() > 320 {
            return Err(ApiError::BadRequest("address too long".into()));
        }
        self.limits
            .lookup
            .check_distinct(client.ip, address)
            .map_err(|wait| limited("lookup", &client, wait))?;
        let Some(query) = Query::parse(address) else {
            return Ok(PublicState::NotFound);
        };
        // Only the coarse state: never which job, host or address matched.
        match self.jobs.lookup(&query).await {
            Ok(LookupResult::Found(job)) => {
                Ok(public_state(&job, &progress_of(&job), self.jobs.now_ms()))
            }
            Ok(LookupResult::NotFound) => Ok(PublicState::NotFound),
            Ok(LookupResult::Ambiguous) => Ok(PublicState::Ambiguous),
            Err(e) => {
                tracing::error!(error = %e, "status lookup failed");
                Err(ApiError::Internal)
            }
        }
    }

    async fn job(&self, id: &str, lang: Lang) -> Option<JobView> {
        if id.is_empty() || id.len() > 64 {
            return None;
        }
        let job = self.jobs.get(id).await.ok().flatten()?;
        let progress = progress_of(&job);
        let stored = job
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str::<StoredResult>(r).ok())
            .unwrap_or_default();
        let (messages, messages_more) = not_copied(stored.report.as_ref());
        let folders = stored.folders;
        let attempts = match self.jobs.attempts(&job.id).await {
            Ok(a) if a.len() > 1 => a
                .iter()
                .map(|a| crate::report::attempt_line(a, lang, &app::model::utc_minute))
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "reading the attempts");
                Vec::new()
            }
        };
        Some(JobView {
            id: job.id.clone(),
            state: public_state(&job, &progress, self.jobs.now_ms()),
            source_address: job.source_address.clone(),
            destination_address: crate::jobs::store_trait::source_address(
                &job.destination.login,
                &job.destination.host,
            ),
            progress,
            folders,
            outcome: job.outcome.clone(),
            error: job
                .last_error
                .as_deref()
                .filter(|_| {
                    (job.state.is_final() && job.state != JobState::Finished)
                        || job.state == JobState::WaitingForSignIn
                })
                .map(redact::without_addresses),
            report_state: job.report_state.clone(),
            messages,
            messages_more,
            sign_in_again: self.sign_in_again_view(&job),
            times: job_times(&job, lang),
            attempts,
        })
    }

    async fn sign_in_again(
        &self,
        client: ClientInfo,
        id: &str,
        side: &str,
    ) -> Result<String, ApiError> {
        self.limits
            .validate
            .check(client.ip)
            .map_err(|wait| limited("sign_in_again", &client, wait))?;
        let side = Side::parse(side).ok_or(ApiError::BadRequest("unknown side".into()))?;
        if id.is_empty() || id.len() > 64 {
            return Err(ApiError::NotFound);
        }
        match self.start_job_sign_in(id, side).await {
            Ok(url) => Ok(url),
            Err(SignInAgainError::UnknownJob) => Err(ApiError::NotFound),
            Err(SignInAgainError::NotEnabled(why)) => {
                // The operator removed the provider the job signed in with.
                tracing::error!(job = %id, cause = %why, "sign in again");
                Err(ApiError::Internal)
            }
        }
    }

    fn form_action_origins(&self) -> Vec<String> {
        self.sign_in.form_action_origins()
    }

    fn cookie_attributes(&self) -> &str {
        &self.cookie_attributes
    }
}

/// "Started: 2026-12-03 12:45 UTC · Duration: 3 min": the job's own start (its first
/// attempt's), and its duration once it is final.
fn job_times(job: &Job, lang: Lang) -> Option<String> {
    let started = job.started_at?;
    let mut line = format!(
        "{}: {}",
        T::ReportStarted.get(lang),
        app::model::utc_minute(started)
    );
    if let Some(finished) = job.finished_at.filter(|_| job.state.is_final()) {
        let secs = u64::try_from((finished - started) / 1000).unwrap_or(0);
        line.push_str(&format!(
            " · {}: {}",
            T::ReportDuration.get(lang),
            app::components::job_status::duration(secs)
        ));
    }
    Some(line)
}

/// The part of a job's stored result the pages show (see `jobs::runner::StoredResult`).
#[derive(serde::Deserialize, Default)]
struct StoredResult {
    #[serde(default)]
    folders: Vec<FolderRow>,
    #[serde(default)]
    report: Option<mailcopy::copy::CopyReport>,
}

/// Messages shown one by one on the private job page.
const MAX_LISTED_ON_PAGE: usize = 200;

/// Rejected then skipped messages of a copy report, at most [`MAX_LISTED_ON_PAGE`].
fn not_copied(report: Option<&mailcopy::copy::CopyReport>) -> (Vec<app::model::MessageRow>, u64) {
    let Some(report) = report else {
        return (Vec::new(), 0);
    };
    let row = |folder: &MailboxName,
               s: &mailcopy::copy::MessageSummary,
               reason: String,
               rejected: bool| {
        app::model::MessageRow {
            folder: folder.to_string(),
            date: s.date.clone().unwrap_or_default(),
            from: s.from.clone().unwrap_or_default(),
            subject: s.subject.clone().unwrap_or_default(),
            size: s.size,
            reason,
            rejected,
        }
    };
    let rejected = report.folders.iter().flat_map(|f| {
        f.rejected.iter().map(move |r| {
            row(
                &f.source,
                &r.summary,
                crate::report::reject_reason(&r.reason, &r.server_text),
                true,
            )
        })
    });
    let skipped = report.folders.iter().flat_map(|f| {
        f.skipped.iter().map(move |s| {
            row(
                &f.source,
                &s.summary,
                crate::report::skip_reason(&s.reason).to_string(),
                false,
            )
        })
    });
    let all: Vec<_> = rejected.chain(skipped).collect();
    let more = all.len().saturating_sub(MAX_LISTED_ON_PAGE) as u64;
    (all.into_iter().take(MAX_LISTED_ON_PAGE).collect(), more)
}

fn progress_of(job: &Job) -> ProgressView {
    job.progress
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default()
}

fn public_state(job: &Job, progress: &ProgressView, now_ms: i64) -> PublicState {
    if let Some(until_ms) = job.paused_until(now_ms) {
        return PublicState::Paused { until_ms };
    }
    match job.state {
        JobState::Queued | JobState::WaitingForSignIn => PublicState::Queued,
        JobState::Running => PublicState::Running {
            percent: progress.percent(),
        },
        JobState::Finished => PublicState::Finished,
        JobState::Failed | JobState::Cancelled => PublicState::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcopy::copy::{
        CopyReport, FolderReport, MessageSummary, Outcome, RejectReason, RejectedMessage,
        SkipReason, SkippedMessage, Totals,
    };

    #[test]
    fn not_copied_lists_rejected_then_skipped_with_reasons() {
        let summary = |subject: &str| MessageSummary {
            subject: Some(subject.into()),
            size: 10,
            ..MessageSummary::default()
        };
        let folder = FolderReport {
            source: MailboxName::from_raw("Bo&AO4-te"),
            rejected: vec![RejectedMessage {
                uid: mailcopy::Uid(1),
                reason: RejectReason::Refused,
                server_text: "NO [LIMIT] too big".into(),
                summary: summary("big"),
            }],
            skipped: vec![SkippedMessage {
                uid: mailcopy::Uid(2),
                reason: SkipReason::Deleted,
                summary: summary("gone"),
            }],
            ..FolderReport::default()
        };
        let report = CopyReport {
            outcome: Outcome::CompleteWithRejections,
            folders: vec![folder],
            plan: None,
            totals: Totals::default(),
            dry_run: false,
        };
        let (rows, more) = not_copied(Some(&report));
        assert_eq!(more, 0);
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].rejected && rows[0].reason.contains("[LIMIT]") && rows[0].folder == "Boîte"
        );
        assert!(!rows[1].rejected && rows[1].reason.contains("Deleted"));
        assert_eq!(not_copied(None), (Vec::new(), 0));
    }
}
