//! KDC throughput: pre-authenticated AS exchanges (AES256) and TGS exchanges per second, from
//! one and from four concurrent callers, in process (`Kdc::handle`, no sockets).
//! Run: `cargo bench -p adsim-simulator --bench kdc`. The same exchanges over sockets next to
//! MIT's krb5kdc in the same run: `cargo bench --bench kerberos` (benches/kerberos/).

#[path = "../tests/kdc/common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use adsim_simulator::kdc::crypto::Etype;
use adsim_simulator::kdc::{Kdc, Transport};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn requests(kdc: &Kdc) -> (Vec<u8>, Vec<u8>) {
    let as_req = AsRequest::new(REALM, "alice")
        .with_password(Etype::Aes256, ALICE_PASSWORD, "CORP.EXAMPLE.TESTalice", T0)
        .encode();
    let tgt = get_tgt(
        kdc,
        "alice",
        ALICE_PASSWORD,
        "CORP.EXAMPLE.TESTalice",
        Etype::Aes256,
    )
    .unwrap();
    let tgs_req = TgsRequest::new(&["ldap", "dc1.corp.example.test"], T0).encode(&tgt);
    (as_req, tgs_req)
}

/// Runs `iters` requests split over `callers` threads and returns the wall time.
fn concurrent(kdc: &Arc<Kdc>, request: &Arc<Vec<u8>>, callers: u64, iters: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|i| {
            let kdc = kdc.clone();
            let request = request.clone();
            let share = iters / callers + u64::from(i < iters % callers);
            std::thread::spawn(move || {
                for _ in 0..share {
                    assert!(kdc.handle(&request, Transport::Tcp).is_some());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let (kdc, _clock) = frozen_kdc(standard_db());
    let kdc = Arc::new(kdc);
    let (as_req, tgs_req) = requests(&kdc);
    let (as_req, tgs_req) = (Arc::new(as_req), Arc::new(tgs_req));
    let mut group = c.benchmark_group("kdc");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    for callers in [1u64, 4] {
        group.bench_function(format!("as_aes256_preauth/{callers}_callers"), |b| {
            b.iter_custom(|iters| concurrent(&kdc, &as_req, callers, iters))
        });
        group.bench_function(format!("tgs/{callers}_callers"), |b| {
            b.iter_custom(|iters| concurrent(&kdc, &tgs_req, callers, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
