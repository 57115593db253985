//! The redirect back from the provider (`/oauth2/callback?code=…&state=…` or `?error=…`),
//! read as a typed value. Pure.

use super::error::OAuthError;

/// What the callback carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    /// The `state` as it came back (to be looked up in the state store); None if missing.
    pub state: Option<String>,
    /// The authorization code, or why there is none.
    pub result: Result<String, OAuthError>,
}

/// Reads the callback's query string (with or without a leading `?`).
pub fn parse_callback(query: &str) -> Callback {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut state = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in oauth2::url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        // The first value counts; a repeated parameter is not a second chance.
        if slot.is_none() {
            *slot = Some(v.into_owned());
        }
    }
    let result = match (error, code) {
        (Some(error), _) => Err(OAuthError::from_code(&error, description.as_deref())),
        (None, Some(code)) if !code.is_empty() => Ok(code),
        (None, _) => Err(OAuthError::Refused {
            error: "invalid_request".to_string(),
            description: Some("the callback carries neither a code nor an error".to_string()),
        }),
    };
    Callback { state, result }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_state() {
        let c = parse_callback("?code=abc%2Fd&state=s1&iss=http%3A%2F%2Flocalhost");
        assert_eq!(c.state.as_deref(), Some("s1"));
        assert_eq!(c.result, Ok("abc/d".to_string()));
    }

    #[test]
    fn access_denied_is_consent_denied() {
        let c = parse_callback("error=access_denied&error_description=End-User+aborted&state=s2");
        assert_eq!(c.state.as_deref(), Some("s2"));
        assert_eq!(c.result, Err(OAuthError::ConsentDenied));
    }

    #[test]
    fn other_errors_and_nothing() {
        let c = parse_callback("error=invalid_scope&state=s3&code=x");
        assert!(
            matches!(c.result, Err(OAuthError::Refused { ref error, .. }) if error == "invalid_scope")
        );
        let c = parse_callback("");
        assert_eq!(c.state, None);
        assert!(c.result.is_err());
    }
}
