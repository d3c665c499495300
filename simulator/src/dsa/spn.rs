//! SPN aliases: the `sPNMappings` attribute of `CN=Directory Service,CN=Windows NT,CN=Services`
//! in the configuration NC (MS-ADA3 2.276; MS-DRSR 4.1.4.2.19). Each value reads
//! `target=alias,alias,…`: a name `alias/host…` not registered on any account denotes the account
//! holding `target/host…`. With the default value a DC's `HOST/` SPNs answer for `cifs/`,
//! `http/`, `rpcss/` and fifty other service classes, which is why `kvno cifs/dc1…` works
//! against a DC that registers no `cifs/` SPN.

use crate::model::dn::Dn;
use crate::store::Store;

/// The value a new forest gets (as Windows Server installs it; the same list is quoted in
/// Samba's `ldap_spn.py` tests and in its KB5008382 uniqueness work).
pub const DEFAULT_SPN_MAPPINGS: &str = "host=alerter,appmgmt,cisvc,clipsrv,browser,dhcp,dnscache,\
replicator,eventlog,eventsystem,policyagent,oakley,dmserver,dns,mcsvc,fax,msiserver,ias,messenger,\
netlogon,netman,netdde,netddedsm,nmagent,plugplay,protectedstorage,rasman,rpclocator,rpc,rpcss,\
remoteaccess,rsvp,samss,scardsvr,scesrv,seclogon,scm,dcom,cifs,spooler,snmp,schedule,tapisrv,\
trksvr,trkwks,ups,time,wins,www,http,w3svc,iisadmin,msdtc";

/// The DN of the object holding the mappings.
pub fn directory_service_dn(config_dn: &Dn) -> Dn {
    config_dn
        .child("CN", "Services")
        .child("CN", "Windows NT")
        .child("CN", "Directory Service")
}

/// The SPN `spn` maps to, if its service class is an alias in the forest's current
/// `sPNMappings` (case-insensitive): `cifs/dc1.corp` → `host/dc1.corp`.
pub fn mapped_spn(store: &Store, config_dn: &Dn, spn: &str) -> Option<String> {
    let (class, rest) = spn.split_once('/')?;
    let entry = store.get_by_dn(&directory_service_dn(config_dn))?;
    entry.values("sPNMappings").iter().find_map(|value| {
        let (target, aliases) = std::str::from_utf8(value).ok()?.split_once('=')?;
        aliases
            .split(',')
            .any(|a| a.trim().eq_ignore_ascii_case(class))
            .then(|| format!("{}/{}", target.trim(), rest))
    })
}
