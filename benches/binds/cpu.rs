//! Server CPU time from /proc: user + system time of a process and of every process below it
//! (Samba is a master with forked service processes and prefork workers; adsim is one process).
//! Children that already exited and were reaped count through their parent's cutime and cstime.

use anyhow::{anyhow, Context, Result};
use std::collections::HashMap;
use std::fs;
use std::time::Duration;

/// One /proc/<pid>/stat line: parent and CPU times in clock ticks.
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime.
    ticks: u64,
}

fn parse_stat(text: &str) -> Option<Stat> {
    // The command name (field 2) is in parentheses and may contain spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17 (proc(5)).
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        ppid: number(1)? as u32,
        ticks: number(11)? + number(12)? + number(13)? + number(14)?,
    })
}

fn all_processes() -> HashMap<u32, Stat> {
    let mut out = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A process may exit between the listing and the read: it is simply not counted.
        if let Some(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
        {
            out.insert(pid, stat);
        }
    }
    out
}

/// The clock tick (USER_HZ) that /proc's times are counted in.
pub struct Clock {
    hz: f64,
}

impl Clock {
    pub fn new() -> Result<Clock> {
        let out = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .context("getconf CLK_TCK")?;
        let hz: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .context("getconf CLK_TCK output")?;
        if hz == 0 {
            return Err(anyhow!("CLK_TCK is 0"));
        }
        Ok(Clock { hz: hz as f64 })
    }

    /// CPU time used so far by `root` and all its descendants.
    pub fn tree(&self, root: u32) -> Result<Duration> {
        let procs = all_processes();
        if !procs.contains_key(&root) {
            return Err(anyhow!("process {root} is gone"));
        }
        let mut ticks = 0;
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            ticks += procs[&pid].ticks;
            stack.extend(
                procs
                    .iter()
                    .filter(|(_, s)| s.ppid == pid)
                    .map(|(child, _)| *child),
            );
        }
        Ok(Duration::from_secs_f64(ticks as f64 / self.hz))
    }
}

/// The proportional set size (kB) of `root` and all its descendants, from
/// /proc/<pid>/smaps_rollup: shared pages (Samba's forked workers share most of theirs) count
/// once in total, not once per process as RSS would.
pub fn tree_pss_kib(root: u32) -> Result<u64> {
    let procs = all_processes();
    if !procs.contains_key(&root) {
        return Err(anyhow!("process {root} is gone"));
    }
    let mut kib = 0;
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        kib += text
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        stack.extend(
            procs
                .iter()
                .filter(|(_, s)| s.ppid == pid)
                .map(|(child, _)| *child),
        );
    }
    Ok(kib)
}
