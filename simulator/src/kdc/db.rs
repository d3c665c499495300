//! The narrow view of the directory the KDC needs. The directory implements it; tests use an
//! in-memory table.

use crate::clock::NtTime;
use crate::security::Sid;

/// userAccountControl bits the KDC reads (MS-ADTS 2.2.16).
pub mod uac {
    pub const ACCOUNTDISABLE: u32 = 0x2;
    pub const LOCKOUT: u32 = 0x10;
    pub const NORMAL_ACCOUNT: u32 = 0x200;
    pub const WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;
    pub const SERVER_TRUST_ACCOUNT: u32 = 0x2000;
    pub const DONT_EXPIRE_PASSWORD: u32 = 0x10000;
    pub const TRUSTED_FOR_DELEGATION: u32 = 0x80000;
    pub const NOT_DELEGATED: u32 = 0x100000;
    pub const DONT_REQ_PREAUTH: u32 = 0x400000;
}

pub trait KdcDatabase: Send + Sync + 'static {
    /// Finds a client or service principal of `realm` by sAMAccountName (case-insensitive;
    /// "NAME$" for computers and gMSAs; "krbtgt"), by UPN ("user@dns.domain", as an
    /// NT-ENTERPRISE name or a plain name with @), or by SPN ("ldap/dc1.corp.example.test",
    /// case-insensitive, service/host[/extra]).
    fn lookup(&self, realm: &str, name: &PrincipalLookup) -> Option<KdcPrincipal>;

    /// Realms this database serves (upper-case DNS names of the forest's domains).
    fn realms(&self) -> Vec<String>;

    /// NetBIOS name of the DC answering for `realm`, for the PAC's LogonServer (MS-PAC 2.5).
    /// Optional: an empty LogonServer is written when unknown.
    fn dc_netbios_name(&self, _realm: &str) -> Option<String> {
        None
    }

    /// Told after the KDC checked a client's pre-authentication: a failure counts towards the
    /// account's lockout, a success resets the count (MS-KILE 3.3.5.6.1.1: the KDC updates
    /// badPwdCount as a password logon would). Optional: a database without lockout ignores it.
    fn record_preauth(&self, _realm: &str, _client: &KdcPrincipal, _success: bool) {}

    /// The domain Kerberos policy of `realm` as it stands now (MS-KILE 3.3.3 and 3.3.4.1: the
    /// KDC reads its configuration again on a change). Optional: `None` leaves the KDC's own
    /// [`super::KdcConfig`] values.
    fn ticket_policy(&self, _realm: &str) -> Option<super::policy::TicketPolicy> {
        None
    }
}

/// Why the directory's account-state rule keeps an account from getting tickets now
/// (`dsa::account_state`; the database maps the state, the KDC answers with the code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogonRestriction {
    /// Disabled, locked out or expired account: KDC_ERR_CLIENT_REVOKED, before pre-authentication.
    Revoked(&'static str),
    /// The password must change or has expired: KDC_ERR_KEY_EXPIRED after pre-authentication,
    /// except for a ticket to kadmin/changepw.
    KeyExpired,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalLookup {
    SamAccountName(String),
    Upn(String),
    Spn(String),
}

#[derive(Debug, Clone)]
pub struct KdcPrincipal {
    pub sam_account_name: String,
    pub upn: Option<String>,
    pub dns_domain: String,
    pub netbios_domain: String,
    pub realm: String,
    /// The account's full SID.
    pub user_sid: Sid,
    pub primary_group_rid: u32,
    /// Every group SID, transitively: domain groups, and builtin/other-domain SIDs (those go to
    /// the PAC's ExtraSids).
    pub group_sids: Vec<Sid>,
    /// userAccountControl (see `uac`).
    pub user_account_control: u32,
    /// msDS-SupportedEncryptionTypes bits: 0x4 RC4, 0x8 AES128, 0x10 AES256.
    pub supported_enctypes: Option<u32>,
    /// Current keys: etypes 18, 17, 23 with their kvno.
    pub keys: Vec<KerberosKey>,
    /// Keys of the previous password (gMSA rollover, krbtgt N-1): still valid for tickets
    /// issued before the change.
    pub previous_keys: Vec<KerberosKey>,
    /// The string-to-key salt (AD: `REALMuser`, or `REALMhost<name>.<domain>` for computers).
    pub salt: String,
    pub display_name: Option<String>,
    pub logon_count: u32,
    pub pwd_last_set: NtTime,
    pub is_krbtgt: bool,
    /// The account state's verdict at lookup time; `None`: may log on.
    pub logon_restriction: Option<LogonRestriction>,
}

impl KdcPrincipal {
    /// The current key of `etype`, if the account has one.
    pub fn key(&self, etype: i32) -> Option<&KerberosKey> {
        self.keys.iter().find(|k| k.etype == etype)
    }

    /// A current or previous key matching `etype` and, when given, `kvno`.
    pub fn key_for_ticket(&self, etype: i32, kvno: Option<u32>) -> Option<&KerberosKey> {
        self.keys
            .iter()
            .chain(self.previous_keys.iter())
            .find(|k| k.etype == etype && kvno.is_none_or(|v| v == k.kvno))
    }

    pub fn is_disabled(&self) -> bool {
        self.user_account_control & uac::ACCOUNTDISABLE != 0
    }

    pub fn is_computer(&self) -> bool {
        self.user_account_control & (uac::WORKSTATION_TRUST_ACCOUNT | uac::SERVER_TRUST_ACCOUNT) != 0
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct KerberosKey {
    pub etype: i32,
    pub kvno: u32,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for KerberosKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KerberosKey")
            .field("etype", &self.etype)
            .field("kvno", &self.kvno)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_debug_is_redacted() {
        let k = KerberosKey {
            etype: 18,
            kvno: 2,
            key: vec![0xAB; 32],
        };
        let s = format!("{k:?}");
        assert!(
            s.contains("redacted") && !s.to_lowercase().contains("ab, "),
            "{s}"
        );
    }
}
