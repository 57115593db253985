//! Tests of the harness against real Dovecot processes.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::imap::ImapClient;
use testkit::{Dovecot, DovecotPair, Flavour, Options};

const ODD_PASSWORD: &str = "\"\\é§ ok";

fn port_closed(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// Dovecot's login processes may hold the listening socket a moment after the master is gone
/// (seen under load in CI): wait, bounded, for the port to close.
fn port_closes_soon(port: u16) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if port_closed(port) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

fn check_greetings(d: &Dovecot) {
    let plain = ImapClient::connect_plain(d.imap_port()).unwrap();
    assert!(plain.greeting().starts_with("* OK"), "{}", plain.greeting());
    assert!(
        plain.greeting().contains("STARTTLS"),
        "{}",
        plain.greeting()
    );
    assert!(!plain.is_tls());

    let mut starttls = ImapClient::connect_plain(d.imap_port()).unwrap();
    starttls.starttls(&d.ca_pem()).unwrap();
    assert!(starttls.is_tls());
    let caps = starttls.command("CAPABILITY").unwrap().join("\n");
    assert!(!caps.contains("STARTTLS"), "{caps}");
    starttls.logout();

    let tls = ImapClient::connect_tls(d.imaps_port(), &d.ca_pem()).unwrap();
    assert!(tls.greeting().starts_with("* OK"), "{}", tls.greeting());
    assert!(tls.is_tls());
    let by_ip = ImapClient::connect_tls_as(d.imaps_port(), &d.ca_pem(), "127.0.0.1").unwrap();
    assert!(by_ip.greeting().starts_with("* OK"));
    // The certificate is not valid for other names.
    assert!(ImapClient::connect_tls_as(d.imaps_port(), &d.ca_pem(), "example.org").is_err());
}

#[test]
fn slash_flavour_greets_and_nests_with_slash() {
    let d = Dovecot::start(Flavour::Slash).unwrap();
    assert_eq!(d.separator(), '/');
    assert_eq!(d.prefix(), "");
    assert_eq!(d.flavour(), Flavour::Slash);
    assert!(d.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(d.ca_pem_path().exists());
    check_greetings(&d);

    let user = "alice@example.test";
    d.add_user(user, "alice-secret").unwrap();
    assert_eq!(d.mailbox_name(&["a", "b"]), "a/b");
    for name in ["a/b", "Grüße/x.y", "cur", "Sent"] {
        d.create_mailbox(user, name).unwrap();
    }
    let names = d.list_mailboxes(user).unwrap();
    for name in ["INBOX", "a/b", "Grüße/x.y", "cur", "Sent"] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing in {names:?}"
        );
    }

    let mut c = d.login(user).unwrap();
    let list = c.command("LIST \"\" \"*\" RETURN (SPECIAL-USE)").unwrap();
    let list = list.join("\n");
    assert!(list.contains("\"/\" a/b"), "{list}");
    assert!(list.contains("\"/\" Gr&APwA3w-e/x.y"), "{list}");
    assert!(list.contains("(\\Sent) \"/\" Sent"), "{list}");
    let ns = c.command("NAMESPACE").unwrap().join("\n");
    assert!(ns.contains("((\"\" \"/\"))"), "{ns}");
    c.logout();
}

#[test]
fn dot_flavour_greets_and_nests_with_inbox_prefix() {
    let d = Dovecot::start(Flavour::DotInbox).unwrap();
    assert_eq!(d.separator(), '.');
    assert_eq!(d.prefix(), "INBOX.");
    check_greetings(&d);

    let user = "bob@example.test";
    d.add_user(user, "bob-secret").unwrap();
    assert_eq!(d.mailbox_name(&["a", "b"]), "INBOX.a.b");
    for name in ["INBOX.a.b", "INBOX.Grüße.x", "INBOX.Trash"] {
        d.create_mailbox(user, name).unwrap();
    }
    let names = d.list_mailboxes(user).unwrap();
    for name in ["INBOX", "INBOX.a.b", "INBOX.Grüße.x", "INBOX.Trash"] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing in {names:?}"
        );
    }
    // Outside the prefix there is no namespace.
    assert!(d.create_mailbox(user, "Outside").is_err());

    let mut c = d.login(user).unwrap();
    let list = c
        .command("LIST \"\" \"*\" RETURN (SPECIAL-USE)")
        .unwrap()
        .join("\n");
    assert!(list.contains("\".\" INBOX.a.b"), "{list}");
    assert!(list.contains("\".\" INBOX.Gr&APwA3w-e.x"), "{list}");
    assert!(list.contains("(\\Trash) \".\" INBOX.Trash"), "{list}");
    let ns = c.command("NAMESPACE").unwrap().join("\n");
    assert!(ns.contains("((\"INBOX.\" \".\"))"), "{ns}");
    c.logout();
}

#[test]
fn non_ascii_password_authenticates() {
    let d = Dovecot::start(Flavour::Slash).unwrap();
    d.add_user("Carol@Example.test", ODD_PASSWORD).unwrap();
    let out = d
        .doveadm(&["auth", "test", "carol@example.test", ODD_PASSWORD])
        .unwrap();
    assert!(out.contains("auth succeeded"), "{out}");
    let err = d
        .doveadm(&["auth", "test", "carol@example.test", "\"\\e§ ok"])
        .unwrap_err();
    assert!(format!("{err:#}").contains("auth failed"), "{err:#}");
    // Over IMAP too, and logins are case-insensitive.
    let mut c = ImapClient::connect_tls(d.imaps_port(), &d.ca_pem()).unwrap();
    c.login("CAROL@example.test", ODD_PASSWORD).unwrap();
    c.logout();
    assert_eq!(
        d.password("carol@EXAMPLE.test").as_deref(),
        Some(ODD_PASSWORD)
    );
    // Unsupported characters are refused, and so is a duplicate.
    assert!(d.add_user("x", "a:b").is_err());
    assert!(d.add_user("a:b", "x").is_err());
    assert!(d.add_user("carol@example.test", "again").is_err());
}

#[test]
fn users_added_back_to_back_are_usable_at_once() {
    let d = Dovecot::start(Flavour::DotInbox).unwrap();
    let started = Instant::now();
    for i in 0..4 {
        let login = format!("user{i}@example.test");
        d.add_user(&login, "pw").unwrap();
        let out = d.doveadm(&["auth", "test", &login, "pw"]).unwrap();
        assert!(out.contains("auth succeeded"), "{out}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn append_sets_flags_and_internaldate() {
    let d = Dovecot::start(Flavour::Slash).unwrap();
    let user = "dave@example.test";
    d.add_user(user, ODD_PASSWORD).unwrap();
    d.create_mailbox(user, "Grüße/x").unwrap();
    let raw = b"From: a@example.test\r\nSubject: hello\r\n\r\nbody\r\n";
    d.append(
        user,
        "Grüße/x",
        &["\\Seen", "$Label1"],
        Some("01-Jan-2020 10:00:00 +0000"),
        raw,
    )
    .unwrap();
    d.save(user, "Grüße/x", b"Subject: saved\r\n\r\nx\r\n")
        .unwrap();

    let mut c = d.login(user).unwrap();
    c.command("SELECT \"Gr&APwA3w-e/x\"").unwrap();
    let fetch = c
        .command("FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        .unwrap()
        .join("\n");
    assert!(fetch.contains("\\Seen"), "{fetch}");
    assert!(fetch.contains("$Label1"), "{fetch}");
    assert!(fetch.contains("\"01-Jan-2020 10:00:00 +0000\""), "{fetch}");
    assert!(
        fetch.contains(&format!("RFC822.SIZE {}", raw.len())),
        "{fetch}"
    );
    assert!(fetch.contains("Subject: hello"), "{fetch}");
    assert!(fetch.contains("Subject: saved"), "{fetch}");
    assert!(fetch.contains("* 2 FETCH"), "{fetch}");
    c.logout();
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"Subject: big\r\n\r\n".to_vec();
    while m.len() < size {
        m.extend_from_slice(b"0123456789012345678901234567890123456789012345678901234567890\r\n");
    }
    m
}

#[test]
fn quota_and_max_mail_size() {
    let d = Dovecot::start(Flavour::Slash).unwrap();
    d.add_user_with_quota("q@example.test", "pw", 10).unwrap();
    d.append("q@example.test", "INBOX", &[], None, &message(6 * 1024))
        .unwrap();
    let err = d
        .append("q@example.test", "INBOX", &[], None, &message(6 * 1024))
        .unwrap_err();
    assert!(format!("{err:#}").contains("OVERQUOTA"), "{err:#}");
    let mut c = d.login("q@example.test").unwrap();
    let quota = c.command("GETQUOTAROOT INBOX").unwrap().join("\n");
    assert!(
        quota.contains("STORAGE 6 10") || quota.contains("STORAGE 7 10"),
        "{quota}"
    );
    c.logout();

    d.add_user_with_limits("m@example.test", "pw", None, Some(2))
        .unwrap();
    d.append("m@example.test", "INBOX", &[], None, &message(1024))
        .unwrap();
    let err = d
        .append("m@example.test", "INBOX", &[], None, &message(3 * 1024))
        .unwrap_err();
    assert!(format!("{err:#}").contains("[LIMIT]"), "{err:#}");
    // Unlimited user on the same instance.
    d.add_user("free@example.test", "pw").unwrap();
    d.append("free@example.test", "INBOX", &[], None, &message(64 * 1024))
        .unwrap();
}

#[test]
fn instance_wide_max_mail_size_and_extra_conf() {
    let d = Dovecot::start_with(Options {
        flavour: Flavour::DotInbox,
        max_mail_size: Some("4K".to_owned()),
        extra_conf: "login_greeting = testkit extra conf\n".to_owned(),
        oauth2: None,
    })
    .unwrap();
    let c = ImapClient::connect_plain(d.imap_port()).unwrap();
    assert!(
        c.greeting().contains("testkit extra conf"),
        "{}",
        c.greeting()
    );
    d.add_user("e@example.test", "pw").unwrap();
    d.append("e@example.test", "INBOX", &[], None, &message(1024))
        .unwrap();
    assert!(d
        .append("e@example.test", "INBOX", &[], None, &message(8 * 1024))
        .is_err());
}

#[test]
fn pair_uses_distinct_ports_and_drop_cleans_up() {
    let pair = DovecotPair::start().unwrap();
    let mut ports = vec![
        pair.slash.imap_port(),
        pair.slash.imaps_port(),
        pair.dot.imap_port(),
        pair.dot.imaps_port(),
    ];
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    assert_eq!(pair.slash.flavour(), Flavour::Slash);
    assert_eq!(pair.dot.flavour(), Flavour::DotInbox);
    assert_ne!(pair.slash.ca_pem(), pair.dot.ca_pem());

    let dir = pair.slash.dir().to_path_buf();
    let pid = pair.slash.pid().unwrap();
    let (imap, imaps) = (pair.slash.imap_port(), pair.slash.imaps_port());
    assert!(!port_closed(imap) && !port_closed(imaps));
    assert!(dir.exists());
    let DovecotPair { slash, dot } = pair;
    drop(slash);
    assert!(port_closes_soon(imap), "imap port still open after drop");
    assert!(port_closes_soon(imaps), "imaps port still open after drop");
    assert!(!dir.exists(), "temp dir {} survived drop", dir.display());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "dovecot master {pid} still exists"
    );
    // The other instance is unaffected.
    ImapClient::connect_plain(dot.imap_port()).unwrap();
}

/// `restart`: the open session is closed, connections are refused while it is down, and the
/// new master (another pid, same ports) has the same users, passwords and mail.
#[test]
fn restart_closes_sessions_refuses_meanwhile_and_keeps_users_and_mail() {
    let mut d = Dovecot::start(Flavour::Slash).unwrap();
    let user = "restart@example.test";
    d.add_user(user, "pw").unwrap();
    d.append(
        user,
        "INBOX",
        &["\\Seen"],
        None,
        b"Subject: kept\r\n\r\nbody\r\n",
    )
    .unwrap();
    let mut session = d.login(user).unwrap();
    session.command("SELECT INBOX").unwrap();
    let (pid, imap, imaps) = (d.pid().unwrap(), d.imap_port(), d.imaps_port());

    // Probes the plain port while the restart runs: some connect must be refused.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut refused = false;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                refused |= port_closed(imap);
                std::thread::sleep(Duration::from_millis(50));
            }
            refused
        })
    };
    let started = Instant::now();
    d.restart(Duration::from_secs(1)).unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(probe.join().unwrap(), "the port never refused a connection");
    assert!(started.elapsed() >= Duration::from_secs(1));

    assert!(session.command("NOOP").is_err(), "old session survived");
    assert_ne!(d.pid().unwrap(), pid);
    assert_eq!((d.imap_port(), d.imaps_port()), (imap, imaps));
    check_greetings(&d);
    let mut c = d.login(user).unwrap();
    let fetched = c.command("SELECT INBOX").unwrap().join("\n");
    assert!(fetched.contains("* 1 EXISTS"), "{fetched}");
    let flags = c.command("FETCH 1 (FLAGS)").unwrap().join("\n");
    assert!(flags.contains("\\Seen"), "{flags}");
    c.logout();
    // A second restart works too, without waiting.
    d.restart(Duration::ZERO).unwrap();
    d.login(user).unwrap().logout();
}

#[test]
fn cli_serve_writes_state_and_stops_on_sigterm() {
    let state_dir = tempfile::tempdir().unwrap();
    let state_file = state_dir.path().join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_testkit"))
        .args(["serve", "--state-file"])
        .arg(&state_file)
        .args([
            "--user",
            "zed@example.test:pa ss",
            "--user",
            "amy@example.test:pw2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), format!("ready {}", state_file.display()));

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert_eq!(state["slash"]["separator"], "/");
    assert_eq!(state["slash"]["prefix"], "");
    assert_eq!(state["dot"]["separator"], ".");
    assert_eq!(state["dot"]["prefix"], "INBOX.");
    assert_eq!(state["users"][0]["login"], "zed@example.test");
    assert_eq!(state["users"][0]["password"], "pa ss");
    let mut open_ports = Vec::new();
    for side in ["slash", "dot"] {
        let ca = std::fs::read_to_string(state[side]["ca_pem_path"].as_str().unwrap()).unwrap();
        let imaps = u16::try_from(state[side]["imaps_port"].as_u64().unwrap()).unwrap();
        let imap = u16::try_from(state[side]["imap_port"].as_u64().unwrap()).unwrap();
        let mut c = ImapClient::connect_tls(imaps, &ca).unwrap();
        c.login("amy@example.test", "pw2").unwrap();
        c.logout();
        open_ports.extend([imap, imaps]);
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "testkit serve did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
    for port in open_ports {
        assert!(port_closes_soon(port), "port {port} still open");
    }
    assert!(!state_file.exists());
}

#[test]
fn smtp_server_accepts_and_stores_a_message() {
    use std::io::{BufRead, BufReader, Write};
    let smtp = testkit::smtp::Smtp::start().unwrap();
    let stream = std::net::TcpStream::connect(("127.0.0.1", smtp.port())).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    let mut expect = |code: &str, reader: &mut BufReader<std::net::TcpStream>| loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(code), "expected {code}, got {line}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect("220", &mut reader);
    for (cmd, code) in [
        ("EHLO t", "250"),
        ("MAIL FROM:<a@x.test>", "250"),
        ("RCPT TO:<b@y.test>", "250"),
        ("DATA", "354"),
    ] {
        write!(writer, "{cmd}\r\n").unwrap();
        expect(code, &mut reader);
    }
    write!(writer, "Subject: hello\r\n\r\nbody\r\n.\r\n").unwrap();
    expect("250", &mut reader);
    let messages = smtp.wait_for(1, std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(messages.len(), 1);
    assert!(String::from_utf8_lossy(&messages[0]).contains("Subject: hello"));
}
