//! `adsim scenario run PATH... [--against URL] [--junit FILE]`: replays scenario files (a
//! directory stands for the `*.toml` files in it) and reports per step; exits non-zero when an
//! expectation fails. With `--against-dc ldap://HOST --peer-credentials USER:PASS` the wire
//! steps also go to a real DC and each step is reported same / different / adsim only.

use std::path::{Path, PathBuf};

use adsim_harness::scenario::{junit_xml, run_file, summary_line, PeerOptions, RunOptions};
use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    command: ScenarioCommand,
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// Run scenarios, each against a fresh in-process forest (or a running adsim with --against).
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Scenario files, or directories whose *.toml files are run in name order.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Base URL of a running adsim's control API (its ready line's control_url): replay there.
    #[arg(long, value_name = "CONTROL_URL")]
    against: Option<String>,
    /// With --against: leave the scenario's changes on the server (no snapshot and restore
    /// around each scenario).
    #[arg(long, requires = "against")]
    keep_changes: bool,
    /// Write JUnit XML here (one testsuite per scenario, one testcase per step).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// A differential run: also send every wire step to this domain controller (a disposable
    /// test DC: objects with the scenario's names are replaced there, and removed afterwards)
    /// and compare each step's answers.
    #[arg(long, value_name = "ldap://HOST[:PORT]", requires = "peer_credentials")]
    against_dc: Option<String>,
    /// The peer's administrator, `USER:PASSWORD` (USER as `Administrator`, `NETBIOS\user` or
    /// `user@domain`). Also read from ADSIM_PEER_CREDENTIALS.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "ADSIM_PEER_CREDENTIALS",
        hide_env_values = true
    )]
    peer_credentials: Option<String>,
    /// Map a scenario name to the peer's (`corp.example.test=samba.example.test`); repeatable.
    /// The root domain's base DN, DNS name, realm and NetBIOS name are mapped without it.
    #[arg(long, value_name = "FROM=TO", requires = "against_dc")]
    peer_map: Vec<String>,
    /// The CA certificate (PEM) the peer's LDAPS certificate chains to; without it the peer's
    /// certificate is not checked.
    #[arg(long, value_name = "FILE", requires = "against_dc")]
    peer_ca: Option<PathBuf>,
    /// Allow resetting passwords of existing peer accounts a scenario's principal asks for
    /// (`reset_password = true`, e.g. the DC's machine account): disposable peers only.
    #[arg(long, requires = "against_dc")]
    peer_reset_passwords: bool,
}

/// The peer options of the command line.
fn peer_options(args: &RunArgs) -> anyhow::Result<Option<PeerOptions>> {
    let Some(url) = &args.against_dc else {
        return Ok(None);
    };
    let creds = args
        .peer_credentials
        .as_deref()
        .context("--against-dc needs --peer-credentials USER:PASSWORD")?;
    let (user, password) = PeerOptions::parse_credentials(creds).map_err(anyhow::Error::msg)?;
    let map = args
        .peer_map
        .iter()
        .map(|m| PeerOptions::parse_map(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let ca_pem = match &args.peer_ca {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("--peer-ca {}", p.display()))?),
        None => None,
    };
    Ok(Some(PeerOptions {
        url: url.clone(),
        user,
        password,
        map,
        ca_pem,
        reset_passwords: args.peer_reset_passwords,
    }))
}

/// The scenario files named by `paths`, directories expanded.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            if files.is_empty() {
                anyhow::bail!("{}: no *.toml scenario in this directory", p.display());
            }
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Runs the scenarios; `Ok(true)` when every expectation held.
pub async fn scenario(args: ScenarioArgs) -> anyhow::Result<bool> {
    let ScenarioCommand::Run(args) = args.command;
    let files = expand(&args.paths)?;
    let options = RunOptions {
        against: args.against.clone(),
        keep_changes: args.keep_changes,
        peer: peer_options(&args)?,
    };
    let started = std::time::Instant::now();
    let mut reports = Vec::new();
    for f in &files {
        let report = run_file(Path::new(f), &options).await;
        print!("{}", report.to_text());
        reports.push(report);
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit_xml(&reports)).with_context(|| format!("--junit {}", path.display()))?;
    }
    println!(
        "scenarios: {} in {:.2} s",
        summary_line(&reports),
        started.elapsed().as_secs_f64()
    );
    if options.peer.is_some() {
        let (same, different, only) = reports
            .iter()
            .map(|r| r.peer_counts())
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        println!("peer: {same} steps same, {different} different, {only} adsim only");
    }
    Ok(reports.iter().all(|r| r.passed()))
}
