//! KDS/gMSA speed: the HMAC floor, cold and warm password derivations, and the blob encoder.
//! Run: cargo bench -p adsim-simulator --bench kds -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;

use adsim_simulator::clock::NtTime;
use adsim_simulator::gmsa::{password_for, ManagedPasswordBlob};
use adsim_simulator::kds::{Gkid, KdfHash, RootKey, SeedKeyCache, KDS_SERVICE_LABEL};
use adsim_simulator::security::Sid;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hmac::{Hmac, Mac};
use sha2::Sha512;
use uuid::Uuid;

fn root() -> RootKey {
    RootKey::new_sp800_108(
        Uuid::from_u128(0x46e5b8b9),
        KdfHash::Sha512,
        vec![0xC9; 64],
        NtTime(0),
        NtTime(1),
        "CN=DC1",
    )
}

fn sid() -> Sid {
    "S-1-5-21-1437000690-1664695696-1586295871-1112".parse().unwrap()
}

/// The GoldenGMSA interval: L0 step, L1 31 → 16, L2 31 → 3, then the password (50 HMAC calls).
const GKID: Gkid = Gkid {
    l0: 360,
    l1: 16,
    l2: 3,
};

fn benches(c: &mut Criterion) {
    let root = root();
    let sid = sid();

    // One KDF step: HMAC-SHA512 keyed with 64 bytes over a 61-byte GKDI message.
    let message = [
        [0u8; 4].as_slice(),
        &KDS_SERVICE_LABEL,
        &[0],
        &[0x11; 28],
        &[0, 0, 2, 0],
    ]
    .concat();
    c.bench_function("hmac_sha512_one_block", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(black_box(&[7u8; 64])).unwrap();
            mac.update(black_box(&message));
            black_box(mac.finalize().into_bytes())
        })
    });

    c.bench_function("password_cold_full_chain", |b| {
        b.iter(|| black_box(password_for(&root, black_box(GKID), &sid, None).unwrap()))
    });

    // Worst case: L1 = 0 and L2 = 0 walk all 31 + 32 steps (68 HMAC calls).
    c.bench_function("password_cold_worst_case", |b| {
        let g = Gkid {
            l0: 360,
            l1: 0,
            l2: 0,
        };
        b.iter(|| black_box(password_for(&root, black_box(g), &sid, None).unwrap()))
    });

    // Cached L1 key, L2 walk 31 → 3 still to do (33 HMAC calls).
    c.bench_function("password_warm_cached_l1", |b| {
        b.iter_batched(
            || {
                let cache = SeedKeyCache::new();
                cache.l1_seed_key(&root, GKID.l0, GKID.l1).unwrap();
                cache
            },
            |cache| black_box(password_for(&root, GKID, &sid, Some(&cache)).unwrap()),
            BatchSize::SmallInput,
        )
    });

    // Rollover to the next interval: its L2 key is an ancestor already cached, so only the
    // 256-byte password KDF remains (4 HMAC blocks).
    c.bench_function("password_warm_next_interval", |b| {
        let next = GKID.next().unwrap();
        b.iter_batched(
            || {
                let cache = SeedKeyCache::new();
                password_for(&root, GKID, &sid, Some(&cache)).unwrap();
                cache
            },
            |cache| black_box(password_for(&root, next, &sid, Some(&cache)).unwrap()),
            BatchSize::SmallInput,
        )
    });

    // Same interval again (the common read): also the password KDF only.
    let cache = SeedKeyCache::new();
    password_for(&root, GKID, &sid, Some(&cache)).unwrap();
    c.bench_function("password_warm_same_interval", |b| {
        b.iter(|| black_box(password_for(&root, black_box(GKID), &sid, Some(&cache)).unwrap()))
    });

    let cur = password_for(&root, GKID, &sid, None).unwrap();
    let prev = password_for(&root, GKID.prev().unwrap(), &sid, None).unwrap();
    c.bench_function("blob_encode_with_previous", |b| {
        b.iter(|| {
            black_box(
                ManagedPasswordBlob::new(&cur, Some(&prev), 25_705_269_381_510, 25_702_269_381_510)
                    .encode()
                    .unwrap(),
            )
        })
    });
}

criterion_group!(kds, benches);
criterion_main!(kds);
