//! The server's OAuth2 client against a real authorization server on loopback (testkit's
//! oidc-provider, through its login and consent pages): a generic provider from an operator
//! file, the authorization URL with PKCE, the callback through the state store, the code
//! exchange and identity, refresh with rotation, revocation, and consent denied.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use app::presets::Side;
use imapcopy::oauth::flow::{self, OAuthHttp};
use imapcopy::oauth::{
    parse_callback, OAuthArgs, OAuthClient, OAuthError, PendingAuthorization, ProviderId, Revoked,
    SignInFor, StateError, StateStore, UnixMs,
};
use secrecy::{ExposeSecret, SecretString};
use testkit::oauth2::{OAuth2Client, OAuth2Provider, ProviderOptions};

/// The service's public URL in these tests; the callback is `{PUBLIC}/oauth2/callback`
/// (nothing listens there: the browser stops at the redirect).
const PUBLIC: &str = "http://127.0.0.1:9";

fn provider() -> &'static OAuth2Provider {
    static P: OnceLock<OAuth2Provider> = OnceLock::new();
    P.get_or_init(|| {
        let client = OAuth2Client::new("imapcopy-flow", &format!("{PUBLIC}/oauth2/callback"));
        OAuth2Provider::start(ProviderOptions {
            clients: vec![client],
            ..ProviderOptions::default()
        })
        .expect("starting the OAuth2 provider")
    })
}

/// The generic provider as an operator configures it: a TOML file and the secret in the
/// environment (injected). Endpoints on 127.0.0.1: no name resolution anywhere.
fn configured() -> Arc<OAuthClient> {
    let p = provider();
    let base = format!("http://127.0.0.1:{}", p.port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("provider.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "testkit"
display_name = "Test Provider"
authorization_endpoint = "{base}/auth"
token_endpoint = "{base}/token"
revocation_endpoint = "{base}/token/revocation"
userinfo_endpoint = "{base}/me"
scopes = ["openid", "email", "offline_access", "imap"]
imap_scope = "imap"
imap_hosts = ["imap.example.test"]
client_id = "{id}"
# oidc-provider issues a refresh token (offline_access) only after an explicit consent.
extra_params = [["prompt", "consent"]]
"#,
            id = p.client().client_id
        ),
    )
    .unwrap();
    let args = OAuthArgs {
        oauth2_provider_file: Some(file),
        ..OAuthArgs::default()
    };
    let secret = p.client().client_secret.clone();
    let env = move |name: &str| (name == "IMAPCOPY_OAUTH2_CLIENT_SECRET").then(|| secret.clone());
    let providers = args.providers_with(PUBLIC, &env).unwrap();
    let id = ProviderId::Generic("testkit".into());
    assert_eq!(
        providers.for_imap_host("IMAP.example.test"),
        Some(id.clone())
    );
    providers.get(&id).unwrap()
}

/// Starts a sign-in for a draft's side, as the wizard will: the URL, and the pending entry.
fn start(client: &OAuthClient, states: &StateStore, login: &str) -> String {
    let start = flow::authorization_url(client, Some(login)).unwrap();
    states.insert(
        start.state.clone(),
        PendingAuthorization {
            target: SignInFor::Draft("draft-1".into()),
            side: Side::Source,
            provider: client.spec.id.clone(),
            pkce_verifier: start.pkce_verifier,
            nonce: start.nonce,
            created_at: Instant::now(),
        },
    );
    start.url
}

#[tokio::test]
async fn sign_in_refresh_and_revoke() {
    let p = provider();
    let client = configured();
    let http = OAuthHttp::new().unwrap();
    let states = StateStore::default();
    let login = "flow@example.test";

    let url = start(&client, &states, login);
    let callback = p.authorize_in_browser(&url, login).unwrap();
    assert!(callback.starts_with(&client.redirect_uri), "{callback}");
    let back = parse_callback(callback.split_once('?').unwrap().1);
    let state = back.state.expect("the callback carries the state");
    let code = back.result.unwrap();
    let pending = states.take(&state, Instant::now()).unwrap();
    assert_eq!(
        (pending.target, pending.side),
        (SignInFor::Draft("draft-1".into()), Side::Source)
    );
    // Single use: a replayed callback finds nothing.
    assert_eq!(
        states.take(&state, Instant::now()).unwrap_err(),
        StateError::Unknown
    );

    let now = UnixMs::now();
    let signed = flow::exchange_code(
        &http,
        &client,
        &code,
        &pending.pkce_verifier,
        &pending.nonce,
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}; provider:\n{}", p.stderr()));
    assert_eq!(signed.identity.login, login);
    assert_eq!(signed.identity.subject.as_deref(), Some(login));
    let scope = signed.tokens.scope.clone().unwrap_or_default();
    assert!(scope.split(' ').any(|s| s == "imap"), "{scope}");
    let expires = signed.tokens.expires_at.unwrap();
    assert!(expires > now && expires <= now.plus(std::time::Duration::from_secs(3600)));
    // The provider sees the access token as active, for this account.
    let seen = p
        .introspect(p.client(), signed.tokens.access_token.expose_secret())
        .unwrap();
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], login);
    // The same account through userinfo.
    let via_userinfo = flow::userinfo(&http, &client, &signed.tokens.access_token)
        .await
        .unwrap();
    assert_eq!(via_userinfo.login, login);

    // Refresh: oidc-provider rotates the refresh token.
    let first = signed.tokens.refresh_token.expect("a refresh token");
    let refreshed = flow::refresh(&http, &client, &first, UnixMs::now())
        .await
        .unwrap();
    assert!(refreshed.rotated);
    let second = refreshed.tokens.refresh_token.clone().unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_ne!(
        refreshed.tokens.access_token.expose_secret(),
        signed.tokens.access_token.expose_secret()
    );

    // Revoked: the next refresh is the typed invalid_grant, which needs a new sign-in.
    assert_eq!(
        flow::revoke(&http, &client, &second).await,
        Ok(Revoked::Done)
    );
    let err = flow::refresh(&http, &client, &second, UnixMs::now())
        .await
        .unwrap_err();
    assert_eq!(err, OAuthError::InvalidGrant);
    assert!(err.needs_sign_in());
    let gone = p
        .introspect(p.client(), refreshed.tokens.access_token.expose_secret())
        .unwrap();
    assert_eq!(gone["active"], false, "{gone}");
}

#[tokio::test]
async fn a_code_is_single_use_and_its_reuse_ends_the_grant() {
    let p = provider();
    let client = configured();
    let http = OAuthHttp::new().unwrap();
    let states = StateStore::default();
    let login = "replay@example.test";
    let url = start(&client, &states, login);
    let callback = p.authorize_in_browser(&url, login).unwrap();
    let back = parse_callback(callback.split_once('?').unwrap().1);
    let code = back.result.unwrap();
    let pending = states.take(&back.state.unwrap(), Instant::now()).unwrap();
    let exchange = || {
        flow::exchange_code(
            &http,
            &client,
            &code,
            &pending.pkce_verifier,
            &pending.nonce,
            UnixMs::now(),
        )
    };
    let signed = exchange().await.unwrap();
    assert_eq!(exchange().await.unwrap_err(), OAuthError::InvalidGrant);
    // oidc-provider (RFC 6749 4.1.2's advice): a replayed code revokes what it issued.
    let rt = signed.tokens.refresh_token.unwrap();
    let err = flow::refresh(&http, &client, &rt, UnixMs::now())
        .await
        .unwrap_err();
    assert_eq!(err, OAuthError::InvalidGrant);
}

#[tokio::test]
async fn a_wrong_verifier_is_refused() {
    let p = provider();
    let client = configured();
    let states = StateStore::default();
    let login = "pkce@example.test";
    let url = start(&client, &states, login);
    let back = parse_callback(
        p.authorize_in_browser(&url, login)
            .unwrap()
            .split_once('?')
            .unwrap()
            .1,
    );
    let pending = states.take(&back.state.unwrap(), Instant::now()).unwrap();
    let other = SecretString::from("x".repeat(43));
    let err = flow::exchange_code(
        &OAuthHttp::new().unwrap(),
        &client,
        &back.result.unwrap(),
        &other,
        &pending.nonce,
        UnixMs::now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err, OAuthError::InvalidGrant);
}

#[tokio::test]
async fn consent_denied_on_the_callback() {
    let p = provider();
    let client = configured();
    let states = StateStore::default();
    let login = "denies@example.test";
    let url = start(&client, &states, login);
    let callback = p.deny_in_browser(&url, login).unwrap();
    assert!(callback.starts_with(&client.redirect_uri), "{callback}");
    let back = parse_callback(callback.split_once('?').unwrap().1);
    assert_eq!(back.result, Err(OAuthError::ConsentDenied));
    // The state still leads to the draft, so the wizard can show the error there.
    let pending = states.take(&back.state.unwrap(), Instant::now()).unwrap();
    assert_eq!(pending.target, SignInFor::Draft("draft-1".into()));
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_by_the_provider() {
    let client = configured();
    let wrong = OAuthClient::new(
        client.spec.clone(),
        &client.client_id,
        SecretString::from("not-the-secret"),
        &client.redirect_uri,
    )
    .unwrap();
    let err = flow::refresh(
        &OAuthHttp::new().unwrap(),
        &wrong,
        &SecretString::from("x"),
        UnixMs::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, OAuthError::Refused { error, .. } if error == "invalid_client"),
        "{err:?}"
    );
}
