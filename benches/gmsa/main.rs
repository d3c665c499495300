//! `cargo bench --bench gmsa`: how fast adsim serves `msDS-ManagedPassword` (issue 4), each
//! figure next to a baseline taken in the same run on the same connections.
//!
//! 1. reads per second over LDAPS from 1 and from 4 connections bound as an allowed computer
//!    account, next to reads of a stored attribute (`sAMAccountName`) of the same entry;
//! 2. latency of the read that rolls the password over (the first after the simulated clock moved
//!    30 days, moved through the control API), next to the read that follows it; and of a
//!    password read next to a `sAMAccountName` read.
//!
//! The table is printed and written to `target/bench-gmsa.md`. Loopback only.
//! `ADSIM_BENCH_SECONDS` (per throughput row and attribute, default 3) and
//! `ADSIM_BENCH_ROLLOVERS` (default 30) shorten or lengthen a run.

// Modules shared with the other benchmarks, each of which uses a different part of them.
#[allow(dead_code)]
#[path = "../ldap/conn.rs"]
mod conn;
mod control;
mod entry;
mod lab;
mod reads;
#[allow(dead_code)]
#[path = "../ldap/report.rs"]
mod report;
#[path = "../shared/scratch.rs"]
mod scratch;
#[allow(dead_code)]
#[path = "../shared/serve.rs"]
mod serve;
mod tls;
#[allow(dead_code)]
#[path = "../ldap/wire.rs"]
mod wire;

use anyhow::{Context, Result};
use reads::{Attr, Latencies, Window};
use report::{ms, Better, Columns, Row};
use std::time::{Duration, Instant};

/// Each throughput row runs in this many rounds (password and baseline in turns, the order
/// swapped every round) and reports the median round.
const ROUNDS: u32 = 3;
const CONNECTIONS: [usize; 2] = [1, 4];

struct Settings {
    window: Window,
    rollovers: usize,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let number = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(v) => v.parse().with_context(|| format!("{name}={v:?}")),
                Err(_) => Ok(default),
            }
        };
        Ok(Settings {
            window: Window {
                warmup: Duration::from_millis(250),
                measure: Duration::from_secs(number("ADSIM_BENCH_SECONDS", 3)?.max(1)) / ROUNDS,
            },
            rollovers: number("ADSIM_BENCH_ROLLOVERS", 30)?.max(2) as usize,
        })
    }
}

/// Reads per second, by connection count (index into CONNECTIONS): password and baseline.
struct Rates {
    password: [Option<f64>; 2],
    plain: [Option<f64>; 2],
}

async fn rates(ldaps: &tls::Ldaps, settings: &Settings) -> Result<Rates> {
    let mut all = Vec::new();
    for _ in 0..CONNECTIONS[1] {
        all.push(ldaps.bound(lab::READER, lab::READER_PASSWORD).await?);
    }
    let mut rates = Rates {
        password: [None; 2],
        plain: [None; 2],
    };
    for (case, &n) in CONNECTIONS.iter().enumerate() {
        let (mut password, mut plain) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let order = if round % 2 == 0 {
                [Attr::ManagedPassword, Attr::SamAccountName]
            } else {
                [Attr::SamAccountName, Attr::ManagedPassword]
            };
            for attr in order {
                let rest = all.split_off(n);
                let (used, rate) = reads::throughput(all, attr, &settings.window).await?;
                all = used.into_iter().chain(rest).collect();
                eprintln!("  {} × {n} connection(s): {rate:.0} reads/s", attr.name());
                match attr {
                    Attr::ManagedPassword => password.push(rate),
                    Attr::SamAccountName => plain.push(rate),
                }
            }
        }
        rates.password[case] = report::median_f64(password);
        rates.plain[case] = report::median_f64(plain);
    }
    for conn in all {
        conn.unbind().await;
    }
    Ok(rates)
}

fn table_rows(rates: &Rates, lat: &Latencies) -> Vec<Row> {
    let mut rows = Vec::new();
    for (case, n) in CONNECTIONS.iter().enumerate() {
        let connections = if *n == 1 { "connection" } else { "connections" };
        rows.push(
            Row::new(
                format!(
                    "reads/s from {n} LDAPS {connections} bound as WEB01$ \
                     (baseline: sAMAccountName of the same entry)"
                ),
                "reads/s",
                0,
                Better::Higher,
            )
            .values(rates.password[case], rates.plain[case]),
        );
    }
    let median = |s: &[Duration]| Some(ms(report::median_p90(s).0));
    let p90 = |s: &[Duration]| Some(ms(report::median_p90(s).1));
    let rollover = "latency of the first read after +30 days, which rolls the password over \
                    (baseline: the next password read, no rollover)";
    let steady = "latency of a password read without rollover (baseline: sAMAccountName read)";
    rows.extend([
        Row::new(format!("{rollover}, median"), "ms", 3, Better::Lower)
            .values(median(&lat.rollover), median(&lat.steady)),
        Row::new(format!("{rollover}, p90"), "ms", 3, Better::Lower)
            .values(p90(&lat.rollover), p90(&lat.steady)),
        Row::new(format!("{steady}, median"), "ms", 3, Better::Lower)
            .values(median(&lat.steady), median(&lat.plain)),
        Row::new(format!("{steady}, p90"), "ms", 3, Better::Lower).values(p90(&lat.steady), p90(&lat.plain)),
    ]);
    rows
}

fn run_context(settings: &Settings) -> Vec<String> {
    vec![
        format!(
            "command: `cargo bench --bench gmsa` (or `scripts/bench.sh`), {}",
            report::run_date()
        ),
        report::machine(),
        format!(
            "adsim {} ({}, default forest, backdated KDS root key, gMSA with the default \
             30-day interval, reader WEB01$ named by SID in msDS-GroupMSAMembership)",
            report::commit(),
            report::build_kind()
        ),
        format!(
            "throughput: median of {ROUNDS} rounds of {:.1} s (after {} ms warm-up) per row and \
             attribute, password and baseline in turns on the same TLS connections, one \
             base-object search at a time per connection; latency: {} clock moves of 30 days \
             through the control API, one sample of each read per move; client in the same \
             process on the same cores",
            settings.window.measure.as_secs_f64(),
            settings.window.warmup.as_millis(),
            settings.rollovers
        ),
    ]
}

#[tokio::main]
async fn main() -> Result<()> {
    let run_started = Instant::now();
    let settings = Settings::from_env()?;
    let scratch = scratch::Scratch::new()?;
    let state = scratch.subdir("adsim")?;
    let fixture = state.join("reader.ldif");
    lab::write_fixture(&fixture)?;
    let adsim = serve::Adsim::start(&state, &fixture)?;
    let ready = &adsim.ready;
    let ldaps = tls::Ldaps::new(ready.ldaps, &ready.ca_cert)?;
    lab::create_gmsa(&ldaps, &ready.admin, serve::ADMIN_PASSWORD)
        .await
        .with_context(|| adsim.log_tail())?;
    let mut reader = ldaps.bound(lab::READER, lab::READER_PASSWORD).await?;
    lab::check_first_blob(&reads::read(&mut reader, Attr::ManagedPassword).await?)?;

    eprintln!("throughput over LDAPS");
    let rates = rates(&ldaps, &settings).await.with_context(|| adsim.log_tail())?;
    eprintln!("rollover latency: {} clock moves of 30 days", settings.rollovers);
    let latencies = reads::rollover_latencies(&mut reader, ready.control, settings.rollovers)
        .await
        .with_context(|| adsim.log_tail())?;
    reader.unbind().await;
    drop(adsim);

    let rows = table_rows(&rates, &latencies);
    let context = run_context(&settings);
    let notes = vec![format!(
        "the whole benchmark took {:.0} s",
        run_started.elapsed().as_secs_f64()
    )];
    let columns = Columns {
        measured: "msDS-ManagedPassword",
        baseline: "baseline",
    };
    let title = "adsim: msDS-ManagedPassword reads over LDAPS (one run, same machine)";
    let table = report::render(title, &columns, &context, &rows, &notes);
    println!("{table}");
    let path = report::report_path("bench-gmsa.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}
