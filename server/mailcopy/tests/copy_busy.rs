//! Busy and misbehaving servers, scripted (`support::fake`): throttling answers (Microsoft
//! 365's "Request is throttled. Suggested Backoff Time", RFC 5530 `[UNAVAILABLE]`), Gmail's
//! daily limit, `* BYE` in the middle of a command, a server that stops sending, and one that
//! refuses connections beyond a limit. Each copy ends exact — every message once, flags and
//! INTERNALDATE as at the source — and nothing is reported as lost for the server's load.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailcopy::{
    copy_mailbox, render_table, CancellationToken, ConnectOptions, ConnectionCaps,
    ConnectionLimiter, CopyOptions, CopyReport, Credentials, Endpoint, Outcome, Security, StopKind,
};
use support::fake::{self, FakeState, Fault};
use support::{assert_same, connect_options};

const THROTTLED: &str = "Request is throttled. Suggested Backoff Time: 400 milliseconds";

fn account(port: u16) -> (Endpoint, Credentials) {
    (
        Endpoint::new("localhost", port, Security::Plain),
        Credentials::new("user", "pw"),
    )
}

/// A source of `folders` folders (INBOX and `F1`…) with `per_folder` messages each, with
/// flags, keywords and a duplicate per folder.
fn source(folders: usize, per_folder: usize) -> Arc<Mutex<FakeState>> {
    let mut st = FakeState::with_inbox();
    st.literal_plus = true;
    for f in 0..folders {
        let name = if f == 0 {
            "INBOX".to_string()
        } else {
            format!("F{f}")
        };
        for i in 0..per_folder {
            let n = i.min(per_folder.saturating_sub(2)); // the last two are twins
            let body = format!(
                "From: a@example.test\r\nSubject: {name} {n}\r\nMessage-ID: <{name}.{n}@x>\r\n\r\n{}\r\n",
                "body line\r\n".repeat(20 + n)
            );
            let flags: &[&str] = match i % 3 {
                0 => &["\\Seen", "$Label1"],
                1 => &["\\Flagged"],
                _ => &[],
            };
            st.add(&name, flags, "07-Mar-2003 22:15:00 +0530", body.as_bytes());
        }
    }
    Arc::new(Mutex::new(st))
}

fn destination() -> Arc<Mutex<FakeState>> {
    let mut st = FakeState::with_inbox();
    st.literal_plus = true;
    Arc::new(Mutex::new(st))
}

async fn copy(
    src: &Arc<Mutex<FakeState>>,
    dst: &Arc<Mutex<FakeState>>,
    connections: usize,
    io_timeout: Duration,
) -> CopyReport {
    let (s, d) = (
        account(fake::start(src.clone()).await),
        account(fake::start(dst.clone()).await),
    );
    copy_with_ports(&s, &d, connections, io_timeout).await
}

async fn copy_with_ports(
    s: &(Endpoint, Credentials),
    d: &(Endpoint, Credentials),
    connections: usize,
    io_timeout: Duration,
) -> CopyReport {
    let opts = connect_options(&[]).with_timeouts(Duration::from_secs(5), io_timeout);
    copy_with_options(s, d, connections, &opts).await
}

async fn copy_with_options(
    s: &(Endpoint, Credentials),
    d: &(Endpoint, Credentials),
    connections: usize,
    opts: &ConnectOptions,
) -> CopyReport {
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        copy_mailbox(
            (&s.0, &s.1),
            (&d.0, &d.1),
            opts,
            &CopyOptions {
                connections,
                ..CopyOptions::default()
            },
            &mailcopy::copy::NoProgress,
            &CancellationToken::new(),
        ),
    )
    .await
    .expect("the copy ends within a minute");
    println!("{}", render_table(&report));
    report
}

fn assert_exact(src: &Mutex<FakeState>, dst: &Mutex<FakeState>, what: &str) {
    assert_same(&fake::snapshot(dst), &fake::snapshot(src), what);
}

fn nothing_rejected(report: &CopyReport) {
    let rejected: usize = report.folders.iter().map(|f| f.rejected.len()).sum();
    assert_eq!(rejected, 0, "{}", render_table(report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_appends_pause_the_copy_and_it_goes_on_with_fewer_connections() {
    let (src, dst) = (source(8, 6), destination());
    // Microsoft 365's answer, on the second APPEND and again a little later.
    for n in [2, 9] {
        dst.lock()
            .unwrap()
            .append_faults
            .insert(n, Fault::Refuse(THROTTLED.into()));
    }
    let started = Instant::now();
    let report = copy(&src, &dst, 4, Duration::from_secs(20)).await;
    let took = started.elapsed();
    assert_eq!(report.outcome, Outcome::Complete);
    nothing_rejected(&report);
    assert_exact(&src, &dst, "after throttled APPENDs");
    // It waited the suggested time at least once (the second answer may fall in the pause).
    assert!(took >= Duration::from_millis(400), "took only {took:?}");
    // After the pause the copy sheds a lane: the last APPENDs arrive with fewer sessions
    // open than the four of the start.
    let st = dst.lock().unwrap();
    assert_eq!(
        st.open_at_append.iter().copied().max(),
        Some(4),
        "4 lanes at first"
    );
    let last = *st.open_at_append.last().unwrap();
    assert!(last < 4, "sessions open at the last APPEND: {last}");
}

/// Gmail's `OK [THROTTLED]` is a successful answer: nothing is refused or sent again, no
/// pause, but the copy goes on with fewer connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_throttled_hints_shed_lanes_without_failing_anything() {
    let (src, dst) = (source(8, 6), destination());
    src.lock().unwrap().throttle_hint = true;
    let report = copy(&src, &dst, 4, Duration::from_secs(20)).await;
    assert_eq!(report.outcome, Outcome::Complete);
    nothing_rejected(&report);
    assert_exact(&src, &dst, "after [THROTTLED] hints");
    let st = dst.lock().unwrap();
    assert_eq!(
        st.open_at_append.iter().copied().max(),
        Some(4),
        "4 lanes at first"
    );
    let last = *st.open_at_append.last().unwrap();
    assert!(last < 4, "sessions open at the last APPEND: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_source_fetch_is_waited_out_not_reported_unreadable() {
    let (src, dst) = (source(3, 5), destination());
    {
        let mut st = src.lock().unwrap();
        st.fetch_faults.insert(
            1,
            Fault::Refuse("[UNAVAILABLE] Server busy, try later".into()),
        );
        st.fetch_faults.insert(3, Fault::Refuse(THROTTLED.into()));
    }
    let report = copy(&src, &dst, 2, Duration::from_secs(20)).await;
    assert_eq!(report.outcome, Outcome::Complete);
    nothing_rejected(&report);
    assert_exact(&src, &dst, "after busy FETCHes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bye_in_the_middle_of_fetch_and_append_reconnects_and_ends_exact() {
    let (src, dst) = (source(4, 6), destination());
    src.lock()
        .unwrap()
        .fetch_faults
        .insert(2, Fault::Bye("[UNAVAILABLE] Server shutting down".into()));
    dst.lock()
        .unwrap()
        .append_faults
        .insert(5, Fault::Bye("Disconnected for inactivity.".into()));
    let report = copy(&src, &dst, 2, Duration::from_secs(20)).await;
    assert_eq!(report.outcome, Outcome::Complete);
    nothing_rejected(&report);
    assert_exact(&src, &dst, "after BYE mid-command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_sending_is_left_for_a_new_connection() {
    let (src, dst) = (source(3, 5), destination());
    src.lock().unwrap().fetch_faults.insert(2, Fault::Stall);
    dst.lock().unwrap().append_faults.insert(4, Fault::Stall);
    let started = Instant::now();
    let report = copy(&src, &dst, 2, Duration::from_secs(1)).await;
    assert_eq!(report.outcome, Outcome::Complete);
    nothing_rejected(&report);
    assert_exact(&src, &dst, "after stalls");
    // Each stall was waited out to the I/O timeout, no longer than a few of them.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_servers_limit_are_done_without() {
    let (src, dst) = (source(6, 4), destination());
    dst.lock().unwrap().max_sessions = Some(2);
    let report = copy(&src, &dst, 4, Duration::from_secs(20)).await;
    assert_eq!(report.outcome, Outcome::Complete);
    nothing_rejected(&report);
    assert_exact(&src, &dst, "with two destination sessions");
    let st = dst.lock().unwrap();
    assert!(st.refused_sessions >= 2, "refused: {}", st.refused_sessions);
    assert!(st.open_at_append.iter().all(|&n| n <= 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmails_daily_limit_stops_the_attempt_to_resume_later_and_the_resume_ends_exact() {
    let (src, dst) = (source(3, 5), destination());
    // From the fourth APPEND on, every one meets the limit, as at Gmail.
    for n in 4..100 {
        dst.lock().unwrap().append_faults.insert(
            n,
            Fault::Refuse(
                "[OVERQUOTA] Account exceeded command or bandwidth limits. 5sm12345 - gsmtp".into(),
            ),
        );
    }
    let s = account(fake::start(src.clone()).await);
    let d = account(fake::start(dst.clone()).await);
    let report = copy_with_ports(&s, &d, 1, Duration::from_secs(20)).await;
    let Outcome::Incomplete { cause: stop, .. } = &report.outcome else {
        panic!("expected a stop, got {:?}", report.outcome);
    };
    assert_eq!(stop.kind, StopKind::DailyLimit, "{stop:?}");
    assert!(!stop.permanent);
    assert_eq!(stop.retry_after(), Some(Duration::from_secs(3600)));
    // Not a full mailbox, not a message's fault.
    nothing_rejected(&report);
    let stored: usize = dst
        .lock()
        .unwrap()
        .mailboxes
        .values()
        .map(|m| m.messages.len())
        .sum();
    assert_eq!(stored, 3, "the three APPENDs before the limit");
    // The next attempt (the limit lifted) adds exactly what is missing.
    dst.lock().unwrap().append_faults.clear();
    let again = copy_with_ports(&s, &d, 2, Duration::from_secs(20)).await;
    assert_eq!(again.outcome, Outcome::Complete);
    assert_exact(&src, &dst, "after the daily limit and the resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_sharing_a_limiter_stay_under_its_cap_per_account_and_both_end_exact() {
    let src = source(6, 5);
    let (dst_a, dst_b) = (destination(), destination());
    let s = account(fake::start(src.clone()).await);
    let a = account(fake::start(dst_a.clone()).await);
    let b = account(fake::start(dst_b.clone()).await);
    // Three connections as the source account for the whole process; each copy wants four.
    let limiter = ConnectionLimiter::new(ConnectionCaps {
        per_server: 0,
        per_account: 3,
    });
    let opts = connect_options(&[])
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(20))
        .with_limiter(limiter.clone());
    let (ra, rb) = tokio::join!(
        copy_with_options(&s, &a, 4, &opts),
        copy_with_options(&s, &b, 4, &opts)
    );
    for (r, d, what) in [(&ra, &dst_a, "first copy"), (&rb, &dst_b, "second copy")] {
        assert_eq!(r.outcome, Outcome::Complete, "{what}");
        nothing_rejected(r);
        assert_exact(&src, d, what);
    }
    let peak = src.lock().unwrap().peak_sessions;
    assert!((1..=3).contains(&peak), "source sessions at once: {peak}");
    // Every place was given back.
    assert_eq!(limiter.held("localhost", "user"), (0, 0));
}
