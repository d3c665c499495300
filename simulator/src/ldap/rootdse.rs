//! The rootDSE (RFC 4512 §5.1) with the attributes AD publishes and clients read
//! (docs/notes/client-interop.md §4; MS-ADTS 3.1.1.3.2).

use crate::dsa::Directory;
use crate::ldap::controls::SUPPORTED_CONTROLS;

pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";
pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";

/// MS-ADTS 3.1.1.3.4.3 capabilities: AD DS, LDAP integration, V51, V60, V61R2, W8.
const CAPABILITIES: &[&str] = &[
    "1.2.840.113556.1.4.800",
    "1.2.840.113556.1.4.1670",
    "1.2.840.113556.1.4.1791",
    "1.2.840.113556.1.4.1935",
    "1.2.840.113556.1.4.2080",
    "1.2.840.113556.1.4.2237",
];

/// MS-ADTS 3.1.1.3.4.6 LDAP policies AD lists.
const POLICIES: &[&str] = &[
    "MaxPoolThreads",
    "MaxPercentDirSyncRequests",
    "MaxDatagramRecv",
    "MaxReceiveBuffer",
    "InitRecvTimeout",
    "MaxConnections",
    "MaxConnIdleTime",
    "MaxPageSize",
    "MaxBatchReturnMessages",
    "MaxQueryDuration",
    "MaxDirSyncDuration",
    "MaxTempTableSize",
    "MaxResultSetSize",
    "MinResultSets",
    "MaxResultSetsPerConn",
    "MaxNotificationPerConn",
    "MaxValRange",
    "MaxValRangeTransitive",
    "ThreadMemoryLimit",
    "SystemMemoryLimitPercent",
];

/// The rootDSE of the DC of `domain` (or of the GC answering for the forest).
pub fn root_dse(dir: &Directory, domain: usize, global_catalog: bool) -> Vec<(String, Vec<Vec<u8>>)> {
    let d = &dir.forest.domains[domain];
    let f = &dir.forest;
    let s = |v: &str| vec![v.as_bytes().to_vec()];
    let many = |v: &[&str]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    let mut ncs = vec![d.dn.to_string(), f.config_dn.to_string(), f.schema_dn.to_string()];
    if global_catalog {
        ncs = f.naming_contexts().iter().map(|n| n.to_string()).collect();
    }
    let usn = dir.read().store.highest_usn().to_string();
    vec![
        ("configurationNamingContext".into(), s(&f.config_dn.to_string())),
        ("currentTime".into(), s(&dir.clock.now().to_generalized_time())),
        ("defaultNamingContext".into(), s(&d.dn.to_string())),
        ("dnsHostName".into(), s(&d.dc_fqdn)),
        ("domainControllerFunctionality".into(), s("7")),
        ("domainFunctionality".into(), s("7")),
        ("dsServiceName".into(), s(&d.ntds_settings_dn.to_string())),
        ("forestFunctionality".into(), s("7")),
        ("highestCommittedUSN".into(), s(&usn)),
        ("isGlobalCatalogReady".into(), s("TRUE")),
        ("isSynchronized".into(), s("TRUE")),
        (
            "ldapServiceName".into(),
            s(&format!(
                "{}:{}$@{}",
                f.root_dns,
                d.dc_name.to_lowercase(),
                d.realm
            )),
        ),
        (
            "namingContexts".into(),
            ncs.into_iter().map(|n| n.into_bytes()).collect(),
        ),
        ("rootDomainNamingContext".into(), s(&f.root_dn.to_string())),
        ("schemaNamingContext".into(), s(&f.schema_dn.to_string())),
        ("serverName".into(), s(&d.server_dn.to_string())),
        ("subschemaSubentry".into(), s(&dir.subschema_dn())),
        ("supportedCapabilities".into(), many(CAPABILITIES)),
        ("supportedControl".into(), many(SUPPORTED_CONTROLS)),
        ("supportedExtension".into(), many(&[OID_STARTTLS, OID_WHOAMI])),
        ("supportedLDAPPolicies".into(), many(POLICIES)),
        ("supportedLDAPVersion".into(), many(&["3", "2"])),
        // Only the mechanisms adsim implements are listed (AD also lists EXTERNAL and
        // DIGEST-MD5; fidelity.md).
        (
            "supportedSASLMechanisms".into(),
            many(&super::bind::sasl_mechanisms()),
        ),
    ]
}

/// Selects rootDSE attributes for the requested list (`*`/empty means all; names match
/// case-insensitively; `+` adds nothing more since every rootDSE attribute is operational).
pub fn select(all: Vec<(String, Vec<Vec<u8>>)>, requested: &[String]) -> Vec<(String, Vec<Vec<u8>>)> {
    let everything = requested.is_empty() || requested.iter().any(|a| a == "*" || a == "+");
    all.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .filter(|(n, _)| {
            everything
                || requested
                    .iter()
                    .any(|r| r.split(';').next().unwrap_or(r).eq_ignore_ascii_case(n))
        })
        .collect()
}
