//! The baseline: MIT's own KDC (Debian `krb5-kdc`) in a throwaway realm — a temporary directory
//! with its own kdc.conf and krb5.conf (through `KRB5_KDC_PROFILE` and `KRB5_CONFIG`, so nothing
//! in /etc is read or changed), a database made with `kdb5_util create -s`, principals added with
//! `kadmin.local`, and `krb5kdc -n` on a loopback port.

use anyhow::{anyhow, bail, Context, Result};
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_DEADLINE: Duration = Duration::from_secs(20);

/// The three programs, from PATH or Debian's /usr/sbin.
pub struct Tools {
    krb5kdc: PathBuf,
    kdb5_util: PathBuf,
    kadmin_local: PathBuf,
}

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

impl Tools {
    pub fn find() -> Option<Tools> {
        Some(Tools {
            krb5kdc: find("krb5kdc")?,
            kdb5_util: find("kdb5_util")?,
            kadmin_local: find("kadmin.local")?,
        })
    }

    /// The Debian package's version (krb5kdc has no version option).
    pub fn version(&self) -> String {
        Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "krb5-kdc"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| format!("krb5-kdc {}", String::from_utf8_lossy(&o.stdout)))
            .unwrap_or_else(|| "krb5kdc (version unknown)".into())
    }
}

/// What the realm holds: users with passwords (pre-authentication required, as AD requires it
/// by default) and services with random keys.
pub struct Principals<'a> {
    pub users: &'a [(String, String)],
    pub services: &'a [String],
}

/// How the realm's database module is configured.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Variant {
    /// MIT's defaults: after each successful pre-authenticated AS exchange the KDC writes the
    /// principal's "last successful authentication" time to its database.
    Stock,
    /// `disable_last_success = true` and `disable_lockout = true` in [dbmodules] (kdc.conf(5)):
    /// no write per AS exchange, neither on success nor for lockout bookkeeping.
    NoLastSuccess,
}

/// A running krb5kdc, killed when dropped.
pub struct MitKdc {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Drop for MitKdc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago (krb5kdc cannot report an ephemeral port back).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// kdc.conf(5): listen on one loopback port (UDP and TCP), the database and stash in `dir`,
/// AES keys only (the client asks for AES256), requests logged to a file.
fn kdc_conf(dir: &Path, realm: &str, addr: SocketAddr, variant: Variant) -> String {
    let d = dir.display();
    let last_success = variant == Variant::NoLastSuccess;
    format!(
        "[kdcdefaults]
 kdc_listen = {addr}
 kdc_tcp_listen = {addr}

[realms]
 {realm} = {{
  database_module = {realm}
  database_name = {d}/principal
  key_stash_file = {d}/stash
  acl_file = {d}/kadm5.acl
  master_key_type = aes256-cts-hmac-sha1-96
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  max_life = 10h 0m 0s
  max_renewable_life = 7d 0h 0m 0s
 }}

[dbmodules]
 {realm} = {{
  db_library = db2
  disable_last_success = {last_success}
  disable_lockout = {last_success}
 }}

[logging]
 kdc = FILE:{d}/krb5kdc.log
"
    )
}

/// krb5.conf(5) for the admin tools.
fn krb5_conf(realm: &str, addr: SocketAddr) -> String {
    format!(
        "[libdefaults]
 default_realm = {realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false

[realms]
 {realm} = {{
  kdc = {addr}
 }}
"
    )
}

fn run(tools_env: &[(&str, &Path)], program: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(program)
        .args(args)
        .envs(tools_env.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} {:?}: {}{}",
            program.display(),
            args.first(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl MitKdc {
    /// Creates the realm in `dir` and starts its KDC; returns once it accepts TCP connections.
    pub fn start(
        tools: &Tools,
        dir: &Path,
        realm: &str,
        principals: &Principals,
        variant: Variant,
    ) -> Result<MitKdc> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let kdc_conf_path = dir.join("kdc.conf");
        let krb5_conf_path = dir.join("krb5.conf");
        fs::write(&kdc_conf_path, kdc_conf(dir, realm, addr, variant))?;
        fs::write(&krb5_conf_path, krb5_conf(realm, addr))?;
        fs::write(dir.join("kadm5.acl"), "")?;
        let env = [
            ("KRB5_CONFIG", krb5_conf_path.as_path()),
            ("KRB5_KDC_PROFILE", kdc_conf_path.as_path()),
        ];
        // -s: a stash file, so that krb5kdc starts without asking for the master password.
        run(
            &env,
            &tools.kdb5_util,
            &["create", "-s", "-r", realm, "-P", "bench-master-key"],
        )?;
        for (name, password) in principals.users {
            let query = format!("addprinc +requires_preauth -pw {password} {name}");
            run(&env, &tools.kadmin_local, &["-r", realm, "-q", &query])?;
        }
        for name in principals.services {
            let query = format!("addprinc -randkey {name}");
            run(&env, &tools.kadmin_local, &["-r", realm, "-q", &query])?;
        }
        let log = dir.join("krb5kdc.stderr");
        // -n: stay in the foreground, so the child is the KDC itself.
        let child = Command::new(&tools.krb5kdc)
            .args(["-n", "-r", realm])
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log)?)
            .spawn()
            .with_context(|| format!("spawn {}", tools.krb5kdc.display()))?;
        let mut kdc = MitKdc { child, addr, log };
        kdc.wait_until_listening()?;
        Ok(kdc)
    }

    fn wait_until_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("krb5kdc exited ({status}):\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                return Err(anyhow!("krb5kdc not listening after {START_DEADLINE:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The end of the KDC's own log and its standard error, for error messages.
    pub fn log_tail(&self) -> String {
        let dir = self.log.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut text = fs::read_to_string(dir.join("krb5kdc.log")).unwrap_or_default();
        text.push_str(&fs::read_to_string(&self.log).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}
