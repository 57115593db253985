//! A provider's daily limit pauses a job, it does not fail it: against a real Dovecot whose
//! refusal of an APPEND reads as Gmail's ("NO [OVERQUOTA] Account exceeded command or
//! bandwidth limits." — Dovecot's `quota_exceeded_message`), the job goes back to the queue
//! paused for the configured time (the attempt not counted), the lookup says "paused until",
//! and when the clock reaches that time it resumes by itself and ends exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_limit_pauses_the_job_and_it_resumes_by_itself_exact() {
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
    let mut options = Options::new(Flavour::DotInbox);
    options.extra_conf =
        "plugin {\n  quota_exceeded_message = Account exceeded command or bandwidth limits.\n}\n"
            .into();
    let dst = Dovecot::start_with(options).unwrap();
    // Room for a few of the messages (about 2 KiB each), as a day's volume would be.
    dst.add_user_with_quota(USER, PASS, 8).unwrap();

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
    let id = store
        .insert(NewJob {
            resolved: Default::default(),
            source: AccountSpec {
                host: "localhost".into(),
                port: src.imaps_port(),
                security: Security::Tls,
                login: USER.into(),
            },
            source_secret: AccountSecret::Password(SecretString::from(PASS)),
            destination: AccountSpec {
                host: "localhost".into(),
                port: dst.imaps_port(),
                security: Security::Tls,
                login: USER.into(),
            },
            destination_secret: AccountSecret::Password(SecretString::from(PASS)),
            lang: "en".into(),
            report_to: None,
        })
        .unwrap();

    let runner = Arc::new(Runner {
        store: store.clone(),
        connect,
        config: RunnerConfig {
            concurrency: 1,
            heartbeat: Duration::from_millis(100),
            poll: Duration::from_millis(50),
            daily_limit_pause: Duration::from_secs(3600),
            ..RunnerConfig::default()
        },
        after: None,
    });
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
    let stored = dst
        .login(USER)
        .unwrap()
        .command("STATUS INBOX (MESSAGES)")
        .unwrap();
    assert!(
        !stored
            .iter()
            .any(|l| l.contains(&format!("MESSAGES {MESSAGES}"))),
        "{stored:?}"
    );
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
    let mut client = dst.login(USER).unwrap();
    let status = client.command("STATUS INBOX (MESSAGES)").unwrap();
    assert!(
        status
            .iter()
            .any(|l| l.contains(&format!("MESSAGES {MESSAGES})"))),
        "{status:?}"
    );
    let fetched = client.command("SELECT INBOX").unwrap();
    assert!(!fetched.is_empty());
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
