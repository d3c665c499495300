//! Starts `adsim serve` on ephemeral ports and drives it with real clients.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

pub const ADMIN_PASSWORD: &str = "Adsim-Passw0rd!";

/// `adsim serve` flags for ephemeral ports everywhere.
pub const EPHEMERAL_PORTS: [&str; 16] = [
    "--ldap-port",
    "0",
    "--ldaps-port",
    "0",
    "--gc-port",
    "0",
    "--gcs-port",
    "0",
    "--kdc-port",
    "0",
    "--kpasswd-port",
    "0",
    "--control-port",
    "0",
    "--dns-port",
    "0",
];

/// `adsim serve` flags for AD's standard ports (389, 636, 3268, 3269, 88, 464, DNS on 53) on
/// `addr`, with an ephemeral control port.
pub fn standard_ports(addr: &str) -> [&str; 18] {
    [
        "--listen",
        addr,
        "--ldap-port",
        "389",
        "--ldaps-port",
        "636",
        "--gc-port",
        "3268",
        "--gcs-port",
        "3269",
        "--kdc-port",
        "88",
        "--kpasswd-port",
        "464",
        "--control-port",
        "0",
        "--dns-port",
        "53",
    ]
}

pub struct Adsim {
    child: Child,
    pub ready: serde_json::Value,
}

impl Drop for Adsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Adsim {
    pub fn start(extra: &[&str]) -> Adsim {
        let mut args = vec!["--seed", "1"];
        args.extend_from_slice(extra);
        Adsim::start_unseeded(&args)
    }

    /// `adsim serve` on ephemeral ports with only `extra` (e.g. `--from-snapshot`, which
    /// refuses `--seed`).
    pub fn start_unseeded(extra: &[&str]) -> Adsim {
        Adsim::start_with_stderr(extra, Stdio::inherit())
    }

    /// [`Adsim::start_unseeded`] with the server's log (stderr) sent to `stderr`.
    pub fn start_with_stderr(extra: &[&str], stderr: Stdio) -> Adsim {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adsim"));
        cmd.arg("serve").args(EPHEMERAL_PORTS).args(extra);
        Adsim::spawn(cmd, stderr)
    }

    /// `adsim serve --seed 1` on `addr` (a loopback alias such as 127.0.0.2) with the standard
    /// ports 389, 636, 3268, 3269 and 88 (and an ephemeral control port), for clients that reach
    /// no other port. Binding them needs root: anything else fails here, loudly.
    pub fn start_on_standard_ports(addr: &str, extra: &[&str]) -> Adsim {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        assert!(
            root,
            "clients that only use the standard ports need adsim on 389/636/88: run the tests as root"
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adsim"));
        cmd.arg("serve")
            .args(standard_ports(addr))
            .args(["--seed", "1"])
            .args(extra);
        Adsim::spawn(cmd, Stdio::inherit())
    }

    /// `adsim serve --seed 1` with `extra`, under an open-file limit of `nofile` (soft and
    /// hard, set by the shell's `ulimit -n` before it execs the server).
    pub fn start_with_open_file_limit(nofile: u32, extra: &[&str]) -> Adsim {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\"")])
            .arg(env!("CARGO_BIN_EXE_adsim"))
            .args(["serve", "--seed", "1"])
            .args(EPHEMERAL_PORTS)
            .args(extra);
        Adsim::spawn(cmd, Stdio::inherit())
    }

    /// Runs `cmd` (an `adsim serve`) and waits for its ready line.
    fn spawn(mut cmd: Command, stderr: Stdio) -> Adsim {
        cmd.stdout(Stdio::piped()).stderr(stderr);
        let mut child = cmd.spawn().expect("adsim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
        assert_eq!(ready["event"], "ready");
        Adsim { child, ready }
    }

    pub fn s(&self, key: &str) -> String {
        self.ready[key]
            .as_str()
            .unwrap_or_else(|| panic!("ready.{key}"))
            .to_string()
    }

    pub fn ldap(&self) -> String {
        self.s("ldap_url")
    }
    pub fn ldaps(&self) -> String {
        self.s("ldaps_url")
    }
    pub fn ca(&self) -> String {
        self.s("ca_cert")
    }
    pub fn base(&self) -> String {
        self.s("base_dn")
    }

    /// The root KDC as `host:port`.
    pub fn kdc(&self) -> String {
        self.s("kdc")
    }

    /// The root domain's kpasswd service as `host:port`.
    pub fn kpasswd(&self) -> String {
        self.s("kpasswd")
    }
    pub fn control_url(&self) -> String {
        self.s("control_url")
    }

    /// Runs `adsim <args>` against this server (`ADSIM_CONTROL_URL` set to its control API).
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_adsim"))
            .args(args)
            .env("ADSIM_CONTROL_URL", self.control_url())
            .output()
            .expect("adsim runs")
    }

    /// Like `cli`, asserting success; returns standard output.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(o.status.success(), "adsim {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The first value of the binary attribute `attr` (objectSid, objectGUID …) of `dn`, read
    /// with ldapsearch as the Administrator over LDAPS.
    pub fn binary_attribute(&self, dn: &str, attr: &str) -> Vec<u8> {
        use base64::Engine;
        let out = self.as_admin(
            "ldapsearch",
            &self.ldaps(),
            &["-LLL", "-o", "ldif-wrap=no", "-b", dn, "-s", "base", attr],
            None,
        );
        let ldif = text(&out);
        let b64 = ldif
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{attr}:: ")))
            .unwrap_or_else(|| panic!("{attr} of {dn}: {ldif}"));
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
    }

    /// Runs an OpenLDAP client bound as the root domain's Administrator (simple bind) to `url`.
    pub fn as_admin(&self, tool: &str, url: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all = vec!["-x", "-H", url, "-D", "CORP\\Administrator", "-w", ADMIN_PASSWORD];
        all.extend_from_slice(args);
        ldap_tool(tool, &self.ca(), &all, stdin)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Runs an OpenLDAP client with the CA trusted and full certificate checking.
pub fn ldap_tool(tool: &str, ca: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} must be installed (ldap-utils): {e}"));
    // Feed stdin from another thread: the tool may fill its stdout pipe before reading it all.
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or_default().to_string();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    out
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a python3 script with the given arguments.
pub fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs")
}

/// `"password"` as UTF-16LE, base64 (the unicodePwd value).
pub fn unicode_pwd_b64(pw: &str) -> String {
    use base64::Engine;
    let quoted: Vec<u8> = format!("\"{pw}\"")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(quoted)
}

/// Sends `request` (a whole HTTP/1.1 request) to the control API at `base`; returns the status,
/// the response head and what follows it.
fn exchange(base: &str, request: &str) -> (u16, String, Vec<u8>) {
    use std::io::Read;
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(authority).expect("control API reachable");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, head, raw[split + 4..].to_vec())
}

/// msDS-GroupMSAMembership as PowerShell writes PrincipalsAllowedToRetrieveManagedPassword for
/// one group (full control to `group_sid`), base64 for LDIF.
pub fn gmsa_membership_b64(group_sid: &adsim_simulator::security::Sid) -> String {
    use adsim_simulator::security::{sddl, AliasDomains};
    use base64::Engine;
    let sd = sddl::parse(
        &format!("O:S-1-5-32-544D:(A;;0x0f01ff;;;{group_sid})"),
        &AliasDomains::none(),
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sd)
}

/// One request to the control API (`base` is its URL), whatever the answer's status; returns
/// status and body.
pub fn http(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Vec<u8>) {
    let client = adsim_harness::control::Client::new(base).expect("a control URL");
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(client.request(method, path, body))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (answer.status, answer.body)
}

/// One request with exactly the `headers` given (each `Name: value`, no `Host` added), to the
/// control API at `base`; returns status and the JSON answer.
pub fn http_headers(
    base: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, serde_json::Value) {
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let (status, _, rest) = exchange(base, &request);
    let value = serde_json::from_slice(&rest).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&rest)
        )
    });
    (status, value)
}

/// `http` with a JSON answer.
pub fn http_json(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let (status, bytes) = http(base, method, path, body);
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, value)
}

/// An MIT Kerberos client (`kinit`, `kvno`, `klist`…) with `args`, the configuration `conf`,
/// the credential cache `ccache`, and `stdin` on its standard input.
pub fn krb5_tool(
    tool: &str,
    args: &[&str],
    conf: &std::path::Path,
    ccache: &std::path::Path,
    stdin: &str,
) -> Output {
    let mut child = Command::new(tool)
        .args(args)
        .env("KRB5_CONFIG", conf)
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} ({e}): apt-get install krb5-user"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("the client ran")
}

/// MIT `kinit principal` with `password` on standard input, the configuration `conf` and the
/// credential cache `ccache`.
pub fn kinit_with_password(
    conf: &std::path::Path,
    ccache: &std::path::Path,
    principal: &str,
    password: &str,
) -> Output {
    krb5_tool("kinit", &[principal], conf, ccache, &format!("{password}\n"))
}

/// A scratch directory under the temporary directory, removed on drop: `new` names it after
/// `tag`, the process and a counter (only characters a shell takes unquoted), and starts it
/// empty.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("adsim-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// `name` inside the directory, as text for a command line.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// Writes `content` to `name` inside the directory (its parents made); the path as text.
    pub fn write(&self, name: &str, content: &str) -> String {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
