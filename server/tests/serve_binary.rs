//! The real `imapcopy serve` binary with its job runner: `kill -9` in the middle of a copy, a
//! restart, and the copy ends exact with no duplicate; the logs, the database and its WAL never
//! hold a password (nor, after the wipe, the sealed password).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imapcopy::jobs::state::JobState;
use imapcopy::jobs::store::{AccountSecret, AccountSpec, NewJob, Store, SystemClock};
use mailcopy::Security;
use secrecy::SecretString;

const SRC_PASS: &str = "kill9-source-Pa55!";
const DST_PASS: &str = "kill9-dest-Pa55!";
const MESSAGES: usize = 1200;

fn start_server(
    dir: &std::path::Path,
    ca: &std::path::Path,
    hosts: &std::path::Path,
    log_name: &str,
) -> Child {
    let log = std::fs::File::create(dir.join(log_name)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_imapcopy"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-private-networks",
            "--connections",
            "1",
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--ca-file")
        .arg(ca)
        .arg("--static-hosts")
        .arg(hosts)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn open_store(dir: &std::path::Path) -> Store {
    let data = dir.join("data");
    Store::new(
        imapcopy::db::open(&data).unwrap(),
        imapcopy::seal::Sealer::from_key_file(&data.join("secret.key")).unwrap(),
        Arc::new(SystemClock),
    )
}

fn progress_done(store: &Store, id: &str) -> u64 {
    store
        .get(id)
        .unwrap()
        .and_then(|j| j.progress)
        .and_then(|p| serde_json::from_str::<app::model::ProgressView>(&p).ok())
        .map(|p| p.messages_done)
        .unwrap_or(0)
}

fn message_ids(d: &testkit::Dovecot, user: &str, mailbox: &str) -> Vec<String> {
    let mut client = d.login(user).unwrap();
    client.command(&format!("SELECT \"{mailbox}\"")).unwrap();
    let lines = client
        .command("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        .unwrap();
    let mut ids: Vec<String> = lines
        .iter()
        .flat_map(|l| l.split("\r\n").map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| l.find("Message-ID:").map(|i| l[i..].trim().to_string()))
        .collect();
    ids.sort();
    ids
}

#[test]
fn kill_9_mid_copy_then_restart_ends_exact_without_duplicates_or_leaked_secrets() {
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user("kim@old.test", SRC_PASS).unwrap();
    pair.dot.add_user("kim@new.test", DST_PASS).unwrap();
    let mut client = pair.slash.login("kim@old.test").unwrap();
    for n in 0..MESSAGES {
        let raw = format!(
            "From: a{n}@example.test\r\nSubject: bulk {n}\r\nMessage-ID: <bulk{n}@example.test>\r\n\r\n{}\r\n",
            "line of text\r\n".repeat(20 + n % 50)
        );
        client
            .append(
                "INBOX",
                &["\\Seen"],
                Some("05-May-2022 10:00:00 +0000"),
                raw.as_bytes(),
            )
            .unwrap();
    }
    drop(client);

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pair.slash.ca_pem() + &pair.dot.ca_pem()).unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();

    // Queue the job the way the wizard does, through the store (same database and key file).
    let mut server = start_server(dir.path(), &ca, &hosts, "first.log");
    std::thread::sleep(Duration::from_millis(500)); // the server creates the key file first
    let store = open_store(dir.path());
    let id = store
        .insert(NewJob {
            resolved: Default::default(),
            source: AccountSpec {
                host: "localhost".into(),
                port: pair.slash.imaps_port(),
                security: Security::Tls,
                login: "kim@old.test".into(),
            },
            source_secret: AccountSecret::Password(SecretString::from(SRC_PASS)),
            destination: AccountSpec {
                host: "localhost".into(),
                port: pair.dot.imaps_port(),
                security: Security::Tls,
                login: "kim@new.test".into(),
            },
            destination_secret: AccountSecret::Password(SecretString::from(DST_PASS)),
            lang: "en".into(),
            report_to: None,
            labels: Default::default(),
        })
        .unwrap();
    let sealed_before: Vec<u8> = {
        let conn = rusqlite::Connection::open(dir.path().join("data/imapcopy.sqlite3")).unwrap();
        conn.query_row("SELECT source_secret FROM jobs WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap()
    };

    // Kill it hard once a good part (but not all) is copied.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = progress_done(&store, &id);
        if done >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "copy did not progress");
        assert!(server.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let job = store.get(&id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Running, "killed mid-copy");
    let before = message_ids(&pair.dot, "kim@new.test", "INBOX").len();
    assert!(
        before < MESSAGES,
        "the kill landed after the end ({before} copied)"
    );

    // Restart: the job is taken back at once and resumes.
    let mut server = start_server(dir.path(), &ca, &hosts, "second.log");
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job = store.get(&id).unwrap().unwrap();
        if job.state.is_final() && job.report_state != "pending" && !job.has_secrets {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "job did not end after the restart: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(job.state, JobState::Finished, "{job:?}");

    // Exact: every source message once (the report is the one extra message in INBOX).
    let ids = message_ids(&pair.dot, "kim@new.test", "INBOX");
    let mut expected: Vec<String> = (0..MESSAGES)
        .map(|n| format!("Message-ID: <bulk{n}@example.test>"))
        .collect();
    expected.sort();
    let copied: Vec<String> = ids
        .iter()
        .filter(|i| i.contains("@example.test>"))
        .cloned()
        .collect();
    assert_eq!(copied.len(), MESSAGES, "no message lost, none duplicated");
    assert_eq!(copied, expected);

    // SIGTERM: the server stops within 10 s.
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");

    // No password in the logs, the database or its WAL; the sealed value is gone too.
    for file in [
        "first.log",
        "second.log",
        "data/imapcopy.sqlite3",
        "data/imapcopy.sqlite3-wal",
    ] {
        let Ok(bytes) = std::fs::read(dir.path().join(file)) else {
            continue;
        };
        for needle in [SRC_PASS.as_bytes(), DST_PASS.as_bytes(), &sealed_before[..]] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{file} holds a secret"
            );
        }
    }
}
