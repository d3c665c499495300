//! Which root key serves which purpose (docs/notes/gmsa-gkdi.md §1, "Root key selection").

use uuid::Uuid;

use crate::clock::NtTime;

use super::error::KdsError;
use super::gkid::{Gkid, GkidLevel, KEY_CYCLE, MAX_SKEW};
use super::root_key::RootKey;

/// The key with the greatest CreateTime among those whose UseStartTime ≤ `not_after`
/// (Samba `gkdi_most_recently_created_root_key`). Equal CreateTimes: the later one in `keys`
/// wins, as in Samba's scan over the directory's result order.
pub fn most_recently_created(keys: &[RootKey], not_after: NtTime) -> Option<&RootKey> {
    let mut best: Option<&RootKey> = None;
    for k in keys.iter().filter(|k| k.use_start_time <= not_after) {
        if best.is_none_or(|b| k.create_time >= b.create_time) {
            best = Some(k);
        }
    }
    best
}

/// Rule 1: the key a gMSA created at `now` gets — UseStartTime at least KEY_CYCLE + MAX_SKEW
/// (10 h 05 m) in the past [C2]. `None` means the add fails (NTE_NO_KEY; Windows answers the
/// LDAP add with unwillingToPerform [C1]).
pub fn select_for_new_gmsa(keys: &[RootKey], now: NtTime) -> Option<&RootKey> {
    most_recently_created(keys, NtTime(now.0.saturating_sub(KEY_CYCLE + MAX_SKEW)))
}

/// Rule 2: the key for a password whose interval starts at `start` [C1 Samba].
pub fn select_for_interval(keys: &[RootKey], start: NtTime) -> Option<&RootKey> {
    most_recently_created(keys, start)
}

/// Rule 3: the key named by a password id; missing gives NTE_NO_KEY.
pub fn find_by_id(keys: &[RootKey], id: Uuid) -> Result<&RootKey, KdsError> {
    keys.iter().find(|k| k.id == id).ok_or(KdsError::NoKey)
}

/// Rule 4, GKDI GetKey validity as observed on Windows by Samba's tests [C1]: UseStartTime 0 is
/// NTE_BAD_KEY; a key is valid for a GKID when UseStartTime − (KEY_CYCLE + MAX_SKEW) ≤ its start
/// (E_INVALIDARG otherwise). For an L1 GKID the start of its first interval is used.
pub fn check_key_serves_gkid(root: &RootKey, gkid: Gkid) -> Result<(), KdsError> {
    if root.use_start_time.0 == 0 {
        return Err(KdsError::BadKey);
    }
    gkid.validate()?;
    let first_interval = match gkid.level() {
        GkidLevel::L2 => gkid,
        GkidLevel::L1 => Gkid { l2: 0, ..gkid },
        _ => return Err(KdsError::WrongGkidLevel(gkid.triple(), "L1 or L2")),
    };
    let start = first_interval.start_time()?;
    if root.use_start_time.0.saturating_sub(KEY_CYCLE + MAX_SKEW) > start.0 {
        return Err(KdsError::KeyTooNewForGkid(gkid.triple()));
    }
    Ok(())
}

/// The time checks of a password derivation at `now` (Samba `gmsa_password_based_on_key_id`)
/// [C1]: the root key must be in use (now ≥ UseStartTime), and the GKID no later than the
/// interval of now + MAX_SKEW (so the next password may be computed 5 min early, not sooner).
pub fn check_derivation_time(root: &RootKey, gkid: Gkid, now: NtTime) -> Result<(), KdsError> {
    gkid.require_l2()?;
    if now < root.use_start_time {
        return Err(KdsError::KeyNotYetUsable);
    }
    if gkid > Gkid::from_time(NtTime(now.0.saturating_add(MAX_SKEW))) {
        return Err(KdsError::FutureGkid(gkid.triple()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kds::kdf::KdfHash;

    const HOUR: u64 = 36_000_000_000;

    fn key(n: u128, create: u64, use_start: u64) -> RootKey {
        RootKey::new_sp800_108(
            Uuid::from_u128(n),
            KdfHash::Sha512,
            vec![n as u8; 64],
            NtTime(create),
            NtTime(use_start),
            "CN=DC1",
        )
    }

    #[test]
    fn new_gmsa_needs_ten_hours_five_minutes() {
        let t0 = 1000 * HOUR;
        let keys = [key(1, t0, t0)];
        let five_min = MAX_SKEW;
        assert!(select_for_new_gmsa(&keys, NtTime(t0 + 10 * HOUR + five_min - 1)).is_none());
        assert_eq!(
            select_for_new_gmsa(&keys, NtTime(t0 + 10 * HOUR + five_min))
                .unwrap()
                .id,
            Uuid::from_u128(1)
        );
        assert_eq!(
            keys[0].usable_for_new_gmsa_from(),
            NtTime(t0 + 10 * HOUR + five_min)
        );
        assert!(select_for_new_gmsa(&keys, NtTime(5)).is_none());
    }

    #[test]
    fn greatest_create_time_wins_among_qualifying_keys() {
        let t0 = 1000 * HOUR;
        let keys = [
            key(1, t0, t0 - 20 * HOUR),
            key(2, t0 + HOUR, t0 - 20 * HOUR),
            key(3, t0 + 2 * HOUR, t0 + 100 * HOUR), // newest but not yet effective
        ];
        assert_eq!(
            select_for_new_gmsa(&keys, NtTime(t0 + 2 * HOUR)).unwrap().id,
            Uuid::from_u128(2)
        );
        assert_eq!(
            select_for_interval(&keys, NtTime(t0 + 100 * HOUR)).unwrap().id,
            Uuid::from_u128(3)
        );
        assert!(select_for_interval(&keys, NtTime(t0 - 21 * HOUR)).is_none());
        let tie = [key(4, t0, 0), key(5, t0, 0)];
        assert_eq!(
            most_recently_created(&tie, NtTime(t0)).unwrap().id,
            Uuid::from_u128(5)
        );
    }

    #[test]
    fn lookup_by_id() {
        let keys = [key(1, 0, 0), key(2, 0, 0)];
        assert_eq!(
            find_by_id(&keys, Uuid::from_u128(2)).unwrap().id,
            Uuid::from_u128(2)
        );
        assert_eq!(find_by_id(&keys, Uuid::from_u128(3)), Err(KdsError::NoKey));
        assert_eq!(KdsError::NoKey.hresult(), Some(0x8009000D));
    }

    #[test]
    fn getkey_validity_rule() {
        let use_start = 2000 * HOUR;
        let k = key(1, use_start, use_start);
        let ok = Gkid::from_time(NtTime(use_start - 10 * HOUR - MAX_SKEW + KEY_CYCLE));
        check_key_serves_gkid(&k, ok).unwrap();
        let too_early = Gkid::from_time(NtTime(use_start - 11 * HOUR - MAX_SKEW));
        assert!(matches!(
            check_key_serves_gkid(&k, too_early),
            Err(KdsError::KeyTooNewForGkid(_))
        ));
        let zero = key(2, 0, 0);
        assert_eq!(check_key_serves_gkid(&zero, ok), Err(KdsError::BadKey));
        let l0 = Gkid {
            l0: 5,
            l1: -1,
            l2: -1,
        };
        assert_eq!(
            check_key_serves_gkid(&k, l0).unwrap_err().hresult(),
            Some(0x80070057)
        );
    }

    #[test]
    fn derivation_time_checks() {
        let now = 3000 * HOUR;
        let k = key(1, now - 20 * HOUR, now - 20 * HOUR);
        let cur = Gkid::from_time(NtTime(now));
        check_derivation_time(&k, cur, NtTime(now)).unwrap();
        let next = cur.next().unwrap();
        let boundary = next.start_time().unwrap().0;
        assert!(check_derivation_time(&k, next, NtTime(boundary - MAX_SKEW - 1)).is_err());
        check_derivation_time(&k, next, NtTime(boundary - MAX_SKEW)).unwrap();
        let late = key(2, now, now + 1);
        assert_eq!(
            check_derivation_time(&late, cur, NtTime(now)),
            Err(KdsError::KeyNotYetUsable)
        );
    }
}
