//! The OAuth2 provider of the harness on its own: what tests elsewhere rely on (PKCE is
//! enforced, the claims, the scope, rotation), checked against the real node process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use testkit::http::query_param;
use testkit::oauth2::{OAuth2Provider, Pkce, ProviderOptions};

#[test]
fn flow_claims_pkce_and_rotation() {
    let p = OAuth2Provider::start(ProviderOptions::default()).unwrap();
    let client = p.client();
    assert!(p.issuer().starts_with("http://localhost:"));
    // The config file with the client secret does not stay on disk.
    assert!(!p.dir().join("config.json").exists());

    let who = "alice@example.test";
    let tokens = p.sign_in(client, who).unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scope, "openid email offline_access imap");
    assert_eq!(tokens.expires_in, Some(3600));
    let info = p.introspect(client, &tokens.access_token).unwrap();
    assert_eq!(info["active"], serde_json::Value::Bool(true));
    assert_eq!(info["sub"], who);
    assert_eq!(info["client_id"], client.client_id.as_str());
    let claims = p.userinfo(&tokens.access_token).unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["email"].as_str()),
        (Some(who), Some(who))
    );

    // PKCE: the code only goes with its own verifier...
    let pkce = Pkce::new();
    let url = p.authorization_url(client, &pkce, "s1", who).unwrap();
    let callback = p.authorize_in_browser(&url, who).unwrap();
    let code = query_param(&callback, "code").unwrap();
    let wrong = p
        .exchange_code(client, &code, &Pkce::new().verifier)
        .unwrap();
    assert_eq!(wrong.unwrap_err().error, "invalid_grant");
    // ...and an authorization request without a challenge is refused outright.
    let no_pkce = url.replace("code_challenge=", "x_code_challenge=");
    let callback = p.authorize_in_browser(&no_pkce, who).unwrap();
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("invalid_request")
    );

    // Every refresh rotates; the old refresh token is then refused.
    let second = p
        .refresh(client, tokens.refresh().unwrap())
        .unwrap()
        .unwrap();
    assert_ne!(second.refresh_token, tokens.refresh_token);
    assert_ne!(second.access_token, tokens.access_token);
    let again = p.refresh(client, tokens.refresh().unwrap()).unwrap();
    assert_eq!(again.unwrap_err().error, "invalid_grant");
}
