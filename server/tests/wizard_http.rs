//! The wizard through the real HTTP router (no browser): server functions posted as a plain
//! form (no JavaScript) and as fetch, the draft cookie, SSR of the result, the outbound guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// `web_support::serial()` is held across awaits on purpose: these tests run one at a time.
#![allow(clippy::await_holding_lock)]

mod web_support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use imapcopy::jobs::store::{Store, SystemClock};
use imapcopy::web::{self, WebConfig};
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::ConnectOptions;
use tower::ServiceExt;
use web_support::{body_text, cookie_pair, form, get, post};

fn router(dovecot: &testkit::Dovecot, policy: AddressPolicy, per_minute: u32) -> axum::Router {
    router_with_store(dovecot, policy, per_minute).0
}

fn router_with_store(
    dovecot: &testkit::Dovecot,
    policy: AddressPolicy,
    per_minute: u32,
) -> (axum::Router, Arc<Store>, tempfile::TempDir) {
    app_for(&dovecot.ca_pem(), policy, per_minute, false)
}

/// The whole HTTP application over a fresh database, trusting `ca_pem`, with `localhost`
/// resolving to 127.0.0.1 through the static resolver.
fn app_for(
    ca_pem: &str,
    policy: AddressPolicy,
    per_minute: u32,
    smtp_reports: bool,
) -> (axum::Router, Arc<Store>, tempfile::TempDir) {
    app_with(
        ca_pem,
        policy,
        per_minute,
        smtp_reports,
        &WebConfig::local(),
    )
}

/// [`app_for`] with the HTTP layers configured by `config`.
fn app_with(
    ca_pem: &str,
    policy: AddressPolicy,
    per_minute: u32,
    smtp_reports: bool,
    config: &WebConfig,
) -> (axum::Router, Arc<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(SystemClock),
    ));
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = ConnectOptions::new(Arc::new(resolver))
        .with_policy(policy)
        .with_ca_pem(ca_pem.to_string())
        .unwrap();
    let service = web_support::service(
        store.clone(),
        connect,
        Default::default(),
        per_minute,
        smtp_reports,
    );
    (web_support::router(service, config), store, dir)
}

fn validate_request(body: String, accept_html: bool, cookie: Option<&str>) -> Request<Body> {
    let mut builder = post("/api/validate_account")
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
    let _serial = web_support::serial();
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
    let response = app
        .clone()
        .oneshot(validate_request(body, true, None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("http://127.0.0.1/"), "{location}");
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("imapcopy_draft="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();

    let page = app
        .clone()
        .oneshot(
            get("/")
                .header(header::COOKIE, &pair)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(page).await;
    assert!(html.contains("Connection established."), "{html}");
    assert!(html.contains("carol@example.test"));
    assert!(!html.contains("pä"), "the password must never be rendered");
    assert!(html.contains("2. Destination account"));

    // A second Validate with an empty password reuses the sealed one from the draft.
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "carol@example.test"),
        ("password", ""),
        ("host", &host),
        ("ssl", "on"),
    ]);
    let response = app
        .clone()
        .oneshot(validate_request(body, false, Some(&pair)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let json = body_text(response).await;
    assert!(json.contains("Established"), "{json}");
    assert!(!json.contains("pä"));

    // Without the draft, an empty password is a field error and nothing is checked.
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "carol@example.test"),
        ("host", &host),
        ("ssl", "on"),
    ]);
    let json = body_text(
        app.clone()
            .oneshot(validate_request(body, false, None))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        json.contains("\"Invalid\"") && json.contains("Password"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_unless_allowed_and_validate_is_rate_limited() {
    let _serial = web_support::serial();
    let dovecot = testkit::Dovecot::start(testkit::Flavour::DotInbox).unwrap();
    dovecot.add_user("dave@example.test", "secret").unwrap();
    let app = router(&dovecot, AddressPolicy::PublicOnly, 2);
    let host = format!("localhost:{}", dovecot.imaps_port());
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "dave@example.test"),
        ("password", "secret"),
        ("host", &host),
        ("ssl", "on"),
    ]);
    let json = body_text(
        app.clone()
            .oneshot(validate_request(body.clone(), false, None))
            .await
            .unwrap(),
    )
    .await;
    assert!(json.contains("AddressNotAllowed"), "{json}");
    // The cause names the server as typed, never the address it resolved to.
    assert!(
        json.contains("localhost resolves to a private, local or reserved address"),
        "{json}"
    );
    assert!(
        !json.contains("127.0.0.1"),
        "the resolved address is shown: {json}"
    );
    let log = dovecot.log_tail(50);
    assert!(
        !log.contains("dave@example.test"),
        "no connection may reach the server: {log}"
    );

    let _ = app
        .clone()
        .oneshot(validate_request(body.clone(), false, None))
        .await
        .unwrap();
    let third = app
        .clone()
        .oneshot(validate_request(body, false, None))
        .await
        .unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = third.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert!(body_text(third).await.contains("RateLimited"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_posts_are_bad_requests_with_a_localized_message() {
    let _serial = web_support::serial();
    let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    let app = router(&dovecot, AddressPolicy::AllowAll, 100);
    for body in [
        "",
        "side=source",
        "side=nonsense&preset=other&login=a&host=h",
        "%%%&&==",
    ] {
        let response = app
            .clone()
            .oneshot(validate_request(body.to_string(), false, None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = body_text(response).await;
        assert!(text.contains("BadRequest"), "{body}: {text}");
    }
    // Invalid UTF-8 is the client's fault too (was "error deserializing server function
    // results", 500).
    let mut request = validate_request(String::new(), false, None);
    *request.body_mut() = Body::from(b"side=source&login=\xff\xfe".to_vec());
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(response).await.contains("BadRequest"));

    // Without JavaScript: back to the page (303), which says it in the page's language.
    let mut request = validate_request("side=source".to_string(), true, None);
    request
        .headers_mut()
        .insert(header::REFERER, "http://127.0.0.1:3000/".parse().unwrap());
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    let path = location.trim_start_matches("http://127.0.0.1:3000");
    assert!(path.contains("__err="), "{location}");
    let page = get_page(&app, path, None).await;
    assert!(
        page.contains("No se ha podido interpretar la solicitud"),
        "{page}"
    );

    // Control characters and oversized values become field errors.
    let long = "x".repeat(5000);
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", &long),
        ("password", "p"),
        ("host", "h\u{1}.test"),
        ("ssl", "on"),
    ]);
    let json = body_text(
        app.clone()
            .oneshot(validate_request(body, false, None))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        json.contains("\"message\":\"TooLong\"") && json.contains("\"message\":\"ControlChars\""),
        "{json}"
    );
}

async fn get_page(app: &axum::Router, path: &str, cookie: Option<&str>) -> String {
    let mut request = get(path).header(header::ACCEPT_LANGUAGE, "es-ES,es;q=0.9");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    body_text(response).await
}

#[tokio::test(flavor = "multi_thread")]
async fn synchronize_queues_one_job_per_source_and_the_lookup_reveals_only_the_state() {
    let _serial = web_support::serial();
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash
        .add_user("erin@example.test", "from-pass")
        .unwrap();
    pair.dot.add_user("erin@new.test", "to-pass").unwrap();
    // One CA file trusting both instances.
    let ca = pair.slash.ca_pem() + &pair.dot.ca_pem();
    let (app, store, _dir) = app_for(&ca, AddressPolicy::AllowAll, 100, false);
    let source_host = format!("localhost:{}", pair.slash.imaps_port());
    let dest_host = format!("localhost:{}", pair.dot.imap_port());

    let mut job_ids = Vec::new();
    for round in 0..2 {
        // Validate both sides (no JavaScript: plain posts, cookie carried by hand).
        let body = form(&[
            ("side", "source"),
            ("preset", "other"),
            ("login", "erin@example.test"),
            ("password", "from-pass"),
            ("host", &source_host),
            ("ssl", "on"),
        ]);
        let response = app
            .clone()
            .oneshot(validate_request(body, true, None))
            .await
            .unwrap();
        let cookie = cookie_pair(&response);
        let body = form(&[
            ("side", "destination"),
            ("preset", "other"),
            ("login", "erin@new.test"),
            ("password", "to-pass"),
            ("host", &dest_host),
        ]);
        let response = app
            .clone()
            .oneshot(validate_request(body, true, Some(&cookie)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let page = get_page(&app, "/", Some(&cookie)).await;
        assert!(
            page.contains("Sincronizar"),
            "both validated: the Synchronize button shows"
        );

        let request = post("/api/synchronize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, "http://127.0.0.1/")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        if round == 0 {
            assert!(location.starts_with("/jobs/"), "{location}");
            job_ids.push(location.trim_start_matches("/jobs/").to_string());
            let page = get_page(&app, &location, None).await;
            assert!(
                page.contains("Se está procesando la sincronización de las cuentas."),
                "{page}"
            );
            assert!(page.contains("erin@example.test"));
        } else {
            // The same source again while the first job is queued: the seed's error format.
            let page = get_page(&app, "/", Some(&cookie)).await;
            assert!(
                page.contains("Se ha producido un error en la sincronización."),
                "{page}"
            );
            assert!(
                page.contains("A task for sync this account exists."),
                "{page}"
            );
        }
    }
    assert_eq!(store.list(10).unwrap().len(), 1, "exactly one job queued");

    // Public lookup: coarse state only; nothing about hosts, ports or the destination.
    let page = get_page(&app, "/status?address=ERIN%40example.test", None).await;
    assert!(
        page.contains("La sincronización aún no ha comenzado. Por favor, espere."),
        "{page}"
    );
    let port = pair.slash.imaps_port().to_string();
    for secret in [
        "localhost",
        port.as_str(),
        "erin@new.test",
        job_ids[0].as_str(),
    ] {
        assert!(!page.contains(secret), "the public lookup reveals {secret}");
    }
    let page = get_page(&app, "/status/nobody%40example.test", None).await;
    assert!(page.contains("No hay ninguna sincronización"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_posts_are_refused_and_pages_carry_a_nonce_csp() {
    let _serial = web_support::serial();
    let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    let mut config = WebConfig::local();
    config.hosts = web::hosts::AllowedHosts::new(
        "127.0.0.1:3000".parse().unwrap(),
        None,
        &["imapcopy.example"],
    )
    .unwrap();
    let (app, _store, _dir) = app_with(
        &dovecot.ca_pem(),
        AddressPolicy::AllowAll,
        100,
        false,
        &config,
    );
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "a"),
        ("password", "b"),
        ("host", "h.test"),
    ]);
    let mut request = validate_request(body.clone(), true, None);
    request
        .headers_mut()
        .insert(header::HOST, "imapcopy.example".parse().unwrap());
    request
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let mut request = validate_request(body, false, None);
    request
        .headers_mut()
        .insert(header::HOST, "imapcopy.example".parse().unwrap());
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://imapcopy.example".parse().unwrap());
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
    // A rebinding page: its own name as Host and as Origin. Refused for the Host.
    let mut request = validate_request(form(&[("side", "source")]), false, None);
    request
        .headers_mut()
        .insert(header::HOST, "rebound.example".parse().unwrap());
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://rebound.example".parse().unwrap());
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_text(response).await, "unknown host");

    let response = app
        .clone()
        .oneshot(get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce in CSP")
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    let html = body_text(response).await;
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the nonce"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_language_is_chosen_switched_and_remembered() {
    let _serial = web_support::serial();
    let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    let app = router(&dovecot, AddressPolicy::AllowAll, 100);
    let page = get_page(&app, "/", None).await; // Accept-Language: es
    assert!(page.contains("<html lang=\"es\"") && page.contains("Cuenta de origen"));
    let response = app
        .clone()
        .oneshot(
            get("/lang/fr")
                .header(header::REFERER, "http://x/status?address=a%40b.c")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/status?address=a%40b.c"
    );
    let cookie = cookie_pair(&response);
    let page = get_page(&app, "/", Some(&cookie)).await;
    assert!(
        page.contains("<html lang=\"fr\"") && page.contains("Compte source"),
        "{page}"
    );
    // No open redirect through the language switch.
    let response = app
        .clone()
        .oneshot(
            get("/lang/en")
                .header(header::REFERER, "//evil.example/x")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()[header::LOCATION], "/");
}

/// A scripted IMAP server that offers no encryption at all (no STARTTLS), as some old hosts do.
async fn plaintext_only_server() -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write
                    .write_all(
                        b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain-only server ready\r\n",
                    )
                    .await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut words = line.splitn(3, ' ');
                    let tag = words.next().unwrap_or("*").to_string();
                    let command = words.next().unwrap_or("").to_ascii_uppercase();
                    let reply = match command.as_str() {
                        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n"),
                        "AUTHENTICATE" => {
                            let _ = write.write_all(b"+ \r\n").await;
                            let _ = lines.next_line().await;
                            format!("{tag} OK logged in\r\n")
                        }
                        "LIST" => format!("* LIST () \"/\" INBOX\r\n{tag} OK done\r\n"),
                        "STATUS" => format!("* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7)\r\n{tag} OK done\r\n"),
                        "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() || command == "LOGOUT" {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_needs_an_explicit_confirmation() {
    let _serial = web_support::serial();
    let dovecot = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    let app = router(&dovecot, AddressPolicy::AllowAll, 100);
    let port = plaintext_only_server().await.to_string();
    let base = [
        ("side", "source"),
        ("preset", "other"),
        ("login", "old@host.test"),
        ("password", "pw"),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
    ];
    // SSL unticked means STARTTLS: refused when the server does not offer it.
    let json = body_text(
        app.clone()
            .oneshot(validate_request(form(&base), false, None))
            .await
            .unwrap(),
    )
    .await;
    assert!(json.contains("StartTlsNotOffered"), "{json}");
    // With the explicit confirmation, the plain connection is accepted.
    let mut confirmed = base.to_vec();
    confirmed.push(("plaintext", "on"));
    let json = body_text(
        app.clone()
            .oneshot(validate_request(form(&confirmed), false, None))
            .await
            .unwrap(),
    )
    .await;
    assert!(json.contains("Established"), "{json}");
    assert!(json.contains("\"plaintext\":true"), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_smtp_relay_a_destination_login_without_address_asks_where_the_report_goes() {
    let _serial = web_support::serial();
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user("gil@old.test", "from").unwrap();
    pair.dot.add_user("gil", "to").unwrap();
    let ca = pair.slash.ca_pem() + &pair.dot.ca_pem();
    let (app, store, _dir) = app_for(&ca, AddressPolicy::AllowAll, 100, true);
    let src = format!("localhost:{}", pair.slash.imaps_port());
    let dst = format!("localhost:{}", pair.dot.imaps_port());
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "gil@old.test"),
        ("password", "from"),
        ("host", &src),
        ("ssl", "on"),
    ]);
    let response = app
        .clone()
        .oneshot(validate_request(body, true, None))
        .await
        .unwrap();
    let cookie = cookie_pair(&response);
    let body = form(&[
        ("side", "destination"),
        ("preset", "other"),
        ("login", "gil"),
        ("password", "to"),
        ("host", &dst),
        ("ssl", "on"),
    ]);
    app.clone()
        .oneshot(validate_request(body, true, Some(&cookie)))
        .await
        .unwrap();
    let page = get_page(&app, "/", Some(&cookie)).await;
    assert!(
        page.contains("Enviar el informe a"),
        "the wizard asks for the report address"
    );

    let sync = |report_to: &str| {
        post("/api/synchronize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, &cookie)
            .body(Body::from(form(&[("report_to", report_to)])))
            .unwrap()
    };
    let json = body_text(app.clone().oneshot(sync("not an address")).await.unwrap()).await;
    assert!(
        json.contains("\"report_to_error\":\"InvalidAddress\""),
        "{json}"
    );
    assert!(store.list(10).unwrap().is_empty());
    let json = body_text(app.clone().oneshot(sync("gil@example.org")).await.unwrap()).await;
    assert!(json.contains("\"job_id\":\""), "{json}");
    let jobs = store.list(10).unwrap();
    assert_eq!(jobs[0].report_to.as_deref(), Some("gil@example.org"));
}

/// A router whose connections trust all of `servers`.
fn trusting_router(servers: &[&testkit::Dovecot]) -> (axum::Router, tempfile::TempDir) {
    let all: String = servers.iter().map(|d| d.ca_pem()).collect();
    let (app, _store, dir) = app_for(&all, AddressPolicy::AllowAll, 100, false);
    (app, dir)
}

async fn preflight_json(app: &axum::Router, cookie: Option<&str>) -> String {
    let mut request = post("/api/preflight")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    body_text(response).await
}

#[tokio::test(flavor = "multi_thread")]
async fn once_both_accounts_are_validated_the_page_shows_the_preflight() {
    let _serial = web_support::serial();
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash
        .add_user("pat@example.test", "from-pass")
        .unwrap();
    pair.dot
        .add_user_with_limits("pat@new.test", "to-pass", Some(10), None)
        .unwrap();
    pair.slash
        .create_mailbox("pat@example.test", "Archive/2020")
        .unwrap();
    pair.slash
        .create_mailbox("pat@example.test", "Empty")
        .unwrap();
    let raw = format!(
        "From: a@example.test\r\nSubject: big\r\n\r\n{}\r\n",
        "x".repeat(20_000)
    );
    pair.slash
        .append(
            "pat@example.test",
            "Archive/2020",
            &[],
            None,
            raw.as_bytes(),
        )
        .unwrap();
    pair.slash
        .append(
            "pat@example.test",
            "INBOX",
            &[],
            None,
            b"Subject: small\r\n\r\nhi\r\n",
        )
        .unwrap();
    let (app, _dir) = trusting_router(&[&pair.slash, &pair.dot]);
    let source_host = format!("localhost:{}", pair.slash.imaps_port());
    let dest_host = format!("localhost:{}", pair.dot.imaps_port());

    // No draft, or only the source validated: no preflight.
    assert_eq!(preflight_json(&app, None).await, "null");
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "pat@example.test"),
        ("password", "from-pass"),
        ("host", &source_host),
        ("ssl", "on"),
    ]);
    let response = app
        .clone()
        .oneshot(validate_request(body, true, None))
        .await
        .unwrap();
    let cookie = cookie_pair(&response);
    assert_eq!(preflight_json(&app, Some(&cookie)).await, "null");
    let english = |path: &'static str| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let request = get(path)
                .header(header::ACCEPT_LANGUAGE, "en")
                .header(header::COOKIE, &cookie);
            body_text(
                app.oneshot(request.body(Body::empty()).unwrap())
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert!(!english("/").await.contains("What the copy will do"));

    let body = form(&[
        ("side", "destination"),
        ("preset", "other"),
        ("login", "pat@new.test"),
        ("password", "to-pass"),
        ("host", &dest_host),
        ("ssl", "on"),
    ]);
    let response = app
        .clone()
        .oneshot(validate_request(body, true, Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Rendered on the server (no JavaScript needed): the mapping, what gets created, totals and
    // the quota warning (10 KiB cannot hold 20 KB).
    let page = english("/").await;
    assert!(page.contains("What the copy will do"), "{page}");
    assert!(
        page.contains(">Where each source folder goes</caption>"),
        "{page}"
    );
    assert!(
        page.contains("<th scope=\"col\">Source folder</th>"),
        "{page}"
    );
    assert!(page.contains(">Archive/2020</th>"), "{page}");
    assert!(page.contains("INBOX.Archive.2020"), "{page}");
    assert!(page.contains("INBOX.Empty"), "{page}");
    assert!(page.contains("will be created"), "{page}");
    assert!(page.contains("2 messages to copy ("), "{page}");
    // A source without an All Mail folder has no labels to choose about.
    assert!(!page.contains("How to copy the labels"), "{page}");
    assert!(page.contains("Destination quota:"), "{page}");
    assert!(
        page.contains("The destination may run out of space"),
        "{page}"
    );
    for secret in ["from-pass", "to-pass"] {
        assert!(!page.contains(secret), "the page shows a password");
    }
    std::thread::sleep(Duration::from_millis(500)); // let Dovecot's log catch up
    let before = pair
        .slash
        .log_tail(400)
        .matches("Login: user=<pat@example.test>")
        .count();
    assert!(
        before >= 2,
        "Validate and the preflight logged in: {before}"
    );

    // The same answer as JSON (the hydrated page's call), from the draft's cache: no new login.
    let json = preflight_json(&app, Some(&cookie)).await;
    assert!(
        json.contains("\"destination\":\"INBOX.Archive.2020\",\"will_create\":true"),
        "{json}"
    );
    assert!(
        !json.contains("from-pass") && !json.contains("to-pass") && !json.contains("localhost"),
        "{json}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let after = pair
        .slash
        .log_tail(400)
        .matches("Login: user=<pat@example.test>")
        .count();
    assert_eq!(before, after, "the cached preflight does not log in again");

    // In Spanish too.
    let page = get_page(&app, "/", Some(&cookie)).await;
    assert!(
        page.contains("Qué hará la copia") && page.contains("se creará"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_preflight_says_why_and_synchronize_stays_available() {
    let _serial = web_support::serial();
    let source = testkit::Dovecot::start(testkit::Flavour::Slash).unwrap();
    let destination = testkit::Dovecot::start(testkit::Flavour::DotInbox).unwrap();
    source.add_user("quinn@example.test", "from-pass").unwrap();
    destination
        .add_user("quinn@example.test", "to-pass")
        .unwrap();
    let (app, _dir) = trusting_router(&[&source, &destination]);
    let body = form(&[
        ("side", "source"),
        ("preset", "other"),
        ("login", "quinn@example.test"),
        ("password", "from-pass"),
        ("host", &format!("localhost:{}", source.imaps_port())),
        ("ssl", "on"),
    ]);
    let response = app
        .clone()
        .oneshot(validate_request(body, true, None))
        .await
        .unwrap();
    let cookie = cookie_pair(&response);
    let body = form(&[
        ("side", "destination"),
        ("preset", "other"),
        ("login", "quinn@example.test"),
        ("password", "to-pass"),
        ("host", &format!("localhost:{}", destination.imaps_port())),
        ("ssl", "on"),
    ]);
    app.clone()
        .oneshot(validate_request(body, true, Some(&cookie)))
        .await
        .unwrap();
    // The destination goes away between Validate and the preflight.
    drop(destination);

    let request = get("/")
        .header(header::ACCEPT_LANGUAGE, "en")
        .header(header::COOKIE, &cookie);
    let page = body_text(
        app.clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert!(
        page.contains("The preview of the copy could not be prepared; you can still synchronize."),
        "{page}"
    );
    assert!(
        page.contains("The server refused the connection on this port."),
        "{page}"
    );
    assert!(page.contains("Synchronize</button>"), "{page}");
    assert!(!page.contains("Where each source folder goes"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lookup_finds_a_login_at_its_registrable_domain_and_asks_when_ambiguous() {
    use imapcopy::jobs::store::{AccountSecret, AccountSpec, NewJob};
    use secrecy::SecretString;
    let _serial = web_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(SystemClock),
    ));
    let account = |login: &str, host: &str| AccountSpec {
        host: host.into(),
        port: 993,
        security: mailcopy::Security::Tls,
        login: login.into(),
    };
    for host in ["ssl0.ovh.net", "mail.example.org"] {
        store
            .insert(NewJob {
                resolved: Default::default(),
                source: account("support", host),
                source_secret: AccountSecret::Password(SecretString::from("one")),
                destination: account("dest@example.test", "imap.dest.test"),
                destination_secret: AccountSecret::Password(SecretString::from("two")),
                lang: "en".into(),
                report_to: None,
                labels: Default::default(),
            })
            .unwrap();
    }
    let connect = ConnectOptions::new(Arc::new(StaticResolver::new()));
    let service = web_support::service(store, connect, Default::default(), 100, false);
    let app = web_support::router(service, &WebConfig::local());

    // Without JavaScript: the page rendered on the server.
    let page = get_page(&app, "/status/support%40ovh.net", None).await;
    assert!(
        page.contains("La sincronización aún no ha comenzado."),
        "{page}"
    );
    assert!(!page.contains("ssl0"), "the lookup reveals the host");
    let page = get_page(&app, "/status?address=support%40net", None).await;
    assert!(page.contains("No hay ninguna sincronización"), "{page}");
    let page = get_page(&app, "/status?address=support", None).await;
    assert!(
        page.contains("Varias sincronizaciones usan este nombre de usuario."),
        "{page}"
    );
    for secret in ["ssl0", "example.org", "ovh"] {
        assert!(!page.contains(secret), "the lookup reveals {secret}");
    }

    // The server function the hydrated page calls says the same.
    let call = post("/api/status")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::REFERER, "http://127.0.0.1/")
        .body(Body::from("address=support"))
        .unwrap();
    let response = app.clone().oneshot(call).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(web_support::body_text(response).await, "\"Ambiguous\"");
}

/// Validates a source (`login` at `source`, implicit TLS or not) and a destination through
/// plain posts; returns the draft cookie, ready for Synchronize.
async fn validated_draft(
    app: &axum::Router,
    (login, password, source, ssl): (&str, &str, &str, bool),
    (dest_login, dest_password, destination): (&str, &str, &str),
) -> String {
    let mut fields = vec![
        ("side", "source"),
        ("preset", "other"),
        ("login", login),
        ("password", password),
        ("host", source),
    ];
    if ssl {
        fields.push(("ssl", "on"));
    }
    let response = app
        .clone()
        .oneshot(validate_request(form(&fields), true, None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = cookie_pair(&response);
    let body = form(&[
        ("side", "destination"),
        ("preset", "other"),
        ("login", dest_login),
        ("password", dest_password),
        ("host", destination),
    ]);
    let response = app
        .clone()
        .oneshot(validate_request(body, true, Some(&cookie)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = get_page(app, "/", Some(&cookie)).await;
    assert!(page.contains("Sincronizar"), "{source}: {page}");
    cookie
}

/// Synchronize without JavaScript; the redirect's target.
async fn synchronize(app: axum::Router, cookie: String) -> String {
    let request = post("/api/synchronize")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://127.0.0.1/")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_mailbox_under_any_name_or_port_gets_one_job_and_jobs_into_one_mailbox_queue() {
    let _serial = web_support::serial();
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash
        .add_user("gil@example.test", "from-pass")
        .unwrap();
    pair.slash.add_user("hal@example.test", "hal-pass").unwrap();
    pair.dot.add_user("gil@new.test", "to-pass").unwrap();
    let ca = pair.slash.ca_pem() + &pair.dot.ca_pem();
    let (app, store, _dir) = app_for(&ca, AddressPolicy::AllowAll, 100, false);
    let destination = format!("localhost:{}", pair.dot.imap_port());
    let dest = ("gil@new.test", "to-pass", destination.as_str());

    // One source mailbox under two names (the static resolver maps localhost to 127.0.0.1)
    // and both ports: implicit TLS and STARTTLS.
    let imaps = pair.slash.imaps_port();
    let imap = pair.slash.imap_port();
    let aliases = [
        (format!("localhost:{imaps}"), true),
        (format!("127.0.0.1:{imaps}"), true),
        (format!("LOCALHOST:{imap}"), false),
        (format!("127.0.0.1:{imap}"), false),
    ];
    let mut cookies = Vec::new();
    for (host, ssl) in &aliases {
        let source = ("GIL@example.test", "from-pass", host.as_str(), *ssl);
        cookies.push(validated_draft(&app, source, dest).await);
    }
    // All four Synchronize requests at once: the database lets exactly one through.
    let requests = cookies
        .into_iter()
        .map(|cookie| tokio::spawn(synchronize(app.clone(), cookie)));
    let locations: Vec<String> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let queued: Vec<_> = locations
        .iter()
        .filter(|l| l.starts_with("/jobs/"))
        .collect();
    assert_eq!(queued.len(), 1, "{locations:?}");
    assert_eq!(store.list(10).unwrap().len(), 1);

    // Another mailbox into the same destination mailbox is accepted, and waits its turn.
    let source = ("hal@example.test", "hal-pass", aliases[0].0.as_str(), true);
    let cookie = validated_draft(&app, source, dest).await;
    let second = synchronize(app.clone(), cookie).await;
    assert!(second.starts_with("/jobs/"), "{second}");
    let first = store.claim("node", 60_000).unwrap().unwrap();
    assert_eq!(format!("/jobs/{}", first.id), *queued[0]);
    assert!(
        store.claim("node", 60_000).unwrap().is_none(),
        "two jobs into gil@new.test never run at the same time"
    );
    store.complete(&first.id, "node", "complete", "{}").unwrap();
    let next = store.claim("node", 60_000).unwrap().unwrap();
    assert_eq!(format!("/jobs/{}", next.id), second);
}

/// Synchronize with these form fields, as a plain form (`text/html`) or as fetch: the answer's
/// status and location.
async fn synchronize_with(
    app: &axum::Router,
    cookie: &str,
    fields: &[(&str, &str)],
    accept: &str,
) -> (StatusCode, Option<String>) {
    let request = post("/api/synchronize")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, accept)
        .header(header::REFERER, "http://127.0.0.1/")
        .header(header::COOKIE, cookie)
        .body(Body::from(form(fields)))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    (response.status(), location)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_with_labels_offers_both_ways_to_copy_them_and_the_job_keeps_the_choice() {
    let _serial = web_support::serial();
    let src = testkit::Dovecot::start(testkit::Flavour::GmailLike).unwrap();
    let dst = testkit::Dovecot::start(testkit::Flavour::DotInbox).unwrap();
    src.add_user("lee@example.test", "from-pass").unwrap();
    dst.add_user("lee@new.test", "to-pass").unwrap();
    src.create_mailbox("lee@example.test", "Work").unwrap();
    src.create_mailbox("lee@example.test", "Travel").unwrap();
    let put = |folder: &str, subject: &str| {
        let raw = format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n");
        src.append("lee@example.test", folder, &[], None, raw.as_bytes())
            .unwrap();
    };
    put("INBOX", "inbox");
    put("Work", "work");
    put("Work", "both");
    put("Travel", "both");
    src.append_archived(
        "lee@example.test",
        &[],
        None,
        b"Subject: archived\r\n\r\narchived\r\n",
    )
    .unwrap();
    let (app, store, _dir) = app_for(
        &format!("{}{}", src.ca_pem(), dst.ca_pem()),
        AddressPolicy::AllowAll,
        100,
        false,
    );
    let cookie = validated_draft(
        &app,
        (
            "lee@example.test",
            "from-pass",
            &format!("localhost:{}", src.imaps_port()),
            true,
        ),
        (
            "lee@new.test",
            "to-pass",
            &format!("localhost:{}", dst.imap_port()),
        ),
    )
    .await;

    // Rendered on the server (in Spanish, as the browser asks): two radio buttons of the
    // Synchronize form, "folders as in Gmail" checked, each with what it copies (the label
    // folders hold 4 messages).
    let page = get_page(&app, "/", Some(&cookie)).await;
    assert!(page.contains("Cómo copiar las etiquetas"), "{page}");
    assert!(page.contains("id=\"sync-form\""), "{page}");
    let radio = |value: &str| {
        let at = page
            .find(&format!("value=\"{value}\""))
            .unwrap_or_else(|| panic!("no {value} option: {page}"));
        let start = page[..at].rfind("<input").unwrap();
        let end = at + page[at..].find('>').unwrap();
        page[start..=end].to_string()
    };
    let folders = radio("folders");
    let one_copy = radio("one-copy");
    for input in [&folders, &one_copy] {
        assert!(
            input.contains("type=\"radio\"")
                && input.contains("name=\"labels\"")
                && input.contains("form=\"sync-form\""),
            "{input}"
        );
    }
    assert!(folders.contains("checked"), "{folders}");
    assert!(!one_copy.contains("checked"), "{one_copy}");
    assert!(page.contains("4 mensajes, más los archivados."), "{page}");
    assert!(page.contains("Una copia de cada mensaje"), "{page}");

    // A value that is neither: a client's mistake, and no job.
    let (status, _) =
        synchronize_with(&app, &cookie, &[("labels", "both")], "application/json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(store.list(10).unwrap().is_empty());

    // The choice goes with the job.
    let (status, location) =
        synchronize_with(&app, &cookie, &[("labels", "one-copy")], "text/html").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().starts_with("/jobs/"));
    let jobs = store.list(10).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].labels, mailcopy::LabelPolicy::OneCopyOfEachMessage);
}
