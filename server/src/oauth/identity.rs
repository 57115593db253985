//! Which account signed in: the claims of an ID token or of a userinfo answer.
//!
//! The ID token's signature is not checked: it is read only when it came straight from the
//! provider's token endpoint over TLS to this client (OpenID Connect Core 3.1.3.7, point 6,
//! allows TLS server validation in place of the signature then). Never read an ID token that
//! reached us any other way (e.g. through the browser).

use base64::Engine as _;
use serde_json::{Map, Value};

use super::error::OAuthError;

/// The signed-in account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The IMAP login: the value of the provider's account claim (e.g. `email`).
    pub login: String,
    /// The provider's stable subject (`sub`), when given.
    pub subject: Option<String>,
}

impl Identity {
    /// Whether this is the account an address typed earlier names (mail providers treat
    /// addresses without regard to case).
    pub fn is_account(&self, typed: &str) -> bool {
        self.login.eq_ignore_ascii_case(typed.trim())
    }
}

/// The claims in a JWT's payload (no signature check; see the module comment).
pub fn id_token_claims(id_token: &str) -> Result<Map<String, Value>, OAuthError> {
    let bad = |what: &str| OAuthError::Network(format!("the ID token {what}"));
    let mut parts = id_token.split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => return Err(bad("is not a JWT")),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("payload is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(bad("payload is not a JSON object")),
    }
}

/// The identity from claims: the first of `account_claims` that is a non-empty string.
/// With `nonce` given, the claims must carry the same nonce.
pub fn identity_from_claims(
    claims: &Map<String, Value>,
    account_claims: &[String],
    nonce: Option<&str>,
) -> Result<Identity, OAuthError> {
    if let Some(nonce) = nonce {
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(OAuthError::NonceMismatch);
        }
    }
    let login = account_claims
        .iter()
        .filter_map(|c| claims.get(c).and_then(Value::as_str))
        .map(str::trim)
        .find(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::NoIdentity {
            claim: account_claims.join(" or "),
        })?;
    Ok(Identity {
        login: login.to_string(),
        subject: claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let enc = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!(
            "{}.{}.sig",
            enc(&serde_json::json!({"alg": "RS256"})),
            enc(&claims)
        )
    }

    #[test]
    fn reads_the_account_claim_and_checks_the_nonce() {
        let token =
            jwt(serde_json::json!({"sub": "1234", "email": "a@example.test", "nonce": "n1"}));
        let claims = id_token_claims(&token).unwrap();
        let who = identity_from_claims(&claims, &["email".into()], Some("n1")).unwrap();
        assert_eq!(who.login, "a@example.test");
        assert_eq!(who.subject.as_deref(), Some("1234"));
        assert!(who.is_account(" A@Example.test"));
        assert!(!who.is_account("b@example.test"));
        assert_eq!(
            identity_from_claims(&claims, &["email".into()], Some("n2")),
            Err(OAuthError::NonceMismatch)
        );
        let err = identity_from_claims(&claims, &["upn".into()], None).unwrap_err();
        assert!(matches!(err, OAuthError::NoIdentity { .. }));
    }

    #[test]
    fn falls_back_to_the_next_claim() {
        // Microsoft: no `email` claim for some accounts, `preferred_username` instead.
        let token = jwt(
            serde_json::json!({"sub": "x", "email": "", "preferred_username": "b@outlook.test"}),
        );
        let claims = id_token_claims(&token).unwrap();
        let names = ["email".to_string(), "preferred_username".to_string()];
        assert_eq!(
            identity_from_claims(&claims, &names, None).unwrap().login,
            "b@outlook.test"
        );
    }

    #[test]
    fn refuses_what_is_not_a_jwt() {
        assert!(id_token_claims("abc").is_err());
        assert!(id_token_claims("a.!!!.c").is_err());
        assert!(id_token_claims("a.b.c.d").is_err());
        let array = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[1]");
        assert!(id_token_claims(&format!("a.{array}.c")).is_err());
    }
}
