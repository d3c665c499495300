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
