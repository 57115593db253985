//! Jobs whose accounts sign in with OAuth2, against real servers on loopback: testkit's
//! oidc-provider (refresh tokens rotated on every use, reuse detection revoking the grant)
//! and a Dovecot whose oauth2 passdb checks every token by introspection. Access tokens live
//! a few seconds; Dovecot keeps a session whose token expired (it checks tokens at login
//! only), so the harness kicks the sessions when the tokens expire, as Exchange Online ends
//! them, and a proxy sends Exchange's `* BYE Session invalidated - AccessTokenExpired` in the
//! middle of APPENDs. Every job must end exact: the same folders, messages and flags on both
//! sides, nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod resilient;
mod web_support;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use imapcopy::jobs::runner::{Runner, RunnerConfig};
use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{
    AccountSecret, AccountSpec, Job, NewJob, OAuthGrant, Side, Store, SystemClock,
};
use imapcopy::jobs::JobStore;
use imapcopy::oauth::provider::GenericProviderFile;
use imapcopy::oauth::{
    KeeperSlot, OAuthClient, OAuthHttp, ProviderId, Providers, TokenKeeper, Tokens, UnixMs,
};
use imapcopy::report::{Delivery, Reporter};
use mailcopy::copy::{CancellationToken, CopyOptions};
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{ConnectOptions, Security, TokenSource};
use secrecy::{ExposeSecret, SecretString};
use testkit::bye_proxy::ByeProxy;
use testkit::oauth2::{OAuth2Client, OAuth2Provider, ProviderOptions};
use testkit::proxy::{DelayProxy, ProxyOptions};
use testkit::{Dovecot, Flavour, OAuth2Login, Options};

/// The client whose access tokens expire after [`SHORT_TTL`].
const SHORT: &str = "imapcopy-short";
const SHORT_TTL: Duration = Duration::from_secs(2);
/// The client whose tokens live an hour.
const LONG: &str = "imapcopy-long";
/// Refresh this long before expiry (the service's margin is 5 minutes).
const MARGIN: Duration = Duration::from_secs(1);
/// Passwords of the Dovecot users, for the harness's own logins (seeding, reading back).
const PW: &str = "harness-only-password";

fn provider() -> &'static OAuth2Provider {
    static P: OnceLock<OAuth2Provider> = OnceLock::new();
    P.get_or_init(|| {
        let redirect = "http://127.0.0.1:9/oauth2/callback";
        let mut short = OAuth2Client::new(SHORT, redirect);
        short.access_token_ttl = Some(SHORT_TTL);
        OAuth2Provider::start(ProviderOptions {
            clients: vec![short, OAuth2Client::new(LONG, redirect)],
            ..ProviderOptions::default()
        })
        .expect("starting the OAuth2 provider")
    })
}

/// One Dovecot for every test here (each test has its own users): tokens by introspection,
/// passwords for the harness.
fn dovecot() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| {
        let p = provider();
        let mut options = Options::new(Flavour::Slash);
        options.oauth2 = Some(OAuth2Login {
            introspection_url: p.introspection_url(p.client_named(LONG).unwrap()),
            mechanisms: "xoauth2 oauthbearer".to_string(),
        });
        Dovecot::start_with(options).expect("starting Dovecot with the oauth2 passdb")
    })
}

/// The operator's provider file for a test client (IMAP host `localhost`).
fn provider_toml(client_id: &str) -> String {
    let base = format!("http://127.0.0.1:{}", provider().port());
    format!(
        r#"
name = "{client_id}"
authorization_endpoint = "{base}/auth"
token_endpoint = "{base}/token"
revocation_endpoint = "{base}/token/revocation"
userinfo_endpoint = "{base}/me"
scopes = ["openid", "email", "offline_access", "imap"]
imap_scope = "imap"
imap_hosts = ["localhost"]
client_id = "{client_id}"
"#
    )
}

/// The provider as the service knows it: one generic provider per test client (a refresh
/// token only refreshes with the client it was issued to).
fn oauth_client(client_id: &str) -> Arc<OAuthClient> {
    let p = provider();
    let file = GenericProviderFile::parse(&provider_toml(client_id)).unwrap();
    let secret = p.client_named(client_id).unwrap().client_secret.clone();
    OAuthClient::new(
        file.spec().unwrap(),
        client_id,
        SecretString::from(secret),
        "http://127.0.0.1:9/oauth2/callback",
    )
    .unwrap()
}

fn providers() -> Providers {
    Providers::from_clients(vec![oauth_client(SHORT), oauth_client(LONG)])
}

/// Signs `login` in with the client, as the wizard will: the grant a job keeps.
fn sign_in(client_id: &str, login: &str) -> (OAuthGrant, testkit::oauth2::Tokens) {
    let p = provider();
    let t = p
        .sign_in(p.client_named(client_id).unwrap(), login)
        .unwrap();
    let grant = OAuthGrant {
        provider: ProviderId::Generic(client_id.to_string()),
        tokens: Tokens {
            access_token: SecretString::from(t.access_token.clone()),
            refresh_token: t.refresh_token.clone().map(SecretString::from),
            expires_at: t
                .expires_in
                .map(|s| UnixMs::now().plus(Duration::from_secs(s))),
            scope: Some(t.scope.clone()),
        },
    };
    (grant, t)
}

fn message(tag: &str, n: usize) -> Vec<u8> {
    format!(
        "From: s{n}@example.test\r\nSubject: {tag} {n}\r\nMessage-ID: <{tag}.{n}@example.test>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n{}",
        "A body line of some length, so that a message is about two kilobytes.\r\n".repeat(28)
    )
    .into_bytes()
}

/// `folders` folders (INBOX first) of `per_folder` messages each, every third one flagged,
/// and an empty folder.
fn seed(d: &Dovecot, user: &str, folders: usize, per_folder: usize) {
    d.add_user(user, PW).unwrap();
    let mut c = resilient::Client::new(d, user);
    for f in 0..folders {
        let name = if f == 0 {
            "INBOX".to_string()
        } else {
            let name = format!("Folder{f}");
            d.create_mailbox(user, &name).unwrap();
            name
        };
        for n in 0..per_folder {
            let flags: &[&str] = match n % 3 {
                0 => &["\\Seen", "$Label1"],
                1 => &["\\Flagged"],
                _ => &[],
            };
            c.append(
                &name,
                flags,
                Some("02-Feb-2022 08:30:00 +0100"),
                &message(&format!("{user}.{f}"), n),
            );
        }
    }
    c.logout();
    d.create_mailbox(user, "Empty").unwrap();
}

/// Folder → (Message-ID, flags) of every message, sorted: what must be equal on both sides.
type Snapshot = BTreeMap<String, Vec<(String, Vec<String>)>>;

fn snapshot(d: &Dovecot, user: &str) -> Snapshot {
    let mut c = resilient::Client::new(d, user);
    let mut out = Snapshot::new();
    for folder in d.list_mailboxes(user).unwrap() {
        let name = testkit::imap::encode_mailbox_name(&folder);
        c.command(&format!("EXAMINE \"{name}\""));
        let lines = c.command("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
        let mut messages: Vec<(String, Vec<String>)> = lines
            .iter()
            .filter(|l| l.contains(" FETCH ("))
            .map(|l| {
                let flags = l
                    .find("FLAGS (")
                    .map(|i| &l[i + 7..])
                    .and_then(|rest| rest.split(')').next())
                    .unwrap_or_default();
                let mut flags: Vec<String> = flags
                    .split_whitespace()
                    .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                    .map(str::to_string)
                    .collect();
                flags.sort();
                let id = l
                    .find("Message-ID: <")
                    .map(|i| &l[i + 13..])
                    .and_then(|rest| rest.split('>').next())
                    .unwrap_or_default()
                    .to_string();
                (id, flags)
            })
            .collect();
        messages.sort();
        out.insert(folder, messages);
    }
    c.logout();
    out
}

/// Both sides hold the same folders, messages and flags, and no message twice.
fn assert_exact(d: &Dovecot, source: &str, destination: &str, messages: usize) {
    let (src, dst) = (snapshot(d, source), snapshot(d, destination));
    let count = |s: &Snapshot| s.values().map(Vec::len).sum::<usize>();
    assert_eq!(count(&src), messages, "seeded");
    for (folder, list) in &dst {
        let mut ids: Vec<&String> = list.iter().map(|(id, _)| id).collect();
        ids.dedup();
        assert_eq!(ids.len(), list.len(), "{folder} holds a message twice");
    }
    assert_eq!(dst, src, "the destination differs from the source");
}

struct World {
    store: Arc<Store>,
    connect: Arc<ConnectOptions>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let d = dovecot();
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = Arc::new(
        ConnectOptions::new(Arc::new(resolver))
            .with_policy(AddressPolicy::AllowAll)
            .with_ca_pem(d.ca_pem())
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::from_key_file(&dir.path().join("secret.key")).unwrap(),
        Arc::new(SystemClock),
    ));
    World {
        store,
        connect,
        _dir: dir,
    }
}

fn account(port: u16, security: Security, login: &str) -> AccountSpec {
    AccountSpec {
        host: "localhost".into(),
        port,
        security,
        login: login.into(),
    }
}

fn queue(
    w: &World,
    source: (AccountSpec, AccountSecret),
    dest: (AccountSpec, AccountSecret),
) -> String {
    w.store
        .insert(NewJob {
            resolved: Default::default(),
            source: source.0,
            source_secret: source.1,
            destination: dest.0,
            destination_secret: dest.1,
            lang: "en".into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap()
}

fn config() -> RunnerConfig {
    RunnerConfig {
        concurrency: 1,
        heartbeat: Duration::from_millis(100),
        poll: Duration::from_millis(100),
        retry_base: Duration::from_millis(100),
        copy: CopyOptions {
            connections: 2,
            ..CopyOptions::default()
        },
        providers: providers(),
        token_refresh_margin: MARGIN,
        ..RunnerConfig::default()
    }
}

/// A runner in the background until the returned token is cancelled.
fn start(
    w: &World,
    config: RunnerConfig,
    after: Option<Arc<dyn imapcopy::jobs::runner::AfterJob>>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let runner = Arc::new(Runner {
        store: w.store.clone(),
        connect: w.connect.clone(),
        config,
        after,
    });
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));
    (shutdown, task)
}

async fn stop((shutdown, task): (CancellationToken, tokio::task::JoinHandle<()>)) {
    shutdown.cancel();
    task.await.unwrap();
}

/// Polls the job until `done` (at most `secs`).
async fn wait_for(w: &World, id: &str, secs: u64, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let job = w.store.get(id).unwrap().unwrap();
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not get there in time: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn messages_done(job: &Job) -> u64 {
    job.progress
        .as_deref()
        .and_then(|p| serde_json::from_str::<app::model::ProgressView>(p).ok())
        .map_or(0, |p| p.messages_done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_across_several_token_expiries_and_ends_exact() {
    let d = dovecot();
    let (src, dst) = ("expiry-src@example.test", "expiry-dst@example.test");
    seed(d, src, 4, 60);
    d.add_user(dst, PW).unwrap();
    // The destination's upload is slow (about 5 s for the whole copy): the copy outlives its
    // tokens.
    let slow = DelayProxy::start_with(
        d.imaps_port(),
        ProxyOptions {
            upstream_rate: 75_000,
            ..ProxyOptions::default()
        },
    )
    .unwrap();
    let w = world();
    let (src_grant, _) = sign_in(SHORT, src);
    let (dst_grant, _) = sign_in(SHORT, dst);
    let id = queue(
        &w,
        (
            account(d.imaps_port(), Security::Tls, src),
            AccountSecret::OAuth2(src_grant),
        ),
        (
            account(slow.port(), Security::Tls, dst),
            AccountSecret::OAuth2(dst_grant),
        ),
    );
    // Sessions end when their tokens expire.
    let kicks = (d.kick_every(src, SHORT_TTL), d.kick_every(dst, SHORT_TTL));
    let runner = start(&w, config(), None);
    let job = wait_for(&w, &id, 60, |j| j.state.is_final() && !j.has_secrets).await;
    stop(runner).await;
    let kicked = kicks.0.kicks() + kicks.1.kicks();
    drop(kicks);
    assert_eq!(
        (job.state, job.outcome.as_deref()),
        (JobState::Finished, Some("complete")),
        "{job:?}\n{}",
        d.log_tail(30)
    );
    let ran = Duration::from_millis((job.finished_at.unwrap() - job.started_at.unwrap()) as u64);
    assert!(
        ran > SHORT_TTL * 2,
        "the copy took only {ran:?}: no token expired during it"
    );
    assert!(kicked >= 2, "sessions were kicked");
    assert_exact(d, src, dst, 240);
    // The tokens were renewed at the provider, and never by presenting a rotated refresh
    // token twice (that would have revoked the grant and stopped the job).
    let (s, t) = (
        provider().refreshes(src).unwrap(),
        provider().refreshes(dst).unwrap(),
    );
    assert!(s.granted + t.granted >= 3, "{s:?} {t:?}");
    assert_eq!((s.refused, t.refused), (0, 0));
    assert!(w.store.secrets(&id).unwrap().is_none(), "wiped once final");
}

/// The keeper of one side, as two (here eight) lanes use it: they all need a new token at
/// the same moment; the provider sees one refresh, and everyone gets its token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lanes_needing_a_refresh_at_once_cause_one_refresh() {
    let who = "lanes@example.test";
    let w = world();
    let (grant, first) = sign_in(SHORT, who);
    let issued = Instant::now();
    let id = queue(
        &w,
        (
            account(1, Security::Tls, who),
            AccountSecret::OAuth2(grant.clone()),
        ),
        (
            account(1, Security::Tls, "dst@example.test"),
            AccountSecret::Password(SecretString::from("pw")),
        ),
    );
    let store: Arc<dyn JobStore> = w.store.clone();
    let keeper = Arc::new(
        TokenKeeper::new(
            KeeperSlot {
                store: store.clone(),
                job_id: id.clone(),
                side: Side::Source,
            },
            grant.tokens.clone(),
            oauth_client(SHORT),
            OAuthHttp::new().unwrap(),
        )
        .with_margin(MARGIN),
    );
    // Fresh: handed out as it is.
    let t = keeper.access_token(None).await.unwrap();
    assert_eq!(t.expose_secret(), first.access_token);
    assert_eq!(keeper.refreshes(), 0);

    // Within the margin: every caller needs a new one at once.
    tokio::time::sleep(
        (SHORT_TTL - MARGIN + Duration::from_millis(200)).saturating_sub(issued.elapsed()),
    )
    .await;
    let before = provider().refreshes(who).unwrap();
    let got = futures::future::join_all((0..8).map(|_| {
        let k = keeper.clone();
        async move { k.access_token(None).await.unwrap() }
    }))
    .await;
    let after = provider().refreshes(who).unwrap();
    assert_eq!((after.granted - before.granted, after.refused), (1, 0));
    assert_eq!(keeper.refreshes(), 1);
    let renewed = got[0].expose_secret().to_string();
    assert_ne!(renewed, first.access_token);
    assert!(got.iter().all(|t| t.expose_secret() == renewed));
    // Stored before it was handed out, with the rotated refresh token.
    let stored = |store: &Store| match store.secrets(&id).unwrap().unwrap().source {
        AccountSecret::OAuth2(g) => (
            g.tokens.access_token.expose_secret().to_string(),
            g.tokens.refresh_token.unwrap().expose_secret().to_string(),
        ),
        other => panic!("{other:?}"),
    };
    let (stored_at, stored_rt) = stored(w.store.as_ref());
    assert_eq!(stored_at, renewed);
    assert_ne!(stored_rt, first.refresh().unwrap(), "rotated");

    // Eight lanes whose logins were all refused with that token: one refresh again.
    let refused = SecretString::from(renewed.clone());
    let got = futures::future::join_all((0..8).map(|_| {
        let (k, r) = (keeper.clone(), refused.clone());
        async move { k.access_token(Some(&r)).await.unwrap() }
    }))
    .await;
    let last = provider().refreshes(who).unwrap();
    assert_eq!((last.granted - after.granted, last.refused), (1, 0));
    let newest = got[0].expose_secret().to_string();
    assert!(newest != renewed && got.iter().all(|t| t.expose_secret() == newest));
    // A lane late with an older refused token gets the current one, no refresh.
    let late = keeper
        .access_token(Some(&SecretString::from(first.access_token.clone())))
        .await
        .unwrap();
    assert_eq!(late.expose_secret(), newest);
    assert_eq!(keeper.refreshes(), 2);
    assert_eq!(stored(w.store.as_ref()).0, newest);
    assert!(keeper.token_refused() && !keeper.grant_gone());
}

/// Exchange Online ends a session whose token expired with `* BYE Session invalidated -
/// AccessTokenExpired`, even in the middle of an APPEND: the lane logs in again and the copy
/// ends exact, nothing appended twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_token_expired_mid_append_reauthenticates_and_ends_exact() {
    let d = dovecot();
    let (src, dst) = ("bye-src@example.test", "bye-dst@example.test");
    seed(d, src, 2, 75);
    d.add_user(dst, PW).unwrap();
    // Plain IMAP, so that the proxy sees the APPEND command lines.
    let bye = ByeProxy::start(d.imap_port(), &[3, 40, 100]).unwrap();
    let w = world();
    let (dst_grant, _) = sign_in(LONG, dst);
    let id = queue(
        &w,
        (
            account(d.imaps_port(), Security::Tls, src),
            AccountSecret::Password(SecretString::from(PW)),
        ),
        (
            account(bye.port(), Security::Plain, dst),
            AccountSecret::OAuth2(dst_grant),
        ),
    );
    let runner = start(&w, config(), None);
    let job = wait_for(&w, &id, 60, |j| j.state.is_final()).await;
    stop(runner).await;
    assert_eq!(
        (job.state, job.outcome.as_deref()),
        (JobState::Finished, Some("complete")),
        "{job:?}\n{}",
        d.log_tail(30)
    );
    assert_eq!(bye.byes(), 3, "every planned BYE was sent");
    assert_exact(d, src, dst, 150);
}

/// The service's pages over the test world's store: the job's private page and its "Sign in
/// again" (the provider redirects to `REDIRECT`; the test brings the browser's callback to
/// the router itself).
fn pages(w: &World) -> axum::Router {
    use imapcopy::web::{sign_in::SignIn, WebConfig};
    let service = web_support::service(
        w.store.clone(),
        (*w.connect).clone(),
        SignIn::new(providers()).unwrap(),
        100,
        false,
    );
    web_support::router(service, &WebConfig::local())
}

/// One request to the pages as a browser without JavaScript sends it: status, `Location`, body.
async fn browse(
    app: &axum::Router,
    method: &str,
    path: &str,
    form: Option<&str>,
) -> (u16, Option<String>, String) {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", web_support::HOST)
        .header("accept", "text/html");
    if form.is_some() {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .header("referer", format!("{}{path}", web_support::PUBLIC));
    }
    let body = axum::body::Body::from(form.unwrap_or_default().to_string());
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location, web_support::body_text(response).await)
}

/// "Sign in again" on the job's page, signing in at the provider as `who`: the callback
/// page's status and body.
async fn sign_in_again_on_the_page(app: &axum::Router, id: &str, who: &str) -> (u16, String) {
    let (status, location, _) = browse(
        app,
        "POST",
        "/api/sign_in_again",
        Some(&format!("id={id}&side=source")),
    )
    .await;
    let url = location.unwrap_or_default();
    assert!((300..400).contains(&status), "{status} {url}");
    let authorization = format!("http://127.0.0.1:{}/auth?", provider().port());
    assert!(url.starts_with(&authorization), "{url}");
    assert!(url.contains("login_hint="), "{url}");
    let back = provider().authorize_in_browser(&url, who).unwrap();
    let path = back.strip_prefix("http://127.0.0.1:9").unwrap().to_string();
    let (status, _, page) = browse(app, "GET", &path, None).await;
    (status, page)
}

/// OAuth2 on both sides, and a revoked grant: the job waits for sign-in (credentials kept,
/// the account taken); its private page says so and offers "Sign in again"; signing in as
/// another account is refused there; signing in as the account resumes the job, which ends
/// exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_waits_for_sign_in_and_signing_in_again_on_its_page_resumes_exact() {
    let d = dovecot();
    let (src, dst) = ("revoked-src@example.test", "revoked-dst@example.test");
    seed(d, src, 6, 40);
    d.add_user(dst, PW).unwrap();
    let slow = DelayProxy::start_with(
        d.imaps_port(),
        ProxyOptions {
            upstream_rate: 150_000,
            ..ProxyOptions::default()
        },
    )
    .unwrap();
    let w = world();
    let app = pages(&w);
    let (src_grant, first) = sign_in(LONG, src);
    let (dst_grant, _) = sign_in(LONG, dst);
    let id = queue(
        &w,
        (
            account(d.imaps_port(), Security::Tls, src),
            AccountSecret::OAuth2(src_grant),
        ),
        (
            account(slow.port(), Security::Tls, dst),
            AccountSecret::OAuth2(dst_grant),
        ),
    );
    let runner = start(&w, config(), None);
    wait_for(&w, &id, 30, |j| messages_done(j) >= 30).await;
    // The user removes the app's access at the provider; the sessions end.
    provider()
        .revoke(
            provider().client_named(LONG).unwrap(),
            first.refresh().unwrap(),
        )
        .unwrap();
    d.kick(src).unwrap();
    let waiting = wait_for(&w, &id, 30, |j| j.state != JobState::Running).await;
    assert_eq!(waiting.state, JobState::WaitingForSignIn, "{waiting:?}");
    assert_eq!(waiting.sign_in_sides, vec![Side::Source]);
    assert!(waiting.has_secrets, "credentials are kept while waiting");
    let error = waiting.last_error.clone().unwrap_or_default();
    assert!(error.contains("sign in again"), "{error}");
    assert!(messages_done(&waiting) < 240, "it stopped before the end");
    // Not claimed again while it waits (the runner polls every 100 ms).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        w.store.get(&id).unwrap().unwrap().state,
        JobState::WaitingForSignIn
    );

    // The private page says why and offers the sign-in (the public lookup stays coarse).
    let (status, _, page) = browse(&app, "GET", &format!("/jobs/{id}"), None).await;
    assert_eq!(status, 200);
    for part in [
        "The copy is paused: it waits for you to sign in again.",
        &format!("The sign-in of {src} with {LONG} is no longer accepted"),
        &format!("Sign in again with {LONG}"),
        "name=\"side\" value=\"source\"",
    ] {
        assert!(page.contains(part), "{part} missing in {page}");
    }
    assert!(
        !page.contains("value=\"destination\""),
        "only the revoked side"
    );
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "no reloading for days"
    );

    // Signed in as somebody else: said on the callback page; the job still waits.
    let (status, page) = sign_in_again_on_the_page(&app, &id, "mallory@example.test").await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains(&format!("but this copy is for {src}")),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/jobs/{id}\"")), "{page}");
    assert_eq!(
        w.store.get(&id).unwrap().unwrap().state,
        JobState::WaitingForSignIn
    );

    // Signed in as the account: back to the job's page, and the job resumes.
    let (status, page) = sign_in_again_on_the_page(&app, &id, src).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("content=\"0;url=/jobs/{id}\"")),
        "{page}"
    );
    let job = wait_for(&w, &id, 60, |j| j.state.is_final()).await;
    stop(runner).await;
    assert_eq!(
        (job.state, job.outcome.as_deref()),
        (JobState::Finished, Some("complete")),
        "{job:?}"
    );
    assert_exact(d, src, dst, 240);
    // Nothing left to sign in to: the button leads back to the job's page.
    let (status, location, _) = browse(
        &app,
        "POST",
        "/api/sign_in_again",
        Some(&format!("id={id}&side=source")),
    )
    .await;
    assert!((300..400).contains(&status), "{status}");
    assert_eq!(location.as_deref(), Some(format!("/jobs/{id}").as_str()));
    // An unknown job: without JavaScript, back to the page with the error (Leptos's way);
    // with it, a 404.
    let (status, location, _) = browse(
        &app,
        "POST",
        "/api/sign_in_again",
        Some("id=no-such-job&side=source"),
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.unwrap_or_default().contains("__err="));
    let response = tower::ServiceExt::oneshot(
        app.clone(),
        axum::http::Request::post("/api/sign_in_again")
            .header("host", web_support::HOST)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from("id=no-such-job&side=source"))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

/// Nobody signs in again within the bound: the job fails with the cause, the report goes
/// out (by APPEND to the destination, whose access token expired meanwhile and is renewed
/// for it), the credentials are wiped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_signing_in_again_within_the_bound_fails_the_job_with_a_report() {
    let d = dovecot();
    let (src, dst) = ("bound-src@example.test", "bound-dst@example.test");
    seed(d, src, 1, 3);
    d.add_user(dst, PW).unwrap();
    let w = world();
    let (src_grant, first) = sign_in(LONG, src);
    provider()
        .revoke(
            provider().client_named(LONG).unwrap(),
            first.refresh().unwrap(),
        )
        .unwrap();
    let (dst_grant, _) = sign_in(SHORT, dst);
    let id = queue(
        &w,
        (
            account(d.imaps_port(), Security::Tls, src),
            AccountSecret::OAuth2(src_grant),
        ),
        (
            account(d.imaps_port(), Security::Tls, dst),
            AccountSecret::OAuth2(dst_grant),
        ),
    );
    let reporter = Reporter {
        store: w.store.clone(),
        connect: w.connect.clone(),
        delivery: Delivery::ImapAppend,
        settings: imapcopy::report::ReportSettings {
            public_url: "https://imapcopy.example".into(),
            time_zone: jiff::tz::TimeZone::UTC,
        },
        from: "IMAPCopy <imapcopy@example.test>".parse().unwrap(),
        attempts: 1,
        retry_delay: Duration::from_millis(10),
    };
    let runner = start(
        &w,
        RunnerConfig {
            // Longer than the destination's token lives.
            sign_in_wait: SHORT_TTL + Duration::from_secs(1),
            ..config()
        },
        Some(Arc::new(reporter)),
    );
    let waiting = wait_for(&w, &id, 20, |j| {
        j.state != JobState::Queued && j.state != JobState::Running
    })
    .await;
    assert_eq!(waiting.state, JobState::WaitingForSignIn, "{waiting:?}");
    let job = wait_for(&w, &id, 20, |j| j.state.is_final() && !j.has_secrets).await;
    stop(runner).await;
    assert_eq!(job.state, JobState::Failed);
    let error = job.last_error.unwrap_or_default();
    assert!(
        error.starts_with("nobody signed in again within 3 seconds: ")
            && error.contains("sign in again"),
        "{error}"
    );
    assert_eq!(job.report_state, "sent", "{:?}", job.report_error);
    assert_eq!(
        provider().refreshes(dst).unwrap().granted,
        1,
        "renewed for the report"
    );
}

/// `imapcopy copy --from-oauth2-token-cmd CMD` as an operator runs it: the command (through
/// `sh -c`, like mbsync's PassCmd) prints the token; when the server refuses the one it
/// printed, it runs again. The token never shows in the output.
/// `imapcopy copy` from `src` to `dst` (the destination by password, names from a hosts
/// file in `dir`), with the source's sign-in added by `source`; it must end complete. Its
/// stdout and stderr.
fn cli_copy(
    src: &str,
    dst: &str,
    dir: &std::path::Path,
    source: impl FnOnce(&mut std::process::Command),
) -> (String, String) {
    let d = dovecot();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_imapcopy"));
    command
        .args(["copy", "--from"])
        .arg(format!("imaps://{src}@localhost:{}", d.imaps_port()))
        .arg("--to")
        .arg(format!("imaps://{dst}@localhost:{}", d.imaps_port()))
        .arg("--ca-file")
        .arg(d.ca_pem_path())
        .arg("--static-hosts")
        .arg(&hosts)
        .env("IMAPCOPY_TO_PASSWORD", PW)
        .env_remove("IMAPCOPY_FROM_PASSWORD");
    source(&mut command);
    let out = command.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn the_cli_takes_tokens_from_a_command_and_runs_it_again_when_one_is_refused() {
    let d = dovecot();
    let (src, dst) = ("cli-src@example.test", "cli-dst@example.test");
    seed(d, src, 1, 5);
    d.add_user(dst, PW).unwrap();
    let (_, tokens) = sign_in(LONG, src);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", tokens.access_token)).unwrap();
    let runs = dir.path().join("runs");
    // The first run prints a token the server refuses; the next ones the real one.
    let cmd = format!(
        "echo run >> '{runs}'; if [ $(wc -l < '{runs}') -ge 2 ]; then cat '{token}'; else echo not-a-token; fi",
        runs = runs.display(),
        token = token_file.display()
    );
    let (stdout, stderr) = cli_copy(src, dst, dir.path(), |c| {
        c.args(["--from-oauth2-token-cmd", &cmd]);
    });
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap().lines().count(),
        2,
        "run once, and once more after the refusal"
    );
    assert!(!stdout.contains(&tokens.access_token) && !stderr.contains(&tokens.access_token));
    assert_exact(d, src, dst, 5);
}

/// `imapcopy copy --from-oauth2-refresh-token-file`: the operator's refresh token, refreshed
/// through the provider file's provider (secret from the environment); the rotated refresh
/// token is written back to the file, and it is the one that works next.
#[test]
fn the_cli_refreshes_from_a_refresh_token_file_and_keeps_the_rotated_one() {
    let d = dovecot();
    let (src, dst) = (
        "cli-refresh-src@example.test",
        "cli-refresh-dst@example.test",
    );
    seed(d, src, 2, 5);
    d.add_user(dst, PW).unwrap();
    let (_, tokens) = sign_in(LONG, src);
    let first = tokens.refresh().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let refresh_file = dir.path().join("refresh-token");
    std::fs::write(&refresh_file, format!("{first}\n")).unwrap();
    let provider_file = dir.path().join("provider.toml");
    std::fs::write(&provider_file, provider_toml(LONG)).unwrap();
    let secret = provider().client_named(LONG).unwrap().client_secret.clone();
    let (stdout, stderr) = cli_copy(src, dst, dir.path(), |c| {
        c.arg("--from-oauth2-refresh-token-file")
            .arg(&refresh_file)
            .arg("--oauth2-provider-file")
            .arg(&provider_file)
            .env("IMAPCOPY_OAUTH2_CLIENT_SECRET", &secret);
    });
    assert_exact(d, src, dst, 10);
    let kept = std::fs::read_to_string(&refresh_file).unwrap();
    let kept = kept.trim();
    assert!(
        !kept.is_empty() && kept != first,
        "the rotated token is kept"
    );
    assert!(!stdout.contains(kept) && !stderr.contains(kept) && !stderr.contains(&first));
    let next = provider()
        .refresh(provider().client_named(LONG).unwrap(), kept)
        .unwrap();
    assert!(next.is_ok(), "the kept token refreshes: {next:?}");
}
