//! Who is asking, and over what: the identity an operation runs as (a bound principal, anonymous
//! or SYSTEM) with its token SIDs, and whether the channel is encrypted.

use crate::model::EntryId;
use crate::security::Sid;

#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The bound account, if any.
    pub entry: Option<EntryId>,
    /// Its DN as bound (for WhoAmI and logs).
    pub dn: String,
    /// The account SID.
    pub sid: Option<Sid>,
    /// The token: the account SID, every group SID (transitive) and the well-known SIDs of a
    /// network logon (MS-DTYP 2.5.2; MS-ADTS 5.1.1.1).
    pub token: Vec<Sid>,
    /// TLS or a SASL layer with confidentiality protects the connection.
    pub encrypted: bool,
    /// The DC itself (provisioning, rollover bookkeeping): passes every check.
    pub system: bool,
    /// The SD flags control of the current request (MS-ADTS 3.1.1.3.4.1.11): which parts of
    /// nTSecurityDescriptor a search returns or a modify replaces. Request-scoped: the LDAP
    /// session sets it on a copy of its caller for the one request.
    pub sd_flags: Option<u32>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller {
            token: vec![well_known::everyone(), well_known::anonymous()],
            ..Default::default()
        }
    }

    pub fn system() -> Caller {
        Caller {
            system: true,
            encrypted: true,
            token: vec![well_known::system()],
            ..Default::default()
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.entry.is_none() && !self.system
    }

    pub fn has_sid(&self, sid: &Sid) -> bool {
        self.token.iter().any(|s| s == sid)
    }

    pub fn with_sd_flags(mut self, sd_flags: Option<u32>) -> Caller {
        self.sd_flags = sd_flags;
        self
    }

    pub fn with_encryption(mut self, encrypted: bool) -> Caller {
        self.encrypted = encrypted;
        self
    }
}

/// The well-known SIDs a token carries (MS-DTYP 2.4.2.4): the security room's, under the names
/// the directory uses.
pub mod well_known {
    pub use crate::security::well_known::{
        anonymous, authenticated_network_logon, authenticated_users, builtin,
        enterprise_domain_controllers as enterprise_dcs, everyone, network, system, this_organization,
    };
}
