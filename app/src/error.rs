//! The one error type of the server functions' wire contract.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::i18n::T;

/// Errors a user can act on; connection failures are not errors here but a validation result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    #[error("too many requests")]
    RateLimited,
    #[error("the wizard session expired")]
    SessionExpired,
    #[error("internal error")]
    Internal,
    /// Transport or (de)serialization failure reported by the server-function layer.
    #[error("request failed: {0}")]
    Transport(String),
}

impl ApiError {
    pub fn message(&self) -> T {
        match self {
            ApiError::RateLimited => T::TooManyRequests,
            ApiError::SessionExpired => T::SessionExpired,
            ApiError::Internal | ApiError::Transport(_) => T::InternalError,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::Transport(value.to_string())
    }
}
