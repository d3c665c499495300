//! [`ForestClock`]: the simulated clock every part of a forest reads.

use std::time::Duration;

use adsim_simulator::clock::{Clock, NtTime};

use super::ForestError;

/// Seconds in a day, for [`ForestClock::advance_days`].
const DAY: i64 = 86_400;

/// A handle on a forest's simulated clock: the directory (whenCreated, pwdLastSet, gMSA
/// rotation), the KDC (ticket times, clock skew) and the control API all read it. Cloning shares
/// it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), adsim_harness::forest::ForestError> {
/// use adsim_harness::forest::Forest;
///
/// let forest = Forest::builder().start_time_rfc3339("2026-01-05T10:00:00Z").start().await?;
/// let clock = forest.clock();
/// clock.advance_days(30);
/// assert_eq!(clock.now().to_rfc3339(), "2026-02-04T10:00:00Z");
/// clock.set_rfc3339("2030-01-01T00:00:00Z")?;
/// assert_eq!(clock.now().to_rfc3339(), "2030-01-01T00:00:00Z");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ForestClock {
    clock: Clock,
}

impl ForestClock {
    pub(super) fn new(clock: Clock) -> ForestClock {
        ForestClock { clock }
    }

    pub fn now(&self) -> NtTime {
        self.clock.now()
    }

    /// True when the forest was started with a start time (the clock moves only when told).
    pub fn is_frozen(&self) -> bool {
        self.clock.is_frozen()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.advance_seconds(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    }

    /// Moves the clock by `seconds`, backwards when negative.
    pub fn advance_seconds(&self, seconds: i64) {
        self.clock.advance_seconds(seconds);
    }

    pub fn advance_days(&self, days: i64) {
        self.advance_seconds(days.saturating_mul(DAY));
    }

    /// Sets the clock; a running clock keeps running from there.
    pub fn set(&self, at: NtTime) {
        self.clock.set(at);
    }

    /// [`ForestClock::set`] from RFC 3339 text.
    pub fn set_rfc3339(&self, text: &str) -> Result<(), ForestError> {
        let at = NtTime::parse_rfc3339(text)
            .ok_or_else(|| ForestError::Settings(format!("{text:?} is not an RFC 3339 time")))?;
        self.set(at);
        Ok(())
    }

    /// The underlying simulator clock.
    pub fn inner(&self) -> &Clock {
        &self.clock
    }
}
