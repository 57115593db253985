//! The day a job's copied volume counts in, for pacing under a provider's daily volume
//! (`mailcopy::copy::volume`): a day starts with the first attempt after the previous one is
//! over and lasts [`DAY_MS`]; what every attempt in it copied adds up, across retries, pauses
//! and restarts of the service. Pure.

/// A day, in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a job copied in one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VolumeDay {
    /// When the day started (unix milliseconds).
    pub start_ms: i64,
    /// Octets copied in it.
    pub bytes: u64,
}

impl VolumeDay {
    /// The day an attempt starting at `now_ms` counts in: the stored one while it lasts, else
    /// a new one from now (a clock set back counts as a new day too).
    pub fn current(stored: Option<VolumeDay>, now_ms: i64) -> VolumeDay {
        match stored {
            Some(day) if now_ms >= day.start_ms && now_ms - day.start_ms < DAY_MS => day,
            _ => VolumeDay {
                start_ms: now_ms,
                bytes: 0,
            },
        }
    }

    /// Milliseconds left in the day at `now_ms`.
    pub fn left_ms(&self, now_ms: i64) -> u64 {
        u64::try_from(self.start_ms + DAY_MS - now_ms).unwrap_or(0)
    }

    /// The day with `bytes` more copied.
    pub fn plus(self, bytes: u64) -> VolumeDay {
        VolumeDay {
            bytes: self.bytes.saturating_add(bytes),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_lasts_from_its_first_attempt_for_24_hours() {
        let first = VolumeDay::current(None, 1_000);
        assert_eq!(
            first,
            VolumeDay {
                start_ms: 1_000,
                bytes: 0
            }
        );
        let later = first.plus(400).plus(50);
        assert_eq!(later.bytes, 450);
        // The same day, an hour later: what it copied still counts.
        assert_eq!(VolumeDay::current(Some(later), 1_000 + 3_600_000), later);
        assert_eq!(
            later.left_ms(1_000 + 3_600_000),
            (DAY_MS - 3_600_000) as u64
        );
        // Over: a new day from now.
        let next = VolumeDay::current(Some(later), 1_000 + DAY_MS);
        assert_eq!(
            next,
            VolumeDay {
                start_ms: 1_000 + DAY_MS,
                bytes: 0
            }
        );
        assert_eq!(next.left_ms(1_000 + DAY_MS), DAY_MS as u64);
        assert_eq!(later.left_ms(1_000 + 2 * DAY_MS), 0);
        // A clock set back.
        assert_eq!(VolumeDay::current(Some(later), 0).start_ms, 0);
    }
}
