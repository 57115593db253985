//! Job lifecycle as a pure transition function: `(state, event) -> state`, no I/O, no clock.
//!
//! ```text
//!            claim              complete
//!  queued ──────────► running ──────────► finished
//!    ▲   ╲              │  ╲   fail (final)
//!    │    ╲ cancel      │   ╲──────────────► failed ◄───────────┐
//!    │     ╲            │ cancel                                │ fail (nobody signed
//!    │      ▼           ▼                                       │ in again in time)
//!    │    cancelled ◄───┴────── cancel ────── waiting_for_sign_in
//!    │                                          ▲            │
//!    │                  running ─ need sign-in ─┘            │
//!    ├──────────────────────── signed in again ──────────────┘
//!    └── retry / lease lost / start-up takeover (from running)
//! ```
//!
//! Waiting for sign-in is active (the source account stays taken, credentials stay sealed)
//! but never claimed: only a new sign-in, a cancel or the bound's sweep moves it on.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Finished,
    Failed,
    Cancelled,
    /// An OAuth2 grant is gone (revoked, expired): a person has to sign in again.
    WaitingForSignIn,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Finished,
        JobState::Failed,
        JobState::Cancelled,
        JobState::WaitingForSignIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::WaitingForSignIn => "waiting_for_sign_in",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Queued, running or waiting for sign-in: the source account is taken.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobState::Queued | JobState::Running | JobState::WaitingForSignIn
        )
    }

    pub fn is_final(self) -> bool {
        !self.is_active()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    /// A runner took the job (with a lease).
    Claim,
    /// The copy ended (complete, or complete with rejections).
    Complete,
    /// The copy stopped for good (permanent error, or retries exhausted).
    Fail,
    /// A transient failure with retries left: back to the queue.
    Retry,
    /// The lease ran out or the process restarted while running: back to the queue to resume.
    Abandon,
    /// The operator cancelled.
    Cancel,
    /// The copy stopped because an OAuth2 grant is gone: wait for a new sign-in.
    NeedSignIn,
    /// Someone signed in again: back to the queue, to resume.
    SignedInAgain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {state:?} job cannot take the event {event:?}")]
pub struct InvalidTransition {
    pub state: JobState,
    pub event: JobEvent,
}

pub fn transition(state: JobState, event: JobEvent) -> Result<JobState, InvalidTransition> {
    use JobEvent as E;
    use JobState as S;
    match (state, event) {
        (S::Queued, E::Claim) => Ok(S::Running),
        (S::Running, E::Complete) => Ok(S::Finished),
        (S::Running, E::Fail) => Ok(S::Failed),
        (S::Running, E::Retry | E::Abandon) => Ok(S::Queued),
        (S::Queued | S::Running | S::WaitingForSignIn, E::Cancel) => Ok(S::Cancelled),
        (S::Running, E::NeedSignIn) => Ok(S::WaitingForSignIn),
        (S::WaitingForSignIn, E::SignedInAgain) => Ok(S::Queued),
        // Nobody signed in again within the bound.
        (S::WaitingForSignIn, E::Fail) => Ok(S::Failed),
        _ => Err(InvalidTransition { state, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobEvent as E;
    use JobState as S;

    const EVENTS: [E; 8] = [
        E::Claim,
        E::Complete,
        E::Fail,
        E::Retry,
        E::Abandon,
        E::Cancel,
        E::NeedSignIn,
        E::SignedInAgain,
    ];

    #[test]
    fn transition_table() {
        let table: &[(S, E, Option<S>)] = &[
            (S::Queued, E::Claim, Some(S::Running)),
            (S::Queued, E::Complete, None),
            (S::Queued, E::Fail, None),
            (S::Queued, E::Retry, None),
            (S::Queued, E::Abandon, None),
            (S::Queued, E::Cancel, Some(S::Cancelled)),
            (S::Queued, E::NeedSignIn, None),
            (S::Queued, E::SignedInAgain, None),
            (S::Running, E::Claim, None),
            (S::Running, E::Complete, Some(S::Finished)),
            (S::Running, E::Fail, Some(S::Failed)),
            (S::Running, E::Retry, Some(S::Queued)),
            (S::Running, E::Abandon, Some(S::Queued)),
            (S::Running, E::Cancel, Some(S::Cancelled)),
            (S::Running, E::NeedSignIn, Some(S::WaitingForSignIn)),
            (S::Running, E::SignedInAgain, None),
            // Waiting for sign-in is left by a sign-in, a cancel, or failing at the bound;
            // a runner never claims it, and it is not running, so nothing else applies.
            (S::WaitingForSignIn, E::Claim, None),
            (S::WaitingForSignIn, E::Complete, None),
            (S::WaitingForSignIn, E::Fail, Some(S::Failed)),
            (S::WaitingForSignIn, E::Retry, None),
            (S::WaitingForSignIn, E::Abandon, None),
            (S::WaitingForSignIn, E::Cancel, Some(S::Cancelled)),
            (S::WaitingForSignIn, E::NeedSignIn, None),
            (S::WaitingForSignIn, E::SignedInAgain, Some(S::Queued)),
        ];
        assert_eq!(table.len(), 3 * EVENTS.len(), "every active pair is listed");
        for (state, event, expected) in table {
            assert_eq!(
                transition(*state, *event).ok(),
                *expected,
                "{state:?} + {event:?}"
            );
        }
        // Final states take no event at all.
        for state in [S::Finished, S::Failed, S::Cancelled] {
            assert!(state.is_final());
            for event in EVENTS {
                assert!(transition(state, event).is_err(), "{state:?} + {event:?}");
            }
        }
        assert!(S::WaitingForSignIn.is_active() && !S::WaitingForSignIn.is_final());
    }

    #[test]
    fn names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("nope"), None);
    }
}
