//! `connect` / `check_account` against real Dovecot instances from `testkit` (loopback only).
//! One instance per flavour is shared by all tests here; every test uses its own user.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::{ConnectError, ConnectOptions, Credentials, Endpoint, ErrorKind, Security};
use testkit::{Dovecot, Flavour};

fn slash() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| Dovecot::start(Flavour::Slash).expect("starting Dovecot (Slash)"))
}

fn dot() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| Dovecot::start(Flavour::DotInbox).expect("starting Dovecot (DotInbox)"))
}

/// `localhost` (in the certificate) and `localhost.test` (not in it) both map to 127.0.0.1;
/// nothing is ever asked of real DNS.
fn resolver() -> Arc<StaticResolver> {
    Arc::new(
        StaticResolver::new()
            .with("localhost", ["127.0.0.1".parse().unwrap()])
            .with("localhost.test", ["127.0.0.1".parse().unwrap()]),
    )
}

/// Loopback allowed, the harness CA trusted, short timeouts.
fn opts(d: &Dovecot) -> ConnectOptions {
    ConnectOptions::new(resolver())
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
        .with_ca_file(d.ca_pem_path())
        .unwrap()
}

fn user(d: &Dovecot, login: &str, password: &str) -> Credentials {
    d.add_user(login, password).unwrap();
    Credentials::new(login, password)
}

#[tokio::test]
async fn implicit_tls_with_harness_ca() {
    let d = slash();
    let c = user(d, "tls@example.test", "secret");
    for name in ["Alpha", "Beta", "Gamma", "Sub/Deeper"] {
        d.create_mailbox(&c.login, name).unwrap();
    }
    d.save(&c.login, "Beta", b"Subject: one\r\n\r\nbody\r\n")
        .unwrap();
    d.save(&c.login, "Beta", b"Subject: two\r\n\r\nbody\r\n")
        .unwrap();
    d.save(&c.login, "INBOX", b"Subject: three\r\n\r\nbody\r\n")
        .unwrap();

    let ep = Endpoint::new("localhost", d.imaps_port(), Security::Tls);
    let mut s = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap();
    assert!(s.stream().is_tls());
    assert!(s.has_capability("imap4rev1"));
    let folders = s.list_folders().await.unwrap();
    let names: Vec<&str> = folders.iter().map(|f| f.name.raw()).collect();
    let expected = d.list_mailboxes(&c.login).unwrap();
    assert_eq!(folders.len(), expected.len(), "{names:?} vs {expected:?}");
    for n in ["INBOX", "Alpha", "Beta", "Gamma", "Sub", "Sub/Deeper"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(folders.iter().all(|f| f.delimiter == Some('/')));
    let beta = s.status("Beta").await.unwrap();
    assert_eq!(beta.messages, 2);
    assert!(beta.uid_validity.is_some());
    assert_eq!(beta.uid_next, Some(mailcopy::Uid(3)));
    let ns = s.namespace().await.unwrap();
    assert_eq!(
        ns,
        Some(mailcopy::Namespace {
            prefix: String::new(),
            delimiter: Some('/')
        })
    );
    s.logout().await.unwrap();

    let check = mailcopy::check_account(&ep, &c, &opts(d), Duration::from_secs(20))
        .await
        .unwrap();
    let selectable = folders.iter().filter(|f| f.is_selectable()).count();
    assert_eq!(check.folders, selectable);
    assert_eq!(check.messages, 3);
    assert!(check.capabilities.iter().any(|c| c == "IMAP4rev1"));
}

#[tokio::test]
async fn starttls() {
    let d = slash();
    let c = user(d, "starttls@example.test", "secret");
    let ep = Endpoint::new("127.0.0.1", d.imap_port(), Security::StartTls);
    let mut s = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap();
    assert!(s.stream().is_tls());
    // Before TLS Dovecot offers STARTTLS; after it, it must not any more.
    assert!(!s.has_capability("STARTTLS"));
    let folders = s.list_folders().await.unwrap();
    assert!(folders.iter().any(|f| f.name == "INBOX"));
    s.logout().await.unwrap();
}

#[tokio::test]
async fn plain_when_explicitly_chosen() {
    let d = slash();
    let c = user(d, "plain@example.test", "secret");
    let ep = Endpoint::new("127.0.0.1", d.imap_port(), Security::Plain);
    let s = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap();
    assert!(!s.stream().is_tls());
    s.logout().await.unwrap();
}

#[tokio::test]
async fn wrong_password() {
    let d = slash();
    let c = user(d, "wrongpw@example.test", "right");
    let bad = Credentials::new(c.login.clone(), "wrong");
    let ep = Endpoint::new("localhost", d.imaps_port(), Security::Tls);
    let err = mailcopy::connect(&ep, &bad, &opts(d)).await.unwrap_err();
    match &err {
        ConnectError::AuthFailed { server_text } => {
            assert!(
                server_text.contains("Authentication failed"),
                "{server_text}"
            )
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn password_with_quotes_backslash_and_non_ascii() {
    let d = slash();
    let c = user(d, "weird@example.test", "\"\\é§ x");
    for security in [Security::Tls, Security::StartTls] {
        let port = match security {
            Security::Tls => d.imaps_port(),
            _ => d.imap_port(),
        };
        let ep = Endpoint::new("localhost", port, security);
        let s = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap();
        s.logout().await.unwrap();
    }
}

#[tokio::test]
async fn tls_without_harness_ca_is_untrusted() {
    let d = slash();
    let c = user(d, "noca@example.test", "secret");
    let o = ConnectOptions::new(resolver())
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5));
    let ep = Endpoint::new("localhost", d.imaps_port(), Security::Tls);
    let err = mailcopy::connect(&ep, &c, &o).await.unwrap_err();
    match &err {
        ConnectError::CertificateUntrusted { detail } => {
            assert!(detail.contains("unknown certificate authority"), "{detail}")
        }
        other => panic!("expected CertificateUntrusted, got {other:?}"),
    }
}

#[tokio::test]
async fn name_mismatch_is_untrusted() {
    let d = slash();
    let c = user(d, "mismatch@example.test", "secret");
    let ep = Endpoint::new("localhost.test", d.imaps_port(), Security::Tls);
    let err = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap_err();
    match &err {
        ConnectError::CertificateUntrusted { detail } => {
            assert!(detail.contains("name mismatch"), "{detail}");
            assert!(detail.contains("localhost.test"), "{detail}");
        }
        other => panic!("expected CertificateUntrusted, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_to_plain_port() {
    let d = slash();
    let c = Credentials::new("nobody@example.test", "x");
    let ep = Endpoint::new("localhost", d.imap_port(), Security::Tls);
    let err = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap_err();
    assert_eq!(err, ConnectError::TlsNotSpoken);
}

#[tokio::test]
async fn plain_to_tls_port_gets_no_greeting() {
    let d = slash();
    let c = Credentials::new("nobody@example.test", "x");
    let ep = Endpoint::new("localhost", d.imaps_port(), Security::StartTls);
    let o = opts(d).with_timeouts(Duration::from_secs(2), Duration::from_millis(500));
    let err = mailcopy::connect(&ep, &c, &o).await.unwrap_err();
    assert_eq!(err, ConnectError::NoGreeting);
}

#[tokio::test]
async fn closed_port() {
    let d = slash();
    let port = testkit::free_port().unwrap();
    let c = Credentials::new("nobody@example.test", "x");
    let ep = Endpoint::new("127.0.0.1", port, Security::Tls);
    let err = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err:?}");
}

#[tokio::test]
async fn unknown_host() {
    let d = slash();
    let c = Credentials::new("nobody@example.test", "x");
    let ep = Endpoint::new("imap.unknown.test", d.imaps_port(), Security::Tls);
    let err = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap_err();
    assert_eq!(
        err,
        ConnectError::HostNotFound {
            host: "imap.unknown.test".into()
        }
    );
}

#[tokio::test]
async fn loopback_not_allowed_under_public_only() {
    let d = slash();
    let c = Credentials::new("nobody@example.test", "x");
    let o = opts(d).with_policy(AddressPolicy::PublicOnly);
    for host in ["127.0.0.1", "localhost"] {
        let ep = Endpoint::new(host, d.imaps_port(), Security::Tls);
        let err = mailcopy::connect(&ep, &c, &o).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddressNotAllowed, "{err:?}");
    }
}

#[tokio::test]
async fn dot_inbox_namespace() {
    let d = dot();
    let c = user(d, "dot@example.test", "secret");
    d.create_mailbox(&c.login, &d.mailbox_name(&["Archive", "2020"]))
        .unwrap();
    let ep = Endpoint::new("localhost", d.imaps_port(), Security::Tls);
    let mut s = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap();
    let ns = s.namespace().await.unwrap().unwrap();
    assert_eq!(ns.prefix, "INBOX.");
    assert_eq!(ns.delimiter, Some('.'));
    let folders = s.list_folders().await.unwrap();
    let names: Vec<&str> = folders.iter().map(|f| f.name.raw()).collect();
    assert!(names.contains(&"INBOX.Archive.2020"), "{names:?}");
    assert!(folders.iter().all(|f| f.delimiter == Some('.')));
    // The session is still usable after NAMESPACE.
    let st = s.status("INBOX.Archive.2020").await.unwrap();
    assert_eq!(st.messages, 0);
    s.logout().await.unwrap();
}

#[tokio::test]
async fn non_ascii_folder_names_stay_modified_utf7() {
    let d = slash();
    let c = user(d, "utf7@example.test", "secret");
    d.create_mailbox(&c.login, "Été").unwrap();
    d.create_mailbox(&c.login, "with \"quote").unwrap();
    d.save(&c.login, "with \"quote", b"Subject: q\r\n\r\nx\r\n")
        .unwrap();
    let ep = Endpoint::new("localhost", d.imaps_port(), Security::Tls);
    let mut s = mailcopy::connect(&ep, &c, &opts(d)).await.unwrap();
    let folders = s.list_folders().await.unwrap();
    let names: Vec<&str> = folders.iter().map(|f| f.name.raw()).collect();
    assert!(names.contains(&"&AMk-t&AOk-"), "{names:?}");
    assert!(names.contains(&"with \"quote"), "{names:?}");
    assert_eq!(s.status("&AMk-t&AOk-").await.unwrap().messages, 0);
    assert_eq!(s.status("with \"quote").await.unwrap().messages, 1);
    s.logout().await.unwrap();
}
