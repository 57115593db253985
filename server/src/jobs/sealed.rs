//! How a job's account secrets are sealed at rest: one [`Sealer`] value per side, the job id
//! and side as associated data (a value moved to another job or side does not open). A
//! password is sealed as its UTF-8 bytes (as before OAuth2 existed, so old rows still open);
//! an OAuth2 grant as a small versioned JSON form of its tokens, its provider kept beside it
//! in the clear (the row's `*_provider` column: it says which of the two forms it is).

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use super::store_trait::{AccountSecret, OAuthGrant, Side};
use crate::oauth::{ProviderId, Tokens};
use crate::seal::Sealer;

/// A sealed secret and the provider column that goes with it (None: a password).
pub struct Sealed {
    pub bytes: Vec<u8>,
    pub provider: Option<String>,
}

/// The associated data of one side of one job.
pub fn aad(id: &str, side: Side) -> Vec<u8> {
    format!("job:{id}:{}", side.as_str()).into_bytes()
}

pub fn seal(sealer: &Sealer, id: &str, side: Side, secret: &AccountSecret) -> Sealed {
    match secret {
        AccountSecret::Password(p) => Sealed {
            bytes: sealer.seal(&aad(id, side), p.expose_secret().as_bytes()),
            provider: None,
        },
        AccountSecret::OAuth2(grant) => Sealed {
            bytes: seal_tokens(sealer, id, side, &grant.tokens),
            provider: Some(grant.provider.as_str().to_string()),
        },
    }
}

/// The sealed form of a grant's tokens (its provider is stored beside it): the one sealable
/// form of [`Tokens`] (`Tokens::to_sealable`), which drafts use too.
pub fn seal_tokens(sealer: &Sealer, id: &str, side: Side, tokens: &Tokens) -> Vec<u8> {
    sealer.seal(&aad(id, side), &tokens.to_sealable())
}

/// Opens one side's sealed secret; `provider` is the row's provider column.
pub fn open(
    sealer: &Sealer,
    id: &str,
    side: Side,
    sealed: &[u8],
    provider: Option<&str>,
) -> anyhow::Result<AccountSecret> {
    let plain = sealer.open(&aad(id, side), sealed)?;
    let Some(provider) = provider else {
        let text = std::str::from_utf8(&plain).context("sealed password is not UTF-8")?;
        return Ok(AccountSecret::Password(SecretString::from(
            text.to_string(),
        )));
    };
    let tokens = Tokens::from_sealed(&plain).context("sealed OAuth2 grant is not readable")?;
    Ok(AccountSecret::OAuth2(OAuthGrant {
        provider: ProviderId::parse(provider),
        tokens,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::oauth::UnixMs;

    fn grant(refresh: Option<&str>) -> AccountSecret {
        AccountSecret::OAuth2(OAuthGrant {
            provider: ProviderId::Generic("example".into()),
            tokens: Tokens {
                access_token: SecretString::from("at-1"),
                refresh_token: refresh.map(SecretString::from),
                expires_at: Some(UnixMs(1_700_000_000_000)),
                scope: Some("openid imap".into()),
            },
        })
    }

    #[test]
    fn passwords_and_grants_round_trip() {
        let sealer = Sealer::ephemeral();
        let pw = AccountSecret::Password(SecretString::from("pässword"));
        let s = seal(&sealer, "j1", Side::Source, &pw);
        assert_eq!(s.provider, None);
        match open(&sealer, "j1", Side::Source, &s.bytes, None).unwrap() {
            AccountSecret::Password(p) => assert_eq!(p.expose_secret(), "pässword"),
            other => panic!("{other:?}"),
        }
        for refresh in [Some("rt-1"), None] {
            let g = seal(&sealer, "j1", Side::Destination, &grant(refresh));
            assert_eq!(g.provider.as_deref(), Some("example"));
            let opened = open(
                &sealer,
                "j1",
                Side::Destination,
                &g.bytes,
                g.provider.as_deref(),
            );
            let AccountSecret::OAuth2(o) = opened.unwrap() else {
                panic!("not a grant")
            };
            assert_eq!(o.provider, ProviderId::Generic("example".into()));
            assert_eq!(o.tokens.access_token.expose_secret(), "at-1");
            assert_eq!(
                o.tokens.refresh_token.as_ref().map(|t| t.expose_secret()),
                refresh
            );
            assert_eq!(o.tokens.expires_at, Some(UnixMs(1_700_000_000_000)));
            assert_eq!(o.tokens.scope.as_deref(), Some("openid imap"));
            // Another side or job does not open it.
            assert!(open(&sealer, "j1", Side::Source, &g.bytes, Some("example")).is_err());
            assert!(open(&sealer, "j2", Side::Destination, &g.bytes, Some("example")).is_err());
        }
    }

    #[test]
    fn an_unknown_form_is_refused_and_debug_hides_secrets() {
        let sealer = Sealer::ephemeral();
        let future = sealer.seal(&aad("j", Side::Source), br#"{"v":2,"access_token":"x"}"#);
        let err = open(&sealer, "j", Side::Source, &future, Some("google")).unwrap_err();
        assert!(format!("{err:#}").contains("unknown version 2"), "{err:#}");
        let shown = format!(
            "{:?} {:?}",
            grant(Some("rt-secret")),
            AccountSecret::Password(SecretString::from("pw-secret"))
        );
        assert!(
            !shown.contains("secret") && !shown.contains("at-1"),
            "{shown}"
        );
    }
}
