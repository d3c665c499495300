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
        let ava = match rdn.rdns() {
            [a] => a.clone(),
            _ => return Err(DsError::invalid_dn("the new RDN must be one attribute=value")),
        };
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let e = (**st.store.get(id).expect("looked up")).clone();
        access::check(self, caller, &e, Right::Rename)?;
        let parent_dn = match new_superior {
            Some(s) => parse_dn(s)?,
            None => dn.parent().unwrap_or_default(),
        };
        let parent = st
            .store
            .lookup(&parent_dn)
            .ok_or_else(|| self.no_such_object(&st, &parent_dn))?;
        if self.forest.domain_of(&parent_dn).map(|d| d.index) != self.forest.domain_of(&dn).map(|d| d.index) {
            // Cross-domain moves need the MoveTree machinery (MS-ADTS 3.1.1.5.4.2).
            return Err(DsError::unwilling(0x20D7));
        }
        let new_dn = parent_dn.child(&ava.attr, &ava.value);
        st.store.rename(id, new_dn, Some(parent)).map_err(store_err)?;
        let mut e = (**st.store.get(id).expect("renamed")).clone();
        if delete_old {
            if let Some(old) = dn.rdn() {
                if let Some(a) = e.attrs.get_mut(&old.attr.to_ascii_lowercase()) {
                    a.values.retain(|v| !v.eq_ignore_ascii_case(old.value.as_bytes()));
                }
            }
        }
        e.set(&ava.attr, vec![ava.value.clone().into_bytes()]);
        e.set_str("name", &ava.value);
        let usn = st.store.next_usn();
        e.set_str("whenChanged", self.clock.now().to_generalized_time());
        e.set_str("uSNChanged", usn.to_string());
        st.store.update(e).map_err(store_err)
    }
}
