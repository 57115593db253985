//! What to do after a copy attempt stopped: retry later, or fail now — a pure function of the
//! engine's typed stop cause, next to the job lifecycle ([`super::state::transition`]).

use std::time::Duration;

use mailcopy::{Stop, StopKind};

/// The runner's answer to a stopped attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Back to the queue, to run again after this wait.
    RetryAfter(Duration),
    /// The job fails with the stop's cause.
    GiveUp,
    /// An OAuth2 grant is gone, or the server refuses even a renewed token: only a person
    /// signing in again can help. The job waits for that (bounded), keeping its credentials.
    WaitForSignIn,
    /// A provider's daily limit: paused this long, then it goes on; not an attempt.
    PauseForLimit(Duration),
}

/// How retries are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub max_attempts: i64,
    /// First wait; doubled after each attempt (at most 64×).
    pub base: Duration,
    /// The longest wait a server may ask for and still be waited for in one step.
    pub max_wait: Duration,
    /// The first pause after a daily limit; each next one twice as long, at most a day.
    pub daily_limit_pause: Duration,
}

/// The longest pause for a daily limit: the limits are per day.
pub const MAX_LIMIT_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);

/// The pause after a daily limit, the job having paused `pauses` times before: at least what
/// the engine asked, doubling from `policy.daily_limit_pause`, at most [`MAX_LIMIT_PAUSE`].
pub fn limit_pause(policy: &RetryPolicy, stop: &Stop, pauses: i64) -> Duration {
    let doubled = policy
        .daily_limit_pause
        .saturating_mul(1 << pauses.clamp(0, 10) as u32);
    doubled
        .max(stop.retry_after().unwrap_or_default())
        .min(MAX_LIMIT_PAUSE)
}

/// Decides after attempt number `attempts` (1 for the first) stopped with `stop`, the job
/// having paused `limit_pauses` times for a daily limit. `jitter` in `[0, 1)` spreads retries
/// of many jobs apart (the caller draws it).
pub fn decide(
    policy: &RetryPolicy,
    stop: &Stop,
    attempts: i64,
    limit_pauses: i64,
    jitter: f64,
) -> RetryDecision {
    // A daily limit is not a failure: pause, whatever the attempts (a mailbox larger than a
    // day's volume takes days).
    if stop.kind == StopKind::DailyLimit {
        return RetryDecision::PauseForLimit(limit_pause(policy, stop, limit_pauses));
    }
    // The copy kept under a daily volume itself: it goes on when its day is over, exactly
    // (at least a minute, at most a day).
    if stop.kind == StopKind::DailyVolume {
        let wait = stop
            .retry_after()
            .unwrap_or(MAX_LIMIT_PAUSE)
            .clamp(Duration::from_secs(60), MAX_LIMIT_PAUSE);
        return RetryDecision::PauseForLimit(wait);
    }
    // The engine asked the token source for a renewed token once before it stopped with a
    // refused one, so neither a refresh nor time helps: a new sign-in may. Attempts do not
    // count: nothing was tried that a retry would repeat.
    if matches!(stop.kind, StopKind::SignInNeeded | StopKind::TokenRefused) {
        return RetryDecision::WaitForSignIn;
    }
    // Waiting cannot fix a refused login, an untrusted certificate or a full mailbox, and a
    // cancelled copy is not to be run again.
    if stop.permanent || stop.kind == StopKind::Cancelled || attempts >= policy.max_attempts {
        return RetryDecision::GiveUp;
    }
    let jitter = jitter.clamp(0.0, 1.0);
    let backoff = {
        let base = policy.base.as_millis() as u64;
        let factor = 1u64 << attempts.clamp(0, 6);
        let extra = (base as f64 / 2.0 * jitter) as u64;
        Duration::from_millis(base.saturating_mul(factor).saturating_add(extra))
    };
    let wait = match (stop.kind, stop.retry_after()) {
        // The server said how long (Microsoft 365: "Suggested Backoff Time"): that long, a
        // little more for jitter, never less than the usual back-off.
        (StopKind::Throttled, Some(asked)) => {
            let asked = asked.mul_f64(1.0 + jitter / 10.0);
            asked.max(backoff)
        }
        _ => backoff,
    };
    RetryDecision::RetryAfter(wait.min(policy.max_wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base: Duration::from_secs(30),
        max_wait: Duration::from_secs(3600),
        daily_limit_pause: Duration::from_secs(3600),
    };

    fn stop(kind: StopKind, permanent: bool) -> Stop {
        Stop::new(kind, permanent, "x")
    }

    #[test]
    fn permanent_causes_fail_at_once() {
        for kind in [StopKind::LoginRefused, StopKind::Tls, StopKind::QuotaFull] {
            assert_eq!(
                decide(&POLICY, &stop(kind, true), 1, 0, 0.0),
                RetryDecision::GiveUp,
                "{kind:?}"
            );
        }
        assert_eq!(
            decide(&POLICY, &stop(StopKind::Cancelled, false), 1, 0, 0.0),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn a_gone_grant_or_a_refused_renewed_token_waits_for_sign_in() {
        for kind in [StopKind::SignInNeeded, StopKind::TokenRefused] {
            for attempts in [1, POLICY.max_attempts, POLICY.max_attempts + 3] {
                assert_eq!(
                    decide(&POLICY, &stop(kind, false), attempts, 0, 0.5),
                    RetryDecision::WaitForSignIn,
                    "{kind:?} after {attempts}"
                );
            }
        }
        // A refused password is not a sign-in to renew.
        assert_eq!(
            decide(&POLICY, &stop(StopKind::LoginRefused, true), 1, 0, 0.0),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn transient_causes_back_off_exponentially_until_the_attempts_run_out() {
        let lost = stop(StopKind::ConnectionLost, false);
        assert_eq!(
            decide(&POLICY, &lost, 1, 0, 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(
            decide(&POLICY, &lost, 2, 0, 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(120))
        );
        assert_eq!(
            decide(&POLICY, &lost, 3, 0, 0.999),
            RetryDecision::RetryAfter(Duration::from_millis(240_000 + 14_985))
        );
        assert_eq!(decide(&POLICY, &lost, 4, 0, 0.0), RetryDecision::GiveUp);
    }

    #[test]
    fn a_throttled_server_is_waited_for_as_long_as_it_asked() {
        let mut s = stop(StopKind::Throttled, false);
        s.retry_after_ms = Some(299_961);
        assert_eq!(
            decide(&POLICY, &s, 1, 0, 0.0),
            RetryDecision::RetryAfter(Duration::from_millis(299_961))
        );
        // Jitter adds up to a tenth.
        let RetryDecision::RetryAfter(d) = decide(&POLICY, &s, 1, 0, 0.5) else {
            panic!()
        };
        assert!(d > Duration::from_millis(299_961) && d < Duration::from_millis(330_000));
        // A short suggestion does not undercut the back-off; an absurd one is capped.
        s.retry_after_ms = Some(10);
        assert_eq!(
            decide(&POLICY, &s, 1, 0, 0.0),
            RetryDecision::RetryAfter(Duration::from_secs(60))
        );
        s.retry_after_ms = Some(1 << 40);
        assert_eq!(
            decide(&POLICY, &s, 1, 0, 0.0),
            RetryDecision::RetryAfter(POLICY.max_wait)
        );
    }

    #[test]
    fn a_copy_that_moved_its_days_volume_pauses_until_the_day_is_over() {
        let mut s = stop(StopKind::DailyVolume, false);
        s.retry_after_ms = Some(5 * 3600 * 1000);
        // Not doubled by earlier pauses, whatever the attempts.
        for pauses in [0, 3, 9] {
            assert_eq!(
                decide(&POLICY, &s, 9, pauses, 0.5),
                RetryDecision::PauseForLimit(Duration::from_secs(5 * 3600))
            );
        }
        s.retry_after_ms = Some(10);
        assert_eq!(
            decide(&POLICY, &s, 1, 0, 0.5),
            RetryDecision::PauseForLimit(Duration::from_secs(60))
        );
        s.retry_after_ms = None;
        assert_eq!(
            decide(&POLICY, &s, 1, 0, 0.5),
            RetryDecision::PauseForLimit(MAX_LIMIT_PAUSE)
        );
    }

    #[test]
    fn a_daily_limit_pauses_longer_each_time_whatever_the_attempts() {
        let mut s = stop(StopKind::DailyLimit, false);
        s.retry_after_ms = Some(3_600_000);
        let hour = Duration::from_secs(3600);
        for (pauses, want) in [
            (0, hour),
            (1, hour * 2),
            (3, hour * 8),
            (9, MAX_LIMIT_PAUSE),
        ] {
            assert_eq!(
                decide(&POLICY, &s, POLICY.max_attempts + 5, pauses, 0.5),
                RetryDecision::PauseForLimit(want),
                "after {pauses} pauses"
            );
        }
        // The engine's own wait, if longer, is kept.
        s.retry_after_ms = Some(5 * 3_600_000);
        assert_eq!(
            decide(&POLICY, &s, 1, 0, 0.0),
            RetryDecision::PauseForLimit(hour * 5)
        );
    }
}
