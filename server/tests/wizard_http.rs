//! The wizard through the real HTTP router (no browser): server functions posted as a plain
//! form (no JavaScript) and as fetch, the draft cookie, SSR of the result, the outbound guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use imapcopy::web::{self, drafts::DraftStore, ratelimit::RateLimiter, wizard::WizardService};
use leptos::config::LeptosOptions;
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::ConnectOptions;
use tower::ServiceExt;

fn router(dovecot: &testkit::Dovecot, policy: AddressPolicy, per_minute: u32) -> axum::Router {
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = ConnectOptions::new(Arc::new(resolver)).with_policy(policy).with_ca_pem(dovecot.ca_pem()).unwrap();
    let service = WizardService {
        drafts: DraftStore::new(Duration::from_secs(600)),
        connect: Arc::new(connect),
        validate_limit: RateLimiter::new(per_minute, Duration::from_secs(60)),
        check_timeout: Duration::from_secs(10),
        cookie_attributes: String::new(),
    };
    let options = LeptosOptions::builder().output_name("imapcopy").site_root("target/site").build();
    web::router(options, web::shared(service))
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn body_text(response: axum::response::Response) -> String {
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn validate_request(body: String, accept_html: bool, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/api/validate_account")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::REFERER, "http://127.0.0.1/");
    builder = if accept_html {
        builder.header(header::ACCEPT, "text/html,application/xhtml+xml")
    } else {
        builder.header(header::ACCEPT, "application/json")
    };
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::from(body)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_js_post_redirects_back_and_the_page_renders_the_result() {
    let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    dovecot.add_user("carol@example.test", "pä\"ss§").unwrap();
    let app = router(&dovecot, AddressPolicy::AllowAll, 100);
    let host = format!("localhost:{}", dovecot.imaps_port());
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "carol@example.test"),
        ("password", "pä\"ss§"),
        ("host", &host),
        ("ssl", "on"),
    ]);
    let response = app.clone().oneshot(validate_request(body, true, None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("http://127.0.0.1/"), "{location}");
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("imapcopy_draft="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();

    let page = app
        .clone()
        .oneshot(Request::get("/").header(header::COOKIE, &pair).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(page).await;
    assert!(html.contains("Connection established."), "{html}");
    assert!(html.contains("carol@example.test"));
    assert!(!html.contains("pä"), "the password must never be rendered");
    assert!(html.contains("2. Destination account"));

    // A second Validate with an empty password reuses the sealed one from the draft.
    let body = form(&[("side", "source"), ("preset", "other"), ("login", "carol@example.test"), ("password", ""), ("host", &host), ("ssl", "on")]);
    let response = app.clone().oneshot(validate_request(body, false, Some(&pair))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let json = body_text(response).await;
    assert!(json.contains("Established"), "{json}");
    assert!(!json.contains("pä"));

    // Without the draft, an empty password is a field error and nothing is checked.
    let body = form(&[("side", "source"), ("preset", "other"), ("login", "carol@example.test"), ("host", &host), ("ssl", "on")]);
    let json = body_text(app.clone().oneshot(validate_request(body, false, None)).await.unwrap()).await;
    assert!(json.contains("\"Invalid\"") && json.contains("Password"), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_unless_allowed_and_validate_is_rate_limited() {
    let dovecot = testkit::Dovecot::start(testkit::Flavour::DotInbox).unwrap();
    dovecot.add_user("dave@example.test", "secret").unwrap();
    let app = router(&dovecot, AddressPolicy::PublicOnly, 2);
    let host = format!("localhost:{}", dovecot.imaps_port());
    let body = form(&[("side", "source"), ("preset", "other"), ("login", "dave@example.test"), ("password", "secret"), ("host", &host), ("ssl", "on")]);
    let json = body_text(app.clone().oneshot(validate_request(body.clone(), false, None)).await.unwrap()).await;
    assert!(json.contains("AddressNotAllowed"), "{json}");
    let log = dovecot.log_tail(50);
    assert!(!log.contains("dave@example.test"), "no connection may reach the server: {log}");

    let _ = app.clone().oneshot(validate_request(body.clone(), false, None)).await.unwrap();
    let third = app.clone().oneshot(validate_request(body, false, None)).await.unwrap();
    assert_eq!(third.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body_text(third).await.contains("RateLimited"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_posts_get_an_answer_not_a_crash() {
    let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    let app = router(&dovecot, AddressPolicy::AllowAll, 100);
    for body in ["", "side=source", "side=nonsense&preset=other&login=a&host=h", "%%%&&=="] {
        let response = app.clone().oneshot(validate_request(body.to_string(), false, None)).await.unwrap();
        assert!(response.status().is_client_error() || response.status().is_server_error() || response.status().is_success(), "{body}");
        let text = body_text(response).await;
        assert!(!text.is_empty(), "{body}");
    }
    // Control characters and oversized values become field errors.
    let long = "x".repeat(5000);
    let body = form(&[("side", "source"), ("preset", "other"), ("login", &long), ("password", "p"), ("host", "h\u{1}.test"), ("ssl", "on")]);
    let json = body_text(app.clone().oneshot(validate_request(body, false, None)).await.unwrap()).await;
    assert!(json.contains("FieldTooLong") && json.contains("FieldControlChars"), "{json}");
}
