//! The one source of time: NTTIME (100 ns ticks since 1601-01-01 UTC), taken from the host
//! clock plus an offset that tests move, or frozen at a fixed instant for deterministic replays.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// 100 ns ticks between 1601-01-01 and 1970-01-01.
pub const UNIX_EPOCH_AS_NTTIME: u64 = 116_444_736_000_000_000;
pub const TICKS_PER_SECOND: u64 = 10_000_000;

/// A point in time as NTTIME / FILETIME.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtTime(pub u64);

impl NtTime {
    pub fn from_unix_seconds(secs: i64) -> NtTime {
        NtTime((UNIX_EPOCH_AS_NTTIME as i128 + secs as i128 * TICKS_PER_SECOND as i128).max(0) as u64)
    }

    pub fn from_system_time(t: SystemTime) -> NtTime {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => NtTime(
                UNIX_EPOCH_AS_NTTIME + d.as_secs() * TICKS_PER_SECOND + u64::from(d.subsec_nanos()) / 100,
            ),
            Err(e) => NtTime(UNIX_EPOCH_AS_NTTIME.saturating_sub(e.duration().as_nanos() as u64 / 100)),
        }
    }

    /// Seconds since the Unix epoch (floor).
    pub fn unix_seconds(self) -> i64 {
        (self.0 as i128 - UNIX_EPOCH_AS_NTTIME as i128).div_euclid(TICKS_PER_SECOND as i128) as i64
    }

    pub fn to_offset_datetime(self) -> time::OffsetDateTime {
        let nanos = (self.0 as i128 - UNIX_EPOCH_AS_NTTIME as i128) * 100;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 text, e.g. `2026-11-22T10:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_offset_datetime()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }

    pub fn parse_rfc3339(s: &str) -> Option<NtTime> {
        let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        let ticks = UNIX_EPOCH_AS_NTTIME as i128 + dt.unix_timestamp_nanos() / 100;
        u64::try_from(ticks).ok().map(NtTime)
    }

    /// LDAP GeneralizedTime as AD writes it (`20261122100000.0Z`), for whenCreated/whenChanged.
    pub fn to_generalized_time(self) -> String {
        let dt = self.to_offset_datetime();
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}.0Z",
            dt.year(),
            dt.month() as u8,
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }

    pub fn saturating_add_seconds(self, secs: i64) -> NtTime {
        NtTime((self.0 as i128 + secs as i128 * TICKS_PER_SECOND as i128).clamp(0, u64::MAX as i128) as u64)
    }
}

/// The simulated clock shared by every part of one forest. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    /// Offset from the host clock in 100 ns ticks (or the frozen instant when frozen).
    offset: AtomicI64,
    frozen: AtomicBool,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// Host time plus an offset that starts at zero.
    pub fn system() -> Clock {
        Clock {
            inner: Arc::new(ClockState {
                offset: AtomicI64::new(0),
                frozen: AtomicBool::new(false),
            }),
        }
    }

    /// A clock that stands still at `at` until moved: scenarios replay identically.
    pub fn frozen(at: NtTime) -> Clock {
        Clock {
            inner: Arc::new(ClockState {
                offset: AtomicI64::new(at.0 as i64),
                frozen: AtomicBool::new(true),
            }),
        }
    }

    pub fn now(&self) -> NtTime {
        let off = self.inner.offset.load(Ordering::SeqCst);
        if self.inner.frozen.load(Ordering::SeqCst) {
            return NtTime(off.max(0) as u64);
        }
        let host = NtTime::from_system_time(SystemTime::now()).0 as i128;
        NtTime((host + off as i128).clamp(0, u64::MAX as i128) as u64)
    }

    pub fn is_frozen(&self) -> bool {
        self.inner.frozen.load(Ordering::SeqCst)
    }

    /// Offset from the host clock in seconds (the frozen clock reports its distance from host time).
    pub fn offset_seconds(&self) -> i64 {
        let host = NtTime::from_system_time(SystemTime::now()).0 as i128;
        ((self.now().0 as i128 - host) / TICKS_PER_SECOND as i128) as i64
    }

    pub fn advance_seconds(&self, secs: i64) {
        self.inner
            .offset
            .fetch_add(secs.saturating_mul(TICKS_PER_SECOND as i64), Ordering::SeqCst);
    }

    /// Moves the clock to `at`; a running clock keeps running from there.
    pub fn set(&self, at: NtTime) {
        if self.is_frozen() {
            self.inner.offset.store(at.0 as i64, Ordering::SeqCst);
        } else {
            let host = NtTime::from_system_time(SystemTime::now()).0 as i64;
            self.inner.offset.store(at.0 as i64 - host, Ordering::SeqCst);
        }
    }
}

/// A clock's complete setting, for snapshots: the frozen instant, or the offset a running clock
/// keeps from host time (so a restored running clock still tracks the host, as Kerberos clients
/// expect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSetting {
    pub frozen: bool,
    /// The frozen instant in NTTIME ticks, or the running clock's offset from host time in ticks.
    pub ticks: i64,
}

impl Clock {
    /// A new clock with this setting.
    pub fn from_setting(setting: ClockSetting) -> Clock {
        Clock {
            inner: Arc::new(ClockState {
                offset: AtomicI64::new(setting.ticks),
                frozen: AtomicBool::new(setting.frozen),
            }),
        }
    }

    pub fn setting(&self) -> ClockSetting {
        ClockSetting {
            frozen: self.is_frozen(),
            ticks: self.inner.offset.load(Ordering::SeqCst),
        }
    }

    /// Puts back a setting taken with [`Clock::setting`] (frozen or running, instant or offset).
    pub fn apply_setting(&self, setting: ClockSetting) {
        self.inner.frozen.store(setting.frozen, Ordering::SeqCst);
        self.inner.offset.store(setting.ticks, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let c = Clock::frozen(NtTime::from_unix_seconds(1_700_000_000));
        assert_eq!(c.now().unix_seconds(), 1_700_000_000);
        c.advance_seconds(30 * 86_400);
        assert_eq!(c.now().unix_seconds(), 1_700_000_000 + 30 * 86_400);
    }

    #[test]
    fn settings_restore_the_instant_or_the_offset() {
        let frozen = Clock::frozen(NtTime::from_unix_seconds(1_700_000_000));
        let saved = frozen.setting();
        frozen.advance_seconds(3600);
        frozen.apply_setting(saved);
        assert_eq!(frozen.now().unix_seconds(), 1_700_000_000);
        assert!(Clock::from_setting(saved).is_frozen());

        let running = Clock::system();
        running.advance_seconds(-86_400);
        let saved = running.setting();
        running.advance_seconds(30 * 86_400);
        running.apply_setting(saved);
        let behind = Clock::system().now().unix_seconds() - running.now().unix_seconds();
        assert!((86_399..=86_401).contains(&behind), "{behind}");
        assert!(!Clock::from_setting(saved).is_frozen());
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = NtTime::parse_rfc3339("2022-02-17T14:03:12Z").unwrap();
        assert_eq!(t.0, 132895801920000000);
        assert_eq!(t.to_rfc3339(), "2022-02-17T14:03:12Z");
        assert_eq!(t.to_generalized_time(), "20220217140312.0Z");
    }
}
