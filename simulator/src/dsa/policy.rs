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

/// Attributes a Global Catalog holds for every object (isMemberOfPartialAttributeSet).
pub fn in_partial_attribute_set(key: &str) -> bool {
    key == "distinguishedname"
        || crate::schema::Schema::ad()
            .attribute(key)
            .is_some_and(|a| a.in_partial_attribute_set)
}

use super::write::Modification;
use super::DirState;
use crate::model::{Entry, EntryId};

/// Create-child rights as AD's default security descriptors grant them (MS-ADTS 6.1.3):
/// admins of the domain create anything; Account Operators create users, groups, computers
/// and inetOrgPersons, but not in Builtin or Domain Controllers, and not gMSAs (issue: 50).
pub fn may_create(dir: &Directory, st: &DirState, caller: &Caller, parent: EntryId, class: &str) -> bool {
    let Some(p) = st.store.get(parent) else {
        return false;
    };
    let domain = dir.forest.domain_of(&p.dn).map(|d| d.index);
    let in_config = p.dn.is_within(&dir.forest.config_dn);
    if in_config {
        return caller.system
            || caller.has_sid(&dir.forest.root().sid.with_rid(519))
            || domain_admin_of_root(dir, caller);
    }
    let Some(d) = domain else { return caller.system };
    if is_admin_of(dir, caller, d) {
        return true;
    }
    if is_account_operator(caller) {
        let protected = p.dn.rdn().is_some_and(|r| {
            r.value.eq_ignore_ascii_case("Builtin") || r.value.eq_ignore_ascii_case("Domain Controllers")
        });
        return !protected
            && matches!(
                class.to_ascii_lowercase().as_str(),
                "user" | "group" | "computer" | "inetorgperson"
            );
    }
    false
}

fn domain_admin_of_root(dir: &Directory, caller: &Caller) -> bool {
    caller.has_sid(&dir.forest.root().sid.with_rid(512))
}

/// Write rights: admins anything; Account Operators on the principals they may create (not on
/// protected admin accounts, adminCount=1); a principal may change its own password.
pub fn may_modify(
    dir: &Directory,
    st: &DirState,
    caller: &Caller,
    target: &Entry,
    mods: &[Modification],
) -> bool {
    let _ = st;
    let domain = dir.forest.domain_of(&target.dn).map(|d| d.index);
    if target.dn.is_within(&dir.forest.config_dn) {
        return caller.system
            || caller.has_sid(&dir.forest.root().sid.with_rid(519))
            || domain_admin_of_root(dir, caller);
    }
    if domain.is_some_and(|d| is_admin_of(dir, caller, d)) {
        return true;
    }
    let own_password_change =
        caller.entry == Some(target.id) && mods.iter().all(|m| m.attr.eq_ignore_ascii_case("unicodePwd"));
    if own_password_change {
        return true;
    }
    if is_account_operator(caller) {
        let protected = target.first_i64("adminCount") == Some(1);
        let class_ok = ["user", "group", "computer", "inetOrgPerson"].iter().any(|c| {
            target
                .structural_class()
                .is_some_and(|s| s.eq_ignore_ascii_case(c))
        });
        return class_ok && !protected;
    }
    false
}

pub fn may_delete(dir: &Directory, st: &DirState, caller: &Caller, target: &Entry) -> bool {
    may_modify(dir, st, caller, target, &[])
}

/// Attribute rules that refuse a modify regardless of rights.
pub fn refuse_modify(dir: &Directory, target: &Entry, key: &str) -> Option<super::DsError> {
    let _ = dir;
    // "The password change interval can only be set during creation" (MS gMSA docs;
    // windows-behaviour.md row 6; result code inferred).
    if key == "msds-managedpasswordinterval" && target.is_class("msDS-GroupManagedServiceAccount") {
        return Some(super::DsError::constraint(
            super::error::win32::ERROR_DS_CANT_MOD_SYSTEM_ONLY,
            0x90784,
            "msDS-ManagedPasswordInterval",
        ));
    }
    None
}

/// Reset Password (User-Force-Change-Password, an extended right the default SDs give to the
/// domain's admins and, on the principals they manage, Account Operators; MS-ADTS 5.1.3.2.1).
pub fn may_reset_password(dir: &Directory, caller: &Caller, target: &Entry) -> bool {
    if caller.system {
        return true;
    }
    let domain = dir.forest.domain_of(&target.dn).map(|d| d.index);
    if domain.is_some_and(|d| is_admin_of(dir, caller, d)) {
        return true;
    }
    is_account_operator(caller) && target.first_i64("adminCount") != Some(1)
}
