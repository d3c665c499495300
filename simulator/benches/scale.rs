//! The directory's cost against the number of users (issue 12's scale curve), in process: for
//! each N, a fresh process provisions the default forest, loads N users from an LDIF fixture
//! (`ldif::generate_users`, the fixture path `adsim serve --fixture` uses: parse, then one add
//! per record as SYSTEM), and reports the load time, the resident memory it added (VmRSS after
//! the load minus VmRSS after provisioning, per user), an equality search on `sAMAccountName`
//! (subtree from the domain, one random user, two attributes) and a modify of one random user's
//! `description`, each for a fixed time from one thread; then it writes the forest to a snapshot
//! file (`snapshot::file::write`, what `POST /v1/snapshots {"path"}` does) and reads it back
//! (`snapshot::file::read`, what `adsim serve --from-snapshot` does), timing both and noting
//! the file's size.
//!
//! Run: `cargo bench -p adsim-simulator --bench scale -- 1000 10000 100000 [1000000]`
//! (`ADSIM_SCALE_SECONDS` sets each rate's window, 2 s by default). One line of figures per N.

use std::hint::black_box;
use std::time::{Duration, Instant};

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
use adsim_simulator::dsa::{fixtures, Caller, Directory, ForestConfig};
use adsim_simulator::model::filter::Filter;

const BASE: &str = "DC=corp,DC=example,DC=test";

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A small deterministic generator (the bench needs spread, not quality).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Operations per second of `op` over `window`.
fn rate(window: Duration, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..16 {
            op();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn one(n: usize, window: Duration) {
    let dir = Directory::provision(&ForestConfig {
        seed: Some(5),
        start_time: NtTime::parse_rfc3339("2026-03-01T12:00:00Z"),
        ..Default::default()
    })
    .unwrap();
    let path = std::env::temp_dir().join(format!("adsim-scale-{}-{n}.ldif", std::process::id()));
    std::fs::write(
        &path,
        adsim_simulator::ldif::generate_users(&format!("CN=Users,{BASE}"), n, 0),
    )
    .unwrap();
    let rss_before = rss_kib();
    let t = Instant::now();
    let applied = fixtures::apply_file(&dir, &path).unwrap();
    let load = t.elapsed();
    let rss_after = rss_kib();
    std::fs::remove_file(&path).ok();
    assert_eq!(applied, n);

    let system = Caller::system();
    let mut rng = Lcg(7);
    let search = rate(window, || {
        let sam = format!("user{:05}", rng.below(n));
        let req = SearchRequest {
            base: BASE.into(),
            scope: Scope::Subtree,
            filter: Filter::EqualityMatch("sAMAccountName".into(), sam.into_bytes()),
            attrs: vec!["cn".into(), "sAMAccountName".into()],
            types_only: false,
            size_limit: 0,
            view: View::Dc { domain: 0 },
        };
        let out = dir.search(&system, &req).unwrap();
        assert_eq!(out.entries.len(), 1);
        black_box(out);
    });
    let mut i = 0u64;
    let modify = rate(window, || {
        i += 1;
        let dn = format!("CN=user{:05},CN=Users,{BASE}", rng.below(n));
        dir.modify(
            &system,
            &dn,
            vec![Modification {
                op: ModOp::Replace,
                attr: "description".into(),
                values: vec![format!("modified {i}").into_bytes()],
            }],
        )
        .unwrap();
    });
    let file = std::env::temp_dir().join(format!("adsim-scale-{}-{n}.snapshot", std::process::id()));
    let t = Instant::now();
    adsim_simulator::snapshot::file::write(&dir, &dir.snapshot(), &file).unwrap();
    let written = t.elapsed();
    let size = std::fs::metadata(&file).unwrap().len();
    let t = Instant::now();
    let back = adsim_simulator::snapshot::file::read(&file).unwrap();
    let read = t.elapsed();
    assert_eq!(back.state.store.len(), dir.read().store.len());
    drop(back);
    std::fs::remove_file(&file).ok();
    let added = rss_after.saturating_sub(rss_before);
    println!(
        "| {n} | {:.2} s | {:.1} µs | {:.0} MiB | {:.0} MiB | {:.0} B | {:.0} | {:.0} | {:.2} s | {:.1} MiB | {:.2} s |",
        load.as_secs_f64(),
        load.as_secs_f64() * 1e6 / n as f64,
        rss_after as f64 / 1024.0,
        added as f64 / 1024.0,
        added as f64 * 1024.0 / n as f64,
        search,
        modify,
        written.as_secs_f64(),
        size as f64 / 1048576.0,
        read.as_secs_f64(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let window = Duration::from_secs_f64(
        std::env::var("ADSIM_SCALE_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2.0),
    );
    if let Some(n) = std::env::var("ADSIM_SCALE_ONE").ok().and_then(|v| v.parse().ok()) {
        one(n, window);
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    println!("| users | load | load per user | VmRSS after load | RSS added | RSS added per user | equality searches/s | modifies/s | snapshot file write | file size | file read |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().unwrap();
    for n in sizes {
        // A fresh process per size: resident memory is the process's, not a heap's estimate.
        let status = std::process::Command::new(&exe)
            .env("ADSIM_SCALE_ONE", n.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "scale run with {n} users failed");
    }
}
