//! A provider's daily limit pauses a job, it does not fail it: against a real Dovecot whose
//! refusal of an APPEND reads as Gmail's ("NO [OVERQUOTA] Account exceeded command or
//! bandwidth limits." — Dovecot's `quota_exceeded_message`), the job goes back to the queue
//! paused for the configured time (the attempt not counted), the lookup says "paused until",
//! and when the clock reaches that time it resumes by itself and ends exact. And a copy into
//! an account that says it is Gmail keeps under Gmail's daily upload volume by itself: it
//! stops for the day, pauses until the day is over, and goes on the next day.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// `web_support::serial()` is held across awaits on purpose: page renders run one at a time.
#![allow(clippy::await_holding_lock)]

mod web_support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imapcopy::jobs::runner::{Runner, RunnerConfig};
use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{AccountSecret, AccountSpec, Clock, Job, NewJob, Store};
use mailcopy::copy::CancellationToken;
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{ConnectOptions, Security};
use secrecy::SecretString;
use testkit::{Dovecot, Flavour, Options};

const USER: &str = "limited@example.test";
const PASS: &str = "pw-daily-limit";
const MESSAGES: usize = 12;
const HOUR_MS: i64 = 3_600_000;

/// A clock the test moves by hand (the runner's waits are on it).
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Sender <s@example.test>\r\nSubject: limited {n}\r\nMessage-ID: <limited{n}@example.test>\r\n\r\n{}\r\n",
        format!("line {n} of a message that takes some room\r\n").repeat(40)
    )
    .into_bytes()
}

async fn wait_for(store: &Store, id: &str, what: &str, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = store.get(id).unwrap().unwrap();
        if done(&job) {
            return job;
        }
        assert!(Instant::now() < deadline, "{what}: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two Dovecots with `MESSAGES` messages in the source's INBOX, a store on a hand-moved
/// clock holding one job between them, and its runner (not started).
struct Lab {
    src: Dovecot,
    dst: Dovecot,
    clock: Arc<TestClock>,
    store: Arc<Store>,
    id: String,
    runner: Arc<Runner>,
    _dir: tempfile::TempDir,
}

/// `dst_options` configure the destination, `quota_kib` its account; `config` the runner
/// (its loop timings are set here).
fn lab(dst_options: Options, quota_kib: Option<u64>, config: RunnerConfig) -> Lab {
    let src = Dovecot::start(Flavour::Slash).unwrap();
    src.add_user(USER, PASS).unwrap();
    for n in 0..MESSAGES {
        src.append(
            USER,
            "INBOX",
            &["\\Seen"],
            Some("03-Mar-2024 09:00:00 +0100"),
            &message(n),
        )
        .unwrap();
    }
    let dst = Dovecot::start_with(dst_options).unwrap();
    match quota_kib {
        Some(kib) => dst.add_user_with_quota(USER, PASS, kib).unwrap(),
        None => dst.add_user(USER, PASS).unwrap(),
    }

    let mut ca = src.ca_pem();
    ca.push_str(&dst.ca_pem());
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = Arc::new(
        ConnectOptions::new(Arc::new(resolver))
            .with_policy(AddressPolicy::AllowAll)
            .with_ca_pem(ca)
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(1_796_241_840_000)));
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::from_key_file(&dir.path().join("secret.key")).unwrap(),
        clock.clone(),
    ));
    let account = |port| AccountSpec {
        host: "localhost".into(),
        port,
        security: Security::Tls,
        login: USER.into(),
    };
    let id = store
        .insert(NewJob {
            resolved: Default::default(),
            source: account(src.imaps_port()),
            source_secret: AccountSecret::Password(SecretString::from(PASS)),
            destination: account(dst.imaps_port()),
            destination_secret: AccountSecret::Password(SecretString::from(PASS)),
            lang: "en".into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap();
    let runner = Arc::new(Runner {
        store: store.clone(),
        connect,
        config: RunnerConfig {
            concurrency: 1,
            heartbeat: Duration::from_millis(100),
            poll: Duration::from_millis(50),
            ..config
        },
        after: None,
    });
    Lab {
        src,
        dst,
        clock,
        store,
        id,
        runner,
        _dir: dir,
    }
}

/// The subjects of the destination's INBOX, each expected once.
fn assert_each_message_once(dst: &Dovecot) {
    let mut client = dst.login(USER).unwrap();
    let status = client.command("STATUS INBOX (MESSAGES)").unwrap();
    assert!(
        status
            .iter()
            .any(|l| l.contains(&format!("MESSAGES {MESSAGES})"))),
        "{status:?}"
    );
    assert!(!client.command("SELECT INBOX").unwrap().is_empty());
    let subjects = client
        .command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .unwrap()
        .join("\n");
    for n in 0..MESSAGES {
        assert_eq!(
            subjects.matches(&format!("Subject: limited {n}\r")).count(),
            1,
            "message {n} in {subjects}"
        );
    }
}

/// Messages in the destination's INBOX now.
fn stored(dst: &Dovecot) -> usize {
    let answer = dst
        .login(USER)
        .unwrap()
        .command("STATUS INBOX (MESSAGES)")
        .unwrap()
        .join("\n");
    let n = answer
        .split("MESSAGES ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.trim().parse().ok());
    n.unwrap_or_else(|| panic!("no count in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_limit_pauses_the_job_and_it_resumes_by_itself_exact() {
    let mut options = Options::new(Flavour::DotInbox);
    options.extra_conf =
        "plugin {\n  quota_exceeded_message = Account exceeded command or bandwidth limits.\n}\n"
            .into();
    // Room for a few of the messages (about 2 KiB each), as a day's volume would be.
    let Lab {
        src: _src,
        dst,
        clock,
        store,
        id,
        runner,
        ..
    } = lab(
        options,
        Some(8),
        RunnerConfig {
            daily_limit_pause: Duration::from_secs(3600),
            ..RunnerConfig::default()
        },
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));

    // Paused: queued again, for an hour by the job's clock, the attempt not counted.
    let paused = wait_for(&store, &id, "the job did not pause", |j| {
        j.state == JobState::Queued && j.limit_pauses == 1
    })
    .await;
    let now = clock.now_ms();
    assert_eq!(paused.error_kind.as_deref(), Some("daily_limit"));
    assert_eq!(paused.attempts, 0, "a pause is not an attempt");
    assert_eq!(paused.paused_until(now), Some(now + HOUR_MS));
    assert!(
        paused
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("daily limit"),
        "{:?}",
        paused.last_error
    );
    assert!(stored(&dst) < MESSAGES);
    // Nothing runs before its time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.get(&id).unwrap().unwrap().state, JobState::Queued);

    // The limit resets (quota lifted) and the hour passes: it resumes by itself.
    dst.set_quota(USER, None).unwrap();
    clock.0.fetch_add(HOUR_MS + 1_000, Ordering::SeqCst);
    let done = wait_for(&store, &id, "the job did not finish", |j| {
        j.state.is_final()
    })
    .await;
    if done.state != JobState::Finished {
        println!("{}", dst.log_tail(40));
    }
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(done.state, JobState::Finished, "{done:?}");
    assert_eq!(done.outcome.as_deref(), Some("complete"), "{done:?}");
    assert_eq!(done.paused_until(clock.now_ms()), None);

    // Every message once, as the source has it.
    assert_each_message_once(&dst);
}

/// A destination that says it is Gmail (`X-GM-EXT-1`) with a daily upload volume of 10,000
/// octets (the copy uses 95 % of it: 9,500): the 12 messages of about 2 KB take 3 days. Each
/// day the job copies what fits, pauses until exactly the day's end by the job's clock (a
/// pause, not an attempt), and goes on; at the end every message is there once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_into_gmail_keeps_under_its_daily_volume_and_takes_days() {
    let options = Options {
        extra_conf: "imap_capability = +X-GM-EXT-1\n".into(),
        ..Options::new(Flavour::DotInbox)
    };
    let mut copy = mailcopy::copy::CopyOptions::default();
    copy.pacing = Some(mailcopy::copy::Pacing {
        volumes: mailcopy::profile::DailyVolumes {
            gmail_download: u64::MAX,
            gmail_upload: 10_000,
        },
        ..Default::default()
    });
    let Lab {
        src: _src,
        dst,
        clock,
        store,
        id,
        runner,
        ..
    } = lab(
        options,
        None,
        RunnerConfig {
            copy,
            ..RunnerConfig::default()
        },
    );
    let size = message(0).len() as u64;
    let per_day = (9_500 / size) as usize;
    assert!((2..MESSAGES / 2).contains(&per_day), "{size}");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));

    let mut copied = 0;
    let mut days: i64 = 0;
    loop {
        let job = wait_for(&store, &id, "the job neither paused nor finished", |j| {
            j.state.is_final() || (j.state == JobState::Queued && j.limit_pauses > days)
        })
        .await;
        if job.state.is_final() {
            assert_eq!(job.state, JobState::Finished, "{job:?}");
            assert_eq!(job.outcome.as_deref(), Some("complete"), "{job:?}");
            break;
        }
        days += 1;
        assert!(days < 10, "{job:?}");
        // Paused until the day that began with its first attempt of the day is over.
        let now = clock.now_ms();
        assert_eq!(job.error_kind.as_deref(), Some("daily_limit"));
        assert_eq!(job.attempts, 0, "a paced day is not an attempt");
        assert_eq!(job.paused_until(now), Some(now + 24 * HOUR_MS), "{job:?}");
        let text = job.last_error.clone().unwrap_or_default();
        assert!(text.contains("Gmail allows about 0 MB a day"), "{text}");
        let day = job.volume_day.expect("the day's volume is recorded");
        assert!(day.bytes <= 9_500, "{day:?}");
        // What fitted in the day, and no more.
        let now_stored = stored(&dst);
        assert_eq!(now_stored - copied, per_day, "day {days}");
        assert_eq!(day.bytes, per_day as u64 * size);
        copied = now_stored;
        if days == 1 {
            paused_pages_say_until(&store, &id, now + 24 * HOUR_MS).await;
        }
        // Nothing runs before its time.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store.get(&id).unwrap().unwrap().state, JobState::Queued);
        clock.0.fetch_add(24 * HOUR_MS, Ordering::SeqCst);
    }
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(days as usize, MESSAGES.div_ceil(per_day) - 1);
    assert_each_message_once(&dst);
}

/// The private job page and the public lookup of a paused job say until when, in the page's
/// language, rendered by the real HTTP application.
async fn paused_pages_say_until(store: &Arc<Store>, id: &str, until_ms: i64) {
    use tower::ServiceExt;
    let _serial = web_support::serial();
    let service = web_support::service(
        store.clone(),
        ConnectOptions::new(Arc::new(StaticResolver::new())),
        Default::default(),
        100,
        false,
    );
    let app = web_support::router(service, &imapcopy::web::WebConfig::local());
    let when = app::model::utc_minute(until_ms);
    let address = web_support::urlencode(USER);
    for (path, lang, sentence) in [
        (format!("/jobs/{id}"), "en", "The copy is paused until"),
        (
            format!("/jobs/{id}"),
            "es",
            "La copia está en pausa hasta el",
        ),
        (
            format!("/status?address={address}"),
            "fr",
            "La copie est en pause jusqu'au",
        ),
    ] {
        let response = app
            .clone()
            .oneshot(
                web_support::get(&path)
                    .header("accept-language", lang)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body = web_support::body_text(response).await;
        let text = body.replace("&#x27;", "'").replace("&#39;", "'");
        assert!(
            text.contains(&format!("{sentence} {when}")),
            "{path} ({lang}) does not say {sentence} {when}: {body}"
        );
    }
}
