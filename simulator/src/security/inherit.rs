//! Security descriptor inheritance (MS-DTYP 2.5.3.4 CreatePrivateObjectSecurityEx with
//! ComputeACL, 2.5.3.4.2-2.5.3.4.5), as the directory applies it when it creates an object,
//! moves one, or propagates a container's changed DACL to its subtree.
//!
//! The new descriptor is the creator's descriptor (the SD the add supplies, else the class's
//! defaultSecurityDescriptor) with its inherited ACEs dropped (PreProcessACLFromCreator), its
//! explicit ACEs first, then the ACEs inherited from the parent (ComputeInheritedACLfromParent):
//! - an ACE is inheritable when it carries CONTAINER_INHERIT (CI) for a container child or
//!   OBJECT_INHERIT (OI) for a leaf; every copy gets INHERITED_ACE (ID);
//! - an object ACE with InheritedObjectType applies only to children of that class (the
//!   child's class chain is the list of GUIDs it matches); for other children it passes on as
//!   INHERIT_ONLY (IO) when it propagates further;
//! - NO_PROPAGATE_INHERIT (NP) stops the copy at the child (its inheritance flags cleared);
//! - CREATOR OWNER / CREATOR GROUP are replaced by the new owner / group, and generic rights
//!   are mapped, on the effective copy, while an INHERIT_ONLY copy keeps the original for the
//!   grandchildren (MS-DTYP 2.5.3.4.5 "two ACEs");
//! - a protected DACL (SE_DACL_PROTECTED) inherits nothing; otherwise the result carries
//!   SE_DACL_AUTO_INHERITED when anything was inherited.
//!
//! Directory objects are all containers for inheritance (AD passes `IsContainerObject = TRUE`;
//! an OI-only ACE therefore never becomes effective on a directory object).

use uuid::Uuid;

use super::acl::{Ace, AceFlags, Acl, StandardAce};
use super::descriptor::{control, SecurityDescriptor};
use super::rights::map_generic_ds;
use super::sid::Sid;
use super::well_known;

const INHERIT_FLAGS: u8 = AceFlags::OBJECT_INHERIT.0
    | AceFlags::CONTAINER_INHERIT.0
    | AceFlags::NO_PROPAGATE_INHERIT.0
    | AceFlags::INHERIT_ONLY.0;

/// What inheritance needs to know about the new object.
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    /// The schemaIDGUIDs of the object's class chain (InheritedObjectType is matched against them).
    pub class_guids: &'a [Uuid],
    pub is_container: bool,
    /// The new object's owner and group (CREATOR OWNER / CREATOR GROUP stand for them).
    pub owner: &'a Sid,
    pub group: &'a Sid,
}

/// MS-DTYP 2.5.3.4.1 CreateSecurityDescriptor for a directory object: the descriptor of a new
/// object under `parent` (None for a naming-context head) from the creator's descriptor.
/// The creator's owner and group win when present; else `child.owner` / `child.group`.
pub fn create_sd(
    parent: Option<&SecurityDescriptor>,
    creator: &SecurityDescriptor,
    child: Child<'_>,
) -> SecurityDescriptor {
    let owner = creator.owner.clone().unwrap_or_else(|| child.owner.clone());
    let group = creator.group.clone().unwrap_or_else(|| child.group.clone());
    let child = Child {
        owner: &owner,
        group: &group,
        ..child
    };
    let (dacl, dacl_inherited) = compute_acl(
        parent.and_then(|p| p.dacl.as_ref()),
        creator.dacl.as_ref(),
        creator.has_control(control::DACL_PROTECTED),
        child,
    );
    let (sacl, sacl_inherited) = compute_acl(
        parent.and_then(|p| p.sacl.as_ref()),
        creator.sacl.as_ref(),
        creator.has_control(control::SACL_PROTECTED),
        child,
    );
    let mut sd = SecurityDescriptor::new(Some(owner), Some(group), dacl, sacl);
    sd.control |= creator.control & (control::DACL_PROTECTED | control::SACL_PROTECTED);
    if dacl_inherited {
        sd.control |= control::DACL_AUTO_INHERITED;
    }
    if sacl_inherited {
        sd.control |= control::SACL_AUTO_INHERITED;
    }
    sd
}

/// Recomputes the inherited part of an existing object's descriptor from its (new) parent:
/// explicit ACEs are kept, inherited ones replaced (MS-DTYP 2.5.3.4, used for propagation
/// and for moves). Owner and group stay.
pub fn reinherit(
    parent: Option<&SecurityDescriptor>,
    current: &SecurityDescriptor,
    class_guids: &[Uuid],
) -> SecurityDescriptor {
    let owner = current.owner.clone().unwrap_or_else(well_known::system);
    let group = current.group.clone().unwrap_or_else(|| owner.clone());
    let mut sd = create_sd(
        parent,
        current,
        Child {
            class_guids,
            is_container: true,
            owner: &owner,
            group: &group,
        },
    );
    sd.rm_control = current.rm_control;
    sd.layout = current.layout;
    sd
}

/// MS-DTYP 2.5.3.4.2 ComputeACL. Returns the ACL and whether anything was inherited.
fn compute_acl(
    parent: Option<&Acl>,
    creator: Option<&Acl>,
    protected: bool,
    child: Child<'_>,
) -> (Option<Acl>, bool) {
    let explicit: Vec<Ace> = creator
        .map(|acl| {
            acl.aces
                .iter()
                .filter(|a| !a.flags().contains(AceFlags::INHERITED))
                .cloned()
                .map(|a| post_process_explicit(a, child))
                .collect()
        })
        .unwrap_or_default();
    let inherited = match (protected, parent) {
        (false, Some(p)) => inherited_from_parent(p, child),
        _ => Vec::new(),
    };
    if creator.is_none() && inherited.is_empty() {
        return (None, false);
    }
    let any_inherited = !inherited.is_empty();
    let mut aces = explicit;
    aces.extend(inherited);
    (Some(Acl::new(aces)), any_inherited)
}

/// Explicit ACEs keep their flags; an effective one (not INHERIT_ONLY) gets its generic bits
/// mapped (MS-DTYP 2.5.3.4.2 PostProcessACL).
fn post_process_explicit(ace: Ace, child: Child<'_>) -> Ace {
    match ace {
        Ace::Standard(mut s) if !s.flags.contains(AceFlags::INHERIT_ONLY) => {
            s.mask = map_generic_ds(s.mask);
            s.sid = substitute(&s.sid, child);
            Ace::Standard(s)
        }
        other => other,
    }
}

fn substitute(sid: &Sid, child: Child<'_>) -> Sid {
    if *sid == well_known::creator_owner() {
        child.owner.clone()
    } else if *sid == well_known::creator_group() {
        child.group.clone()
    } else {
        sid.clone()
    }
}

/// MS-DTYP 2.5.3.4.5 ComputeInheritedACLfromParent.
fn inherited_from_parent(parent: &Acl, child: Child<'_>) -> Vec<Ace> {
    let mut out = Vec::new();
    for ace in &parent.aces {
        let Ace::Standard(a) = ace else { continue };
        let f = a.flags;
        let ci = f.contains(AceFlags::CONTAINER_INHERIT);
        let oi = f.contains(AceFlags::OBJECT_INHERIT);
        let np = f.contains(AceFlags::NO_PROPAGATE_INHERIT);
        let applies_to_class = a
            .inherited_object_type
            .is_none_or(|g| child.class_guids.contains(&g));
        let inherits_here = if child.is_container { ci } else { oi };
        // Passes on to grandchildren: a container keeps CI ACEs, and OI ACEs for its leaves.
        let passes_on = child.is_container && !np && (ci || oi);
        let effective = inherits_here && applies_to_class;
        if effective {
            let needs_split = a.sid == well_known::creator_owner()
                || a.sid == well_known::creator_group()
                || map_generic_ds(a.mask) != a.mask;
            let mut e = StandardAce {
                flags: AceFlags(f.0 & !INHERIT_FLAGS | AceFlags::INHERITED.0),
                mask: map_generic_ds(a.mask),
                sid: substitute(&a.sid, child),
                ..a.clone()
            };
            if passes_on && !needs_split {
                // One ACE both effective here and inherited further.
                e.flags = AceFlags(
                    f.0 & (AceFlags::OBJECT_INHERIT.0 | AceFlags::CONTAINER_INHERIT.0)
                        | AceFlags::INHERITED.0,
                );
                out.push(Ace::Standard(e));
                continue;
            }
            out.push(Ace::Standard(e));
            if passes_on {
                out.push(Ace::Standard(inherit_only_copy(a)));
            }
        } else if passes_on && (ci || (oi && child.is_container)) {
            out.push(Ace::Standard(inherit_only_copy(a)));
        }
    }
    out
}

fn inherit_only_copy(a: &StandardAce) -> StandardAce {
    StandardAce {
        flags: AceFlags(a.flags.0 | AceFlags::INHERIT_ONLY.0 | AceFlags::INHERITED.0),
        ..a.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::sddl;
    use crate::security::well_known::AliasDomains;

    const USER: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
    const GROUP: &str = "bf967a9c-0de6-11d0-a285-00aa003049e2";
    const RESET: &str = "00299570-246d-11d0-a768-00aa006e0529";

    fn ctx() -> AliasDomains {
        AliasDomains::single("S-1-5-21-1-2-3".parse().unwrap())
    }

    fn sd(text: &str) -> SecurityDescriptor {
        sddl::parse(text, &ctx()).unwrap()
    }

    fn text(sd: &SecurityDescriptor) -> String {
        sddl::format(sd, &ctx()).unwrap()
    }

    fn guid(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    fn create(parent: &str, creator: &str, class: &[Uuid], owner: &str) -> String {
        let owner: Sid = owner.parse().unwrap();
        let group: Sid = "S-1-5-21-1-2-3-513".parse().unwrap();
        text(&create_sd(
            Some(&sd(parent)),
            &sd(creator),
            Child {
                class_guids: class,
                is_container: true,
                owner: &owner,
                group: &group,
            },
        ))
    }

    #[test]
    fn explicit_first_then_inherited_with_id() {
        // MS-DTYP 2.5.3.4.2: explicit creator ACEs, then the parent's CI ACE marked ID and
        // still CI (it propagates further); the parent's non-inheritable ACE is not copied.
        let got = create(
            "O:DAG:DAD:(A;CI;RP;;;AU)(A;;WP;;;AU)",
            "D:(A;;RPWP;;;DA)",
            &[guid(USER)],
            "S-1-5-21-1-2-3-1105",
        );
        assert_eq!(got, "O:S-1-5-21-1-2-3-1105G:DUD:AI(A;;RPWP;;;DA)(A;CIID;RP;;;AU)");
    }

    #[test]
    fn inherited_object_type_selects_the_class() {
        // CIIO ACE for users only: on a user it becomes effective (ID, IO cleared, still CI);
        // on a group it passes on as CIIOID for the grandchildren.
        let parent = format!("D:(OA;CIIO;CR;{RESET};{USER};S-1-5-21-1-2-3-1200)");
        let on_user = create(&parent, "D:", &[guid(USER)], "S-1-5-21-1-2-3-500");
        assert_eq!(
            on_user,
            format!("O:LAG:DUD:AI(OA;CIID;CR;{RESET};{USER};S-1-5-21-1-2-3-1200)")
        );
        let on_group = create(&parent, "D:", &[guid(GROUP)], "S-1-5-21-1-2-3-500");
        assert_eq!(
            on_group,
            format!("O:LAG:DUD:AI(OA;CIIOID;CR;{RESET};{USER};S-1-5-21-1-2-3-1200)")
        );
    }

    #[test]
    fn no_propagate_stops_at_the_child() {
        let got = create("D:(A;CINP;RP;;;AU)", "D:", &[guid(USER)], "S-1-5-21-1-2-3-500");
        assert_eq!(got, "O:LAG:DUD:AI(A;ID;RP;;;AU)");
        // Nothing is inherited by the grandchild.
        let grandchild = create(&got, "D:", &[guid(USER)], "S-1-5-21-1-2-3-500");
        assert_eq!(grandchild, "O:LAG:DUD:");
    }

    #[test]
    fn creator_owner_and_generic_rights_split_in_two() {
        // MS-DTYP 2.5.3.4.5: the effective copy names the new owner with mapped rights; an
        // inherit-only copy keeps CREATOR OWNER and GA for the grandchildren.
        let got = create("D:(A;CI;GA;;;CO)", "D:", &[guid(USER)], "S-1-5-21-1-2-3-1105");
        assert_eq!(
            got,
            "O:S-1-5-21-1-2-3-1105G:DUD:AI(A;ID;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;S-1-5-21-1-2-3-1105)(A;CIIOID;GA;;;CO)"
        );
    }

    #[test]
    fn protected_dacl_inherits_nothing_and_oi_only_never_applies_to_containers() {
        let got = create(
            "D:(A;CI;RP;;;AU)",
            "D:P(A;;RP;;;DA)",
            &[guid(USER)],
            "S-1-5-21-1-2-3-500",
        );
        assert_eq!(got, "O:LAG:DUD:P(A;;RP;;;DA)");
        let got = create("D:(A;OI;RP;;;AU)", "D:", &[guid(USER)], "S-1-5-21-1-2-3-500");
        assert_eq!(got, "O:LAG:DUD:AI(A;OIIOID;RP;;;AU)");
    }

    #[test]
    fn reinherit_replaces_inherited_and_keeps_explicit() {
        let child = sd("O:DAG:DAD:AI(A;;WP;;;DA)(A;CIID;RP;;;AU)");
        let parent = sd("D:(A;CI;LC;;;WD)");
        let got = reinherit(Some(&parent), &child, &[guid(USER)]);
        assert_eq!(text(&got), "O:DAG:DAD:AI(A;;WP;;;DA)(A;CIID;LC;;;WD)");
    }
}
