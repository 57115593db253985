//! The one error type of the server functions' wire contract, and the HTTP status of each.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::i18n::T;

/// Errors a user can act on; connection failures are not errors here but a validation result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// Over a per-client limit; trying again after `retry_after_secs` will be accepted.
    #[error("too many requests (retry after {retry_after_secs} s)")]
    RateLimited { retry_after_secs: u64 },
    #[error("the wizard session expired")]
    SessionExpired,
    /// The request could not be decoded (missing or malformed fields, invalid UTF-8).
    #[error("malformed request: {0}")]
    BadRequest(String),
    /// The request body is over the service's limit.
    #[error("the request is too large")]
    TooLarge,
    /// The request names a job this service does not have.
    #[error("unknown job")]
    NotFound,
    #[error("internal error")]
    Internal,
    /// Transport or (de)serialization failure reported by the server-function layer.
    #[error("request failed: {0}")]
    Transport(String),
}

impl ApiError {
    pub fn message(&self) -> T {
        match self {
            ApiError::RateLimited { .. } => T::TooManyRequests,
            ApiError::SessionExpired => T::SessionExpired,
            ApiError::BadRequest(_) => T::BadRequest,
            ApiError::TooLarge => T::RequestTooLarge,
            ApiError::NotFound => T::StateUnknown,
            ApiError::Internal | ApiError::Transport(_) => T::InternalError,
        }
    }

    /// The HTTP status this error is answered with: 4xx for what the client can change,
    /// 500 only for faults of the service.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::RateLimited { .. } => 429,
            // The request names a wizard session the server no longer has.
            ApiError::SessionExpired => 409,
            ApiError::BadRequest(_) => 400,
            ApiError::TooLarge => 413,
            ApiError::NotFound => 404,
            ApiError::Internal | ApiError::Transport(_) => 500,
        }
    }

    /// Seconds for the `Retry-After` header, when waiting is the remedy.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_secs } => Some((*retry_after_secs).max(1)),
            _ => None,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server these mean the request's arguments could not be decoded: the
            // client's fault. (In the browser a decoding failure concerns the server's answer.)
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Args(detail)
            | ServerFnErrorErr::MissingArg(detail)
            | ServerFnErrorErr::Deserialization(detail) => ApiError::BadRequest(detail),
            other => ApiError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status() {
        let limited = ApiError::RateLimited {
            retry_after_secs: 0,
        };
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.retry_after_secs(), Some(1), "never Retry-After: 0");
        assert_eq!(ApiError::SessionExpired.status(), 409);
        assert_eq!(ApiError::BadRequest("x".into()).status(), 400);
        assert_eq!(ApiError::TooLarge.status(), 413);
        assert_eq!(ApiError::NotFound.status(), 404);
        assert_eq!(ApiError::Internal.status(), 500);
        assert_eq!(ApiError::Transport("x".into()).status(), 500);
        assert_eq!(ApiError::SessionExpired.retry_after_secs(), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn undecodable_arguments_are_the_clients_fault() {
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::Args("missing field".into()));
        assert_eq!(e, ApiError::BadRequest("missing field".into()));
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::Deserialization("utf-8".into()));
        assert_eq!(e.status(), 400);
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::ServerError("boom".into()));
        assert_eq!(e.status(), 500);
    }
}
