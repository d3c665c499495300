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

/// A DN from a request (invalidDNSyntax when it does not parse, or is larger than AD's name
/// limits: refused before any lookup, so no operation works on an oversized DN).
pub(super) fn parse_dn(dn: &str) -> DsResult<Dn> {
    Dn::parse(dn).map_err(|e| match e.limit {
        None => DsError::invalid_dn(&e.reason),
        Some(limit) => DsError::name_limit(limit),
    })
}

/// The DN an operation targets, once the caller is known to be bound (anonymous callers may
/// only read the rootDSE).
pub(super) fn bound_target(caller: &Caller, dn: &str) -> DsResult<Dn> {
    access::require_bound(caller)?;
    parse_dn(dn)
}

impl Directory {
    /// The object a `<WKGUID=guid,dn>` DN names (MS-ADTS 3.1.1.3.1.2.4): the value of the
    /// `dn` object's wellKnownObjects whose binary part is `guid` (msktutil looks up the
    /// Computers container so). None for any other DN, or when nothing matches (the caller then
    /// parses the text and fails as for any malformed DN).
    pub fn well_known_object(&self, text: &str) -> Option<Dn> {
        let inner = text.trim().strip_prefix('<')?.strip_suffix('>')?;
        let (key, value) = inner.split_once('=')?;
        if !key.eq_ignore_ascii_case("WKGUID") {
            return None;
        }
        let (guid, dn) = value.split_once(',')?;
        let head = Dn::parse(dn).ok()?;
        let st = self.read();
        let entry = st.store.get_by_dn(&head)?;
        // Object(DN-Binary): `B:32:<hex guid>:<dn>` (MS-ADTS 3.1.1.2.2.2.1 / 6.1.1.4).
        entry.values("wellKnownObjects").iter().find_map(|v| {
            let v = std::str::from_utf8(v).ok()?;
            let rest = v.strip_prefix("B:32:")?;
            let (g, target) = rest.split_once(':')?;
            g.eq_ignore_ascii_case(guid)
                .then(|| Dn::parse(target).ok())
                .flatten()
        })
    }

    /// The deepest existing ancestor of `dn`, for matchedDN. The ancestors are looked up from
    /// the shortest, as slices of one normalised text (no DN is copied per step); once one
    /// exists, the first missing one ends the walk, since an entry's parent always exists.
    pub fn matched_dn(&self, st: &DirState, dn: &Dn) -> String {
        let (norm, starts) = dn.norm_with_suffixes();
        let mut deepest = None;
        for i in (1..starts.len()).rev() {
            if st.store.lookup_norm(&norm[starts[i]..]).is_some() {
                deepest = Some(i);
            } else if deepest.is_some() {
                break;
            }
        }
        deepest.map_or_else(String::new, |i| dn.suffix(i).to_string())
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

#[cfg(test)]
mod well_known_tests {
    use super::*;
    use crate::dsa::ForestConfig;

    /// `<WKGUID=…,<NC>>` names the container the NC head's wellKnownObjects points at.
    #[test]
    fn wkguid_names_the_computers_container() {
        let dir = Directory::provision(&ForestConfig {
            seed: Some(3),
            ..ForestConfig::default()
        })
        .unwrap();
        let base = dir.forest.root().dn.to_string();
        let found = dir.well_known_object(&format!("<WKGUID=aa312825768811d1aded00c04fd8d5cd,{base}>"));
        assert_eq!(found.map(|d| d.to_string()), Some(format!("CN=Computers,{base}")));
        assert!(dir
            .well_known_object(&format!("<WKGUID=00000000000000000000000000000000,{base}>"))
            .is_none());
        assert!(dir.well_known_object(&base).is_none());
    }
}
