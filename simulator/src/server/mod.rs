//! The tokio edges of a running DC forest: listeners for every domain's DC (LDAP with
//! StartTLS, LDAPS, CLDAP on the LDAP port's UDP, the KDC on UDP and TCP), the Global Catalog,
//! the DNS server of the forest's zones, the control API, and the ready description clients
//! read.

pub mod cldap;
pub mod control;
pub mod control_ready;
pub mod dns;
pub mod kdc;
pub mod kpasswd;
pub mod ldap;
pub mod profile;
pub mod record;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::dsa::{Directory, ForestConfig};
use crate::kdc::replay::{self, ReplayCache};
use crate::kdc::{Kdc, KdcConfig};
pub use crate::ldap::bind::channel_binding::ChannelBindingPolicy;
use crate::ldap::bind::channel_binding::{policy_name, ChannelBinding};
use crate::ldap::bind::policy::LivePolicies;
pub use crate::ldap::bind::signing::LdapSigning;
use crate::ldap::session::ServerContext;
use crate::snapshot::Snapshots;
use crate::store::durable::DataDir;
pub use ldap::ConnectionLimits;
pub use profile::{DcPolicies, DcProfile};
use record::Recorder;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub forest: ForestConfig,
    pub listen: IpAddr,
    /// Ports of the forest root's DC (0 = ephemeral). Child domains' DCs use ephemeral ports.
    pub ldap_port: u16,
    pub ldaps_port: u16,
    pub gc_port: u16,
    /// Global Catalog over TLS (AD: 3269), the same catalogue as `gc_port`.
    pub gcs_port: u16,
    /// The root DC's KDC port, UDP and TCP (0 = ephemeral; 88 needs root or a capability).
    pub kdc_port: u16,
    /// The root DC's kpasswd port (RFC 3244), UDP and TCP (0 = ephemeral; AD: 464, which
    /// needs root or a capability). Child domains' use ephemeral ports.
    pub kpasswd_port: u16,
    /// The control API's port (0 = ephemeral).
    pub control_port: u16,
    /// The DNS server's port, UDP and TCP (0 = ephemeral; 53 needs root or a capability).
    pub dns_port: u16,
    /// The control API's address. `None`: the listen address when it is a loopback address,
    /// else 127.0.0.1 (the API is unauthenticated and hands out keys: `--listen 0.0.0.0` does
    /// not expose it).
    pub control_listen: Option<IpAddr>,
    /// KDC transport limits, and the Kerberos policy for a database without one (the
    /// directory's domains have theirs: their Default Domain Policy, `dsa::gpo`).
    pub kdc: KdcConfig,
    /// MaxClockSkew (minutes) written into every domain's Default Domain Policy at start,
    /// before the fixtures, so a reset keeps it (`--max-skew-minutes`); `None` keeps the
    /// forest's own.
    pub max_clock_skew_minutes: Option<u32>,
    /// Where the CA certificate (and exports) are written; `None` makes a temporary directory.
    pub state_dir: Option<PathBuf>,
    /// The only directory the control API writes snapshot files into (`None`: the state
    /// directory). Temporary files an interrupted write left there are removed at start.
    pub snapshot_dir: Option<PathBuf>,
    pub limits: ConnectionLimits,
    /// LDIF files applied at start, as the DC itself, in order (before the reset point).
    pub fixtures: Vec<PathBuf>,
    /// Record every LDAP and Kerberos exchange in this file as JSON lines (`record`).
    pub record: Option<PathBuf>,
    /// "Domain controller: LDAP server signing requirements" of every DC (and the GC).
    pub ldap_signing: LdapSigning,
    /// "Domain controller: LDAP server channel binding token requirements" of every DC (and
    /// the GC), checked on TLS connections.
    pub channel_binding: ChannelBindingPolicy,
    /// Keep the forest, the CA and the keys in this directory (`store::durable`): every
    /// acknowledged write survives a crash, and a restart serves the same forest. `None`: the
    /// forest lives in memory and ends with the process. Also the default state directory.
    pub data_dir: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            forest: ForestConfig::default(),
            listen: IpAddr::from([127, 0, 0, 1]),
            ldap_port: 0,
            ldaps_port: 0,
            gc_port: 0,
            gcs_port: 0,
            kdc_port: 0,
            kpasswd_port: 0,
            control_port: 0,
            dns_port: 0,
            control_listen: None,
            kdc: KdcConfig::default(),
            max_clock_skew_minutes: None,
            state_dir: None,
            snapshot_dir: None,
            limits: ConnectionLimits::default(),
            fixtures: Vec::new(),
            record: None,
            ldap_signing: LdapSigning::None,
            channel_binding: ChannelBindingPolicy::WhenSupported,
            data_dir: None,
        }
    }
}

/// What one domain's DC listens on, as printed in the ready line.
#[derive(Clone, Debug, Serialize)]
pub struct DomainEndpoint {
    pub domain: String,
    pub netbios: String,
    pub realm: String,
    pub base_dn: String,
    pub dc: String,
    pub ldap_url: String,
    pub ldaps_url: String,
    /// The domain's KDC, UDP and TCP, as `host:port` (krb5.conf's `kdc =` form).
    pub kdc: String,
    /// The domain's password service (kpasswd, RFC 3244), UDP and TCP, as `host:port`.
    pub kpasswd: String,
    pub admin: String,
    pub domain_sid: String,
}

/// The ready line (`{"event":"ready",…}`) of `adsim serve`.
#[derive(Clone, Debug, Serialize)]
pub struct ReadyInfo {
    pub event: &'static str,
    pub domain: String,
    pub realm: String,
    pub base_dn: String,
    pub ldap_url: String,
    pub ldaps_url: String,
    pub gc_url: String,
    /// The Global Catalog over TLS (`ldaps://`, AD's port 3269).
    pub gcs_url: String,
    /// The root domain's KDC (`host:port`).
    pub kdc: String,
    /// The root domain's kpasswd service (`host:port`; krb5.conf's `kpasswd_server`).
    pub kpasswd: String,
    /// Base URL of the HTTP control API (`adsim ctl --url`).
    pub control_url: String,
    /// The DNS server of the forest's zones, UDP and TCP (`host:port`).
    pub dns: String,
    pub ca_cert: String,
    pub admin: String,
    pub admin_password_source: &'static str,
    pub seed: u64,
    /// The LDAP signing requirement (`none`, `required`).
    pub ldap_signing: &'static str,
    /// The LDAP channel binding requirement (`never`, `when-supported`, `always`).
    pub channel_binding: &'static str,
    pub domains: Vec<DomainEndpoint>,
}

/// A running forest. Dropping it stops every listener.
pub struct RunningForest {
    pub dir: Arc<Directory>,
    /// Named snapshots and the reset point (shared with the control API).
    pub snapshots: Arc<Snapshots>,
    pub ready: ReadyInfo,
    pub state_dir: PathBuf,
    pub ca_pem: String,
    /// Each domain's KDC address (UDP and TCP), in the forest's domain order.
    pub kdc_addrs: Vec<SocketAddr>,
    /// The DNS server's address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// Each domain's kpasswd address (UDP and TCP), in the forest's domain order.
    pub kpasswd_addrs: Vec<SocketAddr>,
    pub control_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    _temp: Option<TempDir>,
}

impl Drop for RunningForest {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A directory removed on drop.
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot provision the forest: {0}")]
    Provision(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("state directory {path}: {source}")]
    StateDir { path: PathBuf, source: std::io::Error },
    #[error("fixture {path}: {error}")]
    Fixture {
        path: PathBuf,
        error: crate::dsa::fixtures::FixtureError,
    },
    #[error("cannot open the recording {path}: {source}")]
    Record { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::file::SnapshotFileError),
    #[error(transparent)]
    DataDir(#[from] crate::store::durable::DataDirError),
    #[error("data directory {0} already holds a forest: --from-snapshot only seeds a new data directory")]
    DataDirNotEmpty(PathBuf),
    #[error("cannot set the Kerberos policy: {0}")]
    Policy(crate::dsa::DsError),
}

async fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, StartError> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// A TCP listener and a UDP socket on the same port: a KDC's (`kdc = host:port` names both),
/// LDAP's with CLDAP, DNS's. For an ephemeral port, TCP picks it and UDP follows, retrying
/// when UDP's is taken.
async fn bind_pair(ip: IpAddr, port: u16) -> Result<(TcpListener, UdpSocket), StartError> {
    let udp_bind = |addr: SocketAddr| async move {
        UdpSocket::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })
    };
    if port != 0 {
        let tcp = bind(ip, port).await?;
        let udp = udp_bind(SocketAddr::new(ip, port)).await?;
        return Ok((tcp, udp));
    }
    let mut last = None;
    for _ in 0..32 {
        let tcp = bind(ip, 0).await?;
        let addr = tcp.local_addr().map_err(|source| StartError::Bind {
            addr: SocketAddr::new(ip, 0),
            source,
        })?;
        match udp_bind(addr).await {
            Ok(udp) => return Ok((tcp, udp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(StartError::Bind {
        addr: SocketAddr::new(ip, 0),
        source: std::io::ErrorKind::AddrInUse.into(),
    }))
}

/// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard one where the system allows,
/// so the connection limits below need not be lowered; returns the soft limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    match rlimit::increase_nofile_limit(hard) {
        Ok(now) => {
            if now > soft {
                tracing::debug!(from = soft, to = now, "open-file limit raised");
            }
            Some(now)
        }
        Err(e) => {
            tracing::debug!(error = %e, "open-file limit left as it is");
            Some(soft)
        }
    }
}

/// Descriptors left for everything but client connections: accepting on the control API, the
/// KDC's UDP replies, snapshot, record and export files.
const FD_RESERVE: usize = 32;

/// How many client connections the open-file limit leaves room for, so that idle clients can
/// never take the descriptors the control API and the KDC need (MaxConnections is lowered
/// rather than letting accept fail with EMFILE everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionBudget {
    /// All LDAP listeners together.
    pub ldap: usize,
    /// Each KDC's TCP listener.
    pub kdc_tcp_per_domain: usize,
}

impl ConnectionBudget {
    /// Three quarters of the free descriptors to LDAP, a quarter to the KDCs' TCP listeners,
    /// each within the configured limit; `soft_limit` and `open` are the process's limit and
    /// the descriptors already open.
    pub fn share(
        soft_limit: u64,
        open: usize,
        ldap: usize,
        kdc_tcp: usize,
        domains: usize,
    ) -> ConnectionBudget {
        let free = usize::try_from(soft_limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(open)
            .saturating_sub(FD_RESERVE);
        ConnectionBudget {
            ldap: ldap.min(free / 4 * 3).max(1),
            kdc_tcp_per_domain: kdc_tcp.min(free / 4 / domains.max(1)).max(1),
        }
    }

    fn for_this_process(ldap: usize, kdc_tcp: usize, domains: usize) -> ConnectionBudget {
        let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
            return ConnectionBudget {
                ldap,
                kdc_tcp_per_domain: kdc_tcp,
            };
        };
        // Linux and most BSDs list open descriptors here; elsewhere assume a few dozen.
        let open = std::fs::read_dir("/proc/self/fd").map_or(64, |d| d.count());
        let budget = ConnectionBudget::share(soft, open, ldap, kdc_tcp, domains);
        if budget.ldap < ldap || budget.kdc_tcp_per_domain < kdc_tcp {
            tracing::warn!(
                open_file_limit = soft,
                ldap_connections = budget.ldap,
                kdc_tcp_connections = budget.kdc_tcp_per_domain,
                "connection limits lowered to fit the open-file limit"
            );
        }
        budget
    }
}

fn log_exit<E: std::fmt::Display>(what: &'static str, r: Result<(), E>) {
    if let Err(e) = r {
        tracing::error!(error = %e, "{what} stopped");
    }
}

fn url(scheme: &str, addr: SocketAddr) -> String {
    format!("{scheme}://{addr}")
}

/// Hands the memory a start used and freed (fixture text and parse buffers, a snapshot file's
/// records, the copies a bulk load makes) back to the system. glibc keeps freed blocks in its
/// heap: after loading 100,000 users ~100 MiB stayed resident that no entry used (issue 12,
/// docs/benchmarks.md). `malloc_trim` releases free pages only; elsewhere this does nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim(3) takes no pointers and only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl RunningForest {
    /// Provisions the forest `config` describes and serves it; with `config.data_dir`, serves
    /// the forest the data directory holds instead (provisioning it there when it is new).
    pub async fn start(config: ServerConfig) -> Result<RunningForest, StartError> {
        Self::open(config, None).await
    }

    async fn open(
        config: ServerConfig,
        snapshot: Option<&std::path::Path>,
    ) -> Result<RunningForest, StartError> {
        let data = match &config.data_dir {
            Some(path) => Some(Arc::new(DataDir::open(path)?)),
            None => None,
        };
        if let Some(saved) = data.as_ref().map(|d| d.load()).transpose()?.flatten() {
            if snapshot.is_some() {
                return Err(StartError::DataDirNotEmpty(
                    data.map(|d| d.path().to_path_buf()).unwrap_or_default(),
                ));
            }
            let dir = saved.into_directory();
            return Self::serve(dir, config, PasswordSource::DataDir, data).await;
        }
        let (dir, source) = match snapshot {
            Some(path) => (
                crate::snapshot::file::read(path)?.into_directory(),
                PasswordSource::Snapshot,
            ),
            None => (
                Directory::provision(&config.forest).map_err(|e| StartError::Provision(e.to_string()))?,
                PasswordSource::Config,
            ),
        };
        Self::serve(dir, config, source, data).await
    }

    /// Starts from a snapshot file (`adsim serve --from-snapshot`): the forest's shape, entries,
    /// secrets, RID pools, random stream and clock come from the file; `config.forest` is
    /// ignored.
    pub async fn start_from_snapshot(
        path: &std::path::Path,
        config: ServerConfig,
    ) -> Result<RunningForest, StartError> {
        Self::open(config, Some(path)).await
    }

    /// Serves an already provisioned (or restored) directory (`config.data_dir` is ignored).
    pub async fn start_with(dir: Arc<Directory>, config: ServerConfig) -> Result<RunningForest, StartError> {
        Self::serve(dir, config, PasswordSource::Config, None).await
    }

    async fn serve(
        dir: Arc<Directory>,
        config: ServerConfig,
        source: PasswordSource,
        data: Option<Arc<DataDir>>,
    ) -> Result<RunningForest, StartError> {
        // A forest read back from its data directory had its fixtures applied when it was new.
        let fixtures: &[PathBuf] = match source {
            PasswordSource::DataDir => {
                if !config.fixtures.is_empty() {
                    tracing::info!("fixtures skipped: the data directory's forest already has them");
                }
                &[]
            }
            _ => &config.fixtures,
        };
        if let Some(minutes) = config.max_clock_skew_minutes {
            for d in 0..dir.forest.domains.len() {
                let policy = crate::dsa::gpo::KerberosPolicy {
                    max_clock_skew_minutes: minutes,
                    ..dir.kerberos_policy(d)
                };
                dir.set_kerberos_policy(&crate::dsa::Caller::system(), d, policy)
                    .map_err(StartError::Policy)?;
            }
        }
        for path in fixtures {
            let n = crate::dsa::fixtures::apply_file(&dir, path).map_err(|error| StartError::Fixture {
                path: path.clone(),
                error,
            })?;
            tracing::info!(file = %path.display(), records = n, "fixture loaded");
        }
        if let Some(data) = &data {
            if !matches!(source, PasswordSource::DataDir) {
                // A new data directory: the whole forest, in one transaction.
                data.write_all(&dir, &dir.read())?;
            }
            if dir.attach_data_dir(data.clone()).is_err() {
                tracing::warn!("the directory already had a data directory; kept the first");
            }
        }
        release_free_memory();
        // `reset` returns here: the forest as started, fixtures included.
        let snapshots = Arc::new(Snapshots::new(dir.clone()));
        let recorder = match &config.record {
            Some(path) => Some(Arc::new(Recorder::create(path, dir.clock.clone()).map_err(
                |source| StartError::Record {
                    path: path.clone(),
                    source,
                },
            )?)),
            None => None,
        };
        let (state_dir, temp) = match config.state_dir.as_ref().or(config.data_dir.as_ref()) {
            Some(p) => (p.clone(), None),
            None => {
                let p = std::env::temp_dir().join(format!("adsim-{}-{}", std::process::id(), unique()));
                (p.clone(), Some(TempDir(p)))
            }
        };
        std::fs::create_dir_all(&state_dir).map_err(|source| StartError::StateDir {
            path: state_dir.clone(),
            source,
        })?;
        let snapshot_dir = config.snapshot_dir.clone().unwrap_or_else(|| state_dir.clone());
        let stale = std::fs::create_dir_all(&snapshot_dir)
            .and_then(|_| crate::snapshot::file::remove_stale_temp_files(&snapshot_dir))
            .map_err(|source| StartError::StateDir {
                path: snapshot_dir.clone(),
                source,
            })?;
        if stale > 0 {
            tracing::warn!(dir = %snapshot_dir.display(), files = stale, "removed unfinished snapshot files");
        }

        let mut names: Vec<String> = Vec::new();
        for d in &dir.forest.domains {
            names.push(d.dc_fqdn.clone());
            names.push(d.dns_name.clone());
            names.push(d.dc_name.clone());
        }
        names.push("localhost".into());
        if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
            let h = h.trim().to_string();
            if !h.is_empty() {
                names.push(h);
            }
        }
        let mut ips = vec![config.listen];
        for ip in [
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ] {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        let tls = match &data {
            None => tls::generate(&dir.forest.root_dns, &names, &ips)?,
            // The same CA (and DC certificate, while the names it covers are the same) across
            // restarts: clients keep trusting ca.pem.
            Some(data) => {
                let saved = data.tls()?;
                let identity = match saved {
                    Some(s) if s.dns_names == names && s.ips == ips => s,
                    other => {
                        let id = tls::issue(&dir.forest.root_dns, &names, &ips, other.as_ref())?;
                        data.set_tls(&id)?;
                        id
                    }
                };
                tls::material(&identity)?
            }
        };
        let ca_path = state_dir.join("ca.pem");
        std::fs::write(&ca_path, &tls.ca_pem).map_err(|source| StartError::StateDir {
            path: ca_path.clone(),
            source,
        })?;
        let acceptor = TlsAcceptor::from(tls.server_config.clone());
        // One certificate for every listener: one binding to check against.
        let channel_binding = ChannelBinding {
            tls_server_end_point: tls.channel_binding,
        };
        // The bind policies every listener reads and the control API changes.
        let policies = Arc::new(LivePolicies::new(DcPolicies {
            ldap_signing: config.ldap_signing,
            channel_binding: config.channel_binding,
        }));

        // Bind everything first, so referral URLs are known before serving.
        let mut listeners = Vec::new();
        let mut cldap_sockets = Vec::new();
        for d in &dir.forest.domains {
            let (lp, sp) = if d.index == 0 {
                (config.ldap_port, config.ldaps_port)
            } else {
                (0, 0)
            };
            // CLDAP shares the LDAP port's number on UDP (MS-ADTS 6.3.3: UDP 389).
            let (plain, cldap) = bind_pair(config.listen, lp).await?;
            let secure = bind(config.listen, sp).await?;
            listeners.push((plain, secure));
            cldap_sockets.push(cldap);
        }
        let gc = bind(config.listen, config.gc_port).await?;
        let gcs = bind(config.listen, config.gcs_port).await?;
        let mut kdc_sockets = Vec::new();
        for d in &dir.forest.domains {
            let port = if d.index == 0 { config.kdc_port } else { 0 };
            kdc_sockets.push(bind_pair(config.listen, port).await?);
        }
        let (dns_tcp, dns_udp) = bind_pair(config.listen, config.dns_port).await?;
        let mut kpasswd_sockets = Vec::new();
        for d in &dir.forest.domains {
            let port = if d.index == 0 { config.kpasswd_port } else { 0 };
            kpasswd_sockets.push(bind_pair(config.listen, port).await?);
        }
        let control_ip = config.control_listen.unwrap_or(if config.listen.is_loopback() {
            config.listen
        } else {
            IpAddr::from([127, 0, 0, 1])
        });
        let control = bind(control_ip, config.control_port).await?;
        let addr = |l: &TcpListener| l.local_addr().expect("bound socket has an address");
        let domain_urls: Vec<String> = listeners.iter().map(|(p, _)| url("ldap", addr(p))).collect();
        let ldap_ports: Vec<u16> = listeners.iter().map(|(p, _)| addr(p).port()).collect();

        // Every listener is bound: what is left of the open-file limit is shared out now.
        let budget = ConnectionBudget::for_this_process(
            config.limits.max_connections,
            config.kdc.max_tcp_connections,
            dir.forest.domains.len(),
        );
        let kdc_config = KdcConfig {
            max_tcp_connections: budget.kdc_tcp_per_domain,
            ..config.kdc.clone()
        };
        let ldap_slots = crate::slots::Slots::new(budget.ldap);

        let mut endpoints = Vec::new();
        let mut tasks = Vec::new();
        let mut kdc_addrs = Vec::new();
        let mut kdc_handles = Vec::new();
        for (d, (tcp, udp)) in dir.forest.domains.iter().zip(kdc_sockets) {
            kdc_addrs.push(addr(&tcp));
            let db = Arc::new(kdc::DirectoryKdcDb::new(dir.clone(), d.index));
            // The KDC reads the directory's clock: moving it skews every client at once.
            let kdc = Arc::new(Kdc::new(db, dir.clock.clone(), kdc_config.clone()));
            kdc_handles.push(kdc.clone());
            let k = kdc.clone();
            let observer = recorder
                .clone()
                .map(|r| r as Arc<dyn crate::kdc::net::ExchangeObserver>);
            let o = observer.clone();
            tasks.push(tokio::spawn(async move {
                log_exit(
                    "KDC TCP listener",
                    crate::kdc::net::serve_tcp_observed(tcp, k, o).await,
                )
            }));
            tasks.push(tokio::spawn(async move {
                log_exit(
                    "KDC UDP listener",
                    crate::kdc::net::serve_udp_observed(udp, kdc, observer).await,
                )
            }));
        }
        for (d, socket) in dir.forest.domains.iter().zip(cldap_sockets) {
            let (dir, domain, ip) = (dir.clone(), d.index, config.listen);
            tasks.push(tokio::spawn(async move {
                log_exit("CLDAP listener", cldap::serve(socket, dir, domain, ip).await)
            }));
        }
        let mut kpasswd_addrs = Vec::new();
        for (d, (tcp, udp)) in dir.forest.domains.iter().zip(kpasswd_sockets) {
            kpasswd_addrs.push(addr(&tcp));
            let service = Arc::new(kpasswd::KpasswdService::new(
                dir.clone(),
                d.index,
                kdc_config.clone(),
                recorder.clone(),
            ));
            let s = service.clone();
            tasks.push(tokio::spawn(async move {
                log_exit(
                    "kpasswd TCP listener",
                    crate::kdc::net::serve_tcp_service(tcp, s).await,
                )
            }));
            tasks.push(tokio::spawn(async move {
                log_exit(
                    "kpasswd UDP listener",
                    crate::kdc::net::serve_udp_service(udp, service).await,
                )
            }));
        }
        let control_addr = addr(&control);
        let control_state = control::ControlState {
            dir: dir.clone(),
            kdcs: kdc_addrs.clone(),
            kpasswd: kpasswd_addrs.clone(),
            snapshots: snapshots.clone(),
            snapshot_dir,
            policies: policies.clone(),
            // Member hosts ask the forest's own KDCs for their tickets.
            cmdlets: Arc::new(crate::cmdlets::run::Session::new(
                dir.clone(),
                crate::cmdlets::hosts::Hosts::new(dir.clone(), kdc_handles),
            )),
        };
        let ready_slot = control_ready::ReadySlot::default();
        let control_ready = ready_slot.clone();
        tasks.push(tokio::spawn(async move {
            log_exit(
                "control API",
                control::serve(control, control_state, control_ready).await,
            )
        }));
        // One replay cache per DC account: its LDAP, LDAPS and (for the root DC) GC listeners
        // accept AP-REQs for the same service keys (RFC 4120 §3.2.3).
        let replay: Vec<Arc<ReplayCache>> = dir
            .forest
            .domains
            .iter()
            .map(|_| {
                Arc::new(ReplayCache::new(
                    config.kdc.max_skew_seconds,
                    replay::DEFAULT_CAPACITY,
                ))
            })
            .collect();
        for (((d, (plain, secure)), kdc_addr), kpasswd_addr) in dir
            .forest
            .domains
            .iter()
            .zip(listeners)
            .zip(&kdc_addrs)
            .zip(&kpasswd_addrs)
        {
            endpoints.push(DomainEndpoint {
                domain: d.dns_name.clone(),
                netbios: d.netbios.clone(),
                realm: d.realm.clone(),
                base_dn: d.dn.to_string(),
                dc: d.dc_fqdn.clone(),
                ldap_url: url("ldap", addr(&plain)),
                ldaps_url: url("ldaps", addr(&secure)),
                kdc: kdc_addr.to_string(),
                kpasswd: kpasswd_addr.to_string(),
                admin: format!("Administrator@{}", d.dns_name),
                domain_sid: d.sid.to_string(),
            });
            let ctx = ServerContext {
                service_keys: Arc::new(kdc::DirectoryKdcDb::new(dir.clone(), d.index)),
                dir: dir.clone(),
                domain: d.index,
                global_catalog: false,
                domain_urls: domain_urls.clone(),
                policies: policies.clone(),
                channel_binding,
                replay: replay[d.index].clone(),
            };
            tasks.push(tokio::spawn(ldap::serve(
                plain,
                ctx.clone(),
                ldap::Transport::Plain,
                acceptor.clone(),
                config.limits.clone(),
                ldap_slots.clone(),
                recorder.clone(),
            )));
            tasks.push(tokio::spawn(ldap::serve(
                secure,
                ctx,
                ldap::Transport::Ldaps,
                acceptor.clone(),
                config.limits.clone(),
                ldap_slots.clone(),
                recorder.clone(),
            )));
        }
        let gc_addr = addr(&gc);
        let gc_url = url("ldap", gc_addr);
        let gc_ctx = ServerContext {
            service_keys: Arc::new(kdc::DirectoryKdcDb::new(dir.clone(), 0)),
            dir: dir.clone(),
            domain: 0,
            global_catalog: true,
            domain_urls,
            policies: policies.clone(),
            channel_binding,
            replay: replay[0].clone(),
        };
        let gcs_url = url("ldaps", addr(&gcs));
        tasks.push(tokio::spawn(ldap::serve(
            gc,
            gc_ctx.clone(),
            ldap::Transport::Plain,
            acceptor.clone(),
            config.limits.clone(),
            ldap_slots.clone(),
            recorder.clone(),
        )));
        tasks.push(tokio::spawn(ldap::serve(
            gcs,
            gc_ctx,
            ldap::Transport::Ldaps,
            acceptor.clone(),
            config.limits.clone(),
            ldap_slots,
            recorder,
        )));

        // The SRV records' ports are the ones bound above, kpasswd's included.
        let kpasswd_ports: Vec<Option<u16>> = kpasswd_addrs.iter().map(|a| Some(a.port())).collect();
        let dc_ports = ldap_ports
            .iter()
            .zip(&kdc_addrs)
            .zip(kpasswd_ports)
            .map(|((ldap, kdc), kpasswd)| crate::dns::DcPorts {
                ldap: *ldap,
                kdc: kdc.port(),
                kpasswd,
            })
            .collect();
        let dns_addr = addr(&dns_tcp);
        let records = Arc::new(crate::dns::DcRecords::new(
            dir.clone(),
            config.listen,
            dc_ports,
            gc_addr.port(),
        ));
        // Secure dynamic update: tickets for `DNS/<dc>` open with each DC account's keys, whose
        // authenticators the DC's LDAP listeners also remember (one replay cache per account).
        let secure = Arc::new(crate::dns::secure::SecureUpdates::new(
            records.clone(),
            dir.forest
                .domains
                .iter()
                .map(|d| crate::dns::secure::DomainKeys {
                    keys: Arc::new(kdc::DirectoryKdcDb::new(dir.clone(), d.index)),
                    replay: replay[d.index].clone(),
                })
                .collect(),
            config.kdc.max_skew_seconds,
        ));
        tasks.push(tokio::spawn(dns::serve(dns_udp, dns_tcp, records, secure)));

        let root = endpoints[0].clone();
        let ready = ReadyInfo {
            event: "ready",
            domain: root.domain.clone(),
            realm: root.realm.clone(),
            base_dn: root.base_dn.clone(),
            ldap_url: root.ldap_url.clone(),
            ldaps_url: root.ldaps_url.clone(),
            gc_url,
            gcs_url,
            kdc: root.kdc.clone(),
            kpasswd: root.kpasswd.clone(),
            control_url: url("http", control_addr),
            dns: dns_addr.to_string(),
            ca_cert: ca_path.display().to_string(),
            admin: root.admin.clone(),
            admin_password_source: match source {
                PasswordSource::Snapshot => "snapshot",
                PasswordSource::DataDir => "data-dir",
                PasswordSource::Config
                    if config.forest.admin_password == crate::dsa::forest::DEFAULT_ADMIN_PASSWORD =>
                {
                    "default"
                }
                PasswordSource::Config => "configured",
            },
            seed: dir.seed,
            ldap_signing: config.ldap_signing.name(),
            channel_binding: policy_name(config.channel_binding),
            domains: endpoints,
        };
        let _ = ready_slot.set(control_ready::describe(&ready, &tls.ca_pem));
        Ok(RunningForest {
            dir,
            snapshots,
            ready,
            state_dir,
            ca_pem: tls.ca_pem,
            kdc_addrs,
            dns_addr,
            kpasswd_addrs,
            control_addr,
            tasks,
            _temp: temp,
        })
    }
}

/// Where the Administrator password came from, for the ready line.
#[derive(Clone, Copy)]
enum PasswordSource {
    Config,
    Snapshot,
    /// Read back from `--data-dir`.
    DataDir,
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::ConnectionBudget;

    #[test]
    fn the_open_file_limit_is_shared_out_after_a_reserve() {
        // Plenty of descriptors: the configured limits stand.
        let big = ConnectionBudget::share(1 << 20, 40, 5000, 256, 2);
        assert_eq!((big.ldap, big.kdc_tcp_per_domain), (5000, 256));
        // 1024 with 40 open and 32 kept back: 952 free, 714 to LDAP, 238 to the two KDCs.
        let small = ConnectionBudget::share(1024, 40, 5000, 256, 2);
        assert_eq!((small.ldap, small.kdc_tcp_per_domain), (714, 119));
        // Nothing free: one connection each rather than none.
        let none = ConnectionBudget::share(16, 40, 5000, 256, 1);
        assert_eq!((none.ldap, none.kdc_tcp_per_domain), (1, 1));
    }
}
