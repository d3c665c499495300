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
        access::check(self, caller, &e, Right::Delete)?;
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
        Ok(())
    }
}
