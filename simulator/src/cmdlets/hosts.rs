//! Member hosts: a computer account with its own Kerberos ticket cache, the SYSTEM logon
//! session (`klist -li 0x3e7`). Install-/Test-ADServiceAccount run on a host *as the host*: it
//! logs on with its own key (AS exchange, once; the TGT is cached), asks the KDC for a ticket to
//! the DC's LDAP service with that TGT, and the DC builds the caller from the service ticket's
//! PAC exactly as a Kerberos LDAP bind does (`ldap::bind::identity::caller_from_ticket`). The PAC
//! groups are those frozen into the TGT, so a host added to a group keeps its old groups until
//! `klist purge` or a reboot drops the TGT (docs/notes/windows-behaviour.md row 18; MS-PAC 2.5).
//!
//! The exchanges go to the forest's own KDC in process ([`crate::kdc::Kdc::handle`]) with the
//! sans-I/O client of `kdc::client`; the AP exchange's GSS framing and sealing are not
//! repeated here (the ticket is opened with the DC's key as the acceptor would).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::dsa::{Caller, Directory};
use crate::kdc::client::{service_name, Answer, AsRequest, ClientKey, Credential, TgsRequest};
use crate::kdc::crypto::Etype;
use crate::kdc::db::{KdcDatabase, PrincipalLookup};
use crate::kdc::{Kdc, Transport};
use crate::server::kdc::DirectoryKdcDb;

/// Why a host could not act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("no computer account named {0}")]
    UnknownHost(String),
    /// The KDC refused (its error code and name).
    #[error("Kerberos error {code} ({name}) for {what}")]
    Kerberos { code: i32, name: String, what: String },
    #[error("{0}")]
    Client(String),
}

/// One host's state.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// The SYSTEM session's TGT, once logged on.
    pub tgt: Option<Credential>,
    /// Service accounts installed on it (sAMAccountNames, `svc$`).
    pub installed: BTreeSet<String>,
    /// Local groups and their members, as far as the guides use them (Administrators…).
    pub local_groups: BTreeMap<String, BTreeSet<String>>,
}

/// The member hosts of a forest, by upper-case computer name (`WEB01`).
pub struct Hosts {
    dir: Arc<Directory>,
    /// One KDC per domain, in the forest's domain order.
    kdcs: Vec<Arc<Kdc>>,
    hosts: Mutex<BTreeMap<String, Host>>,
}

/// A computer name without `$` and domain, upper-cased.
pub fn host_key(name: &str) -> String {
    let n = name.rsplit('\\').next().unwrap_or(name);
    let n = n.split('.').next().unwrap_or(n);
    n.trim_end_matches('$').to_ascii_uppercase()
}

impl Hosts {
    pub fn new(dir: Arc<Directory>, kdcs: Vec<Arc<Kdc>>) -> Self {
        Hosts {
            dir,
            kdcs,
            hosts: Mutex::new(BTreeMap::new()),
        }
    }

    /// KDCs built on `dir` with the default configuration (tests, in-process forests).
    pub fn in_process(dir: Arc<Directory>) -> Self {
        let kdcs = dir
            .forest
            .domains
            .iter()
            .map(|d| {
                Arc::new(Kdc::new(
                    Arc::new(DirectoryKdcDb::new(dir.clone(), d.index)),
                    dir.clock.clone(),
                    Default::default(),
                ))
            })
            .collect();
        Hosts::new(dir, kdcs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Host>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The computer account of `host`: its domain index and sAMAccountName.
    fn account(&self, host: &str) -> Result<(usize, String), HostError> {
        let key = host_key(host);
        let st = self.dir.read();
        for d in &self.dir.forest.domains {
            if let Some(id) = self.dir.find_sam(&st, d.index, &format!("{key}$")) {
                let e = st
                    .store
                    .get(id)
                    .ok_or_else(|| HostError::UnknownHost(host.into()))?;
                if e.is_class("computer") {
                    return Ok((d.index, format!("{key}$")));
                }
            }
        }
        Err(HostError::UnknownHost(host.into()))
    }

    /// `klist -lh 0 -li 0x3e7 purge`: the SYSTEM session's tickets are dropped. Returns
    /// whether there were any.
    pub fn purge(&self, host: &str) -> Result<bool, HostError> {
        self.account(host)?;
        Ok(self
            .lock()
            .get_mut(&host_key(host))
            .and_then(|h| h.tgt.take())
            .is_some())
    }

    /// A reboot: the ticket cache is empty afterwards; installed accounts stay.
    pub fn restart(&self, host: &str) -> Result<(), HostError> {
        self.purge(host).map(|_| ())
    }

    /// The hosts seen so far, with whether each holds a TGT and what is installed.
    pub fn list(&self) -> Vec<(String, Host)> {
        self.lock().iter().map(|(k, h)| (k.clone(), h.clone())).collect()
    }

    pub fn installed(&self, host: &str) -> BTreeSet<String> {
        self.lock()
            .get(&host_key(host))
            .map(|h| h.installed.clone())
            .unwrap_or_default()
    }

    pub fn set_installed(&self, host: &str, account: &str, installed: bool) {
        let mut g = self.lock();
        let h = g.entry(host_key(host)).or_default();
        if installed {
            h.installed.insert(account.to_string());
        } else {
            h.installed.remove(account);
        }
    }

    pub fn add_local_group_member(&self, host: &str, group: &str, member: &str) -> Result<(), HostError> {
        self.account(host)?;
        self.lock()
            .entry(host_key(host))
            .or_default()
            .local_groups
            .entry(group.to_string())
            .or_default()
            .insert(member.to_string());
        Ok(())
    }

    pub fn local_group_members(&self, host: &str, group: &str) -> Vec<String> {
        self.lock()
            .get(&host_key(host))
            .and_then(|h| h.local_groups.iter().find(|(g, _)| g.eq_ignore_ascii_case(group)))
            .map(|(_, m)| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The host's caller at the DC over a Kerberos LDAP bind with its cached TGT (logging on
    /// first when the cache is empty or the TGT has expired).
    pub fn caller(&self, host: &str) -> Result<Caller, HostError> {
        let (d, sam) = self.account(host)?;
        let domain = self.dir.forest.domains[d].clone();
        let kdc = &self.kdcs[d];
        let db = DirectoryKdcDb::new(self.dir.clone(), d);
        let now = self.dir.clock.now().unix_seconds();
        let cached = self
            .lock()
            .get(&host_key(host))
            .and_then(|h| h.tgt.clone())
            .filter(|t| t.enc_part.endtime > now);
        let tgt = match cached {
            Some(t) => t,
            None => {
                let t = self.logon(kdc, &db, &domain.realm, &sam, now)?;
                self.lock().entry(host_key(host)).or_default().tgt = Some(t.clone());
                t
            }
        };
        let spn = format!("ldap/{}", domain.dc_fqdn);
        let req = TgsRequest::new(service_name(&spn), now);
        let bytes = req.encode(&tgt).map_err(|e| HostError::Client(e.to_string()))?;
        let reply = kdc
            .handle(&bytes, Transport::Tcp)
            .ok_or_else(|| HostError::Client("the KDC dropped the TGS-REQ".into()))?;
        let service = ticket(
            req.read_reply(&reply, &tgt)
                .map_err(|e| HostError::Client(e.to_string()))?,
            &spn,
        )?;
        let dc = db
            .lookup(
                &domain.realm,
                &PrincipalLookup::SamAccountName(format!("{}$", domain.dc_name)),
            )
            .ok_or_else(|| HostError::Client("the DC account has no keys".into()))?;
        let (part, _) = crate::kdc::ticket::open(&service.ticket, &dc.keys)
            .map_err(|e| HostError::Client(format!("{e:?}")))?;
        crate::ldap::bind::identity::caller_from_ticket(&self.dir, &part)
            .map(|c| c.with_encryption(true))
            .map_err(|e| HostError::Client(format!("{e:?}")))
    }

    /// The AS exchange with the host's own key (the machine password's AES256 key).
    fn logon(
        &self,
        kdc: &Kdc,
        db: &DirectoryKdcDb,
        realm: &str,
        sam: &str,
        now: i64,
    ) -> Result<Credential, HostError> {
        let me = db
            .lookup(realm, &PrincipalLookup::SamAccountName(sam.to_string()))
            .ok_or_else(|| HostError::UnknownHost(sam.into()))?;
        let k = me
            .key(Etype::Aes256.number())
            .ok_or_else(|| HostError::Client(format!("{sam} has no AES256 key")))?;
        let key = ClientKey::new(Etype::Aes256, k.key.clone());
        let req = AsRequest::new(realm, sam, now).with_preauth(key.clone());
        let bytes = req.encode().map_err(|e| HostError::Client(e.to_string()))?;
        let reply = kdc
            .handle(&bytes, Transport::Tcp)
            .ok_or_else(|| HostError::Client("the KDC dropped the AS-REQ".into()))?;
        ticket(
            req.read_reply(&reply, &key)
                .map_err(|e| HostError::Client(e.to_string()))?,
            &format!("krbtgt/{realm}"),
        )
    }
}

fn ticket(a: Answer, what: &str) -> Result<Credential, HostError> {
    match a {
        Answer::Ticket(c) => Ok(*c),
        Answer::Error(e) => Err(HostError::Kerberos {
            code: e.error_code,
            name: crate::kdc::error::error_name(e.error_code)
                .unwrap_or("")
                .to_string(),
            what: what.to_string(),
        }),
    }
}
