//! `imapcopy copy` killed with SIGKILL in the middle of a copy, then run again: the
//! destination ends exact — every message once, with its flags — with a checkpoint file
//! (`--state DIR`) and without one; a third run appends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod resilient;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SOURCE: &str = "big@old.test";
const INBOX_MESSAGES: usize = 1200;
const ARCHIVE_MESSAGES: usize = 300;

fn message(n: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Sender {n} <s{n}@example.test>\r\nTo: big@old.test\r\nSubject: message {n}\r\n\
         Message-ID: <resume.{n}@example.test>\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(&format!("Body of message {n}.\r\n").repeat(30).into_bytes());
    raw
}

fn flags(n: usize) -> Vec<&'static str> {
    let mut f = Vec::new();
    if n.is_multiple_of(3) {
        f.push("\\Seen");
    }
    if n.is_multiple_of(7) {
        f.push("$Label1");
    }
    f
}

/// (Message-ID, sorted flags) of every message in `folder`, sorted.
fn contents(d: &testkit::Dovecot, user: &str, folder: &str) -> Vec<(String, String)> {
    let mut c = resilient::Client::new(d, user);
    c.command(&format!("EXAMINE \"{folder}\""));
    let lines = c.command("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
    c.logout();
    let mut out: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH "))
        .map(|l| {
            let f = l.find("FLAGS (").map(|i| &l[i + 7..]).unwrap();
            let mut flags: Vec<&str> = f[..f.find(')').unwrap()]
                .split_whitespace()
                .filter(|x| *x != "\\Recent")
                .collect();
            flags.sort();
            let id = l.find("Message-ID: <").map(|i| &l[i + 13..]).unwrap();
            (id[..id.find('>').unwrap()].to_string(), flags.join(" "))
        })
        .collect();
    out.sort();
    out
}

fn uidnext(d: &testkit::Dovecot, user: &str, folder: &str) -> u32 {
    let out = d
        .doveadm(&["mailbox", "status", "-u", user, "uidnext", folder])
        .unwrap();
    out.split("uidnext=")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

struct Setup {
    pair: testkit::DovecotPair,
    dir: tempfile::TempDir,
    ca: PathBuf,
    hosts: PathBuf,
}

impl Setup {
    fn command(&self, to_user: &str, extra: &[&str]) -> Command {
        let from = format!(
            "imaps://{SOURCE}@localhost:{}",
            self.pair.slash.imaps_port()
        );
        let to = format!("imaps://{to_user}@localhost:{}", self.pair.dot.imaps_port());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imapcopy"));
        cmd.args([
            "copy",
            "--from",
            &from,
            "--to",
            &to,
            "--connections",
            "2",
            "--ca-file",
        ])
        .arg(&self.ca)
        .arg("--static-hosts")
        .arg(&self.hosts)
        .args(extra)
        .env("IMAPCOPY_FROM_PASSWORD", "old-pw")
        .env("IMAPCOPY_TO_PASSWORD", "new-pw")
        .env_remove("RUST_LOG");
        cmd
    }
}

fn setup() -> Setup {
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user(SOURCE, "old-pw").unwrap();
    let archive = pair.slash.mailbox_name(&["Archive", "2020"]);
    pair.slash.create_mailbox(SOURCE, &archive).unwrap();
    let mut c = resilient::Client::new(&pair.slash, SOURCE);
    for n in 0..INBOX_MESSAGES + ARCHIVE_MESSAGES {
        let folder = if n < INBOX_MESSAGES {
            "INBOX"
        } else {
            archive.as_str()
        };
        c.append(
            folder,
            &flags(n),
            Some("02-Jan-2024 11:00:00 +0100"),
            &message(n),
        );
    }
    c.logout();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pair.slash.ca_pem() + &pair.dot.ca_pem()).unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    Setup {
        pair,
        dir,
        ca,
        hosts,
    }
}

/// Starts the copy, waits until the destination INBOX holds `at` messages, and kills it.
fn kill_midway(s: &Setup, to_user: &str, extra: &[&str], at: usize) -> usize {
    let mut child = s
        .command(to_user, extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut c = resilient::Client::new(&s.pair.dot, to_user);
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        // INBOX exists at the destination from the start (the copy's CREATEs are for others).
        let n = c.messages("INBOX");
        if n >= at {
            break n;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the copy ended before it could be killed ({status}, {n} messages)");
        }
        assert!(
            Instant::now() < deadline,
            "the copy did not progress ({n} messages)"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    c.logout();
    seen
}

fn state_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn killed_with_sigkill_then_run_again_ends_exact_with_and_without_state() {
    let s = setup();
    let archive_src = s.pair.slash.mailbox_name(&["Archive", "2020"]);
    let archive_dst = s.pair.dot.mailbox_name(&["Archive", "2020"]);
    let want_inbox = contents(&s.pair.slash, SOURCE, "INBOX");
    let want_archive = contents(&s.pair.slash, SOURCE, &archive_src);
    assert_eq!(
        (want_inbox.len(), want_archive.len()),
        (INBOX_MESSAGES, ARCHIVE_MESSAGES)
    );

    let state_dir = s.dir.path().join("state");
    let state_arg = state_dir.to_string_lossy().to_string();
    for (user, extra) in [
        ("with-state@new.test", vec!["--state", state_arg.as_str()]),
        ("no-state@new.test", vec![]),
    ] {
        s.pair.dot.add_user(user, "new-pw").unwrap();
        let at_kill = kill_midway(&s, user, &extra, 300);
        let left = {
            let mut c = resilient::Client::new(&s.pair.dot, user);
            let n = c.messages("INBOX");
            c.logout();
            n
        };
        assert!(
            left < INBOX_MESSAGES,
            "{user}: killed mid-way ({at_kill} seen, {left} there)"
        );
        if !extra.is_empty() {
            assert_eq!(
                state_files(&state_dir).len(),
                1,
                "one state file per account pair"
            );
        }

        // The resumed copy (without state: with --verify, reading back what it appends).
        let verify = extra.is_empty();
        let mut resume_args = extra.clone();
        if verify {
            resume_args.push("--verify");
        }
        let out = s.command(user, &resume_args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{user}\n{stdout}\n{stderr}");
        assert!(stderr.contains("already at the destination"), "{stderr}");
        if verify {
            assert!(stdout.contains("Read back after copying: "), "{stdout}");
            assert!(
                !stdout.contains("altered"),
                "Dovecot keeps messages as they are: {stdout}"
            );
        }
        // Every message exactly once, with its flags.
        assert_eq!(
            contents(&s.pair.dot, user, "INBOX"),
            want_inbox,
            "{user}: INBOX"
        );
        assert_eq!(
            contents(&s.pair.dot, user, &archive_dst),
            want_archive,
            "{user}: archive"
        );
        eprintln!("{user}: killed with {left} messages in INBOX; the re-run finished the copy");

        // A third run appends nothing.
        let before = (
            uidnext(&s.pair.dot, user, "INBOX"),
            uidnext(&s.pair.dot, user, &archive_dst),
        );
        let out = s.command(user, &extra).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let total = stdout
            .lines()
            .find(|l| l.starts_with("Total"))
            .unwrap_or_default()
            .to_string();
        // Folder, Source, Size (2 words), Dest., Copied, Present, ...
        let cols: Vec<&str> = total.split_whitespace().collect();
        assert_eq!((cols[5], cols[6]), ("0", "1500"), "{stdout}");
        assert_eq!(
            (
                uidnext(&s.pair.dot, user, "INBOX"),
                uidnext(&s.pair.dot, user, &archive_dst)
            ),
            before,
            "{user}: no APPEND"
        );
    }
}
