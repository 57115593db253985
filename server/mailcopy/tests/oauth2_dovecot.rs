//! OAuth2 sign-in against real servers on loopback: tokens from a real authorization server
//! (testkit's oidc-provider, through its login and consent pages with PKCE), checked by
//! Dovecot's oauth2 passdb (RFC 7662 introspection). One provider and two Dovecots (one
//! offering OAUTHBEARER and XOAUTH2, one only XOAUTH2) are shared by the tests here; every
//! test uses its own user.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{
    ConnectError, ConnectOptions, Credentials, Endpoint, ErrorKind, Security, Stop, StopKind,
};
use testkit::oauth2::{OAuth2Client, OAuth2Provider, ProviderOptions};
use testkit::{Dovecot, Flavour, OAuth2Login, Options};

/// The client whose tokens live an hour.
const LONG: &str = "imapcopy-test";
/// The client whose access tokens expire after `SHORT_TTL`.
const SHORT: &str = "imapcopy-short";
const SHORT_TTL: Duration = Duration::from_secs(3);

fn provider() -> &'static OAuth2Provider {
    static P: OnceLock<OAuth2Provider> = OnceLock::new();
    P.get_or_init(|| {
        let redirect = "http://127.0.0.1:9/oauth2/callback";
        let mut short = OAuth2Client::new(SHORT, redirect);
        short.access_token_ttl = Some(SHORT_TTL);
        OAuth2Provider::start(ProviderOptions {
            clients: vec![OAuth2Client::new(LONG, redirect), short],
            ..ProviderOptions::default()
        })
        .expect("starting the OAuth2 provider")
    })
}

fn dovecot_with(mechanisms: &str) -> Dovecot {
    let p = provider();
    let mut options = Options::new(Flavour::Slash);
    options.oauth2 = Some(OAuth2Login {
        // Dovecot introspects as the long-lived client; oidc-provider lets a confidential
        // client introspect the other client's tokens too.
        introspection_url: p.introspection_url(p.client_named(LONG).unwrap()),
        mechanisms: mechanisms.to_string(),
    });
    Dovecot::start_with(options).expect("starting Dovecot with the oauth2 passdb")
}

/// Offers AUTH=OAUTHBEARER and AUTH=XOAUTH2 (and SASL-IR, as Dovecot always does).
fn both() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| dovecot_with("xoauth2 oauthbearer"))
}

/// Offers AUTH=XOAUTH2 only.
fn xoauth2_only() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| dovecot_with("xoauth2"))
}

fn opts(d: &Dovecot) -> ConnectOptions {
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    ConnectOptions::new(Arc::new(resolver))
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(10))
        .with_ca_file(d.ca_pem_path())
        .unwrap()
}

fn endpoint(d: &Dovecot) -> Endpoint {
    Endpoint::new("localhost", d.imaps_port(), Security::Tls)
}

/// A Dovecot user (its password is never used here) and a client of the provider.
fn user(d: &Dovecot, login: &str) -> &'static OAuth2Client {
    d.add_user(login, "password-not-used").unwrap();
    provider().client_named(LONG).unwrap()
}

async fn login(
    d: &Dovecot,
    login: &str,
    token: &str,
) -> Result<mailcopy::ImapSession, ConnectError> {
    mailcopy::connect(&endpoint(d), &Credentials::oauth2(login, token), &opts(d)).await
}

/// Logs in and out; a failure shows Dovecot's log.
async fn login_ok(d: &Dovecot, who: &str, token: &str) -> mailcopy::ImapSession {
    match login(d, who, token).await {
        Ok(s) => s,
        Err(e) => panic!("{e:?}; Dovecot:\n{}", d.log_tail(30)),
    }
}

/// The `method=` Dovecot logged for this user's last successful login.
fn logged_method(d: &Dovecot, login: &str) -> Option<String> {
    let log = std::fs::read_to_string(d.log_path()).unwrap_or_default();
    let needle = format!("Login: user=<{login}>, method=");
    log.lines()
        .filter_map(|l| l.split_once(&needle))
        .map(|(_, rest)| rest.split(',').next().unwrap_or_default().to_string())
        .next_back()
}

#[tokio::test]
async fn oauthbearer_where_offered_then_folders_are_listed() {
    let d = both();
    let who = "bearer@example.test";
    let client = user(d, who);
    d.create_mailbox(who, "Projects").unwrap();
    let tokens = provider().sign_in(client, who).unwrap();
    assert!(
        tokens.scope.split(' ').any(|s| s == "imap"),
        "{}",
        tokens.scope
    );
    assert!(
        tokens.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );

    let mut s = login_ok(d, who, &tokens.access_token).await;
    let folders = s.list_folders().await.unwrap();
    let names: Vec<&str> = folders.iter().map(|f| f.name.raw()).collect();
    assert!(
        names.contains(&"INBOX") && names.contains(&"Projects"),
        "{names:?}"
    );
    s.logout().await.unwrap();
    assert_eq!(
        logged_method(d, who).as_deref(),
        Some("OAUTHBEARER"),
        "{}",
        d.log_tail(20)
    );
}

#[tokio::test]
async fn xoauth2_where_only_it_is_offered() {
    let d = xoauth2_only();
    let who = "xoauth2@example.test";
    let client = user(d, who);
    let tokens = provider().sign_in(client, who).unwrap();
    let mut s = login_ok(d, who, &tokens.access_token).await;
    assert!(!s.list_folders().await.unwrap().is_empty());
    s.logout().await.unwrap();
    assert_eq!(
        logged_method(d, who).as_deref(),
        Some("XOAUTH2"),
        "{}",
        d.log_tail(20)
    );
}

/// A token the provider never issued: refused, as a refused token (not a wrong password),
/// with Dovecot's own OAuth2 answer in the text (it differs by mechanism: RFC 7628's
/// `invalid_token` for OAUTHBEARER, Google's HTTP-like `401` with a scope for XOAUTH2), and
/// never the token itself.
#[tokio::test]
async fn a_bogus_token_is_refused_with_the_servers_answer() {
    for (d, who, answer) in [
        (
            both(),
            "bogus-bearer@example.test",
            "(the server's OAuth2 answer: status invalid_token)",
        ),
        (
            xoauth2_only(),
            "bogus-xoauth2@example.test",
            "(the server's OAuth2 answer: status 401, scope \"mail\")",
        ),
    ] {
        user(d, who);
        let bogus = "bogus-token-Zm9vYmFy";
        let err = login(d, who, bogus).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");
        let text = err.to_string();
        assert!(text.contains("[AUTHENTICATIONFAILED]"), "{text}");
        assert!(text.ends_with(answer), "{text}");
        assert!(!text.contains(bogus), "{text}");
        let stop = Stop::from_connect(&err, text);
        assert_eq!((stop.kind, stop.permanent), (StopKind::TokenRefused, false));
        // A token for another account is refused too (Dovecot compares `sub` with the login).
        let other = provider()
            .sign_in(provider().client(), "someone-else@example.test")
            .unwrap();
        let err = login(d, who, &other.access_token).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");
    }
}

/// Expired access token: a session opened with it goes on (Dovecot checks a token only at
/// login) until the server ends it; a new login with it is refused; a refresh rotates the
/// refresh token and the new access token is accepted.
#[tokio::test]
async fn an_expired_token_is_refused_and_a_refreshed_one_accepted() {
    let d = both();
    let who = "expiry@example.test";
    user(d, who);
    let client = provider().client_named(SHORT).unwrap();
    let first = provider().sign_in(client, who).unwrap();
    let issued = Instant::now();
    assert_eq!(first.expires_in, Some(SHORT_TTL.as_secs()));
    let mut open = login_ok(d, who, &first.access_token).await;

    // Past the lifetime (oidc-provider counts whole seconds).
    tokio::time::sleep((SHORT_TTL + Duration::from_millis(1100)).saturating_sub(issued.elapsed()))
        .await;
    assert_eq!(
        provider().introspect(client, &first.access_token).unwrap()["active"],
        serde_json::Value::Bool(false)
    );
    assert!(
        !open.list_folders().await.unwrap().is_empty(),
        "still logged in"
    );
    d.kick(who).unwrap();
    let gone = open.list_folders().await.unwrap_err();
    assert!(gone.is_transient(), "{gone:?}");

    let err = login(d, who, &first.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");

    let second = provider()
        .refresh(client, first.refresh().unwrap())
        .unwrap()
        .unwrap();
    assert_ne!(
        second.refresh().unwrap(),
        first.refresh().unwrap(),
        "rotated"
    );
    assert_ne!(second.access_token, first.access_token);
    let mut s = login_ok(d, who, &second.access_token).await;
    assert!(!s.list_folders().await.unwrap().is_empty());
    s.logout().await.unwrap();
}

/// A rotated refresh token presented again: oidc-provider answers `invalid_grant` and revokes
/// the whole grant, so the newest refresh token and its access token stop working too.
#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_grant() {
    let d = both();
    let who = "reuse@example.test";
    let client = user(d, who);
    let first = provider().sign_in(client, who).unwrap();
    let second = provider()
        .refresh(client, first.refresh().unwrap())
        .unwrap()
        .unwrap();
    assert_ne!(second.refresh().unwrap(), first.refresh().unwrap());
    login_ok(d, who, &second.access_token)
        .await
        .logout()
        .await
        .unwrap();

    let reuse = provider()
        .refresh(client, first.refresh().unwrap())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (reuse.http_status, reuse.error.as_str()),
        (400, "invalid_grant"),
        "{reuse}"
    );
    let newest = provider()
        .refresh(client, second.refresh().unwrap())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        newest.error, "invalid_grant",
        "the grant is revoked: {newest}"
    );
    // Long-lived access token, so only the revocation can have ended it.
    let err = login(d, who, &second.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");
}

/// RFC 7009 revocation of the refresh token ends the grant: its access token is refused.
#[tokio::test]
async fn a_revoked_grant_ends_its_access_token() {
    let d = both();
    let who = "revoke@example.test";
    let client = user(d, who);
    let tokens = provider().sign_in(client, who).unwrap();
    login_ok(d, who, &tokens.access_token)
        .await
        .logout()
        .await
        .unwrap();
    provider()
        .revoke(client, tokens.refresh().unwrap())
        .unwrap();
    let err = login(d, who, &tokens.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err:?}");
    let refused = provider()
        .refresh(client, tokens.refresh().unwrap())
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.error, "invalid_grant");
}

/// Passwords keep working on the same Dovecot (the passwd-file passdb serves PLAIN).
#[tokio::test]
async fn passwords_still_work_beside_tokens() {
    let d = both();
    let who = "password@example.test";
    d.add_user(who, "pw-1").unwrap();
    let s = match mailcopy::connect(&endpoint(d), &Credentials::new(who, "pw-1"), &opts(d)).await {
        Ok(s) => s,
        Err(e) => panic!("{e:?}; Dovecot:\n{}", d.log_tail(30)),
    };
    s.logout().await.unwrap();
    assert_eq!(logged_method(d, who).as_deref(), Some("PLAIN"));
}
