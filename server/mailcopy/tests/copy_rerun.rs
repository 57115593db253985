//! Re-runs and resumed copies between real Dovecot servers: a second run appends nothing
//! (APPENDs counted with UIDNEXT), a message added since is the only one copied, flags
//! changed at the source follow, copies interrupted anywhere (cancelled, or the task dropped
//! mid-command as a killed process would) end exact when run again — with and without a
//! checkpoint store, and with a checkpoint made stale by a recreated source folder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mailcopy::copy::{CheckpointStore, MemoryCheckpoints, NoCheckpoints};
use mailcopy::{
    copy_mailbox_with, render_table, CancellationToken, CopyOptions, CopyReport, Endpoint, Outcome,
    Progress, ProgressSink, Security,
};
use support::gen::{generate, GenMailbox, GenOptions};
use support::{
    account, assert_same, connect_options, copied_events, expected, seed, snapshot, uidnext_total,
    without_deleted, Client, Events, Msg, Snapshot,
};
use testkit::proxy::{DelayProxy, ProxyOptions};
use testkit::{Dovecot, DovecotPair};
use tokio::sync::Notify;

const USER: &str = "re@example.test";

async fn copy(
    src: (&Dovecot, &str),
    dst: (&Dovecot, &str),
    options: &CopyOptions,
    store: &dyn CheckpointStore,
) -> (CopyReport, Vec<Progress>) {
    let (src_ep, src_creds) = account(src.0, src.1);
    let (dst_ep, dst_creds) = account(dst.0, dst.1);
    let events = Events::default();
    let report = copy_mailbox_with(
        (&src_ep, &src_creds),
        (&dst_ep, &dst_creds),
        &connect_options(&[src.0, dst.0]),
        options,
        &events,
        &CancellationToken::new(),
        store,
    )
    .await;
    println!("{}", render_table(&report));
    (report, events.take())
}

fn scanned(events: &[Progress]) -> (u64, u64) {
    events
        .iter()
        .find_map(|e| match e {
            Progress::Scanned {
                messages,
                already_present,
                ..
            } => Some((*messages, *already_present)),
            _ => None,
        })
        .expect("Scanned event")
}

fn live(mailbox: &GenMailbox) -> usize {
    mailbox.messages().filter(|m| !m.is_deleted()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_run_appends_nothing_and_a_third_only_what_is_new() {
    let pair = DovecotPair::start().unwrap();
    pair.add_user(USER, "pw").unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    let mut mailbox = generate(4242, &GenOptions::default());
    seed(src, USER, &mailbox);
    let deleted = mailbox.messages().filter(|m| m.is_deleted()).count();

    let (first, _) = copy(
        (src, USER),
        (dst, USER),
        &CopyOptions::default(),
        &NoCheckpoints,
    )
    .await;
    assert_eq!(first.outcome, Outcome::Complete);
    let want = expected(&mailbox, |m| !m.is_deleted());
    assert_same(&snapshot(dst, USER).await, &want, "first run");
    let appends = uidnext_total(dst, USER).await;
    assert_eq!(appends as usize, live(&mailbox));

    // A dry run now has nothing to copy.
    let (dry, _) = copy(
        (src, USER),
        (dst, USER),
        &CopyOptions {
            dry_run: true,
            ..CopyOptions::default()
        },
        &NoCheckpoints,
    )
    .await;
    assert_eq!(dry.totals.copied, 0);
    assert_eq!(dry.totals.already_present as usize, live(&mailbox));

    // The second run: zero APPENDs, everything found present, nothing else changes.
    let (second, events) = copy(
        (src, USER),
        (dst, USER),
        &CopyOptions::default(),
        &NoCheckpoints,
    )
    .await;
    let table = render_table(&second);
    assert_eq!(second.outcome, Outcome::Complete, "{table}");
    assert_eq!(
        uidnext_total(dst, USER).await,
        appends,
        "no APPEND on the second run"
    );
    assert_eq!(second.totals.copied, 0);
    assert_eq!(copied_events(&events), 0);
    assert_eq!(second.totals.already_present as usize, live(&mailbox));
    assert_eq!(
        second.totals.skipped as usize, deleted,
        "\\Deleted still skipped and listed"
    );
    assert_eq!(second.flags_updated(), 0);
    assert_eq!(second.altered(), 0);
    // Only the \Deleted messages are left to go through (each skipped again).
    assert_eq!(scanned(&events), (deleted as u64, live(&mailbox) as u64));
    for f in &second.folders {
        assert!(f.error.is_none(), "{f:?}");
        assert_eq!(f.destination_count, Some(f.destination_before), "{f:?}");
        assert_eq!(
            f.source_count as usize,
            f.already_present as usize + f.skipped.len()
        );
    }
    assert_same(&snapshot(dst, USER).await, &want, "second run");

    // Added at the source since: an exact duplicate of a message already copied (k = 2 at the
    // source, j = 1 at the destination: one copy) and a message with the Message-ID and date
    // of another but other content.
    let inbox = mailbox.folder_mut(&["INBOX"]);
    let dup = inbox.messages[0].clone();
    let mut twin = inbox.messages[1].clone();
    twin.raw.extend_from_slice(b"An edited body.\r\n");
    let mut c = Client::new(src, USER);
    for m in [&dup, &twin] {
        let flags: Vec<&str> = m.flags.iter().map(String::as_str).collect();
        c.append("INBOX", &flags, Some(&m.internaldate), &m.raw);
    }
    c.logout();
    inbox.messages.push(dup);
    inbox.messages.push(twin);
    let (third, events) = copy(
        (src, USER),
        (dst, USER),
        &CopyOptions::default(),
        &NoCheckpoints,
    )
    .await;
    assert_eq!(third.outcome, Outcome::Complete);
    assert_eq!(
        uidnext_total(dst, USER).await,
        appends + 2,
        "exactly the two new messages"
    );
    assert_eq!(third.totals.copied, 2);
    assert_eq!(copied_events(&events), 2);
    assert_same(
        &snapshot(dst, USER).await,
        &expected(&mailbox, |m| !m.is_deleted()),
        "third run",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_changed_at_the_source_follow_on_a_rerun() {
    let pair = DovecotPair::start().unwrap();
    pair.add_user(USER, "pw").unwrap();
    let (src, dst) = (&pair.dot, &pair.slash);
    let mailbox = generate(
        515,
        &GenOptions {
            big_attachment: false,
            scale: 1,
        },
    );
    seed(src, USER, &mailbox);
    let store = MemoryCheckpoints::default();
    let (first, _) = copy((src, USER), (dst, USER), &CopyOptions::default(), &store).await;
    assert_eq!(first.outcome, Outcome::Complete);
    let appends = uidnext_total(dst, USER).await;

    // INBOX UID 1: \Seen \Answered $Forwarded; UID 2: \Flagged \Draft $Label1 Work; UID 4:
    // every keyword (see the generator).
    let mut c = Client::new(src, USER);
    c.command("SELECT INBOX");
    c.command("UID STORE 1 -FLAGS (\\Seen)");
    c.command("UID STORE 1 +FLAGS (\\Flagged)");
    c.command("UID STORE 2 -FLAGS (\\Flagged Work)");
    c.command("UID STORE 2 +FLAGS ($Junk)");
    c.command("UID STORE 4 -FLAGS ($Forwarded $Label1 Work todo $MDNSent $Junk)");
    c.logout();

    // With the checkpoint and without: the same result.
    for (round, store) in [(1, &store as &dyn CheckpointStore), (2, &NoCheckpoints)] {
        let (report, _) = copy((src, USER), (dst, USER), &CopyOptions::default(), store).await;
        assert_eq!(report.outcome, Outcome::Complete);
        assert_eq!(
            uidnext_total(dst, USER).await,
            appends,
            "round {round}: no APPEND"
        );
        assert_eq!(report.totals.copied, 0);
        let want = if round == 1 { 3 } else { 0 };
        assert_eq!(report.flags_updated(), want, "round {round}");
        let inbox = report.folders.iter().find(|f| f.source == "INBOX").unwrap();
        assert_eq!(u64::from(inbox.flags_updated), want);
        assert_same(
            &snapshot(dst, USER).await,
            &without_deleted(&snapshot(src, USER).await),
            "flags follow the source",
        );
    }
}

/// Where a copy is interrupted.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// The cancellation token, after this many messages.
    Cancel(usize),
    /// The task dropped at its next await point (like `kill -9`), after this many messages.
    Abort(usize),
    /// Dropped as soon as the folders are planned (during the scan).
    AbortAtScan,
    /// Dropped after this many messages without holding the copy first: APPENDs after it
    /// are still being sent and stored when the next copy starts.
    AbortNow(usize),
}

struct Trigger {
    stop: Stop,
    seen: AtomicUsize,
    token: CancellationToken,
    notify: Arc<Notify>,
}

impl ProgressSink for Trigger {
    fn event(&self, p: Progress) {
        let fire = match (&p, self.stop) {
            (Progress::Planned { .. }, Stop::AbortAtScan) => true,
            (Progress::Message { .. }, Stop::Cancel(n) | Stop::Abort(n) | Stop::AbortNow(n)) => {
                self.seen.fetch_add(1, Ordering::SeqCst) + 1 == n
            }
            _ => false,
        };
        if fire {
            match self.stop {
                Stop::Cancel(_) => self.token.cancel(),
                Stop::AbortNow(_) => self.notify.notify_one(),
                _ => {
                    self.notify.notify_one();
                    // Hold the copy task here (the sink is synchronous) so that the test's
                    // abort lands at its next await point, not a few messages later.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
            }
        }
    }
}

/// Runs a copy and interrupts it at `stop`.
async fn interrupted(
    src: &Dovecot,
    dst: &Dovecot,
    login: &str,
    stop: Stop,
    store: Option<Arc<MemoryCheckpoints>>,
) {
    interrupted_via((src, USER), dst, None, login, stop, store).await
}

/// [`interrupted`], reaching the destination through `via` (a port forwarding to it) if
/// given.
async fn interrupted_via(
    src: (&Dovecot, &str),
    dst: &Dovecot,
    via: Option<u16>,
    login: &str,
    stop: Stop,
    store: Option<Arc<MemoryCheckpoints>>,
) {
    let (src_ep, src_creds) = account(src.0, src.1);
    let (mut dst_ep, dst_creds) = account(dst, login);
    if let Some(port) = via {
        dst_ep = Endpoint::new("localhost", port, Security::Tls);
    }
    let opts = connect_options(&[src.0, dst]);
    let token = CancellationToken::new();
    let notify = Arc::new(Notify::new());
    let trigger = Trigger {
        stop,
        seen: AtomicUsize::new(0),
        token: token.clone(),
        notify: notify.clone(),
    };
    let mut task = tokio::spawn(async move {
        let none = NoCheckpoints;
        let store: &dyn CheckpointStore = match &store {
            Some(s) => s.as_ref(),
            None => &none,
        };
        copy_mailbox_with(
            (&src_ep, &src_creds),
            (&dst_ep, &dst_creds),
            &opts,
            // Two lanes: with four, most of this 123-message mailbox is in flight before the
            // stops land, and little would be left to resume.
            &CopyOptions {
                connections: 2,
                ..CopyOptions::default()
            },
            &trigger,
            &token,
            store,
        )
        .await
    });
    match stop {
        Stop::Cancel(_) => {
            let report = task.await.unwrap();
            assert_eq!(
                report.outcome,
                Outcome::incomplete(mailcopy::Stop::new(
                    mailcopy::StopKind::Cancelled,
                    true,
                    "the copy was cancelled"
                )),
                "{stop:?}"
            );
        }
        Stop::Abort(_) | Stop::AbortAtScan | Stop::AbortNow(_) => {
            tokio::select! {
                _ = notify.notified() => {
                    task.abort();
                    let _ = (&mut task).await;
                }
                r = &mut task => panic!("{stop:?}: the copy ended first: {:?}", r.map(|r| r.outcome)),
            }
        }
    }
}

fn total(s: &Snapshot) -> usize {
    s.values().map(Vec::len).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_copies_end_exact_when_run_again() {
    let pair = DovecotPair::start().unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    src.add_user(USER, "pw").unwrap();
    let mailbox = generate(
        8080,
        &GenOptions {
            big_attachment: false,
            scale: 3,
        },
    );
    seed(src, USER, &mailbox);
    let want = expected(&mailbox, |m| !m.is_deleted());
    let n = live(&mailbox);
    assert!(n > 100, "{n}");
    let cases: &[(&str, &[Stop], bool)] = &[
        ("cancel-first", &[Stop::Cancel(1)], true),
        ("cancel-middle", &[Stop::Cancel(n / 2)], false),
        ("abort-scan", &[Stop::AbortAtScan], true),
        ("abort-early", &[Stop::Abort(3)], false),
        ("abort-middle", &[Stop::Abort(n / 3)], true),
        ("abort-late", &[Stop::Abort(n - 10)], false),
        ("abort-twice", &[Stop::Abort(20), Stop::Abort(30)], true),
        (
            "cancel-then-abort",
            &[Stop::Cancel(40), Stop::Abort(25)],
            false,
        ),
    ];
    for (i, (name, stops, with_store)) in cases.iter().enumerate() {
        let login = format!("case{i}@example.test");
        dst.add_user(&login, "pw").unwrap();
        let store = with_store.then(|| Arc::new(MemoryCheckpoints::default()));
        for stop in *stops {
            interrupted(src, dst, &login, *stop, store.clone()).await;
        }
        let partial = snapshot(dst, &login).await;
        assert!(
            total(&partial) < n,
            "{name}: interrupted before the end ({} of {n})",
            total(&partial)
        );
        let none = NoCheckpoints;
        let s: &dyn CheckpointStore = match &store {
            Some(s) => s.as_ref(),
            None => &none,
        };
        if let Some(s) = &store {
            if !matches!(stops[0], Stop::AbortAtScan) {
                assert!(!s.folders().is_empty(), "{name}: checkpoints were written");
            }
        }
        let (report, _) = copy((src, USER), (dst, &login), &CopyOptions::default(), s).await;
        assert_eq!(report.outcome, Outcome::Complete, "{name}");
        assert_same(&snapshot(dst, &login).await, &want, name);
        let t = &report.totals;
        assert_eq!(
            (t.copied + t.copied_before + t.already_present) as usize,
            n,
            "{name}: every message counted once"
        );
        if *with_store {
            // The same copy resumed from its checkpoints: what its interrupted runs appended
            // counts as copied by it (APPENDs whose answers were never read included), and
            // nothing as present before it (a new destination).
            assert_eq!(
                (t.copied_by_this_copy() as usize, t.already_present),
                (n, 0),
                "{name}: {t:?}"
            );
            let skipped_bytes: u64 = report
                .folders
                .iter()
                .flat_map(|f| f.skipped.iter().map(|s| s.summary.size))
                .sum();
            assert_eq!(
                t.copied_by_this_copy_bytes(),
                t.bytes - skipped_bytes,
                "{name}: bytes too"
            );
        } else {
            assert_eq!(
                t.copied_before, 0,
                "{name}: no checkpoints, no earlier run known"
            );
        }
        assert_eq!(
            uidnext_total(dst, &login).await as usize,
            n,
            "{name}: no APPEND wasted"
        );
        eprintln!(
            "{name}: {} present after the interruption, {} copied on the re-run",
            report.totals.already_present, report.totals.copied
        );
    }
}

/// `doveadm mailbox status uidvalidity`.
fn uidvalidity(d: &Dovecot, login: &str, folder: &str) -> u32 {
    let out = d
        .doveadm(&["mailbox", "status", "-u", login, "uidvalidity", folder])
        .unwrap();
    // `Box uidvalidity=1795636683`
    out.split("uidvalidity=")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"))
        .trim()
        .parse()
        .unwrap()
}

fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Sender <s{n}@example.test>\r\nSubject: message {n}\r\nMessage-ID: <m{n}@example.test>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nBody {n}.\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_checkpoint_is_ignored_after_the_source_folder_was_recreated() {
    let pair = DovecotPair::start().unwrap();
    pair.add_user(USER, "pw").unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    src.create_mailbox(USER, "Box").unwrap();
    let date = |n: usize| format!("0{}-Feb-2022 08:00:00 +0100", 1 + n % 9);
    let mut c = Client::new(src, USER);
    for n in 1..=10 {
        c.append("Box", &["\\Seen"], Some(&date(n)), &message(n));
    }
    c.logout();
    let store = MemoryCheckpoints::default();
    let (first, _) = copy((src, USER), (dst, USER), &CopyOptions::default(), &store).await;
    assert_eq!(first.outcome, Outcome::Complete);
    let old = store.get("Box").expect("checkpoint");
    assert_eq!(old.uid_map.len(), 10);
    assert_eq!(old.low_water, 11);

    // Recreated: message 1 gone, the others in reverse order with new flags, and a new
    // message 11 — which gets UID 10, mapped to message 10's copy by the stale checkpoint.
    let before = uidvalidity(src, USER, "Box");
    let mut attempts = 0;
    loop {
        src.doveadm(&["mailbox", "delete", "-u", USER, "Box"])
            .unwrap();
        src.create_mailbox(USER, "Box").unwrap();
        if uidvalidity(src, USER, "Box") != before {
            break;
        }
        attempts += 1;
        assert!(attempts < 5, "UIDVALIDITY does not change");
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let mut c = Client::new(src, USER);
    for n in (2..=11).rev() {
        let flags: &[&str] = if n % 2 == 0 { &["\\Flagged"] } else { &[] };
        c.append("Box", flags, Some(&date(n)), &message(n));
    }
    c.logout();
    let appends = uidnext_total(dst, USER).await;
    let (report, _) = copy((src, USER), (dst, USER), &CopyOptions::default(), &store).await;
    assert_eq!(
        report.outcome,
        Outcome::Complete,
        "{}",
        render_table(&report)
    );
    assert_eq!(
        uidnext_total(dst, USER).await,
        appends + 1,
        "only message 11"
    );
    let row = report.folders.iter().find(|f| f.source == "Box").unwrap();
    assert_eq!(
        (row.copied, row.already_present, row.flags_updated),
        (1, 9, 9)
    );
    // The destination: message 1 stays (nothing is deleted), the rest as the source is now.
    let mut want: Vec<Msg> = snapshot(src, USER).await[&vec!["Box".to_string()]].clone();
    let kept = snapshot(dst, USER).await[&vec!["Box".to_string()]]
        .iter()
        .find(|m| m.sha256 == support::sha256_hex(&message(1)))
        .cloned()
        .expect("message 1 kept");
    want.push(kept);
    want.sort();
    assert_eq!(snapshot(dst, USER).await[&vec!["Box".to_string()]], want);
    let new = store.get("Box").unwrap();
    assert_ne!(
        new.uidvalidity, old.uidvalidity,
        "the checkpoint was replaced"
    );
    assert_eq!(new.uid_map.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noop_rerun_cost_2000_messages_in_24_folders() {
    let pair = DovecotPair::start().unwrap();
    pair.add_user(USER, "pw").unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    let folders: Vec<String> = std::iter::once("INBOX".to_string())
        .chain((1..24).map(|i| format!("Folder {i:02}")))
        .collect();
    let mut c = Client::new(src, USER);
    for f in folders.iter().skip(1) {
        c.command(&format!("CREATE \"{f}\""));
    }
    for n in 0..2000 {
        let f = &folders[n % folders.len()];
        let mut raw = message(n);
        raw.extend_from_slice(&b"Some more text in the body of this message.\r\n".repeat(20));
        c.append(f, &["\\Seen"], Some("15-Jun-2023 09:30:00 +0200"), &raw);
    }
    c.logout();

    let store = MemoryCheckpoints::default();
    let started = Instant::now();
    let (first, _) = copy((src, USER), (dst, USER), &CopyOptions::default(), &store).await;
    let first_took = started.elapsed();
    assert_eq!(first.outcome, Outcome::Complete);
    assert_eq!(first.totals.copied, 2000);
    assert_eq!(first.totals.folders, 24);
    let appends = uidnext_total(dst, USER).await;

    let started = Instant::now();
    let (plain, _) = copy(
        (src, USER),
        (dst, USER),
        &CopyOptions::default(),
        &NoCheckpoints,
    )
    .await;
    let plain_took = started.elapsed();
    let started = Instant::now();
    let (cheap, _) = copy((src, USER), (dst, USER), &CopyOptions::default(), &store).await;
    let cheap_took = started.elapsed();
    for r in [&plain, &cheap] {
        assert_eq!(r.outcome, Outcome::Complete);
        assert_eq!(r.totals.copied, 0);
    }
    // Without checkpoints a re-run finds them present; with the first run's, it knows that
    // this copy appended them.
    assert_eq!(
        (plain.totals.already_present, plain.totals.copied_before),
        (2000, 0)
    );
    assert_eq!(
        (cheap.totals.already_present, cheap.totals.copied_before),
        (0, 2000)
    );
    assert_eq!(
        uidnext_total(dst, USER).await,
        appends,
        "no APPEND on the re-runs"
    );
    eprintln!(
        "2000 messages / 24 folders on loopback: first copy {first_took:.2?}; no-op re-run {plain_took:.2?} without checkpoints, {cheap_took:.2?} with"
    );
}

/// A full window of APPENDs in flight when the copy is killed, and the next copy started at
/// once, many times over: the server is still storing the killed copy's APPENDs while the
/// next one scans. Without the quiet check (and the `appending` mark) this duplicates
/// messages. The end result is exact (multisets of content, flags and INTERNALDATE) and no
/// APPEND is wasted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_a_full_window_and_restarted_at_once_many_times() {
    let pair = DovecotPair::start().unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    src.add_user(USER, "pw").unwrap();
    let mailbox = generate(
        9191,
        &GenOptions {
            big_attachment: false,
            scale: 6,
        },
    );
    seed(src, USER, &mailbox);
    let want = expected(&mailbox, |m| !m.is_deleted());
    let n = live(&mailbox);
    eprintln!("{n} messages");
    for (round, with_store) in [(0, false), (1, true)] {
        let login = format!("window{round}@example.test");
        dst.add_user(&login, "pw").unwrap();
        let store = with_store.then(|| Arc::new(MemoryCheckpoints::default()));
        for k in 0..6 {
            interrupted(src, dst, &login, Stop::AbortNow(3 + k), store.clone()).await;
        }
        let partial = snapshot(dst, &login).await;
        assert!(
            total(&partial) < n,
            "round {round}: interrupted before the end"
        );
        let none = NoCheckpoints;
        let s: &dyn CheckpointStore = match &store {
            Some(s) => s.as_ref(),
            None => &none,
        };
        let (report, _) = copy((src, USER), (dst, &login), &CopyOptions::default(), s).await;
        assert_eq!(report.outcome, Outcome::Complete, "round {round}");
        assert_same(&snapshot(dst, &login).await, &want, "after the kills");
        assert_eq!(
            uidnext_total(dst, &login).await as usize,
            n,
            "round {round}: no message appended twice"
        );
    }
}

/// The killed copy's last APPENDs reach the destination only after the next copy has listed
/// it: the killed copy uploads through a slow link (a proxy forwarding the client's bytes at
/// `UPLOAD_RATE`, what it has queued delivered even once the client is gone), the next one
/// connects directly and at once. The in-flight messages land a few dozen milliseconds
/// apart, during and after that scan: only the quiet check (a destination folder must stay
/// unchanged for a while after its scan, else it is scanned again) keeps the next copy from
/// appending them a second time — without it this test fails with duplicates. Rounds:
/// without a checkpoint store, with one (its `appending` mark), and a source with INBOX alone
/// (the folder checked is then the one the scan left selected: its reading must not be a
/// `STATUS`, which Dovecot answers from the session's stale view of a selected folder).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_copy_whose_appends_land_after_the_next_scan() {
    /// Client → destination bytes per second for the killed copy. Every message here is at
    /// most `MAX_SIZE` bytes: one lands at least every ~50 ms, well within the quiet check's
    /// 250 ms (a link slow enough to leave a longer gap between two messages defeats the
    /// check, whose premise is that a connection's APPENDs are stored back to back).
    const UPLOAD_RATE: usize = 40_000;
    const MAX_SIZE: usize = 2_000;
    const ONE: &str = "inbox-only@example.test";
    let pair = DovecotPair::start().unwrap();
    let (src, dst) = (&pair.slash, &pair.dot);
    let mut mailbox = generate(
        5150,
        &GenOptions {
            big_attachment: false,
            scale: 2,
        },
    );
    for f in &mut mailbox.folders {
        f.messages.retain(|m| m.raw.len() <= MAX_SIZE);
    }
    let mut inbox_only = mailbox.clone();
    for f in &mut inbox_only.folders {
        if f.path != ["INBOX"] {
            f.messages.clear();
        }
    }
    inbox_only.folders.retain(|f| f.path == ["INBOX"]);
    src.add_user(USER, "pw").unwrap();
    seed(src, USER, &mailbox);
    src.add_user(ONE, "pw").unwrap();
    seed(src, ONE, &inbox_only);
    let slow = DelayProxy::start_with(
        dst.imaps_port(),
        ProxyOptions {
            upstream_rate: UPLOAD_RATE,
            ..ProxyOptions::default()
        },
    )
    .unwrap();
    for (round, source, with_store) in [(0, USER, false), (1, USER, true), (2, ONE, false)] {
        let seeded = if source == ONE { &inbox_only } else { &mailbox };
        let want = expected(seeded, |m| !m.is_deleted());
        let n = live(seeded);
        // Something must still be on its way at the kill, else the round would not exercise
        // the race; how much depends on where the kill fell in the window (seen: 0 to 15 KB).
        // A kill that fell between two windows is tried again into a fresh account (at most
        // KILL_TRIES times).
        const KILL_TRIES: usize = 4;
        let mut attempt = 0;
        let (login, store) = loop {
            let login = format!("late{round}-{attempt}@example.test");
            dst.add_user(&login, "pw").unwrap();
            let store = with_store.then(|| Arc::new(MemoryCheckpoints::default()));
            let started = Instant::now();
            interrupted_via(
                (src, source),
                dst,
                Some(slow.port()),
                &login,
                Stop::AbortNow(3),
                store.clone(),
            )
            .await;
            let queued = slow.queued();
            eprintln!(
                "round {round}: {n} messages, killed after {:?}, {queued} bytes still on their way",
                started.elapsed()
            );
            attempt += 1;
            if queued > 0 {
                break (login, store);
            }
            assert!(
                attempt < KILL_TRIES,
                "round {round}: {KILL_TRIES} kills and none left an APPEND on its way"
            );
        };
        let none = NoCheckpoints;
        let s: &dyn CheckpointStore = match &store {
            Some(s) => s.as_ref(),
            None => &none,
        };
        let (report, _) = copy((src, source), (dst, &login), &CopyOptions::default(), s).await;
        assert_eq!(report.outcome, Outcome::Complete, "round {round}");
        assert_eq!(
            slow.queued(),
            0,
            "round {round}: everything sent has landed"
        );
        assert_same(&snapshot(dst, &login).await, &want, "after the kill");
        assert_eq!(
            uidnext_total(dst, &login).await as usize,
            n,
            "round {round}: no message appended twice"
        );
    }
}
