//! Compare (RFC 4511 §4.10): true, false, or noSuchAttribute. Values are read as a filter
//! reads them (secrets are invisible).

use super::caller::Caller;
use super::error::{DsError, DsResult};
use super::prologue::bound_target;
use super::Directory;

impl Directory {
    /// Compare (RFC 4511 §4.10): true, false, or an error for a missing attribute.
    pub fn compare(&self, caller: &Caller, dn: &str, attr: &str, value: &[u8]) -> DsResult<bool> {
        let dn = bound_target(caller, dn)?;
        let st = self.read();
        let id = self.locate(&st, &dn)?;
        let e = st.store.get(id).expect("looked up");
        let key = attr.to_ascii_lowercase();
        let values = super::attrs::filter_values(self, &st, e, &key);
        if values.is_empty() {
            return Err(DsError::no_such_attribute(attr));
        }
        Ok(values.iter().any(|v| super::matching::equal(&key, v, value)))
    }
}

#[cfg(test)]
mod tests {
    use crate::dsa::caller::Caller;
    use crate::dsa::testing::*;

    #[test]
    fn compares_values_as_filters_see_them() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        assert!(dir.compare(&alice, ALICE, "sAMAccountName", b"alice").unwrap());
        assert!(!dir.compare(&alice, ALICE, "sAMAccountName", b"bob").unwrap());
        // Links compare as DNs.
        let ops_group = format!("CN=Account Operators,CN=Builtin,{BASE}");
        assert!(dir.compare(&alice, &ops_group, "member", OPS.as_bytes()).unwrap());
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        refused(&dir, 1, "000004DC:", || {
            dir.compare(&Caller::anonymous(), ALICE, "cn", b"alice")
        });
        refused(&dir, 32, "0000208D:", || {
            dir.compare(&alice, &format!("CN=nobody,CN=Users,{BASE}"), "cn", b"x")
        });
        refused(&dir, 16, "00002077:", || {
            dir.compare(&alice, ALICE, "description", b"x")
        });
        // A secret is invisible: as if absent.
        let pw = quoted(ALICE_PW).remove(0);
        refused(&dir, 16, "00002077:", || {
            dir.compare(&alice, ALICE, "unicodePwd", &pw)
        });
    }
}
