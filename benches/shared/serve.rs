//! `adsim serve` for the `gmsa`, `kerberos` and `binds` benchmarks: the release binary of this build,
//! every listener on an ephemeral loopback port, an LDIF fixture loaded at start (accounts with
//! passwords), and the JSON ready line read back to learn where each listener is.

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Password of the forest's Administrator.
pub const ADMIN_PASSWORD: &str = "Bench-Passw0rd!";
/// The default forest's root domain (`adsim serve` without `--domain`); fixtures name it literally.
pub const BASE_DN: &str = "DC=corp,DC=example,DC=test";
pub const DNS_DOMAIN: &str = "corp.example.test";
pub const REALM: &str = "CORP.EXAMPLE.TEST";

/// What the ready line says, parsed.
pub struct Ready {
    pub ldap: SocketAddr,
    pub ldaps: SocketAddr,
    /// PEM file of the CA that signed the LDAPS certificate.
    pub ca_cert: PathBuf,
    /// The root domain's KDC (UDP and TCP).
    pub kdc: SocketAddr,
    /// The HTTP control API.
    pub control: SocketAddr,
    /// How to bind as the Administrator (`CORP\Administrator`).
    pub admin: String,
}

/// A running `adsim serve`, killed when dropped.
pub struct Adsim {
    child: Child,
    /// Kept open so that the server never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    log: PathBuf,
    pub ready: Ready,
}

impl Drop for Adsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn socket_addr(url: &str, scheme: &str) -> Result<SocketAddr> {
    let authority = url
        .strip_prefix(scheme)
        .ok_or_else(|| anyhow!("{url:?} does not start with {scheme}"))?
        .trim_end_matches('/');
    let addr: SocketAddr = authority.parse().with_context(|| format!("address in {url:?}"))?;
    if !addr.ip().is_loopback() {
        bail!("the benchmark only talks to loopback addresses, not {addr}");
    }
    Ok(addr)
}

impl Adsim {
    /// Starts the default forest with `fixture` (LDIF) applied, its state in `state`.
    pub fn start(state: &Path, fixture: &Path) -> Result<Adsim> {
        let bin = env!("CARGO_BIN_EXE_adsim");
        let log = state.join("adsim.log");
        let mut child = Command::new(bin)
            .arg("serve")
            .args(["--listen", "127.0.0.1"])
            .args([
                "--ldap-port",
                "0",
                "--ldaps-port",
                "0",
                "--gc-port",
                "0",
                "--gcs-port",
                "0",
            ])
            .args([
                "--kdc-port",
                "0",
                "--kpasswd-port",
                "0",
                "--control-port",
                "0",
                "--dns-port",
                "0",
            ])
            .args(["--admin-password", ADMIN_PASSWORD])
            .arg("--fixture")
            .arg(fixture)
            .arg("--state-dir")
            .arg(state)
            .env_remove("ADSIM_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log)?)
            .spawn()
            .with_context(|| format!("spawn {bin}"))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout pipe"))?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let parsed: Result<Ready> = (|| {
            let json: serde_json::Value = serde_json::from_str(&line)?;
            let field = |k: &str| {
                json[k]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("no {k} in the ready line"))
            };
            if json["event"] != "ready" || field("base_dn")? != BASE_DN || field("realm")? != REALM {
                bail!("not the default forest's ready line");
            }
            Ok(Ready {
                ldap: socket_addr(&field("ldap_url")?, "ldap://")?,
                ldaps: socket_addr(&field("ldaps_url")?, "ldaps://")?,
                ca_cert: PathBuf::from(field("ca_cert")?),
                kdc: socket_addr(&field("kdc")?, "")?,
                control: socket_addr(&field("control_url")?, "http://")?,
                admin: field("admin")?,
            })
        })();
        let ready = match parsed {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("ready line {line:?}: {e:#}\n{}", log_tail(&log));
            }
        };
        Ok(Adsim {
            child,
            _stdout: stdout,
            log,
            ready,
        })
    }

    /// The server's process id (for its CPU time in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// A `unicodePwd` value for LDIF (`unicodePwd:: …`): the password in double quotes, UTF-16LE,
/// base64 (MS-ADTS 3.1.1.3.1.5.1).
pub fn unicode_pwd(password: &str) -> String {
    let quoted: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(quoted)
}
