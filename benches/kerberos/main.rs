//! `cargo bench --bench kerberos`: adsim's KDC next to MIT's krb5kdc (issue 5), measured in one
//! run on one machine with the same client code and the same request stream.
//!
//! Pre-authenticated AS exchanges (PA-ENC-TIMESTAMP, AES256) and TGS exchanges per second, from
//! 1 and from 4 concurrent clients, over TCP on loopback. Both realms are CORP.EXAMPLE.TEST with
//! the same principals and passwords: users load1…load4 (pre-authentication required) and the
//! service HTTP/web01.corp.example.test (AES keys; in adsim the SPN of the computer WEB01$).
//!
//! MIT runs twice, side by side: stock, and with `disable_last_success = true` (no database write
//! and sync after each pre-authenticated AS exchange), the latter for the AS rows only.
//!
//! The table is printed and written to `target/bench-kerberos.md`. Loopback only.
//! `ADSIM_BENCH_SECONDS` (per row and server, default 3) shortens a run.

mod client;
mod load;
mod mit;
// Modules shared with the other benchmarks, each of which uses a different part of them.
#[allow(dead_code)]
#[path = "../ldap/report.rs"]
mod report;
#[path = "../shared/scratch.rs"]
mod scratch;
#[allow(dead_code)]
#[path = "../shared/serve.rs"]
mod serve;

use adsim_simulator::kdc::messages::{name_type, PrincipalName};
use anyhow::{Context, Result};
use client::{Kdc, User};
use load::{Client, Exchange, ReplySizes, Window};
use report::{Better, Columns, Row};
use serve::{unicode_pwd, BASE_DN, DNS_DOMAIN, REALM};
use std::path::Path;
use std::time::{Duration, Instant};

const USERS: usize = 4;
const SERVICE: [&str; 2] = ["HTTP", "web01.corp.example.test"];
/// Each row runs in this many rounds, adsim and MIT in turns (the order swapped every round),
/// and reports the median round.
const ROUNDS: u32 = 3;
const CASES: [(Exchange, usize); 4] = [
    (Exchange::As, 1),
    (Exchange::As, 4),
    (Exchange::Tgs, 1),
    (Exchange::Tgs, 4),
];

fn service() -> PrincipalName {
    PrincipalName::new(name_type::NT_SRV_INST, &SERVICE)
}

fn user_name(i: usize) -> String {
    format!("load{}", i + 1)
}

fn user_password(i: usize) -> String {
    format!("Load{}-Passw0rd!", i + 1)
}

/// adsim's start-up fixture: the users, and WEB01$ holding the service's SPN with AES only.
fn write_fixture(path: &Path) -> Result<()> {
    let mut ldif = String::from("version: 1\n");
    for i in 0..USERS {
        ldif += &format!(
            "\ndn: CN={name},CN=Users,{BASE_DN}\nobjectClass: user\nsAMAccountName: {name}\n\
             userAccountControl: 512\nunicodePwd:: {}\n",
            unicode_pwd(&user_password(i)),
            name = user_name(i),
        );
    }
    ldif += &format!(
        "\ndn: CN=WEB01,CN=Computers,{BASE_DN}\nobjectClass: computer\nsAMAccountName: WEB01$\n\
         dNSHostName: web01.{DNS_DOMAIN}\nuserAccountControl: 4096\n\
         msDS-SupportedEncryptionTypes: 24\nservicePrincipalName: {}\nunicodePwd:: {}\n",
        SERVICE.join("/"),
        unicode_pwd("Web01-Machine-Passw0rd!")
    );
    std::fs::write(path, ldif)?;
    Ok(())
}

struct Settings {
    window: Window,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let seconds = match std::env::var("ADSIM_BENCH_SECONDS") {
            Ok(v) => v.parse().with_context(|| format!("ADSIM_BENCH_SECONDS={v:?}"))?,
            Err(_) => 3u64,
        };
        Ok(Settings {
            window: Window {
                warmup: Duration::from_millis(200),
                measure: Duration::from_secs(seconds.max(1)) / ROUNDS,
            },
        })
    }
}

/// One KDC under test, with its clients logged on, and its figures.
struct Target<'a> {
    name: &'static str,
    kdc: Kdc,
    clients: Vec<Client<'a>>,
    /// Runs the AS rows only (the variant of MIT that differs from the stock one only there).
    as_only: bool,
    /// The end of the server's log, for error messages.
    log: Box<dyn Fn() -> String + 'a>,
    sizes: ReplySizes,
    /// Per case (index into CASES), the rate of each round.
    rounds: Vec<Vec<f64>>,
}

impl<'a> Target<'a> {
    fn new(
        name: &'static str,
        kdc: Kdc,
        users: &'a [User],
        log: Box<dyn Fn() -> String + 'a>,
    ) -> Result<Self> {
        let (clients, sizes) = load::log_on(kdc, users, &service()).with_context(&log)?;
        Ok(Target {
            name,
            kdc,
            clients,
            as_only: false,
            log,
            sizes,
            rounds: vec![Vec::new(); CASES.len()],
        })
    }

    fn runs(&self, case: usize) -> bool {
        !self.as_only || matches!(CASES[case].0, Exchange::As)
    }

    fn measure(&mut self, case: usize, settings: &Settings) -> Result<()> {
        let (exchange, n) = CASES[case];
        let rate = load::throughput(self.kdc, exchange, &self.clients, n, &service(), &settings.window)
            .with_context(|| (self.log)())?;
        eprintln!("  {}: {exchange:?} × {n} client(s): {rate:.0}/s", self.name);
        self.rounds[case].push(rate);
        Ok(())
    }

    fn median(&self, case: usize) -> Option<f64> {
        report::median_f64(self.rounds[case].clone())
    }
}

/// Every case on every target that runs it, in rounds; the order of the targets rotates every
/// round, so that a burst of other work on the shared machine does not always hit the same one.
fn measure_all(targets: &mut [Target], settings: &Settings) -> Result<()> {
    for case in 0..CASES.len() {
        let running: Vec<usize> = (0..targets.len()).filter(|&t| targets[t].runs(case)).collect();
        for round in 0..ROUNDS as usize {
            for k in 0..running.len() {
                let t = running[(k + round) % running.len()];
                targets[t].measure(case, settings)?;
            }
        }
    }
    Ok(())
}

fn what(exchange: Exchange, n: usize) -> String {
    let what = match exchange {
        Exchange::As => "AS exchanges (PA-ENC-TIMESTAMP, AES256) per second",
        Exchange::Tgs => "TGS exchanges (AES256 TGT → service ticket) per second",
    };
    let clients = if n == 1 { "client" } else { "concurrent clients" };
    format!("{what}, {n} {clients}")
}

/// adsim against stock MIT for every case, then against MIT without the last-success write
/// for the AS cases.
fn table_rows(adsim: &Target, mit: Option<&Target>, mit_no_last_success: Option<&Target>) -> Vec<Row> {
    let mut rows = Vec::new();
    for (case, (exchange, n)) in CASES.iter().enumerate() {
        rows.push(
            Row::new(what(*exchange, *n), "exch/s", 0, Better::Higher)
                .values(adsim.median(case), mit.and_then(|m| m.median(case))),
        );
    }
    for (case, (exchange, n)) in CASES.iter().enumerate() {
        if matches!(exchange, Exchange::As) {
            rows.push(
                Row::new(
                    format!(
                        "{} (MIT with `disable_last_success` and `disable_lockout`)",
                        what(*exchange, *n)
                    ),
                    "exch/s",
                    0,
                    Better::Higher,
                )
                .values(
                    adsim.median(case),
                    mit_no_last_success.and_then(|m| m.median(case)),
                ),
            );
        }
    }
    rows
}

fn run_context(settings: &Settings, mit: Option<&mit::Tools>, targets: &[Target]) -> Vec<String> {
    let sizes: Vec<String> = targets
        .iter()
        .filter(|t| !t.as_only)
        .map(|t| {
            format!(
                "{} AS-REP {} B, TGS-REP {} B",
                t.name, t.sizes.as_rep, t.sizes.tgs_rep
            )
        })
        .collect();
    vec![
        format!(
            "command: `cargo bench --bench kerberos` (or `scripts/bench.sh`), {}",
            report::run_date()
        ),
        report::machine(),
        format!(
            "adsim {} ({}, default forest; KDC on the directory's accounts); MIT: {} (single \
             process, no -w workers; db2 database in a temporary directory)",
            report::commit(),
            report::build_kind(),
            mit.map_or("not installed".into(), mit::Tools::version)
        ),
        format!(
            "median of {ROUNDS} rounds of {:.1} s (after {} ms warm-up) per row and KDC, adsim and \
             MIT in turns; each client one exchange at a time, a new TCP connection per exchange, \
             every reply decrypted and its nonce checked; client threads in the same process on \
             the same cores as both KDCs",
            settings.window.measure.as_secs_f64(),
            settings.window.warmup.as_millis()
        ),
        format!("reply sizes: {}", sizes.join("; ")),
    ]
}

fn main() -> Result<()> {
    let run_started = Instant::now();
    let settings = Settings::from_env()?;
    let scratch = scratch::Scratch::new()?;
    let users: Vec<User> = (0..USERS)
        .map(|i| User::new(&user_name(i), REALM, &user_password(i)))
        .collect();
    let mut notes = Vec::new();

    let state = scratch.subdir("adsim")?;
    let fixture = state.join("principals.ldif");
    write_fixture(&fixture)?;
    let adsim = serve::Adsim::start(&state, &fixture)?;
    let adsim_kdc = Kdc {
        addr: adsim.ready.kdc,
    };
    let tools = mit::Tools::find();
    let user_principals: Vec<(String, String)> =
        (0..USERS).map(|i| (user_name(i), user_password(i))).collect();
    let services = [SERVICE.join("/")];
    let principals = mit::Principals {
        users: &user_principals,
        services: &services,
    };
    let mut mit_kdcs = Vec::new();
    match &tools {
        Some(tools) => {
            for (variant, dir) in [
                (mit::Variant::Stock, "mit"),
                (mit::Variant::NoLastSuccess, "mit-no-last-success"),
            ] {
                let kdc = mit::MitKdc::start(tools, &scratch.subdir(dir)?, REALM, &principals, variant)?;
                mit_kdcs.push((variant, kdc));
            }
        }
        None => notes.push(
            "MIT krb5kdc was not found (PATH, /usr/sbin): its column is empty. \
             `scripts/bench.sh` installs Debian's `krb5-kdc` and `krb5-admin-server`."
                .to_string(),
        ),
    }
    let mut targets = vec![Target::new(
        "adsim",
        adsim_kdc,
        &users,
        Box::new(|| adsim.log_tail()),
    )?];
    for (variant, kdc) in &mit_kdcs {
        let (name, as_only) = match variant {
            mit::Variant::Stock => ("MIT", false),
            mit::Variant::NoLastSuccess => ("MIT (no last success, no lockout)", true),
        };
        let mut target = Target::new(name, Kdc { addr: kdc.addr }, &users, Box::new(|| kdc.log_tail()))?;
        target.as_only = as_only;
        targets.push(target);
    }
    measure_all(&mut targets, &settings)?;

    let by_name = |name: &str| targets.iter().find(|t| t.name == name);
    let rows = table_rows(
        &targets[0],
        by_name("MIT"),
        by_name("MIT (no last success, no lockout)"),
    );
    let context = run_context(&settings, tools.as_ref(), &targets);
    notes.push(format!(
        "the whole benchmark took {:.0} s",
        run_started.elapsed().as_secs_f64()
    ));
    let columns = Columns {
        measured: "adsim",
        baseline: "MIT krb5kdc",
    };
    let title = "adsim KDC vs MIT krb5kdc (one run, same machine)";
    let table = report::render(title, &columns, &context, &rows, &notes);
    println!("{table}");
    let path = report::report_path("bench-kerberos.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}
