//! "Sign in with …" in the wizard, through the real HTTP router and a real authorization
//! server (testkit's oidc-provider on `localhost`, while the service is `127.0.0.1`: the
//! callback is cross-site and carries no draft cookie), and a Dovecot whose oauth2 passdb
//! checks the tokens by introspection. Plain form posts (no JavaScript) and fetch posts.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// tests: a panic is the failure report
// `web_support::serial()` is held across awaits on purpose: these tests run one at a time.
#![allow(clippy::await_holding_lock)]

mod web_support;

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use imapcopy::jobs::store::{Store, SystemClock};
use imapcopy::oauth::OAuthArgs;
use imapcopy::web::{sign_in::SignIn, WebConfig};
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::ConnectOptions;
use testkit::oauth2::{OAuth2Client, OAuth2Provider, ProviderOptions};
use testkit::{Dovecot, Flavour, OAuth2Login, Options};
use tower::ServiceExt;
use web_support::{body_text, form, HOST, PUBLIC};

const CLIENT: &str = "imapcopy-wizard";

fn provider() -> &'static OAuth2Provider {
    static P: OnceLock<OAuth2Provider> = OnceLock::new();
    P.get_or_init(|| {
        OAuth2Provider::start(ProviderOptions {
            clients: vec![OAuth2Client::new(
                CLIENT,
                &format!("{PUBLIC}/oauth2/callback"),
            )],
            ..ProviderOptions::default()
        })
        .expect("starting the OAuth2 provider")
    })
}

fn dovecot() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| {
        let p = provider();
        let mut options = Options::new(Flavour::Slash);
        options.oauth2 = Some(OAuth2Login {
            introspection_url: p.introspection_url(p.client()),
            mechanisms: "xoauth2 oauthbearer".to_string(),
        });
        Dovecot::start_with(options).expect("starting Dovecot with the oauth2 passdb")
    })
}

/// The service with the test provider configured as an operator would (a provider file,
/// the secret from the environment), for IMAP host `localhost`.
fn app() -> (axum::Router, tempfile::TempDir) {
    let p = provider();
    let d = dovecot();
    let base = format!("http://localhost:{}", p.port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("provider.toml");
    std::fs::write(
        &file,
        format!(
            r#"
name = "testkit"
display_name = "Test Provider"
authorization_endpoint = "{base}/auth"
token_endpoint = "http://127.0.0.1:{port}/token"
userinfo_endpoint = "http://127.0.0.1:{port}/me"
scopes = ["openid", "email", "offline_access", "imap"]
imap_scope = "imap"
imap_hosts = ["localhost"]
client_id = "{CLIENT}"
extra_params = [["prompt", "consent"]]
"#,
            port = p.port()
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

    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(SystemClock),
    ));
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = ConnectOptions::new(Arc::new(resolver))
        .with_policy(AddressPolicy::AllowAll)
        .with_ca_pem(d.ca_pem())
        .unwrap();
    let service = web_support::service(store, connect, SignIn::new(providers).unwrap(), 100, false);
    (web_support::router(service, &WebConfig::local()), dir)
}

/// The source form for the test server, signing in (`intent=sign_in`) as typed `login`.
fn sign_in_form(login: &str, intent: &str) -> String {
    let host = format!("localhost:{}", dovecot().imaps_port());
    form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", login),
        ("host", host.as_str()),
        ("ssl", "on"),
        ("intent", intent),
    ])
}

fn validate(body: String, javascript: bool, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/api/validate_account")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::REFERER, format!("{PUBLIC}/"))
        .header(
            header::ACCEPT,
            if javascript {
                "application/json"
            } else {
                "text/html,application/xhtml+xml"
            },
        );
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::from(body)).unwrap()
}

/// Posts the form and returns the provider URL it sends the browser to and the draft cookie.
async fn start(app: &axum::Router, login: &str, javascript: bool) -> (String, String) {
    let response = app
        .clone()
        .oneshot(validate(sign_in_form(login, "sign_in"), javascript, None))
        .await
        .unwrap();
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    if javascript {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("serverfnredirect"));
    } else {
        assert!(
            response.status().is_redirection(),
            "{:?}",
            response.status()
        );
    }
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let issuer = provider().issuer();
    assert!(
        location.starts_with(&format!("{issuer}/auth?")),
        "{location}"
    );
    for part in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "prompt=consent",
    ] {
        assert!(location.contains(part), "{part} missing in {location}");
    }
    (location, cookie)
}

/// The provider's redirect, as the browser brings it: cross-site, so without the cookie.
async fn callback(app: &axum::Router, redirect: &str) -> (StatusCode, String) {
    let path = redirect
        .strip_prefix(PUBLIC)
        .unwrap_or_else(|| panic!("the provider redirects elsewhere: {redirect}"));
    assert!(path.starts_with("/oauth2/callback?"), "{path}");
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::HOST, HOST)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    (status, body_text(response).await)
}

async fn wizard_json(app: &axum::Router, cookie: &str) -> serde_json::Value {
    let response = app
        .clone()
        .oneshot(
            Request::post("/api/wizard")
                .header(header::HOST, HOST)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ACCEPT, "application/json")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_str(&body_text(response).await).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_without_javascript_validates_with_the_token_and_is_single_use() {
    let _serial = web_support::serial();
    let who = "alice@oauth.test";
    dovecot().add_user(who, "password-not-used").unwrap();
    let (app, _dir) = app();
    // No login typed: the provider names the account.
    let (url, cookie) = start(&app, "", false).await;
    let redirect = provider().authorize_in_browser(&url, who).unwrap();
    let (status, page) = callback(&app, &redirect).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("http-equiv=\"refresh\" content=\"0;url=/\""),
        "{page}"
    );

    let wizard = wizard_json(&app, &cookie).await;
    let source = &wizard["source"];
    assert_eq!(source["login"], who, "{wizard}");
    assert_eq!(source["signed_in_with"], "Test Provider", "{wizard}");
    assert!(source["status"]["Established"].is_object(), "{wizard}");
    assert_eq!(source["has_password"], false);
    let text = wizard.to_string();
    assert!(!text.contains("access_token") && !text.contains("refresh_token"));

    // The page itself, rendered on the server for the same-site request that follows.
    let page = app
        .clone()
        .oneshot(
            Request::get("/")
                .header(header::HOST, HOST)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    // Browsers apply form-action to the redirect after a form post: the provider is allowed.
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains(&format!("form-action 'self' {};", provider().issuer())),
        "{csp}"
    );
    let html = body_text(page).await;
    assert!(html.contains("Signed in with Test Provider"), "{html}");
    assert!(html.contains("Connection established."), "{html}");

    // The same callback again: its state is spent.
    let (status, page) = callback(&app, &redirect).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("already used"), "{page}");

    // Validate again without a password: the kept sign-in is used.
    let response = app
        .clone()
        .oneshot(validate(sign_in_form(who, ""), true, Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key(header::LOCATION));
    let json = body_text(response).await;
    assert!(json.contains("Established"), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_javascript_denied_consent_and_another_account_are_said() {
    let _serial = web_support::serial();
    let who = "bob@oauth.test";
    dovecot().add_user(who, "password-not-used").unwrap();
    let (app, _dir) = app();

    // With JavaScript: the same answer as a redirect the browser-side client follows.
    let (url, cookie) = start(&app, who, true).await;
    assert!(url.contains("login_hint=bob%40oauth.test"), "{url}");
    let redirect = provider().deny_in_browser(&url, who).unwrap();
    let (status, _) = callback(&app, &redirect).await;
    assert_eq!(status, StatusCode::OK);
    let wizard = wizard_json(&app, &cookie).await;
    assert_eq!(
        wizard["source"]["status"]["Failed"]["kind"], "SignInDenied",
        "{wizard}"
    );

    // Signed in as somebody else than the login typed.
    let (url, cookie) = start(&app, who, false).await;
    let redirect = provider()
        .authorize_in_browser(&url, "mallory@oauth.test")
        .unwrap();
    callback(&app, &redirect).await;
    let wizard = wizard_json(&app, &cookie).await;
    let failed = &wizard["source"]["status"]["Failed"];
    assert_eq!(failed["kind"], "WrongAccount", "{wizard}");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("signed in as mallory@oauth.test"),
        "{wizard}"
    );
    assert_eq!(wizard["source"]["signed_in_with"], serde_json::Value::Null);

    // A callback nobody started.
    let (status, _) = callback(
        &app,
        &format!("{PUBLIC}/oauth2/callback?code=x&state=never-issued"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
