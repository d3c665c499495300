//! Rollover policy: which passwords an account serves at a given time, the blob intervals, and
//! what the DC must persist (docs/notes/gmsa-gkdi.md §3, after Samba `gmsa_recalculate_managed_pwd`, which
//! Samba's tests check against Windows to within 30 s [C1, partly C2]). Pure: no clock reads.

use crate::clock::NtTime;
use crate::kds::{
    check_derivation_time, find_by_id, interval_start, select_for_interval, select_for_new_gmsa, Gkid,
    RootKey, SeedKeyCache, KEY_CYCLE, MAX_SKEW,
};
use crate::security::Sid;

use super::blob::ManagedPasswordBlob;
use super::error::GmsaError;
use super::password::password_for;
use super::password_id::PasswordRef;

/// `msDS-ManagedPasswordInterval` when absent (Samba default).
pub const DEFAULT_INTERVAL_DAYS: i64 = 30;

/// R = floor(days · 24 / 10) · KEY_CYCLE: whole 10-hour intervals (30 d → 72 intervals;
/// 14 d → 33 = 13.75 d; 1 d → 2 = 20 h). Below one interval, negative, or beyond Samba's cap
/// (u64::MAX / KEY_CYCLE · 10 / 24 days) is an error (Samba `gkdi_rollover_interval`).
pub fn rollover_interval(interval_days: i64) -> Result<u64, GmsaError> {
    let max_days = (u64::MAX / KEY_CYCLE * 10 / 24) as i64;
    if !(0..=max_days).contains(&interval_days) {
        return Err(GmsaError::BadInterval(interval_days));
    }
    let r = interval_days as u64 * 24 / 10 * KEY_CYCLE;
    if r == 0 {
        return Err(GmsaError::BadInterval(interval_days));
    }
    Ok(r)
}

/// The first password of a gMSA added at `now`: the interval containing `now`, under the root key
/// of §1 rule 1. No qualifying key gives `NoKey` (the add fails).
pub fn on_create(now: NtTime, keys: &[RootKey]) -> Result<PasswordRef, GmsaError> {
    let root = select_for_new_gmsa(keys, now).ok_or(crate::kds::KdsError::NoKey)?;
    let r = PasswordRef {
        gkid: Gkid::from_time(now),
        root_key_id: root.id,
    };
    check_usable(keys, r, now)?;
    Ok(r)
}

/// What is known about the account when its password is read or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloverInput {
    /// `whenCreated`.
    pub when_created: NtTime,
    /// From `msDS-ManagedPasswordId`; an id whose GKID is not a valid L2 one counts as absent.
    pub current_id: Option<PasswordRef>,
    /// From `msDS-ManagedPasswordPreviousId`.
    pub previous_id: Option<PasswordRef>,
    /// `msDS-ManagedPasswordInterval` (days).
    pub interval_days: i64,
    pub now: NtTime,
}

/// What to write to `msDS-ManagedPasswordPreviousId` on an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousIdUpdate {
    /// Leave the attribute as it is.
    Keep,
    /// Copy the stored `msDS-ManagedPasswordId` value (before the update) into it: the new
    /// password directly follows the old one, so the old one becomes the previous one.
    CopyCurrent,
    /// Set it to this password; the DC sets that password first, then the new current one, so
    /// the account's password history matches.
    Set(PasswordRef),
}

/// The lazy rollover a writable DC performs on the first read or KDC use after expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdUpdate {
    /// New `msDS-ManagedPasswordId` (and the password to set on the account).
    pub current: PasswordRef,
    pub previous: PreviousIdUpdate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloverDecision {
    /// The password served as current (the next one inside the last 5 minutes).
    pub current: PasswordRef,
    /// The password served as previous; none while the account is younger than one interval.
    pub previous: Option<PasswordRef>,
    /// Ticks until the current password expires.
    pub query_interval: u64,
    /// Ticks during which the served password will not change.
    pub unchanged_interval: u64,
    /// True inside the last MAX_SKEW of an interval, when the next password is served early.
    pub serving_future_key: bool,
    /// Set when the stored ids are stale and must be rewritten.
    pub update: Option<IdUpdate>,
}

/// Start of the password that follows one expiring at `exp`: the latest `exp + k·R ≤ now`
/// (Samba `calculate_new_key`), and whether it directly follows the expired one (k = 0).
fn next_key_start(now: NtTime, exp: NtTime, r: u64) -> (NtTime, bool) {
    if exp < now {
        // Samba writes (now + 1 − exp) / R, which at now ≡ exp − 1 (mod R) yields a start one
        // tick after now and trips its own assertion `start ≤ now`; the assertion's rule is kept.
        let stale = (now.0 - exp.0) / r;
        (NtTime(exp.0 + stale * r), stale == 0)
    } else {
        // Only when the id is missing and whenCreated lies in the future.
        (exp, false)
    }
}

/// The stored current id when well formed, its start, and when it expires (the start of the
/// creation interval when there is no usable id).
struct Stored {
    id: Option<PasswordRef>,
    key_start: Option<NtTime>,
    exp: NtTime,
}

fn stored(input: &RolloverInput, r: u64) -> Result<Stored, GmsaError> {
    let id = input.current_id.filter(|p| p.gkid.require_l2().is_ok());
    let key_start = id.and_then(|p| p.gkid.start_time().ok());
    let exp = match key_start {
        Some(s) => NtTime(s.0.checked_add(r).ok_or(GmsaError::TimeOverflow)?),
        None => interval_start(input.when_created),
    };
    Ok(Stored { id, key_start, exp })
}

/// Whether the stored ids are stale at `input.now`, so that [`evaluate`] (given usable root
/// keys) returns an update. Needs no root key: a read that touches many gMSAs asks this of each
/// and rolls over only those that are due.
pub fn is_due(input: &RolloverInput) -> Result<bool, GmsaError> {
    let r = rollover_interval(input.interval_days)?;
    let s = stored(input, r)?;
    Ok(!(s.id.is_some() && input.now < s.exp))
}

/// The decision at `input.now` (docs/notes/gmsa-gkdi.md §3, "On read or use at time T").
pub fn evaluate(input: &RolloverInput, keys: &[RootKey]) -> Result<RolloverDecision, GmsaError> {
    let r = rollover_interval(input.interval_days)?;
    let now = input.now;
    let age = now.0 - input.when_created.0.min(now.0);
    let prev_id = input.previous_id.filter(|p| p.gkid.require_l2().is_ok());
    let Stored { id, key_start, exp } = stored(input, r)?;

    let (current, previous, key_exp, update) = match id {
        Some(cur) if now < exp => {
            find_by_id(keys, cur.root_key_id)?;
            let previous = if age < r {
                None
            } else if let Some(p) = prev_id {
                find_by_id(keys, p.root_key_id)?;
                Some(p)
            } else {
                match key_start {
                    Some(s) if s.0 >= r => for_interval(keys, NtTime(s.0 - r)),
                    _ => None,
                }
            };
            (cur, previous, exp, None)
        }
        _ => {
            let (new_start, follows) = next_key_start(now, exp, r);
            let key_exp = NtTime(new_start.0.checked_add(r).ok_or(GmsaError::TimeOverflow)?);
            let current = for_interval(keys, new_start).ok_or(crate::kds::KdsError::NoKey)?;
            let previous = if age >= r {
                let start = new_start.0.checked_sub(r).ok_or(GmsaError::TimeOverflow)?;
                for_interval(keys, NtTime(start))
            } else {
                None
            };
            let previous_update = match previous {
                _ if id.is_some() && follows => PreviousIdUpdate::CopyCurrent,
                Some(p) => PreviousIdUpdate::Set(p),
                None => PreviousIdUpdate::Keep,
            };
            if let PreviousIdUpdate::Set(p) = previous_update {
                check_usable(keys, p, now)?;
            }
            (
                current,
                previous,
                key_exp,
                Some(IdUpdate {
                    current,
                    previous: previous_update,
                }),
            )
        }
    };

    let query = key_exp.0 - now.0.min(key_exp.0);
    let mut unchanged = query;
    let serving_future_key = query <= MAX_SKEW;
    let (served_current, served_previous) = if serving_future_key {
        // Inside the last 5 minutes: serve the next password, with the current one as previous.
        let future = for_interval(keys, key_exp).ok_or(crate::kds::KdsError::NoKey)?;
        unchanged = unchanged.checked_add(r).ok_or(GmsaError::TimeOverflow)?;
        (future, Some(current))
    } else {
        (current, previous)
    };
    unchanged -= MAX_SKEW.min(unchanged);

    check_usable(keys, served_current, now)?;
    if let Some(p) = served_previous {
        check_usable(keys, p, now)?;
    }
    Ok(RolloverDecision {
        current: served_current,
        previous: served_previous,
        query_interval: query,
        unchanged_interval: unchanged,
        serving_future_key,
        update,
    })
}

/// The password starting at `start` under §1 rule 2.
fn for_interval(keys: &[RootKey], start: NtTime) -> Option<PasswordRef> {
    select_for_interval(keys, start).map(|k| PasswordRef {
        gkid: Gkid::from_time(start),
        root_key_id: k.id,
    })
}

/// Derivable now: the root key exists and is well formed, and the time checks pass.
fn check_usable(keys: &[RootKey], p: PasswordRef, now: NtTime) -> Result<(), GmsaError> {
    let root = find_by_id(keys, p.root_key_id)?;
    root.check_derivable()?;
    check_derivation_time(root, p.gkid, now)?;
    Ok(())
}

/// The `msDS-ManagedPassword` value for a decision: derives the served passwords of `sid`.
pub fn managed_password_blob(
    decision: &RolloverDecision,
    keys: &[RootKey],
    sid: &Sid,
    cache: Option<&SeedKeyCache>,
) -> Result<ManagedPasswordBlob, GmsaError> {
    let derive = |p: PasswordRef| password_for(find_by_id(keys, p.root_key_id)?, p.gkid, sid, cache);
    let current = derive(decision.current)?;
    let previous = decision.previous.map(derive).transpose()?;
    Ok(ManagedPasswordBlob::new(
        &current,
        previous.as_ref(),
        decision.query_interval,
        decision.unchanged_interval,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_rounding() {
        assert_eq!(rollover_interval(30).unwrap(), 72 * KEY_CYCLE);
        assert_eq!(rollover_interval(14).unwrap(), 33 * KEY_CYCLE);
        assert_eq!(rollover_interval(1).unwrap(), 2 * KEY_CYCLE);
        assert!(rollover_interval(0).is_err());
        assert!(rollover_interval(-1).is_err());
        assert!(rollover_interval(i64::MAX).is_err());
        let max = (u64::MAX / KEY_CYCLE * 10 / 24) as i64;
        assert!(rollover_interval(max).is_ok());
        assert!(rollover_interval(max + 1).is_err());
    }
}
