use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::{JobView, PublicState, WizardView};

/// What Synchronize answers: the job's id when queued, else the wizard with the reason.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncAnswer {
    pub job_id: Option<String>,
    pub wizard: WizardView,
}

/// Synchronize: queues the copy of the two validated accounts of this browser's draft.
#[server(endpoint = "synchronize")]
pub async fn synchronize(
    #[server(default)] report_to: String,
    #[server(default)] labels: String,
) -> Result<SyncAnswer, ApiError> {
    use super::backend::{backend, clear_draft_cookie, client_info, draft_cookie};
    let backend = backend()?;
    let draft = draft_cookie().await;
    match backend
        .synchronize(
            client_info().await,
            draft.as_deref(),
            crate::lang::current(),
            report_to,
            labels,
        )
        .await?
    {
        Some(job_id) => {
            clear_draft_cookie(backend.as_ref());
            leptos_axum::redirect(&format!("/jobs/{job_id}"));
            Ok(SyncAnswer {
                job_id: Some(job_id),
                wizard: WizardView::default(),
            })
        }
        None => Ok(SyncAnswer {
            job_id: None,
            wizard: backend.wizard(draft.as_deref()).await,
        }),
    }
}

/// The coarse state for a source address (anyone may ask; nothing else is revealed).
#[server(endpoint = "status")]
pub async fn public_status(address: String) -> Result<PublicState, ApiError> {
    use super::backend::{backend, client_info, set_error_status};
    let backend = backend()?;
    let state = backend.public_status(client_info().await, &address).await;
    if let Err(error) = &state {
        // The status page calls this while it is rendered: the page carries the code.
        set_error_status(error);
    }
    state
}

/// Everything about a job, for the holder of its private link.
#[server(endpoint = "job")]
pub async fn job_details(id: String) -> Result<Option<JobView>, ApiError> {
    let backend = super::backend::backend()?;
    Ok(backend.job(&id, crate::lang::current()).await)
}

/// "Sign in again" on a job's private page: on to the provider's sign-in (a 302 without
/// JavaScript, a redirect the browser-side client follows with it).
#[server(endpoint = "sign_in_again")]
pub async fn sign_in_again(id: String, side: String) -> Result<(), ApiError> {
    use super::backend::{backend, client_info};
    let backend = backend()?;
    let url = backend
        .sign_in_again(client_info().await, &id, &side)
        .await?;
    leptos_axum::redirect(&url);
    Ok(())
}
