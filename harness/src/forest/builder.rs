//! [`ForestBuilder`]: what forest to start, and `start()`.

use std::net::IpAddr;
use std::path::PathBuf;

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::{ChildDomainConfig, ForestConfig, KdsRootKeyMode};
use adsim_simulator::kdc::KdcConfig;
use adsim_simulator::server::{RunningForest, ServerConfig};

use super::{Forest, ForestError};
use crate::topology::Topology;

/// Settings of a forest to start; get one from [`Forest::builder`]. Every listener uses an
/// ephemeral port, so any number of forests run side by side in one process.
///
/// Without settings: `corp.example.test` (NetBIOS `CORP`), a random seed, the host's clock, a
/// back-dated KDS root key (gMSAs can be created at once) and the Administrator password
/// `Adsim-Passw0rd!`.
///
/// A prepared forest saved once and started again from the file (what
/// `adsim serve --from-snapshot` does):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use adsim_harness::forest::{Forest, KdsRootKeyMode};
///
/// let prepared = Forest::builder()
///     .domain("corp.example.test")
///     .child_domain_with_netbios("emea", "EMEA")
///     .kds_root_key(KdsRootKeyMode::Backdated)
///     .admin_password("Prepared-Passw0rd!")
///     .seed(3)
///     .start()
///     .await?;
/// prepared.cmdlets().new_ad_user("alice", "Alice-Passw0rd!", Some("EMEA"))?;
/// let file = std::env::temp_dir().join(format!("adsim-doc-{}.json", std::process::id()));
/// prepared.save_snapshot(&file)?;
///
/// let forest = Forest::builder().from_snapshot(&file).start().await?;
/// assert_eq!(forest.export_ldif(), prepared.export_ldif());
/// assert!(forest.directory().simple_bind("EMEA\\alice", b"Alice-Passw0rd!").is_ok());
/// # std::fs::remove_file(&file)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `start().await`"]
pub struct ForestBuilder {
    config: ForestConfig,
    fixtures: Vec<PathBuf>,
    kdc: KdcConfig,
    max_clock_skew_minutes: Option<u32>,
    listen: IpAddr,
    record: Option<PathBuf>,
    from_snapshot: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    /// The first invalid setting, reported by `start`.
    error: Option<String>,
}

impl Default for ForestBuilder {
    fn default() -> Self {
        ForestBuilder {
            config: ForestConfig::default(),
            fixtures: Vec::new(),
            kdc: KdcConfig::default(),
            max_clock_skew_minutes: None,
            listen: IpAddr::from([127, 0, 0, 1]),
            record: None,
            from_snapshot: None,
            state_dir: None,
            error: None,
        }
    }
}

impl ForestBuilder {
    fn fail(mut self, message: String) -> Self {
        self.error.get_or_insert(message);
        self
    }

    /// DNS name of the forest root domain.
    pub fn domain(mut self, dns_name: &str) -> Self {
        self.config.root_domain = dns_name.to_string();
        self
    }

    /// NetBIOS name of the root domain (default: the first DNS label, upper-cased).
    pub fn netbios(mut self, name: &str) -> Self {
        self.config.root_netbios = Some(name.to_string());
        self
    }

    /// Adds `<label>.<root domain>` with its own DC and KDC.
    pub fn child_domain(self, label: &str) -> Self {
        self.add_child(label, None)
    }

    /// Adds a child domain with a chosen NetBIOS name.
    pub fn child_domain_with_netbios(self, label: &str, netbios: &str) -> Self {
        self.add_child(label, Some(netbios))
    }

    fn add_child(mut self, label: &str, netbios: Option<&str>) -> Self {
        self.config.children.push(ChildDomainConfig {
            label: label.to_string(),
            netbios: netbios.map(str::to_string),
        });
        self
    }

    /// Makes SIDs, GUIDs and generated secrets deterministic.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Freezes the simulated clock at `at`; it moves only through [`Forest::clock`].
    pub fn start_time(mut self, at: NtTime) -> Self {
        self.config.start_time = Some(at);
        self
    }

    /// [`ForestBuilder::start_time`] from RFC 3339 text (`2026-01-05T10:00:00Z`); bad text
    /// makes `start` fail.
    pub fn start_time_rfc3339(self, text: &str) -> Self {
        match NtTime::parse_rfc3339(text) {
            Some(t) => self.start_time(t),
            None => self.fail(format!("start time {text:?} is not RFC 3339")),
        }
    }

    /// The KDS root key present at start (default: back-dated, usable at once).
    pub fn kds_root_key(mut self, mode: KdsRootKeyMode) -> Self {
        self.config.kds_root_key = mode;
        self
    }

    /// An LDIF file applied at start as the DC itself (repeatable, in order). [`Forest::reset`]
    /// returns to the state after the fixtures.
    pub fn fixture(mut self, path: impl Into<PathBuf>) -> Self {
        self.fixtures.push(path.into());
        self
    }

    /// Every domain's Administrator password.
    pub fn admin_password(mut self, password: &str) -> Self {
        self.config.admin_password = password.to_string();
        self
    }

    /// Kerberos clock-skew tolerance, written into every domain's Default Domain Policy
    /// (MaxClockSkew, whole minutes: the policy's unit; default 5).
    pub fn max_skew_minutes(mut self, minutes: u32) -> Self {
        self.max_clock_skew_minutes = Some(minutes);
        self
    }

    /// The address every listener binds (default 127.0.0.1).
    pub fn listen(mut self, address: IpAddr) -> Self {
        self.listen = address;
        self
    }

    /// Where `ca.pem` is written (default: a temporary directory removed on drop).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Records every LDAP and Kerberos exchange into `path` as JSON lines (secrets redacted).
    pub fn record(mut self, path: impl Into<PathBuf>) -> Self {
        self.record = Some(path.into());
        self
    }

    /// Starts from a snapshot file instead of provisioning: domains, entries, secrets, RID
    /// pools, random stream and clock come from it (domain, seed, start time and root key
    /// settings are ignored; fixtures still apply on top).
    pub fn from_snapshot(mut self, path: impl Into<PathBuf>) -> Self {
        self.from_snapshot = Some(path.into());
        self
    }

    /// Takes domains, NetBIOS names, seed, start time, root key, Administrator password and
    /// fixtures from a topology (see [`crate::topology`]).
    pub fn topology(mut self, topology: &Topology) -> Self {
        match topology.forest_config(&self.config.admin_password) {
            Ok(config) => {
                self.config = config;
                self.fixtures = topology.fixture_paths().map(PathBuf::from).collect();
                self
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// Provisions the forest, applies the fixtures and starts every listener (LDAP, LDAPS,
    /// GC, each domain's KDC on UDP and TCP, the control API) on ephemeral ports.
    pub async fn start(self) -> Result<Forest, ForestError> {
        if let Some(e) = self.error {
            return Err(ForestError::Settings(e));
        }
        let admin_password = self.config.admin_password.clone();
        // Every listener on an ephemeral port: the server's defaults.
        let config = ServerConfig {
            forest: self.config,
            listen: self.listen,
            kdc: self.kdc,
            max_clock_skew_minutes: self.max_clock_skew_minutes,
            state_dir: self.state_dir,
            fixtures: self.fixtures,
            record: self.record,
            ..ServerConfig::default()
        };
        let running = match &self.from_snapshot {
            Some(path) => RunningForest::start_from_snapshot(path, config).await?,
            None => RunningForest::start(config).await?,
        };
        Ok(Forest::from_running(running, admin_password))
    }
}
