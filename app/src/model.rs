//! Types that cross the wire between the browser and the server functions.
//! Passwords never appear in anything sent to the browser.

use serde::{Deserialize, Serialize};

use crate::i18n::T;
use crate::presets::Side;

/// Why a connection check failed, coarse enough to localize; the English detail travels beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    AuthFailed,
    HostNotFound,
    AddressNotAllowed,
    ConnectionRefused,
    TimedOut,
    Tls,
    CertificateUntrusted,
    TlsNotSpoken,
    NoGreeting,
    StartTlsNotOffered,
    ClosedByServer,
    Protocol,
    /// The server refused the OAuth2 access token (IMAP disabled, no mailbox, wrong scope).
    TokenRefused,
    /// The person declined at the provider's consent page.
    SignInDenied,
    /// The provider refused the sign-in (`invalid_grant`, an error page) or could not be
    /// reached.
    SignInFailed,
    /// The provider granted less than the IMAP scope.
    MissingScope,
    /// Signed in with another account than the login typed.
    WrongAccount,
    /// This service has no OAuth2 client for the provider.
    SignInNotEnabled,
    /// The server says IMAP is off for this account (Gmail's ALERT).
    ImapDisabled,
}

impl FailureKind {
    pub fn cause(self) -> T {
        match self {
            FailureKind::AuthFailed => T::CauseAuth,
            FailureKind::HostNotFound => T::CauseHostNotFound,
            FailureKind::AddressNotAllowed => T::CauseNotAllowed,
            FailureKind::ConnectionRefused => T::CauseRefused,
            FailureKind::TimedOut => T::CauseTimeout,
            FailureKind::Tls => T::CauseTls,
            FailureKind::CertificateUntrusted => T::CauseCertificate,
            FailureKind::TlsNotSpoken => T::CauseNotTls,
            FailureKind::NoGreeting => T::CauseNoGreeting,
            FailureKind::StartTlsNotOffered => T::CauseStartTls,
            FailureKind::ClosedByServer => T::CauseClosed,
            FailureKind::Protocol => T::CauseProtocol,
            FailureKind::TokenRefused => T::CauseTokenRefused,
            FailureKind::SignInDenied => T::CauseSignInDenied,
            FailureKind::SignInFailed => T::CauseSignInFailed,
            FailureKind::MissingScope => T::CauseMissingScope,
            FailureKind::WrongAccount => T::CauseWrongAccount,
            FailureKind::SignInNotEnabled => T::CauseSignInNotEnabled,
            FailureKind::ImapDisabled => T::CauseImapDisabled,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Preset,
    Login,
    Password,
    Host,
    Port,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Preset => "preset",
            Field::Login => "login",
            Field::Password => "password",
            Field::Host => "host",
            Field::Port => "port",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: Field,
    pub message: FieldProblem,
}

/// What is wrong with a form field. An enum of its own on the wire rather than the catalogue's
/// key: deserializing every key of [`T`] by name cost about 2 KB of the WASM bundle (gzip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldProblem {
    Required,
    TooLong,
    ControlChars,
    InvalidHost,
    InvalidPort,
    UnknownPreset,
    /// The report address is not an e-mail address.
    InvalidAddress,
}

impl FieldProblem {
    pub fn text(self) -> T {
        match self {
            FieldProblem::Required => T::FieldRequired,
            FieldProblem::TooLong => T::FieldTooLong,
            FieldProblem::ControlChars => T::FieldControlChars,
            FieldProblem::InvalidHost => T::FieldInvalidHost,
            FieldProblem::InvalidPort => T::FieldInvalidPort,
            FieldProblem::UnknownPreset => T::FieldUnknownPreset,
            FieldProblem::InvalidAddress => T::ReportToInvalid,
        }
    }
}

/// The outcome of the last Validate of one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SideStatus {
    #[default]
    NotChecked,
    Invalid(Vec<FieldError>),
    Failed {
        kind: FailureKind,
        /// Specific English cause (the seed's format: general localized sentence, then this).
        detail: String,
    },
    Established {
        folders: u64,
        messages: u64,
    },
}

/// What the page shows for one account: the form values (never the password) and the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideView {
    pub side: Side,
    pub preset: String,
    pub login: String,
    pub host: String,
    pub ssl: bool,
    /// Advanced settings as entered.
    #[serde(default)]
    pub port: String,
    #[serde(default)]
    pub plaintext: bool,
    /// A password is stored (sealed) on the server for this side.
    pub has_password: bool,
    /// Signed in at this provider (its display name): the side uses OAuth2 tokens, sealed on
    /// the server, instead of a password.
    #[serde(default)]
    pub signed_in_with: Option<String>,
    pub status: SideStatus,
}

impl SideView {
    pub fn empty(side: Side) -> SideView {
        SideView {
            side,
            preset: crate::presets::OTHER.to_string(),
            login: String::new(),
            host: String::new(),
            ssl: true,
            port: String::new(),
            plaintext: false,
            has_password: false,
            signed_in_with: None,
            status: SideStatus::NotChecked,
        }
    }

    pub fn is_established(&self) -> bool {
        matches!(self.status, SideStatus::Established { .. })
    }

    pub fn field_error(&self, field: Field) -> Option<T> {
        match &self.status {
            SideStatus::Invalid(errors) => errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.text()),
            _ => None,
        }
    }
}

/// The whole wizard as the server keeps it in the draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardView {
    pub source: SideView,
    pub destination: SideView,
    /// Why the last Synchronize was refused (the specific English cause), if it was.
    pub sync_error: Option<String>,
    /// Reports go through an SMTP relay and the destination login is no address: the user must
    /// say where the report goes.
    #[serde(default)]
    pub ask_report_to: bool,
    #[serde(default)]
    pub report_to: String,
    #[serde(default)]
    pub report_to_error: Option<FieldProblem>,
    /// The presets this service can sign in to with OAuth2 (the operator configured the
    /// provider), and the provider's name for the button.
    #[serde(default)]
    pub sign_in: Vec<SignInOption>,
}

/// "Sign in with {provider}" is offered for this preset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOption {
    pub preset: String,
    pub provider: String,
}

impl Default for WizardView {
    fn default() -> Self {
        WizardView {
            source: SideView::empty(Side::Source),
            destination: SideView::empty(Side::Destination),
            sync_error: None,
            ask_report_to: false,
            report_to: String::new(),
            report_to_error: None,
            sign_in: Vec::new(),
        }
    }
}

impl WizardView {
    /// The provider to sign in with for a preset, if this service offers it.
    pub fn sign_in_for(&self, preset: &str) -> Option<&str> {
        self.sign_in
            .iter()
            .find(|o| o.preset == preset)
            .map(|o| o.provider.as_str())
    }

    pub fn ready_to_sync(&self) -> bool {
        self.source.is_established() && self.destination.is_established()
    }
}

/// The account form as posted. Every field is a plain string so that any post deserializes
/// and malformed input is answered next to its field instead of by a transport error.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountForm {
    pub side: String,
    pub preset: String,
    pub login: String,
    pub password: String,
    pub host: String,
    /// Checkbox: present ("on") when ticked.
    pub ssl: Option<String>,
    /// Advanced: a port other than the usual one (empty: 993 / 143).
    #[serde(default)]
    pub port: String,
    /// Advanced: explicit consent to a plaintext connection when STARTTLS is not offered.
    #[serde(default)]
    pub plaintext: Option<String>,
    /// The button pressed: `sign_in` for "Sign in with …", anything else is Validate.
    #[serde(default)]
    pub intent: String,
}

impl AccountForm {
    pub const SIGN_IN: &'static str = "sign_in";

    pub fn wants_sign_in(&self) -> bool {
        self.intent == Self::SIGN_IN
    }
}

impl std::fmt::Debug for AccountForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountForm")
            .field("side", &self.side)
            .field("preset", &self.preset)
            .field("login", &self.login)
            .field("password", &"[redacted]")
            .field("host", &self.host)
            .field("ssl", &self.ssl)
            .field("port", &self.port)
            .field("plaintext", &self.plaintext)
            .field("intent", &self.intent)
            .finish()
    }
}

/// Coarse state of a job, the only thing a lookup by address reveals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicState {
    NotFound,
    /// A lookup by user name alone that more than one mailbox has: the full address is needed
    /// (which mailboxes is not said).
    Ambiguous,
    Queued,
    Running {
        percent: u8,
    },
    /// A provider's daily limit was reached: the copy resumes by itself at `until_ms` (ms
    /// since the Unix epoch).
    Paused {
        until_ms: i64,
    },
    Finished,
    Failed,
}

/// `2026-12-05 18:04 UTC` for a time in ms since the Unix epoch (the same text on the server
/// and in the browser; written out rather than linking a date crate into the WASM bundle).
pub fn utc_minute(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    let (days, minute_of_day) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}

/// Progress numbers of a running or ended job (private link only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressView {
    pub current_folder: Option<String>,
    pub folders_done: u64,
    pub folders_total: u64,
    pub messages_done: u64,
    pub messages_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub bytes_per_second: u64,
    /// The totals are known: the preflight's counts seeded them, or the job's own scan of both
    /// sides set them. Until then the page says the messages are being counted, not "0 of 0".
    #[serde(default)]
    pub counted: bool,
}

impl ProgressView {
    /// Seconds left at the current rate, when it can be told.
    pub fn eta_seconds(&self) -> Option<u64> {
        let left = self
            .bytes_total
            .checked_sub(self.bytes_done)
            .filter(|l| *l > 0)?;
        left.checked_div(self.bytes_per_second)
    }

    pub fn percent(&self) -> u8 {
        let share =
            |done: u64, total: u64| (done.min(total).saturating_mul(100)).checked_div(total);
        share(self.bytes_done, self.bytes_total)
            .or_else(|| share(self.messages_done, self.messages_total))
            .unwrap_or(0) as u8
    }
}

/// One row of the completeness table shown on the private job page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderRow {
    pub source: String,
    pub destination: String,
    pub source_count: u64,
    pub destination_count: u64,
    pub copied: u64,
    pub already_present: u64,
    pub skipped: u64,
    pub rejected: u64,
}

/// Everything about one job, for its private link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub state: PublicState,
    pub source_address: String,
    pub destination_address: String,
    pub progress: ProgressView,
    pub folders: Vec<FolderRow>,
    pub outcome: Option<String>,
    /// The specific English cause of a failure (shown after the general sentence).
    pub error: Option<String>,
    pub report_state: String,
    /// Messages not copied (rejected first, then skipped), the first few hundred.
    #[serde(default)]
    pub messages: Vec<MessageRow>,
    /// How many more were left out of `messages`.
    #[serde(default)]
    pub messages_more: u64,
    /// Waiting for sign-in: the sides whose sign-in is gone ("Sign in again" on this page).
    #[serde(default)]
    pub sign_in_again: Vec<SignInAgainView>,
    /// "Started: 2026-12-03 12:45 UTC · Duration: 3 min" — the job's own, over all its
    /// attempts (the duration once final), in the page's language (the server writes it).
    #[serde(default)]
    pub times: Option<String>,
    /// Its attempts, one line each, listed only when there was more than one (a restart, a
    /// retry, a pause), in the page's language.
    #[serde(default)]
    pub attempts: Vec<String>,
}

/// How one attempt of a job ended (stored by the server, written out on the job page and in
/// the report by the server: the browser gets the lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptEnd {
    Finished,
    Failed,
    Cancelled,
    /// Stopped on a transient failure; the job was queued to try again.
    Retried,
    /// A provider's daily limit: the job paused.
    Paused,
    /// A sign-in was gone: the job waited for someone to sign in again.
    SignInNeeded,
    /// The service stopped (a graceful shutdown): the job resumed at its next start.
    Stopped,
    /// The process running it died (or its lease ran out): taken back and resumed. Its end
    /// is the attempt's last heartbeat.
    Lost,
}

impl AttemptEnd {
    pub const ALL: [AttemptEnd; 8] = [
        AttemptEnd::Finished,
        AttemptEnd::Failed,
        AttemptEnd::Cancelled,
        AttemptEnd::Retried,
        AttemptEnd::Paused,
        AttemptEnd::SignInNeeded,
        AttemptEnd::Stopped,
        AttemptEnd::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptEnd::Finished => "finished",
            AttemptEnd::Failed => "failed",
            AttemptEnd::Cancelled => "cancelled",
            AttemptEnd::Retried => "retried",
            AttemptEnd::Paused => "paused",
            AttemptEnd::SignInNeeded => "sign_in_needed",
            AttemptEnd::Stopped => "stopped",
            AttemptEnd::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptEnd> {
        AttemptEnd::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The localized words for it ("interrupted (the service restarted); resumed").
    #[cfg(feature = "ssr")]
    pub fn text(self) -> T {
        match self {
            AttemptEnd::Finished => T::AttemptFinished,
            AttemptEnd::Failed => T::AttemptFailed,
            AttemptEnd::Cancelled => T::AttemptCancelled,
            AttemptEnd::Retried => T::AttemptRetried,
            AttemptEnd::Paused => T::AttemptPaused,
            AttemptEnd::SignInNeeded => T::AttemptSignIn,
            AttemptEnd::Stopped => T::AttemptStopped,
            AttemptEnd::Lost => T::AttemptLost,
        }
    }
}

/// One side of a job waiting for someone to sign in again at its provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInAgainView {
    pub side: Side,
    /// The provider's name for the button ("Google", "Microsoft", …).
    pub provider: String,
    /// The account to sign in with.
    pub login: String,
    /// When the job fails if nobody signs in (UTC, `2026-12-05 18:04 UTC`).
    pub deadline: String,
}

/// A message that was not copied, and why (the reason is the engine's English text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRow {
    pub folder: String,
    pub date: String,
    pub from: String,
    pub subject: String,
    pub size: u64,
    pub reason: String,
    pub rejected: bool,
}

/// The preflight of a draft whose two accounts are established: where every folder goes and
/// what the copy would move. Passwords, hosts and ports never appear in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightView {
    /// In the plan's order (INBOX first, parents before children).
    pub folders: Vec<PreflightFolder>,
    pub skipped: Vec<PreflightSkipped>,
    /// Messages in the source's selectable folders.
    pub messages: u64,
    /// Their size in octets, when the source reports it.
    pub bytes: Option<u64>,
    /// The largest message the destination accepts (APPENDLIMIT), in octets.
    pub append_limit: Option<u64>,
    /// Source messages larger than `append_limit`, when counted.
    pub too_large: Option<u64>,
    /// The destination's storage quota, when it reports one.
    pub quota: Option<QuotaView>,
    /// What to know about the accounts as a whole before the copy starts (kept with the
    /// cached preflight on the server; never sent).
    #[serde(skip)]
    pub warnings: Vec<PreflightWarning>,
    /// The same, written in the page's language by the server as it answers (their texts
    /// stay out of the WASM bundle).
    #[serde(default)]
    pub warning_texts: Vec<String>,
    /// The preflight could not be done (the copy can still be queued).
    pub failure: Option<PreflightFailure>,
    /// A source whose folders are labels (it has an `\All` folder, as Gmail): what each way of
    /// copying them copies (kept with the cached preflight on the server; never sent).
    #[serde(skip)]
    pub label_counts: Option<LabelCountsView>,
    /// The choice between those ways, written in the page's language by the server as it
    /// answers (the texts stay out of the WASM bundle): empty, or the legend then each way's
    /// label and hint, "folders as in Gmail" first ([`LabelCountsView::choice`]). A plain
    /// list of strings: a struct of its own costs its deserializer in the bundle.
    #[serde(default)]
    pub label_choice: Vec<String>,
    /// "One copy of each message" is the way chosen (else "folders as in Gmail").
    #[serde(default)]
    pub label_one_copy: bool,
}

/// Messages each way of copying a source with labels copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelCountsView {
    /// "Folders as in Gmail": the label folders' messages (archived ones come on top).
    pub folders: u64,
    /// "One copy of each message".
    pub one_copy: u64,
}

impl LabelCountsView {
    /// The wizard's choice in `lang` ([`PreflightView::label_choice`], written by the server).
    #[cfg(feature = "ssr")]
    pub fn choice(self, lang: crate::i18n::Lang) -> Vec<String> {
        let hint = |t: T, n: u64| crate::i18n::fill(t.get(lang), &[("n", n.to_string())]);
        vec![
            T::PreflightLabelsLegend.get(lang).to_string(),
            T::PreflightLabelsFolders.get(lang).to_string(),
            hint(T::PreflightLabelsFoldersHint, self.folders),
            T::PreflightLabelsOneCopy.get(lang).to_string(),
            hint(T::PreflightLabelsOneCopyHint, self.one_copy),
        ]
    }
}

/// A warning about the accounts as a whole, shown above the folder table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreflightWarning {
    /// A Gmail source that lists no All Mail folder: archived messages cannot be copied.
    GmailWithoutAllMail,
    /// The mailbox is larger than a day's volume of `provider`: the copy takes up to `days`
    /// days, pausing between them by itself.
    DailyVolume {
        days: u64,
        /// The provider's volume, MB a day.
        megabytes: u64,
        provider: &'static str,
        /// Its upload volume (into the destination), else its download volume.
        upload: bool,
    },
}

impl PreflightWarning {
    /// The warning in `lang` (written by the server: the texts stay out of the WASM bundle).
    #[cfg(feature = "ssr")]
    pub fn text(self, lang: crate::i18n::Lang) -> String {
        match self {
            PreflightWarning::GmailWithoutAllMail => {
                T::PreflightGmailNoAllMail.get(lang).to_string()
            }
            PreflightWarning::DailyVolume {
                days,
                megabytes,
                provider,
                upload,
            } => crate::i18n::fill(
                if upload {
                    T::PreflightDailyUpload.get(lang)
                } else {
                    T::PreflightDailyDownload.get(lang)
                },
                &[
                    ("days", days.to_string()),
                    ("mb", megabytes.to_string()),
                    ("provider", provider.to_string()),
                ],
            ),
        }
    }
}

impl PreflightView {
    /// The destination's free quota is smaller than what the copy would add (only when both
    /// the quota and the size to copy are known).
    pub fn quota_too_small(&self) -> bool {
        match (self.quota, self.bytes) {
            (Some(q), Some(bytes)) => q.free_kib().saturating_mul(1024) < bytes,
            _ => false,
        }
    }
}

/// One source folder and where it goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightFolder {
    pub source: String,
    pub destination: String,
    pub will_create: bool,
    pub messages: u64,
    pub bytes: Option<u64>,
    pub notes: Vec<FolderNote>,
}

/// Why a destination name is what it is, or what else to know about a folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FolderNote {
    /// Another source folder (display name) took the name first: a ` (n)` suffix was added.
    Collision { with: String },
    /// The destination's hierarchy separator inside a name was replaced.
    SeparatorEscaped { separator: char, replacement: char },
    /// Merged into the destination's folder of the same special use (e.g. `\Sent`).
    SpecialUse { attribute: String },
    /// A special-use folder the destination has no counterpart of: copied by name.
    SpecialUseMissing { attribute: String },
    /// A child of INBOX at the source, a top-level folder at the destination.
    InboxChildLifted,
    /// Renamed for another reason (empty or control characters, refused or invalid name).
    Renamed,
    /// A folder that holds no messages (`\Noselect`): only the name is created.
    NoMessages,
    /// The source refused to count this folder.
    NotCounted,
    /// The source's All Mail: only what no other folder holds (archived messages) is copied.
    AllMailRemainder,
}

/// A source folder that is not copied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightSkipped {
    pub source: String,
    pub reason: SkipKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkipKind {
    /// Gmail's All Mail, Important, Starred: views that would duplicate every message.
    GmailVirtual,
    /// LIST says the folder does not exist.
    NonExistent,
    /// Shared or other users' folders.
    OutsideNamespace,
    /// The personal namespace's own node.
    NamespaceRoot,
    /// A folder of the provider that holds no mail (Microsoft's Calendar, Contacts…).
    NotMail,
}

impl SkipKind {
    pub fn reason(self) -> T {
        match self {
            SkipKind::GmailVirtual => T::SkipGmailVirtual,
            SkipKind::NonExistent => T::SkipNonExistent,
            SkipKind::OutsideNamespace => T::SkipOutsideNamespace,
            SkipKind::NamespaceRoot => T::SkipNamespaceRoot,
            SkipKind::NotMail => T::SkipNotMail,
        }
    }
}

/// A storage quota in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    pub used_kib: u64,
    pub limit_kib: u64,
}

impl QuotaView {
    pub fn free_kib(&self) -> u64 {
        self.limit_kib.saturating_sub(self.used_kib)
    }
}

/// Why the preflight failed: the localized cause and the specific English detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightFailure {
    pub kind: FailureKind,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ssr")]
    #[test]
    fn the_daily_volume_warning_names_the_days_the_volume_and_the_provider() {
        use crate::i18n::Lang;
        let w = |upload| PreflightWarning::DailyVolume {
            days: 20,
            megabytes: 500,
            provider: "Gmail",
            upload,
        };
        for (lang, days) in [
            (Lang::En, "20 days"),
            (Lang::Es, "20 días"),
            (Lang::Fr, "20 jours"),
        ] {
            for upload in [true, false] {
                let text = w(upload).text(lang);
                assert!(text.contains(days), "{text}");
                assert!(text.starts_with("Gmail "), "{text}");
                assert!(text.contains("500 M"), "{text}");
                assert!(!text.contains('{'), "{text}");
            }
            assert_ne!(w(true).text(lang), w(false).text(lang));
        }
    }

    #[test]
    fn quota_warning_only_when_both_numbers_are_known_and_room_is_short() {
        let mut view = PreflightView {
            quota: Some(QuotaView {
                used_kib: 900,
                limit_kib: 1000,
            }),
            bytes: Some(100 * 1024),
            ..PreflightView::default()
        };
        assert!(!view.quota_too_small(), "exactly enough room");
        view.bytes = Some(100 * 1024 + 1);
        assert!(view.quota_too_small());
        view.bytes = None;
        assert!(!view.quota_too_small(), "size unknown: no warning");
        view.bytes = Some(1);
        view.quota = Some(QuotaView {
            used_kib: 2000,
            limit_kib: 1000,
        });
        assert!(view.quota_too_small(), "already over quota");
        view.quota = None;
        assert!(!view.quota_too_small());
    }

    #[test]
    fn percent_and_eta() {
        let mut p = ProgressView {
            bytes_total: 1000,
            bytes_done: 250,
            bytes_per_second: 50,
            ..ProgressView::default()
        };
        assert_eq!(p.percent(), 25);
        assert_eq!(p.eta_seconds(), Some(15));
        p.bytes_per_second = 0;
        assert_eq!(p.eta_seconds(), None);
        p.bytes_done = 1000;
        assert_eq!(p.eta_seconds(), None);
        let m = ProgressView {
            messages_total: 4,
            messages_done: 1,
            ..ProgressView::default()
        };
        assert_eq!(m.percent(), 25);
        assert_eq!(ProgressView::default().percent(), 0);
    }
}

#[cfg(test)]
mod utc_minute_tests {
    use super::utc_minute;

    #[test]
    fn minutes_read_in_utc_across_leap_years_and_before_1970() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_796_241_840_000), "2026-12-02 20:04 UTC");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc_minute(1_709_251_199_000), "2024-02-29 23:59 UTC");
        assert_eq!(utc_minute(-60_000), "1969-12-31 23:59 UTC");
    }
}
