//! The exact copy between real Dovecot servers: a generated mailbox goes from a `/` server
//! without prefix to a `.` server with `INBOX.` prefix and back, and must arrive exactly:
//! per folder the same multiset of (sha256 of the full message, flags, INTERNALDATE).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use mailcopy::copy::{MessageResult, SkipReason};
use mailcopy::{copy_mailbox, render_table, CancellationToken, CopyOptions, Outcome, Progress};
use support::gen::{generate, GenOptions};
use support::{
    account, assert_same, connect_options, expected, seed, snapshot, subscriptions, Events,
};
use testkit::DovecotPair;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_mailbox_round_trip_is_exact() {
    let pair = DovecotPair::start().unwrap();
    let (slash, dot) = (&pair.slash, &pair.dot);
    for d in [slash, dot] {
        d.add_user("alice@example.test", "alice-pw").unwrap();
        d.add_user("back@example.test", "back-pw").unwrap();
    }
    let mailbox = generate(20_240_611, &GenOptions::default());
    seed(slash, "alice@example.test", &mailbox);

    // The seed itself is what the generator made (Dovecot stores messages as appended).
    let all = expected(&mailbox, |_| true);
    let source_before = snapshot(slash, "alice@example.test").await;
    assert_same(&source_before, &all, "seeded source");

    // Slash → Dot.
    let opts = connect_options(&[slash, dot]);
    let (src_ep, src_creds) = account(slash, "alice@example.test");
    let (dst_ep, dst_creds) = account(dot, "alice@example.test");
    let events = Events::default();
    let options = CopyOptions {
        connections: 2,
        ..CopyOptions::default()
    };
    let started = std::time::Instant::now();
    let report = copy_mailbox(
        (&src_ep, &src_creds),
        (&dst_ep, &dst_creds),
        &opts,
        &options,
        &events,
        &CancellationToken::new(),
    )
    .await;
    let table = render_table(&report);
    println!("{table}\n(took {:?})", started.elapsed());
    assert_eq!(report.outcome, Outcome::Complete, "{table}");
    assert_eq!(report.outcome.exit_code(), 0);

    let without_deleted = expected(&mailbox, |m| !m.is_deleted());
    assert_same(
        &snapshot(dot, "alice@example.test").await,
        &without_deleted,
        "slash → dot",
    );
    // The source is untouched (BODY.PEEK: no \Seen set).
    assert_same(
        &snapshot(slash, "alice@example.test").await,
        &all,
        "source after the copy",
    );

    // The report: per folder counts, \Deleted skipped and listed, identical messages copied
    // as many times as they appear.
    let deleted: usize = mailbox.messages().filter(|m| m.is_deleted()).count();
    assert!(deleted >= 1);
    assert_eq!(report.totals.skipped as usize, deleted);
    assert_eq!(report.totals.rejected, 0);
    assert_eq!(report.totals.messages as usize, mailbox.messages().count());
    assert_eq!(
        report.totals.copied as usize,
        mailbox.messages().count() - deleted
    );
    for f in &report.folders {
        assert!(f.error.is_none(), "{f:?}");
        assert!(f.skipped.iter().all(|s| s.reason == SkipReason::Deleted));
        assert_eq!(f.destination_count, Some(f.copied), "{f:?}");
        assert_eq!(f.source_count as usize, f.copied as usize + f.skipped.len());
    }
    let inbox = report.folders.iter().find(|f| f.source == "INBOX").unwrap();
    assert_eq!(inbox.destination, "INBOX");
    let skipped_inbox = &inbox.skipped;
    assert!(
        skipped_inbox.iter().any(|s| s
            .summary
            .subject
            .as_deref()
            .is_some_and(|t| t.contains("#3"))),
        "the \\Deleted message is described: {skipped_inbox:?}"
    );
    let names: Vec<(&str, &str)> = report
        .folders
        .iter()
        .map(|f| (f.source.raw(), f.destination.raw()))
        .collect();
    for pair in [
        (
            "Donn&AOk-es/&AMk-t&AOk- &AOA- Paris",
            "INBOX.Donn&AOk-es.&AMk-t&AOk- &AOA- Paris",
        ),
        ("Q&-A", "INBOX.Q&-A"),
        ("Empty", "INBOX.Empty"),
        ("Work/Projects/2024", "INBOX.Work.Projects.2024"),
        ("&ZeVnLIqe-", "INBOX.&ZeVnLIqe-"),
    ] {
        assert!(names.contains(&pair), "{pair:?} not in {names:?}");
    }
    assert!(table.contains("Été à Paris"), "{table}");
    assert!(report.plan.is_some());

    // Subscriptions follow.
    let subscribed: Vec<Vec<String>> = mailbox
        .folders
        .iter()
        .filter(|f| f.subscribed)
        .map(|f| f.path.clone())
        .collect();
    let mut want = subscribed.clone();
    want.sort();
    assert_eq!(subscriptions(dot, "alice@example.test"), want);

    // Progress: totals after the scan, one event per message, Finished last.
    let events = events.take();
    let scanned = events
        .iter()
        .find_map(|e| match e {
            Progress::Scanned {
                folders,
                messages,
                bytes,
                already_present,
                copied_before,
                ..
            } => {
                assert_eq!((*already_present, *copied_before), (0, 0));
                Some((*folders, *messages, *bytes))
            }
            _ => None,
        })
        .expect("Scanned event");
    assert_eq!(scanned.0, report.totals.folders);
    assert_eq!(scanned.1 as usize, mailbox.messages().count());
    assert_eq!(
        scanned.2 as usize,
        mailbox.messages().map(|m| m.raw.len()).sum::<usize>()
    );
    let per_message = events
        .iter()
        .filter(|e| matches!(e, Progress::Message { .. }))
        .count();
    assert_eq!(per_message, mailbox.messages().count());
    let last_counts = events.iter().rev().find_map(|e| match e {
        Progress::Message {
            copied,
            skipped,
            failed,
            bytes_done,
            ..
        } => Some((*copied, *skipped, *failed, *bytes_done)),
        _ => None,
    });
    assert_eq!(
        last_counts,
        Some((report.totals.copied, report.totals.skipped, 0, scanned.2))
    );
    // Dovecot sends [APPENDUID] (UIDPLUS): every copied message carries one.
    assert!(events.iter().all(|e| match e {
        Progress::Message {
            result: MessageResult::Copied { appended_uid, .. },
            ..
        } => appended_uid.is_some(),
        _ => true,
    }));
    assert!(matches!(events.last(), Some(Progress::Finished { .. })));

    // And back: Dot → Slash (another user), one connection per side this time.
    let (src_ep, src_creds) = account(dot, "alice@example.test");
    let (dst_ep, dst_creds) = account(slash, "back@example.test");
    let report = copy_mailbox(
        (&src_ep, &src_creds),
        (&dst_ep, &dst_creds),
        &opts,
        &CopyOptions {
            connections: 1,
            ..CopyOptions::default()
        },
        &mailcopy::copy::NoProgress,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(
        report.outcome,
        Outcome::Complete,
        "{}",
        render_table(&report)
    );
    assert_same(
        &snapshot(slash, "back@example.test").await,
        &without_deleted,
        "dot → slash",
    );
    let back = report
        .folders
        .iter()
        .find(|f| f.source == "INBOX.Donn&AOk-es.&AMk-t&AOk- &AOA- Paris")
        .unwrap();
    assert_eq!(back.destination, "Donn&AOk-es/&AMk-t&AOk- &AOA- Paris");
}
