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
//! A second line per N breaks the heap down per user (bytes the program asked for, counted by
//! a wrapping global allocator, and allocations; the allocator adds its own overhead per
//! allocation on top, ~8-16 B with glibc): the user's own attributes (values, `Attr`, the
//! `Arc`), attributes stored once and shared (amortised), the attribute map, the entry and its
//! own DN node, and the rest — the store's persistent maps (entries, DN map, tree, ten indexes
//! with their keys).
//!
//! Run: `cargo bench -p adsim-simulator --bench scale -- 1000 10000 100000 [1000000]`
//! (`ADSIM_SCALE_SECONDS` sets each rate's window, 2 s by default). One line of figures per N.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
use adsim_simulator::dsa::{fixtures, Caller, Directory, ForestConfig};
use adsim_simulator::model::filter::Filter;

/// The system allocator, counting the live bytes and allocations the program asked for, per
/// thread: the load and the counts are the main thread's. Plain per-thread counters instead of
/// shared atomics (four atomic read-modify-writes per allocation and free); the load times of
/// the two builds did not differ measurably (four alternated rounds at 100,000 users).
struct Counting;

thread_local! {
    static LIVE: std::cell::Cell<(isize, isize)> = const { std::cell::Cell::new((0, 0)) };
}

fn count(bytes: isize, allocs: isize) {
    LIVE.with(|live| {
        let (b, n) = live.get();
        live.set((b + bytes, n + allocs));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l.size() as isize, 1);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        count(-(l.size() as isize), -1);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        count(new as isize - l.size() as isize, 0);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn heap() -> (isize, isize) {
    LIVE.with(|live| live.get())
}

/// Bytes and allocations that `build` leaves live (what it returns, kept until the count).
fn cost<T>(build: impl FnOnce() -> T) -> (isize, isize, T) {
    let (b0, a0) = heap();
    let out = build();
    let (b1, a1) = heap();
    (b1 - b0, a1 - a0, out)
}

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
    // The LDIF text was built and freed above: its pages go back first, so they do not count
    // against (or for) the load.
    adsim_simulator::server::release_free_memory();
    let rss_before = rss_kib();
    let heap_before = heap();
    let t = Instant::now();
    let applied = fixtures::apply_file(&dir, &path).unwrap();
    let load = t.elapsed();
    // What a server does once its fixtures are in (`RunningForest::serve`).
    adsim_simulator::server::release_free_memory();
    let rss_after = rss_kib();
    let heap_after = heap();
    breakdown(
        &dir,
        n,
        heap_after.0 - heap_before.0,
        heap_after.1 - heap_before.1,
    );
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

/// Bytes and allocations per user of what [`cost`] counted (the copy is dropped here).
fn per<T>(n: usize, (b, a, _): (isize, isize, T)) -> (f64, f64) {
    (b as f64 / n as f64, a as f64 / n as f64)
}

/// The heap per user, by part: each part is rebuilt on its own (copies of the users' packed
/// values, entries and DN nodes; shared values and shapes spread over their holders) and the
/// bytes the copy holds are counted; what the load added beyond these parts is the store's maps.
fn breakdown(dir: &Directory, n: usize, load_bytes: isize, load_allocs: isize) {
    let st = dir.read();
    let users_dn = adsim_simulator::model::Dn::parse(&format!("CN=Users,{BASE}")).unwrap();
    let users: Vec<_> = st
        .store
        .iter()
        .filter(|e| e.dn.parent().is_some_and(|p| p == users_dn) && e.is_class("user"))
        .cloned()
        .collect();
    // A stored entry's attributes are a shared shape and one buffer of its own values
    // (`AttrMap`); shapes and shared values are counted once, spread over their holders.
    let own = per(
        n,
        cost(|| {
            users
                .iter()
                .map(|e| vec![0u8; e.attrs.sealed_footprint().map_or(0, |f| f.0)].into_boxed_slice())
                .collect::<Vec<_>>()
        }),
    );
    let shapes: f64 = users
        .iter()
        .filter_map(|e| e.attrs.sealed_footprint())
        .map(|(_, bytes, holders)| bytes as f64 / holders as f64)
        .sum::<f64>()
        / n as f64;
    let shared: std::collections::HashMap<*const _, &Arc<_>> = users
        .iter()
        .flat_map(|e| e.attrs.keys().filter_map(|k| e.attrs.get_shared(k)))
        .map(|a| (Arc::as_ptr(a), a))
        .collect();
    let shared_cost = per(
        n,
        cost(|| {
            shared
                .values()
                .map(|a| Arc::new((***a).clone()))
                .collect::<Vec<_>>()
        }),
    );
    let map = (shapes, 0.0);
    let entry = per(
        n,
        cost(|| {
            users
                .iter()
                .map(|e| {
                    let mut c = (**e).clone();
                    c.attrs = Default::default();
                    c.dn =
                        e.dn.parent()
                            .unwrap()
                            .child(&e.dn.rdn().unwrap().attr, &e.dn.rdn().unwrap().value);
                    Arc::new(c)
                })
                .collect::<Vec<_>>()
        }),
    );
    let load = (load_bytes as f64 / n as f64, load_allocs as f64 / n as f64);
    let counted = own.0 + shared_cost.0 + map.0 + entry.0;
    let counted_allocs = own.1 + shared_cost.1 + map.1 + entry.1;
    println!(
        "|   heap per user ({} users seen): {:.0} B in {:.1} allocations = own values, packed {:.0} B ({:.1}) + shared attributes {:.0} B ({:.2}) + shapes (shared) {:.0} B ({:.1}) + entry and DN node {:.0} B ({:.1}) + store maps {:.0} B ({:.1}) |",
        users.len(),
        load.0,
        load.1,
        own.0,
        own.1,
        shared_cost.0,
        shared_cost.1,
        map.0,
        map.1,
        entry.0,
        entry.1,
        load.0 - counted,
        load.1 - counted_allocs,
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
