//! Runs `client.py` in N processes at once against one server and measures the run: operations
//! per second (wall clock, as each client timed itself) and the server's CPU time per operation
//! (its process tree's user + system time, read just before the clients are told to start and
//! just after the last one exited).

use crate::cpu::Clock;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The client script, next to this file.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/binds/client.py");

/// What one run measured.
pub struct Outcome {
    /// Successful operations per second, summed over the clients.
    pub rate: f64,
    /// Server CPU time per successful operation.
    pub cpu_per_op: Option<Duration>,
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
}

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Client {
    fn spawn(python: &str, mode: &str, config: &Value, stderr: &Path) -> Result<Client> {
        let mut child = Command::new(python)
            .arg(SCRIPT)
            .arg(mode)
            .arg("--config")
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr)?)
            .spawn()
            .with_context(|| format!("spawn {python} {SCRIPT}"))?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin pipe"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout pipe"))?);
        Ok(Client { child, stdin, stdout })
    }

    /// The next JSON line the client prints; its stderr's end if it printed none.
    fn line(&mut self, stderr: &Path) -> Result<Value> {
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        serde_json::from_str(&line).map_err(|_| {
            let text = std::fs::read_to_string(stderr).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(6).collect();
            anyhow!(
                "client.py printed {line:?}; its stderr ends with:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
    }
}

/// Runs `clients` processes of `client.py MODE` with `config` (which names the server and the
/// run's length) and reads the server's CPU time from the process tree under `server_pid`.
pub fn run(
    python: &str,
    mode: &str,
    config: &Value,
    clients: usize,
    server_pid: u32,
    clock: &Clock,
    scratch: &Path,
) -> Result<Outcome> {
    let logs: Vec<_> = (0..clients)
        .map(|i| scratch.join(format!("client-{mode}-{i}.stderr")))
        .collect();
    let mut running = Vec::new();
    for log in &logs {
        running.push(Client::spawn(python, mode, config, log)?);
    }
    // Set-up (imports, tickets, the read connection, one trial operation) is not measured.
    for (client, log) in running.iter_mut().zip(&logs) {
        let ready = client.line(log).context("waiting for the client to be ready")?;
        if ready["ready"] != true {
            bail!("unexpected first line from client.py: {ready}");
        }
    }
    let before = clock.tree(server_pid)?;
    for client in &mut running {
        client.stdin.write_all(b"go\n")?;
        client.stdin.flush()?;
    }
    let mut results = Vec::new();
    for (client, log) in running.iter_mut().zip(&logs) {
        results.push(client.line(log).context("waiting for the client's counts")?);
    }
    for client in &mut running {
        client.child.wait()?;
    }
    let after = clock.tree(server_pid)?;

    let (mut rate, mut ops, mut errors, mut first_error) = (0.0, 0, 0, None);
    for r in &results {
        let n = r["ops"].as_u64().ok_or_else(|| anyhow!("no ops in {r}"))?;
        let seconds = r["seconds"]
            .as_f64()
            .filter(|s| *s > 0.0)
            .ok_or_else(|| anyhow!("no seconds in {r}"))?;
        rate += n as f64 / seconds;
        ops += n;
        errors += r["errors"].as_u64().unwrap_or(0);
        if first_error.is_none() {
            first_error = r["first_error"].as_str().map(str::to_string);
        }
    }
    Ok(Outcome {
        rate,
        cpu_per_op: (ops > 0)
            .then(|| Duration::from_secs_f64(after.saturating_sub(before).as_secs_f64() / ops as f64)),
        ops,
        errors,
        first_error,
    })
}
