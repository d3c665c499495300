//! The shape of a forest: its domains, their SIDs and DCs, and the forest-wide partitions.
//! Fixed at provisioning; the objects themselves live in the store.

use crate::clock::NtTime;
use crate::model::Dn;
use crate::security::Sid;

/// What to provision.
#[derive(Clone, Debug)]
pub struct ForestConfig {
    /// DNS name of the forest root domain, e.g. `corp.example.test`.
    pub root_domain: String,
    /// NetBIOS name of the root domain (default: first label, upper-cased, at most 15 characters).
    pub root_netbios: Option<String>,
    /// Child domains: `label` becomes `label.<root_domain>`.
    pub children: Vec<ChildDomainConfig>,
    /// Password of every domain's Administrator (and of the forest's enterprise admin, the root's).
    pub admin_password: String,
    /// Seed for SIDs, GUIDs and generated secrets. `None` draws one from the OS.
    pub seed: Option<u64>,
    /// Freeze the simulated clock at this instant (deterministic replays); `None` runs on host time.
    pub start_time: Option<NtTime>,
    /// Which KDS root key to create at start.
    pub kds_root_key: KdsRootKeyMode,
}

#[derive(Clone, Debug)]
pub struct ChildDomainConfig {
    pub label: String,
    pub netbios: Option<String>,
}

impl ChildDomainConfig {
    /// A child domain named by its label, with the NetBIOS name derived from it.
    pub fn labelled(label: impl Into<String>) -> ChildDomainConfig {
        ChildDomainConfig {
            label: label.into(),
            netbios: None,
        }
    }
}

/// The KDS root key present when the forest starts (MS docs "Create the KDS root key").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdsRootKeyMode {
    /// No root key: creating a gMSA fails until one is added.
    None,
    /// `Add-KdsRootKey -EffectiveImmediately`: usable for gMSAs only 10 hours later.
    Immediate,
    /// `Add-KdsRootKey -EffectiveTime ((Get-Date).AddHours(-10))`, the documented lab practice.
    Backdated,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            root_domain: "corp.example.test".into(),
            root_netbios: None,
            children: Vec::new(),
            admin_password: DEFAULT_ADMIN_PASSWORD.into(),
            seed: None,
            start_time: None,
            kds_root_key: KdsRootKeyMode::Backdated,
        }
    }
}

pub const DEFAULT_ADMIN_PASSWORD: &str = "Adsim-Passw0rd!";

/// The default first-site name of every new forest (MS-ADTS 6.1.1.2.2).
pub const DEFAULT_SITE: &str = "Default-First-Site-Name";

#[derive(Clone, Debug)]
pub struct DomainInfo {
    pub index: usize,
    pub dns_name: String,
    pub netbios: String,
    /// Kerberos realm: the DNS name upper-cased (MS-KILE 3.1.5.1).
    pub realm: String,
    pub dn: Dn,
    pub sid: Sid,
    pub parent: Option<usize>,
    /// The DC's computer name (`DC1`), its FQDN and DNs.
    pub dc_name: String,
    pub dc_fqdn: String,
    pub dc_dn: Dn,
    pub server_dn: Dn,
    pub ntds_settings_dn: Dn,
}

#[derive(Clone, Debug)]
pub struct ForestInfo {
    pub root_dns: String,
    pub root_dn: Dn,
    pub config_dn: Dn,
    pub schema_dn: Dn,
    pub domains: Vec<DomainInfo>,
}

impl ForestInfo {
    pub fn root(&self) -> &DomainInfo {
        &self.domains[0]
    }

    /// The domain whose naming context holds `dn` (the deepest match).
    pub fn domain_of(&self, dn: &Dn) -> Option<&DomainInfo> {
        self.domains
            .iter()
            .filter(|d| dn.is_within(&d.dn) && !dn.is_within(&self.config_dn))
            .max_by_key(|d| d.dn.len())
    }

    pub fn domain_by_name(&self, name: &str) -> Option<&DomainInfo> {
        self.domains
            .iter()
            .find(|d| d.dns_name.eq_ignore_ascii_case(name) || d.netbios.eq_ignore_ascii_case(name))
    }

    pub fn domain_by_sid(&self, domain_sid: &Sid) -> Option<&DomainInfo> {
        self.domains.iter().find(|d| &d.sid == domain_sid)
    }

    /// Every naming context: the domains, configuration and schema.
    pub fn naming_contexts(&self) -> Vec<Dn> {
        let mut v: Vec<Dn> = self.domains.iter().map(|d| d.dn.clone()).collect();
        v.push(self.config_dn.clone());
        v.push(self.schema_dn.clone());
        v
    }
}

/// NetBIOS default: the first DNS label, upper-cased, at most 15 characters (MS-ADTS 6.1.1.2.1).
pub fn default_netbios(dns: &str) -> String {
    dns.split('.')
        .next()
        .unwrap_or(dns)
        .to_uppercase()
        .chars()
        .take(15)
        .collect()
}
