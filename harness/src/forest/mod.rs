//! A whole simulated forest inside a test: `Forest::builder()…start().await` provisions it and
//! starts every listener on ephemeral ports (so many forests run in parallel in one process),
//! and the [`Forest`] handle gives URLs, the CA, credentials, the clock, cmdlet-style operations,
//! typed gMSA helpers and snapshots. Dropping it stops everything.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use adsim_harness::cmdlets::NewServiceAccount;
//! use adsim_harness::forest::Forest;
//!
//! let forest = Forest::builder()
//!     .domain("corp.example.test")
//!     .seed(42)
//!     .start_time_rfc3339("2026-01-05T10:00:00Z")
//!     .start()
//!     .await?;
//! assert!(forest.ldaps_url().starts_with("ldaps://127.0.0.1:"));
//!
//! // A host, and a gMSA that only this host may use (New-ADComputer, New-ADServiceAccount).
//! let ps = forest.cmdlets();
//! ps.new_ad_computer("WEB01", "Host-Passw0rd!", None)?;
//! ps.new_ad_computer("WEB02", "Host-Passw0rd!", None)?;
//! ps.new_ad_service_account(&NewServiceAccount {
//!     name: "svc-web".into(),
//!     dns_host_name: Some("svc-web.corp.example.test".into()),
//!     allowed_principals: vec!["WEB01$".into()],
//!     ..Default::default()
//! })?;
//!
//! // What each host gets when it reads msDS-ManagedPassword over LDAPS.
//! let day0 = forest.managed_password_as_host("svc-web", "WEB01$")?.expect("WEB01 is allowed");
//! assert!(forest.managed_password_as_host("svc-web", "WEB02$")?.is_none());
//!
//! // 30 days later the password has rotated; the old one is now the previous one.
//! forest.clock().advance_days(30);
//! let day30 = forest.managed_password_as_host("svc-web", "WEB01$")?.unwrap();
//! assert_ne!(day30.current, day0.current);
//! assert_eq!(day30.previous.as_ref(), Some(&day0.current));
//! # Ok(()) }
//! ```
//!
//! Snapshots put the whole forest back — entries, secrets, root keys, RID pools, the random
//! stream and the clock:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use adsim_harness::forest::Forest;
//! let forest = Forest::builder().seed(1).start().await?;
//! let before = forest.export_ldif();
//! let clean = forest.snapshot();
//! forest.cmdlets().new_ad_user("alice", "Alice-Passw0rd!", None)?;
//! assert_ne!(forest.export_ldif(), before);
//! forest.restore(clean)?;
//! assert_eq!(forest.export_ldif(), before);
//! forest.reset(); // back to the state right after start
//! # Ok(()) }
//! ```
//!
//! External clients (ldapsearch, kinit, your product) reach the forest through
//! [`Forest::ldap_url`], [`Forest::ldaps_url`], [`Forest::kdc_addr`] and
//! [`Forest::krb5_conf`], trusting [`Forest::ca_path`]. When a test blocks on such a client
//! while the forest serves it, use a multi-threaded runtime
//! (`#[tokio::test(flavor = "multi_thread")]`), so the listeners keep running.

mod builder;
mod clock;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use adsim_simulator::dsa::search::{Scope, SearchRequest, View};
use adsim_simulator::dsa::{Caller, Directory, DsError};
use adsim_simulator::model::filter::Filter;
use adsim_simulator::model::EntryId;
use adsim_simulator::server::{DomainEndpoint, ReadyInfo, RunningForest, StartError};
use adsim_simulator::snapshot::{SnapshotError, Snapshots};

pub use adsim_simulator::dsa::KdsRootKeyMode;
pub use adsim_simulator::gmsa::ManagedPasswordBlob;
pub use adsim_simulator::snapshot::SnapshotId;
pub use builder::ForestBuilder;
pub use clock::ForestClock;

use crate::cmdlets::Cmdlets;

#[derive(Debug, thiserror::Error)]
pub enum ForestError {
    #[error("invalid forest settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Start(Box<StartError>),
    #[error("no account {0:?} in the forest")]
    UnknownAccount(String),
    #[error(transparent)]
    Directory(#[from] DsError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("malformed msDS-ManagedPassword: {0}")]
    ManagedPassword(String),
}

impl From<StartError> for ForestError {
    fn from(e: StartError) -> ForestError {
        ForestError::Start(Box::new(e))
    }
}

/// An account's name and password, in the forms AD accepts at bind.
#[derive(Clone)]
pub struct Credentials {
    /// `Administrator@corp.example.test`.
    pub upn: String,
    /// `CORP\Administrator`.
    pub down_level: String,
    /// `CN=Administrator,CN=Users,DC=corp,DC=example,DC=test`.
    pub dn: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("upn", &self.upn)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A running forest. Dropping it stops every listener and removes its temporary files.
pub struct Forest {
    running: RunningForest,
    admin_password: String,
}

impl std::fmt::Debug for Forest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forest")
            .field("domain", &self.running.ready.domain)
            .field("ldap_url", &self.running.ready.ldap_url)
            .finish_non_exhaustive()
    }
}

impl Forest {
    /// A builder for a new forest (see [`ForestBuilder`] for the defaults).
    pub fn builder() -> ForestBuilder {
        ForestBuilder::default()
    }

    pub(crate) fn from_running(running: RunningForest, admin_password: String) -> Forest {
        Forest {
            running,
            admin_password,
        }
    }

    /// Everything `adsim serve` prints in its ready line.
    pub fn ready(&self) -> &ReadyInfo {
        &self.running.ready
    }

    /// The forest root domain's DNS name.
    pub fn domain(&self) -> &str {
        &self.running.ready.domain
    }

    /// The root domain's naming context, e.g. `DC=corp,DC=example,DC=test`.
    pub fn base_dn(&self) -> &str {
        &self.running.ready.base_dn
    }

    /// The root DC's plain LDAP URL (StartTLS available).
    pub fn ldap_url(&self) -> &str {
        &self.running.ready.ldap_url
    }

    pub fn ldaps_url(&self) -> &str {
        &self.running.ready.ldaps_url
    }

    /// The Global Catalog's URL.
    pub fn gc_url(&self) -> &str {
        &self.running.ready.gc_url
    }

    /// The Global Catalog over TLS (`ldaps://…`, AD's port 3269).
    pub fn gcs_url(&self) -> &str {
        &self.running.ready.gcs_url
    }

    /// The root domain's KDC (UDP and TCP on the same port).
    pub fn kdc_addr(&self) -> SocketAddr {
        self.running.kdc_addrs[0]
    }

    /// Every domain's KDC, in domain order (root first).
    pub fn kdc_addrs(&self) -> &[SocketAddr] {
        &self.running.kdc_addrs
    }

    /// Base URL of the control API (`adsim ctl --url`).
    pub fn control_url(&self) -> &str {
        &self.running.ready.control_url
    }

    /// Each domain's DC endpoints (LDAP, LDAPS, KDC, realm, SID), root first.
    pub fn domains(&self) -> &[DomainEndpoint] {
        &self.running.ready.domains
    }

    /// One domain's endpoints, by DNS or NetBIOS name.
    pub fn domain_endpoint(&self, name: &str) -> Option<&DomainEndpoint> {
        self.domains()
            .iter()
            .find(|d| d.domain.eq_ignore_ascii_case(name) || d.netbios.eq_ignore_ascii_case(name))
    }

    /// The CA certificate (PEM) every listener's certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.running.ca_pem
    }

    /// Where the CA certificate is written (`LDAPTLS_CACERT`).
    pub fn ca_path(&self) -> PathBuf {
        PathBuf::from(&self.running.ready.ca_cert)
    }

    /// krb5.conf for every realm of the forest with its KDC's address (`KRB5_CONFIG`).
    pub fn krb5_conf(&self) -> String {
        adsim_simulator::server::kdc::krb5_conf(self.directory(), self.kdc_addrs(), &[])
    }

    /// The root domain's Administrator.
    pub fn admin(&self) -> Credentials {
        self.admin_of(self.domain())
            .expect("the root domain is always in the forest")
    }

    /// A domain's Administrator (every domain shares the configured password). For a forest
    /// started from a snapshot file the password is the builder's (`admin_password`, else the
    /// default), not read from the file, which holds only hashes.
    pub fn admin_of(&self, domain: &str) -> Option<Credentials> {
        let d = self.directory().forest.domain_by_name(domain)?;
        Some(Credentials {
            upn: format!("Administrator@{}", d.dns_name),
            down_level: format!("{}\\Administrator", d.netbios),
            dn: format!("CN=Administrator,CN=Users,{}", d.dn),
            password: self.admin_password.clone(),
        })
    }

    /// The simulated clock.
    pub fn clock(&self) -> ForestClock {
        ForestClock::new(self.directory().clock.clone())
    }

    /// The directory itself, for anything the helpers do not cover.
    pub fn directory(&self) -> &Arc<Directory> {
        &self.running.dir
    }

    /// The snapshot registry shared with the control API (`/v1/snapshots`).
    pub fn snapshots(&self) -> &Arc<Snapshots> {
        &self.running.snapshots
    }

    /// Cmdlet-style operations as SYSTEM (the DC itself): every check passes.
    pub fn cmdlets(&self) -> Cmdlets<'_> {
        Cmdlets::system(self.directory())
    }

    /// Cmdlet-style operations as an account (a DN, UPN, `DOMAIN\name` or a root-domain
    /// sAMAccountName), with its groups, over an encrypted channel: refusals are the ones that
    /// account would get over LDAPS.
    pub fn cmdlets_as(&self, account: &str) -> Result<Cmdlets<'_>, ForestError> {
        Ok(Cmdlets::new(self.directory(), self.caller(account)?))
    }

    /// The identity an account binds as (its token computed now), over an encrypted channel.
    pub fn caller(&self, account: &str) -> Result<Caller, ForestError> {
        let dir = self.directory();
        let st = dir.read();
        let id = self.resolve(&st, account)?;
        Ok(dir.caller_for(&st, id).with_encryption(true))
    }

    /// The `msDS-ManagedPassword` blob (MS-ADTS 2.2.19) that `host` gets when it reads gMSA
    /// `gmsa` over an encrypted channel, as a search on its DC does (rolling the password
    /// over first when its interval has passed); `None` when the host is not allowed.
    /// Accounts are named as for [`Forest::cmdlets_as`]; `svc-web` finds `svc-web$`.
    pub fn managed_password_as_host(
        &self,
        gmsa: &str,
        host: &str,
    ) -> Result<Option<ManagedPasswordBlob>, ForestError> {
        let dir = self.directory();
        let (caller, dn, domain) = {
            let st = dir.read();
            let g = self.resolve(&st, gmsa)?;
            let h = self.resolve(&st, host)?;
            let entry = st
                .store
                .get(g)
                .ok_or_else(|| ForestError::UnknownAccount(gmsa.to_string()))?;
            let domain = dir.forest.domain_of(&entry.dn).map_or(0, |d| d.index);
            (
                dir.caller_for(&st, h).with_encryption(true),
                entry.dn.to_string(),
                domain,
            )
        };
        let out = dir.search(
            &caller,
            &SearchRequest {
                base: dn,
                scope: Scope::Base,
                filter: Filter::Present("objectClass".into()),
                attrs: vec!["msDS-ManagedPassword".into()],
                types_only: false,
                size_limit: 0,
                view: View::Dc { domain },
            },
        )?;
        let value = out
            .entries
            .into_iter()
            .flat_map(|e| e.attrs)
            .find(|(name, _)| name.eq_ignore_ascii_case("msDS-ManagedPassword"))
            .and_then(|(_, values)| values.into_iter().next());
        value
            .map(|v| ManagedPasswordBlob::decode(&v).map_err(|e| ForestError::ManagedPassword(e.to_string())))
            .transpose()
    }

    /// Snapshots the whole forest (O(1)); [`Forest::restore`] puts it back.
    pub fn snapshot(&self) -> SnapshotId {
        self.snapshots().take()
    }

    /// Puts the forest back exactly as it was at `id`: entries, secrets, root keys, RID pools,
    /// the random stream and the clock. The snapshot stays available.
    pub fn restore(&self, id: SnapshotId) -> Result<(), ForestError> {
        Ok(self.snapshots().restore(id)?)
    }

    /// Back to the state right after start (fixtures included).
    pub fn reset(&self) {
        self.snapshots().reset();
    }

    /// Snapshots the forest and writes it to `path` for [`ForestBuilder::from_snapshot`] or
    /// `adsim serve --from-snapshot` (the file holds every secret of the forest): a new file,
    /// mode 0600, checksummed; an existing `path` is refused.
    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotId, ForestError> {
        let id = self.snapshot();
        self.snapshots().save(id, path)?;
        Ok(id)
    }

    /// The directory as LDIF, deterministic, without secrets (`adsim export ldif`).
    pub fn export_ldif(&self) -> String {
        adsim_simulator::dsa::fixtures::export(self.directory())
    }

    /// Resolves an account name as the cmdlets do; a bare name also tries `name$`.
    fn resolve(&self, st: &adsim_simulator::dsa::DirState, name: &str) -> Result<EntryId, ForestError> {
        let dir = self.directory();
        let qualified = |n: &str| {
            if n.contains('=') || n.contains('\\') || n.contains('@') {
                n.to_string()
            } else {
                format!("{}\\{}", dir.forest.root().netbios, n)
            }
        };
        // Machine-style accounts (computers, gMSAs) may be named without their `$`.
        let with_dollar = !name.ends_with('$') && !name.contains('=') && !name.contains('@');
        dir.resolve_account(st, &qualified(name))
            .or_else(|| {
                with_dollar
                    .then(|| dir.resolve_account(st, &qualified(&format!("{name}$"))))
                    .flatten()
            })
            .ok_or_else(|| ForestError::UnknownAccount(name.to_string()))
    }
}
