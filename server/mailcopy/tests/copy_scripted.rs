//! Copy behaviour against a scripted in-process IMAP server (`support::fake`), for what
//! Dovecot does not do on demand: a destination whose PERMANENTFLAGS lacks `\*` (Dovecot
//! always offers `\*` on a writable mailbox), a source answer async-imap cannot parse, a
//! connection lost after an APPEND was stored, a login refused on reconnect, a destination
//! that stores messages altered, an APPEND stored but never answered when the copy died.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::sync::{Arc, Mutex};

use mailcopy::copy::{
    CheckpointStore, MemoryCheckpoints, MessageResult, NoCheckpoints, RejectReason,
};
use mailcopy::{
    copy_mailbox, copy_mailbox_with, render_table, CancellationToken, CopyOptions, CopyReport,
    Credentials, Endpoint, LabelPolicy, Outcome, Progress, Security, SkipReason,
};
use support::fake::{self, FakeState};
use support::gen::{generate, GenOptions};
use support::{
    account, assert_same, connect_options, expected, seed, sha256_hex, snapshot, Events, Msg,
};
use testkit::{Dovecot, Flavour};

fn fake_account(port: u16) -> (Endpoint, Credentials) {
    (
        Endpoint::new("localhost", port, Security::Plain),
        Credentials::new("user", "pw"),
    )
}

async fn run(
    src: &(Endpoint, Credentials),
    dst: &(Endpoint, Credentials),
    servers: &[&Dovecot],
    connections: usize,
    events: &Events,
) -> CopyReport {
    let report = copy_mailbox(
        (&src.0, &src.1),
        (&dst.0, &dst.1),
        &connect_options(servers),
        &connections_only(connections),
        events,
        &CancellationToken::new(),
    )
    .await;
    println!("{}", render_table(&report));
    report
}

fn connections_only(connections: usize) -> CopyOptions {
    CopyOptions {
        connections,
        ..CopyOptions::default()
    }
}

/// One copy from a fake with `source` into a new fake holding an empty INBOX, over
/// `options`: the report and the destination's state.
async fn copy_into_empty_fake(
    source: Arc<Mutex<FakeState>>,
    options: &CopyOptions,
) -> (CopyReport, Arc<Mutex<FakeState>>) {
    let src_port = fake::start(source).await;
    let dst = Arc::new(Mutex::new(FakeState::with_inbox()));
    let dst_port = fake::start(dst.clone()).await;
    let report = run_with(
        &fake_account(src_port),
        &fake_account(dst_port),
        &[],
        options,
        &NoCheckpoints,
    )
    .await;
    (report, dst)
}

fn seeded_dovecot(login: &str) -> (Dovecot, support::gen::GenMailbox) {
    let d = Dovecot::start(Flavour::Slash).unwrap();
    d.add_user(login, "pw").unwrap();
    let mailbox = generate(
        99,
        &GenOptions {
            big_attachment: false,
            scale: 1,
        },
    );
    seed(&d, login, &mailbox);
    (d, mailbox)
}

#[tokio::test]
async fn destination_without_new_keywords_gets_every_message_without_them() {
    let (src, mailbox) = seeded_dovecot("kw@example.test");
    let state = Arc::new(Mutex::new(FakeState::with_inbox()));
    // Exchange-like: system flags and one known keyword, no \* — and APPEND with another
    // keyword would fail, so the engine must leave them out up front.
    state.lock().unwrap().permanent_flags = [
        "\\Seen",
        "\\Answered",
        "\\Flagged",
        "\\Deleted",
        "\\Draft",
        "$Forwarded",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let port = fake::start(state.clone()).await;
    let events = Events::default();
    let report = run(
        &account(&src, "kw@example.test"),
        &fake_account(port),
        &[&src],
        2,
        &events,
    )
    .await;
    assert_eq!(report.outcome, Outcome::Complete);

    let is_dropped = |f: &str| !f.starts_with('\\') && f != "$Forwarded";
    let copied: Vec<_> = mailbox.messages().filter(|m| !m.is_deleted()).collect();
    let dropped: usize = copied
        .iter()
        .map(|m| m.flags.iter().filter(|f| is_dropped(f)).count())
        .sum();
    assert!(dropped > 5);
    assert_eq!(report.totals.keywords_dropped as usize, dropped);
    let mut want = expected(&mailbox, |m| !m.is_deleted());
    for msgs in want.values_mut() {
        for m in msgs.iter_mut() {
            m.flags.retain(|f| !is_dropped(f));
        }
        msgs.sort();
    }
    assert_same(&fake::snapshot(&state), &want, "keywords refused up front");
    // No APPEND was refused: nothing was sent that the server could not store.
    assert!(!state
        .lock()
        .unwrap()
        .log
        .iter()
        .any(|l| l.contains("$Label1")));
    let per_message: u32 = events
        .take()
        .iter()
        .map(|e| match e {
            Progress::Message {
                result:
                    MessageResult::Copied {
                        keywords_dropped, ..
                    },
                ..
            } => *keywords_dropped,
            _ => 0,
        })
        .sum();
    assert_eq!(per_message as usize, dropped);
}

fn fake_source() -> Arc<Mutex<FakeState>> {
    let mut st = FakeState::with_inbox();
    for i in 1..=5u32 {
        let body = format!(
            "From: a@example.test\r\nSubject: message {i}\r\nMessage-ID: <{i}@x>\r\n\r\nbody {i}\r\n"
        );
        st.add(
            "INBOX",
            &["\\Seen", "$Label1"],
            "07-Mar-2003 22:15:00 +0530",
            body.as_bytes(),
        );
    }
    Arc::new(Mutex::new(st))
}

#[tokio::test]
async fn unparsable_fetch_is_retried_alone_then_listed() {
    let state = fake_source();
    {
        let mut st = state.lock().unwrap();
        st.garble_fetch.insert(2, 1); // once: the retry succeeds
        st.garble_fetch.insert(4, 99); // always: listed, the copy goes on
    }
    let port = fake::start(state.clone()).await;
    let dst = Dovecot::start(Flavour::DotInbox).unwrap();
    dst.add_user("to@example.test", "pw").unwrap();
    let report = run(
        &fake_account(port),
        &account(&dst, "to@example.test"),
        &[&dst],
        1,
        &Events::default(),
    )
    .await;
    assert_eq!(report.outcome, Outcome::CompleteWithRejections);
    let inbox = &report.folders[0];
    assert_eq!(inbox.copied, 4);
    assert_eq!(inbox.rejected.len(), 1);
    let r = &inbox.rejected[0];
    assert_eq!((r.uid.0, &r.reason), (4, &RejectReason::Unreadable));
    assert!(
        r.server_text.contains("could not be understood"),
        "{}",
        r.server_text
    );
    assert_eq!(r.summary.subject.as_deref(), Some("message 4"));
    let got = snapshot(&dst, "to@example.test").await;
    let mut want: Vec<Msg> = fake::snapshot(&state)[&vec!["INBOX".to_string()]].clone();
    let lost = sha256_hex(
        b"From: a@example.test\r\nSubject: message 4\r\nMessage-ID: <4@x>\r\n\r\nbody 4\r\n",
    );
    want.retain(|m| m.sha256 != lost);
    assert_eq!(got[&vec!["INBOX".to_string()]], want);
}

#[tokio::test]
async fn connection_lost_after_a_stored_append_does_not_duplicate() {
    let src_state = fake_source();
    let src_port = fake::start(src_state.clone()).await;
    let dst_state = Arc::new(Mutex::new(FakeState::with_inbox()));
    dst_state.lock().unwrap().drop_after_append = vec![2];
    let dst_port = fake::start(dst_state.clone()).await;
    let report = run(
        &fake_account(src_port),
        &fake_account(dst_port),
        &[],
        1,
        &Events::default(),
    )
    .await;
    assert_eq!(report.outcome, Outcome::Complete);
    assert_eq!(report.folders[0].copied, 5);
    assert_eq!(report.folders[0].destination_count, Some(5));
    assert_same(
        &fake::snapshot(&dst_state),
        &fake::snapshot(&src_state),
        "no duplicate",
    );
}

#[tokio::test]
async fn login_refused_on_reconnect_stops_with_one_error() {
    let src_state = fake_source();
    let src_port = fake::start(src_state).await;
    let dst_state = Arc::new(Mutex::new(FakeState::with_inbox()));
    {
        let mut st = dst_state.lock().unwrap();
        st.drop_after_append = vec![2];
        st.max_logins = Some(1);
    }
    let dst_port = fake::start(dst_state.clone()).await;
    let events = Events::default();
    let report = run(
        &fake_account(src_port),
        &fake_account(dst_port),
        &[],
        1,
        &events,
    )
    .await;
    let Outcome::Incomplete { error, .. } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        error.contains("no longer accepts the login") && error.contains("AUTHENTICATIONFAILED"),
        "{error}"
    );
    assert_eq!(report.totals.rejected, 0);
    assert_eq!(
        dst_state.lock().unwrap().mailboxes["INBOX"].messages.len(),
        2
    );
}

#[tokio::test]
async fn cancelling_stops_between_messages() {
    let src_port = fake::start(fake_source()).await;
    let dst_state = Arc::new(Mutex::new(FakeState::with_inbox()));
    let dst_port = fake::start(dst_state.clone()).await;
    let token = CancellationToken::new();
    let canceller = token.clone();
    let sink = move |p: Progress| {
        if matches!(p, Progress::Message { .. }) {
            canceller.cancel();
        }
    };
    let (src, dst) = (fake_account(src_port), fake_account(dst_port));
    let report = copy_mailbox(
        (&src.0, &src.1),
        (&dst.0, &dst.1),
        &connect_options(&[]),
        &CopyOptions::default(),
        &sink,
        &token,
    )
    .await;
    assert_eq!(
        report.outcome,
        Outcome::incomplete(mailcopy::Stop::new(
            mailcopy::StopKind::Cancelled,
            true,
            "the copy was cancelled"
        ))
    );
    assert_eq!(report.totals.copied, 1);
    assert!(!report.folders[0].finished);
    assert!(render_table(&report).contains("INBOX (not finished)"));
    assert_eq!(
        dst_state.lock().unwrap().mailboxes["INBOX"].messages.len(),
        1
    );
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let mut st = FakeState::with_inbox();
    st.add(
        "Archive/2001",
        &["\\Seen"],
        "01-Jan-2001 00:00:00 +0000",
        b"Subject: a\r\n\r\nx\r\n",
    );
    st.add(
        "Archive/2001",
        &["\\Deleted"],
        "01-Jan-2001 00:00:00 +0000",
        b"Subject: b\r\n\r\ny\r\n",
    );
    let src_port = fake::start(Arc::new(Mutex::new(st))).await;
    let dst_state = Arc::new(Mutex::new(FakeState::with_inbox()));
    let dst_port = fake::start(dst_state.clone()).await;
    let (src, dst) = (fake_account(src_port), fake_account(dst_port));
    let report = copy_mailbox(
        (&src.0, &src.1),
        (&dst.0, &dst.1),
        &connect_options(&[]),
        &CopyOptions {
            dry_run: true,
            ..CopyOptions::default()
        },
        &mailcopy::copy::NoProgress,
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(report.outcome, Outcome::Complete);
    assert!(report.dry_run);
    let archive = report
        .folders
        .iter()
        .find(|f| f.source == "Archive/2001")
        .unwrap();
    assert_eq!((archive.copied, archive.skipped.len()), (1, 1));
    let st = dst_state.lock().unwrap();
    assert_eq!(st.mailboxes.len(), 1);
    assert!(!st.log.iter().any(|l| {
        let l = l.to_ascii_uppercase();
        l.contains("APPEND") || l.contains("CREATE") || l.contains("SUBSCRIBE")
    }));
    assert!(render_table(&report).contains("dry run"));
}

async fn run_with(
    src: &(Endpoint, Credentials),
    dst: &(Endpoint, Credentials),
    servers: &[&Dovecot],
    options: &CopyOptions,
    store: &dyn CheckpointStore,
) -> CopyReport {
    let report = copy_mailbox_with(
        (&src.0, &src.1),
        (&dst.0, &dst.1),
        &connect_options(servers),
        options,
        &mailcopy::copy::NoProgress,
        &CancellationToken::new(),
        store,
    )
    .await;
    println!("{}", render_table(&report));
    report
}

/// What a destination that re-renders messages might store: a header of its own on top,
/// 8-bit header bytes as `X` (Cyrus `munge8bit`), bare LF line ends, a body that grew.
fn altered(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let mut out = b"X-MS-Exchange-Organization-SCL: -1\r\n".to_vec();
    out.extend(raw[..end].iter().map(|&b| if b >= 0x80 { b'X' } else { b }));
    out.extend_from_slice(&raw[end..]);
    out.extend_from_slice(b"\r\n-- \r\nRe-rendered.\r\n");
    let mut lf = Vec::with_capacity(out.len());
    for (i, &b) in out.iter().enumerate() {
        if !(b == b'\r' && out.get(i + 1) == Some(&b'\n')) {
            lf.push(b);
        }
    }
    lf
}

#[tokio::test]
async fn a_destination_that_alters_messages_gets_nothing_twice() {
    let (src, mailbox) = seeded_dovecot("alt@example.test");
    let live = mailbox.messages().filter(|m| !m.is_deleted()).count() as u64;
    let state = Arc::new(Mutex::new(FakeState::with_inbox()));
    state.lock().unwrap().rewrite = Some(altered);
    let port = fake::start(state.clone()).await;
    let (from, to) = (account(&src, "alt@example.test"), fake_account(port));
    let verify = CopyOptions {
        verify: true,
        ..CopyOptions::default()
    };
    let first = run_with(&from, &to, &[&src], &verify, &NoCheckpoints).await;
    assert_eq!(first.outcome, Outcome::Complete);
    assert_eq!(first.totals.copied, live);
    // --verify read every message back and found each altered.
    assert_eq!((first.verified(), first.altered()), (live, live));
    let table = render_table(&first);
    assert!(
        table.contains(&format!("The destination altered {live} messages")),
        "{table}"
    );
    let appends = state.lock().unwrap().appends;
    assert_eq!(u64::from(appends), live);

    // Re-runs append nothing, with or without checkpoints.
    let store = MemoryCheckpoints::default();
    for (round, store) in [
        (1, &NoCheckpoints as &dyn CheckpointStore),
        (2, &store),
        (3, &store),
    ] {
        let report = run_with(&from, &to, &[&src], &CopyOptions::default(), store).await;
        assert_eq!(report.outcome, Outcome::Complete, "round {round}");
        assert_eq!(report.totals.copied, 0, "round {round}");
        assert_eq!(report.totals.already_present, live, "round {round}");
        assert_eq!(report.altered(), live, "round {round}: noted");
        assert_eq!(
            state.lock().unwrap().appends,
            appends,
            "round {round}: no APPEND"
        );
    }
    // The last round paired everything through the checkpoint: no header fields fetched.
    let log = state.lock().unwrap().log.clone();
    let last_scan: Vec<&String> = log
        .iter()
        .rev()
        .take_while(|l| !l.contains("LOGIN"))
        .collect();
    assert!(
        !last_scan.iter().any(|l| l.contains("HEADER.FIELDS")),
        "{last_scan:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_in_flight_when_the_copy_died_is_not_appended_again() {
    let src_state = fake_source();
    let src_port = fake::start(src_state.clone()).await;
    let dst_state = Arc::new(Mutex::new(FakeState::with_inbox()));
    // The third APPEND is stored, and its answer never comes.
    dst_state.lock().unwrap().hang_after_append = vec![3];
    let dst_port = fake::start(dst_state.clone()).await;
    let store = Arc::new(MemoryCheckpoints::default());
    let (src, dst) = (fake_account(src_port), fake_account(dst_port));
    let task = {
        let (src, dst, store) = (src.clone(), dst.clone(), store.clone());
        tokio::spawn(async move {
            copy_mailbox_with(
                (&src.0, &src.1),
                (&dst.0, &dst.1),
                &connect_options(&[]),
                &CopyOptions {
                    connections: 1,
                    ..CopyOptions::default()
                },
                &mailcopy::copy::NoProgress,
                &CancellationToken::new(),
                store.as_ref(),
            )
            .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while dst_state.lock().unwrap().appends < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "third APPEND not reached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // The process dies: nothing runs after this point.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        dst_state.lock().unwrap().mailboxes["INBOX"].messages.len(),
        3
    );

    for (round, store) in [
        (1, store.as_ref() as &dyn CheckpointStore),
        (2, &NoCheckpoints),
    ] {
        let report = run_with(&src, &dst, &[], &CopyOptions::default(), store).await;
        assert_eq!(report.outcome, Outcome::Complete, "round {round}");
        // With the checkpoint, the dead run's three APPENDs (the last one's answer never read)
        // are this copy's own; without any state they are just there.
        let want = if round == 1 { (2, 3, 0) } else { (0, 0, 5) };
        let t = &report.totals;
        assert_eq!(
            (t.copied, t.copied_before, t.already_present),
            want,
            "round {round}"
        );
        assert_eq!(dst_state.lock().unwrap().appends, 5, "round {round}");
        assert_same(
            &fake::snapshot(&dst_state),
            &fake::snapshot(&src_state),
            "no duplicate",
        );
    }
}

/// A source for [`fetch_ahead_keeps_every_message_exact_and_in_order`]: two folders, bodies
/// from empty to 9 MB (more than a FETCH batch, and more than the executor's 8 MB fetch-ahead
/// budget), exact duplicates, keywords, one `\Deleted`, and markers the destination refuses.
fn varied_source() -> FakeState {
    let mut st = FakeState::with_inbox();
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    for (folder, count) in [("INBOX", 220u32), ("Archive", 40)] {
        let mut previous: Option<(Vec<&str>, String, Vec<u8>)> = None;
        for i in 1..=count {
            // Every 17th message repeats the one before: same bytes, flags and date.
            if i % 17 == 0 {
                if let Some((flags, date, body)) = &previous {
                    st.add(folder, flags, date, body);
                    continue;
                }
            }
            let size = match i {
                30 => 1_500_000,
                90 => 3_000_000,
                150 if folder == "INBOX" => 9_000_000,
                _ if i % 23 == 0 => 0,
                _ => (next() % 40_000) as usize,
            };
            let mut body = format!(
                "From: s{i}@example.test\r\nSubject: {folder} {i}\r\nMessage-ID: <{folder}-{i}@x>\r\n"
            );
            if folder == "INBOX" && i == 71 {
                body.push_str("X-Test: too-big\r\n");
            }
            if folder == "INBOX" && i == 72 {
                body.push_str("X-Test: policy\r\n");
            }
            body.push_str("\r\n");
            let mut body = body.into_bytes();
            while body.len() < size {
                let line = format!("{i} {:016x} line of filler text\r\n", next());
                body.extend_from_slice(line.as_bytes());
            }
            if i % 23 == 0 {
                // Not even a header block.
                body.clear();
            }
            let flags: Vec<&str> = match i % 5 {
                0 => vec![],
                1 => vec!["\\Seen"],
                2 => vec!["\\Seen", "$Label1"],
                3 => vec!["\\Flagged", "$Work", "Junk"],
                _ => vec!["\\Answered", "\\Draft"],
            };
            let flags = if folder == "INBOX" && i == 40 {
                vec!["\\Seen", "\\Deleted"]
            } else {
                flags
            };
            let date = format!("{:02}-Mar-2003 {:02}:15:00 +0530", 1 + i % 28, i % 24);
            st.add(folder, &flags, &date, &body);
            previous = Some((flags, date, body));
        }
    }
    st
}

/// Fetch-ahead (batch FETCH on the source while the destination appends) must not change
/// what arrives, in which order, or what the report says: many messages of varied sizes with
/// duplicates, a FETCH answer garbled in the middle of a batch (once: fetched again alone;
/// always: listed), two messages the destination refuses in the middle (listed with the
/// server's reason, the copy goes on), two connections lost right after stored APPENDs (no
/// duplicate). Compared as multisets of (sha256, flags, INTERNALDATE) per folder and as the
/// exact order of the appended messages; the progress events come in UID order. With and
/// without LITERAL+ at the destination, with one and two connections; a re-run adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_ahead_keeps_every_message_exact_and_in_order() {
    for (connections, literal_plus) in [(1, true), (2, false)] {
        let src_state = Arc::new(Mutex::new(varied_source()));
        {
            let mut st = src_state.lock().unwrap();
            st.garble_fetch.insert(60, 1); // once: the retry alone succeeds
            st.garble_fetch.insert(61, 99); // always: listed as unreadable
        }
        let src_port = fake::start(src_state.clone()).await;
        let dst_state = Arc::new(Mutex::new(FakeState::with_inbox()));
        {
            let mut st = dst_state.lock().unwrap();
            st.literal_plus = literal_plus;
            st.refuse_append = vec![
                (
                    b"X-Test: too-big".to_vec(),
                    "[LIMIT] Message too large for this test".to_string(),
                ),
                (
                    b"X-Test: policy".to_vec(),
                    "Message refused by policy".to_string(),
                ),
            ];
            st.drop_after_append = vec![50, 51];
            // Several APPENDs in flight: answers out of order where the fake can.
            st.swap_append_answers = literal_plus;
        }
        let dst_port = fake::start(dst_state.clone()).await;
        let what = format!("{connections} connection(s), LITERAL+ {literal_plus}");

        let events = Events::default();
        let report = run(
            &fake_account(src_port),
            &fake_account(dst_port),
            &[],
            connections,
            &events,
        )
        .await;
        assert_eq!(report.outcome, Outcome::CompleteWithRejections, "{what}");

        // What must arrive: everything but the \Deleted message, the refused ones and the
        // unreadable one; in source order.
        let excluded: &[u32] = &[40, 61, 71, 72];
        let mut want = fake::snapshot(&src_state);
        let want_order = {
            let st = src_state.lock().unwrap();
            let inbox = &st.mailboxes["INBOX"];
            let order: Vec<String> = inbox
                .messages
                .iter()
                .filter(|m| !excluded.contains(&m.uid))
                .map(|m| sha256_hex(&m.body))
                .collect();
            let gone: Vec<String> = inbox
                .messages
                .iter()
                .filter(|m| excluded.contains(&m.uid))
                .map(|m| sha256_hex(&m.body))
                .collect();
            let list = want.get_mut(&vec!["INBOX".to_string()]).unwrap();
            for g in &gone {
                let at = list.iter().position(|m| &m.sha256 == g).unwrap();
                list.remove(at);
            }
            order
        };
        // The source's own flags, minus \Deleted (never set on the copies).
        for msgs in want.values_mut() {
            for m in msgs.iter_mut() {
                m.flags.retain(|f| f != "\\Deleted");
            }
            msgs.sort();
        }
        assert_same(&fake::snapshot(&dst_state), &want, &what);
        let got_order: Vec<String> = dst_state.lock().unwrap().mailboxes["INBOX"]
            .messages
            .iter()
            .map(|m| sha256_hex(&m.body))
            .collect();
        let first_difference = got_order.iter().zip(&want_order).position(|(g, w)| g != w);
        assert_eq!(
            (first_difference, got_order.len()),
            (None, want_order.len()),
            "{what}: append order (first difference at that position, counts)"
        );

        let inbox = report.folders.iter().find(|f| f.source == "INBOX").unwrap();
        assert_eq!(inbox.copied as usize, want_order.len(), "{what}");
        assert_eq!(
            inbox.skipped.iter().map(|s| s.uid.0).collect::<Vec<_>>(),
            vec![40],
            "{what}"
        );
        let rejected: Vec<(u32, RejectReason)> = inbox
            .rejected
            .iter()
            .map(|r| (r.uid.0, r.reason.clone()))
            .collect();
        assert_eq!(
            rejected,
            vec![
                (61, RejectReason::Unreadable),
                (71, RejectReason::Refused),
                (72, RejectReason::Refused),
            ],
            "{what}"
        );
        assert!(inbox.rejected[1].server_text.contains("[LIMIT]"), "{what}");
        assert!(
            inbox.rejected[2].server_text.contains("refused by policy"),
            "{what}"
        );
        assert_eq!(
            inbox.rejected[2].summary.subject.as_deref(),
            Some("INBOX 72")
        );
        let archive = report
            .folders
            .iter()
            .find(|f| f.source == "Archive")
            .unwrap();
        assert_eq!(archive.copied, 40, "{what}");
        if literal_plus {
            assert!(
                dst_state.lock().unwrap().swapped > 0,
                "{what}: some APPENDs were answered out of order"
            );
        }

        // Per folder, the messages are reported in UID order.
        let mut last: std::collections::BTreeMap<String, u32> = Default::default();
        for e in events.take() {
            if let Progress::Message { source, uid, .. } = e {
                let uid = uid.0;
                let before = last.insert(source.raw().to_string(), uid).unwrap_or(0);
                assert!(uid > before, "{what}: {source} {uid} after {before}");
            }
        }

        // Run again: nothing is appended twice.
        let appends = dst_state.lock().unwrap().appends;
        let again = run(
            &fake_account(src_port),
            &fake_account(dst_port),
            &[],
            connections,
            &Events::default(),
        )
        .await;
        assert_eq!(again.totals.copied, 0, "{what}");
        assert_eq!(
            again.totals.rejected, 3,
            "{what}: refused and unreadable again"
        );
        assert_eq!(dst_state.lock().unwrap().appends, appends, "{what}");
        assert_same(&fake::snapshot(&dst_state), &want, &what);
    }
}

/// Exchange lists its calendars, contacts, tasks, notes and sync logs over IMAP: from a
/// server that greets as Exchange they are skipped and listed (localized names too), with
/// their subfolders; mail folders of any name are copied. The same names elsewhere are mail.
#[tokio::test]
async fn microsoft_non_mail_folders_are_skipped_and_listed() {
    let folders = [
        "Calendar",
        "Contacts",
        "Kalender",
        "Sync Issues",
        "Sync Issues/Conflicts",
        "Notes",
        "Work",
        "Work/Calendar",
    ];
    let make = |greeting: Option<&str>| {
        let mut st = FakeState::with_inbox();
        st.greeting = greeting.map(str::to_string);
        st.add(
            "INBOX",
            &["\\Seen"],
            "01-Jan-2024 10:00:00 +0000",
            b"Subject: in\r\n\r\nx\r\n",
        );
        for (n, f) in folders.iter().enumerate() {
            let body = format!("Subject: {f}\r\nMessage-ID: <{n}@x>\r\n\r\nbody {n}\r\n");
            st.add(f, &[], "01-Jan-2024 10:00:00 +0000", body.as_bytes());
        }
        Arc::new(Mutex::new(st))
    };
    // One copy from a fake source with `greeting` into an empty fake: its report and what
    // the destination then holds.
    let copy_from = |greeting: Option<&'static str>| async move {
        let (report, dst_state) = copy_into_empty_fake(make(greeting), &connections_only(1)).await;
        assert_eq!(report.outcome, Outcome::Complete);
        (report, dst_state)
    };
    let (report, dst_state) = copy_from(Some(
        "The Microsoft Exchange IMAP4 service is ready. [TQBOADIAUABSADAA]",
    ))
    .await;
    let plan = report.plan.as_ref().expect("a plan");
    let skipped: Vec<(&str, SkipReason)> = plan
        .skipped
        .iter()
        .map(|s| (s.source.raw(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("Calendar", SkipReason::NotMail),
            ("Contacts", SkipReason::NotMail),
            ("Kalender", SkipReason::NotMail),
            ("Notes", SkipReason::NotMail),
            ("Sync Issues", SkipReason::NotMail),
            ("Sync Issues/Conflicts", SkipReason::NotMail),
        ]
    );
    let at_destination: Vec<String> = dst_state
        .lock()
        .unwrap()
        .mailboxes
        .keys()
        .cloned()
        .collect();
    assert_eq!(at_destination, vec!["INBOX", "Work", "Work/Calendar"]);

    // Another server with the same names: all mail, all copied.
    let (_, dst_state) = copy_from(None).await;
    assert_eq!(dst_state.lock().unwrap().mailboxes.len(), folders.len() + 1);
}

/// Gmail as the destination keeps one message per Message-ID (an APPEND of one it holds adds
/// nothing): such messages count as present — the copy ends complete (not "the destination
/// lists fewer than expected"), sends each Message-ID once, and a re-run adds nothing.
/// Messages without a Message-ID are all copied. The fake plays Gmail (`X-GM-EXT-1`, merging
/// APPENDs); the same mailbox into a fake that does not merge gets every message.
#[tokio::test]
async fn gmail_as_the_destination_merges_by_message_id_and_reruns_add_nothing() {
    let date = "01-Jan-2024 10:00:00 +0000";
    let mut src = FakeState::with_inbox();
    for body in [
        // Byte-identical twins.
        &b"Subject: twin\r\nMessage-ID: <twin@x>\r\n\r\nsame\r\n"[..],
        b"Subject: twin\r\nMessage-ID: <twin@x>\r\n\r\nsame\r\n",
        // One Message-ID, two different messages (a list copy and the sent one).
        b"Subject: list\r\nMessage-ID: <shared@x>\r\n\r\nfrom the list\r\n",
        b"Subject: sent\r\nMessage-ID: <shared@x>\r\n\r\nas sent\r\n",
        b"Subject: alone\r\nMessage-ID: <alone@x>\r\n\r\nalone\r\n",
        // No Message-ID: never merged.
        b"Subject: no id\r\n\r\nno id\r\n",
        b"Subject: no id\r\n\r\nno id\r\n",
    ] {
        src.add("INBOX", &["\\Seen"], date, body);
    }
    // What the destination already holds: one of the shared Message-ID.
    let mut gmail = FakeState::with_inbox();
    gmail.gmail = true;
    gmail.add(
        "INBOX",
        &[],
        date,
        b"Subject: older\r\nMessage-ID: <alone@x>\r\n\r\nan older copy\r\n",
    );
    let src_port = fake::start(Arc::new(Mutex::new(src))).await;
    let gmail = Arc::new(Mutex::new(gmail));
    let dst_port = fake::start(gmail.clone()).await;
    let (src, dst) = (fake_account(src_port), fake_account(dst_port));

    let first = run(&src, &dst, &[], 2, &Events::default()).await;
    assert_eq!(first.outcome, Outcome::Complete, "{first:?}");
    // twin, shared (list), no id ×2; the second twin, "sent" and "alone" are held merged.
    assert_eq!(first.totals.copied, 4);
    assert_eq!(first.totals.already_present, 3);
    {
        let st = gmail.lock().unwrap();
        assert_eq!(st.merged, 0, "nothing sent that Gmail would merge");
        assert_eq!(st.mailboxes["INBOX"].messages.len(), 5);
    }
    let again = run(&src, &dst, &[], 2, &Events::default()).await;
    assert_eq!(again.outcome, Outcome::Complete, "{again:?}");
    assert_eq!(again.totals.copied, 0);
    assert_eq!(again.totals.already_present, 7);
    assert_eq!(gmail.lock().unwrap().mailboxes["INBOX"].messages.len(), 5);

    // A destination that keeps every message gets all 7.
    let plain = Arc::new(Mutex::new(FakeState::with_inbox()));
    let plain_port = fake::start(plain.clone()).await;
    let report = run(&src, &fake_account(plain_port), &[], 2, &Events::default()).await;
    assert_eq!(report.outcome, Outcome::Complete);
    assert_eq!(report.totals.copied, 7);
    assert_eq!(plain.lock().unwrap().mailboxes["INBOX"].messages.len(), 7);
}

/// A Gmail source (`X-GM-EXT-1`) identifies a message by `X-GM-MSGID`: of its `\All` folder
/// only the messages no label holds go to the archive folder — including an archived message
/// byte-identical to a labelled one, which the content identity (a server without Gmail's
/// id) takes for that message. Labels are copied as they are.
#[tokio::test]
async fn gmail_message_ids_tell_an_archived_twin_from_the_labelled_message() {
    let date = "01-Jan-2024 10:00:00 +0000";
    let a = b"Subject: a\r\nMessage-ID: <a@x>\r\n\r\nin INBOX and Work\r\n";
    let b = b"Subject: b\r\nMessage-ID: <b@x>\r\n\r\nin Work\r\n";
    let c = b"Subject: c\r\nMessage-ID: <c@x>\r\n\r\narchived\r\n";
    let source = |gmail: bool| {
        let mut st = FakeState::with_inbox();
        st.gmail = gmail;
        let all = "[Gmail]/All Mail";
        st.attributes.insert(all.into(), "\\All".into());
        st.add_gmail("INBOX", &["\\Seen"], date, a, Some(1));
        st.add_gmail("Work", &["\\Seen"], date, a, Some(1));
        st.add_gmail("Work", &[], date, b, Some(2));
        for (body, id) in [(&a[..], 1), (b, 2), (c, 3), (b, 4)] {
            // 4: another message with b's bytes and date, archived.
            st.add_gmail(all, &[], date, body, Some(id));
        }
        Arc::new(Mutex::new(st))
    };
    for (gmail, archived) in [(true, 2), (false, 1)] {
        let (report, dst) = copy_into_empty_fake(source(gmail), &connections_only(2)).await;
        assert_eq!(
            report.outcome,
            Outcome::Complete,
            "gmail {gmail}: {report:?}"
        );
        let st = dst.lock().unwrap();
        let count = |name: &str| st.mailboxes.get(name).map_or(0, |m| m.messages.len());
        assert_eq!((count("INBOX"), count("Work")), (1, 2), "gmail {gmail}");
        assert_eq!(
            count("Archive"),
            archived,
            "gmail {gmail}: {:?}",
            st.mailboxes.keys()
        );
    }
}

/// A Gmail source under both policies, each copied twice: under "one copy of each message"
/// the message in INBOX and `Work` arrives once, in INBOX, with `Work` as a keyword; under
/// both the archived twin of `Work`'s other message reaches the archive (Gmail's ids) and the
/// second pass adds nothing (the archive's copy is paired with the twin, not with `Work`'s).
#[tokio::test]
async fn both_label_policies_from_a_gmail_source_by_its_message_ids_and_again() {
    let date = "01-Jan-2024 10:00:00 +0000";
    let a = b"Subject: a\r\nMessage-ID: <a@x>\r\n\r\nin INBOX and Work\r\n";
    let b = b"Subject: b\r\nMessage-ID: <b@x>\r\n\r\nin Work\r\n";
    for (labels, work_count, first_pass) in [
        (LabelPolicy::OneCopyOfEachMessage, 1, 3),
        (LabelPolicy::FoldersAsInGmail, 2, 4),
    ] {
        let mut st = FakeState::with_inbox();
        st.gmail = true;
        let all = "[Gmail]/All Mail";
        st.attributes.insert(all.into(), "\\All".into());
        st.add_gmail("INBOX", &["\\Seen"], date, a, Some(1));
        st.add_gmail("Work", &["\\Seen"], date, a, Some(1));
        st.add_gmail("Work", &[], date, b, Some(2));
        for (body, id) in [(&a[..], 1), (b, 2), (b, 4)] {
            st.add_gmail(all, &[], date, body, Some(id));
        }
        let src_port = fake::start(Arc::new(Mutex::new(st))).await;
        let dst = Arc::new(Mutex::new(FakeState::with_inbox()));
        let dst_port = fake::start(dst.clone()).await;
        let options = CopyOptions {
            connections: 2,
            labels,
            ..CopyOptions::default()
        };
        let (src, dst_account) = (fake_account(src_port), fake_account(dst_port));
        for pass in 0..2 {
            let report = run_with(&src, &dst_account, &[], &options, &NoCheckpoints).await;
            let at = format!("{labels:?}, pass {pass}");
            assert_eq!(report.outcome, Outcome::Complete, "{at}: {report:?}");
            let copied: u32 = report.folders.iter().map(|f| f.copied).sum();
            assert_eq!(copied, if pass == 0 { first_pass } else { 0 }, "{at}");
            let st = dst.lock().unwrap();
            let msgs = |name: &str| {
                st.mailboxes
                    .get(name)
                    .map_or(Vec::new(), |m| m.messages.clone())
            };
            let inbox = msgs("INBOX");
            assert_eq!(inbox.len(), 1, "{at}");
            assert_eq!(inbox[0].body, a.to_vec());
            assert_eq!(inbox[0].date, date);
            let want_flags = match labels {
                LabelPolicy::OneCopyOfEachMessage => vec!["\\Seen", "Work"],
                LabelPolicy::FoldersAsInGmail => vec!["\\Seen"],
            };
            assert_eq!(inbox[0].flags, want_flags, "{at}");
            assert_eq!(msgs("Work").len(), work_count, "{at}");
            assert!(msgs("Work").iter().any(|m| m.body == b.to_vec()), "{at}");
            let archive = msgs("Archive");
            assert_eq!(archive.len(), 1, "the archived twin of b, {at}");
            assert_eq!(archive[0].body, b.to_vec());
        }
    }
}
