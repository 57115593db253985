//! What the destination refuses, with real Dovecot: a message too big (`quota_max_mail_size`,
//! `NO [LIMIT]`), a message over the configured size cap, a full quota (`NO [OVERQUOTA]`:
//! stop once), keywords it will not store (`mail_max_keyword_length`: `NO [CANNOT] Keyword
//! length too long`). Every other message must still arrive exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::sync::OnceLock;

use mailcopy::copy::{MessageResult, RejectReason};
use mailcopy::{
    copy_mailbox, render_table, CancellationToken, CopyOptions, CopyReport, Outcome, Progress,
};
use support::gen::{format_dates, generate, GenMailbox, GenMessage, GenOptions};
use support::{account, assert_same, connect_options, expected, seed, snapshot, Events, Msg};
use testkit::{Dovecot, Flavour, Options};

const SOURCE_USER: &str = "source@example.test";
const SEED: u64 = 77;

/// The `/` source, seeded once with the generated mailbox (3 MB attachment included).
fn source() -> &'static (Dovecot, GenMailbox) {
    static S: OnceLock<(Dovecot, GenMailbox)> = OnceLock::new();
    S.get_or_init(|| {
        let d = Dovecot::start(Flavour::Slash).unwrap();
        d.add_user(SOURCE_USER, "source-pw").unwrap();
        let mailbox = generate(SEED, &GenOptions::default());
        seed(&d, SOURCE_USER, &mailbox);
        (d, mailbox)
    })
}

fn destination() -> &'static Dovecot {
    static D: OnceLock<Dovecot> = OnceLock::new();
    D.get_or_init(|| Dovecot::start(Flavour::DotInbox).unwrap())
}

async fn copy(
    src: (&Dovecot, &str),
    dst: (&Dovecot, &str),
    options: &CopyOptions,
    events: &Events,
) -> CopyReport {
    let opts = connect_options(&[src.0, dst.0]);
    let (src_ep, src_creds) = account(src.0, src.1);
    let (dst_ep, dst_creds) = account(dst.0, dst.1);
    let report = copy_mailbox(
        (&src_ep, &src_creds),
        (&dst_ep, &dst_creds),
        &opts,
        options,
        events,
        &CancellationToken::new(),
    )
    .await;
    println!("{}", render_table(&report));
    report
}

fn is_big(m: &GenMessage) -> bool {
    m.raw.len() > 1_000_000
}

#[tokio::test]
async fn message_over_the_destination_size_limit_is_rejected_and_listed() {
    let (src, mailbox) = source();
    let dst = destination();
    // 1 MiB per message at the destination: only the 3 MB message is over it.
    dst.add_user_with_limits("small@example.test", "pw", None, Some(1024))
        .unwrap();
    let events = Events::default();
    let report = copy(
        (src, SOURCE_USER),
        (dst, "small@example.test"),
        &CopyOptions::default(),
        &events,
    )
    .await;
    assert_eq!(report.outcome, Outcome::CompleteWithRejections);
    assert_eq!(report.outcome.exit_code(), 3);
    let rejected: Vec<_> = report.folders.iter().flat_map(|f| &f.rejected).collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let r = rejected[0];
    assert_eq!(r.reason, RejectReason::Refused);
    assert!(r.server_text.contains("[LIMIT]"), "{}", r.server_text);
    assert!(r.summary.size > 3_000_000);
    assert!(
        r.summary.subject.is_some() && r.summary.from.is_some(),
        "{r:?}"
    );
    let work = report.folders.iter().find(|f| f.source == "Work").unwrap();
    assert_eq!(work.rejected.len(), 1);
    assert_eq!(work.destination_count, Some(work.copied));

    let want = expected(mailbox, |m| !m.is_deleted() && !is_big(m));
    assert_same(
        &snapshot(dst, "small@example.test").await,
        &want,
        "size limit",
    );
    let rejected_events = events
        .take()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Progress::Message {
                    result: MessageResult::Rejected,
                    ..
                }
            )
        })
        .count();
    assert_eq!(rejected_events, 1);
}

#[tokio::test]
async fn message_over_the_configured_cap_is_not_sent() {
    let (src, mailbox) = source();
    let dst = destination();
    dst.add_user("capped@example.test", "pw").unwrap();
    let report = copy(
        (src, SOURCE_USER),
        (dst, "capped@example.test"),
        &CopyOptions {
            max_message_size: Some(2_000_000),
            ..CopyOptions::default()
        },
        &Events::default(),
    )
    .await;
    assert_eq!(report.outcome, Outcome::CompleteWithRejections);
    let rejected: Vec<_> = report.folders.iter().flat_map(|f| &f.rejected).collect();
    assert_eq!(rejected.len(), 1);
    assert!(matches!(
        rejected[0].reason,
        RejectReason::TooLarge { limit: 2_000_000, size } if size > 3_000_000
    ));
    let want = expected(mailbox, |m| !m.is_deleted() && !is_big(m));
    assert_same(
        &snapshot(dst, "capped@example.test").await,
        &want,
        "size cap",
    );
}

#[tokio::test]
async fn full_destination_stops_the_copy_once() {
    let (src, _) = source();
    let dst = destination();
    // 24 KiB of storage: a few messages fit, then every APPEND would fail.
    dst.add_user_with_limits("full@example.test", "pw", Some(24), None)
        .unwrap();
    let events = Events::default();
    let report = copy(
        (src, SOURCE_USER),
        (dst, "full@example.test"),
        &CopyOptions::default(),
        &events,
    )
    .await;
    let Outcome::Incomplete { error, .. } = &report.outcome else {
        panic!("expected incomplete: {:?}", report.outcome);
    };
    assert!(
        error.contains("full") && error.contains("[OVERQUOTA]"),
        "{error}"
    );
    assert_eq!(report.outcome.exit_code(), 1);
    // One error, not one per message or per folder.
    assert_eq!(report.totals.rejected, 0);
    assert!(report
        .folders
        .iter()
        .all(|f| f.error.is_none() && f.rejected.is_empty()));
    assert!(report.totals.copied < report.totals.messages);
    let events = events.take();
    assert!(!events.iter().any(|e| matches!(
        e,
        Progress::Message {
            result: MessageResult::Rejected,
            ..
        }
    )));
    assert!(matches!(
        events.last(),
        Some(Progress::Finished {
            outcome: Outcome::Incomplete { .. }
        })
    ));
    let table = render_table(&report);
    assert_eq!(table.matches("[OVERQUOTA]").count(), 1, "{table}");
}

#[tokio::test]
async fn keywords_the_destination_refuses_are_dropped_and_counted() {
    // Dovecot refuses keywords longer than mail_max_keyword_length with
    // "NO [CANNOT] Keyword length too long": the APPEND fails as a whole.
    let mut o = Options::new(Flavour::DotInbox);
    o.extra_conf = "mail_max_keyword_length = 12\n".to_string();
    let dst = Dovecot::start_with(o).unwrap();
    dst.add_user("kw@example.test", "pw").unwrap();
    let src = Dovecot::start(Flavour::Slash).unwrap();
    src.add_user("kw@example.test", "pw").unwrap();

    let long1 = "$VeryLongKeywordOne";
    let long2 = "$AnotherLongKeyword";
    let flag_sets: Vec<Vec<&str>> = vec![
        vec!["\\Seen", "todo", long1, "Work"],
        vec![long1, long2, "\\Flagged"],
        vec!["todo", "$Label1"],
        vec![],
        vec!["\\Answered", long2, "NewShortKw"],
    ];
    let mut mailbox = generate(
        5,
        &GenOptions {
            big_attachment: false,
            scale: 1,
        },
    );
    mailbox
        .folders
        .retain(|f| f.path == ["INBOX"] || f.path == ["Work"]);
    for f in &mut mailbox.folders {
        f.messages.truncate(flag_sets.len());
        for (m, flags) in f.messages.iter_mut().zip(&flag_sets) {
            m.flags = flags.iter().map(|s| s.to_string()).collect();
        }
    }
    // An INTERNALDATE in a far zone, checked end to end.
    let (date, _) = format_dates(1_000_000_000, 1345);
    mailbox.folders[0].messages[0].internaldate = date;
    mailbox.folders[0].messages[0].utc = 1_000_000_000;
    seed(&src, "kw@example.test", &mailbox);

    let report = copy(
        (&src, "kw@example.test"),
        (&dst, "kw@example.test"),
        &CopyOptions::default(),
        &Events::default(),
    )
    .await;
    assert_eq!(report.outcome, Outcome::Complete);
    let per_folder_drops = 4; // long1 twice, long2 twice
    for f in &report.folders {
        assert_eq!(f.keywords_dropped, per_folder_drops, "{f:?}");
        let mut refused = f.keywords_refused.clone();
        refused.sort();
        assert_eq!(refused, vec![long2.to_string(), long1.to_string()]);
    }
    assert_eq!(
        report.totals.keywords_dropped,
        2 * u64::from(per_folder_drops)
    );
    // Messages all there; only the long keywords are missing.
    let mut want = expected(&mailbox, |_| true);
    for msgs in want.values_mut() {
        for m in msgs.iter_mut() {
            m.flags.retain(|f| f.len() <= 12);
        }
        msgs.sort();
    }
    let got = snapshot(&dst, "kw@example.test").await;
    assert_same(&got, &want, "keywords refused");
    let short_kept: usize = got
        .values()
        .flatten()
        .filter(|m: &&Msg| m.flags.iter().any(|f| f == "NewShortKw"))
        .count();
    assert_eq!(short_kept, 2, "keywords next to a refused one are kept");
}
