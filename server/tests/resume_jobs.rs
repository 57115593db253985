//! A job whose process dies in the middle of the copy is taken back at the next start
//! (`take_back_all_running`) and resumes from its SQLite checkpoints: it ends exact, every
//! message once, and its checkpoints are deleted once it is final.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod resilient;

use std::sync::Arc;
use std::time::{Duration, Instant};

use imapcopy::jobs::checkpoints::SqliteCheckpoints;
use imapcopy::jobs::runner::{Runner, RunnerConfig, StoredResult};
use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{AccountSecret, AccountSpec, NewJob, Store, SystemClock};
use imapcopy::jobs::store_trait::AttemptEnd;
use mailcopy::copy::{CancellationToken, CheckpointStore};
use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{ConnectOptions, Security};
use secrecy::SecretString;

const MESSAGES: usize = 600;

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: s{n}@example.test\r\nSubject: job message {n}\r\nMessage-ID: <job.{n}@example.test>\r\n\r\n{}",
        "Some body text.\r\n".repeat(20)
    )
    .into_bytes()
}

fn message_ids(d: &testkit::Dovecot, user: &str) -> Vec<String> {
    let mut c = resilient::Client::new(d, user);
    c.command("EXAMINE INBOX");
    let lines = c.command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
    c.logout();
    let mut ids: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            l.find("Message-ID: <").map(|i| {
                l[i + 13..]
                    .split('>')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        })
        .collect();
    ids.sort();
    ids
}

fn runner(store: &Arc<Store>, connect: &Arc<ConnectOptions>, owner: &str) -> Arc<Runner> {
    Arc::new(Runner {
        store: store.clone(),
        connect: connect.clone(),
        config: RunnerConfig {
            concurrency: 1,
            heartbeat: Duration::from_millis(100),
            poll: Duration::from_millis(100),
            owner: owner.into(),
            ..RunnerConfig::default()
        },
        after: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_copy_resumes_exact_after_a_restart() {
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user("src@old.test", "src-pw").unwrap();
    pair.dot.add_user("dst@new.test", "dst-pw").unwrap();
    let mut c = resilient::Client::new(&pair.slash, "src@old.test");
    for n in 0..MESSAGES {
        c.append(
            "INBOX",
            if n % 2 == 0 { &["\\Seen"] } else { &[] },
            Some("03-Mar-2021 12:00:00 +0000"),
            &message(n),
        );
    }
    c.logout();
    let want: Vec<String> = (0..MESSAGES)
        .map(|n| format!("job.{n}@example.test"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();

    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let connect = Arc::new(
        ConnectOptions::new(Arc::new(resolver))
            .with_policy(AddressPolicy::AllowAll)
            .with_ca_pem(pair.slash.ca_pem() + &pair.dot.ca_pem())
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::from_key_file(&dir.path().join("secret.key")).unwrap(),
        Arc::new(SystemClock),
    ));
    let id = store
        .insert(NewJob {
            resolved: Default::default(),
            source: AccountSpec {
                host: "localhost".into(),
                port: pair.slash.imaps_port(),
                security: Security::Tls,
                login: "src@old.test".into(),
            },
            source_secret: AccountSecret::Password(SecretString::from("src-pw")),
            destination: AccountSpec {
                host: "localhost".into(),
                port: pair.dot.imaps_port(),
                security: Security::Tls,
                login: "dst@new.test".into(),
            },
            destination_secret: AccountSecret::Password(SecretString::from("dst-pw")),
            lang: "en".into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap();

    // The first process: killed (its task dropped, nothing runs after) once 150 messages are in.
    let first = tokio::spawn(runner(&store, &connect, "node-1").run(CancellationToken::new()));
    let mut c = resilient::Client::new(&pair.dot, "dst@new.test");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = c.messages("INBOX");
        if n >= 150 {
            break;
        }
        assert!(Instant::now() < deadline, "the job did not progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.logout();
    first.abort();
    let _ = first.await;
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!(
        job.state,
        JobState::Running,
        "left running by the dead process"
    );
    let partial = message_ids(&pair.dot, "dst@new.test").len();
    assert!(partial < MESSAGES, "{partial}");
    // The engine wrote its checkpoint to SQLite.
    let checkpoint = SqliteCheckpoints::new(&store, id.clone())
        .load("INBOX")
        .await
        .unwrap()
        .expect("checkpoint");
    assert!(!checkpoint.uid_map.is_empty());

    // The next process takes it back at start and finishes it.
    let shutdown = CancellationToken::new();
    let second = tokio::spawn(runner(&store, &connect, "node-2").run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = store.get(&id).unwrap().unwrap();
        if job.state.is_final() {
            break job;
        }
        assert!(Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    shutdown.cancel();
    second.await.unwrap();
    assert_eq!(
        (job.state, job.outcome.as_deref(), job.attempts),
        (JobState::Finished, Some("complete"), 2),
        "{job:?}"
    );
    assert_eq!(
        message_ids(&pair.dot, "dst@new.test"),
        want,
        "every message exactly once"
    );
    // The totals are the job's, not its last attempt's: the destination was empty, so every
    // message counts as copied by this job (the first attempt's included, even one whose
    // APPEND answer the dead process never read) and none as already present.
    let result: StoredResult = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
    let t = &result.report.totals;
    assert_eq!(t.already_present, 0, "{t:?}");
    assert!(
        t.copied_before as usize >= partial.saturating_sub(2),
        "{t:?}"
    );
    assert_eq!(t.copied_by_this_copy() as usize, MESSAGES, "{t:?}");
    let source_bytes: u64 = (0..MESSAGES).map(|n| message(n).len() as u64).sum();
    assert_eq!(t.copied_by_this_copy_bytes(), source_bytes, "{t:?}");
    assert_eq!(
        result.folders.iter().map(|f| f.copied).sum::<u64>() as usize,
        MESSAGES
    );
    let progress: app::model::ProgressView =
        serde_json::from_str(job.progress.as_deref().unwrap()).unwrap();
    assert_eq!(
        (progress.messages_done, progress.messages_total),
        (MESSAGES as u64, MESSAGES as u64)
    );
    assert_eq!(
        (progress.bytes_done, progress.bytes_total),
        (source_bytes, source_bytes),
        "the page's bytes cover the whole job"
    );
    // The job's own start and two attempts: the first lost at its last heartbeat.
    let attempts = store.attempts(&id).unwrap();
    assert_eq!(
        attempts.iter().map(|a| a.end).collect::<Vec<_>>(),
        [Some(AttemptEnd::Lost), Some(AttemptEnd::Finished)]
    );
    assert_eq!(job.started_at, Some(attempts[0].started_at));
    assert!(attempts[0].ended_at.unwrap() <= attempts[1].started_at);
    let report = imapcopy::report::render(
        &job,
        Some(&result.report),
        &attempts,
        &imapcopy::report::ReportSettings {
            public_url: "http://x".into(),
            time_zone: jiff::tz::TimeZone::UTC,
        },
    );
    let copied_line = format!("{MESSAGES} copied, 0 already there");
    assert!(report.text.contains(&copied_line), "{}", report.text);
    assert!(report.text.contains("Attempt 1: "), "{}", report.text);
    assert!(
        report
            .text
            .contains("interrupted (the service restarted); resumed"),
        "{}",
        report.text
    );
    // Final: the checkpoints are gone.
    assert!(SqliteCheckpoints::new(&store, id.clone())
        .load("INBOX")
        .await
        .unwrap()
        .is_none());
}
