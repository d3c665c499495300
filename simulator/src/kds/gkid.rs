//! Group key identifiers and the time ↔ GKID mapping (MS-GKDI; docs/notes/gmsa-gkdi.md §2).
//! One interval is KEY_CYCLE (10 h); 32 intervals make an L1 period, 32 L1 periods an L0 period.

use crate::clock::NtTime;

use super::error::{GkidTriple, KdsError};

/// Length of one GKDI interval: 10 h in 100 ns ticks.
pub const KEY_CYCLE: u64 = 360_000_000_000;
/// Allowed clock skew: 5 min in 100 ns ticks.
pub const MAX_SKEW: u64 = 3_000_000_000;
/// L1 keys per L0 key and L2 keys per L1 key.
pub const L1_KEYS: i32 = 32;
pub const L2_KEYS: i32 = 32;
/// Intervals per L0 period (1024 × 10 h ≈ 426.67 days).
pub const INTERVALS_PER_L0: u64 = (L1_KEYS * L2_KEYS) as u64;

/// A group key identifier. −1 means "not at this level" (encoded as FF FF FF FF).
/// The derived ordering is the lexicographic (L0, L1, L2) order Samba's
/// `gkid_less_than_or_equal_to` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gkid {
    pub l0: i32,
    pub l1: i32,
    pub l2: i32,
}

/// Which key a GKID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GkidLevel {
    /// (−1, −1, −1)
    Default,
    /// (L0, −1, −1)
    L0,
    /// (L0, L1, −1)
    L1,
    /// (L0, L1, L2): the only kind a gMSA password uses.
    L2,
}

impl Gkid {
    /// A validated GKID.
    pub fn new(l0: i32, l1: i32, l2: i32) -> Result<Gkid, KdsError> {
        let g = Gkid { l0, l1, l2 };
        g.validate()?;
        Ok(g)
    }

    pub(crate) fn triple(&self) -> GkidTriple {
        GkidTriple(self.l0, self.l1, self.l2)
    }

    /// MS-GKDI validity: L0 ≥ −1, −1 ≤ L1, L2 ≤ 31; L0 = −1 forces L1 = −1; L1 = −1 forces L2 = −1.
    pub fn validate(&self) -> Result<(), KdsError> {
        let ok = self.l0 >= -1
            && (-1..L1_KEYS).contains(&self.l1)
            && (-1..L2_KEYS).contains(&self.l2)
            && !(self.l0 == -1 && self.l1 != -1)
            && !(self.l1 == -1 && self.l2 != -1);
        if ok {
            Ok(())
        } else {
            Err(KdsError::InvalidGkid(self.triple()))
        }
    }

    pub fn is_valid(&self) -> bool {
        self.validate().is_ok()
    }

    /// The level of a valid GKID (meaningless for an invalid one).
    pub fn level(&self) -> GkidLevel {
        if self.l0 == -1 {
            GkidLevel::Default
        } else if self.l1 == -1 {
            GkidLevel::L0
        } else if self.l2 == -1 {
            GkidLevel::L1
        } else {
            GkidLevel::L2
        }
    }

    /// Valid and naming an L2 seed key.
    pub fn require_l2(&self) -> Result<(), KdsError> {
        self.validate()?;
        if self.level() != GkidLevel::L2 {
            return Err(KdsError::WrongGkidLevel(self.triple(), "L2"));
        }
        Ok(())
    }

    /// The interval containing `t`: L0 = iv / 1024, L1 = (iv / 32) % 32, L2 = iv % 32.
    pub fn from_time(t: NtTime) -> Gkid {
        // u64::MAX / KEY_CYCLE / 1024 ≈ 50 040, so L0 always fits an i32.
        Gkid::from_interval_index(t.0 / KEY_CYCLE).unwrap_or(Gkid {
            l0: -1,
            l1: -1,
            l2: -1,
        })
    }

    /// The L2 GKID of interval number `iv` (t / KEY_CYCLE), if its L0 fits an i32.
    pub fn from_interval_index(iv: u64) -> Option<Gkid> {
        let l0 = i32::try_from(iv / INTERVALS_PER_L0).ok()?;
        Some(Gkid {
            l0,
            l1: ((iv / L2_KEYS as u64) % L1_KEYS as u64) as i32,
            l2: (iv % L2_KEYS as u64) as i32,
        })
    }

    /// The interval number of an L2 GKID: L0·1024 + L1·32 + L2.
    pub fn interval_index(&self) -> Result<u64, KdsError> {
        self.require_l2()?;
        Ok(self.l0 as u64 * INTERVALS_PER_L0 + self.l1 as u64 * L2_KEYS as u64 + self.l2 as u64)
    }

    /// Start of the interval an L2 GKID names (Samba `gkdi_get_key_start_time`: L2 only,
    /// and the result must fit in NTTIME).
    pub fn start_time(&self) -> Result<NtTime, KdsError> {
        self.interval_index()?
            .checked_mul(KEY_CYCLE)
            .map(NtTime)
            .ok_or(KdsError::GkidOutOfRange(self.triple()))
    }

    /// The L2 GKID of the next interval (whose start must still fit in NTTIME).
    pub fn next(&self) -> Result<Gkid, KdsError> {
        let iv = self.interval_index()?.checked_add(1);
        let next = iv
            .and_then(Gkid::from_interval_index)
            .ok_or(KdsError::GkidOutOfRange(self.triple()))?;
        next.start_time()?;
        Ok(next)
    }

    /// The L2 GKID of the previous interval.
    pub fn prev(&self) -> Result<Gkid, KdsError> {
        let iv = self.interval_index()?.checked_sub(1);
        iv.and_then(Gkid::from_interval_index)
            .ok_or(KdsError::GkidOutOfRange(self.triple()))
    }
}

/// Start of the interval containing `t` (Samba `gkdi_get_interval_start_time`).
pub fn interval_start(t: NtTime) -> NtTime {
    NtTime(t.0 / KEY_CYCLE * KEY_CYCLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            Gkid::from_time(NtTime(133387453261266352)),
            Gkid {
                l0: 361,
                l1: 26,
                l2: 24
            }
        );
        assert_eq!(
            Gkid::from_time(NtTime(132895801920510000)),
            Gkid {
                l0: 360,
                l1: 16,
                l2: 3
            }
        );
    }

    #[test]
    fn validity_rules() {
        assert!(Gkid::new(-1, -1, -1).is_ok());
        assert!(Gkid::new(5, -1, -1).is_ok());
        assert!(Gkid::new(5, 31, -1).is_ok());
        assert!(Gkid::new(5, 31, 31).is_ok());
        assert!(Gkid::new(-2, -1, -1).is_err());
        assert!(Gkid::new(-1, 0, -1).is_err());
        assert!(Gkid::new(5, -1, 0).is_err());
        assert!(Gkid::new(5, 32, 0).is_err());
        assert!(Gkid::new(5, 0, 32).is_err());
        assert!(Gkid::new(5, -2, -1).is_err());
    }

    #[test]
    fn start_time_needs_an_l2_gkid_that_fits() {
        assert!(Gkid { l0: 3, l1: 4, l2: -1 }.start_time().is_err());
        let last = Gkid::from_time(NtTime(u64::MAX));
        assert!(last.start_time().is_ok());
        assert!(matches!(last.next(), Err(KdsError::GkidOutOfRange(_))));
        let huge = Gkid {
            l0: i32::MAX,
            l1: 0,
            l2: 0,
        };
        assert!(matches!(huge.start_time(), Err(KdsError::GkidOutOfRange(_))));
        assert!(Gkid { l0: 0, l1: 0, l2: 0 }.prev().is_err());
    }

    #[test]
    fn next_crosses_l1_and_l0_boundaries() {
        assert_eq!(
            Gkid { l0: 1, l1: 2, l2: 31 }.next().unwrap(),
            Gkid { l0: 1, l1: 3, l2: 0 }
        );
        assert_eq!(
            Gkid {
                l0: 1,
                l1: 31,
                l2: 31
            }
            .next()
            .unwrap(),
            Gkid { l0: 2, l1: 0, l2: 0 }
        );
        assert_eq!(
            Gkid { l0: 2, l1: 0, l2: 0 }.prev().unwrap(),
            Gkid {
                l0: 1,
                l1: 31,
                l2: 31
            }
        );
    }
}
