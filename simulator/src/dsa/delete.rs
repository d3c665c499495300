//! Delete (RFC 4511 §4.8): the delete right, critical system objects, leaves only.

use super::access::{self, Right};
use super::caller::Caller;
use super::error::{DsError, DsResult};
use super::prologue::{bound_target, store_err};
use super::Directory;

impl Directory {
    pub fn delete(&self, caller: &Caller, dn: &str) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let e = st.store.get(id).expect("looked up").clone();
        let parent = e.parent.and_then(|p| st.store.get(p)).cloned();
        access::check(
            self,
            caller,
            &e,
            Right::Delete {
                parent: parent.as_deref(),
            },
        )?;
        if e.first_str("isCriticalSystemObject")
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"))
        {
            // ERROR_DS_CANT_DELETE (0x20CE? inferred): AD refuses to delete critical system objects.
            return Err(DsError::unwilling(0x20CE));
        }
        if st.store.has_children(id) {
            return Err(DsError::not_on_non_leaf());
        }
        st.store.remove(id).map_err(store_err)?;
        st.commit()
    }
}

#[cfg(test)]
mod tests {
    use crate::dsa::caller::Caller;
    use crate::dsa::testing::*;

    #[test]
    fn deletes_a_leaf() {
        let dir = forest();
        dir.delete(&caller(&dir, OPS), ALICE).unwrap();
        assert!(!exists(&dir, ALICE));
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let admin = admin(&dir);
        refused(&dir, 1, "000004DC:", || dir.delete(&Caller::anonymous(), ALICE));
        let e = refused(&dir, 32, "0000208D:", || {
            dir.delete(&admin, &format!("CN=nobody,CN=Users,{BASE}"))
        });
        assert_eq!(e.matched_dn, format!("CN=Users,{BASE}"));
        refused(&dir, 50, "00002098:", || dir.delete(&caller(&dir, ALICE), OPS));
        // Issue 11's hole: a user deleting itself.
        refused(&dir, 50, "00002098:", || dir.delete(&caller(&dir, ALICE), ALICE));
        refused(&dir, 53, "000020CE:", || dir.delete(&admin, ADMINISTRATOR));
        let ou = format!("OU=Web,{BASE}");
        dir.add(&admin, &ou, vec![("objectClass".into(), s("organizationalUnit"))])
            .unwrap();
        dir.add(
            &admin,
            &format!("OU=Inner,{ou}"),
            vec![("objectClass".into(), s("organizationalUnit"))],
        )
        .unwrap();
        refused(&dir, 66, "00002015:", || dir.delete(&admin, &ou));
    }
}
