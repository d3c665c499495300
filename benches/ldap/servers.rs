//! Starting and stopping the two servers under test: `adsim serve` (the release binary) and a
//! throwaway OpenLDAP slapd (temporary directory, generated slapd.conf, mdb backend, loopback
//! port). Each start gets a fresh directory so that every start builds its database from nothing,
//! as adsim builds its forest.

use crate::conn::Conn;
use crate::scratch::Scratch;
use crate::wire::{self, Scope};
use anyhow::{anyhow, bail, Context, Result};
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// How long a server may take to come up before the benchmark gives up on it.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// Pause between two readiness probes while the server is not listening yet.
const PROBE_INTERVAL: Duration = Duration::from_micros(500);

pub const ADSIM_PASSWORD: &str = "Bench-Passw0rd!";
const SLAPD_SUFFIX: &str = "dc=corp,dc=example,dc=test";
const SLAPD_ROOTDN: &str = "cn=admin,dc=corp,dc=example,dc=test";
const SLAPD_PASSWORD: &str = "bench-secret";

/// A loopback port that was free a moment ago (slapd cannot report an ephemeral port back).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Resident set size of a process, from the VmRSS line of /proc/PID/status (kB = KiB there).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for process {pid}"))
}

/// A running server and what a client needs to use it.
pub struct Server {
    child: Child,
    /// Kept open so that the server never writes to a closed pipe.
    _stdout: Option<ChildStdout>,
    log: PathBuf,
    pub addr: SocketAddr,
    pub base: String,
    pub bind_dn: String,
    pub password: String,
}

impl Server {
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.child.id().ok_or_else(|| anyhow!("server exited"))?)
    }

    /// The end of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The last lines a server wrote to its log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// An anonymous base-object search of the rootDSE: the probe that says a server answers LDAP.
pub async fn root_dse_probe(addr: SocketAddr) -> Result<()> {
    let mut conn = Conn::connect(addr).await?;
    let filter = wire::filter_present("objectClass");
    let entries = conn.search("", Scope::Base, &filter, &["namingContexts"]).await?;
    conn.unbind().await;
    if entries != 1 {
        bail!("rootDSE search returned {entries} entries");
    }
    Ok(())
}

/// Probes until the server answers, failing early if it exits.
async fn wait_until_answering(child: &mut Child, addr: SocketAddr, log: &Path) -> Result<()> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if root_dse_probe(addr).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("server exited ({status}) before answering:\n{}", log_tail(log));
        }
        if Instant::now() > deadline {
            bail!(
                "server not answering after {START_DEADLINE:?}:\n{}",
                log_tail(log)
            );
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

pub struct AdsimLauncher {
    bin: PathBuf,
    scratch: PathBuf,
    starts: usize,
    /// Start with `--data-dir` (every write synced to disk before it is answered).
    pub data_dir: bool,
}

/// How readiness is observed.
#[derive(Clone, Copy)]
pub enum Readiness {
    /// adsim's own signal: the JSON ready line on stdout.
    ReadyLine,
    /// The same probe as for slapd: the first answered rootDSE search.
    FirstAnswer,
}

impl AdsimLauncher {
    pub fn new(bin: PathBuf, scratch: &Scratch) -> Result<AdsimLauncher> {
        Ok(AdsimLauncher {
            bin,
            scratch: scratch.subdir("adsim")?,
            starts: 0,
            data_dir: false,
        })
    }

    /// Starts the default forest; returns it with the time from spawn to readiness.
    pub async fn start(&mut self, readiness: Readiness) -> Result<(Server, Duration)> {
        self.starts += 1;
        let state = self.scratch.join(format!("run{}", self.starts));
        fs::create_dir_all(&state)?;
        let log = state.join("adsim.log");
        let port = free_port()?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .args(["--ldap-port", &port.to_string()])
            .args(["--ldaps-port", "0", "--gc-port", "0", "--gcs-port", "0"])
            .args(["--admin-password", ADSIM_PASSWORD])
            .arg("--state-dir")
            .arg(&state)
            .args(if self.data_dir {
                vec!["--data-dir".into(), state.join("data")]
            } else {
                Vec::new()
            })
            .env_remove("ADSIM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log)?)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", self.bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout pipe"))?;
        let mut stdout = BufReader::new(stdout);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // With FirstAnswer the ready line is read after the probe succeeded (it is waiting in the
        // pipe by then); it still gives the base DN and the administrator's name.
        let answered = match readiness {
            Readiness::FirstAnswer => {
                wait_until_answering(&mut child, addr, &log).await?;
                Some(started.elapsed())
            }
            Readiness::ReadyLine => None,
        };
        let mut line = String::new();
        stdout.read_line(&mut line).await?;
        let elapsed = answered.unwrap_or_else(|| started.elapsed());
        let ready: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("ready line {line:?}:\n{}", log_tail(&log)))?;
        let field = |k: &str| ready[k].as_str().map(str::to_string);
        if ready["event"] != "ready" || field("ldap_url") != Some(format!("ldap://{addr}")) {
            bail!("unexpected ready line {line:?}");
        }
        let base = field("base_dn").ok_or_else(|| anyhow!("no base_dn in the ready line"))?;
        let admin = field("admin").ok_or_else(|| anyhow!("no admin in the ready line"))?;
        let server = Server {
            child,
            _stdout: Some(stdout.into_inner()),
            log,
            addr,
            base,
            bind_dn: admin,
            password: ADSIM_PASSWORD.to_string(),
        };
        Ok((server, elapsed))
    }
}

pub struct SlapdLauncher {
    bin: PathBuf,
    scratch: PathBuf,
    starts: usize,
}

impl SlapdLauncher {
    /// `$SLAPD`, else `slapd` on PATH, else Debian's /usr/sbin/slapd.
    pub fn find(scratch: &Scratch) -> Result<Option<SlapdLauncher>> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut candidates = std::env::var_os("SLAPD")
            .map(PathBuf::from)
            .into_iter()
            .chain(std::env::split_paths(&path).map(|d| d.join("slapd")))
            .chain([PathBuf::from("/usr/sbin/slapd")]);
        let Some(bin) = candidates.find(|p| p.is_file()) else {
            return Ok(None);
        };
        Ok(Some(SlapdLauncher {
            bin,
            scratch: scratch.subdir("slapd")?,
            starts: 0,
        }))
    }

    pub fn version(&self) -> String {
        std::process::Command::new(&self.bin)
            .arg("-VV")
            .output()
            .ok()
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stderr).into_owned();
                text.lines().find(|l| l.contains("slapd")).map(|l| {
                    l.trim()
                        .trim_start_matches("@(#) $OpenLDAP: ")
                        .trim_end_matches('$')
                        .trim()
                        .to_string()
                })
            })
            .unwrap_or_else(|| "unknown version".into())
    }

    /// Starts slapd on an empty mdb database; returns it with the time from spawn to the first
    /// answered rootDSE search (slapd has no ready signal of its own).
    pub async fn start(&mut self) -> Result<(Server, Duration)> {
        self.starts += 1;
        let dir = self.scratch.join(format!("run{}", self.starts));
        let db = dir.join("db");
        fs::create_dir_all(&db)?;
        let conf = dir.join("slapd.conf");
        fs::write(&conf, slapd_conf(&dir, &db))?;
        let log = dir.join("slapd.log");
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = Command::new(&self.bin);
        // -d 0 keeps slapd in the foreground (so the child is slapd itself) without debug output.
        cmd.arg("-h")
            .arg(format!("ldap://{addr}/"))
            .arg("-f")
            .arg(&conf)
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log)?)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", self.bin.display()))?;
        wait_until_answering(&mut child, addr, &log).await?;
        let elapsed = started.elapsed();
        let server = Server {
            child,
            _stdout: None,
            log,
            addr,
            base: SLAPD_SUFFIX.to_string(),
            bind_dn: SLAPD_ROOTDN.to_string(),
            password: SLAPD_PASSWORD.to_string(),
        };
        Ok((server, elapsed))
    }
}

/// slapd.conf(5) for one throwaway instance: the stock schemas that define inetOrgPerson, the mdb
/// backend module, equality indexes on the attributes the benchmark searches, and no fsync
/// (adsim keeps its directory in memory; syncing every write would measure the disk).
fn slapd_conf(dir: &Path, db: &Path) -> String {
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel none
database mdb
maxsize 1073741824
suffix \"{SLAPD_SUFFIX}\"
rootdn \"{SLAPD_ROOTDN}\"
rootpw {SLAPD_PASSWORD}
directory {db}
dbnosync
index objectClass eq
index uid eq
index cn eq
",
        dir = dir.display(),
        db = db.display(),
    )
}
