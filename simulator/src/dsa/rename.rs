//! Modify DN (RFC 4511 §4.9): rename and move within a domain, with the rename right.

use super::access::{self, Right};
use super::caller::Caller;
use super::error::{DsError, DsResult};
use super::prologue::{bound_target, parse_dn, store_err};
use super::Directory;

impl Directory {
    pub fn modify_dn(
        &self,
        caller: &Caller,
        dn: &str,
        new_rdn: &str,
        delete_old: bool,
        new_superior: Option<&str>,
    ) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let rdn = parse_dn(new_rdn)?;
        let ava = match rdn.rdns().as_slice() {
            [a] => (*a).clone(),
            _ => return Err(DsError::invalid_dn("the new RDN must be one attribute=value")),
        };
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let e = (**st.store.get(id).expect("looked up")).clone();
        let parent_dn = match new_superior {
            Some(s) => parse_dn(s)?,
            None => dn.parent().unwrap_or_default(),
        };
        let parent = st
            .store
            .lookup(&parent_dn)
            .ok_or_else(|| self.no_such_object(&st, &parent_dn))?;
        let new_parent = (**st.store.get(parent).expect("looked up")).clone();
        let old_parent = e.parent.and_then(|p| st.store.get(p)).map(|p| (**p).clone());
        let rdn_attr = e.dn.rdn().map(|r| r.attr.clone()).unwrap_or_else(|| "cn".into());
        access::check(
            self,
            caller,
            &e,
            Right::Rename {
                old_parent: old_parent.as_ref(),
                new_parent: &new_parent,
                rdn_attr: &rdn_attr,
            },
        )?;
        if old_parent.as_ref().map(|p| p.id) != Some(parent)
            && !super::inherit::may_be_child_of(&e, &new_parent)
        {
            return Err(DsError::illegal_superior());
        }
        if self.forest.domain_of(&parent_dn).map(|d| d.index) != self.forest.domain_of(&dn).map(|d| d.index) {
            // Cross-domain moves need the MoveTree machinery (MS-ADTS 3.1.1.5.4.2).
            return Err(DsError::unwilling(0x20D7));
        }
        let new_dn = parent_dn.child(&ava.attr, &ava.value);
        st.store.rename(id, new_dn, Some(parent)).map_err(store_err)?;
        let mut e = (**st.store.get(id).expect("renamed")).clone();
        if delete_old {
            if let Some(old) = dn.rdn() {
                let mut kept = e.values(&old.attr).to_vec();
                kept.retain(|v| !v.eq_ignore_ascii_case(old.value.as_bytes()));
                e.set(&old.attr, kept);
            }
        }
        e.set(&ava.attr, vec![ava.value.clone().into_bytes()]);
        e.set_str("name", &ava.value);
        if old_parent.as_ref().map(|p| p.id) != Some(parent) {
            // A move re-inherits from the new parent (MS-DTYP 2.5.3.4; MS-ADTS 3.1.1.5.4).
            super::inherit::reinherit_entry(&mut e, &new_parent);
        }
        let usn = st.store.next_usn();
        e.set_str("whenChanged", self.clock.now().to_generalized_time());
        e.set_str("uSNChanged", usn.to_string());
        st.store.update(e).map_err(store_err)?;
        super::inherit::propagate(&mut st, id);
        st.commit()
    }
}

#[cfg(test)]
mod tests {
    use crate::dsa::caller::Caller;
    use crate::dsa::testing::*;

    #[test]
    fn renames_and_moves() {
        let dir = forest();
        let ops = caller(&dir, OPS);
        let alicia = format!("CN=alicia,CN=Users,{BASE}");
        dir.modify_dn(&ops, ALICE, "CN=alicia", true, None).unwrap();
        assert!(exists(&dir, &alicia) && !exists(&dir, ALICE));
        let e = entry(&dir, &alicia);
        assert_eq!(e.first_str("name"), Some("alicia"));
        assert_eq!(e.values("cn"), vec![b"alicia".to_vec()]);
        let ou = format!("OU=Web,{BASE}");
        dir.add(
            &admin(&dir),
            &ou,
            vec![("objectClass".into(), s("organizationalUnit"))],
        )
        .unwrap();
        dir.modify_dn(&ops, &alicia, "CN=alicia", false, Some(&ou))
            .unwrap();
        assert!(exists(&dir, &format!("CN=alicia,{ou}")));
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let admin = admin(&dir);
        refused(&dir, 1, "000004DC:", || {
            dir.modify_dn(&Caller::anonymous(), ALICE, "CN=x", true, None)
        });
        refused(&dir, 34, "00002081:", || {
            dir.modify_dn(&admin, ALICE, "CN=x,CN=y", true, None)
        });
        refused(&dir, 34, "00002081:", || {
            dir.modify_dn(&admin, ALICE, "no rdn", true, None)
        });
        refused(&dir, 32, "0000208D:", || {
            dir.modify_dn(&admin, &format!("CN=nobody,CN=Users,{BASE}"), "CN=x", true, None)
        });
        refused(&dir, 50, "00002098:", || {
            dir.modify_dn(&caller(&dir, ALICE), OPS, "CN=x", true, None)
        });
        // Issue 11's hole: a user renaming itself or moving itself under Domain Controllers.
        let alice = caller(&dir, ALICE);
        refused(&dir, 50, "00002098:", || {
            dir.modify_dn(&alice, ALICE, "CN=x", true, None)
        });
        refused(&dir, 50, "00002098:", || {
            dir.modify_dn(
                &alice,
                ALICE,
                "CN=alice",
                true,
                Some(&format!("OU=Domain Controllers,{BASE}")),
            )
        });
        // Account Operators may rename users in CN=Users but hold no create-child on DCs.
        refused(&dir, 50, "00002098:", || {
            dir.modify_dn(
                &caller(&dir, OPS),
                ALICE,
                "CN=alice",
                true,
                Some(&format!("OU=Domain Controllers,{BASE}")),
            )
        });
        // possSuperiors: a user cannot live under a group (MS-ADTS 3.1.1.5.4.1.2).
        refused(&dir, 64, "00002099:", || {
            dir.modify_dn(
                &admin,
                ALICE,
                "CN=alice",
                true,
                Some(&format!("CN=Domain Users,CN=Users,{BASE}")),
            )
        });
        let e = refused(&dir, 32, "0000208D:", || {
            dir.modify_dn(
                &admin,
                ALICE,
                "CN=alice",
                true,
                Some(&format!("OU=Nowhere,{BASE}")),
            )
        });
        assert_eq!(e.matched_dn, BASE);
        refused(&dir, 53, "000020D7:", || {
            dir.modify_dn(
                &Caller::system(),
                ALICE,
                "CN=alice",
                true,
                Some(&format!("CN=Users,{CHILD_BASE}")),
            )
        });
        refused(&dir, 68, "00002071:", || {
            dir.modify_dn(&admin, ALICE, "CN=ops", true, None)
        });
    }
}
