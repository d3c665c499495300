//! Granting and revoking rights the ways administrators do (`dsacls`, `Set-Acl`, PowerView's
//! `Add-DomainObjectAcl`, impacket's `dacledit.py`): right names such as `ResetPassword`,
//! `WriteProperty:pwdLastSet` or `GenericAll`, and where the ACE applies (this object, all
//! descendants, descendants of one class). The edits are pure functions on a
//! [`SecurityDescriptor`]; [`Cmdlets::grant`] and friends read nTSecurityDescriptor and write
//! it back through the directory as the caller, with the SD flags control naming the DACL, so
//! the access layer decides (WRITE_DAC, MS-ADTS 3.1.1.3.4.1.11).
//!
//! The names and GUIDs come from `security::extended` (controlAccessRight objects, MS-ADTS
//! 5.1.3.2) and the schema (schemaIDGUID of attributes and classes); the masks from
//! `security::rights` (MS-ADTS 5.1.3.2 / MS-DTYP 2.4.3).

use crate::dsa::request::{ModOp, Modification, Scope, SearchRequest, View};
use crate::model::filter::Filter;
use crate::schema::Schema;
use crate::security::extended::{self, Kind};
use crate::security::rights::*;
use crate::security::{
    sddl, Ace, AceFlags, AceType, Acl, AliasDomains, SecurityDescriptor, Sid, StandardAce,
};
use uuid::Uuid;

use super::{CmdletError, Cmdlets};

/// The SD flags control value naming the DACL only (MS-ADTS 3.1.1.3.4.1.11
/// DACL_SECURITY_INFORMATION), as `dsacls` and `Set-Acl` send it.
pub const DACL_ONLY: u32 = 0x4;

/// One right as a tool names it: the access mask and, for object ACEs, the object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Right {
    pub mask: u32,
    pub object_type: Option<Uuid>,
}

/// Where an ACE applies (dsacls `/I:`; the AppliesTo column of the Advanced Security dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppliesTo {
    /// This object only (no inheritance flags).
    This,
    /// This object and all descendant objects (CONTAINER_INHERIT; dsacls `/I:T`).
    ThisAndDescendants,
    /// All descendant objects (CONTAINER_INHERIT | INHERIT_ONLY; dsacls `/I:S`).
    Descendants,
    /// Descendant objects of one class (inherit-only, InheritedObjectType = the class's
    /// schemaIDGUID; dsacls `/I:S` with `;class`).
    DescendantsOf(Uuid),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclError {
    #[error("unknown right {0:?} (GenericAll, GenericWrite, GenericRead, ResetPassword, ChangePassword, WriteProperty[:attr|set], ReadProperty[:attr|set], CreateChild[:class], DeleteChild[:class], Self:<validated write>, WriteDacl, WriteOwner, Delete, AllExtendedRights, ExtendedRight:<name>)")]
    UnknownRight(String),
    #[error("unknown attribute, property set, class or extended right {0:?}")]
    UnknownName(String),
    #[error("unknown applies_to {0:?} (this, this_and_descendants, descendants, descendants:<class>)")]
    UnknownAppliesTo(String),
}

/// An attribute's schemaIDGUID or a property set's rightsGuid, by name.
fn property_or_set(name: &str) -> Result<Uuid, AclError> {
    if let Some(r) = extended::by_name(name).filter(|r| r.kind == Kind::PropertySet) {
        return Ok(r.guid);
    }
    Schema::ad()
        .attribute(name)
        .map(|a| a.schema_id_guid)
        .ok_or_else(|| AclError::UnknownName(name.into()))
}

fn class_guid(name: &str) -> Result<Uuid, AclError> {
    Schema::ad()
        .class(name)
        .map(|c| c.schema_id_guid)
        .ok_or_else(|| AclError::UnknownName(name.into()))
}

/// A validated write by its name (`Validated-SPN`) or by the attribute it guards (`member`,
/// `servicePrincipalName`, `dNSHostName`; MS-ADTS 5.1.3.2.2).
fn validated_write(name: &str) -> Result<Uuid, AclError> {
    let by_attr = match name.to_ascii_lowercase().as_str() {
        "member" => Some(extended::SELF_MEMBERSHIP),
        "serviceprincipalname" => Some(extended::VALIDATED_SPN),
        "dnshostname" => Some(extended::VALIDATED_DNS_HOST_NAME),
        _ => None,
    };
    by_attr
        .or_else(|| {
            extended::by_name(name)
                .filter(|r| r.kind == Kind::ValidatedWrite)
                .copied()
        })
        .map(|r| r.guid)
        .ok_or_else(|| AclError::UnknownName(name.into()))
}

impl Right {
    /// Parses one right name (case-insensitive): see [`AclError::UnknownRight`] for the list.
    /// `FullControl` and `All` are GenericAll (dacledit's and PowerView's words).
    pub fn parse(text: &str) -> Result<Right, AclError> {
        let (name, arg) = match text.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (text.trim(), None),
        };
        let plain = |mask| Right {
            mask,
            object_type: None,
        };
        let object = |mask, guid| Right {
            mask,
            object_type: Some(guid),
        };
        let with_arg = |mask, f: fn(&str) -> Result<Uuid, AclError>| -> Result<Right, AclError> {
            match arg {
                None | Some("") => Ok(plain(mask)),
                Some(a) => Ok(object(mask, f(a)?)),
            }
        };
        let lower = name.to_ascii_lowercase();
        let no_arg = |r: Right| {
            if arg.is_some() {
                Err(AclError::UnknownRight(text.into()))
            } else {
                Ok(r)
            }
        };
        match lower.as_str() {
            "genericall" | "fullcontrol" | "all" => no_arg(plain(GENERIC_ALL)),
            "genericwrite" => no_arg(plain(GENERIC_WRITE)),
            "genericread" => no_arg(plain(GENERIC_READ)),
            "resetpassword" => no_arg(object(
                RIGHT_DS_CONTROL_ACCESS,
                extended::USER_FORCE_CHANGE_PASSWORD.guid,
            )),
            "changepassword" => no_arg(object(
                RIGHT_DS_CONTROL_ACCESS,
                extended::USER_CHANGE_PASSWORD.guid,
            )),
            "writeproperty" => with_arg(RIGHT_DS_WRITE_PROPERTY, property_or_set),
            "readproperty" => with_arg(RIGHT_DS_READ_PROPERTY, property_or_set),
            "createchild" => with_arg(RIGHT_DS_CREATE_CHILD, class_guid),
            "deletechild" => with_arg(RIGHT_DS_DELETE_CHILD, class_guid),
            "self" => with_arg(RIGHT_DS_SELF, validated_write),
            "writedacl" => no_arg(plain(WRITE_DAC)),
            "writeowner" => no_arg(plain(WRITE_OWNER)),
            "delete" => no_arg(plain(DELETE)),
            "deletetree" => no_arg(plain(RIGHT_DS_DELETE_TREE)),
            "readcontrol" => no_arg(plain(READ_CONTROL)),
            "listchildren" => no_arg(plain(RIGHT_DS_LIST)),
            "allextendedrights" => no_arg(plain(RIGHT_DS_CONTROL_ACCESS)),
            "extendedright" => match arg {
                Some(a) => extended::by_name(a)
                    .filter(|r| r.kind == Kind::ControlAccess)
                    .map(|r| object(RIGHT_DS_CONTROL_ACCESS, r.guid))
                    .ok_or_else(|| AclError::UnknownName(a.into())),
                None => Err(AclError::UnknownRight(text.into())),
            },
            _ => Err(AclError::UnknownRight(text.into())),
        }
    }

    /// Several rights, separated by commas or `|` (`ResetPassword,WriteProperty:pwdLastSet`).
    pub fn parse_list(text: &str) -> Result<Vec<Right>, AclError> {
        text.split([',', '|'])
            .filter(|s| !s.trim().is_empty())
            .map(Right::parse)
            .collect()
    }
}

impl AppliesTo {
    /// `this`, `this_and_descendants` (or `all`), `descendants`, `descendants:<class>`.
    pub fn parse(text: &str) -> Result<AppliesTo, AclError> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "" | "this" => Ok(AppliesTo::This),
            "this_and_descendants" | "all" => Ok(AppliesTo::ThisAndDescendants),
            "descendants" => Ok(AppliesTo::Descendants),
            _ => match lower.split_once(':') {
                Some(("descendants", _)) => {
                    let class = t.split_once(':').map(|x| x.1.trim()).unwrap_or_default();
                    class_guid(class).map(AppliesTo::DescendantsOf)
                }
                _ => Err(AclError::UnknownAppliesTo(text.into())),
            },
        }
    }

    fn flags(self) -> AceFlags {
        match self {
            AppliesTo::This => AceFlags(0),
            AppliesTo::ThisAndDescendants => AceFlags(CONTAINER_INHERIT),
            AppliesTo::Descendants | AppliesTo::DescendantsOf(_) => {
                AceFlags(CONTAINER_INHERIT | INHERIT_ONLY)
            }
        }
    }

    fn inherited_object_type(self) -> Option<Uuid> {
        match self {
            AppliesTo::DescendantsOf(c) => Some(c),
            _ => None,
        }
    }
}

/// MS-DTYP 2.4.4.1 ACE flags.
const CONTAINER_INHERIT: u8 = 0x02;
const INHERIT_ONLY: u8 = 0x08;
const INHERITED: u8 = 0x10;

/// The allow ACEs granting `rights` to `sid` where `applies_to` says: an object ACE
/// (ACCESS_ALLOWED_OBJECT, MS-DTYP 2.4.4.3) when a right names an object type or the ACE is
/// limited to a class, else a plain one.
pub fn allow_aces(sid: &Sid, rights: &[Right], applies_to: AppliesTo) -> Vec<Ace> {
    rights
        .iter()
        .map(|r| {
            let inherited = applies_to.inherited_object_type();
            let ace = if r.object_type.is_some() || inherited.is_some() {
                StandardAce::allow_object(sid.clone(), r.mask, r.object_type, inherited)
            } else {
                StandardAce::allow(sid.clone(), r.mask)
            };
            Ace::Standard(ace.with_flags(applies_to.flags()))
        })
        .collect()
}

fn is_inherited(a: &Ace) -> bool {
    a.flags().0 & INHERITED != 0
}

/// Adds `aces` as explicit ACEs in canonical order (MS-DTYP 2.4.5: explicit deny, explicit
/// allow, then the inherited ACEs): after the last explicit ACE. An ACE already present is
/// not added twice.
pub fn grant(sd: &mut SecurityDescriptor, aces: Vec<Ace>) {
    let mut list = sd.dacl.take().map(|d| d.aces).unwrap_or_default();
    let at = list.iter().position(is_inherited).unwrap_or(list.len());
    let new: Vec<Ace> = aces.into_iter().filter(|a| !list.contains(a)).collect();
    list.splice(at..at, new);
    sd.dacl = Some(Acl::new(list));
    sd.control |= crate::security::descriptor::control::DACL_PRESENT;
}

/// Removes the explicit allow ACEs of `sid` that grant exactly one of `rights` where
/// `applies_to` says (what `dsacls /R`-by-right and `Remove-DomainObjectAcl` remove). A
/// generic right matches its stored, mapped form (MS-DTYP 2.5.3.3). Returns how many went.
pub fn revoke(sd: &mut SecurityDescriptor, sid: &Sid, rights: &[Right], applies_to: AppliesTo) -> usize {
    let Some(dacl) = sd.dacl.take() else { return 0 };
    let before = dacl.aces.len();
    let matches = |a: &Ace| {
        let Some(s) = a.as_standard() else { return false };
        !is_inherited(a)
            && s.ace_type.is_allow()
            && s.sid == *sid
            && s.flags.0 & (CONTAINER_INHERIT | INHERIT_ONLY) == applies_to.flags().0
            && s.inherited_object_type == applies_to.inherited_object_type()
            && rights
                .iter()
                .any(|r| map_generic_ds(s.mask) == map_generic_ds(r.mask) && s.object_type == r.object_type)
    };
    let kept: Vec<Ace> = dacl.aces.into_iter().filter(|a| !matches(a)).collect();
    let removed = before - kept.len();
    sd.dacl = Some(Acl::new(kept));
    removed
}

/// Whether an ACE of this descriptor is an allow of `sid` (tests and reports).
pub fn allow_aces_of<'a>(sd: &'a SecurityDescriptor, sid: &'a Sid) -> impl Iterator<Item = &'a StandardAce> {
    sd.dacl.iter().flat_map(|d| d.standard_aces()).filter(move |a| {
        a.sid == *sid && matches!(a.ace_type, AceType::AccessAllowed | AceType::AccessAllowedObject)
    })
}

impl Cmdlets<'_> {
    /// The DACL of `dn` as the caller reads it (READ_CONTROL), with the SD flags control
    /// naming the DACL.
    pub fn get_acl(&self, dn: &str) -> Result<SecurityDescriptor, CmdletError> {
        let caller = self.caller.clone().with_sd_flags(Some(DACL_ONLY));
        let out = self.dir.search(
            &caller,
            &SearchRequest {
                base: dn.to_string(),
                scope: Scope::Base,
                filter: Filter::Present("objectClass".into()),
                attrs: vec!["nTSecurityDescriptor".into()],
                types_only: false,
                size_limit: 0,
                view: View::Dc {
                    domain: self.domain_index_of(dn),
                },
            },
        )?;
        let raw = out
            .entries
            .into_iter()
            .next()
            .and_then(|e| {
                e.attrs
                    .into_iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("nTSecurityDescriptor"))
            })
            .and_then(|(_, v)| v.into_iter().next())
            .ok_or_else(|| CmdletError::Parameter(format!("{dn}: nTSecurityDescriptor not readable")))?;
        SecurityDescriptor::from_bytes(&raw).map_err(|e| CmdletError::Parameter(format!("{dn}: {e}")))
    }

    /// Writes `sd` to `dn` with the SD flags `flags` (the parts it replaces), as the caller.
    pub fn set_acl(&self, dn: &str, sd: &SecurityDescriptor, flags: u32) -> Result<(), CmdletError> {
        let bytes = sd
            .to_bytes()
            .map_err(|e| CmdletError::Parameter(format!("security descriptor: {e}")))?;
        let caller = self.caller.clone().with_sd_flags(Some(flags));
        self.dir.modify(
            &caller,
            dn,
            vec![Modification {
                op: ModOp::Replace,
                attr: "nTSecurityDescriptor".into(),
                values: vec![bytes],
            }],
        )?;
        Ok(())
    }

    /// `dsacls DN /G principal:rights` / `Add-DomainObjectAcl`: adds allow ACEs for
    /// `principal` (an account name, `DOMAIN\name`, a DN or a SID string) to the DACL of `dn`.
    pub fn grant(
        &self,
        dn: &str,
        principal: &str,
        rights: &str,
        applies_to: &str,
    ) -> Result<(), CmdletError> {
        let (sid, rights, applies) = self.acl_args(principal, rights, applies_to)?;
        let mut sd = self.get_acl(dn)?;
        grant(&mut sd, allow_aces(&sid, &rights, applies));
        self.set_acl(dn, &sd, DACL_ONLY)
    }

    /// `dsacls DN /R`-like for the named rights: removes the explicit allow ACEs of
    /// `principal` that `grant` with the same arguments adds. Returns how many were removed.
    pub fn revoke(
        &self,
        dn: &str,
        principal: &str,
        rights: &str,
        applies_to: &str,
    ) -> Result<usize, CmdletError> {
        let (sid, rights, applies) = self.acl_args(principal, rights, applies_to)?;
        let mut sd = self.get_acl(dn)?;
        let n = revoke(&mut sd, &sid, &rights, applies);
        if n > 0 {
            self.set_acl(dn, &sd, DACL_ONLY)?;
        }
        Ok(n)
    }

    /// `Set-Acl` with an SDDL text (`D:(A;;RP;;;AU)`, domain aliases such as DA resolving in
    /// `dn`'s domain): writes the parts the SD flags name (0 = every part the text has).
    pub fn set_sddl(&self, dn: &str, text: &str, flags: u32) -> Result<(), CmdletError> {
        let sd = sddl::parse(text, &self.alias_domains(dn))
            .map_err(|e| CmdletError::Parameter(format!("SDDL: {e}")))?;
        self.set_acl(dn, &sd, if flags == 0 { sddl_parts(&sd) } else { flags })
    }

    fn acl_args(
        &self,
        principal: &str,
        rights: &str,
        applies_to: &str,
    ) -> Result<(Sid, Vec<Right>, AppliesTo), CmdletError> {
        let bad = |e: AclError| CmdletError::Parameter(e.to_string());
        let sid = match principal.parse::<Sid>() {
            Ok(s) if principal.starts_with("S-") => s,
            _ => self.sid_of(principal)?,
        };
        Ok((
            sid,
            Right::parse_list(rights).map_err(bad)?,
            AppliesTo::parse(applies_to).map_err(bad)?,
        ))
    }

    fn domain_index_of(&self, dn: &str) -> usize {
        crate::model::Dn::parse(dn)
            .ok()
            .and_then(|d| self.dir.forest.domain_of(&d).map(|x| x.index))
            .unwrap_or(0)
    }

    fn alias_domains(&self, dn: &str) -> AliasDomains {
        let d = &self.dir.forest.domains[self.domain_index_of(dn)];
        AliasDomains::child(d.sid.clone(), self.dir.forest.root().sid.clone())
    }
}

/// The SD flags naming the parts an SDDL text has (O, G, D, S).
pub fn sddl_parts(sd: &SecurityDescriptor) -> u32 {
    [
        (sd.owner.is_some(), 0x1),
        (sd.group.is_some(), 0x2),
        (sd.dacl.is_some(), 0x4),
        (sd.sacl.is_some(), 0x8),
    ]
    .iter()
    .filter(|(has, _)| *has)
    .fold(0, |acc, (_, bit)| acc | bit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid() -> Sid {
        "S-1-5-21-1-2-3-1105".parse().unwrap()
    }

    #[test]
    fn right_names_map_to_masks_and_guids() {
        let r = Right::parse("ResetPassword").unwrap();
        assert_eq!(r.mask, RIGHT_DS_CONTROL_ACCESS);
        assert_eq!(
            r.object_type.unwrap().to_string(),
            "00299570-246d-11d0-a768-00aa006e0529"
        );
        // A property set (User-Account-Restrictions) and an attribute (pwdLastSet).
        assert_eq!(
            Right::parse("WriteProperty:User-Account-Restrictions")
                .unwrap()
                .object_type,
            Some(extended::USER_ACCOUNT_RESTRICTIONS.guid)
        );
        assert_eq!(
            Right::parse("writeproperty:pwdLastSet")
                .unwrap()
                .object_type
                .unwrap()
                .to_string(),
            "bf967a0a-0de6-11d0-a285-00aa003049e2"
        );
        assert_eq!(Right::parse("WriteProperty").unwrap().object_type, None);
        assert_eq!(Right::parse("FullControl").unwrap().mask, GENERIC_ALL);
        assert_eq!(
            Right::parse("Self:member").unwrap(),
            Right {
                mask: RIGHT_DS_SELF,
                object_type: Some(extended::SELF_MEMBERSHIP.guid)
            }
        );
        assert_eq!(
            Right::parse("CreateChild:computer")
                .unwrap()
                .object_type
                .unwrap()
                .to_string(),
            "bf967a86-0de6-11d0-a285-00aa003049e2"
        );
        assert_eq!(
            Right::parse("ExtendedRight:DS-Replication-Get-Changes-All")
                .unwrap()
                .mask,
            RIGHT_DS_CONTROL_ACCESS
        );
        assert!(matches!(
            Right::parse("Frobnicate"),
            Err(AclError::UnknownRight(_))
        ));
        assert!(matches!(
            Right::parse("WriteProperty:noSuchAttr"),
            Err(AclError::UnknownName(_))
        ));
        assert!(matches!(
            Right::parse("GenericAll:user"),
            Err(AclError::UnknownRight(_))
        ));
        assert_eq!(
            Right::parse_list("ResetPassword, WriteProperty:pwdLastSet")
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn applies_to_sets_inheritance_flags() {
        let users = AppliesTo::parse("descendants:user").unwrap();
        let aces = allow_aces(&sid(), &[Right::parse("ResetPassword").unwrap()], users);
        let a = aces[0].as_standard().unwrap();
        assert_eq!(a.ace_type, AceType::AccessAllowedObject);
        assert_eq!(a.flags.0, CONTAINER_INHERIT | INHERIT_ONLY);
        assert_eq!(
            a.inherited_object_type.unwrap().to_string(),
            "bf967aba-0de6-11d0-a285-00aa003049e2"
        );
        let this = allow_aces(&sid(), &[Right::parse("GenericAll").unwrap()], AppliesTo::This);
        let a = this[0].as_standard().unwrap();
        assert_eq!((a.ace_type, a.flags.0), (AceType::AccessAllowed, 0));
        assert_eq!(AppliesTo::parse("all").unwrap(), AppliesTo::ThisAndDescendants);
        assert!(AppliesTo::parse("descendants:nosuchclass").is_err());
        assert!(AppliesTo::parse("sideways").is_err());
    }

    #[test]
    fn grant_keeps_canonical_order_and_revoke_undoes_it() {
        let ctx = AliasDomains::single("S-1-5-21-1-2-3".parse().unwrap());
        let mut sd = sddl::parse("O:DAG:DAD:(D;;WP;;;WD)(A;;RP;;;AU)(A;ID;GA;;;DA)", &ctx).unwrap();
        let rights = Right::parse_list("ResetPassword,GenericAll").unwrap();
        grant(&mut sd, allow_aces(&sid(), &rights, AppliesTo::This));
        let text = sddl::format(&sd, &ctx).unwrap();
        assert!(
            text.ends_with(&format!(
                "(D;;WP;;;WD)(A;;RP;;;AU)(OA;;CR;00299570-246d-11d0-a768-00aa006e0529;;{s})(A;;GA;;;{s})(A;ID;GA;;;DA)",
                s = sid()
            )),
            "{text}"
        );
        // Granting twice adds nothing; revoking removes exactly what was granted.
        grant(&mut sd, allow_aces(&sid(), &rights, AppliesTo::This));
        assert_eq!(allow_aces_of(&sd, &sid()).count(), 2);
        assert_eq!(revoke(&mut sd, &sid(), &rights[..1], AppliesTo::Descendants), 0);
        assert_eq!(revoke(&mut sd, &sid(), &rights, AppliesTo::This), 2);
        assert_eq!(
            sddl::format(&sd, &ctx).unwrap(),
            "O:DAG:DAD:(D;;WP;;;WD)(A;;RP;;;AU)(A;ID;GA;;;DA)"
        );
    }
}
