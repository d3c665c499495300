//! `adsim`: a protocol-faithful Active Directory domain-controller simulator.

mod ctl;
mod logging;
mod ps_cmd;
mod scenario_cmd;

use std::net::IpAddr;
use std::path::PathBuf;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::{ChildDomainConfig, ForestConfig, KdsRootKeyMode};
use adsim_simulator::ldap::bind::channel_binding::policy_by_name;
use adsim_simulator::server::{ChannelBindingPolicy, DcProfile, LdapSigning, RunningForest, ServerConfig};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "adsim",
    version,
    about = "A protocol-faithful Active Directory domain-controller simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a forest and serve LDAP, LDAPS (and StartTLS), CLDAP, the Global Catalog, the KDC,
    /// DNS and the control API.
    Serve(Box<ServeArgs>),
    /// Drive a running server through its control API (clock, KDS root keys, health).
    Ctl(ctl::CtlArgs),
    /// Fetch client artifacts from a running server: keytabs and krb5.conf.
    Export(ctl::ExportArgs),
    /// Replay scenario files (TOML, see scenarios/README.md) and report per step.
    Scenario(scenario_cmd::ScenarioArgs),
    /// Run PowerShell (the subset the gMSA guides use: ActiveDirectory cmdlets, variables,
    /// splatting, foreach, Select-Object) against a running server, printed as PowerShell
    /// prints it.
    Ps(ps_cmd::PsArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum RootKeyArg {
    None,
    Immediate,
    Backdated,
}

/// "Domain controller: LDAP server signing requirements" (`LDAPServerIntegrity` 1 or 2).
#[derive(Clone, Copy, clap::ValueEnum)]
enum SigningArg {
    None,
    Required,
}

/// `--channel-binding`: a name of `ldap::bind::channel_binding`'s table.
fn parse_channel_binding(s: &str) -> Result<ChannelBindingPolicy, String> {
    policy_by_name(s).ok_or_else(|| "one of never, when-supported, always".to_string())
}

/// `--dc-profile`: a name of `server::profile`'s table.
fn parse_dc_profile(s: &str) -> Result<DcProfile, String> {
    DcProfile::by_name(s).ok_or_else(|| format!("one of {}", DcProfile::names().join(", ")))
}

#[derive(clap::Args)]
struct ServeArgs {
    /// DNS name of the forest root domain.
    #[arg(long, default_value = "corp.example.test")]
    domain: String,
    /// Add LABEL.<domain> as a child domain with its own DC (repeatable).
    #[arg(long = "child-domain", value_name = "LABEL")]
    child_domain: Vec<String>,
    /// NetBIOS name of the root domain (default: first label, upper-cased).
    #[arg(long)]
    netbios: Option<String>,
    /// LDIF file to load at start, as the DC itself (repeatable, applied in order).
    #[arg(long, value_name = "FILE")]
    fixture: Vec<std::path::PathBuf>,
    /// A forest described in TOML (domains, seed, start time, root key, fixtures); replaces
    /// --domain, --child-domain, --netbios, --seed, --start-time and --kds-root-key.
    #[arg(long, value_name = "FILE")]
    topology: Option<std::path::PathBuf>,
    /// Address every listener binds to.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// LDAP port of the root domain's DC (0 = ephemeral).
    #[arg(long, default_value_t = 1389)]
    ldap_port: u16,
    /// LDAPS port of the root domain's DC (0 = ephemeral).
    #[arg(long, default_value_t = 1636)]
    ldaps_port: u16,
    /// Global Catalog port (0 = ephemeral).
    #[arg(long, default_value_t = 3268)]
    gc_port: u16,
    /// Global Catalog over TLS port (AD: 3269; 0 = ephemeral).
    #[arg(long, default_value_t = 3269)]
    gcs_port: u16,
    /// KDC port of the root domain's DC, UDP and TCP (0 = ephemeral; child domains' KDCs
    /// always use ephemeral ports, see `domains[].kdc` in the ready line).
    #[arg(long, default_value_t = 1088)]
    kdc_port: u16,
    /// kpasswd port of the root domain's DC (RFC 3244 change/set password; AD: 464), UDP and
    /// TCP (0 = ephemeral; child domains' always ephemeral, see `domains[].kpasswd`).
    #[arg(long, default_value_t = 1464)]
    kpasswd_port: u16,
    /// Port of the HTTP control API (0 = ephemeral).
    #[arg(long, default_value_t = 8389)]
    control_port: u16,
    /// Port of the DNS server of the forest's zones, UDP and TCP (0 = ephemeral; AD's 53
    /// needs root). It answers the SRV, A and CNAME records a DC registers (`dns` in the
    /// ready line).
    #[arg(long, default_value_t = 1053)]
    dns_port: u16,
    /// Address of the HTTP control API (default: the listen address when it is a loopback
    /// address, else 127.0.0.1). The API is unauthenticated and hands out keys.
    #[arg(long, value_name = "ADDR")]
    control_listen: Option<IpAddr>,
    /// Kerberos clock-skew tolerance in minutes (Windows' "Maximum tolerance for computer
    /// clock synchronization", 5 in a new forest): written into every domain's Default Domain
    /// Policy at start, as `PUT /v1/domains/{d}/kerberos-policy` would. Unset, the forest keeps
    /// its own.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1440))]
    max_skew_minutes: Option<u32>,
    /// Password of every domain's Administrator.
    #[arg(long, env = "ADSIM_ADMIN_PASSWORD", default_value = adsim_simulator::dsa::forest::DEFAULT_ADMIN_PASSWORD, hide_default_value = true)]
    admin_password: String,
    /// Directory for the CA certificate and exports (default: a temporary directory).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The only directory `POST /v1/snapshots {"path": NAME}` writes snapshot files into
    /// (default: the state directory).
    #[arg(long, value_name = "DIR")]
    snapshot_dir: Option<PathBuf>,
    /// Seed for SIDs, GUIDs and generated secrets (deterministic forests).
    #[arg(long)]
    seed: Option<u64>,
    /// Freeze the simulated clock at this RFC 3339 instant.
    #[arg(long)]
    start_time: Option<String>,
    /// The KDS root key present at start.
    #[arg(long, value_enum, default_value = "backdated")]
    kds_root_key: RootKeyArg,
    /// Largest accepted LDAP PDU in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    max_pdu: usize,
    /// Largest LDAP PDU in bytes accepted before a successful bind.
    #[arg(long, default_value_t = 256_000)]
    max_pdu_anonymous: usize,
    /// Maximum simultaneous LDAP connections, all LDAP listeners together (AD's
    /// MaxConnections); lowered at start to what the open-file limit allows. At the limit a new
    /// connection replaces the longest idle one.
    #[arg(long, default_value_t = 5000)]
    max_connections: usize,
    /// Seconds a connection may take to send the whole of one LDAP message once it has begun.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    message_timeout: u64,
    /// Seconds a TLS handshake (LDAPS, StartTLS) may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout: u64,
    /// Seconds an LDAP connection may stay idle (AD's MaxConnIdleTime).
    #[arg(long, value_name = "SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Paged-search result sets one LDAP connection keeps between pages (AD's
    /// MaxResultSetsPerConn); past it the oldest is discarded.
    #[arg(long, default_value_t = 10)]
    max_result_sets_per_conn: usize,
    /// Bytes of paged-search results one LDAP connection keeps between pages (AD's
    /// MaxResultSetSize); past it the oldest result sets are discarded.
    #[arg(long, default_value_t = 262_144)]
    max_result_set_size: usize,
    /// Start from a snapshot file (written by `adsim ctl snapshot --out FILE`): the forest's
    /// domains, every entry with its secrets, RID pools, the random stream and the clock.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topology", "domain", "child_domain", "netbios", "seed", "start_time", "kds_root_key"])]
    from_snapshot: Option<PathBuf>,
    /// Keep the forest in DIR (created when missing): every acknowledged write, the CA and the
    /// keys survive a crash or restart, and a restart with the same DIR serves the same forest
    /// (the forest options and fixtures only shape a new DIR). Without it the forest lives in
    /// memory. DIR is also the default --state-dir; it holds secrets (mode 0700).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Write every LDAP and Kerberos exchange to FILE as JSON lines (secrets redacted).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// The DC's LDAP signing requirement: `required` refuses, on plain LDAP without TLS,
    /// simple binds and SASL binds that negotiate no signing or sealing (resultCode 8).
    /// Default: the profile's (`none` without --dc-profile).
    #[arg(long, value_enum)]
    ldap_signing: Option<SigningArg>,
    /// The DC's LDAP channel binding requirement (LdapEnforceChannelBinding) for NTLM and
    /// Kerberos binds over TLS: `never`, `when-supported` (a binding the client sends must
    /// match) or `always` (a binding is required; else 49 with 80090346). Default: the
    /// profile's (`when-supported` without --dc-profile).
    #[arg(long, value_name = "never|when-supported|always", value_parser = parse_channel_binding)]
    channel_binding: Option<ChannelBindingPolicy>,
    /// Apply what a freshly installed DC of this Windows Server release enforces (`2025`:
    /// LDAP signing required, channel binding when supported); --ldap-signing and
    /// --channel-binding override it.
    #[arg(long, value_name = "default|2025", value_parser = parse_dc_profile)]
    dc_profile: Option<DcProfile>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A scenario report is the output; the in-process forest's info logs would drown it.
    let default_level = if matches!(cli.command, Command::Scenario(_) | Command::Ps(_)) {
        "warn"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only on a terminal: logs sent to a file or a pipe stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // Client-supplied strings in fields cannot forge lines or send terminal controls.
        .fmt_fields(logging::EscapedFields::default())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ADSIM_LOG")
                // hickory-server logs every DNS query at info: only its warnings by default.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(format!("{default_level},hickory_server=warn"))
                }),
        )
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => rt.block_on(serve(*args)),
        // Client commands report a failure in one line, not with a backtrace.
        Command::Ctl(args) => rt.block_on(ctl::ctl(args)).or_else(|e| fail(&e)),
        Command::Export(args) => rt.block_on(ctl::export(args)).or_else(|e| fail(&e)),
        Command::Ps(args) => match rt.block_on(ps_cmd::ps(args)) {
            Ok(0) => Ok(()),
            Ok(code) => std::process::exit(code),
            Err(e) => fail(&e),
        },
        Command::Scenario(args) => match rt.block_on(scenario_cmd::scenario(args)) {
            Ok(true) => Ok(()),
            Ok(false) => std::process::exit(1),
            Err(e) => fail(&e),
        },
    }
}

fn fail(e: &anyhow::Error) -> anyhow::Result<()> {
    eprintln!("adsim: {e:#}");
    std::process::exit(1)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Before any listener: the more descriptors, the less the connection limits are lowered.
    adsim_simulator::server::raise_open_file_limit();
    let start_time = match &args.start_time {
        Some(t) => Some(
            NtTime::parse_rfc3339(t).context("--start-time must be RFC 3339, e.g. 2026-01-01T00:00:00Z")?,
        ),
        None => None,
    };
    let forest = ForestConfig {
        root_domain: args.domain.clone(),
        root_netbios: args.netbios.clone(),
        children: args
            .child_domain
            .iter()
            .map(|l| ChildDomainConfig::labelled(l.as_str()))
            .collect(),
        admin_password: args.admin_password.clone(),
        seed: args.seed,
        start_time,
        kds_root_key: match args.kds_root_key {
            RootKeyArg::None => KdsRootKeyMode::None,
            RootKeyArg::Immediate => KdsRootKeyMode::Immediate,
            RootKeyArg::Backdated => KdsRootKeyMode::Backdated,
        },
    };
    let mut fixtures: Vec<std::path::PathBuf> = Vec::new();
    let forest = match &args.topology {
        Some(path) => {
            let t = adsim_harness::topology::Topology::from_file(path)
                .with_context(|| format!("--topology {}", path.display()))?;
            fixtures.extend(t.fixture_paths().map(std::path::Path::to_path_buf));
            t.forest_config(&args.admin_password)?
        }
        None => forest,
    };
    fixtures.extend(args.fixture.iter().cloned());
    let profile = args.dc_profile.unwrap_or(DcProfile::Default).policies();
    let config = ServerConfig {
        forest,
        listen: args.listen,
        ldap_port: args.ldap_port,
        ldaps_port: args.ldaps_port,
        gc_port: args.gc_port,
        gcs_port: args.gcs_port,
        kdc_port: args.kdc_port,
        kpasswd_port: args.kpasswd_port,
        control_port: args.control_port,
        dns_port: args.dns_port,
        control_listen: args.control_listen,
        kdc: Default::default(),
        max_clock_skew_minutes: args.max_skew_minutes,
        state_dir: args.state_dir.clone(),
        snapshot_dir: args.snapshot_dir.clone(),
        limits: adsim_simulator::server::ConnectionLimits {
            max_pdu: args.max_pdu,
            max_pdu_anonymous: args.max_pdu_anonymous,
            max_connections: args.max_connections,
            message_timeout: std::time::Duration::from_secs(args.message_timeout),
            handshake_timeout: std::time::Duration::from_secs(args.handshake_timeout),
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
            paged: adsim_simulator::ldap::session::PagedLimits {
                max_sets: args.max_result_sets_per_conn,
                max_bytes: args.max_result_set_size,
            },
        },
        fixtures,
        record: args.record.clone(),
        data_dir: args.data_dir.clone(),
        ldap_signing: match args.ldap_signing {
            Some(SigningArg::None) => LdapSigning::None,
            Some(SigningArg::Required) => LdapSigning::Required,
            None => profile.ldap_signing,
        },
        channel_binding: args.channel_binding.unwrap_or(profile.channel_binding),
    };
    let running = match &args.from_snapshot {
        Some(path) => RunningForest::start_from_snapshot(path, config).await?,
        None => RunningForest::start(config).await?,
    };
    println!("{}", serde_json::to_string(&running.ready)?);
    tracing::info!(
        domain = %running.ready.domain,
        ldap = %running.ready.ldap_url,
        kdc = %running.ready.kdc,
        control = %running.ready.control_url,
        "forest ready"
    );
    shutdown_signal().await;
    tracing::info!("stopping");
    drop(running);
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
