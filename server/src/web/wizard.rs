//! The server side of the wizard: implements the server functions' [`Backend`].

use std::sync::Arc;
use std::time::Duration;

use app::api::backend::{Backend, ClientInfo, DraftId};
use app::error::ApiError;
use app::model::{AccountForm, FailureKind, SideStatus, SideView, WizardView};
use mailcopy::{ConnectError, ConnectOptions, Credentials, ErrorKind};

use super::drafts::DraftStore;
use super::form;
use super::ratelimit::RateLimiter;

pub struct WizardService {
    pub drafts: DraftStore,
    pub connect: Arc<ConnectOptions>,
    pub validate_limit: RateLimiter,
    /// Time limit of one Validate (connect, login, LIST, STATUS).
    pub check_timeout: Duration,
    pub cookie_attributes: String,
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
        _ => FailureKind::Protocol,
    }
}

fn failed(error: &ConnectError) -> SideStatus {
    SideStatus::Failed { kind: failure_kind(error.kind()), detail: error.to_string() }
}

#[async_trait::async_trait]
impl Backend for WizardService {
    async fn wizard(&self, draft: Option<&str>) -> WizardView {
        draft.and_then(|id| self.drafts.view(id)).unwrap_or_default()
    }

    async fn validate(
        &self,
        client: ClientInfo,
        draft: Option<&str>,
        posted: AccountForm,
    ) -> Result<(DraftId, WizardView), ApiError> {
        if !self.validate_limit.check(client.ip) {
            tracing::info!(client = ?client.ip, "validate rate-limited");
            return Err(ApiError::RateLimited);
        }
        let side = form::parse_side(&posted).ok_or(ApiError::Transport("unknown side".into()))?;
        let (preset, login, host, ssl) = form::echo(&posted);
        let mut view = SideView { side, preset, login, host, ssl, has_password: false, status: SideStatus::NotChecked };

        let valid = match form::validate(side, &posted) {
            Ok(valid) => valid,
            Err(errors) => {
                view.status = SideStatus::Invalid(errors);
                let id = self.drafts.save(draft, view, None);
                return Ok((id.clone(), self.wizard(Some(&id)).await));
            }
        };
        view.login = valid.login.clone();
        view.host = form::display_host(&valid.endpoint);
        view.preset = valid.preset.id.to_string();

        let typed = (!posted.password.is_empty()).then_some(posted.password.as_str());
        let kept = match (typed, draft) {
            (None, Some(id)) => self.drafts.password(id, side, &view.login, &view.host),
            _ => None,
        };
        let Some(password) = typed.map(str::to_string).or_else(|| kept.as_ref().map(|p| p.to_string())) else {
            view.status = SideStatus::Invalid(vec![app::model::FieldError {
                field: app::model::Field::Password,
                message: app::i18n::T::FieldRequired,
            }]);
            let id = self.drafts.save(draft, view, None);
            return Ok((id.clone(), self.wizard(Some(&id)).await));
        };
        let creds = Credentials::new(valid.login.clone(), password.clone());

        let started = std::time::Instant::now();
        let outcome = mailcopy::check_account(&valid.endpoint, &creds, &self.connect, self.check_timeout).await;
        view.status = match &outcome {
            Ok(check) => SideStatus::Established { folders: check.folders as u64, messages: check.messages },
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
        let id = self.drafts.save(draft, view, typed);
        drop(password);
        Ok((id.clone(), self.wizard(Some(&id)).await))
    }

    fn cookie_attributes(&self) -> &str {
        &self.cookie_attributes
    }
}
