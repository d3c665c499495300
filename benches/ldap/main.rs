//! `cargo bench --bench ldap`: adsim next to OpenLDAP slapd, measured in one run on one machine.
//!
//! 1. process start to ready (N starts each, median and p90);
//! 2. resident memory (VmRSS) at ready and with 10,000 users; the same 10,000 LDAP adds with
//!    and without `--data-dir` (what durability costs per write);
//! 3. search throughput (rootDSE base search; equality search on an indexed attribute over
//!    10,000 users), modifies (replace one random user's `description`) and adds (one new user
//!    each) from 1 and from 4 bound connections, for a fixed time.
//!
//! The table is printed and written to `target/bench-ldap.md`. Everything talks to loopback only.
//! `ADSIM_BENCH_STARTS` and `ADSIM_BENCH_SECONDS` shorten a run while developing the benchmark.

mod conn;
mod report;
#[path = "../shared/scratch.rs"]
mod scratch;
mod servers;
mod wire;
mod workload;

use anyhow::{Context, Result};
use report::{mib, ms, Better, Row};
use scratch::Scratch;
use servers::{AdsimLauncher, Readiness, Server, SlapdLauncher};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use workload::{Dialect, Query, Window, USERS};

/// Connections used to load the users (adds are sent one at a time on each).
const LOAD_CONNECTIONS: usize = 4;
/// Issue 2's goals for adsim: ready within 50 ms, at most 30 MB resident.
const GOAL_START: Duration = Duration::from_millis(50);
const GOAL_RSS_BYTES: u64 = 30_000_000;

struct Settings {
    starts: usize,
    /// One round of one throughput case on one server.
    window: Window,
}

/// Each throughput case runs in this many rounds, alternating adsim and slapd, and reports the
/// median round: the machine is shared, and a burst of other work then hits both servers alike
/// instead of one.
const ROUNDS: u32 = 3;

impl Settings {
    fn from_env() -> Result<Settings> {
        let number = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(v) => v.parse().with_context(|| format!("{name}={v:?}")),
                Err(_) => Ok(default),
            }
        };
        Ok(Settings {
            starts: number("ADSIM_BENCH_STARTS", 20)?.max(1) as usize,
            window: Window {
                warmup: Duration::from_millis(250),
                measure: Duration::from_secs(number("ADSIM_BENCH_SECONDS", 3)?.max(1)) / ROUNDS,
            },
        })
    }
}

/// Start-up samples: time to ready and VmRSS at that moment.
struct Startup {
    times: Vec<Duration>,
    rss_kib: Vec<u64>,
}

impl Startup {
    fn new() -> Startup {
        Startup {
            times: Vec::new(),
            rss_kib: Vec::new(),
        }
    }

    async fn record(&mut self, (server, elapsed): (Server, Duration)) -> Result<()> {
        self.times.push(elapsed);
        self.rss_kib.push(server.rss_kib()?);
        server.stop().await;
        Ok(())
    }

    fn median_ms(&self) -> f64 {
        ms(report::median_p90(&self.times).0)
    }

    fn p90_ms(&self) -> f64 {
        ms(report::median_p90(&self.times).1)
    }

    fn rss_mib(&self) -> f64 {
        mib(report::median_u64(&self.rss_kib))
    }
}

const RATE_CASES: [(Query, usize); 8] = [
    (Query::RootDse, 1),
    (Query::RootDse, 4),
    (Query::UserByKey, 1),
    (Query::UserByKey, 4),
    (Query::ModifyDescription, 1),
    (Query::ModifyDescription, 4),
    (Query::AddUser, 1),
    (Query::AddUser, 4),
];

/// Figures for one server with the users loaded.
struct Service {
    adds_per_second: Option<f64>,
    /// The same load on adsim with `--data-dir` (slapd's figure is the one above, with
    /// `dbnosync`: the baseline does not sync).
    durable_adds_per_second: Option<f64>,
    rss_kib: Option<u64>,
    /// In the order of `RATE_CASES`, requests per second.
    rates: [Option<f64>; RATE_CASES.len()],
}

impl Service {
    fn new() -> Service {
        Service {
            adds_per_second: None,
            durable_adds_per_second: None,
            rss_kib: None,
            rates: [None; RATE_CASES.len()],
        }
    }
}

/// Loads the users and notes how fast, and the memory afterwards.
async fn load(server: &Server, dialect: Dialect, figures: &mut Service) -> Result<()> {
    let took = workload::load_users(server, dialect, LOAD_CONNECTIONS)
        .await
        .with_context(|| format!("loading users; server log:\n{}", server.log_tail()))?;
    eprintln!(
        "  {dialect:?}: {USERS} users added in {:.2} s",
        took.as_secs_f64()
    );
    figures.adds_per_second = Some(USERS as f64 / took.as_secs_f64());
    figures.rss_kib = Some(server.rss_kib()?);
    Ok(())
}

async fn rate(server: &Server, dialect: Dialect, case: usize, settings: &Settings) -> Result<f64> {
    let (query, conns) = RATE_CASES[case];
    let rate = workload::throughput(server, dialect, query, conns, &settings.window)
        .await
        .with_context(|| format!("{query:?} × {conns}; server log:\n{}", server.log_tail()))?;
    eprintln!("  {dialect:?}: {query:?} × {conns} connection(s): {rate:.0} req/s");
    Ok(rate)
}

/// Both servers up with the users loaded; each throughput case runs on adsim and then on slapd,
/// so that each pair of figures is taken close together on this shared machine.
async fn services(
    adsim: &mut AdsimLauncher,
    slapd: Option<&mut SlapdLauncher>,
    settings: &Settings,
    notes: &mut Vec<String>,
) -> Result<(Service, Option<Service>)> {
    let (adsim_server, _) = adsim.start(Readiness::ReadyLine).await?;
    let mut slapd_server = match slapd {
        Some(launcher) => match launcher.start().await {
            Ok((server, _)) => Some(server),
            Err(e) => {
                notes.push(format!("slapd could not be started for the searches: {e:#}"));
                None
            }
        },
        None => None,
    };
    let mut adsim_figures = Service::new();
    let mut slapd_figures = Service::new();
    load(&adsim_server, Dialect::Adsim, &mut adsim_figures).await?;
    if let Some(server) = slapd_server.take() {
        match load(&server, Dialect::Slapd, &mut slapd_figures).await {
            Ok(()) => slapd_server = Some(server),
            Err(e) => {
                notes.push(format!("slapd could not be loaded: {e:#}"));
                server.stop().await;
            }
        }
    }
    for (case, (query, _)) in RATE_CASES.iter().enumerate() {
        let (mut adsim_rounds, mut slapd_rounds) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            adsim_rounds.push(rate(&adsim_server, Dialect::Adsim, case, settings).await?);
            if let Some(server) = &slapd_server {
                match rate(server, Dialect::Slapd, case, settings).await {
                    Ok(r) => slapd_rounds.push(r),
                    Err(e) => notes.push(format!("slapd {query:?} failed: {e:#}")),
                }
            }
        }
        adsim_figures.rates[case] = report::median_f64(adsim_rounds);
        slapd_figures.rates[case] = report::median_f64(slapd_rounds);
    }
    adsim_server.stop().await;
    // The same adds into a data directory: what durability costs per write.
    adsim.data_dir = true;
    let (durable, _) = adsim.start(Readiness::ReadyLine).await?;
    adsim.data_dir = false;
    let mut durable_figures = Service::new();
    eprintln!("  with --data-dir:");
    load(&durable, Dialect::Adsim, &mut durable_figures).await?;
    durable.stop().await;
    adsim_figures.durable_adds_per_second = durable_figures.adds_per_second;
    let slapd_figures = match slapd_server {
        Some(server) => {
            server.stop().await;
            Some(slapd_figures)
        }
        None => None,
    };
    Ok((adsim_figures, slapd_figures))
}

/// Start-up samples for adsim (by ready line, by first answer) and slapd, taken in turns.
async fn startups(
    adsim: &mut AdsimLauncher,
    slapd: &mut Option<SlapdLauncher>,
    settings: &Settings,
    notes: &mut Vec<String>,
) -> Result<(Startup, Startup, Option<Startup>)> {
    let mut by_line = Startup::new();
    let mut by_answer = Startup::new();
    let mut baseline = Startup::new();
    for _ in 0..settings.starts {
        by_line.record(adsim.start(Readiness::ReadyLine).await?).await?;
        by_answer
            .record(adsim.start(Readiness::FirstAnswer).await?)
            .await?;
        if let Some(launcher) = slapd.as_mut() {
            let step = match launcher.start().await {
                Ok(started) => baseline.record(started).await,
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                notes.push(format!("slapd could not be started: {e:#}"));
                *slapd = None;
            }
        }
    }
    let baseline = slapd.is_some().then_some(baseline);
    Ok((by_line, by_answer, baseline))
}

const USERS_LABEL: &str = "10,000";

fn table_rows(
    [by_line, by_answer]: [&Startup; 2],
    slapd_start: Option<&Startup>,
    adsim: &Service,
    slapd: Option<&Service>,
) -> Vec<Row> {
    let lower = Better::Lower;
    let mut rows = vec![
        Row::new(
            "start → ready, median (adsim: ready line; slapd: first rootDSE answer)",
            "ms",
            1,
            lower,
        )
        .values(Some(by_line.median_ms()), slapd_start.map(Startup::median_ms)),
        Row::new("start → ready, p90 (same)", "ms", 1, lower)
            .values(Some(by_line.p90_ms()), slapd_start.map(Startup::p90_ms)),
        Row::new(
            "start → first rootDSE answer, median (same probe for both)",
            "ms",
            1,
            lower,
        )
        .values(Some(by_answer.median_ms()), slapd_start.map(Startup::median_ms)),
        Row::new("start → first rootDSE answer, p90 (same probe)", "ms", 1, lower)
            .values(Some(by_answer.p90_ms()), slapd_start.map(Startup::p90_ms)),
        Row::new("resident memory at ready (VmRSS, median)", "MiB", 1, lower)
            .values(Some(by_line.rss_mib()), slapd_start.map(Startup::rss_mib)),
        Row::new(
            format!("load {USERS_LABEL} users with LDAP adds ({LOAD_CONNECTIONS} connections)"),
            "adds/s",
            0,
            Better::Higher,
        )
        .values(adsim.adds_per_second, slapd.and_then(|s| s.adds_per_second)),
        Row::new(
            "the same load, adsim with --data-dir (each add synced before its answer; \
             slapd as above, dbnosync)",
            "adds/s",
            0,
            Better::Higher,
        )
        .values(
            adsim.durable_adds_per_second,
            slapd.and_then(|s| s.adds_per_second),
        ),
        Row::new(
            format!("resident memory with {USERS_LABEL} users (VmRSS)"),
            "MiB",
            1,
            lower,
        )
        .values(adsim.rss_kib.map(mib), slapd.and_then(|s| s.rss_kib).map(mib)),
    ];
    for (case, (query, conns)) in RATE_CASES.into_iter().enumerate() {
        let what = match query {
            Query::RootDse => "rootDSE base search".to_string(),
            Query::UserByKey => {
                format!("equality search sAMAccountName (slapd: uid) over {USERS_LABEL} users")
            }
            Query::ModifyDescription => {
                format!("modify: replace description of a random user of {USERS_LABEL}")
            }
            Query::AddUser => "add: one new user per request".to_string(),
        };
        let connections = if conns == 1 { "connection" } else { "connections" };
        rows.push(
            Row::new(
                format!("{what}, {conns} {connections}"),
                "req/s",
                0,
                Better::Higher,
            )
            .values(adsim.rates[case], slapd.and_then(|s| s.rates[case])),
        );
    }
    rows
}

fn run_context(slapd: Option<&SlapdLauncher>, settings: &Settings) -> Vec<String> {
    vec![
        format!(
            "command: `cargo bench --bench ldap` (or `scripts/bench.sh`), {}",
            report::run_date()
        ),
        report::machine(),
        format!(
            "adsim {} ({}, default forest); slapd: {}",
            report::commit(),
            report::build_kind(),
            slapd.map_or("not installed".into(), |s| s.version())
        ),
        format!(
            "start: {} starts each, in turns, spawn until ready; throughput: median of {ROUNDS} \
             rounds of {:.1} s (after {} ms warm-up) per row and server, adsim and slapd in turns, \
             one request at a time per connection, bound by simple bind, client in the same process \
             on the same cores",
            settings.starts,
            settings.window.measure.as_secs_f64(),
            settings.window.warmup.as_millis()
        ),
    ]
}

#[tokio::main]
async fn main() -> Result<()> {
    let run_started = Instant::now();
    let settings = Settings::from_env()?;
    let scratch = Scratch::new()?;
    let mut adsim = AdsimLauncher::new(PathBuf::from(env!("CARGO_BIN_EXE_adsim")), &scratch)?;
    let mut slapd = SlapdLauncher::find(&scratch)?;
    let context = run_context(slapd.as_ref(), &settings);
    let mut notes = Vec::new();
    if slapd.is_none() {
        notes.push(
            "slapd was not found ($SLAPD, PATH, /usr/sbin/slapd): its column is empty. \
             `scripts/bench.sh` installs Debian's `slapd` package."
                .to_string(),
        );
    }

    eprintln!("start-up: {} starts of each", settings.starts);
    let (adsim_line, adsim_answer, slapd_start) =
        startups(&mut adsim, &mut slapd, &settings, &mut notes).await?;
    eprintln!("{USERS} users, then searches");
    let (adsim_svc, slapd_svc) = services(&mut adsim, slapd.as_mut(), &settings, &mut notes).await?;

    let rows = table_rows(
        [&adsim_line, &adsim_answer],
        slapd_start.as_ref(),
        &adsim_svc,
        slapd_svc.as_ref(),
    );
    let (start_median, _) = report::median_p90(&adsim_line.times);
    let rss_bytes = report::median_u64(&adsim_line.rss_kib) * 1024;
    let verdict = |met: bool| if met { "met" } else { "not met" };
    notes.push(format!(
        "issue 2 goals for adsim: start ≤ {} ms: {}; resident memory ≤ 30 MB: {}",
        GOAL_START.as_millis(),
        verdict(start_median <= GOAL_START),
        verdict(rss_bytes <= GOAL_RSS_BYTES)
    ));
    notes.push(format!(
        "whole benchmark took {:.0} s",
        run_started.elapsed().as_secs_f64()
    ));

    let columns = report::Columns {
        measured: "adsim",
        baseline: "slapd",
    };
    let title = "adsim vs OpenLDAP slapd (one run, same machine)";
    let table = report::render(title, &columns, &context, &rows, &notes);
    println!("{table}");
    let path = report::report_path("bench-ldap.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}
