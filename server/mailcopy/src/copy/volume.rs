//! Pacing under a provider's daily volume (Gmail: about 2,500 MB a day read and 500 MB a day
//! written over IMAP per account): the bytes a copy may still move in the current day, taken
//! before each FETCH. When the next message does not fit, the copy stops for the day with
//! [`StopKind::DailyVolume`] and the job runner pauses it until the day is over — instead of
//! running into the provider's own limit, which can lock the account's IMAP for hours. Pure.

use std::time::Duration;

use super::Pacing;
use crate::profile::{DailyVolume, Provider, MB};
use crate::stop::{Stop, StopKind};

/// The share of a provider's daily volume a copy uses (percent): the rest is left for the
/// scan's own reads and for the account's other clients.
pub const SHARE_PERCENT: u64 = 95;

/// What a copy may still move today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub volume: DailyVolume,
    /// Octets the copy may move in a day ([`SHARE_PERCENT`] of the volume).
    pub per_day: u64,
    /// Octets moved today: by earlier runs, then taken by this one.
    pub used: u64,
    /// Until the current day is over.
    pub day_left: Duration,
}

impl Budget {
    /// The budget for a copy between these providers, if either side has a daily volume.
    pub fn new(pacing: &Pacing, source: Provider, destination: Provider) -> Option<Budget> {
        let volume = pacing.volumes.for_copy(source, destination)?;
        Some(Budget {
            volume,
            per_day: volume.bytes / 100 * SHARE_PERCENT,
            used: pacing.used_today,
            day_left: Duration::from_millis(pacing.day_left_ms),
        })
    }

    /// How many of the messages of `sizes` (octets, in order) may be fetched now; they are
    /// counted as moved. The first message of a day always fits, however large (else one
    /// message larger than a day's volume would pause the copy for ever).
    pub fn take(&mut self, sizes: impl IntoIterator<Item = u64>) -> usize {
        let mut taken = 0;
        for size in sizes {
            let fits = self.used.saturating_add(size) <= self.per_day || self.used == 0;
            if !fits {
                break;
            }
            self.used = self.used.saturating_add(size);
            taken += 1;
        }
        taken
    }

    /// Why the copy stops for the day (not a failure: it goes on when the day is over).
    pub fn stop(&self) -> Stop {
        let provider = self.volume.provider.name().unwrap_or("the provider");
        let way = if self.volume.upload {
            "written into"
        } else {
            "read from"
        };
        let mut stop = Stop::new(
            StopKind::DailyVolume,
            false,
            format!(
                "{} copied today: {provider} allows about {} a day to be {way} an account over IMAP, so the copy goes on by itself when the day is over",
                megabytes(self.used),
                megabytes(self.volume.bytes),
            ),
        );
        stop.retry_after_ms = Some(self.day_left.as_millis() as u64);
        stop
    }
}

/// Octets in decimal megabytes, as providers state their volumes ("500 MB").
pub fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes.saturating_add(MB / 2) / MB)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::profile::DailyVolumes;

    fn pacing(used_today: u64) -> Pacing {
        Pacing {
            volumes: DailyVolumes {
                gmail_download: 1000,
                gmail_upload: 500,
            },
            used_today,
            day_left_ms: 3_600_000,
        }
    }

    #[test]
    fn only_a_copy_touching_gmail_is_paced_by_the_smaller_volume() {
        assert_eq!(
            Budget::new(&pacing(0), Provider::Other, Provider::Other),
            None
        );
        assert_eq!(
            Budget::new(&pacing(0), Provider::Microsoft, Provider::Other),
            None
        );
        let b = Budget::new(&pacing(0), Provider::Gmail, Provider::Gmail).unwrap();
        assert!(b.volume.upload);
        assert_eq!(b.per_day, 475);
        let b = Budget::new(&pacing(0), Provider::Gmail, Provider::Other).unwrap();
        assert_eq!((b.volume.upload, b.per_day), (false, 950));
    }

    #[test]
    fn messages_are_taken_while_they_fit_in_the_days_share() {
        let mut b = Budget::new(&pacing(0), Provider::Other, Provider::Gmail).unwrap();
        assert_eq!(b.take([200, 200, 100]), 2);
        assert_eq!(b.used, 400);
        assert_eq!(b.take([75]), 1);
        assert_eq!(b.take([1]), 0);
        assert_eq!(b.take([]), 0);
        // Earlier runs' bytes count.
        let mut b = Budget::new(&pacing(470), Provider::Other, Provider::Gmail).unwrap();
        assert_eq!(b.take([5, 1]), 1);
    }

    #[test]
    fn the_first_message_of_a_day_fits_however_large() {
        let mut b = Budget::new(&pacing(0), Provider::Other, Provider::Gmail).unwrap();
        assert_eq!(b.take([10 * MB, 1]), 1);
        let mut b = Budget::new(&pacing(1), Provider::Other, Provider::Gmail).unwrap();
        assert_eq!(b.take([10 * MB]), 0);
    }

    #[test]
    fn the_stop_is_a_pause_until_the_day_is_over() {
        let mut b = Budget::new(&pacing(0), Provider::Other, Provider::Gmail).unwrap();
        b.take([400]);
        let stop = b.stop();
        assert_eq!(stop.kind, StopKind::DailyVolume);
        assert!(!stop.permanent);
        assert_eq!(stop.retry_after(), Some(Duration::from_secs(3600)));
        assert!(stop.text.contains("Gmail allows about"), "{}", stop.text);
        assert!(stop.text.contains("written into"), "{}", stop.text);
    }
}
