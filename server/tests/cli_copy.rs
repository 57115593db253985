//! `imapcopy copy` as an operator runs it: the real binary against real Dovecot servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn hosts_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("hosts");
    std::fs::write(&path, "127.0.0.1 localhost\n").unwrap();
    path
}

fn seed(d: &testkit::Dovecot, user: &str) {
    let archive = d.mailbox_name(&["Archive", "2019"]);
    d.create_mailbox(user, &archive).unwrap();
    d.create_mailbox(user, "Vacío").unwrap();
    for n in 0..4 {
        let raw = format!("Subject: m{n}\r\nMessage-ID: <m{n}@x.test>\r\n\r\nbody {n}\r\n");
        let folder = if n % 2 == 0 {
            "INBOX"
        } else {
            archive.as_str()
        };
        d.append(
            user,
            folder,
            &["\\Flagged", "$Work"],
            Some("03-Mar-2021 12:00:00 +0000"),
            raw.as_bytes(),
        )
        .unwrap();
    }
}

#[test]
fn copy_dry_run_then_copy_with_exit_status_and_table() {
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user("op@old.test", "old secret").unwrap();
    pair.dot.add_user("op@new.test", "new secret").unwrap();
    seed(&pair.slash, "op@old.test");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pair.slash.ca_pem() + &pair.dot.ca_pem()).unwrap();
    let from = format!("imaps://op@old.test@localhost:{}", pair.slash.imaps_port());
    let to = format!("imap://op%40new.test@localhost:{}", pair.dot.imap_port());
    let password_file = dir.path().join("to-pass");
    std::fs::write(&password_file, "new secret\n").unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imapcopy"));
        cmd.args(["copy", "--from", &from, "--to", &to, "--ca-file"])
            .arg(&ca)
            .arg("--static-hosts")
            .arg(hosts_file(dir.path()))
            .arg("--to-password-file")
            .arg(&password_file)
            .args(extra)
            .env("IMAPCOPY_FROM_PASSWORD", "old secret")
            .env_remove("IMAPCOPY_TO_PASSWORD");
        cmd.output().unwrap()
    };

    let dry = run(&["--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(stdout.contains("INBOX.Archive.2019"), "{stdout}");
    assert!(stdout.contains("Vacío"), "{stdout}");
    assert!(
        !pair
            .dot
            .list_mailboxes("op@new.test")
            .unwrap()
            .iter()
            .any(|f| f.contains("Archive")),
        "dry run changes nothing"
    );

    let real = run(&["--connections", "2"]);
    let stdout = String::from_utf8_lossy(&real.stdout);
    assert_eq!(
        real.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let folders = pair.dot.list_mailboxes("op@new.test").unwrap();
    assert!(
        folders.iter().any(|f| f == "INBOX.Archive.2019"),
        "{folders:?}"
    );
    assert!(folders.iter().any(|f| f == "INBOX.Vacío"), "{folders:?}");
    let status = pair
        .dot
        .doveadm(&[
            "mailbox",
            "status",
            "-u",
            "op@new.test",
            "messages",
            "INBOX.Archive.2019",
        ])
        .unwrap();
    assert!(status.contains("messages=2"), "{status}");
    // Passwords never appear in what the command prints.
    let all = format!("{stdout}{}", String::from_utf8_lossy(&real.stderr));
    assert!(!all.contains("old secret") && !all.contains("new secret"));
}

#[test]
fn bad_input_gives_a_clear_error_and_status_1_or_2() {
    let pair = testkit::DovecotPair::start().unwrap();
    pair.slash.add_user("x@old.test", "right").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pair.slash.ca_pem()).unwrap();
    let from = format!("imaps://x@old.test@localhost:{}", pair.slash.imaps_port());
    let out = Command::new(env!("CARGO_BIN_EXE_imapcopy"))
        .args(["copy", "--from", &from, "--to", &from, "--ca-file"])
        .arg(&ca)
        .arg("--static-hosts")
        .arg(hosts_file(dir.path()))
        .env("IMAPCOPY_FROM_PASSWORD", "wrong")
        .env("IMAPCOPY_TO_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.to_lowercase().contains("authentication failed"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_imapcopy"))
        .args(["copy", "--from", "ftp://x", "--to", "imaps://a@b"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected imaps://"));
}
