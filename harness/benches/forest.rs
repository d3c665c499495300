//! Forest start to ready in process, and snapshot/restore of a forest of 10 000 users.
//! Run: `cargo bench -p adsim-harness --bench forest`. Goals (issue 6): start ≤ 10 ms,
//! restore ≤ 20 ms at 10 000 users. Figures: docs/benchmarks.md.

use std::time::Duration;

use adsim_harness::forest::Forest;
use adsim_simulator::dsa::fixtures;
use adsim_simulator::ldif::generate_user_records;
use adsim_simulator::snapshot::file;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const USERS: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn start(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("forest");
    g.measurement_time(Duration::from_secs(10));
    // Provisioning, TLS material, every listener bound and serving: what `start().await` waits for.
    g.bench_function("start_to_ready", |b| {
        b.iter_with_large_drop(|| rt.block_on(Forest::builder().seed(1).start()).expect("starts"))
    });
    g.bench_function("start_to_ready_with_child_domain", |b| {
        b.iter_with_large_drop(|| {
            rt.block_on(Forest::builder().seed(1).child_domain("child").start())
                .expect("starts")
        })
    });
    g.finish();
}

fn snapshots(c: &mut Criterion) {
    let rt = runtime();
    let forest = rt.block_on(Forest::builder().seed(1).start()).expect("starts");
    let base = format!("OU=Bench,{}", forest.base_dn());
    let mut records = adsim_simulator::ldif::parse(&format!(
        "dn: {base}\nobjectClass: organizationalUnit\nou: Bench\n"
    ))
    .expect("LDIF");
    records.extend(generate_user_records(&base, USERS, 0));
    fixtures::apply(forest.directory(), &records).expect("10 000 users");
    let entries = forest.directory().read().store.len();
    println!("forest of {entries} entries ({USERS} users)");

    let mut g = c.benchmark_group("forest_10k_users");
    g.bench_function("snapshot", |b| b.iter(|| forest.directory().snapshot()));
    let clean = forest.snapshot();
    let mut n = 0u64;
    // Each restore undoes a write made since the snapshot (a user added).
    g.bench_function("restore_after_a_write", |b| {
        b.iter_batched(
            || {
                n += 1;
                forest
                    .cmdlets()
                    .new_ad_user(&format!("tmp{n}"), "Tmp-Passw0rd!", None)
                    .expect("add")
            },
            |_| forest.restore(clean).expect("restore"),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("export_ldif", |b| b.iter(|| forest.export_ldif()));
    g.sample_size(10);
    let snap = forest.directory().snapshot();
    let bytes = file::encode(forest.directory(), &snap);
    println!("snapshot file: {} bytes", bytes.len());
    g.bench_function("file_encode", |b| {
        b.iter(|| file::encode(forest.directory(), &snap))
    });
    g.bench_function("file_decode", |b| {
        b.iter_with_large_drop(|| file::decode(&bytes).expect("decodes"))
    });
    g.finish();
}

criterion_group!(benches, start, snapshots);
criterion_main!(benches);
