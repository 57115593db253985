use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::PreflightView;

/// The preflight of this browser's draft: the folder mapping and what the copy would move.
/// `None` while the two accounts are not both established.
#[server(endpoint = "preflight")]
pub async fn preflight() -> Result<Option<PreflightView>, ApiError> {
    use super::backend::{backend, draft_cookie};
    let backend = backend()?;
    let draft = draft_cookie().await;
    Ok(backend
        .preflight(draft.as_deref(), crate::lang::current())
        .await)
}
