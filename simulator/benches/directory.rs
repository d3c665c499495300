//! How a directory operation's cost grows with the forest (issue 12). First figure: a base search
//! of one user with 1, 10, 100 and 1,000 gMSAs in the forest — before issue 12 every search
//! evaluated every gMSA's rollover first (0.02× the one-gMSA rate at 1,000); now only the gMSAs
//! a search reads are checked, so the rate should not depend on their number.
//!
//! Second figure (issue 11, "the check must not cost more than 20 %"): a subtree search of an
//! OU of 100 users returning all their attributes, and a modify of one user's description, each
//! as the domain's Administrator and as a non-admin (a plain user for the search, an Account
//! Operator for the modify: the non-admin who may write a user before and after the SD model).
//! Run: cargo bench -p adsim-simulator --bench directory -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;
use std::sync::Arc;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
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

/// A forest with OU=Bench holding 100 users, a plain user (reader) and an Account Operator
/// (ops).
fn access_forest() -> Arc<Directory> {
    let dir = forest(0);
    let system = Caller::system();
    dir.add(
        &system,
        &format!("OU=Bench,{BASE}"),
        vec![("objectClass".into(), s("organizationalUnit"))],
    )
    .unwrap();
    for i in 0..100 {
        dir.add(
            &system,
            &format!("CN=user{i},OU=Bench,{BASE}"),
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s(&format!("user{i}"))),
                ("description".into(), s("bench user")),
                ("telephoneNumber".into(), s("+1 555 0100")),
                (
                    "userPrincipalName".into(),
                    s(&format!("user{i}@corp.example.test")),
                ),
            ],
        )
        .unwrap();
    }
    for (name, group) in [("reader", None), ("ops", Some("Account Operators"))] {
        let dn = format!("CN={name},CN=Users,{BASE}");
        dir.add(
            &system,
            &dn,
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s(name)),
            ],
        )
        .unwrap();
        if let Some(g) = group {
            dir.modify(
                &system,
                &format!("CN={g},CN=Builtin,{BASE}"),
                vec![Modification {
                    op: ModOp::Add,
                    attr: "member".into(),
                    values: s(&dn),
                }],
            )
            .unwrap();
        }
    }
    dir
}

fn caller(dir: &Directory, name: &str) -> Caller {
    let st = dir.read();
    let id = dir.resolve_account(&st, &format!("CORP\\{name}")).unwrap();
    dir.caller_for(&st, id).with_encryption(true)
}

fn access_benches(c: &mut Criterion) {
    let dir = access_forest();
    let search = SearchRequest {
        base: format!("OU=Bench,{BASE}"),
        scope: Scope::Subtree,
        filter: Filter::Present("objectClass".into()),
        attrs: vec![],
        types_only: false,
        size_limit: 0,
        view: View::Dc { domain: 0 },
    };
    let mut group = c.benchmark_group("search_100_users_all_attributes");
    for who in ["Administrator", "reader"] {
        let caller = caller(&dir, who);
        assert_eq!(dir.search(&caller, &search).unwrap().entries.len(), 101);
        group.bench_function(who, |b| {
            b.iter(|| black_box(dir.search(&caller, &search).unwrap()))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("modify_description");
    let target = format!("CN=user7,OU=Bench,{BASE}");
    for who in ["Administrator", "ops"] {
        let caller = caller(&dir, who);
        let mut i = 0u64;
        group.bench_function(who, |b| {
            b.iter(|| {
                i += 1;
                dir.modify(
                    &caller,
                    &target,
                    vec![Modification {
                        op: ModOp::Replace,
                        attr: "description".into(),
                        values: s(&format!("change {i}")),
                    }],
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(directory, benches, access_benches);
criterion_main!(directory);
