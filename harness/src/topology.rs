//! Forest topology: which domains a simulated forest has, read from a TOML file or built from
//! `adsim serve` flags, validated and normalised.
//!
//! # File format
//!
//! ```toml
//! [forest]
//! root_domain = "corp.example.test"        # required
//! netbios = "CORP"                         # optional
//! seed = 42                                # optional
//! admin_password = "Passw0rd!"             # optional
//! start_time = "2026-01-01T00:00:00Z"      # optional
//! kds_root_key = "backdated"               # optional: none | immediate | backdated
//! fixtures = ["users-small.ldif"]          # optional
//!
//! [[domain]]                               # zero or more
//! name = "child"                           # a child label of the root: child.corp.example.test
//! netbios = "CHILD"                        # optional
//! fixtures = ["child-users.ldif"]          # optional
//!
//! [[domain]]
//! dns_name = "eu.child.corp.example.test"  # or a full DNS name in the root's tree
//! ```
//!
//! `[forest]` keys:
//! * `root_domain`: DNS name of the forest root domain (letters, digits, hyphens; at least two
//!   labels). Stored lower-cased.
//! * `netbios`: NetBIOS name of the root domain; default: the first DNS label upper-cased, cut
//!   to 15 characters (what dcpromo proposes).
//! * `seed`: makes SIDs, GUIDs and every other random choice deterministic.
//! * `admin_password`: password of every domain's Administrator account.
//! * `start_time`: RFC 3339 instant (a string or a TOML offset date-time) at which the simulated
//!   clock is frozen when the forest starts.
//! * `kds_root_key`: whether the forest starts with a KDS root key, see [`KdsRootKey`];
//!   default `none`, as a freshly promoted Windows forest.
//! * `fixtures`: LDIF files imported into the forest after every domain exists.
//!
//! `[[domain]]` keys (one table per extra domain; the root domain is described by `[forest]`):
//! * `name`: a single DNS label; the domain is `<name>.<root_domain>`.
//! * `dns_name`: alternatively, the full DNS name. The parent domain (the name minus its first
//!   label) must be the root or a domain listed earlier. Separate trees are not supported.
//! * `netbios`: the domain's NetBIOS name; default as for the root.
//! * `fixtures`: LDIF files imported after the `[forest]` fixtures.
//!
//! Relative fixture paths are resolved against the TOML file's directory by
//! [`Topology::from_file`]; [`Topology::from_toml_str`] keeps them as written. Unknown keys are
//! errors.

use std::fmt;
use std::path::{Path, PathBuf};

use adsim_simulator::clock::NtTime;
use adsim_simulator::dsa::{ChildDomainConfig, ForestConfig, KdsRootKeyMode};
use serde::Deserialize;

/// The default forest root domain.
pub const DEFAULT_ROOT_DOMAIN: &str = "corp.example.test";

/// A topology that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read topology file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("topology TOML is malformed: {0}")]
    Syntax(String),
    #[error("invalid topology: {0}")]
    Invalid(String),
}

/// Whether the forest starts with a KDS root key (`msKds-ProvRootKey`, MS-GKDI), which gMSA
/// passwords derive from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KdsRootKey {
    /// No root key: gMSA passwords cannot be computed until one is added.
    #[default]
    None,
    /// A root key usable from its creation time (`Add-KdsRootKey -EffectiveImmediately`).
    Immediate,
    /// A root key whose use start time is 10 hours before its creation, the documented lab
    /// shortcut `Add-KdsRootKey -EffectiveTime ((Get-Date).AddHours(-10))`, so that DCs accept
    /// it at once.
    Backdated,
}

/// Forest-wide settings.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ForestSettings {
    /// Seed for deterministic SIDs, GUIDs and other random choices.
    pub seed: Option<u64>,
    /// Administrator password for every domain; `None` lets the simulator choose its default.
    pub admin_password: Option<String>,
    /// Instant at which the simulated clock is frozen at start; `None` follows the host clock.
    pub start_time: Option<NtTime>,
    pub kds_root_key: KdsRootKey,
    /// LDIF files imported after every domain exists, before the per-domain fixtures.
    pub fixtures: Vec<PathBuf>,
}

impl fmt::Debug for ForestSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForestSettings")
            .field("seed", &self.seed)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .field("start_time", &self.start_time)
            .field("kds_root_key", &self.kds_root_key)
            .field("fixtures", &self.fixtures)
            .finish()
    }
}

/// One domain of the forest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSettings {
    /// DNS name, lower-case, without a trailing dot.
    pub dns_name: String,
    /// NetBIOS name, upper-case.
    pub netbios: String,
    /// DNS name of the parent domain; `None` for the forest root.
    pub parent: Option<String>,
    /// LDIF files imported for this domain.
    pub fixtures: Vec<PathBuf>,
}

impl DomainSettings {
    /// Whether this is the forest root domain.
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    /// The domain naming context, e.g. `DC=corp,DC=example,DC=test`.
    pub fn base_dn(&self) -> String {
        dns_to_dn(&self.dns_name)
    }

    /// The Kerberos realm: AD names it after the domain's DNS name, upper-cased.
    pub fn realm(&self) -> String {
        self.dns_name.to_ascii_uppercase()
    }
}

/// `corp.example.test` → `DC=corp,DC=example,DC=test`.
pub fn dns_to_dn(dns_name: &str) -> String {
    dns_name
        .split('.')
        .map(|label| format!("DC={label}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A validated forest: settings plus its domains, forest root first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub forest: ForestSettings,
    /// Never empty: `domains[0]` is the forest root, the others follow in declaration order,
    /// each after its parent.
    domains: Vec<DomainSettings>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology::default_forest()
    }
}

impl Topology {
    /// One domain, `corp.example.test`, NetBIOS `CORP`, default settings.
    pub fn default_forest() -> Topology {
        Topology {
            forest: ForestSettings::default(),
            domains: vec![DomainSettings {
                dns_name: DEFAULT_ROOT_DOMAIN.to_string(),
                netbios: "CORP".to_string(),
                parent: None,
                fixtures: Vec::new(),
            }],
        }
    }

    /// A one-domain forest rooted at `root_domain`; `netbios` defaults as documented above.
    pub fn new(root_domain: &str, netbios: Option<&str>) -> Result<Topology, TopologyError> {
        let dns_name = validate_dns_domain_name(root_domain).map_err(TopologyError::Invalid)?;
        let netbios = resolve_netbios(&dns_name, netbios)?;
        Ok(Topology {
            forest: ForestSettings::default(),
            domains: vec![DomainSettings {
                dns_name,
                netbios,
                parent: None,
                fixtures: Vec::new(),
            }],
        })
    }

    /// Adds `<label>.<root>` as a child of the root domain (`adsim serve --child-domain`).
    pub fn add_child(
        &mut self,
        label: &str,
        netbios: Option<&str>,
    ) -> Result<&DomainSettings, TopologyError> {
        if label.contains('.') {
            return Err(TopologyError::Invalid(format!(
                "child domain label `{label}` must be a single DNS label; give a full DNS name instead"
            )));
        }
        validate_dns_label(label).map_err(|e| TopologyError::Invalid(format!("child domain label: {e}")))?;
        let dns_name = format!("{label}.{}", self.root().dns_name);
        self.add_domain(&dns_name, netbios)
    }

    /// Adds a domain by full DNS name; its parent must already be in the forest.
    pub fn add_domain(
        &mut self,
        dns_name: &str,
        netbios: Option<&str>,
    ) -> Result<&DomainSettings, TopologyError> {
        let dns_name = validate_dns_domain_name(dns_name).map_err(TopologyError::Invalid)?;
        let root = &self.root().dns_name;
        if !dns_name.ends_with(&format!(".{root}")) {
            let reason = if dns_name == *root {
                format!("`{dns_name}` is the forest root domain; describe it in [forest]")
            } else {
                format!(
                    "`{dns_name}` is not inside the forest root `{root}`: separate domain trees are not \
                     supported; use a child name such as `{}.{root}`",
                    dns_name.split('.').next().unwrap_or_default()
                )
            };
            return Err(TopologyError::Invalid(reason));
        }
        if self.domain(&dns_name).is_some() {
            return Err(TopologyError::Invalid(format!(
                "domain `{dns_name}` is listed twice"
            )));
        }
        // In an AD domain tree a child domain's parent is its DNS name minus the first label.
        let parent = dns_name
            .split_once('.')
            .map(|(_, p)| p.to_string())
            .unwrap_or_default();
        if self.domain(&parent).is_none() {
            return Err(TopologyError::Invalid(format!(
                "parent domain `{parent}` of `{dns_name}` is not in the forest; list it before its children"
            )));
        }
        let netbios = resolve_netbios(&dns_name, netbios)?;
        if let Some(other) = self.domains.iter().find(|d| d.netbios == netbios) {
            return Err(TopologyError::Invalid(format!(
                "NetBIOS name `{netbios}` of `{dns_name}` is already used by `{}`; NetBIOS domain names \
                 are unique in a forest",
                other.dns_name
            )));
        }
        let index = self.domains.len();
        self.domains.push(DomainSettings {
            dns_name,
            netbios,
            parent: Some(parent),
            fixtures: Vec::new(),
        });
        Ok(&self.domains[index])
    }

    /// Every domain: the forest root first, then the others in declaration order, each after
    /// its parent.
    pub fn domains(&self) -> &[DomainSettings] {
        &self.domains
    }

    /// Every domain except the forest root.
    pub fn children(&self) -> &[DomainSettings] {
        &self.domains[1..]
    }

    /// Replaces the fixtures of one domain (imported after the `[forest]` fixtures).
    pub fn set_domain_fixtures(
        &mut self,
        dns_name: &str,
        fixtures: Vec<PathBuf>,
    ) -> Result<(), TopologyError> {
        let wanted = dns_name.strip_suffix('.').unwrap_or(dns_name);
        let domain = self
            .domains
            .iter_mut()
            .find(|d| d.dns_name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| TopologyError::Invalid(format!("domain `{dns_name}` is not in the forest")))?;
        domain.fixtures = fixtures;
        Ok(())
    }

    /// The forest root domain.
    pub fn root(&self) -> &DomainSettings {
        &self.domains[0]
    }

    /// The domain with this DNS name (case-insensitive, trailing dot ignored).
    pub fn domain(&self, dns_name: &str) -> Option<&DomainSettings> {
        let wanted = dns_name.strip_suffix('.').unwrap_or(dns_name);
        self.domains
            .iter()
            .find(|d| d.dns_name.eq_ignore_ascii_case(wanted))
    }

    /// Every fixture in import order: `[forest]` fixtures, then each domain's.
    pub fn fixture_paths(&self) -> impl Iterator<Item = &Path> {
        self.forest
            .fixtures
            .iter()
            .chain(self.domains.iter().flat_map(|d| d.fixtures.iter()))
            .map(PathBuf::as_path)
    }

    /// What the simulator provisions for this topology (fixtures are not included: see
    /// [`Topology::fixture_paths`]). The simulator places child domains directly below the
    /// root only; deeper domains are refused here. `default_admin_password` applies when
    /// `[forest]` names none.
    pub fn forest_config(&self, default_admin_password: &str) -> Result<ForestConfig, TopologyError> {
        let root = self.root();
        let mut children = Vec::new();
        for d in self.children() {
            let label = d
                .dns_name
                .strip_suffix(&format!(".{}", root.dns_name))
                .filter(|l| !l.contains('.'))
                .ok_or_else(|| {
                    TopologyError::Invalid(format!(
                        "{}: only children directly below the root are supported",
                        d.dns_name
                    ))
                })?;
            children.push(ChildDomainConfig {
                label: label.to_string(),
                netbios: Some(d.netbios.clone()),
            });
        }
        Ok(ForestConfig {
            root_domain: root.dns_name.clone(),
            root_netbios: Some(root.netbios.clone()),
            children,
            admin_password: self
                .forest
                .admin_password
                .clone()
                .unwrap_or_else(|| default_admin_password.to_string()),
            seed: self.forest.seed,
            start_time: self.forest.start_time,
            kds_root_key: match self.forest.kds_root_key {
                KdsRootKey::None => KdsRootKeyMode::None,
                KdsRootKey::Immediate => KdsRootKeyMode::Immediate,
                KdsRootKey::Backdated => KdsRootKeyMode::Backdated,
            },
        })
    }

    /// Parses and validates a topology; fixture paths are kept as written.
    pub fn from_toml_str(text: &str) -> Result<Topology, TopologyError> {
        let raw: RawTopology = toml::from_str(text).map_err(|e| TopologyError::Syntax(e.to_string()))?;
        raw.into_topology()
    }

    /// Reads a topology file; relative fixture paths are resolved against its directory and
    /// must exist.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Topology, TopologyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut topology = Topology::from_toml_str(&text)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let lists = std::iter::once(&mut topology.forest.fixtures)
            .chain(topology.domains.iter_mut().map(|d| &mut d.fixtures));
        for list in lists {
            for fixture in list.iter_mut() {
                if fixture.is_relative() {
                    *fixture = base.join(&*fixture);
                }
                if !fixture.is_file() {
                    return Err(TopologyError::Invalid(format!(
                        "fixture {} (listed in {}) does not exist",
                        fixture.display(),
                        path.display()
                    )));
                }
            }
        }
        Ok(topology)
    }
}

fn resolve_netbios(dns_name: &str, given: Option<&str>) -> Result<String, TopologyError> {
    let name = match given {
        Some(name) => name.to_string(),
        None => default_netbios_name(dns_name),
    };
    validate_netbios_domain_name(&name)
        .map_err(|e| TopologyError::Invalid(format!("domain `{dns_name}`: {e}")))
}

/// The NetBIOS name dcpromo proposes: the leftmost DNS label, upper-cased, cut to 15 bytes
/// (Windows 2000 Server Resource Kit, "NetBIOS Domain Names").
pub fn default_netbios_name(dns_name: &str) -> String {
    let label = dns_name.split('.').next().unwrap_or_default();
    label.chars().take(15).collect::<String>().to_ascii_uppercase()
}

/// Checks a NetBIOS domain name and returns it upper-cased (NetBIOS names are upper-case by
/// convention). Rules, MS-SRVS 2.2.2.8 NAMETYPE_DOMAIN: 1 to 15 characters; none of
/// `"/\[]:|<>+=;,?*`, space or control characters; not made only of dots. KB 909264: must not
/// start with a period, and new domains should not use periods at all, which adsim enforces.
/// adsim also limits names to ASCII, since the OEM code page of a real DC is unknown.
pub fn validate_netbios_domain_name(name: &str) -> Result<String, String> {
    const INVALID: &str = "\"/\\[]:|<>+=;,?* .";
    if name.is_empty() {
        return Err("NetBIOS name is empty; it needs 1 to 15 characters".to_string());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || INVALID.contains(*c))
    {
        return Err(format!(
            "NetBIOS name `{name}` contains `{}`, which NetBIOS domain names cannot hold (nor any of \
             {INVALID:?}, control or non-ASCII characters)",
            c.escape_default()
        ));
    }
    if name.len() > 15 {
        return Err(format!(
            "NetBIOS name `{name}` has {} characters; NetBIOS domain names have at most 15",
            name.len()
        ));
    }
    Ok(name.to_ascii_uppercase())
}

/// Checks one DNS label: 1 to 63 letters, digits and hyphens, not starting or ending with a
/// hyphen (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1 to allow a leading digit).
pub fn validate_dns_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("empty DNS label".to_string());
    }
    if label.len() > 63 {
        return Err(format!("DNS label `{label}` is longer than 63 characters"));
    }
    if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Err(format!(
            "DNS label `{label}` contains `{}`; only letters, digits and hyphens are allowed",
            c.escape_default()
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("DNS label `{label}` starts or ends with a hyphen"));
    }
    Ok(())
}

/// Checks a DNS domain name and returns it lower-cased without a trailing dot. Rules: labels per
/// [`validate_dns_label`]; at most 253 characters (255 octets on the wire, RFC 1035 §2.3.4); the
/// last label not all digits (RFC 3696 §2); at least two labels, as Microsoft advises against
/// single-label DNS domain names (KB 909264, KB 300684).
pub fn validate_dns_domain_name(name: &str) -> Result<String, String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err("DNS domain name is empty".to_string());
    }
    if trimmed.len() > 253 {
        return Err(format!("DNS domain name `{name}` is longer than 253 characters"));
    }
    let labels: Vec<&str> = trimmed.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(format!("DNS domain name `{name}` has an empty label"));
        }
        validate_dns_label(label).map_err(|e| format!("DNS domain name `{name}`: {e}"))?;
    }
    if labels.len() < 2 {
        return Err(format!(
            "DNS domain name `{name}` has a single label; use at least two, e.g. `{name}.test`"
        ));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("DNS domain name `{name}` ends in an all-numeric label"));
    }
    Ok(trimmed.to_ascii_lowercase())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    forest: RawForest,
    #[serde(default)]
    domain: Vec<RawDomain>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForest {
    root_domain: String,
    netbios: Option<String>,
    seed: Option<u64>,
    admin_password: Option<String>,
    start_time: Option<toml::Value>,
    #[serde(default)]
    kds_root_key: KdsRootKey,
    #[serde(default)]
    fixtures: Vec<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: Option<String>,
    dns_name: Option<String>,
    netbios: Option<String>,
    #[serde(default)]
    fixtures: Vec<PathBuf>,
}

impl RawTopology {
    fn into_topology(self) -> Result<Topology, TopologyError> {
        let forest = self.forest;
        let mut topology = Topology::new(&forest.root_domain, forest.netbios.as_deref())
            .map_err(|e| context("[forest]", e))?;
        if forest.admin_password.as_deref() == Some("") {
            return Err(TopologyError::Invalid(
                "[forest]: admin_password is empty".to_string(),
            ));
        }
        topology.forest = ForestSettings {
            seed: forest.seed,
            admin_password: forest.admin_password,
            start_time: forest.start_time.map(parse_start_time).transpose()?,
            kds_root_key: forest.kds_root_key,
            fixtures: forest.fixtures,
        };
        for (index, domain) in self.domain.into_iter().enumerate() {
            let place = format!("[[domain]] #{}", index + 1);
            let added = match (domain.name.as_deref(), domain.dns_name.as_deref()) {
                (Some(label), None) => topology.add_child(label, domain.netbios.as_deref()),
                (None, Some(dns_name)) => topology.add_domain(dns_name, domain.netbios.as_deref()),
                (Some(_), Some(_)) => Err(TopologyError::Invalid(
                    "set `name` or `dns_name`, not both".into(),
                )),
                (None, None) => Err(TopologyError::Invalid(
                    "needs `name` (a child label) or `dns_name` (a full DNS name)".into(),
                )),
            };
            added.map_err(|e| context(&place, e))?;
            if let Some(last) = topology.domains.last_mut() {
                last.fixtures = domain.fixtures;
            }
        }
        Ok(topology)
    }
}

fn context(place: &str, error: TopologyError) -> TopologyError {
    match error {
        TopologyError::Invalid(message) => TopologyError::Invalid(format!("{place}: {message}")),
        other => other,
    }
}

fn parse_start_time(value: toml::Value) -> Result<NtTime, TopologyError> {
    let text = match value {
        toml::Value::String(text) => text,
        toml::Value::Datetime(datetime) => datetime.to_string(),
        other => {
            return Err(TopologyError::Invalid(format!(
                "[forest]: start_time must be an RFC 3339 date-time such as \"2026-01-01T00:00:00Z\", found {other}"
            )))
        }
    };
    NtTime::parse_rfc3339(&text).ok_or_else(|| {
        TopologyError::Invalid(format!(
            "[forest]: start_time `{text}` is not an RFC 3339 date-time with offset, e.g. \"2026-01-01T00:00:00Z\""
        ))
    })
}
