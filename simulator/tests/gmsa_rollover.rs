//! The rollover policy of docs/notes/gmsa-gkdi.md §3 on concrete timelines.

use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::rollover::{managed_password_blob, IdUpdate, PreviousIdUpdate};
use adsim_simulator::gmsa::{
    evaluate, on_create, password_for, rollover_interval, GmsaError, ManagedPasswordBlob, PasswordRef,
    RolloverInput,
};
use adsim_simulator::kds::{
    interval_start, Effective, Gkid, KdsError, RootKey, SeedKeyCache, KEY_CYCLE, MAX_SKEW,
};
use adsim_simulator::security::Sid;
use uuid::Uuid;

const HOUR: u64 = 36_000_000_000;
const DAY: u64 = 24 * HOUR;

/// An interval start in early 2022, plus two hours: the gMSA's creation time.
fn t0() -> NtTime {
    NtTime(interval_start(NtTime(132895801920510000)).0 + 2 * HOUR)
}

fn old_key(n: u128) -> RootKey {
    let created = NtTime(t0().0 - 60 * DAY);
    RootKey::new_add_kds_root_key(
        Uuid::from_u128(n),
        [n as u8; 64],
        created,
        Effective::Immediately,
        "CN=DC1,OU=Domain Controllers,DC=example,DC=com",
    )
}

fn input(created: NtTime, cur: Option<PasswordRef>, prev: Option<PasswordRef>, now: NtTime) -> RolloverInput {
    RolloverInput {
        when_created: created,
        current_id: cur,
        previous_id: prev,
        interval_days: 30,
        now,
    }
}

fn start(p: PasswordRef) -> u64 {
    p.gkid.start_time().unwrap().0
}

#[test]
fn creation_picks_the_interval_of_now() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    assert_eq!(id.gkid, Gkid::from_time(t0()));
    assert_eq!(id.root_key_id, Uuid::from_u128(1));
}

#[test]
fn creation_without_a_ten_hour_old_key_fails() {
    let fresh = RootKey::new_add_kds_root_key(
        Uuid::from_u128(2),
        [2; 64],
        t0(),
        Effective::Immediately,
        "CN=DC1",
    );
    let err = on_create(NtTime(t0().0 + 10 * HOUR), std::slice::from_ref(&fresh)).unwrap_err();
    assert_eq!(err, GmsaError::Kds(KdsError::NoKey));
    assert!(on_create(NtTime(t0().0 + 10 * HOUR + MAX_SKEW), &[fresh]).is_ok());
}

#[test]
fn first_interval_serves_the_creation_password_without_previous() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let r = rollover_interval(30).unwrap();
    let exp = start(id) + r;
    let now = NtTime(t0().0 + HOUR);
    let d = evaluate(&input(t0(), Some(id), None, now), &keys).unwrap();
    assert_eq!(d.current, id);
    assert_eq!(d.previous, None);
    assert_eq!(d.update, None);
    assert!(!d.serving_future_key);
    assert_eq!(d.query_interval, exp - now.0);
    // The relation the real DSInternals blob shows: unchanged = query − 5 min.
    assert_eq!(d.query_interval - d.unchanged_interval, MAX_SKEW);
}

#[test]
fn the_last_five_minutes_serve_the_next_password() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let r = rollover_interval(30).unwrap();
    let exp = start(id) + r;

    let before = evaluate(&input(t0(), Some(id), None, NtTime(exp - MAX_SKEW - 1)), &keys).unwrap();
    assert!(!before.serving_future_key);
    assert_eq!(before.current, id);

    let inside = evaluate(&input(t0(), Some(id), None, NtTime(exp - MAX_SKEW)), &keys).unwrap();
    assert!(inside.serving_future_key);
    assert_eq!(inside.current.gkid, Gkid::from_time(NtTime(exp)));
    assert_eq!(
        inside.previous,
        Some(id),
        "the current password becomes the served previous one"
    );
    assert_eq!(inside.query_interval, MAX_SKEW);
    assert_eq!(inside.unchanged_interval, MAX_SKEW + r - MAX_SKEW);
    assert_eq!(inside.update, None, "nothing is persisted before expiry");
}

#[test]
fn expiry_rolls_over_and_the_old_id_becomes_previous() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let r = rollover_interval(30).unwrap();
    let exp = start(id) + r;

    // One hour after expiry the account is still younger than R (created 2 h into its interval).
    let now = NtTime(exp + HOUR);
    let d = evaluate(&input(t0(), Some(id), None, now), &keys).unwrap();
    let next = PasswordRef {
        gkid: Gkid::from_time(NtTime(exp)),
        root_key_id: id.root_key_id,
    };
    assert_eq!(d.current, next);
    assert_eq!(
        d.previous, None,
        "no previous password until the account is one interval old"
    );
    assert_eq!(
        d.update,
        Some(IdUpdate {
            current: next,
            previous: PreviousIdUpdate::CopyCurrent
        })
    );
    assert_eq!(d.query_interval, exp + r - now.0);

    // After applying the update and once the account is R old, the copied id is served.
    let later = NtTime(t0().0 + r);
    let d2 = evaluate(&input(t0(), Some(next), Some(id), later), &keys).unwrap();
    assert_eq!(d2.current, next);
    assert_eq!(d2.previous, Some(id));
    assert_eq!(d2.update, None);
}

#[test]
fn skipping_intervals_sets_previous_to_the_interval_before() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let r = rollover_interval(30).unwrap();
    let exp = start(id) + r;
    let now = NtTime(exp + 2 * r + r / 2);
    let d = evaluate(&input(t0(), Some(id), None, now), &keys).unwrap();
    let new_start = exp + 2 * r;
    assert_eq!(start(d.current), new_start);
    let prev = PasswordRef {
        gkid: Gkid::from_time(NtTime(new_start - r)),
        root_key_id: id.root_key_id,
    };
    assert_eq!(d.previous, Some(prev));
    assert_eq!(d.update.unwrap().previous, PreviousIdUpdate::Set(prev));
}

#[test]
fn exactly_at_expiry_the_next_password_starts() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let r = rollover_interval(30).unwrap();
    let exp = start(id) + r;
    let d = evaluate(&input(t0(), Some(id), None, NtTime(exp)), &keys).unwrap();
    assert_eq!(start(d.current), exp);
    assert_eq!(d.query_interval, r);
    // Samba's `calculate_new_key` only counts a key as "directly following" when exp < now, so
    // at exactly exp the old id is not copied (the account is younger than R: nothing is set).
    assert_eq!(d.update.unwrap().previous, PreviousIdUpdate::Keep);
    let d = evaluate(&input(t0(), Some(id), None, NtTime(exp + 1)), &keys).unwrap();
    assert_eq!(d.update.unwrap().previous, PreviousIdUpdate::CopyCurrent);
    // One tick before the next boundary the start stays in the past (Samba's assertion).
    // (It is then also inside the last 5 minutes, so the password after it is served.)
    let d = evaluate(&input(t0(), Some(id), None, NtTime(exp + r - 1)), &keys).unwrap();
    assert_eq!(start(d.update.unwrap().current), exp);
    assert!(d.serving_future_key);
    assert_eq!(start(d.current), exp + r);
}

#[test]
fn missing_previous_id_falls_back_to_the_interval_before() {
    let keys = [old_key(1)];
    let r = rollover_interval(30).unwrap();
    let created = NtTime(t0().0 - 3 * r);
    let cur = PasswordRef {
        gkid: Gkid::from_time(t0()),
        root_key_id: Uuid::from_u128(1),
    };
    let d = evaluate(&input(created, Some(cur), None, t0()), &keys).unwrap();
    let expected = PasswordRef {
        gkid: Gkid::from_time(NtTime(start(cur) - r)),
        root_key_id: Uuid::from_u128(1),
    };
    assert_eq!(d.previous, Some(expected));
}

#[test]
fn missing_id_derives_from_when_created() {
    let keys = [old_key(1)];
    let r = rollover_interval(30).unwrap();
    let d = evaluate(&input(t0(), None, None, NtTime(t0().0 + HOUR)), &keys).unwrap();
    assert_eq!(start(d.current), interval_start(t0()).0);
    let update = d.update.expect("an account without an id gets one");
    assert_eq!(update.previous, PreviousIdUpdate::Keep);
    assert_eq!(d.query_interval, interval_start(t0()).0 + r - t0().0 - HOUR);
}

#[test]
fn a_deleted_root_key_makes_the_account_unusable() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let err = evaluate(&input(t0(), Some(id), None, NtTime(t0().0 + HOUR)), &[old_key(2)]).unwrap_err();
    assert_eq!(err, GmsaError::Kds(KdsError::NoKey));
}

#[test]
fn bad_intervals_are_errors() {
    let keys = [old_key(1)];
    let mut i = input(t0(), None, None, t0());
    i.interval_days = 0;
    assert_eq!(evaluate(&i, &keys), Err(GmsaError::BadInterval(0)));
}

#[test]
fn one_day_interval_rolls_every_twenty_hours() {
    let keys = [old_key(1)];
    let id = on_create(t0(), &keys).unwrap();
    let mut i = input(t0(), Some(id), None, NtTime(start(id) + 20 * HOUR));
    i.interval_days = 1;
    let d = evaluate(&i, &keys).unwrap();
    assert_eq!(start(d.current), start(id) + 2 * KEY_CYCLE);
}

#[test]
fn blobs_carry_the_decided_passwords() {
    let keys = [old_key(1)];
    let sid: Sid = "S-1-5-21-1111111111-2222222222-3333333333-1105".parse().unwrap();
    let id = on_create(t0(), &keys).unwrap();
    let cache = SeedKeyCache::new();
    let r = rollover_interval(30).unwrap();

    let d = evaluate(&input(t0(), Some(id), None, NtTime(t0().0 + HOUR)), &keys).unwrap();
    let blob = managed_password_blob(&d, &keys, &sid, Some(&cache))
        .unwrap()
        .encode()
        .unwrap();
    assert_eq!(blob.len(), 290);
    let back = ManagedPasswordBlob::decode(&blob).unwrap();
    let expected = password_for(&keys[0], id.gkid, &sid, None).unwrap();
    assert_eq!(back.current, expected.as_utf16le());
    assert_eq!(back.current_nt_hash(), expected.nt_hash());

    let late = NtTime(start(id) + 3 * r + HOUR);
    let d = evaluate(&input(t0(), Some(id), None, late), &keys).unwrap();
    let blob = managed_password_blob(&d, &keys, &sid, Some(&cache))
        .unwrap()
        .encode()
        .unwrap();
    assert_eq!(blob.len(), 548);
    let back = ManagedPasswordBlob::decode(&blob).unwrap();
    let prev = password_for(&keys[0], d.previous.unwrap().gkid, &sid, None).unwrap();
    assert_eq!(back.previous.as_deref(), Some(&prev.as_utf16le()[..]));
}
