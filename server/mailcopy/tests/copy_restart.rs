//! Resilience against real Dovecot: the source, or the destination, Dovecot is stopped
//! (SIGTERM: every session closed), stays down about 2 s (connections refused) and starts
//! again on the same ports while a copy runs — the copy still ends complete in that one run,
//! exact, every message once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailcopy::{copy_mailbox, render_table, CancellationToken, CopyOptions, Outcome};
use support::gen::{generate, GenMailbox, GenOptions};
use support::{
    account, assert_same, connect_options, copied_events, expected, seed, snapshot, uidnext_total,
    Events,
};
use testkit::{Dovecot, DovecotPair};

const LOGIN: &str = "restart@example.test";
/// How long the restarted server refuses connections.
const DOWN: Duration = Duration::from_secs(2);
/// The copy, restart included, must end within this; it takes a few seconds.
const COPY_TIMEOUT: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

/// The generated mailbox at scale 8 (~330 messages) with bodies padded by ~4–12 KB of text,
/// as in copy_faults: enough for a copy of a few seconds here.
fn mailbox() -> GenMailbox {
    let mut mailbox = generate(
        9_021,
        &GenOptions {
            big_attachment: false,
            scale: 8,
        },
    );
    for (i, m) in mailbox
        .folders
        .iter_mut()
        .flat_map(|f| f.messages.iter_mut())
        .enumerate()
    {
        m.raw.extend_from_slice(b"\r\n");
        for line in 0..(60 + (i * 37) % 120) {
            m.raw.extend_from_slice(
                format!(
                    "padding line {line:03} of message {i:04} {}\r\n",
                    "x".repeat(48)
                )
                .as_bytes(),
            );
        }
    }
    mailbox
}

/// Lines of the Dovecot log written since its last start (`starting up`).
fn log_since_last_start(d: &Dovecot) -> String {
    let log = std::fs::read_to_string(d.log_path()).unwrap();
    let start = log.rfind("starting up").expect("a start in the log");
    log[start..].to_string()
}

fn copy_with_a_restart_of(side: Side) {
    let began = Instant::now();
    let mut pair = DovecotPair::start().unwrap();
    pair.add_user(LOGIN, "pw").unwrap();
    let mailbox = mailbox();
    seed(&pair.slash, LOGIN, &mailbox);
    let want = expected(&mailbox, |m| !m.is_deleted());
    let total = want.values().map(Vec::len).sum::<usize>();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (src_ep, src_creds) = account(&pair.slash, LOGIN);
    let (dst_ep, dst_creds) = account(&pair.dot, LOGIN);
    let connect = connect_options(&[&pair.slash, &pair.dot]);
    let events = Arc::new(Events::default());
    let cancel = CancellationToken::new();
    // The copy runs on the runtime's threads; this thread owns the servers and restarts one.
    let copy_began = Instant::now();
    let copy = rt.spawn({
        let (events, cancel) = (events.clone(), cancel.clone());
        async move {
            copy_mailbox(
                (&src_ep, &src_creds),
                (&dst_ep, &dst_creds),
                &connect,
                &CopyOptions::default(),
                &*events,
                &cancel,
            )
            .await
        }
    });
    let copied = || copied_events(&events.0.lock().unwrap());

    // Once a fifth of the messages are copied, restart the chosen side.
    let deadline = Instant::now() + Duration::from_secs(20);
    while copied() < total / 5 {
        assert!(!copy.is_finished(), "the copy ended before the restart");
        assert!(
            Instant::now() < deadline,
            "only {} copied in 20 s",
            copied()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let held = rt.block_on(uidnext_total(&pair.dot, LOGIN)) as usize;
    let server = match side {
        Side::Source => &mut pair.slash,
        Side::Destination => &mut pair.dot,
    };
    let pid = server.pid().unwrap();
    let copied_at_stop = copied();
    let restart_began = Instant::now();
    server.restart(DOWN).unwrap();
    let restart_took = restart_began.elapsed();
    let copied_at_start = copied();
    let new_pid = server.pid().unwrap();
    println!(
        "{side:?} restarted after {:.1?} of copying: {copied_at_stop} of {total} copied \
         (destination held {held}), back after {restart_took:.1?} with {copied_at_start} copied",
        restart_began - copy_began
    );
    assert_ne!(new_pid, pid, "the {side:?} master was not replaced");
    assert!(
        held > 0 && held < total,
        "destination held {held} of {total} messages when the restart began"
    );
    assert!(
        copied_at_start < total && !copy.is_finished(),
        "the copy was done ({copied_at_start} of {total}) before the {side:?} came back"
    );

    let left = COPY_TIMEOUT.saturating_sub(copy_began.elapsed());
    let report = match rt.block_on(async { tokio::time::timeout(left, copy).await }) {
        Ok(report) => report.unwrap(),
        Err(_) => {
            cancel.cancel();
            panic!("the copy did not end within {COPY_TIMEOUT:?} of its start");
        }
    };
    let table = render_table(&report);
    println!(
        "copy ended after {:.1?}; test so far {:.1?}\n{table}",
        copy_began.elapsed(),
        began.elapsed()
    );
    assert_eq!(report.outcome, Outcome::Complete, "{table}");
    assert_eq!(report.totals.rejected, 0, "{table}");
    assert_eq!(report.totals.copied as usize, total, "{table}");
    // The engine logged in again on the restarted server.
    let since = log_since_last_start(server);
    assert!(
        since.contains(&format!("Login: user=<{LOGIN}>")),
        "no login on the restarted {side:?} after its start:\n{since}"
    );

    // Exact: every message once, bytes, flags, INTERNALDATE.
    assert_same(
        &rt.block_on(snapshot(&pair.dot, LOGIN)),
        &want,
        &format!("destination after a copy with a {side:?} restart"),
    );
    // Nothing was appended twice, even transiently (every APPEND takes a UID).
    let appended = rt.block_on(uidnext_total(&pair.dot, LOGIN)) as usize;
    assert_eq!(appended, total, "APPENDs to the destination");
    println!("test took {:.1?}", began.elapsed());
}

#[test]
fn source_restarted_mid_copy_ends_complete_and_exact() {
    copy_with_a_restart_of(Side::Source);
}

#[test]
fn destination_restarted_mid_copy_ends_complete_and_exact() {
    copy_with_a_restart_of(Side::Destination);
}
