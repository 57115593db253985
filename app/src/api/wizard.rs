// `validate_account` takes one argument per form field (the plain HTML form posts them by
// these names); the `#[server]` macro copies the signature into generated items, so the allow
// has to cover the module.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::WizardView;

/// The wizard as the server keeps it for this browser's draft.
#[server(endpoint = "wizard")]
pub async fn get_wizard() -> Result<WizardView, ApiError> {
    use super::backend::{backend, draft_cookie};
    let backend = backend()?;
    let draft = draft_cookie().await;
    Ok(backend.wizard(draft.as_deref()).await)
}

/// Validate: tests the connection and login of one account and keeps it in the draft.
/// One argument per form field: the plain HTML form posts them by these names.
#[server(endpoint = "validate_account")]
pub async fn validate_account(
    side: String,
    preset: String,
    login: String,
    #[server(default)] password: String,
    host: String,
    #[server(default)] ssl: Option<String>,
    #[server(default)] port: String,
    #[server(default)] plaintext: Option<String>,
    #[server(default)] intent: String,
) -> Result<WizardView, ApiError> {
    use super::backend::{backend, client_info, draft_cookie, set_draft_cookie};
    let backend = backend()?;
    let form = crate::model::AccountForm {
        side,
        preset,
        login,
        password,
        host,
        ssl,
        port,
        plaintext,
        intent,
    };
    let validated = backend
        .validate(client_info().await, draft_cookie().await.as_deref(), form)
        .await?;
    set_draft_cookie(backend.as_ref(), &validated.draft);
    if let Some(url) = &validated.redirect {
        // To the provider's sign-in page: a 302 for a plain form post, a redirect the
        // browser-side client follows with JavaScript.
        leptos_axum::redirect(url);
    }
    Ok(validated.view)
}
