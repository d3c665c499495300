//! Properties of the KDS/gMSA engines (issue 3): GKID ↔ time, blob round trips, cache ≡ chain,
//! rollover timelines, and decoders that never panic.

use std::collections::HashMap;

use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::rollover::PreviousIdUpdate;
use adsim_simulator::gmsa::{
    evaluate, is_due, on_create, password_for, rollover_interval, ManagedPasswordBlob, ManagedPasswordId,
    PasswordRef, RolloverInput,
};
use adsim_simulator::kds::{
    l1_seed_key, l2_seed_key, Effective, Gkid, KdfHash, RootKey, SeedKeyCache, KEY_CYCLE, MAX_SKEW,
};
use adsim_simulator::security::Sid;
use proptest::prelude::*;
use uuid::Uuid;

const DAY: u64 = 864_000_000_000;

fn any_l2_gkid() -> impl Strategy<Value = Gkid> {
    (0..60_000i32, 0..32i32, 0..32i32).prop_map(|(l0, l1, l2)| Gkid { l0, l1, l2 })
}

fn any_sid() -> impl Strategy<Value = Sid> {
    (0u64..(1 << 48), prop::collection::vec(any::<u32>(), 0..=15)).prop_map(|(a, subs)| Sid::new(a, &subs))
}

fn dns_name() -> impl Strategy<Value = String> {
    // Names as written, including non-ASCII text; never a NUL.
    "[a-zA-Z0-9.\\-\u{e9}\u{4e2d}\u{1F600}]{0,40}"
}

/// A UTF-16LE password of `units` code units, none of them 0x0000.
fn password_bytes(max_units: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u16..=u16::MAX, 0..=max_units)
        .prop_map(|u| u.iter().flat_map(|x| x.to_le_bytes()).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gkid_time_round_trip_and_order(t1 in any::<u64>(), t2 in any::<u64>()) {
        let g = Gkid::from_time(NtTime(t1));
        prop_assert!(g.require_l2().is_ok());
        let start = g.start_time().unwrap();
        prop_assert!(start.0 <= t1 && t1 - start.0 < KEY_CYCLE);
        prop_assert_eq!(Gkid::from_time(start), g);
        prop_assert_eq!(g.interval_index().unwrap(), t1 / KEY_CYCLE);
        let h = Gkid::from_time(NtTime(t2));
        prop_assert_eq!(t1 / KEY_CYCLE <= t2 / KEY_CYCLE, g <= h);
        if let Ok(n) = g.next() {
            prop_assert_eq!(n.start_time().unwrap().0, start.0 + KEY_CYCLE);
            prop_assert_eq!(n.prev().unwrap(), g);
        }
    }

    #[test]
    fn gkid_from_indices_round_trip(g in any_l2_gkid()) {
        let iv = g.interval_index().unwrap();
        match g.start_time() {
            Ok(start) => {
                prop_assert_eq!(Gkid::from_time(start), g);
                prop_assert_eq!(Gkid::from_time(NtTime(start.0.saturating_add(KEY_CYCLE - 1))), g);
            }
            // Only GKIDs whose start lies beyond the end of NTTIME have no start.
            Err(_) => prop_assert!(iv > u64::MAX / KEY_CYCLE),
        }
    }

    #[test]
    fn password_id_round_trip(
        g in any_l2_gkid(), id in any::<u128>(), version in any::<u32>(), flags in any::<u32>(),
        domain in dns_name(), forest in dns_name(), key_info in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let pid = ManagedPasswordId { version, flags, gkid: g, root_key_id: Uuid::from_u128(id), key_info, domain, forest };
        let blob = pid.encode().unwrap();
        prop_assert_eq!(blob.len(), 52 + pid.key_info.len() + 2 * (pid.domain.encode_utf16().count() + pid.forest.encode_utf16().count() + 2));
        prop_assert_eq!(ManagedPasswordId::decode(&blob).unwrap(), pid);
    }

    #[test]
    fn password_blob_round_trip(
        current in password_bytes(300), previous in prop::option::of(password_bytes(300)),
        query in any::<u64>(), unchanged in any::<u64>(),
    ) {
        let blob = ManagedPasswordBlob { current, previous, query_interval: query, unchanged_interval: unchanged };
        let bytes = blob.encode().unwrap();
        let back = ManagedPasswordBlob::decode(&bytes).unwrap();
        prop_assert_eq!(back.encode().unwrap(), bytes);
        prop_assert_eq!(back, blob);
    }

    #[test]
    fn decoders_never_panic_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        let _ = ManagedPasswordId::decode(&bytes);
        let _ = ManagedPasswordBlob::decode(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_damaged_valid_blobs(
        g in any_l2_gkid(), domain in dns_name(), cur in password_bytes(130), prev in prop::option::of(password_bytes(130)),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>(),
    ) {
        let id = ManagedPasswordId { version: 1, flags: 2, gkid: g, root_key_id: Uuid::nil(), key_info: vec![], domain: domain.clone(), forest: domain };
        let blob = ManagedPasswordBlob { current: cur, previous: prev, query_interval: 1, unchanged_interval: 2 };
        for mut bytes in [id.encode().unwrap(), blob.encode().unwrap()] {
            for (at, value) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
            let keep = cut.index(bytes.len() + 1);
            let _ = ManagedPasswordId::decode(&bytes[..keep]);
            let _ = ManagedPasswordBlob::decode(&bytes[..keep]);
            let _ = ManagedPasswordId::decode(&bytes);
            let _ = ManagedPasswordBlob::decode(&bytes);
        }
    }
}

fn test_root(n: u8, hash: KdfHash) -> RootKey {
    RootKey::new_sp800_108(
        Uuid::from_u128(n as u128 * 0x0101),
        hash,
        vec![n; 64],
        NtTime(0),
        NtTime(1),
        "CN=DC1",
    )
}

proptest! {
    // Every case derives whole chains in a debug build: keep the count modest.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn cached_derivation_equals_the_chain(
        steps in prop::collection::vec((0u8..3, 0..3i32, 0..32i32, -1..32i32), 1..8),
    ) {
        let roots = [test_root(1, KdfHash::Sha512), test_root(2, KdfHash::Sha256), test_root(3, KdfHash::Sha1)];
        let cache = SeedKeyCache::with_capacity(2);
        for (r, l0, l1, l2) in steps {
            let root = &roots[r as usize];
            if l2 == -1 {
                prop_assert_eq!(cache.l1_seed_key(root, l0, l1).unwrap(), l1_seed_key(root, l0, l1).unwrap());
            } else {
                let g = Gkid { l0, l1, l2 };
                prop_assert_eq!(cache.l2_seed_key(root, g).unwrap(), l2_seed_key(root, g).unwrap());
            }
        }
        prop_assert!(cache.len() <= 2);
    }

    #[test]
    fn a_replaced_root_key_under_the_same_id_is_not_served_from_cache(g in any_l2_gkid()) {
        let cache = SeedKeyCache::new();
        let a = test_root(4, KdfHash::Sha512);
        let mut b = a.clone();
        b.root_key_data = vec![5; 64];
        prop_assert_eq!(cache.l2_seed_key(&a, g).unwrap(), l2_seed_key(&a, g).unwrap());
        prop_assert_eq!(cache.l2_seed_key(&b, g).unwrap(), l2_seed_key(&b, g).unwrap());
    }

    #[test]
    fn derived_passwords_round_trip_through_the_blob(sid in any_sid(), prev_sid in prop::option::of(any_sid()), g in any_l2_gkid()) {
        let root = test_root(6, KdfHash::Sha512);
        let cur = password_for(&root, g, &sid, None).unwrap();
        let prev = prev_sid.map(|s| password_for(&root, g, &s, None).unwrap());
        let blob = ManagedPasswordBlob::new(&cur, prev.as_ref(), 10, 7);
        let bytes = blob.encode().unwrap();
        prop_assert_eq!(bytes.len(), if prev.is_some() { 548 } else { 290 });
        let back = ManagedPasswordBlob::decode(&bytes).unwrap();
        prop_assert_eq!(back.current_nt_hash(), cur.nt_hash());
        prop_assert_eq!(back.previous_nt_hash(), prev.as_ref().map(|p| p.nt_hash()));
        prop_assert_eq!(back, blob);
    }
}

/// Replays reads of one gMSA at increasing times, applying every update as a DC would, and
/// checks the served passwords against each other.
fn replay_timeline(interval_days: i64, created_offset: u64, gaps: &[u64]) -> Result<(), TestCaseError> {
    let t0 = NtTime(132_895_801_920_510_000 + created_offset);
    let keys = [
        RootKey::new_add_kds_root_key(
            Uuid::from_u128(1),
            [1; 64],
            NtTime(t0.0 - 90 * DAY),
            Effective::Immediately,
            "CN=DC1",
        ),
        RootKey::new_add_kds_root_key(
            Uuid::from_u128(2),
            [2; 64],
            NtTime(t0.0 - 40 * DAY),
            Effective::Default,
            "CN=DC1",
        ),
    ];
    let r = rollover_interval(interval_days).unwrap();
    let mut stored = Some(on_create(t0, &keys).unwrap());
    let mut stored_prev: Option<PasswordRef> = None;
    // The password served as current for each interval start, when not served early.
    let mut served_at_start: HashMap<u64, PasswordRef> = HashMap::new();
    let mut now = t0;
    for gap in gaps {
        now = NtTime(now.0 + gap);
        let input = RolloverInput {
            when_created: t0,
            current_id: stored,
            previous_id: stored_prev,
            interval_days,
            now,
        };
        let d = evaluate(&input, &keys).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        // The cheap check a search makes of every gMSA agrees with the full decision.
        prop_assert_eq!(is_due(&input).unwrap(), d.update.is_some());
        let cur_start = d.current.gkid.start_time().unwrap().0;

        // Never a password from the future, except the next one inside the last 5 minutes.
        if d.serving_future_key {
            prop_assert!(d.query_interval <= MAX_SKEW);
            prop_assert!(cur_start <= now.0 + MAX_SKEW && cur_start > now.0);
            prop_assert_eq!(d.unchanged_interval, d.query_interval + r - MAX_SKEW);
        } else {
            prop_assert!(cur_start <= now.0);
            prop_assert!(d.query_interval > MAX_SKEW && d.query_interval <= r);
            prop_assert_eq!(d.unchanged_interval, d.query_interval - MAX_SKEW);
            // No previous password until the account is one interval old.
            prop_assert_eq!(d.previous.is_some(), now.0 - t0.0 >= r);
            served_at_start.insert(cur_start, d.current);
        }
        // The previous password of one interval is the current password of the one before.
        if let Some(p) = d.previous {
            prop_assert_eq!(p.gkid.start_time().unwrap().0 + r, cur_start);
            if let Some(seen) = served_at_start.get(&(cur_start - r)) {
                prop_assert_eq!(p, *seen);
            }
        }
        if let Some(u) = d.update {
            prop_assert!(u.current.gkid.start_time().unwrap().0 <= now.0);
            stored_prev = match u.previous {
                PreviousIdUpdate::Keep => stored_prev,
                PreviousIdUpdate::CopyCurrent => stored,
                PreviousIdUpdate::Set(p) => Some(p),
            };
            stored = Some(u.current);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rollover_timelines(
        interval_days in prop_oneof![Just(30i64), Just(1i64), Just(14i64), 1i64..90],
        created_offset in 0..KEY_CYCLE,
        gaps in prop::collection::vec(prop_oneof![
            0..MAX_SKEW * 2,
            0..KEY_CYCLE,
            0..30 * DAY,
            0..200 * DAY,
        ], 1..40),
    ) {
        replay_timeline(interval_days, created_offset, &gaps)?;
    }
}
