//! The access check: MS-DTYP 2.5.3.2 AccessCheck with the directory-service object-type
//! extension of MS-ADTS 5.1.3.3 (object ACEs apply to the property, property set, extended
//! right or child class named by their ObjectType GUID).
//!
//! What the caller does, not this module:
//! - SYSTEM is not checked here: the directory bypasses the check for its own SYSTEM context
//!   (docs/notes/gmsa-gkdi.md §5 "SYSTEM always passes"; Windows' DSA runs as LocalSystem).
//! - Group membership is expanded into the [`Token`] before the call.
//! - Generic bits in stored ACE masks are mapped when the SD is written (Windows maps them when
//!   it creates an object's SD); this check maps only the desired access, as MS-DTYP 2.5.3.2
//!   does. Use [`map_generic_ds`] on masks before storing them.
//! - Privileges (SeSecurityPrivilege, SeTakeOwnershipPrivilege, …), mandatory integrity labels
//!   and conditional (callback) ACEs are not modelled: ACE types other than the six in
//!   [`AceType`](super::acl::AceType) are skipped, as are audit ACEs found in a DACL.

use uuid::Uuid;

use super::acl::{AceFlags, StandardAce};
use super::descriptor::SecurityDescriptor;
use super::sid::Sid;
use super::token::Token;
use super::well_known;

pub use super::rights::*;

/// The access check refused at least one of the requested rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("access denied")]
pub struct AccessDenied;

/// What an ACE is checked against: the token, the object's owner (for OWNER RIGHTS) and the
/// SID that PRINCIPAL_SELF stands for.
struct Subject<'a> {
    token: &'a Token,
    owner: Option<&'a Sid>,
    principal_self: Option<&'a Sid>,
}

impl Subject<'_> {
    /// MS-DTYP 2.5.3.2 SidInToken with PrincipalSelfSubst, plus OWNER RIGHTS (S-1-3-4), which
    /// stands for whoever owns the object.
    fn matches(&self, ace_sid: &Sid) -> bool {
        if *ace_sid == well_known::principal_self() {
            if let Some(s) = self.principal_self {
                return self.token.contains(s);
            }
        }
        if *ace_sid == well_known::owner_rights() {
            return self.owner.is_some_and(|o| self.token.contains(o));
        }
        self.token.contains(ace_sid)
    }
}

/// True when `ace` takes part in a check for `object_types`: non-object ACEs and object ACEs
/// without ObjectType always do; an object ACE with ObjectType only when that GUID is on the
/// path being checked (MS-DTYP 2.5.3.2: object ACEs whose type is not in the object type list
/// are ignored). InheritedObjectType only steers inheritance and is not looked at here.
fn applies(ace: &StandardAce, object_types: &[Uuid]) -> bool {
    if ace.flags.contains(AceFlags::INHERIT_ONLY) || ace.ace_type.is_audit() {
        return false;
    }
    match (ace.ace_type.is_object(), ace.object_type) {
        (true, Some(g)) => object_types.contains(&g),
        _ => true,
    }
}

/// The rights the owner gets without an ACE: READ_CONTROL and WRITE_DAC, unless the DACL has
/// an OWNER RIGHTS ACE, which then decides what the owner gets (MS-DTYP 2.5.3.2).
fn implicit_owner_rights(sd: &SecurityDescriptor, subject: &Subject<'_>) -> u32 {
    let Some(owner) = &sd.owner else { return 0 };
    if !subject.token.contains(owner) {
        return 0;
    }
    let has_owner_rights_ace = sd.effective_dacl().is_some_and(|dacl| {
        dacl.standard_aces()
            .any(|a| !a.flags.contains(AceFlags::INHERIT_ONLY) && a.sid == well_known::owner_rights())
    });
    if has_owner_rights_ace {
        0
    } else {
        READ_CONTROL | WRITE_DAC
    }
}

/// Access check for one object, or for one property / extended right / child class of it.
///
/// `object_type` is the GUID object ACEs are matched against (an attribute's schemaIDGUID, an
/// extended right's rightsGuid, a class's schemaIDGUID for create/delete child). With `None`,
/// object ACEs that name an ObjectType are ignored. `principal_self` is the SID that ACEs for
/// PRINCIPAL_SELF (S-1-5-10) stand for, normally the object's own objectSid.
///
/// Returns the granted rights (the generic-mapped `desired`, or with MAXIMUM_ALLOWED every
/// right the token has) or [`AccessDenied`].
pub fn access_check(
    sd: &SecurityDescriptor,
    token: &Token,
    desired: u32,
    object_type: Option<Uuid>,
    principal_self: Option<&Sid>,
) -> Result<u32, AccessDenied> {
    access_check_path(sd, token, desired, object_type.as_slice(), principal_self)
}

/// [`access_check`] with a path of object types: the object's class, then a property set,
/// then the property (MS-ADTS 5.1.3.3.3/5.1.3.3.4 build such an object type list). The answer
/// is for the last GUID; an object ACE naming any GUID on the path applies to it, since a grant
/// or denial on a node covers the nodes below it (MS-DTYP 2.5.3.2).
pub fn access_check_path(
    sd: &SecurityDescriptor,
    token: &Token,
    desired: u32,
    object_types: &[Uuid],
    principal_self: Option<&Sid>,
) -> Result<u32, AccessDenied> {
    let desired = map_generic_ds(desired);
    if desired & MAXIMUM_ALLOWED != 0 {
        let max = maximum_allowed_path(sd, token, object_types, principal_self);
        let wanted = desired & !MAXIMUM_ALLOWED;
        return if wanted & !max == 0 {
            Ok(max)
        } else {
            Err(AccessDenied)
        };
    }
    // No DACL, or a NULL DACL: everything is granted (MS-DTYP 2.5.3.2).
    let Some(dacl) = sd.effective_dacl() else {
        return Ok(desired);
    };
    let subject = Subject {
        token,
        owner: sd.owner.as_ref(),
        principal_self,
    };
    let mut granted = desired & implicit_owner_rights(sd, &subject);
    let mut remaining = desired & !granted;
    // Ordered walk: each deny ACE is checked against what is still missing when it is reached,
    // so an earlier allow wins over a later deny and vice versa.
    for ace in dacl.standard_aces() {
        if remaining == 0 {
            break;
        }
        if !applies(ace, object_types) || !subject.matches(&ace.sid) {
            continue;
        }
        if ace.ace_type.is_deny() {
            if ace.mask & remaining != 0 {
                return Err(AccessDenied);
            }
        } else if ace.ace_type.is_allow() {
            granted |= ace.mask & remaining;
            remaining &= !ace.mask;
        }
    }
    if remaining == 0 {
        Ok(granted)
    } else {
        Err(AccessDenied)
    }
}

/// True when every right in `desired` is granted.
pub fn is_granted(
    sd: &SecurityDescriptor,
    token: &Token,
    desired: u32,
    object_type: Option<Uuid>,
    principal_self: Option<&Sid>,
) -> bool {
    access_check(sd, token, desired, object_type, principal_self).is_ok()
}

/// Every right the token has on the object (MS-DTYP 2.5.3.2 with MAXIMUM_ALLOWED: an allow
/// grants what no earlier deny took, a deny takes what no earlier allow gave).
pub fn maximum_allowed(
    sd: &SecurityDescriptor,
    token: &Token,
    object_type: Option<Uuid>,
    principal_self: Option<&Sid>,
) -> u32 {
    maximum_allowed_path(sd, token, object_type.as_slice(), principal_self)
}

fn maximum_allowed_path(
    sd: &SecurityDescriptor,
    token: &Token,
    object_types: &[Uuid],
    principal_self: Option<&Sid>,
) -> u32 {
    let Some(dacl) = sd.effective_dacl() else {
        return DS_ALL_RIGHTS;
    };
    let subject = Subject {
        token,
        owner: sd.owner.as_ref(),
        principal_self,
    };
    let mut granted = implicit_owner_rights(sd, &subject);
    let mut denied = 0u32;
    for ace in dacl.standard_aces() {
        if !applies(ace, object_types) || !subject.matches(&ace.sid) {
            continue;
        }
        if ace.ace_type.is_allow() {
            granted |= ace.mask & !denied;
        } else if ace.ace_type.is_deny() {
            denied |= ace.mask & !granted;
        }
    }
    granted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::acl::Acl;

    fn sid(s: &str) -> Sid {
        s.parse().unwrap()
    }

    fn sd_with(owner: Option<Sid>, aces: Vec<StandardAce>) -> SecurityDescriptor {
        SecurityDescriptor::new(
            owner,
            None,
            Some(Acl::new(aces.into_iter().map(Into::into).collect())),
            None,
        )
    }

    #[test]
    fn earlier_allow_beats_later_deny_for_the_rights_it_covers() {
        let user = sid("S-1-5-21-1-2-3-1105");
        let token = Token::new(user.clone(), []);
        let sd = sd_with(
            None,
            vec![
                StandardAce::allow(user.clone(), RIGHT_DS_READ_PROPERTY),
                StandardAce::deny(user.clone(), RIGHT_DS_READ_PROPERTY | RIGHT_DS_WRITE_PROPERTY),
            ],
        );
        assert_eq!(
            access_check(&sd, &token, RIGHT_DS_READ_PROPERTY, None, None),
            Ok(RIGHT_DS_READ_PROPERTY)
        );
        assert_eq!(
            access_check(&sd, &token, RIGHT_DS_WRITE_PROPERTY, None, None),
            Err(AccessDenied)
        );
        assert_eq!(maximum_allowed(&sd, &token, None, None), RIGHT_DS_READ_PROPERTY);
    }

    #[test]
    fn generic_desired_access_is_mapped() {
        let user = sid("S-1-5-21-1-2-3-1105");
        let token = Token::new(user.clone(), []);
        let sd = sd_with(None, vec![StandardAce::allow(user, DS_GENERIC_READ)]);
        assert_eq!(
            access_check(&sd, &token, GENERIC_READ, None, None),
            Ok(DS_GENERIC_READ)
        );
        assert!(!is_granted(&sd, &token, GENERIC_WRITE, None, None));
    }

    #[test]
    fn maximum_allowed_request() {
        let user = sid("S-1-5-21-1-2-3-1105");
        let token = Token::new(user.clone(), []);
        let sd = sd_with(None, vec![StandardAce::allow(user, RIGHT_DS_LIST | READ_CONTROL)]);
        assert_eq!(
            access_check(&sd, &token, MAXIMUM_ALLOWED, None, None),
            Ok(RIGHT_DS_LIST | READ_CONTROL)
        );
        assert_eq!(
            access_check(&sd, &token, MAXIMUM_ALLOWED | WRITE_DAC, None, None),
            Err(AccessDenied)
        );
    }

    #[test]
    fn owner_rights_ace_replaces_implicit_owner_rights() {
        let owner = sid("S-1-5-21-1-2-3-1105");
        let token = Token::new(owner.clone(), []);
        let implicit = sd_with(Some(owner.clone()), vec![]);
        assert_eq!(
            access_check(&implicit, &token, READ_CONTROL | WRITE_DAC, None, None),
            Ok(READ_CONTROL | WRITE_DAC)
        );
        assert!(!is_granted(&implicit, &token, WRITE_OWNER, None, None));
        let restricted = sd_with(
            Some(owner),
            vec![StandardAce::allow(well_known::owner_rights(), READ_CONTROL)],
        );
        assert!(is_granted(&restricted, &token, READ_CONTROL, None, None));
        assert!(!is_granted(&restricted, &token, WRITE_DAC, None, None));
    }
}
