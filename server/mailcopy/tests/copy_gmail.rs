//! A Gmail-like source (testkit's `GmailLike` Dovecot: labels as folders, `[Gmail]/All Mail`
//! with `\All` over every label, Sent and Drafts and the archived messages, which are
//! nowhere else) into an ordinary Dovecot: by default every label folder is copied as it is,
//! Starred and Important are skipped, and the archived messages — only they — arrive in the
//! destination's archive folder. Nothing is lost, nothing is doubled, a re-run adds nothing.
//! Under "one copy of each message" each message arrives once, its other labels as keywords.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use mailcopy::copy::MemoryCheckpoints;
use mailcopy::{
    copy_mailbox_with, render_table, CancellationToken, CopyOptions, CopyReport, LabelPolicy,
};
use support::{account, connect_options, sha256_hex, snapshot, Events, Msg, Snapshot};
use testkit::{Dovecot, Flavour, Options, GMAIL_ALL_MAIL, GMAIL_SENT, GMAIL_TRASH};

const USER: &str = "gmail@example.test";
const DATE: &str = "03-Mar-2023 10:20:30 +0000";

fn message(tag: &str) -> Vec<u8> {
    format!(
        "From: a@example.test\r\nTo: {USER}\r\nSubject: {tag}\r\nMessage-ID: <{tag}@example.test>\r\nDate: Fri, 3 Mar 2023 10:20:30 +0000\r\n\r\nBody of {tag}.\r\n"
    )
    .into_bytes()
}

async fn copy(src: &Dovecot, dst: &Dovecot, store: &MemoryCheckpoints) -> CopyReport {
    copy_with(src, dst, store, LabelPolicy::default()).await
}

async fn copy_with(
    src: &Dovecot,
    dst: &Dovecot,
    store: &MemoryCheckpoints,
    labels: LabelPolicy,
) -> CopyReport {
    let (src_ep, src_creds) = account(src, USER);
    let (dst_ep, dst_creds) = account(dst, USER);
    let report = copy_mailbox_with(
        (&src_ep, &src_creds),
        (&dst_ep, &dst_creds),
        &connect_options(&[src, dst]),
        &CopyOptions {
            labels,
            ..CopyOptions::default()
        },
        &Events::default(),
        &CancellationToken::new(),
        store,
    )
    .await;
    println!("{}", render_table(&report));
    report
}

fn hashes(s: &Snapshot, path: &[&str]) -> Vec<String> {
    let key: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    let mut v: Vec<String> = s
        .get(&key)
        .unwrap_or_else(|| panic!("no folder {path:?} in {:?}", s.keys()))
        .iter()
        .map(|m| m.sha256.clone())
        .collect();
    v.sort();
    v
}

/// The Gmail-like source both tests copy: 4 in INBOX, labels `Work` (3) and `Travel/2024`
/// (2), one message in both labels, one sent, one in Trash (`\Deleted`), and 3 archived.
fn seeded() -> (Dovecot, Dovecot) {
    let src = Dovecot::start_with(Options::new(Flavour::GmailLike)).unwrap();
    let dst = Dovecot::start_with(Options::new(Flavour::DotInbox)).unwrap();
    src.add_user(USER, "pw").unwrap();
    dst.add_user(USER, "pw").unwrap();
    src.create_mailbox(USER, "Work").unwrap();
    src.create_mailbox(USER, "Travel/2024").unwrap();
    let put = |folder: &str, tag: &str, flags: &[&str]| {
        src.append(USER, folder, flags, Some(DATE), &message(tag))
            .unwrap()
    };
    for n in 0..4 {
        put("INBOX", &format!("inbox-{n}"), &["\\Seen"]);
    }
    put("Work", "work-0", &[]);
    put("Work", "work-1", &["\\Flagged"]);
    put("Travel/2024", "travel-0", &["$Trip"]);
    // One message with two labels: listed in both label folders (and in All Mail).
    put("Work", "both-labels", &["\\Seen"]);
    put("Travel/2024", "both-labels", &["\\Seen"]);
    put(GMAIL_SENT, "sent-0", &["\\Seen"]);
    put(GMAIL_TRASH, "trash-0", &["\\Seen", "\\Deleted"]);
    // Archived: in no label, only in All Mail.
    let archived: Vec<(String, &[&str])> = vec![
        ("archived-0".into(), &["\\Seen"]),
        ("archived-1".into(), &["\\Seen", "\\Flagged"]),
        ("archived-2".into(), &["$Important", "Receipts"]),
    ];
    for (tag, flags) in &archived {
        src.append_archived(USER, flags, Some(DATE), &message(tag))
            .unwrap();
    }

    (src, dst)
}

fn want(tags: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = tags.iter().map(|t| sha256_hex(&message(t))).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_messages_reach_the_archive_and_nothing_else_is_copied_twice() {
    let (src, dst) = seeded();
    let store = MemoryCheckpoints::default();
    let first = copy(&src, &dst, &store).await;
    assert!(first.outcome.is_complete(), "{:?}", first.outcome);
    let all = first
        .folders
        .iter()
        .find(|f| f.source == GMAIL_ALL_MAIL)
        .expect("All Mail has a row");
    assert_eq!(all.destination.raw(), "INBOX.Archive");
    // 4 + 3 + 2 + 1 (Sent) listed elsewhere; the archived 3 copied.
    assert_eq!(
        (all.source_count, all.in_other_folders, all.copied),
        (3, 10, 3),
        "{all:?}"
    );
    assert!(render_table(&first).contains(
        "only the messages no other folder holds (archived); 10 more are in the folders above"
    ));
    assert!(first
        .folders
        .iter()
        .all(|f| !f.source.raw().contains("Starred") && !f.source.raw().contains("Important")));

    let got = snapshot(&dst, USER).await;
    assert_eq!(
        hashes(&got, &["Archive"]),
        want(&["archived-0", "archived-1", "archived-2"])
    );
    assert_eq!(
        hashes(&got, &["Work"]),
        want(&["both-labels", "work-0", "work-1"])
    );
    assert_eq!(
        hashes(&got, &["Travel", "2024"]),
        want(&["both-labels", "travel-0"])
    );
    assert_eq!(hashes(&got, &["INBOX"]).len(), 4);
    // No `\Sent` folder at this destination: by name.
    assert_eq!(hashes(&got, &["[Gmail]", "Sent Mail"]), want(&["sent-0"]));
    // The archived messages keep their flags, keywords and INTERNALDATE.
    let archive: Vec<&Msg> = got[&vec!["Archive".to_string()]].iter().collect();
    let by_hash = |tag: &str| {
        let h = sha256_hex(&message(tag));
        archive.iter().find(|m| m.sha256 == h).copied().unwrap()
    };
    assert_eq!(by_hash("archived-1").flags, vec!["\\Flagged", "\\Seen"]);
    assert_eq!(by_hash("archived-2").flags, vec!["$Important", "Receipts"]);
    assert_eq!(by_hash("archived-0").utc, 1_677_838_830);

    // Again: nothing new anywhere, the archive unchanged.
    let second = copy(&src, &dst, &store).await;
    assert!(second.outcome.is_complete(), "{:?}", second.outcome);
    assert_eq!(
        second.folders.iter().map(|f| f.copied).sum::<u32>(),
        0,
        "a re-run copies nothing"
    );
    let again = snapshot(&dst, USER).await;
    assert_eq!(again, got);

    // A message archived since: the only one copied, into the archive.
    src.append_archived(USER, &[], Some(DATE), &message("archived-3"))
        .unwrap();
    let third = copy(&src, &dst, &MemoryCheckpoints::default()).await;
    assert_eq!(third.folders.iter().map(|f| f.copied).sum::<u32>(), 1);
    assert_eq!(
        snapshot(&dst, USER).await[&vec!["Archive".to_string()]].len(),
        4
    );
}

/// "One copy of each message": the message in two labels arrives once, in the first label by
/// name (`Travel/2024` before `Work`), with `Work` as a keyword; everything else as under the
/// default policy. A second pass copies nothing and takes no keyword off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_copy_of_each_message_keeps_the_other_labels_as_keywords() {
    let (src, dst) = seeded();
    let one_copy = LabelPolicy::OneCopyOfEachMessage;
    let store = MemoryCheckpoints::default();
    let first = copy_with(&src, &dst, &store, one_copy).await;
    assert!(first.outcome.is_complete(), "{:?}", first.outcome);
    let row = |r: &CopyReport, name: &str| {
        r.folders
            .iter()
            .find(|f| f.source == name)
            .cloned()
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    let (all, work) = (row(&first, GMAIL_ALL_MAIL), row(&first, "Work"));
    assert_eq!((all.in_other_folders, all.copied), (10, 3), "{all:?}");
    assert_eq!((work.in_other_folders, work.copied), (1, 2), "{work:?}");
    assert_eq!(row(&first, "Travel/2024").copied, 2);

    let got = snapshot(&dst, USER).await;
    assert_eq!(
        hashes(&got, &["Archive"]),
        want(&["archived-0", "archived-1", "archived-2"])
    );
    assert_eq!(hashes(&got, &["Work"]), want(&["work-0", "work-1"]));
    assert_eq!(
        hashes(&got, &["Travel", "2024"]),
        want(&["both-labels", "travel-0"])
    );
    assert_eq!(hashes(&got, &["INBOX"]).len(), 4);
    assert_eq!(hashes(&got, &["[Gmail]", "Sent Mail"]), want(&["sent-0"]));
    let total: usize = got.values().map(Vec::len).sum();
    assert_eq!(total, 12, "each message once: {got:?}");
    let travel = &got[&vec!["Travel".to_string(), "2024".to_string()]];
    let both = travel
        .iter()
        .find(|m| m.sha256 == sha256_hex(&message("both-labels")))
        .unwrap();
    let mut flags = both.flags.clone();
    flags.sort();
    assert_eq!(
        flags,
        vec!["Work", "\\Seen"],
        "the other label as a keyword"
    );
    let travel_0 = travel
        .iter()
        .find(|m| m.sha256 == sha256_hex(&message("travel-0")))
        .unwrap();
    assert_eq!(travel_0.flags, vec!["$Trip"]);
    assert_eq!(both.utc, 1_677_838_830);

    // Again (without checkpoints too): nothing copied, no keyword taken off.
    for store in [store, MemoryCheckpoints::default()] {
        let again = copy_with(&src, &dst, &store, one_copy).await;
        assert!(again.outcome.is_complete(), "{:?}", again.outcome);
        assert_eq!(again.folders.iter().map(|f| f.copied).sum::<u32>(), 0);
        assert_eq!(again.flags_updated(), 0, "{again:?}");
        assert_eq!(snapshot(&dst, USER).await, got);
    }
}
