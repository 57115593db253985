//! The typed failures of an OAuth2 sign-in or refresh, each with an English sentence.

/// What went wrong with a sign-in, a code exchange, a refresh or a revocation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The user did not allow access (`error=access_denied` on the callback).
    #[error("Access was not allowed at the provider's consent page; sign in again and allow access to your mail.")]
    ConsentDenied,
    /// `invalid_grant`: the code or refresh token is revoked, expired or already used.
    #[error("The sign-in is no longer valid (revoked, expired or already used); sign in again.")]
    InvalidGrant,
    /// The grant lacks the scope that allows IMAP (the user unticked it, or the client is not
    /// allowed to ask for it).
    #[error("The permission to read and write mail over IMAP ({scope}) was not granted; sign in again and allow it.")]
    MissingScope { scope: String },
    /// Neither the ID token nor userinfo named the account.
    #[error("The provider did not say which account signed in (no {claim} claim).")]
    NoIdentity { claim: String },
    /// The ID token's nonce is not the one this sign-in sent.
    #[error(
        "The provider's answer does not belong to this sign-in (nonce mismatch); sign in again."
    )]
    NonceMismatch,
    /// Another OAuth2 error answer (RFC 6749 4.1.2.1 or 5.2).
    #[error("The provider refused: {error}{}", describe(.description))]
    Refused {
        error: String,
        description: Option<String>,
    },
    /// The provider could not be reached, or answered something that is not OAuth2.
    #[error("The provider could not be reached or answered unexpectedly: {0}")]
    Network(String),
    /// The operation needs an endpoint this provider does not have, or a URL is bad.
    #[error("OAuth2 configuration: {0}")]
    Configuration(String),
}

fn describe(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

impl OAuthError {
    /// An OAuth2 `error` code (and its description) as a typed error.
    pub fn from_code(error: &str, description: Option<&str>) -> OAuthError {
        match error {
            "access_denied" => OAuthError::ConsentDenied,
            "invalid_grant" => OAuthError::InvalidGrant,
            _ => OAuthError::Refused {
                error: error.chars().take(100).collect(),
                description: description.map(|d| d.chars().take(300).collect()),
            },
        }
    }

    /// Whether signing in again is the only way on (the job waits for it).
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self,
            OAuthError::ConsentDenied | OAuthError::InvalidGrant | OAuthError::MissingScope { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_types_with_sentences() {
        assert_eq!(
            OAuthError::from_code("access_denied", None),
            OAuthError::ConsentDenied
        );
        assert_eq!(
            OAuthError::from_code("invalid_grant", Some("grant request is invalid")),
            OAuthError::InvalidGrant
        );
        let other = OAuthError::from_code("server_error", Some("busy"));
        assert_eq!(
            other.to_string(),
            "The provider refused: server_error (busy)"
        );
        assert!(!other.needs_sign_in());
        assert!(OAuthError::InvalidGrant.needs_sign_in());
        let scope = OAuthError::MissingScope {
            scope: "https://mail.google.com/".into(),
        };
        assert!(scope.to_string().contains("https://mail.google.com/"));
    }
}
