//! The access layer: every decision about who may do what, to which entry, over which
//! connection. Operations ask here and nowhere else: add (create a child of a class under a
//! parent), modify (write attributes, a password change included), password reset, delete,
//! rename, reads of attributes (secrets, admin-only root key data, msDS-ManagedPassword) and
//! the rule that anonymous callers only read the rootDSE.
//!
//! Every question takes the caller (its token, and the protection of its connection, which
//! [`Caller`] carries), the target entry (the parent for a create), and the right or attribute
//! asked for; the answer is a decision or the [`DsError`] to send. The rules are the outcome of
//! AD's default security descriptors (MS-ADTS 6.1.3 defaultSecurityDescriptor) for the
//! operations adsim serves, each citing what it reproduces; msDS-GroupMSAMembership is already
//! evaluated as a descriptor (MS-DTYP 2.5.3.2 access check). A full SD-based model replaces
//! the fixed roles here, behind the same functions.

use super::caller::{well_known, Caller};
use super::error::{code, DsError, DsResult};
use super::request::Modification;
use super::Directory;
use crate::model::{Entry, EntryId};
use crate::security::{self, SecurityDescriptor, Sid, Token};

/// Never returned by a search, never matched by a filter or compare (MS-ADTS 3.1.1.4.4:
/// secret attributes).
pub(crate) const SECRET_ATTRIBUTES: &[&str] = &[
    "unicodepwd",
    "dbcspwd",
    "ntpwdhistory",
    "lmpwdhistory",
    "supplementalcredentials",
    "userpassword",
    "currentvalue",
    "priorvalue",
];

/// Readable only by Domain Admins / Enterprise Admins (MS docs: KDS root key data).
pub(crate) const ADMIN_ONLY_ATTRIBUTES: &[&str] = &["mskds-rootkeydata"];

/// A right asked for on an entry by a write operation.
#[derive(Clone, Copy, Debug)]
pub enum Right<'a> {
    /// Create a child of this structural class (the target is the parent).
    CreateChild {
        class: &'a str,
    },
    /// Write these modifications (a principal's own password change among them).
    Write {
        mods: &'a [Modification],
    },
    /// Reset the password (User-Force-Change-Password).
    ResetPassword,
    Delete,
    /// Modify DN (move or rename).
    Rename,
}

/// May the caller read msDS-ManagedPassword of an entry on its connection (docs/notes/gmsa-gkdi.md §5)?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedPasswordRead {
    /// The blob is returned.
    Allowed,
    /// The attribute is omitted (not a gMSA, or not granted by msDS-GroupMSAMembership).
    NotAllowed,
    /// The connection is neither TLS nor SASL-sealed: the whole operation fails
    /// (1 `0000202D`, [`DsError::confidentiality_required`]).
    ConfidentialityRequired,
}

/// Anonymous callers may only read the rootDSE: every other operation needs a bind.
pub fn require_bound(caller: &Caller) -> DsResult<()> {
    if caller.is_anonymous() {
        return Err(DsError::needs_bind());
    }
    Ok(())
}

/// The write rights: `Ok` or insufficientAccessRights (50 `00000005`).
pub fn check(dir: &Directory, caller: &Caller, target: &Entry, right: Right<'_>) -> DsResult<()> {
    let granted = match right {
        Right::CreateChild { class } => may_create(dir, caller, target, class),
        Right::Write { mods } => may_modify(dir, caller, target, mods),
        // Asked as a write of nothing: the own-password rule matches an empty list too, so a
        // principal may delete or rename itself (the rule as it stands; not yet Windows').
        Right::Delete | Right::Rename => may_modify(dir, caller, target, &[]),
        Right::ResetPassword => may_reset_password(dir, caller, target),
    };
    if granted {
        Ok(())
    } else {
        Err(DsError::insufficient_access())
    }
}

/// unicodePwd is written only over an encrypted connection (MS-ADTS 3.1.1.3.1.5.1): else
/// 53 `0000001F`.
pub fn require_encrypted_for_password(caller: &Caller) -> DsResult<()> {
    if caller.encrypted {
        return Ok(());
    }
    Err(DsError::svc(
        code::UNWILLING_TO_PERFORM,
        0x1F,
        5003,
        "WILL_NOT_PERFORM",
        0,
    ))
}

/// Whether a search returns attribute `attr_lower` (lower case) of `target` to the caller.
pub fn may_read_attribute(dir: &Directory, caller: &Caller, target: &Entry, attr_lower: &str) -> bool {
    let _ = target;
    if !visible_to_filters(attr_lower) {
        return false;
    }
    if ADMIN_ONLY_ATTRIBUTES.contains(&attr_lower) {
        return may_read_root_keys(dir, caller);
    }
    true
}

/// Whether filters and compare see an attribute's values at all (secrets are invisible).
pub fn visible_to_filters(attr_lower: &str) -> bool {
    !SECRET_ATTRIBUTES.contains(&attr_lower)
}

/// Whether the caller may read root key secrets (Domain/Enterprise Admins; MS KDS docs).
pub fn may_read_root_keys(dir: &Directory, caller: &Caller) -> bool {
    is_domain_or_enterprise_admin(dir, caller)
}

/// The one answer to "may this caller read msDS-ManagedPassword of this entry on this
/// connection" (docs/notes/gmsa-gkdi.md §5): step 1 the confidentiality check, steps 2-3 the gMSA's
/// msDS-GroupMSAMembership descriptor granting read to the caller's token. SYSTEM passes.
pub fn managed_password_read(caller: &Caller, target: &Entry) -> ManagedPasswordRead {
    use ManagedPasswordRead::*;
    if !target.is_class("msDS-GroupManagedServiceAccount") {
        return NotAllowed;
    }
    if !caller.encrypted {
        return ConfidentialityRequired;
    }
    let Some(sid) = target.first("objectSid").and_then(|b| Sid::from_bytes(b).ok()) else {
        return NotAllowed;
    };
    if caller.system {
        return Allowed;
    }
    let Some(sd) = target
        .first("msDS-GroupMSAMembership")
        .and_then(|raw| SecurityDescriptor::from_bytes(raw).ok())
    else {
        return NotAllowed;
    };
    let granted = security::is_granted(
        &sd,
        &token_of(caller),
        security::access::RIGHT_DS_READ_PROPERTY,
        None,
        Some(&sid),
    );
    if granted {
        Allowed
    } else {
        NotAllowed
    }
}

impl Directory {
    /// Test-ADServiceAccount's question for a principal: may it retrieve the password of
    /// `gmsa` (on the caller's connection)?
    pub fn may_retrieve_managed_password(&self, caller: &Caller, gmsa: EntryId) -> bool {
        let st = self.read();
        st.store
            .get(gmsa)
            .is_some_and(|e| managed_password_read(caller, e) == ManagedPasswordRead::Allowed)
    }
}

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

fn is_account_operator(caller: &Caller) -> bool {
    caller.has_sid(&well_known::builtin(548))
}

/// The configuration NC's default security: SYSTEM, Enterprise Admins and the root domain's
/// Domain Admins.
fn is_config_writer(dir: &Directory, caller: &Caller) -> bool {
    caller.system
        || caller.has_sid(&dir.forest.root().sid.with_rid(519))
        || caller.has_sid(&dir.forest.root().sid.with_rid(512))
}

/// Create-child rights as AD's default security descriptors grant them (MS-ADTS 6.1.3):
/// admins of the domain create anything; Account Operators create users, groups, computers
/// and inetOrgPersons, but not in Builtin or Domain Controllers, and not gMSAs (issue: 50).
fn may_create(dir: &Directory, caller: &Caller, parent: &Entry, class: &str) -> bool {
    if parent.dn.is_within(&dir.forest.config_dn) {
        return is_config_writer(dir, caller);
    }
    let Some(d) = dir.forest.domain_of(&parent.dn).map(|d| d.index) else {
        return caller.system;
    };
    if is_admin_of(dir, caller, d) {
        return true;
    }
    if is_account_operator(caller) {
        let protected = parent.dn.rdn().is_some_and(|r| {
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

/// Write rights: admins anything; Account Operators on the principals they may create (not on
/// protected admin accounts, adminCount=1); a principal may change its own password.
fn may_modify(dir: &Directory, caller: &Caller, target: &Entry, mods: &[Modification]) -> bool {
    if target.dn.is_within(&dir.forest.config_dn) {
        return is_config_writer(dir, caller);
    }
    let domain = dir.forest.domain_of(&target.dn).map(|d| d.index);
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

/// Reset Password (User-Force-Change-Password, an extended right the default SDs give to the
/// domain's admins and, on the principals they manage, Account Operators; MS-ADTS 5.1.3.2.1).
fn may_reset_password(dir: &Directory, caller: &Caller, target: &Entry) -> bool {
    if caller.system {
        return true;
    }
    let domain = dir.forest.domain_of(&target.dn).map(|d| d.index);
    if domain.is_some_and(|d| is_admin_of(dir, caller, d)) {
        return true;
    }
    is_account_operator(caller) && target.first_i64("adminCount") != Some(1)
}

/// The caller's token as the access check reads it (anonymous when it has no SID).
fn token_of(caller: &Caller) -> Token {
    let user = caller.sid.clone().unwrap_or_else(well_known::anonymous);
    Token::new(user, caller.token.iter().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::request::ModOp;
    use crate::dsa::testing::*;

    #[test]
    fn anonymous_callers_need_a_bind() {
        let dir = forest();
        let e = require_bound(&Caller::anonymous()).unwrap_err();
        assert_eq!(e.code, code::OPERATIONS_ERROR);
        assert!(e.text.starts_with("000004DC: LdapErr"), "{e:?}");
        require_bound(&caller(&dir, ALICE)).unwrap();
    }

    #[test]
    fn create_child_follows_the_default_descriptors() {
        let dir = forest();
        let users = entry(&dir, &format!("CN=Users,{BASE}"));
        let builtin = entry(&dir, &format!("CN=Builtin,{BASE}"));
        let config = entry(&dir, &dir.forest.config_dn.to_string());
        let (admin, ops, alice) = (admin(&dir), caller(&dir, OPS), caller(&dir, ALICE));
        let create =
            |who: &Caller, parent: &Entry, class| check(&dir, who, parent, Right::CreateChild { class });
        create(&admin, &users, "msDS-GroupManagedServiceAccount").unwrap();
        create(&admin, &config, "container").unwrap();
        create(&ops, &users, "user").unwrap();
        create(&ops, &users, "computer").unwrap();
        for (who, parent, class) in [
            (&ops, &builtin, "user"),
            (&ops, &users, "msDS-GroupManagedServiceAccount"),
            (&ops, &config, "container"),
            (&alice, &users, "user"),
        ] {
            let e = create(who, parent, class).unwrap_err();
            assert_eq!(e.code, code::INSUFFICIENT_ACCESS_RIGHTS);
            assert!(e.text.starts_with("00000005: SecErr"), "{e:?}");
        }
    }

    #[test]
    fn write_rights_admins_operators_and_own_password() {
        let dir = forest();
        let (alice_e, admin_e) = (entry(&dir, ALICE), entry(&dir, ADMINISTRATOR));
        let (admin, ops, alice) = (admin(&dir), caller(&dir, OPS), caller(&dir, ALICE));
        let pw = [
            m(ModOp::Delete, "unicodePwd", vec![]),
            m(ModOp::Add, "unicodePwd", vec![]),
        ];
        let desc = [m(ModOp::Replace, "description", s("x"))];
        check(&dir, &alice, &alice_e, Right::Write { mods: &pw }).unwrap();
        check(&dir, &ops, &alice_e, Right::Write { mods: &desc }).unwrap();
        check(&dir, &admin, &admin_e, Right::Write { mods: &desc }).unwrap();
        check(&dir, &ops, &alice_e, Right::Delete).unwrap();
        check(&dir, &ops, &alice_e, Right::Rename).unwrap();
        for (who, target, right) in [
            (&alice, &alice_e, Right::Write { mods: &desc }),
            (&alice, &entry(&dir, OPS), Right::Delete),
            (&ops, &admin_e, Right::Write { mods: &desc }),
            (&ops, &admin_e, Right::Rename),
            (&alice, &admin_e, Right::Write { mods: &pw }),
        ] {
            let e = check(&dir, who, target, right).unwrap_err();
            assert_eq!(e, DsError::insufficient_access());
        }
    }

    #[test]
    fn reset_password_right() {
        let dir = forest();
        let (alice_e, admin_e) = (entry(&dir, ALICE), entry(&dir, ADMINISTRATOR));
        let (ops, alice) = (caller(&dir, OPS), caller(&dir, ALICE));
        check(&dir, &admin(&dir), &admin_e, Right::ResetPassword).unwrap();
        check(&dir, &ops, &alice_e, Right::ResetPassword).unwrap();
        check(&dir, &Caller::system(), &admin_e, Right::ResetPassword).unwrap();
        assert_eq!(
            check(&dir, &ops, &admin_e, Right::ResetPassword).unwrap_err(),
            DsError::insufficient_access()
        );
        assert_eq!(
            check(&dir, &alice, &alice_e, Right::ResetPassword).unwrap_err(),
            DsError::insufficient_access()
        );
    }

    #[test]
    fn passwords_are_written_only_over_encrypted_connections() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        require_encrypted_for_password(&alice).unwrap();
        let e = require_encrypted_for_password(&alice.with_encryption(false)).unwrap_err();
        assert_eq!(e.code, code::UNWILLING_TO_PERFORM);
        assert!(e.text.starts_with("0000001F: SvcErr"), "{e:?}");
    }

    #[test]
    fn secrets_are_never_read_and_root_key_data_only_by_admins() {
        let dir = forest();
        let alice_e = entry(&dir, ALICE);
        let (admin, alice) = (admin(&dir), caller(&dir, ALICE));
        assert!(!may_read_attribute(&dir, &admin, &alice_e, "unicodepwd"));
        assert!(!visible_to_filters("unicodepwd"));
        assert!(visible_to_filters("description"));
        assert!(may_read_attribute(&dir, &alice, &alice_e, "description"));
        assert!(may_read_attribute(&dir, &admin, &alice_e, "mskds-rootkeydata"));
        assert!(!may_read_attribute(&dir, &alice, &alice_e, "mskds-rootkeydata"));
        assert!(may_read_root_keys(&dir, &admin) && !may_read_root_keys(&dir, &alice));
    }

    #[test]
    fn managed_password_read_decisions() {
        let dir = forest();
        let (gmsa, user) = (entry(&dir, SVC_WEB), entry(&dir, ALICE));
        let (web01, web02) = (caller(&dir, WEB01), caller(&dir, WEB02));
        assert_eq!(managed_password_read(&web01, &gmsa), ManagedPasswordRead::Allowed);
        assert_eq!(
            managed_password_read(&Caller::system(), &gmsa),
            ManagedPasswordRead::Allowed
        );
        assert_eq!(
            managed_password_read(&web02, &gmsa),
            ManagedPasswordRead::NotAllowed
        );
        // An administrator is not in msDS-GroupMSAMembership either.
        assert_eq!(
            managed_password_read(&admin(&dir), &gmsa),
            ManagedPasswordRead::NotAllowed
        );
        assert_eq!(
            managed_password_read(&web01.clone().with_encryption(false), &gmsa),
            ManagedPasswordRead::ConfidentialityRequired
        );
        // Not a gMSA: omitted, whatever the connection.
        assert_eq!(
            managed_password_read(&web01.clone().with_encryption(false), &user),
            ManagedPasswordRead::NotAllowed
        );
        assert!(dir.may_retrieve_managed_password(&web01, gmsa.id));
        assert!(!dir.may_retrieve_managed_password(&web02, gmsa.id));
        assert!(!dir.may_retrieve_managed_password(&web01, user.id));
    }
}
