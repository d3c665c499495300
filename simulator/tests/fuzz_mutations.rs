//! The stable-Rust mutation pass CI runs (issue 13, "fuzzing as a habit"): the cargo-fuzz seed
//! corpora in simulator/fuzz/corpus/<target>/ (captures, codec goldens, fixtures), mutated with
//! flips, truncations, insertions, length-octet tweaks and duplicated runs, fed to each decoder
//! the fuzz targets cover. Each decode must return (an error is fine) without a panic, and
//! within a time bound: a decode error is an error, not a hang. Bounded case counts keep the
//! whole pass to a few seconds; `scripts/fuzz.sh` runs the same targets under libFuzzer.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use adsim_simulator::kdc::messages::KdcReq;
use adsim_simulator::ldap::codec::decode_request;
use adsim_simulator::ldap::filter::Filter;
use adsim_simulator::ldif::{parse_with, ParseOptions};
use adsim_simulator::security::{sddl, SecurityDescriptor};
use adsim_simulator::snapshot::file;
use proptest::prelude::*;

use crate::fuzz_decoders::*;
use crate::mutation::{mutated, mutation, Mutation};

/// No decode of inputs this size may take longer (debug build, shared CI machine).
const TIME_BOUND: Duration = Duration::from_secs(2);

/// The seed files of one cargo-fuzz target.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus")).join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "{} has no seeds", dir.display());
    seeds
}

fn cached(target: &'static str, cell: &'static OnceLock<Vec<Vec<u8>>>) -> &'static [Vec<u8>] {
    cell.get_or_init(|| corpus(target))
}

/// Runs `decode` on `input`, failing when it takes longer than [`TIME_BOUND`].
fn bounded(what: &str, input: &[u8], decode: impl FnOnce(&[u8])) {
    let started = Instant::now();
    decode(input);
    let took = started.elapsed();
    assert!(took < TIME_BOUND, "{what}: {} bytes took {took:?}", input.len());
}

macro_rules! mutation_pass {
    ($name:ident, $target:literal, $decode:path, $cases:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: $cases, failure_persistence: None, ..ProptestConfig::default() })]
            #[test]
            fn $name(index in any::<usize>(), mutations in prop::collection::vec(mutation(), 1..6)) {
                static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
                let seeds = cached($target, &SEEDS);
                let input = mutated(&seeds[index % seeds.len()], &mutations);
                bounded($target, &input, $decode);
            }
        }
    };
}

mutation_pass!(ldap_requests_survive_mutation, "ldap_request", ldap_request, 512);
mutation_pass!(ldap_filters_survive_mutation, "ldap_filter", ldap_filter, 512);
mutation_pass!(
    kerberos_requests_survive_mutation,
    "kerberos_request",
    kerberos_request,
    512
);
mutation_pass!(ldif_survives_mutation, "ldif", ldif, 256);
mutation_pass!(
    security_descriptors_survive_mutation,
    "security_descriptor",
    security_descriptor,
    512
);
mutation_pass!(
    snapshot_files_survive_mutation,
    "snapshot_file",
    snapshot_file,
    24
);

#[test]
fn every_seed_decodes_as_it_should() {
    for seed in corpus("ldap_request") {
        assert!(decode_request(&seed).is_ok());
    }
    for seed in corpus("kerberos_request") {
        assert!(KdcReq::from_der(&seed).is_ok());
    }
    for seed in corpus("ldap_filter") {
        assert!(Filter::parse(std::str::from_utf8(&seed).unwrap()).is_ok());
    }
    for seed in corpus("ldif") {
        assert!(!parse_with(&seed, &ParseOptions::default()).unwrap().is_empty());
    }
    for seed in corpus("security_descriptor") {
        let text = sddl::parse(&String::from_utf8_lossy(&seed), &sddl_context());
        assert!(
            text.is_ok() || SecurityDescriptor::from_bytes(&seed).is_ok(),
            "{seed:?}"
        );
    }
    for seed in corpus("snapshot_file") {
        if let Err(e) = file::decode(&seed) {
            panic!("snapshot seed: {e}");
        }
    }
    // A checksummed file with one flipped byte is refused by its checksum, not half-read.
    let v2 = corpus("snapshot_file")
        .into_iter()
        .find(|s| s.starts_with(b"{\"format\""))
        .unwrap();
    let damaged = mutated(&v2, &[Mutation::Flip(v2.len() / 2, 3)]);
    assert!(file::decode(&damaged).is_err());
}

/// The control API's JSON bodies: a mutated body for `POST /v1/clock` or
/// `POST /v1/kds/root-keys` (the corpus's first byte picks the endpoint) gets a 2xx or a 4xx
/// answer, never a 5xx or a panic, and the API still answers afterwards.
#[test]
fn control_api_bodies_survive_mutation() {
    use adsim_simulator::server::control::{router, ControlState};
    use tower::ServiceExt;

    let dir = adsim_simulator::dsa::Directory::provision(&adsim_simulator::dsa::ForestConfig {
        seed: Some(9),
        start_time: adsim_simulator::clock::NtTime::parse_rfc3339("2026-02-01T00:00:00Z"),
        ..Default::default()
    })
    .unwrap();
    let state = ControlState::new(dir, vec!["127.0.0.1:88".parse().unwrap()], std::env::temp_dir());
    let app = router(state);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seeds = corpus("control_json");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(any::<usize>(), prop::collection::vec(mutation(), 1..6)),
            |(index, mutations)| {
                let input = mutated(&seeds[index % seeds.len()], &mutations);
                let status = rt.block_on(control_request(&app, &input));
                prop_assert!(status < 500, "{:?} → {status}", String::from_utf8_lossy(&input));
                Ok(())
            },
        )
        .unwrap();
    let health = rt.block_on(
        app.clone().oneshot(
            axum::http::Request::get("/v1/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        ),
    );
    assert_eq!(health.unwrap().status(), 200);
}
