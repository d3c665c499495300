//! Who may do what. AD decides through security descriptors; adsim applies the outcome of
//! AD's default descriptors (MS-ADTS 6.1.3 defaultSecurityDescriptor) for the operations it
//! serves, each rule citing what it reproduces.

use super::caller::{well_known, Caller};
use super::Directory;
use crate::security::Sid;

/// Domain Admins (512) of any domain, Enterprise Admins (519) or BUILTIN\Administrators.
pub fn is_domain_or_enterprise_admin(dir: &Directory, caller: &Caller) -> bool {
    caller.system
        || caller.has_sid(&well_known::builtin(544))
        || dir
            .forest
            .domains
            .iter()
            .any(|d| caller.has_sid(&d.sid.with_rid(512)))
        || caller.has_sid(&dir.forest.root().sid.with_rid(519))
}

/// Admin of the domain that holds `domain_index` (its Domain Admins, the forest's Enterprise
/// Admins, or BUILTIN\Administrators, which holds both).
pub fn is_admin_of(dir: &Directory, caller: &Caller, domain_index: usize) -> bool {
    caller.system
        || caller.has_sid(&dir.forest.domains[domain_index].sid.with_rid(512))
        || caller.has_sid(&dir.forest.root().sid.with_rid(519))
        || caller.has_sid(&well_known::builtin(544))
}

pub fn is_account_operator(caller: &Caller) -> bool {
    caller.has_sid(&well_known::builtin(548))
}

pub fn has_sid(caller: &Caller, sid: &Sid) -> bool {
    caller.has_sid(sid)
}

/// Attributes a Global Catalog holds for every object (isMemberOfPartialAttributeSet, MS-ADA*).
pub fn in_partial_attribute_set(key: &str) -> bool {
    matches!(
        key,
        "objectclass"
            | "objectcategory"
            | "objectguid"
            | "objectsid"
            | "cn"
            | "name"
            | "samaccountname"
            | "samaccounttype"
            | "userprincipalname"
            | "serviceprincipalname"
            | "dnshostname"
            | "displayname"
            | "description"
            | "givenname"
            | "sn"
            | "mail"
            | "member"
            | "grouptype"
            | "useraccountcontrol"
            | "primarygroupid"
            | "instancetype"
            | "whencreated"
            | "whenchanged"
            | "usncreated"
            | "usnchanged"
            | "distinguishedname"
            | "ntsecuritydescriptor"
            | "operatingsystem"
            | "dc"
            | "ou"
            | "mskds-domainid"
    )
}
