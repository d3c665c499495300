//! `adsim ps`: PowerShell lines or a script run against a running forest through its control
//! API (`adsim_harness::ps`), printed as PowerShell prints them. Exit status 0 when every
//! statement succeeded, 1 when one printed an error record, 2 for a script adsim cannot parse.

use std::path::PathBuf;

use adsim_harness::control::Client;
use adsim_harness::ps::eval::{Interpreter, RunError};
use adsim_harness::ps::ControlBackend;
use anyhow::{anyhow, Context};
use clap::Args;

#[derive(Args)]
pub struct PsArgs {
    /// Base URL of the control API (the ready line's `control_url`).
    #[arg(long, env = "ADSIM_CONTROL_URL")]
    url: Option<String>,
    /// The member host (a computer account, `WEB01`) the commands run on: the local computer
    /// of Test-/Install-/Uninstall-ADServiceAccount, `klist purge`, Add-LocalGroupMember.
    #[arg(long = "host", value_name = "NAME")]
    host: Option<String>,
    /// Run these commands instead of a script.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "COMMANDS",
        conflicts_with = "script"
    )]
    command: Option<String>,
    /// A script file (.ps1).
    script: Option<PathBuf>,
}

/// Runs it; the exit status.
pub async fn ps(args: PsArgs) -> anyhow::Result<i32> {
    let url = args
        .url
        .clone()
        .ok_or_else(|| anyhow!("give the control URL: --url http://127.0.0.1:8389 or ADSIM_CONTROL_URL"))?;
    let client = Client::new(&url)?;
    let (src, origin) = match (&args.command, &args.script) {
        (Some(c), None) => (c.clone(), None),
        (None, Some(p)) => (
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            Some(p.display().to_string()),
        ),
        _ => return Err(anyhow!("give -c 'COMMANDS' or a script file")),
    };
    let backend = ControlBackend {
        client,
        host: args.host.clone(),
    };
    let mut interp = Interpreter::new(backend, origin.as_deref());
    let outcome = interp.run(&src).await;
    print!("{}", interp.output);
    match outcome {
        Ok(()) => Ok(if interp.errors > 0 { 1 } else { 0 }),
        Err(RunError::Parse(e)) => {
            eprintln!("adsim ps: {}: {e}", origin.as_deref().unwrap_or("command"));
            Ok(2)
        }
        Err(RunError::Backend(m)) => Err(anyhow!(m)),
    }
}

/// `adsim ctl cmdlet NAME -Param value …`: the words as one PowerShell line (each value
/// quoted as a literal unless it is a parameter name, a `$variable` or a number).
pub async fn run_line(client: Client, host: Option<String>, words: &[String]) -> anyhow::Result<i32> {
    let line = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let keep = i == 0
                || (w.starts_with('-')
                    && w.len() > 1
                    && w[1..].chars().next().is_some_and(char::is_alphabetic))
                || w.starts_with('$')
                || w.parse::<i64>().is_ok()
                || w.contains(',');
            if keep {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut interp = Interpreter::new(ControlBackend { client, host }, None);
    let outcome = interp.run(&line).await;
    print!("{}", interp.output);
    match outcome {
        Ok(()) => Ok(if interp.errors > 0 { 1 } else { 0 }),
        Err(RunError::Parse(e)) => Err(anyhow!("{line}: {e}")),
        Err(RunError::Backend(m)) => Err(anyhow!(m)),
    }
}
