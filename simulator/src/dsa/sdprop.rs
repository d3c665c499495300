//! Protected accounts and groups: AdminSDHolder and SDProp (MS-ADTS 3.1.1.6.1 "Protected
//! Objects"; Microsoft Learn, "Appendix C: Protected Accounts and Groups in Active Directory").
//! Every hour (on the simulated clock) the PDC emulator gives each protected group, each of
//! their transitive members (users, groups, computers) and the Administrator and krbtgt
//! accounts `adminCount = 1` and the DACL of `CN=AdminSDHolder,CN=System` with inheritance
//! turned off (SE_DACL_PROTECTED). A member removed from a protected group keeps both: SDProp
//! never undoes its work (documented AD behaviour, docs/fidelity.md).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering;

use super::{DirState, Directory};
use crate::clock::{NtTime, TICKS_PER_SECOND};
use crate::model::EntryId;
use crate::security::descriptor::control;
use crate::security::{SecurityDescriptor, Sid};

/// SDProp runs every 60 minutes (AdminSDPropInterval's default, Appendix C).
pub const INTERVAL_SECONDS: u64 = 3600;

/// AdminSDHolder's default security descriptor. Owner and group Domain Admins, DACL protected;
/// the ACEs are Microsoft's table for Windows 2000 (Learn, "Appendix K: Default Settings in
/// the Master Security Descriptor of the AdminSDHolder Object": Administrators, Domain and
/// Enterprise Admins full management of this object, Authenticated Users read, Everyone change
/// password, Pre-Windows 2000 Compatible Access read on user objects, SYSTEM full control) plus
/// the Windows Server 2003 additions (SELF change password, Cert Publishers userCertificate,
/// Windows Authorization Access tokenGroupsGlobalAndUniversal, Terminal Server License Servers
/// terminalServer) — inferred as a whole, docs/fidelity.md.
pub const ADMIN_SD_HOLDER_SDDL: &str = "O:DAG:DAD:P\
(A;;CCDCLCSWRPWPCRSDRCWDWO;;;BA)\
(A;;LCRPRC;;;AU)\
(A;;CCDCLCSWRPWPCRRCWDWO;;;DA)\
(A;;CCDCLCSWRPWPCRRCWDWO;;;EA)\
(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)\
(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)\
(OA;;LCRPRC;;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)\
(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)\
(OA;;RPWP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)\
(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)";

/// The protected groups of Windows Server 2016 and later, by RID (MS-ADTS 3.1.1.6.1.1; the
/// dSHeuristics dwAdminSDExMask exclusions are not simulated): domain groups, forest-root
/// groups, BUILTIN aliases.
const DOMAIN_GROUPS: &[u32] = &[512, 516, 521, 526];
const ROOT_GROUPS: &[u32] = &[518, 519, 527];
/// Administrators, Account / Server / Print / Backup Operators, Replicator.
const BUILTIN_GROUPS: &[u32] = &[544, 548, 549, 550, 551, 552];
/// Administrator and krbtgt.
const ACCOUNTS: &[u32] = &[500, 502];

/// What one SDProp pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdPropReport {
    /// Protected objects found.
    pub protected: usize,
    /// Objects whose adminCount or security descriptor was rewritten.
    pub updated: usize,
}

impl Directory {
    /// The protected objects of domain `d`: the protected groups, their transitive members
    /// (through `member`, not primaryGroupID, as AD), Administrator and krbtgt — those whose
    /// DN is in the domain.
    pub fn protected_objects(&self, st: &DirState, d: usize) -> BTreeSet<EntryId> {
        let dom = &self.forest.domains[d];
        let root = &self.forest.root().sid;
        let builtin = Sid::new(5, &[32]);
        let sids: Vec<Sid> = DOMAIN_GROUPS
            .iter()
            .chain(ACCOUNTS)
            .map(|r| dom.sid.with_rid(*r))
            .chain(ROOT_GROUPS.iter().map(|r| root.with_rid(*r)))
            .chain(BUILTIN_GROUPS.iter().map(|r| builtin.with_rid(*r)))
            .collect();
        let in_domain = |id: &EntryId| {
            st.store
                .get(*id)
                .is_some_and(|e| self.forest.domain_of(&e.dn).is_some_and(|x| x.index == d))
        };
        let mut queue: VecDeque<EntryId> = VecDeque::new();
        for sid in &sids {
            for id in st.store.find_eq("objectsid", &sid.to_bytes()).unwrap_or_default() {
                // The BUILTIN aliases exist once per domain: each domain protects its own.
                if sid.parent().as_ref() != Some(&builtin) || in_domain(&id) {
                    queue.push_back(id);
                }
            }
        }
        let mut seen: BTreeSet<EntryId> = BTreeSet::new();
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(e) = st.store.get(id) {
                queue.extend(e.link_targets("member").iter().copied());
            }
        }
        seen.into_iter().filter(in_domain).collect()
    }

    /// One SDProp pass over every domain, on the state a write holds (provisioning and
    /// [`Directory::sdprop`]). System writes: no access check.
    pub(super) fn sdprop_in(&self, st: &mut DirState) -> SdPropReport {
        let mut report = SdPropReport::default();
        for d in 0..self.forest.domains.len() {
            let holder_dn = self.forest.domains[d]
                .dn
                .child("CN", "System")
                .child("CN", "AdminSDHolder");
            let Some(holder) = st
                .store
                .get_by_dn(&holder_dn)
                .and_then(|h| h.first("nTSecurityDescriptor"))
                .and_then(|b| SecurityDescriptor::from_bytes(b).ok())
            else {
                continue;
            };
            let protected = self.protected_objects(st, d);
            report.protected += protected.len();
            for id in protected {
                let Some(cur) = st.store.get(id) else { continue };
                let current = cur
                    .first("nTSecurityDescriptor")
                    .and_then(|b| SecurityDescriptor::from_bytes(b).ok());
                let Ok(bytes) = protected_descriptor(&holder, current.as_ref()).to_bytes() else {
                    continue;
                };
                let up_to_date = cur.first_i64("adminCount") == Some(1)
                    && cur.first("nTSecurityDescriptor") == Some(bytes.as_slice());
                if up_to_date {
                    continue;
                }
                let mut e = (**cur).clone();
                e.set_str("adminCount", "1");
                e.set("nTSecurityDescriptor", vec![bytes]);
                if st.store.update(e).is_ok() {
                    report.updated += 1;
                }
            }
        }
        report
    }

    /// Runs SDProp now (`POST /v1/sdprop`, `adsim ctl sdprop`) and restarts its hourly timer.
    pub fn sdprop(&self) -> super::DsResult<SdPropReport> {
        let mut st = self.write();
        let report = self.sdprop_in(&mut st);
        self.sdprop_next
            .store(next_due(self.clock.now()), Ordering::SeqCst);
        st.commit()?;
        tracing::info!(
            protected = report.protected,
            updated = report.updated,
            "SDProp ran"
        );
        Ok(report)
    }

    /// Runs SDProp when its hour has come on the simulated clock. Cheap when not due (one
    /// atomic load); called where the clock is moved and before searches, so a scenario that
    /// advances the clock sees the pass it would see on Windows, deterministically.
    pub fn sdprop_if_due(&self) {
        let now = self.clock.now();
        if now.0 < self.sdprop_next.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.sdprop() {
            tracing::warn!(error = %e, "SDProp failed");
        }
    }
}

/// When the pass after one at `now` is due.
pub(super) fn next_due(now: NtTime) -> u64 {
    now.0.saturating_add(INTERVAL_SECONDS * TICKS_PER_SECOND)
}

/// A protected object's descriptor: AdminSDHolder's owner, group and DACL, SE_DACL_PROTECTED
/// (no inherited ACEs), the object's own SACL kept (MS-ADTS 3.1.1.6.1.2; owner and group as
/// AdminSDHolder's, Domain Admins, as observed on Windows — inferred).
pub fn protected_descriptor(
    holder: &SecurityDescriptor,
    current: Option<&SecurityDescriptor>,
) -> SecurityDescriptor {
    let sacl = current.and_then(|c| c.sacl.clone());
    let mut sd = SecurityDescriptor::new(
        holder.owner.clone(),
        holder.group.clone(),
        holder.dacl.clone(),
        sacl,
    );
    sd.control |= control::DACL_PROTECTED;
    if let Some(c) = current {
        sd.control |= c.control & (control::SACL_AUTO_INHERITED | control::SACL_PROTECTED);
    }
    sd
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::dsa::request::ModOp;

    fn sd_of(dir: &Directory, dn: &str) -> SecurityDescriptor {
        SecurityDescriptor::from_bytes(entry(dir, dn).first("nTSecurityDescriptor").unwrap()).unwrap()
    }

    fn holder(dir: &Directory) -> SecurityDescriptor {
        sd_of(dir, &format!("CN=AdminSDHolder,CN=System,{BASE}"))
    }

    #[test]
    fn admin_sd_holder_has_the_default_protected_descriptor() {
        let dir = forest();
        let h = holder(&dir);
        assert!(h.has_control(control::DACL_PROTECTED));
        let da = dir.forest.root().sid.with_rid(512);
        assert_eq!((h.owner.as_ref(), h.group.as_ref()), (Some(&da), Some(&da)));
        assert_eq!(h.dacl.as_ref().map(|a| a.aces.len()), Some(11));
        // Provisioning ran SDProp: Administrator and Domain Admins are protected already.
        for dn in [
            ADMINISTRATOR.to_string(),
            format!("CN=Domain Admins,CN=Users,{BASE}"),
        ] {
            let e = entry(&dir, &dn);
            assert_eq!(e.first_i64("adminCount"), Some(1), "{dn}");
            let sd = sd_of(&dir, &dn);
            assert!(sd.has_control(control::DACL_PROTECTED), "{dn}");
            assert_eq!(sd.dacl, h.dacl, "{dn}");
        }
    }

    #[test]
    fn nested_members_are_protected_on_demand_and_every_hour() {
        let dir = forest();
        let a = admin(&dir);
        let group = format!("CN=Helpdesk,CN=Users,{BASE}");
        dir.add(&a, &group, vec![("objectClass".into(), s("group"))])
            .unwrap();
        dir.modify(&a, &group, vec![m(ModOp::Add, "member", s(ALICE))])
            .unwrap();
        let da = format!("CN=Domain Admins,CN=Users,{BASE}");
        dir.modify(&a, &da, vec![m(ModOp::Add, "member", s(&group))])
            .unwrap();
        let before = sd_of(&dir, ALICE);
        assert_eq!(entry(&dir, ALICE).first_i64("adminCount"), None);

        // Not yet: 59 minutes later nothing changed.
        dir.advance_clock(59 * 60).unwrap();
        dir.sdprop_if_due();
        assert_eq!(sd_of(&dir, ALICE), before);

        // The hour passes: alice (through Helpdesk) and Helpdesk get the protected DACL.
        dir.advance_clock(60).unwrap();
        for dn in [ALICE, group.as_str()] {
            assert_eq!(entry(&dir, dn).first_i64("adminCount"), Some(1), "{dn}");
            let sd = sd_of(&dir, dn);
            assert!(sd.has_control(control::DACL_PROTECTED), "{dn}");
            assert_eq!(sd.dacl, holder(&dir).dacl, "{dn}");
        }
        // Non-members are untouched; ops, put in Account Operators by the fixture, is protected.
        assert_eq!(entry(&dir, WEB01).first_i64("adminCount"), None);
        assert!(!sd_of(&dir, WEB01).has_control(control::DACL_PROTECTED));
        assert_eq!(entry(&dir, OPS).first_i64("adminCount"), Some(1));
        // A second pass finds nothing to do.
        let report = dir.sdprop().unwrap();
        assert_eq!(report.updated, 0, "{report:?}");

        // Removed from the group, alice keeps adminCount and the protected DACL (AD's
        // known behaviour).
        dir.modify(&a, &group, vec![m(ModOp::Delete, "member", s(ALICE))])
            .unwrap();
        dir.sdprop().unwrap();
        assert_eq!(entry(&dir, ALICE).first_i64("adminCount"), Some(1));
        assert!(sd_of(&dir, ALICE).has_control(control::DACL_PROTECTED));
    }

    #[test]
    fn a_changed_admin_sd_holder_reaches_the_protected_objects_on_demand() {
        let dir = forest();
        let holder_dn = format!("CN=AdminSDHolder,CN=System,{BASE}");
        let ctx = crate::security::well_known::AliasDomains::child(
            dir.forest.root().sid.clone(),
            dir.forest.root().sid.clone(),
        );
        let sd = crate::security::sddl::parse(
            &format!("{ADMIN_SD_HOLDER_SDDL}(A;;GA;;;S-1-5-21-1-2-3-4242)"),
            &ctx,
        )
        .unwrap();
        dir.modify(
            &Caller::system(),
            &holder_dn,
            vec![m(
                ModOp::Replace,
                "nTSecurityDescriptor",
                vec![sd.to_bytes().unwrap()],
            )],
        )
        .unwrap();
        // The write maps generic rights (GA) as Windows does when it stores an SD; compare
        // with what AdminSDHolder holds.
        let stored = sd_of(&dir, &holder_dn);
        assert_ne!(sd_of(&dir, ADMINISTRATOR).dacl, stored.dacl);
        let report = dir.sdprop().unwrap();
        assert!(
            report.updated >= 2 && report.protected >= report.updated,
            "{report:?}"
        );
        assert_eq!(sd_of(&dir, ADMINISTRATOR).dacl, stored.dacl);
    }

    use crate::dsa::Caller;
}
