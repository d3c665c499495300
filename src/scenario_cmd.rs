//! `adsim scenario run PATH... [--against URL] [--junit FILE]`: replays scenario files (a
//! directory stands for the `*.toml` files in it) and reports per step; exits non-zero when an
//! expectation fails.

use std::path::{Path, PathBuf};

use adsim_harness::scenario::{junit_xml, run_file, summary_line, RunOptions};
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
    Ok(reports.iter().all(|r| r.passed()))
}
