//! The preflight ([`mailcopy::preview::preview`]) against real Dovecot servers (testkit;
//! loopback only): Slash (`/`, no prefix) → DotInbox (`.`, `INBOX.`) with a quota, then a
//! destination that advertises APPENDLIMIT.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use mailcopy::net::{AddressPolicy, StaticResolver};
use mailcopy::preview::{preview, Preview, PreviewFolder, PreviewWarning, Quota};
use mailcopy::{
    render_plan, ConnectError, ConnectOptions, Credentials, Endpoint, MappingNote, PlanOptions,
    Security,
};
use testkit::{Dovecot, DovecotPair, Flavour, Options};

const PASSWORD: &str = "preview-secret";
const LIMIT: Duration = Duration::from_secs(20);

fn options(servers: &[&Dovecot]) -> ConnectOptions {
    let resolver = StaticResolver::new().with("localhost", ["127.0.0.1".parse().unwrap()]);
    let ca: String = servers.iter().map(|d| d.ca_pem() + "\n").collect();
    ConnectOptions::new(Arc::new(resolver))
        .with_policy(AddressPolicy::AllowAll)
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(15))
        .with_ca_pem(ca)
        .unwrap()
}

fn tls(d: &Dovecot) -> Endpoint {
    Endpoint::new("localhost", d.imaps_port(), Security::Tls)
}

/// A message of exactly `len` octets (CRLF line ends, as Dovecot's SIZE counts them).
fn message(n: usize, len: usize) -> Vec<u8> {
    let head = format!(
        "From: a@example.test\r\nSubject: preview {n}\r\nMessage-ID: <p{n}@example.test>\r\n\r\n"
    );
    let mut raw = head.into_bytes();
    assert!(raw.len() + 2 <= len);
    raw.resize(len - 2, b'x');
    raw.extend_from_slice(b"\r\n");
    raw
}

fn row<'a>(p: &'a Preview, source_display: &str) -> &'a PreviewFolder {
    p.folders
        .iter()
        .find(|f| f.source.display() == source_display)
        .unwrap_or_else(|| panic!("no row for {source_display}:\n{}", render_plan(&p.plan)))
}

#[tokio::test]
async fn preview_dovecot_counts_mapping_collisions_and_quota() {
    let pair = DovecotPair::start().unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    let user = "pia@example.test";
    src.add_user(user, PASSWORD).unwrap();
    dst.add_user_with_limits(user, PASSWORD, Some(1024), None)
        .unwrap();

    for name in ["Archive/2020", "Sub", "INBOX/Sub", "Empty", "Existing"] {
        src.create_mailbox(user, name).unwrap();
    }
    dst.create_mailbox(user, "INBOX.Existing").unwrap();
    let mut sizes = std::collections::BTreeMap::<&str, (u64, u64)>::new();
    for (n, (folder, len)) in [
        ("INBOX", 500),
        ("INBOX", 700),
        ("Archive/2020", 1000),
        ("Archive/2020", 1100),
        ("Archive/2020", 1200),
        ("Sub", 300),
    ]
    .into_iter()
    .enumerate()
    {
        src.append(user, folder, &["\\Seen"], None, &message(n, len))
            .unwrap();
        let e = sizes.entry(folder).or_default();
        e.0 += 1;
        e.1 += len as u64;
    }
    // 3 KiB already used at the destination.
    dst.append(user, "INBOX", &[], None, &message(99, 3072))
        .unwrap();

    let creds = Credentials::new(user, PASSWORD);
    let p = preview(
        (&tls(src), &creds),
        (&tls(dst), &creds),
        &options(&[src, dst]),
        &PlanOptions::default(),
        None,
        LIMIT,
    )
    .await
    .unwrap();
    let plan_text = render_plan(&p.plan);

    // Totals (Dovecot advertises STATUS=SIZE).
    assert_eq!(p.messages, 6, "{plan_text}");
    assert_eq!(p.bytes, Some(500 + 700 + 1000 + 1100 + 1200 + 300));
    for (folder, (messages, bytes)) in &sizes {
        let r = row(&p, folder);
        assert_eq!((r.messages, r.bytes), (*messages, Some(*bytes)), "{folder}");
    }

    // Mapping and "will be created".
    let archive = row(&p, "Archive/2020");
    assert_eq!(archive.destination.display(), "INBOX.Archive.2020");
    assert!(archive.will_create);
    let empty = row(&p, "Empty");
    assert_eq!(
        (
            empty.destination.display(),
            empty.will_create,
            empty.messages
        ),
        ("INBOX.Empty", true, 0)
    );
    let existing = row(&p, "Existing");
    assert_eq!(existing.destination.display(), "INBOX.Existing");
    assert!(!existing.will_create, "already at the destination");
    let inbox = row(&p, "INBOX");
    assert_eq!(
        (inbox.destination.display(), inbox.will_create),
        ("INBOX", false)
    );
    // `Archive` is the \Noselect parent Dovecot lists for Archive/2020: nothing to count.
    assert!(!row(&p, "Archive").selectable);

    // The collision: `Sub` and `INBOX/Sub` both want `INBOX.Sub`.
    assert_eq!(row(&p, "Sub").destination.display(), "INBOX.Sub");
    let lifted = row(&p, "INBOX/Sub");
    assert_eq!(lifted.destination.display(), "INBOX.Sub (2)", "{plan_text}");
    assert!(
        lifted.notes.iter().any(|n| n.starts_with("renamed:")),
        "{:?}",
        lifted.notes
    );
    assert!(p
        .plan
        .mapping("INBOX/Sub")
        .unwrap()
        .notes
        .iter()
        .any(|n| matches!(n, MappingNote::Collision { .. })));

    // The quota: 1024 KiB, about 3 KiB used; no APPENDLIMIT advertised.
    let Some(Quota {
        used_kib,
        limit_kib,
    }) = p.quota
    else {
        panic!("no quota: {p:?}")
    };
    assert_eq!(limit_kib, 1024);
    assert!((3..=4).contains(&used_kib), "used {used_kib} KiB");
    assert_eq!((p.append_limit, p.too_large), (None, None));
    assert!(p.skipped.is_empty(), "{:?}", p.skipped);

    // The other way round: no quota at the Slash user, INBOX.Existing → Existing exists there.
    let back = preview(
        (&tls(dst), &creds),
        (&tls(src), &creds),
        &options(&[src, dst]),
        &PlanOptions::default(),
        None,
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(back.quota, None);
    assert_eq!(back.messages, 1);
    assert_eq!(back.bytes, Some(3072));
    assert!(!row(&back, "INBOX.Existing").will_create);
}

#[tokio::test]
async fn preview_dovecot_append_limit_failures_and_time_limit() {
    let src = Dovecot::start(Flavour::Slash).unwrap();
    let dst = Dovecot::start_with(Options {
        extra_conf: "imap_capability = +APPENDLIMIT=2000\n".to_string(),
        ..Options::new(Flavour::DotInbox)
    })
    .unwrap();
    let user = "lim@example.test";
    src.add_user(user, PASSWORD).unwrap();
    dst.add_user(user, PASSWORD).unwrap();
    src.create_mailbox(user, "Big").unwrap();
    for (n, (folder, len)) in [
        ("INBOX", 1000),
        ("INBOX", 2500),
        ("Big", 4000),
        ("Big", 2001),
        ("Big", 2000),
    ]
    .into_iter()
    .enumerate()
    {
        src.append(user, folder, &[], None, &message(n, len))
            .unwrap();
    }
    let creds = Credentials::new(user, PASSWORD);
    let opts = options(&[&src, &dst]);
    let p = preview(
        (&tls(&src), &creds),
        (&tls(&dst), &creds),
        &opts,
        &PlanOptions::default(),
        None,
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(p.append_limit, Some(2000));
    assert_eq!(p.too_large, Some(3), "{p:?}");
    assert_eq!(row(&p, "INBOX").too_large, Some(1));
    assert_eq!(row(&p, "Big").too_large, Some(2));
    assert_eq!(p.quota, None, "no quota rule for this user");

    // A wrong password on either side is the login error.
    let wrong = Credentials::new(user, "nope");
    let e = preview(
        (&tls(&src), &creds),
        (&tls(&dst), &wrong),
        &opts,
        &PlanOptions::default(),
        None,
        LIMIT,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectError::AuthFailed { .. }), "{e:?}");

    // The time limit covers the whole preview.
    let e = preview(
        (&tls(&src), &creds),
        (&tls(&dst), &creds),
        &opts,
        &PlanOptions::default(),
        None,
        Duration::from_millis(1),
    )
    .await
    .unwrap_err();
    assert_eq!(e, ConnectError::TimedOut { stage: "preview" });
}

/// A source that says it is Gmail (`X-GM-EXT-1`, added to Dovecot's capabilities) warns when
/// it lists no `\All` folder — All Mail hidden from IMAP — and not when it lists one (the
/// Gmail-like layout's `[Gmail]/All Mail`, a virtual folder with `\All`).
#[tokio::test]
async fn a_gmail_source_that_hides_all_mail_is_warned_about() {
    let gmail_caps = "imap_capability = +X-GM-EXT-1\n".to_string();
    let hidden = Dovecot::start_with(Options {
        extra_conf: gmail_caps.clone(),
        ..Options::new(Flavour::Slash)
    })
    .unwrap();
    let shown = Dovecot::start_with(Options {
        extra_conf: gmail_caps,
        ..Options::new(Flavour::GmailLike)
    })
    .unwrap();
    let dst = Dovecot::start_with(Options::new(Flavour::DotInbox)).unwrap();
    let user = "gia@example.test";
    for d in [&hidden, &shown, &dst] {
        d.add_user(user, PASSWORD).unwrap();
    }
    let creds = Credentials::new(user, PASSWORD);
    let opts = options(&[&hidden, &shown, &dst]);
    let mut seen = Vec::new();
    for src in [&hidden, &shown] {
        let p = preview(
            (&tls(src), &creds),
            (&tls(&dst), &creds),
            &opts,
            &PlanOptions::default(),
            None,
            LIMIT,
        )
        .await
        .unwrap();
        seen.push(p.warnings);
    }
    assert_eq!(
        seen,
        [vec![PreviewWarning::GmailWithoutAllMail], vec![]],
        "hidden All Mail warns, a listed one does not"
    );
}

/// A destination that says it is Gmail (`X-GM-EXT-1`) and a mailbox larger than a day's
/// upload volume: the preflight says how many days the copy takes (at 95 % of the volume a
/// day); the same mailbox into another server, or without pacing, gets no such warning.
#[tokio::test]
async fn a_mailbox_larger_than_a_days_volume_into_gmail_is_told_how_many_days() {
    let src = Dovecot::start_with(Options::new(Flavour::Slash)).unwrap();
    let gmail = Dovecot::start_with(Options {
        extra_conf: "imap_capability = +X-GM-EXT-1\n".into(),
        ..Options::new(Flavour::DotInbox)
    })
    .unwrap();
    let other = Dovecot::start_with(Options::new(Flavour::DotInbox)).unwrap();
    let user = "vol@example.test";
    for d in [&src, &gmail, &other] {
        d.add_user(user, PASSWORD).unwrap();
    }
    // 10 messages of 1,000 octets: 10,000 octets.
    for n in 0..10 {
        src.append(user, "INBOX", &[], None, &message(n, 1_000))
            .unwrap();
    }
    let volumes = mailcopy::profile::DailyVolumes {
        gmail_download: u64::MAX,
        gmail_upload: 2_000,
    };
    let creds = Credentials::new(user, PASSWORD);
    let opts = options(&[&src, &gmail, &other]);
    let run = |dst: &Dovecot, volumes: Option<&mailcopy::profile::DailyVolumes>| {
        let (dst, creds, opts) = (tls(dst), creds.clone(), opts.clone());
        let volumes = volumes.copied();
        let source = tls(&src);
        async move {
            preview(
                (&source, &creds),
                (&dst, &creds),
                &opts,
                &PlanOptions::default(),
                volumes.as_ref(),
                LIMIT,
            )
            .await
            .unwrap()
        }
    };
    let into_gmail = run(&gmail, Some(&volumes)).await;
    assert_eq!(into_gmail.bytes, Some(10_000));
    // 10,000 octets at 1,900 a day: 6 days.
    assert_eq!(
        into_gmail.warnings,
        [PreviewWarning::DailyVolume {
            days: 6,
            per_day: 2_000,
            provider: mailcopy::profile::Provider::Gmail,
            upload: true,
        }]
    );
    assert_eq!(run(&other, Some(&volumes)).await.warnings, []);
    assert_eq!(run(&gmail, None).await.warnings, []);
}
