//! Job lifecycle as a pure transition function: `(state, event) -> state`, no I/O, no clock.
//!
//! ```text
//!            claim              complete
//!  queued ──────────► running ──────────► finished
//!    ▲   ╲              │  ╲   fail (final)
//!    │    ╲ cancel      │   ╲──────────────► failed
//!    │     ╲            │ cancel
//!    │      ▼           ▼
//!    │    cancelled ◄───┘
//!    └── retry / lease lost / start-up takeover (from running)
//! ```

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Finished,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Finished,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Queued or running: the source account is taken.
    pub fn is_active(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
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
        (S::Queued | S::Running, E::Cancel) => Ok(S::Cancelled),
        _ => Err(InvalidTransition { state, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobEvent as E;
    use JobState as S;

    #[test]
    fn transition_table() {
        let table: &[(S, E, Option<S>)] = &[
            (S::Queued, E::Claim, Some(S::Running)),
            (S::Queued, E::Complete, None),
            (S::Queued, E::Fail, None),
            (S::Queued, E::Retry, None),
            (S::Queued, E::Abandon, None),
            (S::Queued, E::Cancel, Some(S::Cancelled)),
            (S::Running, E::Claim, None),
            (S::Running, E::Complete, Some(S::Finished)),
            (S::Running, E::Fail, Some(S::Failed)),
            (S::Running, E::Retry, Some(S::Queued)),
            (S::Running, E::Abandon, Some(S::Queued)),
            (S::Running, E::Cancel, Some(S::Cancelled)),
        ];
        for (state, event, expected) in table {
            assert_eq!(
                transition(*state, *event).ok(),
                *expected,
                "{state:?} + {event:?}"
            );
        }
        // Final states take no event at all.
        for state in [S::Finished, S::Failed, S::Cancelled] {
            for event in [
                E::Claim,
                E::Complete,
                E::Fail,
                E::Retry,
                E::Abandon,
                E::Cancel,
            ] {
                assert!(transition(state, event).is_err(), "{state:?} + {event:?}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("nope"), None);
    }
}
