//! `cargo bench --bench binds`: binds and sealed `msDS-ManagedPassword` reads (issue 10), adsim
//! next to Samba 4.22 as an AD DC (the live peer of issue 14), measured in one run on one machine
//! with the same client processes.
//!
//! Each row runs `client.py` (ldap3 2.9.1 and impacket 0.13.1, unmodified) in 1 and in 4 client
//! processes for `ADSIM_BENCH_SECONDS` (default 3) against each server, the two servers in turns:
//! - binds per second, a bind being a new TCP connection, the bind and an unbind: simple (ldap3)
//!   over ldap:// and over ldaps://; NTLM in GSS-SPNEGO with signing and sealing (impacket's
//!   `LDAPConnection.login`, what bloodyAD uses); Kerberos in GSS-SPNEGO (impacket's
//!   `kerberosLogin` with a service ticket obtained once, so a bind costs the server one AP-REQ);
//! - sealed reads of a gMSA's `msDS-ManagedPassword` per second, each client on one NTLM-sealed
//!   ldap:// connection bound as the allowed computer WEB01$;
//! - rootDSE and equality (`sAMAccountName=WEB01$`) searches per second on one simply bound
//!   ldap3 connection per client; AS exchanges per second as kinit makes them (impacket);
//! - start-up (adsim: spawn to ready line; Samba: provision + start + accounts) and the memory
//!   (PSS) of each server's process tree after all rows;
//! - for every row, the server's CPU time per operation: user + system time of its process tree
//!   (Samba's master and all its children) from /proc before and after the run. The clients are
//!   the same Python code on both sides, so this is the fairest ratio; wall-clock rates on 2 cores
//!   also include the clients' own CPU.
//!
//! Samba is provisioned and started with `scripts/samba-peer.sh` (as root; it installs Samba 4.22
//! from bookworm-backports if missing) with `ldap server require strong auth = no`, so that simple
//! binds over plain LDAP can be compared too. If it cannot be started, adsim's figures are printed
//! and the table says why the peer column is empty.
//!
//! The table is printed and written to `target/bench-binds.md`. Loopback only.

mod clients;
#[allow(dead_code)]
#[path = "../ldap/conn.rs"]
mod conn;
mod cpu;
#[allow(dead_code)]
#[path = "../gmsa/entry.rs"]
mod entry;
#[allow(dead_code)]
#[path = "../gmsa/lab.rs"]
mod lab;
mod peer;
#[allow(dead_code)]
#[path = "../ldap/report.rs"]
mod report;
#[path = "../shared/scratch.rs"]
mod scratch;
#[allow(dead_code)]
#[path = "../shared/serve.rs"]
mod serve;
#[allow(dead_code)]
#[path = "../gmsa/tls.rs"]
mod tls;
#[allow(dead_code)]
#[path = "../ldap/wire.rs"]
mod wire;

use anyhow::{bail, Context, Result};
use clients::Outcome;
use report::{ms, Better, Columns, Row};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

/// adsim's domain controller (the default forest's DC and its LDAP SPN `ldap/<this>`).
const ADSIM_DC: &str = "dc1.corp.example.test";
/// The loopback alias Samba listens on (adsim listens on 127.0.0.1).
const SAMBA_IP: &str = "127.0.0.10";
const CLIENTS: [usize; 2] = [1, 4];

struct Case {
    what: &'static str,
    /// "bind" or "read": what one operation is.
    op: &'static str,
    mode: &'static str,
    simple_over_tls: bool,
}

const CASES: [Case; 8] = [
    Case {
        what: "simple bind over LDAP (ldap3)",
        op: "bind",
        mode: "simple",
        simple_over_tls: false,
    },
    Case {
        what: "simple bind over LDAPS (ldap3; TLS handshake included)",
        op: "bind",
        mode: "simple",
        simple_over_tls: true,
    },
    Case {
        what: "NTLM bind, GSS-SPNEGO, sealed (impacket `login`)",
        op: "bind",
        mode: "ntlm",
        simple_over_tls: false,
    },
    Case {
        what: "Kerberos bind, GSS-SPNEGO, sealed, ticket obtained once (impacket `kerberosLogin`)",
        op: "bind",
        mode: "kerberos",
        simple_over_tls: false,
    },
    Case {
        what: "sealed msDS-ManagedPassword read, one NTLM-sealed ldap:// connection per client (impacket `search`)",
        op: "read",
        mode: "read",
        simple_over_tls: false,
    },
    Case {
        what: "rootDSE search, one simply bound ldap:// connection per client (ldap3)",
        op: "search",
        mode: "rootdse",
        simple_over_tls: false,
    },
    Case {
        what: "equality search (sAMAccountName=WEB01$) of the domain, one simply bound ldap:// connection per client (ldap3)",
        op: "search",
        mode: "equality",
        simple_over_tls: false,
    },
    Case {
        what: "Kerberos AS exchange as kinit makes it (PREAUTH_REQUIRED, then pre-authenticated; impacket `getKerberosTGT`, AES256 key derived once)",
        op: "AS exchange",
        mode: "kinit",
        simple_over_tls: false,
    },
];

/// A server under test: what client.py needs to reach it, and the root of its process tree.
struct Server {
    name: &'static str,
    config: Value,
    pid: u32,
}

impl Server {
    fn config(&self, case: &Case, seconds: u64) -> Value {
        let mut config = self.config.clone();
        config["seconds"] = json!(seconds);
        config["simple_over_tls"] = json!(case.simple_over_tls);
        config
    }
}

fn seconds() -> Result<u64> {
    match std::env::var("ADSIM_BENCH_SECONDS") {
        Ok(v) => Ok(v
            .parse::<u64>()
            .with_context(|| format!("ADSIM_BENCH_SECONDS={v:?}"))?
            .max(1)),
        Err(_) => Ok(3),
    }
}

/// The client libraries must be importable before anything starts.
fn check_python(python: &str) -> Result<String> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import impacket.version as i, ldap3, sys; print(sys.version.split()[0], i.version, ldap3.__version__)",
        ])
        .output()
        .with_context(|| format!("run {python}"))?;
    if !out.status.success() {
        bail!(
            "{python} cannot import impacket and ldap3 (pip install -r tests/requirements.txt): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = v.split_whitespace().collect();
    Ok(format!(
        "Python {}, impacket {}, ldap3 {}",
        v.first().unwrap_or(&"?"),
        v.get(1).unwrap_or(&"?"),
        v.get(2).unwrap_or(&"?")
    ))
}

/// adsim with WEB01$ (fixture) and a gMSA whose password WEB01$ may read (as the gmsa bench).
async fn adsim_config(adsim: &serve::Adsim) -> Result<Value> {
    let ready = &adsim.ready;
    let ldaps = tls::Ldaps::new(ready.ldaps, &ready.ca_cert)?;
    lab::create_gmsa(&ldaps, &ready.admin, serve::ADMIN_PASSWORD)
        .await
        .with_context(|| adsim.log_tail())?;
    Ok(json!({
        "dc_host": ADSIM_DC,
        "ip": ready.ldap.ip().to_string(),
        "ldap_port": ready.ldap.port(),
        "ldaps_port": ready.ldaps.port(),
        "kdc_port": ready.kdc.port(),
        "realm": serve::REALM,
        "domain": "CORP",
        "base_dn": serve::BASE_DN,
        "user": lab::READER.trim_start_matches("CORP\\"),
        "password": lab::READER_PASSWORD,
        "gmsa_dn": lab::gmsa_dn(),
    }))
}

fn samba_config(samba: &peer::Samba) -> Result<Value> {
    Ok(json!({
        "dc_host": samba.fact("dc_host")?,
        "ip": samba.fact("ip")?,
        "ldap_port": 389,
        "ldaps_port": 636,
        "kdc_port": 88,
        "realm": samba.fact("realm")?,
        "domain": samba.fact("domain")?,
        "base_dn": samba.fact("base_dn")?,
        "user": samba.fact("reader")?,
        "password": samba.fact("reader_password")?,
        "gmsa_dn": samba.fact("gmsa_dn")?,
    }))
}

/// The figures of one row: adsim's and Samba's outcome (Samba's None without a peer).
struct Measured {
    case: &'static Case,
    clients: usize,
    adsim: Outcome,
    samba: Option<Outcome>,
}

fn rows(measured: &[Measured]) -> Vec<Row> {
    let mut rows = Vec::new();
    for m in measured {
        let processes = if m.clients == 1 { "process" } else { "processes" };
        let unit = match m.case.op {
            "bind" => "binds/s",
            "read" => "reads/s",
            "search" => "searches/s",
            _ => "exchanges/s",
        };
        rows.push(
            Row::new(
                format!("{}, {} client {processes}", m.case.what, m.clients),
                unit,
                0,
                Better::Higher,
            )
            .values(Some(m.adsim.rate), m.samba.as_ref().map(|s| s.rate)),
        );
        let cpu = |o: &Outcome| o.cpu_per_op.map(ms);
        rows.push(
            Row::new(
                format!(
                    "↳ server CPU per {} ({} client {processes})",
                    m.case.op, m.clients
                ),
                "ms",
                3,
                Better::Lower,
            )
            .values(cpu(&m.adsim), m.samba.as_ref().and_then(cpu)),
        );
    }
    rows
}

fn count_lines(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.contains(needle)).count())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let run_started = Instant::now();
    let seconds = seconds()?;
    let python = std::env::var("ADSIM_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let client_versions = check_python(&python)?;
    let clock = cpu::Clock::new()?;
    let scratch = scratch::Scratch::new()?;

    let state = scratch.subdir("adsim")?;
    let fixture = state.join("reader.ldif");
    lab::write_fixture(&fixture)?;
    let adsim_started = Instant::now();
    let adsim = serve::Adsim::start(&state, &fixture)?;
    let adsim_startup = adsim_started.elapsed();
    let adsim_server = Server {
        name: "adsim",
        config: adsim_config(&adsim).await?,
        pid: adsim.pid(),
    };

    eprintln!("starting Samba with {} (about 25 s)", peer::SCRIPT);
    let samba_dir = scratch.subdir("samba")?;
    let samba = match peer::Samba::start(&samba_dir, SAMBA_IP) {
        Ok(samba) => Ok(samba),
        Err(e) => {
            eprintln!("no peer: {e:#}");
            Err(format!("{e:#}"))
        }
    };
    let samba_server = match &samba {
        Ok(s) => Some(Server {
            name: "Samba",
            config: samba_config(s)?,
            pid: s.pid,
        }),
        Err(_) => None,
    };

    let client_dir = scratch.subdir("clients")?;
    let mut measured = Vec::new();
    let mut errors = Vec::new();
    let mut turn = 0;
    for case in &CASES {
        for &n in &CLIENTS {
            // adsim and Samba in turns, the order swapped every row.
            let mut servers: Vec<&Server> = std::iter::once(&adsim_server)
                .chain(samba_server.as_ref())
                .collect();
            if turn % 2 == 1 {
                servers.reverse();
            }
            turn += 1;
            let (mut a, mut s) = (None, None);
            for server in servers {
                let config = server.config(case, seconds);
                let outcome = clients::run(&python, case.mode, &config, n, server.pid, &clock, &client_dir)
                    .with_context(|| format!("{} × {n} against {}", case.mode, server.name))?;
                eprintln!(
                    "  {:<8} {} × {n}: {} ops, {:.0} ops/s, {:.3} ms server CPU per op{}",
                    server.name,
                    case.mode,
                    outcome.ops,
                    outcome.rate,
                    outcome.cpu_per_op.map(ms).unwrap_or(f64::NAN),
                    if outcome.errors > 0 {
                        format!(", {} errors", outcome.errors)
                    } else {
                        String::new()
                    }
                );
                if outcome.errors > 0 {
                    errors.push(format!(
                        "{} {} × {n}: {} failed operations (not counted), first: {}",
                        server.name,
                        case.mode,
                        outcome.errors,
                        outcome.first_error.as_deref().unwrap_or("?")
                    ));
                }
                if server.name == "adsim" {
                    a = Some(outcome);
                } else {
                    s = Some(outcome);
                }
            }
            measured.push(Measured {
                case,
                clients: n,
                adsim: a.context("adsim was not measured")?,
                samba: s,
            });
        }
    }

    // Start-up and memory, once each: adsim from spawn to its ready line (it provisions its
    // forest in memory on start); Samba from the script's start (provision, start, accounts) to
    // its facts. Memory after every row ran: the PSS of each server's process tree.
    let mut extra = vec![Row::new(
        "start-up: adsim spawn → ready line; Samba provision + start + accounts (samba-peer.sh)",
        "s",
        2,
        Better::Lower,
    )
    .values(
        Some(adsim_startup.as_secs_f64()),
        samba.as_ref().ok().map(|s| s.startup.as_secs_f64()),
    )];
    let pss = |pid: u32| cpu::tree_pss_kib(pid).ok().map(report::mib);
    extra.push(
        Row::new(
            "memory after all rows: PSS of the server's process tree",
            "MiB",
            1,
            Better::Lower,
        )
        .values(pss(adsim.pid()), samba.as_ref().ok().and_then(|s| pss(s.pid))),
    );

    let mut context = vec![
        format!(
            "command: `cargo bench --bench binds` (or `scripts/bench.sh binds`), as root, {}",
            report::run_date()
        ),
        report::machine(),
        format!(
            "adsim {} ({}), default forest, on 127.0.0.1; WEB01$ named by SID in the gMSA's \
             msDS-GroupMSAMembership (as benches/gmsa)",
            report::commit(),
            report::build_kind()
        ),
    ];
    let mut notes = Vec::new();
    match &samba {
        Ok(s) => {
            context.push(format!(
                "Samba {} as an AD DC on {SAMBA_IP}, provisioned by scripts/samba-peer.sh in {:.0} s \
                 with `{}` (only simple binds on plain LDAP need it); WEB01$ allowed through the group \
                 gmsa-readers; ldap:// binds, TLS and Kerberos as provisioned",
                s.fact("version")?,
                s.startup.as_secs_f64(),
                peer::OPTION
            ));
            let log = samba_dir.join("samba.log");
            let unwraps = count_lines(&log, "GSS UnWrap failed");
            if unwraps > 0 {
                notes.push(format!(
                    "Samba logged {unwraps} × \"GSS UnWrap failed: A token was invalid\" in the \
                     Kerberos rows: it cannot unwrap impacket's Kerberos-sealed PDUs (a sealed \
                     search after `kerberosLogin` fails on Samba too; adsim answers it), so there \
                     Samba's side of the unbind is a failed unwrap or just the close; the binds \
                     themselves succeeded"
                ));
            }
        }
        Err(why) => notes.push(format!(
            "**the Samba column is missing**: the peer could not be started: {why}"
        )),
    }
    context.push(format!(
        "clients: {client_versions}; benches/binds/client.py in 1 or 4 processes, each timing \
         {seconds} s after a common start signal (set-up, tickets and the read connection's bind not \
         measured); one run per row and server, adsim and Samba in turns; a bind is a new TCP \
         connection + bind + unbind; Kerberos tickets from MIT kinit/kvno (AES256 session key); \
         server CPU = utime+stime of the server's process tree (with reaped children) from /proc"
    ));
    notes.extend(errors);
    notes.push(format!(
        "the whole benchmark took {:.0} s",
        run_started.elapsed().as_secs_f64()
    ));
    drop(samba);
    drop(adsim);

    let columns = Columns {
        measured: "adsim",
        baseline: "Samba 4.22",
    };
    let title = "adsim next to Samba 4.22: start-up, memory, binds, searches, sealed \
                 msDS-ManagedPassword reads and AS exchanges (one run, same machine)";
    let mut all_rows = extra;
    all_rows.extend(rows(&measured));
    let table = report::render(title, &columns, &context, &all_rows, &notes);
    println!("{table}");
    let path = report::report_path("bench-binds.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    eprintln!("written to {}", path.display());
    Ok(())
}
