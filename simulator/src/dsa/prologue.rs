//! The prologue every operation shares: the caller must be bound, the target DN must parse,
//! the entry must exist (else noSuchObject with the deepest existing ancestor as matchedDN),
//! DN values must name existing entries; and the store's refusals as Windows words them.

use super::access;
use super::caller::Caller;
use super::error::{DsError, DsResult};
use super::{DirState, Directory};
use crate::model::{Dn, EntryId};
use crate::store::StoreError;

/// Attributes only the DC writes (schema systemOnly, MS-ADTS 3.1.1.5.2.2).
pub(super) const SYSTEM_ONLY: &[&str] = &[
    "objectsid",
    "objectguid",
    "whencreated",
    "whenchanged",
    "usncreated",
    "usnchanged",
    "instancetype",
    "samaccounttype",
    "msds-managedpasswordid",
    "msds-managedpasswordpreviousid",
    "msds-managedpassword",
    "memberof",
    "distinguishedname",
    "msds-keyversionnumber",
    "tokengroups",
];

/// A DN from a request (invalidDNSyntax when it does not parse).
pub(super) fn parse_dn(dn: &str) -> DsResult<Dn> {
    Dn::parse(dn).map_err(|e| DsError::invalid_dn(&e.0))
}

/// The DN an operation targets, once the caller is known to be bound (anonymous callers may
/// only read the rootDSE).
pub(super) fn bound_target(caller: &Caller, dn: &str) -> DsResult<Dn> {
    access::require_bound(caller)?;
    parse_dn(dn)
}

impl Directory {
    /// The deepest existing ancestor of `dn`, for matchedDN.
    pub fn matched_dn(&self, st: &DirState, dn: &Dn) -> String {
        let mut cur = dn.parent();
        while let Some(d) = cur {
            if d.is_root() {
                break;
            }
            if st.store.lookup(&d).is_some() {
                return d.to_string();
            }
            cur = d.parent();
        }
        String::new()
    }

    /// noSuchObject for `dn`, naming the deepest existing ancestor.
    pub(super) fn no_such_object(&self, st: &DirState, dn: &Dn) -> DsError {
        DsError::no_such_object(&self.matched_dn(st, dn))
    }

    /// The entry at `dn`, or noSuchObject with the deepest existing ancestor as matchedDN.
    pub(super) fn locate(&self, st: &DirState, dn: &Dn) -> DsResult<EntryId> {
        st.store.lookup(dn).ok_or_else(|| self.no_such_object(st, dn))
    }

    /// The entries DN values name (linked attributes), each of which must exist.
    pub(super) fn resolve_links(&self, st: &DirState, values: &[Vec<u8>]) -> DsResult<Vec<EntryId>> {
        values
            .iter()
            .map(|v| {
                let dn = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| Dn::parse(s).ok())
                    .ok_or_else(|| DsError::invalid_dn("bad DN value"))?;
                self.locate(st, &dn)
            })
            .collect()
    }
}

pub(super) fn store_err(e: StoreError) -> DsError {
    match e {
        StoreError::DnExists => DsError::dn_exists(),
        StoreError::NoSuchEntry | StoreError::NoParent => DsError::no_such_object(""),
        StoreError::HasChildren => DsError::not_on_non_leaf(),
    }
}
