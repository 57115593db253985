//! The job runner end to end against real Dovecot servers: a queued job is claimed, copied,
//! finished, reported (by IMAP APPEND or through a real SMTP server) and its credentials wiped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use imapcopy::jobs::runner::{Runner, RunnerConfig};
use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{AccountSecret, AccountSpec, NewJob, Store, SystemClock};
use imapcopy::report::{Delivery, Reporter, SmtpRelay};
use mailcopy::copy::CancellationToken;
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{ConnectOptions, Security};
use secrecy::SecretString;

const SRC_PASS: &str = "src-Pässword-123";
const DST_PASS: &str = "dst-Pässword-456";

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Sender {n} <sender{n}@example.test>\r\nTo: someone@example.test\r\nSubject: message {n}\r\nMessage-ID: <m{n}@example.test>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nBody of message {n}.\r\n"
    )
    .into_bytes()
}

struct World {
    pair: testkit::DovecotPair,
    store: Arc<Store>,
    connect: Arc<ConnectOptions>,
    dir: tempfile::TempDir,
}

fn world(source_login: &str, dest_login: &str) -> World {
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user(source_login, SRC_PASS).unwrap();
    pair.dot.add_user(dest_login, DST_PASS).unwrap();
    let archive = pair.slash.mailbox_name(&["Archive", "2020"]);
    pair.slash.create_mailbox(source_login, &archive).unwrap();
    pair.slash.create_mailbox(source_login, "Empty").unwrap();
    for n in 0..3 {
        pair.slash
            .append(
                source_login,
                "INBOX",
                &["\\Seen"],
                Some("01-Jan-2024 10:00:00 +0000"),
                &message(n),
            )
            .unwrap();
    }
    for n in 3..5 {
        pair.slash
            .append(
                source_login,
                &archive,
                &["$Important"],
                Some("02-Feb-2020 08:30:00 -0500"),
                &message(n),
            )
            .unwrap();
    }
    let mut ca = pair.slash.ca_pem();
    ca.push_str(&pair.dot.ca_pem());
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = Arc::new(
        ConnectOptions::new(Arc::new(resolver))
            .with_policy(AddressPolicy::AllowAll)
            .with_ca_pem(ca)
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::from_key_file(&dir.path().join("secret.key")).unwrap(),
        Arc::new(SystemClock),
    ));
    World {
        pair,
        store,
        connect,
        dir,
    }
}

fn queue(w: &World, source_login: &str, dest_login: &str, lang: &str) -> String {
    w.store
        .insert(NewJob {
            resolved: Default::default(),
            source: AccountSpec {
                host: "localhost".into(),
                port: w.pair.slash.imaps_port(),
                security: Security::Tls,
                login: source_login.into(),
            },
            source_secret: AccountSecret::Password(SecretString::from(SRC_PASS)),
            destination: AccountSpec {
                host: "localhost".into(),
                port: w.pair.dot.imap_port(),
                security: Security::StartTls,
                login: dest_login.into(),
            },
            destination_secret: AccountSecret::Password(SecretString::from(DST_PASS)),
            lang: lang.into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap()
}

async fn run_until_final(w: &World, id: &str, delivery: Delivery) -> imapcopy::jobs::store::Job {
    let reporter = Reporter {
        store: w.store.clone(),
        connect: w.connect.clone(),
        delivery,
        settings: imapcopy::report::ReportSettings {
            public_url: "https://imapcopy.example".into(),
            time_zone: jiff::tz::TimeZone::UTC,
        },
        from: "IMAPCopy <imapcopy@example.test>".parse().unwrap(),
        attempts: 2,
        retry_delay: Duration::from_millis(100),
    };
    let runner = Arc::new(Runner {
        store: w.store.clone(),
        connect: w.connect.clone(),
        config: RunnerConfig {
            concurrency: 1,
            heartbeat: Duration::from_millis(100),
            poll: Duration::from_millis(100),
            ..RunnerConfig::default()
        },
        after: Some(Arc::new(reporter)),
    });
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = w.store.get(id).unwrap().unwrap();
        if job.state.is_final() && job.report_state != "pending" && !job.has_secrets {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "job did not end in time: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    shutdown.cancel();
    task.await.unwrap();
    job
}

fn inbox_subjects(dovecot: &testkit::Dovecot, user: &str) -> Vec<String> {
    let mut client = dovecot.login(user).unwrap();
    client.command("SELECT INBOX").unwrap();
    let lines = client
        .command("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .unwrap();
    lines
        .iter()
        .flat_map(|l| l.split("\r\n").map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| l.find("Subject:").map(|i| l[i..].to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_copies_reports_by_append_and_wipes_its_credentials() {
    let w = world("ana@old.test", "ana@new.test");
    let id = queue(&w, "ana@old.test", "ana@new.test", "es");
    let job = run_until_final(&w, &id, Delivery::ImapAppend).await;
    assert_eq!(job.state, JobState::Finished, "{job:?}");
    assert_eq!(job.outcome.as_deref(), Some("complete"));
    assert_eq!(job.report_state, "sent", "{job:?}");

    // Folders, the empty one included, and messages are at the destination.
    let folders = w.pair.dot.list_mailboxes("ana@new.test").unwrap();
    for expected in ["INBOX.Archive.2020", "INBOX.Empty"] {
        assert!(
            folders.iter().any(|f| f == expected),
            "{expected} missing from {folders:?}"
        );
    }
    let status = w
        .pair
        .dot
        .doveadm(&[
            "mailbox",
            "status",
            "-u",
            "ana@new.test",
            "messages",
            "INBOX.Archive.2020",
        ])
        .unwrap();
    assert!(status.contains("messages=2"), "{status}");

    // The report arrived in the destination INBOX (3 copied messages + the report), in Spanish.
    let subjects = inbox_subjects(&w.pair.dot, "ana@new.test");
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("IMAPCopy: la ") && s.contains("ana@old.test")),
        "{subjects:?}"
    );

    // Progress was recorded; secrets are gone from the row and from the files.
    let progress: app::model::ProgressView =
        serde_json::from_str(job.progress.as_deref().unwrap()).unwrap();
    assert_eq!((progress.messages_done, progress.messages_total), (5, 5));
    assert!(w.store.secrets(&id).unwrap().is_none());
    for file in ["imapcopy.sqlite3", "imapcopy.sqlite3-wal"] {
        if let Ok(bytes) = std::fs::read(w.dir.path().join(file)) {
            for needle in [SRC_PASS, DST_PASS] {
                assert!(
                    !bytes.windows(needle.len()).any(|x| x == needle.as_bytes()),
                    "{file} holds a password"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_goes_through_an_smtp_relay_when_configured() {
    let w = world("ben@old.test", "ben@new.test");
    let smtp = testkit::smtp::Smtp::start().unwrap();
    let id = queue(&w, "ben@old.test", "ben@new.test", "en");
    let relay = SmtpRelay {
        host: "127.0.0.1".into(),
        port: smtp.port(),
        security: "plain".into(),
        username: None,
        password: None,
    };
    let job = run_until_final(&w, &id, Delivery::Smtp(relay)).await;
    assert_eq!(
        (job.state, job.report_state.as_str()),
        (JobState::Finished, "sent"),
        "{job:?}"
    );
    let messages = smtp.wait_for(1, Duration::from_secs(5)).unwrap();
    assert_eq!(messages.len(), 1, "{}", smtp.log());
    // Quoted-printable soft line breaks undone: long lines of the parts are folded.
    let text = String::from_utf8_lossy(&messages[0])
        .replace("=\r\n", "")
        .replace("=\n", "");
    assert!(text.contains("ben@new.test"), "{text}");
    assert!(
        text.contains("the synchronization of ben@old.test has finished"),
        "{text}"
    );
    assert!(text.contains("multipart/alternative"), "{text}");
    assert!(
        text.contains(&format!("https://imapcopy.example/jobs/{id}")),
        "{text}"
    );
    // Delivered by SMTP: nothing was appended to the destination INBOX besides the copy.
    assert_eq!(inbox_subjects(&w.pair.dot, "ben@new.test").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_destination_password_fails_the_job_with_the_cause() {
    let w = world("cy@old.test", "cy@new.test");
    let id = w
        .store
        .insert(NewJob {
            resolved: Default::default(),
            source: AccountSpec {
                host: "localhost".into(),
                port: w.pair.slash.imaps_port(),
                security: Security::Tls,
                login: "cy@old.test".into(),
            },
            source_secret: AccountSecret::Password(SecretString::from(SRC_PASS)),
            destination: AccountSpec {
                host: "localhost".into(),
                port: w.pair.dot.imaps_port(),
                security: Security::Tls,
                login: "cy@new.test".into(),
            },
            destination_secret: AccountSecret::Password(SecretString::from("changed-since")),
            lang: "en".into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap();
    // Several attempts are allowed, but a refused login is not retried: waiting cannot fix it.
    let job = {
        let reporter = Reporter {
            store: w.store.clone(),
            connect: w.connect.clone(),
            delivery: Delivery::ImapAppend,
            settings: imapcopy::report::ReportSettings {
                public_url: "http://x".into(),
                time_zone: jiff::tz::TimeZone::UTC,
            },
            from: "IMAPCopy <imapcopy@example.test>".parse().unwrap(),
            attempts: 1,
            retry_delay: Duration::from_millis(10),
        };
        let runner = Arc::new(Runner {
            store: w.store.clone(),
            connect: w.connect.clone(),
            config: RunnerConfig {
                max_attempts: 5,
                retry_base: Duration::from_millis(50),
                poll: Duration::from_millis(100),
                ..RunnerConfig::default()
            },
            after: Some(Arc::new(reporter)),
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(runner.run(shutdown.clone()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let job = loop {
            let job = w.store.get(&id).unwrap().unwrap();
            if job.state.is_final() && job.report_state != "pending" {
                break job;
            }
            assert!(Instant::now() < deadline, "{job:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        shutdown.cancel();
        task.await.unwrap();
        job
    };
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempts, 1, "a refused login must not be retried");
    let error = job.last_error.unwrap_or_default();
    assert!(error.to_lowercase().contains("auth"), "{error}");
    // The engine's typed stop names the account and the server's refusal.
    assert!(
        error.contains("destination") && error.contains("rejected the login"),
        "{error}"
    );
    // The report could not be appended with a wrong password: recorded, the job stays failed.
    assert_eq!(job.report_state, "failed");
    assert!(!job.has_secrets);
}
