//! Throttling answers met during a copy, and what the copy does about them: a pure decision
//! ([`pause_for`]) the run applies to all its lanes at once (`copy/run/pace.rs`).
//!
//! A throttling answer is not a property of a message or a folder: the command is sent
//! again after the pause, and the copy goes on with one connection fewer. A wait longer than
//! the copy should hold its connections for, a daily limit, or a server that keeps throttling
//! stops the attempt as [`StopKind::Throttled`] (a daily limit as [`StopKind::DailyLimit`])
//! with the wait, for the caller (the job runner) to resume later.

use std::time::Duration;

use crate::stop::{throttle_hint, Stop, StopKind};

/// What a server's refusal says about its load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// Busy or throttling now, with the wait it suggests if any.
    Throttled(Option<Duration>),
    /// A limit per day: no point asking again within the hour.
    DailyLimit,
}

/// What the copy does after a throttling answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pause {
    /// Every lane waits this long, then the copy goes on with one lane fewer.
    Wait(Duration),
    /// Stop this attempt; the stop carries the wait before the next.
    Stop(Stop),
}

/// The longest wait taken inside a copy (connections stay open meanwhile). Microsoft 365
/// suggests about 5 minutes; a longer wait is the runner's.
pub(crate) const MAX_INLINE_WAIT: Duration = Duration::from_secs(10 * 60);

/// Pauses one copy takes before it stops as throttled.
pub(crate) const MAX_PAUSES: u32 = 12;

/// The first wait when the server suggests none; doubled at each pause up to
/// [`MAX_UNSUGGESTED_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(1);
const MAX_UNSUGGESTED_WAIT: Duration = Duration::from_secs(120);

/// How long a daily limit pauses the job at least (the runner may wait longer).
pub(crate) const DAILY_LIMIT_WAIT: Duration = Duration::from_secs(60 * 60);

/// Whether `server_text` (a NO/BAD/BYE text) is a throttling answer, and which kind.
pub(crate) fn busy(server_text: &str) -> Option<Busy> {
    // Gmail: "NO [OVERQUOTA] Account exceeded command or bandwidth limits" is its daily
    // download/upload limit (not a full mailbox, which is a bare [OVERQUOTA]).
    if server_text
        .to_ascii_uppercase()
        .contains("EXCEEDED COMMAND OR BANDWIDTH LIMITS")
    {
        return Some(Busy::DailyLimit);
    }
    throttle_hint(server_text).map(Busy::Throttled)
}

/// The decision after a throttling answer `text`, the copy having paused `pauses` times
/// already; `jitter` in `[0, 1)` spreads the lanes (and jobs) apart.
pub(crate) fn pause_for(busy: Busy, pauses: u32, jitter: f64, text: &str) -> Pause {
    let jitter = jitter.clamp(0.0, 1.0);
    let stop_as = |kind: StopKind, wait: Duration, why: &str| {
        let mut stop = Stop::new(kind, false, format!("{why}: {text}"));
        stop.retry_after_ms = Some(wait.as_millis() as u64);
        Pause::Stop(stop)
    };
    let stop = |wait, why| stop_as(StopKind::Throttled, wait, why);
    match busy {
        Busy::DailyLimit => stop_as(
            StopKind::DailyLimit,
            DAILY_LIMIT_WAIT,
            "the account's daily limit was reached",
        ),
        Busy::Throttled(Some(asked)) if asked > MAX_INLINE_WAIT => {
            stop(asked, "the server asked to wait longer than a copy waits")
        }
        Busy::Throttled(_) if pauses >= MAX_PAUSES => {
            stop(MAX_UNSUGGESTED_WAIT, "the server kept throttling the copy")
        }
        Busy::Throttled(Some(asked)) => Pause::Wait(asked.mul_f64(1.0 + jitter / 5.0)),
        Busy::Throttled(None) => {
            let doubled = FIRST_WAIT.saturating_mul(1 << pauses.min(10));
            Pause::Wait(
                doubled
                    .min(MAX_UNSUGGESTED_WAIT)
                    .mul_f64(1.0 + jitter / 2.0),
            )
        }
    }
}

/// Lanes the copy keeps after a pause: one fewer, never none.
pub(crate) fn lanes_after_pause(lanes: usize) -> usize {
    lanes.saturating_sub(1).max(1)
}

/// A number in `[0, 1)` that differs from call to call (std's per-instance random hash keys;
/// no cryptographic quality needed to spread waits apart).
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: &str = "Request is throttled. Suggested Backoff Time: 299961 milliseconds";

    #[test]
    fn kinds_of_busy_answers() {
        assert_eq!(
            busy(MS),
            Some(Busy::Throttled(Some(Duration::from_millis(299_961))))
        );
        assert_eq!(
            busy("[UNAVAILABLE] Server busy"),
            Some(Busy::Throttled(None))
        );
        assert_eq!(
            busy("[OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)"),
            Some(Busy::DailyLimit)
        );
        assert_eq!(
            busy("[OVERQUOTA] Quota exceeded (mailbox for user is full)"),
            None
        );
        assert_eq!(
            busy(
                "[LIMIT] Mail size is larger than the maximum size allowed by server configuration"
            ),
            None
        );
        assert_eq!(busy("Mailbox doesn't exist: Foo"), None);
    }

    #[test]
    fn a_suggested_wait_is_taken_with_at_most_a_fifth_more() {
        let Pause::Wait(w) =
            pause_for(Busy::Throttled(Some(Duration::from_secs(300))), 0, 0.99, MS)
        else {
            panic!("expected a wait");
        };
        assert!(
            w >= Duration::from_secs(300) && w <= Duration::from_secs(360),
            "{w:?}"
        );
    }

    #[test]
    fn unsuggested_waits_double_up_to_two_minutes() {
        let wait = |n| match pause_for(Busy::Throttled(None), n, 0.0, "busy") {
            Pause::Wait(w) => w,
            Pause::Stop(s) => panic!("stopped: {s}"),
        };
        assert_eq!(wait(0), Duration::from_secs(1));
        assert_eq!(wait(1), Duration::from_secs(2));
        assert_eq!(wait(3), Duration::from_secs(8));
        assert_eq!(wait(11), Duration::from_secs(120));
    }

    #[test]
    fn long_waits_daily_limits_and_endless_throttling_stop_the_attempt() {
        let stopped = |p: Pause| match p {
            Pause::Stop(s) => (s.kind, s.permanent, s.retry_after()),
            Pause::Wait(w) => panic!("waited {w:?}"),
        };
        assert_eq!(
            stopped(pause_for(
                Busy::Throttled(Some(Duration::from_secs(3600))),
                0,
                0.5,
                "x"
            )),
            (StopKind::Throttled, false, Some(Duration::from_secs(3600)))
        );
        assert_eq!(
            stopped(pause_for(Busy::DailyLimit, 0, 0.5, "x")),
            (StopKind::DailyLimit, false, Some(DAILY_LIMIT_WAIT))
        );
        assert_eq!(
            stopped(pause_for(Busy::Throttled(None), MAX_PAUSES, 0.5, "x")).0,
            StopKind::Throttled
        );
    }

    #[test]
    fn a_pause_sheds_one_lane_but_never_the_last() {
        assert_eq!(lanes_after_pause(4), 3);
        assert_eq!(lanes_after_pause(1), 1);
        assert_eq!(lanes_after_pause(0), 1);
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
