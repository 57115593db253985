//! Pausing the whole copy after a throttling answer, and shedding lanes: the run's side of
//! [`crate::copy::throttle`]. A lane that meets a throttling answer calls [`Run::throttled`]
//! and then sends the same command again; every lane calls [`Run::pace`] before its next
//! command, so all of them wait out the same pause; after it the copy goes on with one lane
//! fewer ([`Run::lane_wanted`]).

use super::*;
use crate::copy::throttle::{self, Pause};

/// The run's throttling state (in [`State`]).
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// Pauses taken so far.
    pauses: u32,
    /// Every lane waits until then.
    until: Option<Instant>,
    /// Lanes the copy still uses (`None` until the lanes are open).
    lanes: Option<usize>,
}

impl Run<'_> {
    /// A throttling answer `text` (see [`throttle::busy`]): every lane pauses — this one now,
    /// the others before their next command — and the copy then goes on with one lane fewer.
    /// An answer met while a pause is on joins that pause. `Err(Fail::Fatal)` when the
    /// attempt should stop instead (a daily limit, a wait longer than a copy waits, a server
    /// that keeps throttling), or when the copy is cancelled meanwhile.
    pub(super) async fn throttled(&self, text: &str) -> Result<(), Fail> {
        let Some(busy) = throttle::busy(text) else {
            return Ok(());
        };
        let until = {
            let mut st = lock(&self.state);
            let now = Instant::now();
            match st.pace.until {
                Some(until) if until > now => until,
                _ => match throttle::pause_for(busy, st.pace.pauses, throttle::jitter(), text) {
                    Pause::Stop(stop) => return Err(Fail::Fatal(stop)),
                    Pause::Wait(wait) => {
                        st.pace.pauses += 1;
                        let lanes = st.pace.lanes.unwrap_or(1);
                        st.pace.lanes = Some(throttle::lanes_after_pause(lanes));
                        tracing::warn!(
                            wait_ms = wait.as_millis() as u64,
                            lanes = st.pace.lanes,
                            server_text = %text,
                            "throttled: pausing the copy"
                        );
                        now + wait
                    }
                },
            }
        };
        self.wait_until(until).await
    }

    /// Waits while a pause is on (before a command).
    pub(super) async fn pace(&self) -> Result<(), Fail> {
        let until = lock(&self.state).pace.until;
        match until {
            Some(until) if until > Instant::now() => self.wait_until(until).await,
            _ => Ok(()),
        }
    }

    /// Gmail answers `OK [THROTTLED]` when it wants a client to slow down: a hint on a
    /// successful answer, not a failure, so nothing pauses and nothing is sent again. A lane
    /// whose sessions got new hints since its previous folder makes the copy go on with one
    /// lane fewer (never fewer than one), as after a pause.
    pub(super) fn take_hints(&self, lane: &mut Lane) {
        let now: u64 = lane
            .src
            .iter()
            .chain(lane.dst.iter())
            .map(ImapSession::throttle_hints)
            .sum();
        // A reconnect starts new sessions at 0.
        let new = now.saturating_sub(lane.hints_seen);
        lane.hints_seen = now;
        if new == 0 {
            return;
        }
        let mut st = lock(&self.state);
        if let Some(lanes) = st.pace.lanes {
            st.pace.lanes = Some(throttle::lanes_after_pause(lanes));
            tracing::info!(
                hints = new,
                lanes = st.pace.lanes,
                "the server asks to slow down ([THROTTLED]): one lane fewer"
            );
        }
    }

    /// The lanes open at the start.
    pub(super) fn lanes_opened(&self, lanes: usize) {
        lock(&self.state).pace.lanes = Some(lanes);
    }

    /// Whether lane number `index` (0 for the first) is still wanted after the pauses so far.
    pub(super) fn lane_wanted(&self, index: usize) -> bool {
        lock(&self.state)
            .pace
            .lanes
            .is_none_or(|lanes| index < lanes)
    }

    async fn wait_until(&self, until: Instant) -> Result<(), Fail> {
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => Ok(()),
            _ = self.cancel.cancelled() => Err(Fail::Fatal(Stop::new(
                StopKind::Cancelled,
                true,
                "the copy was cancelled",
            ))),
        }
    }
}
