//! kpasswd over the directory: the `kadmin/changepw` keys (krbtgt's, whose SPN it is in AD),
//! the caller from the ticket's PAC, the target account, and the one password path
//! (`Directory::write_password`: access, policy, keys, kvno, pwdLastSet, history). Also the
//! service on UDP and TCP (`kdc::net`) with recording.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::gss_krb5::ServiceKeys;
use crate::dsa::error::{code as ldap_code, win32};
use crate::dsa::password_policy::PasswordWrite;
use crate::dsa::Directory;
use crate::kdc::messages::PrincipalName;
use crate::kdc::net::Service;
use crate::kdc::{KdcConfig, KdcDatabase, PrincipalLookup, Transport};
use crate::kpasswd::codec::{result, AdPolicyInfo};
use crate::kpasswd::{Kpasswd, KpasswdBackend, Outcome, PasswordRequest};
use crate::ldap::bind::identity::caller_from_ticket;
use crate::model::EntryId;

use super::kdc::DirectoryKdcDb;
use super::record::Recorder;

/// One domain's password service over the directory.
pub struct DirectoryKpasswd {
    dir: Arc<Directory>,
    domain: usize,
    db: DirectoryKdcDb,
}

impl DirectoryKpasswd {
    pub fn new(dir: Arc<Directory>, domain: usize) -> DirectoryKpasswd {
        DirectoryKpasswd {
            db: DirectoryKdcDb::new(dir.clone(), domain),
            domain,
            dir,
        }
    }

    /// The entry of the account `name@realm` names in this domain.
    fn account(&self, name: &PrincipalName, realm: &str) -> Option<EntryId> {
        let joined = name.joined();
        let lookup = match name.components.len() {
            1 if joined.contains('@') => PrincipalLookup::Upn(joined),
            1 => PrincipalLookup::SamAccountName(joined),
            _ => PrincipalLookup::Spn(joined),
        };
        let principal = self.db.lookup(realm, &lookup)?;
        let st = self.dir.read();
        st.store
            .find_eq("objectsid", &principal.user_sid.to_bytes())
            .and_then(|ids| ids.first().copied())
    }

    /// AD's policy blob for the domain of `target`.
    fn policy_info(&self, target: EntryId) -> Option<AdPolicyInfo> {
        let st = self.dir.read();
        let e = st.store.get(target)?;
        let p = self.dir.password_policy_for(&st, e)?;
        Some(AdPolicyInfo {
            min_length: p.min_length,
            history_length: p.history_length,
            properties: p.properties,
            max_age: p.max_age.unsigned_abs(),
            min_age: p.min_age.unsigned_abs(),
        })
    }
}

/// Tickets for `kadmin/changepw` of this realm, opened with the key of the account holding that
/// SPN: krbtgt, as on a Windows DC (provisioned in `dsa::provision`; docs/fidelity.md).
impl ServiceKeys for DirectoryKpasswd {
    fn key(&self, sname: &PrincipalName, realm: &str, etype: i32, kvno: Option<u32>) -> Option<Vec<u8>> {
        let principal = self
            .db
            .lookup(realm, &PrincipalLookup::Spn(sname.joined()))
            .filter(|p| p.is_krbtgt)?;
        principal.key_for_ticket(etype, kvno).map(|k| k.key.clone())
    }
}

impl KpasswdBackend for DirectoryKpasswd {
    fn realm(&self) -> String {
        self.db.domain().realm.clone()
    }

    fn service_keys(&self) -> &dyn ServiceKeys {
        self
    }

    /// The Default Domain Policy's MaxClockSkew, as the KDC reads it at each request
    /// (`server::kdc::ticket_policy_of`; MS-KILE 3.3.1, 3.3.4.1): a policy edit applies to
    /// kpasswd's authenticators at once.
    fn max_clock_skew(&self) -> Option<i64> {
        Some(self.dir.kerberos_policy(self.domain).max_clock_skew_seconds())
    }

    fn apply(&self, request: &PasswordRequest<'_>) -> Outcome {
        let Ok(caller) = caller_from_ticket(&self.dir, request.ticket) else {
            return Outcome::Refused(result::AUTHERROR, "the ticket has no usable PAC".into());
        };
        // The KRB-PRIV protects the password as TLS does over LDAP.
        let caller = caller.with_encryption(true);
        let (target, write) = match request.target {
            None => match caller.entry {
                Some(id) => (id, PasswordWrite::Change),
                None => return Outcome::Refused(result::AUTHERROR, "unknown client".into()),
            },
            Some((name, realm)) => {
                // A target the DC cannot find answers as an authentication error, as AD does
                // (impacket's kpasswd.py: "may also indicate that the target user was not found").
                match self
                    .account(name, realm)
                    .filter(|_| realm.eq_ignore_ascii_case(&self.realm()))
                {
                    Some(id) => (id, PasswordWrite::Reset),
                    None => return Outcome::Refused(result::AUTHERROR, "target account not found".into()),
                }
            }
        };
        match self
            .dir
            .write_password(&caller, target, request.new_password, write)
        {
            Ok(()) => Outcome::Done,
            Err(e) if e.win32 == win32::ERROR_PASSWORD_RESTRICTION => match self.policy_info(target) {
                Some(info) => Outcome::Policy(info),
                None => Outcome::Refused(result::SOFTERROR, "password policy".into()),
            },
            Err(e) if e.code == ldap_code::INSUFFICIENT_ACCESS_RIGHTS => {
                Outcome::Refused(result::ACCESSDENIED, "access denied".into())
            }
            Err(e) => {
                tracing::warn!(code = e.code, win32 = e.win32, "kpasswd write failed");
                Outcome::Refused(result::HARDERROR, "the password could not be set".into())
            }
        }
    }
}

/// kpasswd on the network: the KDC's TCP limits, recording each exchange.
pub struct KpasswdService {
    pub kpasswd: Kpasswd,
    pub realm: String,
    pub config: KdcConfig,
    pub recorder: Option<Arc<Recorder>>,
}

impl KpasswdService {
    pub fn new(
        dir: Arc<Directory>,
        domain: usize,
        config: KdcConfig,
        recorder: Option<Arc<Recorder>>,
    ) -> Self {
        let backend = Arc::new(DirectoryKpasswd::new(dir.clone(), domain));
        let realm = backend.realm();
        KpasswdService {
            kpasswd: Kpasswd::new(backend, dir.clock.clone(), config.max_skew_seconds),
            realm,
            config,
            recorder,
        }
    }
}

impl Service for KpasswdService {
    fn name(&self) -> &'static str {
        "kpasswd"
    }

    fn tcp_limits(&self) -> (usize, std::time::Duration, usize) {
        // A kpasswd message carries its length in 16 bits (RFC 3244 §2).
        (
            self.config.max_tcp_request_size.min(usize::from(u16::MAX)),
            self.config.tcp_read_timeout,
            self.config.max_tcp_connections,
        )
    }

    fn open_connection(&self) -> u64 {
        self.recorder.as_ref().map_or(0, |r| r.open_connection())
    }

    fn answer(
        &self,
        connection: u64,
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        request: &[u8],
    ) -> Option<Vec<u8>> {
        let exchange = self.kpasswd.exchange(request, local.ip());
        if let Some(r) = &self.recorder {
            let (id, label) = match transport {
                Transport::Udp => (r.open_connection(), "kpasswd/udp"),
                Transport::Tcp => (connection, "kpasswd/tcp"),
            };
            r.kpasswd(id, label, &self.realm, peer, request, &exchange.summary);
        }
        exchange.reply
    }

    fn too_long(&self) -> Option<Vec<u8>> {
        None
    }
}
