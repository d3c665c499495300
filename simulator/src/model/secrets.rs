//! Secrets the DC keeps for an account and never returns over LDAP: the NT hash and the
//! Kerberos keys (MS-SAMR unicodePwd semantics; MS-KILE 3.1.5.2 key derivation happens in `keys`).

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct AccountSecrets {
    pub nt_hash: [u8; 16],
    pub aes128: Option<[u8; 16]>,
    pub aes256: Option<[u8; 32]>,
    /// Key version number: incremented on every password change (msDS-KeyVersionNumber).
    pub kvno: u32,
    /// The keys of the previous password (gMSA rollover keeps them valid for old tickets).
    pub previous: Option<Box<AccountSecrets>>,
    /// ntPwdHistory: the NT hashes of the account's last passwords, newest (the current one)
    /// first, at most [`PASSWORD_HISTORY_MAX`] (MS-SAMR 3.1.1.8.9; the domain's pwdHistoryLength
    /// says how many are compared).
    pub history: Vec<[u8; 16]>,
}

/// The most passwords AD remembers: "Enforce password history" ranges 0–24 (Microsoft Learn,
/// "Enforce password history").
pub const PASSWORD_HISTORY_MAX: usize = 24;

impl fmt::Debug for AccountSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountSecrets {{ kvno: {}, <redacted> }}", self.kvno)
    }
}
