//! The HTTP status of every refusal, through the real router (no browser, no IMAP server):
//! each case pins its exact code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use imapcopy::jobs::store::{Store, SystemClock};
use imapcopy::web::{
    self,
    client::{ClientResolver, ProxyHeader, TrustedProxies},
    drafts::DraftStore,
    wizard::{Limits, WizardService},
    WebConfig,
};
use leptos::config::LeptosOptions;
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::ConnectOptions;
use tower::ServiceExt;

/// The application over a fresh database, with generous limits; no server name resolves.
fn app(config: &WebConfig) -> (axum::Router, tempfile::TempDir) {
    app_limited(config, Limits::per_minute(100, 100, 100))
}

fn app_limited(config: &WebConfig, limits: Limits) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(SystemClock),
    ));
    let connect =
        ConnectOptions::new(Arc::new(StaticResolver::new())).with_policy(AddressPolicy::PublicOnly);
    let service = WizardService {
        drafts: DraftStore::new(Duration::from_secs(600)),
        jobs: store,
        connect: Arc::new(connect),
        limits,
        check_timeout: Duration::from_secs(5),
        cookie_attributes: String::new(),
        smtp_reports: false,
        sign_in: Default::default(),
        volumes: None,
    };
    let options = LeptosOptions::builder()
        .output_name("imapcopy")
        .site_root("target/site")
        .build();
    (web::router(options, web::shared(service), config), dir)
}

const HOST: &str = "127.0.0.1:3000";
const PAGE: &str = "http://127.0.0.1:3000/";

fn request(method: &str, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST)
}

/// A server-function call as the hydrated page makes it.
fn api_post(path: &str, body: Body) -> Request<Body> {
    request("POST", path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body)
        .unwrap()
}

/// The same call as a plain HTML form post (no JavaScript).
fn form_post(path: &str, body: Body) -> Request<Body> {
    request("POST", path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, PAGE)
        .body(body)
        .unwrap()
}

async fn text(response: axum::response::Response) -> String {
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

async fn page(app: &axum::Router, path: &str, lang: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(
            request("GET", path)
                .header(header::ACCEPT_LANGUAGE, lang)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    (response.status(), text(response).await)
}

/// Follows a no-JavaScript post's 303 back to the page; returns what the page says.
async fn page_after(app: &axum::Router, response: axum::response::Response, lang: &str) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let path = location.strip_prefix("http://127.0.0.1:3000").unwrap();
    assert!(
        path.contains("__err="),
        "the error travels to the page: {location}"
    );
    let (status, html) = page(app, path, lang).await;
    assert_eq!(status, StatusCode::OK);
    html
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_wizard_session_is_409_and_the_page_says_so() {
    let (app, _dir) = app(&WebConfig::local());
    let response = app
        .clone()
        .oneshot(api_post("/api/synchronize", Body::empty()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(text(response).await, "\"SessionExpired\"");

    let response = app
        .clone()
        .oneshot(form_post("/api/synchronize", Body::empty()))
        .await
        .unwrap();
    let html = page_after(&app, response, "fr").await;
    assert!(html.contains("Votre session a expiré"), "{html}");
}

/// A body that yields `chunks` chunks of 64 KiB, counting what was pulled from it.
fn counted_body(chunks: usize, pulled: Arc<AtomicUsize>) -> Body {
    Body::from_stream(futures::stream::iter((0..chunks).map(move |_| {
        pulled.fetch_add(64 * 1024, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024])
    })))
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_are_413_before_they_are_read_whole() {
    let (app, _dir) = app(&WebConfig::local());
    // A declared 10 MB: refused on the header, before a byte is read (the body never ends).
    let never = Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let mut call = api_post("/api/validate_account", never);
    call.headers_mut()
        .insert(header::CONTENT_LENGTH, "10485760".parse().unwrap());
    let response = tokio::time::timeout(Duration::from_secs(2), app.clone().oneshot(call))
        .await
        .expect("answered without reading the body")
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()[header::CONNECTION], "close");
    assert_eq!(text(response).await, "\"TooLarge\"");

    // Chunked, 10 MB: read up to the limit (64 KiB) and refused there.
    let pulled = Arc::new(AtomicUsize::new(0));
    let call = api_post("/api/validate_account", counted_body(160, pulled.clone()));
    let response = app.clone().oneshot(call).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let read = pulled.load(Ordering::SeqCst);
    assert!(read <= 2 * 64 * 1024, "read {read} bytes of a 10 MB body");

    // Without JavaScript: back to the page, which says it.
    let response = app
        .clone()
        .oneshot(form_post(
            "/api/validate_account",
            counted_body(160, Arc::new(AtomicUsize::new(0))),
        ))
        .await
        .unwrap();
    let html = page_after(&app, response, "en").await;
    assert!(html.contains("The request is too large."), "{html}");

    // Anywhere else too.
    let response = app
        .clone()
        .oneshot(
            request("POST", "/")
                .body(counted_body(160, Arc::new(AtomicUsize::new(0))))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_jobs_and_routes_are_404() {
    let (app, _dir) = app(&WebConfig::local());
    let (status, html) = page(&app, "/jobs/no-such-job", "en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        html.contains("There is no synchronization to show"),
        "{html}"
    );
    let (status, html) = page(&app, "/no/such/page", "es").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Página no encontrada."), "{html}");
    let response = app
        .clone()
        .oneshot(api_post("/api/no_such_function", Body::empty()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Known pages still answer 200.
    let (status, _) = page(&app, "/", "en").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = page(&app, "/status?address=a%40b.example", "en").await;
    assert_eq!(status, StatusCode::OK);
}

/// A Validate that fails fast (the name resolves nowhere), from TCP peer `peer`.
fn validate_from(peer: &str, forwarded_for: Option<&str>) -> Request<Body> {
    let body =
        "side=source&preset=other&login=a%40b.example&password=p&host=imap.nowhere.test&ssl=on";
    let mut call = api_post("/api/validate_account", Body::from(body));
    let peer: SocketAddr = peer.parse().unwrap();
    call.extensions_mut().insert(ConnectInfo(peer));
    if let Some(hops) = forwarded_for {
        call.headers_mut()
            .insert("x-forwarded-for", hops.parse().unwrap());
    }
    call
}

async fn status_of(app: &axum::Router, call: Request<Body>) -> StatusCode {
    let response = app.clone().oneshot(call).await.unwrap();
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let wait: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "Retry-After: {wait}");
        assert!(text(response).await.contains("RateLimited"));
    }
    status
}

fn lookup_page(address: &str) -> Request<Body> {
    request("GET", &format!("/status/{address}"))
        .header(header::ACCEPT_LANGUAGE, "es")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_synchronize_and_the_lookup_have_separate_limits() {
    let (app, _dir) = app_limited(&WebConfig::local(), Limits::per_minute(1, 1, 2));
    let peer = "198.51.100.1:40000";
    assert_eq!(
        status_of(&app, validate_from(peer, None)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, validate_from(peer, None)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Synchronize has its own quota: refused for the session (409), not for Validate's.
    let sync = || api_post("/api/synchronize", Body::empty());
    assert_eq!(status_of(&app, sync()).await, StatusCode::CONFLICT);
    assert_eq!(status_of(&app, sync()).await, StatusCode::TOO_MANY_REQUESTS);

    // The lookup counts distinct addresses; the page refreshing one does not count.
    for address in [
        "a%40x.example",
        "b%40x.example",
        "a%40x.example",
        "A%40X.example",
    ] {
        let response = app.clone().oneshot(lookup_page(address)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{address}");
    }
    let response = app
        .clone()
        .oneshot(lookup_page("c%40x.example"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let html = text(response).await;
    assert!(html.contains("Demasiados intentos"), "{html}");
    assert!(!html.contains("No hay ninguna sincronización"), "{html}");
    // The server function behind the page shares the quota.
    let call = api_post("/api/status", Body::from("address=d%40x.example"));
    assert_eq!(status_of(&app, call).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_quota() {
    let mut config = WebConfig::local();
    config.clients = ClientResolver {
        trusted: TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
        header: ProxyHeader::XForwardedFor,
    };
    let (app, _dir) = app_limited(&config, Limits::per_minute(1, 1, 1));
    let proxy = "10.0.0.1:50000";
    let limited = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(
        status_of(&app, validate_from(proxy, Some("203.0.113.1"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, validate_from(proxy, Some("203.0.113.1"))).await,
        limited
    );
    // Another user behind the same proxy, and one whose browser forged a first hop.
    assert_eq!(
        status_of(&app, validate_from(proxy, Some("203.0.113.2"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, validate_from(proxy, Some("203.0.113.2, 10.0.0.9"))).await,
        limited,
        "the proxy's own hops are skipped"
    );
    assert_eq!(
        status_of(&app, validate_from(proxy, Some("198.18.0.1, 203.0.113.1"))).await,
        limited,
        "a forged hop left of the client changes nothing"
    );
    // A client that is no proxy cannot pick its address.
    let direct = "198.51.100.7:40000";
    assert_eq!(
        status_of(&app, validate_from(direct, Some("203.0.113.3"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, validate_from(direct, Some("203.0.113.4"))).await,
        limited
    );
    // IPv6 clients count per /64.
    assert_eq!(
        status_of(&app, validate_from("[2001:db8:1:2::1]:1", None)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, validate_from("[2001:db8:1:2::99]:1", None)).await,
        limited
    );
    assert_eq!(
        status_of(&app, validate_from("[2001:db8:1:3::1]:1", None)).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_for_other_hosts_and_from_other_origins_are_403() {
    let mut config = WebConfig::local();
    // Behind a proxy that rewrites Host to the listen address, reached at a public URL.
    config.hosts = web::hosts::AllowedHosts::new(
        "127.0.0.1:3000".parse().unwrap(),
        Some("https://copy.example.org"),
        &["alt.example.org"],
    )
    .unwrap();
    let (app, _dir) = app(&config);
    let get = |host: Option<&str>, path: &str| {
        let mut builder = Request::get(path);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(Body::empty()).unwrap()
    };
    for (host, path, expected) in [
        (Some("127.0.0.1:3000"), "/", StatusCode::OK),
        (Some("localhost:3000"), "/", StatusCode::OK),
        (Some("copy.example.org"), "/", StatusCode::OK),
        (Some("alt.example.org:8080"), "/", StatusCode::OK),
        // DNS rebinding: the attacker's name points at this service.
        (Some("rebind.attacker.example"), "/", StatusCode::FORBIDDEN),
        (
            Some("rebind.attacker.example"),
            "/jobs/x",
            StatusCode::FORBIDDEN,
        ),
        (
            Some("rebind.attacker.example"),
            "/pkg/imapcopy.js",
            StatusCode::FORBIDDEN,
        ),
        // Health probes use addresses and names of their own.
        (Some("10.1.2.3:3000"), "/healthz", StatusCode::OK),
        (None, "/healthz", StatusCode::OK),
        (None, "/", StatusCode::BAD_REQUEST),
    ] {
        let response = app.clone().oneshot(get(host, path)).await.unwrap();
        assert_eq!(response.status(), expected, "{host:?} {path}");
    }

    let sync = |host: &str, origin: Option<&str>, fetch_site: Option<&str>| {
        let mut call = api_post("/api/synchronize", Body::empty());
        call.headers_mut()
            .insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            call.headers_mut()
                .insert(header::ORIGIN, origin.parse().unwrap());
        }
        if let Some(site) = fetch_site {
            call.headers_mut()
                .insert("sec-fetch-site", site.parse().unwrap());
        }
        call
    };
    // Getting through the checks means reaching Synchronize: 409 (no wizard session).
    let through = StatusCode::CONFLICT;
    for (host, origin, site, expected) in [
        (
            "127.0.0.1:3000",
            Some("http://127.0.0.1:3000"),
            None,
            through,
        ),
        (
            "127.0.0.1:3000",
            Some("https://copy.example.org"),
            None,
            through,
        ),
        (
            "copy.example.org",
            Some("https://copy.example.org"),
            None,
            through,
        ),
        ("127.0.0.1:3000", None, Some("same-origin"), through),
        ("127.0.0.1:3000", None, None, through),
        // Another port of the same machine is another origin.
        (
            "localhost:3000",
            Some("http://localhost:8080"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "127.0.0.1:3000",
            Some("http://copy.example.org"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            "127.0.0.1:3000",
            Some("https://evil.example"),
            None,
            StatusCode::FORBIDDEN,
        ),
        ("127.0.0.1:3000", Some("null"), None, StatusCode::FORBIDDEN),
        (
            "127.0.0.1:3000",
            None,
            Some("cross-site"),
            StatusCode::FORBIDDEN,
        ),
        (
            "evil.example",
            Some("http://evil.example"),
            None,
            StatusCode::FORBIDDEN,
        ),
    ] {
        let response = app.clone().oneshot(sync(host, origin, site)).await.unwrap();
        assert_eq!(response.status(), expected, "{host} {origin:?} {site:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    use futures::StreamExt;
    let mut config = WebConfig::local();
    config.body.timeout = Duration::from_millis(300);
    let (app, _dir) = app(&config);
    // Chunked (no length) and never finished: a client trickling its body.
    let trickle = futures::stream::once(async { Ok::<_, std::io::Error>(b"side=".to_vec()) })
        .chain(futures::stream::pending());
    let call = api_post("/api/validate_account", Body::from_stream(trickle));
    let response = tokio::time::timeout(Duration::from_secs(5), app.clone().oneshot(call))
        .await
        .expect("the body timeout answers")
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(response.headers()[header::CONNECTION], "close");
}
