//! How a directory operation's cost grows with the forest (issue 12). First figure: a base search
//! of one user with 1, 10, 100 and 1,000 gMSAs in the forest — before issue 12 every search
//! evaluated every gMSA's rollover first (0.02× the one-gMSA rate at 1,000); now only the gMSAs
//! a search reads are checked, so the rate should not depend on their number.
//! Run: cargo bench -p adsim-simulator --bench directory -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;
use std::sync::Arc;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{Scope, SearchRequest, View};
use adsim_simulator::dsa::{Caller, Directory, ForestConfig};
use adsim_simulator::model::filter::Filter;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const BASE: &str = "DC=corp,DC=example,DC=test";

fn s(v: &str) -> Vec<Vec<u8>> {
    vec![v.as_bytes().to_vec()]
}

/// A forest with `gmsas` gMSAs and one user, alice.
fn forest(gmsas: usize) -> Arc<Directory> {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(5),
        start_time: NtTime::parse_rfc3339("2026-03-01T12:00:00Z"),
        ..Default::default()
    })
    .unwrap();
    let system = Caller::system();
    dir.add(
        &system,
        &format!("CN=alice,CN=Users,{BASE}"),
        vec![
            ("objectClass".into(), s("user")),
            ("sAMAccountName".into(), s("alice")),
        ],
    )
    .unwrap();
    for i in 0..gmsas {
        dir.add(
            &system,
            &format!("CN=gmsa{i},CN=Managed Service Accounts,{BASE}"),
            vec![
                ("objectClass".into(), s("msDS-GroupManagedServiceAccount")),
                ("sAMAccountName".into(), s(&format!("gmsa{i}$"))),
                ("dNSHostName".into(), s(&format!("gmsa{i}.corp.example.test"))),
                ("msDS-ManagedPasswordInterval".into(), s("30")),
            ],
        )
        .unwrap();
    }
    dir
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("search_one_user_with_n_gmsas");
    let request = SearchRequest {
        base: format!("CN=alice,CN=Users,{BASE}"),
        scope: Scope::Base,
        filter: Filter::Present("objectClass".into()),
        attrs: vec!["sAMAccountName".into()],
        types_only: false,
        size_limit: 0,
        view: View::Dc { domain: 0 },
    };
    for n in [1usize, 10, 100, 1000] {
        let dir = forest(n);
        let caller = Caller::system();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(dir.search(&caller, &request).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(directory, benches);
criterion_main!(directory);
