//! Well-known SIDs and RIDs used by Active Directory (MS-DTYP 2.4.2.4) and the two-letter SDDL
//! SID aliases (MS-DTYP 2.5.1.1 `sid-token`).
//!
//! Fixed SIDs are functions because `Sid` owns a `Vec`. Domain-relative accounts are a RID
//! appended to a domain SID (`domain.with_rid(rid::DOMAIN_ADMINS)`).

use super::sid::Sid;

/// SECURITY_NT_AUTHORITY (MS-DTYP 2.4.1.1).
pub const NT_AUTHORITY: u64 = 5;
/// SECURITY_BUILTIN_DOMAIN_RID: the sub-authority of `S-1-5-32`.
pub const BUILTIN_DOMAIN_RID: u32 = 32;

/// S-1-1-0 Everyone (WD).
pub fn everyone() -> Sid {
    Sid::new(1, &[0])
}
/// S-1-3-0 Creator Owner (CO): a placeholder replaced on inheritance, never in a token.
pub fn creator_owner() -> Sid {
    Sid::new(3, &[0])
}
/// S-1-3-1 Creator Group (CG).
pub fn creator_group() -> Sid {
    Sid::new(3, &[1])
}
/// S-1-3-4 Owner Rights (OW): when present in a DACL it replaces the owner's implicit rights.
pub fn owner_rights() -> Sid {
    Sid::new(3, &[4])
}
/// S-1-5-2 Network (NU): in every network-logon token.
pub fn network() -> Sid {
    Sid::new(NT_AUTHORITY, &[2])
}
/// S-1-5-4 Interactive (IU).
pub fn interactive() -> Sid {
    Sid::new(NT_AUTHORITY, &[4])
}
/// S-1-5-7 Anonymous Logon (AN).
pub fn anonymous() -> Sid {
    Sid::new(NT_AUTHORITY, &[7])
}
/// S-1-5-9 Enterprise Domain Controllers (ED).
pub fn enterprise_domain_controllers() -> Sid {
    Sid::new(NT_AUTHORITY, &[9])
}
/// S-1-5-10 Principal Self (PS): stands for the object's own SID in an access check.
pub fn principal_self() -> Sid {
    Sid::new(NT_AUTHORITY, &[10])
}
/// S-1-5-11 Authenticated Users (AU).
pub fn authenticated_users() -> Sid {
    Sid::new(NT_AUTHORITY, &[11])
}
/// S-1-5-15 This Organization: added to tokens of principals from the same forest.
pub fn this_organization() -> Sid {
    Sid::new(NT_AUTHORITY, &[15])
}
/// S-1-5-18 Local System (SY).
pub fn system() -> Sid {
    Sid::new(NT_AUTHORITY, &[18])
}

/// The SIDs Windows adds to the token of an authenticated network logon (an LDAP bind, a
/// Kerberos service logon): Everyone, NETWORK, Authenticated Users and This Organization (the
/// principal is from this forest). `whoami /groups` in a network session shows these.
pub fn authenticated_network_logon() -> [Sid; 4] {
    [everyone(), network(), authenticated_users(), this_organization()]
}

/// A BUILTIN alias `S-1-5-32-<rid>`.
pub fn builtin(rid: u32) -> Sid {
    Sid::new(NT_AUTHORITY, &[BUILTIN_DOMAIN_RID, rid])
}
/// S-1-5-32-544 BUILTIN\Administrators (BA).
pub fn builtin_administrators() -> Sid {
    builtin(rid::BUILTIN_ADMINISTRATORS)
}
/// S-1-5-32-545 BUILTIN\Users (BU).
pub fn builtin_users() -> Sid {
    builtin(rid::BUILTIN_USERS)
}
/// S-1-5-32-546 BUILTIN\Guests (BG).
pub fn builtin_guests() -> Sid {
    builtin(rid::BUILTIN_GUESTS)
}
/// S-1-5-32-548 Account Operators (AO).
pub fn account_operators() -> Sid {
    builtin(rid::ACCOUNT_OPERATORS)
}
/// S-1-5-32-549 Server Operators (SO).
pub fn server_operators() -> Sid {
    builtin(rid::SERVER_OPERATORS)
}
/// S-1-5-32-550 Print Operators (PO).
pub fn print_operators() -> Sid {
    builtin(rid::PRINT_OPERATORS)
}
/// S-1-5-32-551 Backup Operators (BO).
pub fn backup_operators() -> Sid {
    builtin(rid::BACKUP_OPERATORS)
}
/// S-1-5-32-554 Pre-Windows 2000 Compatible Access (RU).
pub fn pre_windows_2000_compatible_access() -> Sid {
    builtin(rid::PRE_WINDOWS_2000_COMPATIBLE_ACCESS)
}

/// Relative identifiers (MS-DTYP 2.4.2.4). BUILTIN ones go under `S-1-5-32`, the others under
/// a domain SID (the forest root domain for Schema/Enterprise Admins, Enterprise RODCs and
/// Enterprise Key Admins).
pub mod rid {
    pub const BUILTIN_ADMINISTRATORS: u32 = 544;
    pub const BUILTIN_USERS: u32 = 545;
    pub const BUILTIN_GUESTS: u32 = 546;
    pub const POWER_USERS: u32 = 547;
    pub const ACCOUNT_OPERATORS: u32 = 548;
    pub const SERVER_OPERATORS: u32 = 549;
    pub const PRINT_OPERATORS: u32 = 550;
    pub const BACKUP_OPERATORS: u32 = 551;
    pub const REPLICATOR: u32 = 552;
    pub const PRE_WINDOWS_2000_COMPATIBLE_ACCESS: u32 = 554;

    pub const ENTERPRISE_READONLY_DOMAIN_CONTROLLERS: u32 = 498;
    pub const ADMINISTRATOR: u32 = 500;
    pub const GUEST: u32 = 501;
    pub const KRBTGT: u32 = 502;
    pub const DOMAIN_ADMINS: u32 = 512;
    pub const DOMAIN_USERS: u32 = 513;
    pub const DOMAIN_GUESTS: u32 = 514;
    pub const DOMAIN_COMPUTERS: u32 = 515;
    pub const DOMAIN_CONTROLLERS: u32 = 516;
    pub const CERT_PUBLISHERS: u32 = 517;
    pub const SCHEMA_ADMINS: u32 = 518;
    pub const ENTERPRISE_ADMINS: u32 = 519;
    pub const GROUP_POLICY_CREATOR_OWNERS: u32 = 520;
    pub const READONLY_DOMAIN_CONTROLLERS: u32 = 521;
    pub const CLONEABLE_DOMAIN_CONTROLLERS: u32 = 522;
    pub const PROTECTED_USERS: u32 = 525;
    pub const KEY_ADMINS: u32 = 526;
    pub const ENTERPRISE_KEY_ADMINS: u32 = 527;
    pub const RAS_AND_IAS_SERVERS: u32 = 553;
    pub const ALLOWED_RODC_PASSWORD_REPLICATION_GROUP: u32 = 571;
    pub const DENIED_RODC_PASSWORD_REPLICATION_GROUP: u32 = 572;
}

/// What an SDDL alias stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AliasTarget {
    /// A SID that is the same everywhere: identifier authority and sub-authorities.
    Fixed(u64, &'static [u32]),
    /// A RID under the domain SID (on a DC the "machine" aliases LA/LG are domain accounts too).
    Domain(u32),
    /// A RID under the forest root domain SID.
    RootDomain(u32),
}

use AliasTarget::{Domain, Fixed, RootDomain};

/// MS-DTYP 2.5.1.1 sid-token table (and sddl.h). Which aliases are forest-root relative
/// (RO, SA, EA, EK) follows MS-DTYP's "root domain" wording for those groups.
const ALIASES: &[(&str, AliasTarget)] = &[
    ("WD", Fixed(1, &[0])),
    ("CO", Fixed(3, &[0])),
    ("CG", Fixed(3, &[1])),
    ("OW", Fixed(3, &[4])),
    ("NU", Fixed(5, &[2])),
    ("IU", Fixed(5, &[4])),
    ("SU", Fixed(5, &[6])),
    ("AN", Fixed(5, &[7])),
    ("ED", Fixed(5, &[9])),
    ("PS", Fixed(5, &[10])),
    ("AU", Fixed(5, &[11])),
    ("RC", Fixed(5, &[12])),
    ("SY", Fixed(5, &[18])),
    ("LS", Fixed(5, &[19])),
    ("NS", Fixed(5, &[20])),
    ("WR", Fixed(5, &[33])),
    ("BA", Fixed(5, &[32, 544])),
    ("BU", Fixed(5, &[32, 545])),
    ("BG", Fixed(5, &[32, 546])),
    ("PU", Fixed(5, &[32, 547])),
    ("AO", Fixed(5, &[32, 548])),
    ("SO", Fixed(5, &[32, 549])),
    ("PO", Fixed(5, &[32, 550])),
    ("BO", Fixed(5, &[32, 551])),
    ("RE", Fixed(5, &[32, 552])),
    ("RU", Fixed(5, &[32, 554])),
    ("RD", Fixed(5, &[32, 555])),
    ("NO", Fixed(5, &[32, 556])),
    ("MU", Fixed(5, &[32, 558])),
    ("LU", Fixed(5, &[32, 559])),
    ("IS", Fixed(5, &[32, 568])),
    ("CY", Fixed(5, &[32, 569])),
    ("ER", Fixed(5, &[32, 573])),
    ("CD", Fixed(5, &[32, 574])),
    ("RA", Fixed(5, &[32, 575])),
    ("ES", Fixed(5, &[32, 576])),
    ("MS", Fixed(5, &[32, 577])),
    ("HA", Fixed(5, &[32, 578])),
    ("AA", Fixed(5, &[32, 579])),
    ("RM", Fixed(5, &[32, 580])),
    ("UD", Fixed(5, &[84, 0, 0, 0, 0, 0])),
    ("AC", Fixed(15, &[2, 1])),
    ("LW", Fixed(16, &[4096])),
    ("ME", Fixed(16, &[8192])),
    ("MP", Fixed(16, &[8448])),
    ("HI", Fixed(16, &[12288])),
    ("SI", Fixed(16, &[16384])),
    ("AS", Fixed(18, &[1])),
    ("SS", Fixed(18, &[2])),
    ("LA", Domain(rid::ADMINISTRATOR)),
    ("LG", Domain(rid::GUEST)),
    ("DA", Domain(rid::DOMAIN_ADMINS)),
    ("DU", Domain(rid::DOMAIN_USERS)),
    ("DG", Domain(rid::DOMAIN_GUESTS)),
    ("DC", Domain(rid::DOMAIN_COMPUTERS)),
    ("DD", Domain(rid::DOMAIN_CONTROLLERS)),
    ("CA", Domain(rid::CERT_PUBLISHERS)),
    ("PA", Domain(rid::GROUP_POLICY_CREATOR_OWNERS)),
    ("CN", Domain(rid::CLONEABLE_DOMAIN_CONTROLLERS)),
    ("AP", Domain(rid::PROTECTED_USERS)),
    ("KA", Domain(rid::KEY_ADMINS)),
    ("RS", Domain(rid::RAS_AND_IAS_SERVERS)),
    ("RO", RootDomain(rid::ENTERPRISE_READONLY_DOMAIN_CONTROLLERS)),
    ("SA", RootDomain(rid::SCHEMA_ADMINS)),
    ("EA", RootDomain(rid::ENTERPRISE_ADMINS)),
    ("EK", RootDomain(rid::ENTERPRISE_KEY_ADMINS)),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("unknown SDDL SID alias {0:?}")]
    Unknown(String),
    #[error("SDDL alias {0} is domain-relative and no domain SID was given")]
    NeedsDomain(&'static str),
    #[error("SDDL alias {0} is relative to the forest root domain and no root domain SID was given")]
    NeedsRootDomain(&'static str),
}

/// The domain SIDs that domain-relative aliases resolve against. In a single-domain forest
/// both are the same SID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasDomains {
    pub domain: Option<Sid>,
    pub root_domain: Option<Sid>,
}

impl AliasDomains {
    /// No domain known: only the fixed aliases resolve.
    pub fn none() -> Self {
        AliasDomains::default()
    }
    /// A forest with one domain: the domain is its own forest root.
    pub fn single(domain: Sid) -> Self {
        AliasDomains {
            domain: Some(domain.clone()),
            root_domain: Some(domain),
        }
    }
    /// A domain inside a forest whose root domain is `root_domain`.
    pub fn child(domain: Sid, root_domain: Sid) -> Self {
        AliasDomains {
            domain: Some(domain),
            root_domain: Some(root_domain),
        }
    }

    fn target_sid(&self, code: &'static str, target: AliasTarget) -> Result<Sid, AliasError> {
        match target {
            Fixed(authority, subs) => Ok(Sid::new(authority, subs)),
            Domain(r) => self
                .domain
                .as_ref()
                .map(|d| d.with_rid(r))
                .ok_or(AliasError::NeedsDomain(code)),
            RootDomain(r) => self
                .root_domain
                .as_ref()
                .map(|d| d.with_rid(r))
                .ok_or(AliasError::NeedsRootDomain(code)),
        }
    }

    /// The SID an alias such as `BA` or `DA` names. Aliases are upper case (MS-DTYP 2.5.1.1).
    pub fn resolve(&self, alias: &str) -> Result<Sid, AliasError> {
        let (code, target) = ALIASES
            .iter()
            .find(|(code, _)| *code == alias)
            .ok_or_else(|| AliasError::Unknown(alias.to_string()))?;
        self.target_sid(code, *target)
    }

    /// The alias Windows prints for `sid`, if it has one with the domains known here.
    pub fn alias_of(&self, sid: &Sid) -> Option<&'static str> {
        ALIASES.iter().find_map(|(code, target)| {
            self.target_sid(code, *target)
                .ok()
                .filter(|s| s == sid)
                .map(|_| *code)
        })
    }
}

/// Every alias code this module knows, in table order.
pub fn alias_codes() -> impl Iterator<Item = &'static str> {
    ALIASES.iter().map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> Sid {
        s.parse().unwrap()
    }

    #[test]
    fn fixed_sids_match_ms_dtyp() {
        assert_eq!(everyone(), sid("S-1-1-0"));
        assert_eq!(creator_owner(), sid("S-1-3-0"));
        assert_eq!(principal_self(), sid("S-1-5-10"));
        assert_eq!(authenticated_users(), sid("S-1-5-11"));
        assert_eq!(system(), sid("S-1-5-18"));
        assert_eq!(enterprise_domain_controllers(), sid("S-1-5-9"));
        assert_eq!(anonymous(), sid("S-1-5-7"));
        assert_eq!(network(), sid("S-1-5-2"));
        assert_eq!(builtin_administrators(), sid("S-1-5-32-544"));
        assert_eq!(builtin_users(), sid("S-1-5-32-545"));
        assert_eq!(builtin_guests(), sid("S-1-5-32-546"));
        assert_eq!(account_operators(), sid("S-1-5-32-548"));
        assert_eq!(server_operators(), sid("S-1-5-32-549"));
        assert_eq!(print_operators(), sid("S-1-5-32-550"));
        assert_eq!(backup_operators(), sid("S-1-5-32-551"));
        assert_eq!(pre_windows_2000_compatible_access(), sid("S-1-5-32-554"));
    }

    #[test]
    fn domain_aliases_need_the_right_domain() {
        let child = sid("S-1-5-21-1-2-3");
        let root = sid("S-1-5-21-7-8-9");
        let ctx = AliasDomains::child(child.clone(), root.clone());
        assert_eq!(ctx.resolve("DA").unwrap(), child.with_rid(512));
        assert_eq!(ctx.resolve("LA").unwrap(), child.with_rid(500));
        assert_eq!(ctx.resolve("EA").unwrap(), root.with_rid(519));
        assert_eq!(ctx.resolve("SA").unwrap(), root.with_rid(518));
        assert_eq!(ctx.resolve("RO").unwrap(), root.with_rid(498));
        assert_eq!(ctx.resolve("BA").unwrap(), builtin_administrators());
        assert_eq!(
            AliasDomains::none().resolve("DA"),
            Err(AliasError::NeedsDomain("DA"))
        );
        let domain_only = AliasDomains {
            domain: Some(child.clone()),
            root_domain: None,
        };
        assert_eq!(domain_only.resolve("EA"), Err(AliasError::NeedsRootDomain("EA")));
        assert!(matches!(ctx.resolve("da"), Err(AliasError::Unknown(_))));
        assert!(matches!(ctx.resolve("XX"), Err(AliasError::Unknown(_))));
    }

    #[test]
    fn alias_of_inverts_resolve_for_every_code() {
        let ctx = AliasDomains::child(sid("S-1-5-21-1-2-3"), sid("S-1-5-21-7-8-9"));
        for code in alias_codes() {
            let s = ctx.resolve(code).unwrap();
            assert_eq!(ctx.alias_of(&s), Some(code), "{code}");
        }
        // Enterprise Admins of another domain is not EA here.
        assert_eq!(ctx.alias_of(&sid("S-1-5-21-1-2-3-519")), None);
        assert_eq!(AliasDomains::none().alias_of(&sid("S-1-5-21-1-2-3-512")), None);
    }
}
