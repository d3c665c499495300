//! The KDC's view of the directory: `KdcDatabase` over `Arc<Directory>`, one instance per
//! domain (each DC's KDC serves its own domain's realm, MS-KILE 3.3.1), plus the client
//! artifacts built from it (keytabs, krb5.conf). It lives in `server/` because it joins the
//! `kdc` and `dsa` rooms, which do not know each other.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::auth::gss_krb5::ServiceKeys;
use crate::clock::NtTime;
use crate::dsa::account_state::{AccountState, KerberosVerdict};
use crate::dsa::gpo::KerberosPolicy;
use crate::dsa::{spn, token, DirState, Directory, DomainInfo};
use crate::kdc::crypto::{ETYPE_AES128, ETYPE_AES256, ETYPE_RC4_HMAC};
use crate::kdc::keytab::{entries_for_principal, write_keytab, KeytabError};
use crate::kdc::krb5conf::{render_with, RealmKdcs};
use crate::kdc::messages::PrincipalName;
use crate::kdc::policy::TicketPolicy;
use crate::kdc::{KdcDatabase, KdcPrincipal, KerberosKey, LogonRestriction, PrincipalLookup};
use crate::model::{AccountSecrets, Entry, EntryId};
use crate::security::Sid;
use std::sync::RwLockReadGuard;

/// The RID of every domain's krbtgt account (MS-ADTS 6.1.1.2.5, DOMAIN_USER_RID_KRBTGT).
const KRBTGT_RID: u32 = 502;

/// One domain's accounts as the KDC sees them.
pub struct DirectoryKdcDb {
    dir: Arc<Directory>,
    domain: usize,
    /// What the last requests derived from the directory, valid while its generation holds.
    cache: Mutex<Cache>,
}

/// Most principals the cache holds; past it the cache starts again (names come from clients,
/// but only names of existing accounts are kept, each at most once per spelling).
const MAX_CACHED_PRINCIPALS: usize = 4096;

/// Principals (keys, transitive PAC groups, salt …) and the domain's Kerberos policy as built
/// from the directory at `generation` ([`Directory::generation`]): any write to the directory
/// empties it, so a ticket carries the groups and keys valid when it is issued (a group change
/// shows in the next TGT, docs/notes/windows-behaviour.md 18). Only the time-dependent account
/// state is evaluated again at every look-up; gMSAs, whose use may roll their password over,
/// are never cached.
#[derive(Default)]
struct Cache {
    generation: u64,
    principals: HashMap<PrincipalLookup, Arc<CachedPrincipal>>,
    policy: Option<TicketPolicy>,
}

impl Cache {
    /// The cache for a reader at `generation`: emptied when the directory has changed since it
    /// was filled; `None` for a reader that started before the last change it saw.
    fn at(&mut self, generation: u64) -> Option<&mut Cache> {
        if generation < self.generation {
            return None;
        }
        if generation > self.generation {
            self.generation = generation;
            self.principals.clear();
            self.policy = None;
        }
        Some(self)
    }
}

/// A principal as of one generation, without its account state (which depends on the time).
struct CachedPrincipal {
    id: EntryId,
    principal: KdcPrincipal,
}

impl std::fmt::Debug for DirectoryKdcDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryKdcDb")
            .field("realm", &self.domain().realm)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExportError {
    #[error("no domain of this forest has the realm {0}")]
    UnknownRealm(String),
    #[error("no account named {0}")]
    UnknownPrincipal(String),
    #[error("{0} has no Kerberos keys")]
    NoKeys(String),
    #[error("keytab: {0}")]
    Keytab(#[from] KeytabError),
}

impl DirectoryKdcDb {
    /// The KDC database of the domain with index `domain` (0 = forest root).
    ///
    /// # Panics
    /// When the forest has no such domain (a programming error, not input).
    pub fn new(dir: Arc<Directory>, domain: usize) -> DirectoryKdcDb {
        assert!(domain < dir.forest.domains.len(), "no domain {domain}");
        DirectoryKdcDb {
            dir,
            domain,
            cache: Mutex::default(),
        }
    }

    /// The database of the domain whose realm is `realm` (case-insensitive).
    pub fn for_realm(dir: Arc<Directory>, realm: &str) -> Result<DirectoryKdcDb, ExportError> {
        let index = dir
            .forest
            .domains
            .iter()
            .find(|d| d.realm.eq_ignore_ascii_case(realm))
            .map(|d| d.index)
            .ok_or_else(|| ExportError::UnknownRealm(realm.to_string()))?;
        Ok(DirectoryKdcDb::new(dir, index))
    }

    pub fn domain(&self) -> &DomainInfo {
        &self.dir.forest.domains[self.domain]
    }

    /// The account entry a name denotes, in this domain only: names of other domains are the
    /// business of their own KDCs (cross-realm referrals are not simulated).
    fn find(&self, st: &DirState, name: &PrincipalLookup) -> Option<EntryId> {
        let in_domain = |id: &EntryId| {
            st.store.get(*id).is_some_and(|e| {
                self.dir
                    .forest
                    .domain_of(&e.dn)
                    .is_some_and(|d| d.index == self.domain)
            })
        };
        // The equality indexes fold case, so every look-up is case-insensitive, as AD's
        // (MS-KILE 3.3.5.1.1 compares names case-insensitively).
        match name {
            PrincipalLookup::SamAccountName(sam) => self.dir.find_sam(st, self.domain, sam),
            PrincipalLookup::Upn(upn) => st
                .store
                .find_eq("userprincipalname", upn.as_bytes())?
                .into_iter()
                .find(in_domain),
            PrincipalLookup::Spn(spn) => {
                let holder = |spn: &str| {
                    st.store
                        .find_eq("serviceprincipalname", spn.as_bytes())
                        .unwrap_or_default()
                        .into_iter()
                        .find(in_domain)
                };
                // An unregistered alias (`cifs/…`) denotes the account holding the mapped
                // SPN (`host/…`): the forest's sPNMappings (MS-DRSR 4.1.4.2.19).
                holder(spn).or_else(|| holder(&spn::mapped_spn(&st.store, &self.dir.forest.config_dn, spn)?))
            }
        }
    }

    /// Resolves `name`, first letting a gMSA whose password interval has passed roll over, so
    /// the keys read below are the current ones (docs/notes/gmsa-gkdi.md §3: any use triggers it).
    /// One read lock for any account but a gMSA (only a gMSA can be due for a rollover).
    fn principal_for(&self, name: &PrincipalLookup) -> Option<(KdcPrincipal, Vec<String>)> {
        let (st, id, _) = self.resolve(name)?;
        let entry = st.store.get(id)?;
        let principal = self.principal_from_entry(&st, entry)?;
        let spns = entry
            .values("servicePrincipalName")
            .iter()
            .filter_map(|v| String::from_utf8(v.to_vec()).ok())
            .collect();
        Some((principal, spns))
    }

    /// The account `name` denotes, under a read lock taken after any due gMSA rollover; with
    /// whether it is a gMSA.
    fn resolve(&self, name: &PrincipalLookup) -> Option<(RwLockReadGuard<'_, DirState>, EntryId, bool)> {
        let mut st = self.dir.read();
        let id = self.find(&st, name)?;
        let gmsa = st.store.get(id)?.is_class(crate::dsa::gmsa::GMSA_CLASS);
        if gmsa {
            drop(st);
            if let Err(e) = self.dir.roll_over_if_due(id) {
                // The account still authenticates with the keys it has; the next use retries.
                tracing::warn!(error = %e, "gMSA rollover failed; serving the stored keys");
            }
            st = self.dir.read();
        }
        Some((st, id, gmsa))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`KdcDatabase::lookup`]: from the cache while the directory is unchanged, with the
    /// account state of this moment (expiry and lockout move with the clock, MS-ADTS
    /// 3.1.1.4.5.17); else built from the entry and kept.
    fn cached_principal(&self, name: &PrincipalLookup) -> Option<KdcPrincipal> {
        {
            let st = self.dir.read();
            let generation = self.dir.generation();
            let hit = self
                .cache()
                .at(generation)
                .and_then(|c| c.principals.get(name).cloned());
            if let Some(hit) = hit {
                let entry = st.store.get(hit.id)?;
                let mut principal = hit.principal.clone();
                principal.logon_restriction = self.dir.account_state(&st, entry).err().map(restriction);
                return Some(principal);
            }
        }
        let (st, id, gmsa) = self.resolve(name)?;
        let generation = self.dir.generation();
        let principal = self.principal_from_entry(&st, st.store.get(id)?)?;
        drop(st);
        if !gmsa {
            // Kept unless the directory changed meanwhile (the next look-up builds it again).
            if let Some(cache) = self.cache().at(generation) {
                if cache.principals.len() >= MAX_CACHED_PRINCIPALS {
                    cache.principals.clear();
                }
                cache.principals.insert(
                    name.clone(),
                    Arc::new(CachedPrincipal {
                        id,
                        principal: principal.clone(),
                    }),
                );
            }
        }
        Some(principal)
    }

    fn principal_from_entry(&self, st: &DirState, entry: &Entry) -> Option<KdcPrincipal> {
        let d = self.domain();
        let sam = entry.first_str("sAMAccountName")?.to_string();
        let user_sid = Sid::from_bytes(entry.first("objectSid")?).ok()?;
        let (keys, previous_keys) = match entry.secrets.as_deref() {
            Some(s) => (keys_of(s), s.previous.as_deref().map(keys_of).unwrap_or_default()),
            None => (Vec::new(), Vec::new()),
        };
        Some(KdcPrincipal {
            upn: entry.first_str("userPrincipalName").map(str::to_string),
            dns_domain: d.dns_name.clone(),
            netbios_domain: d.netbios.clone(),
            realm: d.realm.clone(),
            primary_group_rid: entry
                .first_i64("primaryGroupID")
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(513),
            group_sids: pac_group_sids(st, &self.dir, entry.id),
            // userAccountControl and msDS-SupportedEncryptionTypes are 32-bit integers that
            // LDAP clients may write as negative numbers (INTEGER syntax, MS-ADTS 2.2.16).
            user_account_control: entry.first_i64("userAccountControl").unwrap_or(0) as u32,
            supported_enctypes: entry.first_i64("msDS-SupportedEncryptionTypes").map(|v| v as u32),
            keys,
            previous_keys,
            salt: self.dir.salt_for(entry, &d.realm),
            display_name: entry.first_str("displayName").map(str::to_string),
            logon_count: entry
                .first_i64("logonCount")
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            pwd_last_set: NtTime(
                entry
                    .first_i64("pwdLastSet")
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(0),
            ),
            is_krbtgt: user_sid.rid() == Some(KRBTGT_RID),
            logon_restriction: self.dir.account_state(st, entry).err().map(restriction),
            user_sid,
            sam_account_name: sam,
        })
    }

    /// An MIT keytab with every key of an account: each etype, current and previous password
    /// (a host keeps opening tickets issued before a gMSA rollover), under its
    /// sAMAccountName and each of its SPNs. `name` is a sAMAccountName (`alice`, `WEB01$`),
    /// a UPN, or an SPN (`HTTP/web01.corp.example.test`); `@REALM` of this domain may follow.
    pub fn keytab(&self, name: &str) -> Result<Vec<u8>, ExportError> {
        let (principal, spns) = self
            .export_lookups(name)
            .iter()
            .find_map(|lookup| self.principal_for(lookup))
            .ok_or_else(|| ExportError::UnknownPrincipal(name.to_string()))?;
        if principal.keys.is_empty() {
            return Err(ExportError::NoKeys(name.to_string()));
        }
        let extra: Vec<Vec<String>> = spns
            .iter()
            .map(|spn| spn.split('/').map(str::to_string).collect())
            .collect();
        let now = self.dir.clock.now().unix_seconds();
        let timestamp = u32::try_from(now.max(0)).unwrap_or(u32::MAX);
        Ok(write_keytab(&entries_for_principal(
            &principal, &extra, timestamp,
        ))?)
    }

    /// What an exported name may denote, in order. `x@REALM` is the principal `x` of this
    /// realm, or else a UPN whose suffix is the domain name (the realm differs only in case).
    fn export_lookups(&self, name: &str) -> Vec<PrincipalLookup> {
        let realm = &self.domain().realm;
        let mut out = Vec::new();
        let bare = match name.rsplit_once('@') {
            Some((n, r)) if r.eq_ignore_ascii_case(realm) => {
                out.push(PrincipalLookup::Upn(name.to_string()));
                n
            }
            _ => name,
        };
        let first = if bare.contains('/') {
            PrincipalLookup::Spn(bare.to_string())
        } else if bare.contains('@') {
            PrincipalLookup::Upn(bare.to_string())
        } else {
            PrincipalLookup::SamAccountName(bare.to_string())
        };
        out.insert(0, first);
        out
    }
}

impl KdcDatabase for DirectoryKdcDb {
    fn lookup(&self, realm: &str, name: &PrincipalLookup) -> Option<KdcPrincipal> {
        if !realm.eq_ignore_ascii_case(&self.domain().realm) {
            return None;
        }
        self.cached_principal(name)
    }

    fn realms(&self) -> Vec<String> {
        vec![self.domain().realm.clone()]
    }

    fn record_preauth(&self, realm: &str, client: &KdcPrincipal, success: bool) {
        if !realm.eq_ignore_ascii_case(&self.domain().realm) {
            return;
        }
        let id = self.find(
            &self.dir.read(),
            &PrincipalLookup::SamAccountName(client.sam_account_name.clone()),
        );
        if let Some(id) = id {
            self.dir.record_logon(id, success);
        }
    }

    fn dc_netbios_name(&self, realm: &str) -> Option<String> {
        realm
            .eq_ignore_ascii_case(&self.domain().realm)
            .then(|| self.domain().dc_name.to_uppercase())
    }

    /// Read again after any change to the directory (SYSVOL is part of its state), so a new
    /// policy applies from the next request (MS-KILE 3.3.4.1).
    fn ticket_policy(&self, realm: &str) -> Option<TicketPolicy> {
        if !realm.eq_ignore_ascii_case(&self.domain().realm) {
            return None;
        }
        // Read before the policy: a write in between leaves the newer policy under the older
        // generation, which no later request asks for.
        let generation = self.dir.generation();
        if let Some(policy) = self.cache().at(generation).and_then(|c| c.policy) {
            return Some(policy);
        }
        let policy = ticket_policy_of(&self.dir.kerberos_policy(self.domain));
        if let Some(cache) = self.cache().at(generation) {
            cache.policy = Some(policy);
        }
        Some(policy)
    }
}

/// The Default Domain Policy's [Kerberos Policy] section (MS-GPSB 2.2.2, in hours, days and
/// minutes) as the KDC's abstract data model holds it (MS-KILE 3.3.1, in seconds).
pub fn ticket_policy_of(p: &KerberosPolicy) -> TicketPolicy {
    TicketPolicy {
        max_ticket_age: p.max_ticket_seconds(),
        max_renew_age: p.max_renew_seconds(),
        max_service_age: p.max_service_seconds(),
        max_clock_skew: p.max_clock_skew_seconds(),
    }
}

/// The DC's own service keys for the LDAP acceptor (GSSAPI, GSS-SPNEGO): a ticket is accepted
/// for any name of the DC's computer account (its SPNs, `ldap/<fqdn>` among them, or its
/// sAMAccountName) in this realm, with the key of its etype and kvno (the previous password's
/// keys included).
impl ServiceKeys for DirectoryKdcDb {
    fn key(&self, sname: &PrincipalName, realm: &str, etype: i32, kvno: Option<u32>) -> Option<Vec<u8>> {
        if !realm.eq_ignore_ascii_case(&self.domain().realm) {
            return None;
        }
        let name = sname.joined();
        let lookup = if name.contains('/') {
            PrincipalLookup::Spn(name)
        } else {
            PrincipalLookup::SamAccountName(name)
        };
        let principal = self.cached_principal(&lookup)?;
        let dc_account = format!("{}$", self.domain().dc_name);
        if !principal.sam_account_name.eq_ignore_ascii_case(&dc_account) {
            return None;
        }
        principal.key_for_ticket(etype, kvno).map(|k| k.key.clone())
    }
}

/// The KDC's answer to an account state (`AccountState::kerberos`), with the reason it logs.
fn restriction(state: AccountState) -> LogonRestriction {
    match state.kerberos() {
        KerberosVerdict::KeyExpired => LogonRestriction::KeyExpired,
        KerberosVerdict::Revoked => LogonRestriction::Revoked(match state {
            AccountState::Disabled => "account disabled",
            AccountState::LockedOut => "account locked out",
            _ => "account expired",
        }),
    }
}

/// Kerberos keys from the stored secrets: AES256 (18), AES128 (17) and RC4-HMAC (23), whose key
/// is the NT hash (RFC 4757 §2), all with the account's key version number.
fn keys_of(s: &AccountSecrets) -> Vec<KerberosKey> {
    let mut keys = Vec::with_capacity(3);
    if let Some(k) = s.aes256 {
        keys.push(KerberosKey {
            etype: ETYPE_AES256,
            kvno: s.kvno,
            key: k.to_vec(),
        });
    }
    if let Some(k) = s.aes128 {
        keys.push(KerberosKey {
            etype: ETYPE_AES128,
            kvno: s.kvno,
            key: k.to_vec(),
        });
    }
    keys.push(KerberosKey {
        etype: ETYPE_RC4_HMAC,
        kvno: s.kvno,
        key: s.nt_hash.to_vec(),
    });
    keys
}

/// The group SIDs a PAC carries for an account: its transitive memberships, without the
/// BUILTIN aliases (S-1-5-32-*). Those are local to each machine: the server that builds the
/// logon token adds them from its own database, so a Windows KDC never puts them in a PAC
/// (MS-PAC 2.5 lists account-domain groups and ExtraSids of other domains only).
fn pac_group_sids(st: &DirState, dir: &Directory, id: EntryId) -> Vec<Sid> {
    let builtin = Sid::new(5, &[32]);
    token::group_sids(st, &dir.forest, id)
        .into_iter()
        .filter(|s| s.parent().as_ref() != Some(&builtin))
        .collect()
}

/// krb5.conf for the forest (krb5.conf(5)): one realm per domain with its KDC's `host:port`
/// from `kdcs` (same order as the forest's domains), the root realm as default, DNS
/// look-ups off, and the caller's extra `[libdefaults]` relations.
pub fn krb5_conf(dir: &Directory, kdcs: &[SocketAddr], libdefaults: &[(&str, &str)]) -> String {
    krb5_conf_with_kpasswd(dir, kdcs, &[], libdefaults)
}

/// [`krb5_conf`] with each realm's `kpasswd_server` from `kpasswd` (same order; may be shorter).
pub fn krb5_conf_with_kpasswd(
    dir: &Directory,
    kdcs: &[SocketAddr],
    kpasswd: &[SocketAddr],
    libdefaults: &[(&str, &str)],
) -> String {
    let realms: Vec<RealmKdcs> = dir
        .forest
        .domains
        .iter()
        .zip(kdcs)
        .enumerate()
        .map(|(i, (d, addr))| RealmKdcs {
            realm: d.realm.clone(),
            kdcs: vec![addr.to_string()],
            kpasswd: kpasswd.get(i).map(ToString::to_string),
        })
        .collect();
    let domain_realm: Vec<(String, String)> = dir
        .forest
        .domains
        .iter()
        .map(|d| (d.dns_name.clone(), d.realm.clone()))
        .collect();
    render_with(&realms, &domain_realm, libdefaults)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::request::{ModOp, Modification};
    use crate::dsa::{Caller, ChildDomainConfig, ForestConfig};
    use crate::kdc::keytab::read_keytab;

    const T0: &str = "2026-01-05T10:00:00Z";

    fn forest(children: &[&str]) -> Arc<Directory> {
        Directory::provision(&ForestConfig {
            seed: Some(7),
            start_time: NtTime::parse_rfc3339(T0),
            children: children.iter().map(|l| ChildDomainConfig::labelled(*l)).collect(),
            ..ForestConfig::default()
        })
        .unwrap()
    }

    fn pwd(pw: &str) -> Vec<u8> {
        format!("\"{pw}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn add_alice(dir: &Directory) -> String {
        let base = dir.forest.root().dn.to_string();
        let dn = format!("CN=Alice,CN=Users,{base}");
        let s = |v: &str| vec![v.as_bytes().to_vec()];
        dir.add(
            &Caller::system(),
            &dn,
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s("alice")),
                ("userPrincipalName".into(), s("alice.upn@corp.example.test")),
                ("userAccountControl".into(), s("512")),
                ("servicePrincipalName".into(), s("HTTP/App.Corp.Example.Test")),
                ("unicodePwd".into(), vec![pwd("Alice-Passw0rd!")]),
            ],
        )
        .unwrap();
        dn
    }

    /// A global group in CN=Users with these members, added as SYSTEM; its DN.
    fn add_group(dir: &Directory, cn: &str, members: &[&str]) -> String {
        let base = dir.forest.root().dn.to_string();
        let dn = format!("CN={cn},CN=Users,{base}");
        let mut attrs = vec![("objectClass".into(), vec![b"group".to_vec()])];
        if !members.is_empty() {
            attrs.push((
                "member".into(),
                members.iter().map(|m| m.as_bytes().to_vec()).collect(),
            ));
        }
        dir.add(&Caller::system(), &dn, attrs).unwrap();
        dn
    }

    fn sid_of(dir: &Directory, dn: &str) -> Sid {
        let st = dir.read();
        let id = st.store.lookup(&crate::model::Dn::parse(dn).unwrap()).unwrap();
        Sid::from_bytes(st.store.get(id).unwrap().first("objectSid").unwrap()).unwrap()
    }

    fn lookup(db: &DirectoryKdcDb, realm: &str, name: PrincipalLookup) -> Option<KdcPrincipal> {
        db.lookup(realm, &name)
    }

    #[test]
    fn finds_accounts_by_sam_upn_and_spn_case_insensitively() {
        let dir = forest(&[]);
        add_alice(&dir);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let realm = "corp.example.test"; // realms match case-insensitively
        for name in [
            PrincipalLookup::SamAccountName("ALICE".into()),
            PrincipalLookup::Upn("Alice.UPN@corp.example.test".into()),
            PrincipalLookup::Spn("http/app.corp.example.test".into()),
        ] {
            let p = lookup(&db, realm, name.clone()).unwrap_or_else(|| panic!("{name:?}"));
            assert_eq!(p.sam_account_name, "alice");
            assert_eq!(p.realm, "CORP.EXAMPLE.TEST");
            assert_eq!(p.salt, "CORP.EXAMPLE.TESTalice");
            assert!(!p.is_krbtgt && !p.is_disabled());
        }
        assert!(lookup(&db, realm, PrincipalLookup::SamAccountName("nobody".into())).is_none());
        assert!(lookup(&db, "OTHER.TEST", PrincipalLookup::SamAccountName("alice".into())).is_none());
        let dc = lookup(
            &db,
            realm,
            PrincipalLookup::Spn("LDAP/DC1.corp.example.test".into()),
        )
        .unwrap();
        assert_eq!(dc.sam_account_name, "DC1$");
        assert_eq!(dc.salt, "CORP.EXAMPLE.TESThostdc1.corp.example.test");
        assert_eq!(dc.supported_enctypes, Some(28));
        assert!(dc.is_computer());
        assert_eq!(db.dc_netbios_name("CORP.EXAMPLE.TEST").as_deref(), Some("DC1"));
    }

    /// The forest's sPNMappings make the DC's `HOST/` SPNs answer for `cifs/`, `http/` and the
    /// rest (MS-DRSR 4.1.4.2.19); the KDC reads the attribute as it stands.
    #[test]
    fn an_spn_alias_resolves_through_the_forest_s_spn_mappings() {
        use crate::dsa::request::{ModOp, Modification};
        let dir = forest(&[]);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let realm = "CORP.EXAMPLE.TEST";
        let spn = |s: &str| PrincipalLookup::Spn(s.into());
        for alias in [
            "cifs/dc1.corp.example.test",
            "CIFS/DC1.corp.example.test",
            "rpcss/dc1",
            "http/dc1.corp.example.test",
        ] {
            let p = lookup(&db, realm, spn(alias)).unwrap_or_else(|| panic!("{alias}"));
            assert_eq!(p.sam_account_name, "DC1$", "{alias}");
        }
        assert!(lookup(&db, realm, spn("nosuch/dc1.corp.example.test")).is_none());
        assert!(lookup(&db, realm, spn("cifs/unknown.corp.example.test")).is_none());

        // An administrator narrows the list: cifs/ no longer maps, http/ still does.
        let ds = crate::dsa::spn::directory_service_dn(&dir.forest.config_dn).to_string();
        dir.modify(
            &Caller::system(),
            &ds,
            vec![Modification {
                op: ModOp::Replace,
                attr: "sPNMappings".into(),
                values: vec![b"host=http,www".to_vec()],
            }],
        )
        .unwrap();
        assert!(lookup(&db, realm, spn("cifs/dc1.corp.example.test")).is_none());
        assert!(lookup(&db, realm, spn("http/dc1.corp.example.test")).is_some());
    }

    #[test]
    fn keys_come_from_the_entry_secrets() {
        let dir = forest(&[]);
        add_alice(&dir);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let alice = lookup(
            &db,
            "CORP.EXAMPLE.TEST",
            PrincipalLookup::SamAccountName("alice".into()),
        )
        .unwrap();
        let expected = crate::keys::derive_from_utf16(
            &"Alice-Passw0rd!"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>(),
            "CORP.EXAMPLE.TESTalice",
        );
        assert_eq!(alice.key(18).unwrap().key, expected.aes256.to_vec());
        assert_eq!(alice.key(17).unwrap().key, expected.aes128.to_vec());
        assert_eq!(alice.key(23).unwrap().key, expected.nt_hash.to_vec());
        let kvno = alice.key(18).unwrap().kvno;
        assert!(alice.keys.iter().all(|k| k.kvno == kvno));
        assert!(alice.previous_keys.is_empty());
        assert_eq!(alice.primary_group_rid, 513);
        let domain_users = dir.forest.root().sid.with_rid(513);
        assert!(alice.group_sids.contains(&domain_users));
    }

    #[test]
    fn krbtgt_is_marked_and_groups_leave_out_builtin_aliases() {
        let dir = forest(&[]);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let krbtgt = lookup(
            &db,
            "CORP.EXAMPLE.TEST",
            PrincipalLookup::SamAccountName("krbtgt".into()),
        )
        .unwrap();
        assert!(krbtgt.is_krbtgt && krbtgt.is_disabled());
        assert_eq!(krbtgt.key(18).map(|k| k.key.len()), Some(32));
        let admin = lookup(
            &db,
            "CORP.EXAMPLE.TEST",
            PrincipalLookup::SamAccountName("Administrator".into()),
        )
        .unwrap();
        let domain_admins = dir.forest.root().sid.with_rid(512);
        assert!(
            admin.group_sids.contains(&domain_admins),
            "{:?}",
            admin.group_sids
        );
        assert!(
            admin
                .group_sids
                .iter()
                .all(|s| !s.to_string().starts_with("S-1-5-32-")),
            "{:?}",
            admin.group_sids
        );
    }

    #[test]
    fn each_domain_serves_only_its_own_accounts() {
        let dir = forest(&["eu"]);
        let root = DirectoryKdcDb::new(dir.clone(), 0);
        let child = DirectoryKdcDb::for_realm(dir.clone(), "EU.CORP.EXAMPLE.TEST").unwrap();
        assert_eq!(child.realms(), vec!["EU.CORP.EXAMPLE.TEST".to_string()]);
        let sam = PrincipalLookup::SamAccountName("krbtgt".into());
        let a = lookup(&root, "CORP.EXAMPLE.TEST", sam.clone()).unwrap();
        let b = lookup(&child, "EU.CORP.EXAMPLE.TEST", sam.clone()).unwrap();
        assert_ne!(a.user_sid, b.user_sid);
        assert_eq!(b.netbios_domain, "EU");
        assert!(lookup(&child, "CORP.EXAMPLE.TEST", sam).is_none());
        // The root DC's SPN is not found through the child's KDC.
        let spn = PrincipalLookup::Spn("ldap/dc1.corp.example.test".into());
        assert!(lookup(&child, "EU.CORP.EXAMPLE.TEST", spn).is_none());
        assert!(matches!(
            DirectoryKdcDb::for_realm(dir, "NOPE.TEST"),
            Err(ExportError::UnknownRealm(_))
        ));
    }

    #[test]
    fn group_changes_show_in_the_next_lookup() {
        let dir = forest(&[]);
        let alice_dn = add_alice(&dir);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let group_dn = add_group(&dir, "Web Hosts", &[]);
        dir.modify(
            &Caller::system(),
            &group_dn,
            vec![Modification {
                op: ModOp::Add,
                attr: "member".into(),
                values: vec![alice_dn.as_bytes().to_vec()],
            }],
        )
        .unwrap();
        let group_sid = sid_of(&dir, &group_dn);
        let alice = lookup(
            &db,
            "CORP.EXAMPLE.TEST",
            PrincipalLookup::SamAccountName("alice".into()),
        )
        .unwrap();
        assert!(alice.group_sids.contains(&group_sid));
    }

    /// A cached principal still follows the directory: a membership added after a look-up
    /// shows in the next one, and the account state is the clock's, not the cache's.
    #[test]
    fn the_principal_cache_follows_writes_and_the_clock() {
        let dir = forest(&[]);
        let alice_dn = add_alice(&dir);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let sam = || PrincipalLookup::SamAccountName("alice".into());
        let before = lookup(&db, "CORP.EXAMPLE.TEST", sam()).unwrap();
        assert_eq!(before.logon_restriction, None);
        assert_eq!(db.cache().principals.len(), 1, "the look-up was kept");

        let group_dn = add_group(&dir, "Cache Readers", &[&alice_dn]);
        let group_sid = sid_of(&dir, &group_dn);
        assert!(!before.group_sids.contains(&group_sid));
        let after = lookup(&db, "CORP.EXAMPLE.TEST", sam()).unwrap();
        assert!(after.group_sids.contains(&group_sid), "{:?}", after.group_sids);

        // accountExpires one hour ahead: the cached principal is revoked once the clock passes it.
        let expires = dir.clock.now().0 + 3600 * 10_000_000;
        dir.modify(
            &Caller::system(),
            &alice_dn,
            vec![Modification {
                op: ModOp::Replace,
                attr: "accountExpires".into(),
                values: vec![expires.to_string().into_bytes()],
            }],
        )
        .unwrap();
        assert_eq!(
            lookup(&db, "CORP.EXAMPLE.TEST", sam()).unwrap().logon_restriction,
            None
        );
        let generation = dir.generation();
        dir.clock.advance_seconds(7200);
        assert_eq!(dir.generation(), generation, "the clock alone writes nothing");
        assert!(matches!(
            lookup(&db, "CORP.EXAMPLE.TEST", sam()).unwrap().logon_restriction,
            Some(LogonRestriction::Revoked(_))
        ));
    }

    /// The domain's Kerberos policy is read again after a change (MS-KILE 3.3.4.1).
    #[test]
    fn the_cached_ticket_policy_follows_a_policy_change() {
        let dir = forest(&[]);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        let first = db.ticket_policy("CORP.EXAMPLE.TEST").unwrap();
        assert_eq!(db.ticket_policy("CORP.EXAMPLE.TEST"), Some(first));
        let mut policy = dir.kerberos_policy(0);
        policy.max_clock_skew_minutes = 7;
        dir.set_kerberos_policy(&Caller::system(), 0, policy).unwrap();
        assert_eq!(
            db.ticket_policy("CORP.EXAMPLE.TEST").unwrap().max_clock_skew,
            7 * 60
        );
        assert_ne!(first.max_clock_skew, 7 * 60);
    }

    #[test]
    fn keytab_holds_every_etype_under_the_account_and_its_spns() {
        let dir = forest(&[]);
        add_alice(&dir);
        let db = DirectoryKdcDb::new(dir.clone(), 0);
        for name in [
            "alice",
            "alice@CORP.EXAMPLE.TEST",
            "alice.upn@corp.example.test",
            "HTTP/app.corp.example.test",
        ] {
            let entries = read_keytab(&db.keytab(name).unwrap()).unwrap();
            assert_eq!(entries.len(), 6, "{name}: 2 names x 3 etypes");
            let etypes: Vec<i32> = entries.iter().map(|e| e.etype).collect();
            assert_eq!(&etypes[..3], &[18, 17, 23]);
            assert_eq!(entries[0].components, vec!["alice".to_string()]);
            assert_eq!(
                entries[3].components,
                vec!["HTTP".to_string(), "App.Corp.Example.Test".to_string()]
            );
            assert!(entries.iter().all(|e| e.realm == "CORP.EXAMPLE.TEST"));
            let t = NtTime::parse_rfc3339(T0).unwrap().unix_seconds();
            assert_eq!(i64::from(entries[0].timestamp), t);
        }
        assert!(matches!(
            db.keytab("ghost$"),
            Err(ExportError::UnknownPrincipal(_))
        ));
    }

    #[test]
    fn krb5_conf_lists_every_realm_with_its_kdc() {
        let dir = forest(&["eu"]);
        let kdcs: Vec<SocketAddr> = vec![
            "127.0.0.1:1088".parse().unwrap(),
            "127.0.0.1:40000".parse().unwrap(),
        ];
        let text = krb5_conf(&dir, &kdcs, &[("kdc_timesync", "0")]);
        assert!(text.contains("default_realm = CORP.EXAMPLE.TEST"), "{text}");
        assert!(
            text.contains("CORP.EXAMPLE.TEST = {\n        kdc = 127.0.0.1:1088\n"),
            "{text}"
        );
        assert!(
            text.contains("EU.CORP.EXAMPLE.TEST = {\n        kdc = 127.0.0.1:40000\n"),
            "{text}"
        );
        assert!(
            text.contains(".eu.corp.example.test = EU.CORP.EXAMPLE.TEST"),
            "{text}"
        );
        assert!(text.contains("kdc_timesync = 0"), "{text}");
    }
}
