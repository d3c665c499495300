//! The peer: Samba 4.22 as an AD DC, provisioned and started by `scripts/samba-peer.sh` on a
//! loopback alias, stopped (the whole process tree, with one TERM to its master) when dropped.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/samba-peer.sh");
/// Simple binds on plain LDAP need this (Samba's default refuses them with 8 "BindSimple:
/// Transport encryption required."); it changes nothing for SASL binds, which are signed or sealed.
pub const OPTION: &str = "ldap server require strong auth = no";

pub struct Samba {
    pub pid: u32,
    /// What the script printed: addresses, realm, names, passwords.
    pub facts: Value,
    pub startup: Duration,
}

impl Samba {
    pub fn start(prefix: &Path, ip: &str) -> Result<Samba> {
        let started = Instant::now();
        let out = Command::new(SCRIPT)
            .arg("--prefix")
            .arg(prefix)
            .args(["--ip", ip, "--option", OPTION])
            .output()
            .with_context(|| format!("run {SCRIPT}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let why = stderr
                .lines()
                .rev()
                .find(|l| l.starts_with("samba-peer:"))
                .unwrap_or(&stderr);
            bail!("{} (exit {})", why.trim(), out.status.code().unwrap_or(-1));
        }
        let facts: Value = serde_json::from_slice(&out.stdout).context("samba-peer.sh's JSON")?;
        let pid = facts["pid"]
            .as_u64()
            .ok_or_else(|| anyhow!("no pid in {facts}"))? as u32;
        Ok(Samba {
            pid,
            facts,
            startup: started.elapsed(),
        })
    }

    pub fn fact(&self, key: &str) -> Result<String> {
        self.facts[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no {key} in samba-peer.sh's facts"))
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        // The master stops its children, then exits; at most 20 s.
        for _ in 0..200 {
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("samba (pid {}) did not stop within 20 s of SIGTERM", self.pid);
    }
}
