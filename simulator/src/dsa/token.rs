//! The token of an account: its SID, its primary group, every group it belongs to through
//! nested membership (MS-ADTS 3.1.1.4.2 tokenGroups), and the well-known SIDs of a network logon.

use std::collections::BTreeSet;

use super::caller::well_known;
use super::provision::uac;
use super::DirState;
use crate::model::{Entry, EntryId};
use crate::security::Sid;

/// Group entries `id` belongs to, directly or through nesting (the primary group included).
pub fn transitive_groups(st: &DirState, forest: &super::ForestInfo, id: EntryId) -> Vec<EntryId> {
    let mut seen = BTreeSet::new();
    let mut queue: Vec<EntryId> = st.store.backlinks(id, "member");
    if let Some(e) = st.store.get(id) {
        if let Some(pg) = primary_group(st, forest, e) {
            queue.push(pg);
        }
    }
    while let Some(g) = queue.pop() {
        if seen.insert(g) {
            queue.extend(st.store.backlinks(g, "member"));
        }
    }
    seen.into_iter().collect()
}

/// The group named by primaryGroupID in the account's own domain.
pub fn primary_group(st: &DirState, forest: &super::ForestInfo, e: &Entry) -> Option<EntryId> {
    let rid = e.first_i64("primaryGroupID")? as u32;
    let sid = Sid::from_bytes(e.first("objectSid")?).ok()?;
    let group_sid = sid.parent()?.with_rid(rid);
    let domain = forest.domain_of(&e.dn)?;
    st.store
        .find_eq("objectsid", &group_sid.to_bytes())?
        .into_iter()
        .find(|g| {
            st.store
                .get(*g)
                .is_some_and(|ge| forest.domain_of(&ge.dn).is_some_and(|d| d.index == domain.index))
        })
}

/// Group SIDs of `id` (transitive), without well-known SIDs.
pub fn group_sids(st: &DirState, forest: &super::ForestInfo, id: EntryId) -> Vec<Sid> {
    transitive_groups(st, forest, id)
        .into_iter()
        .filter_map(|g| {
            st.store
                .get(g)?
                .first("objectSid")
                .and_then(|b| Sid::from_bytes(b).ok())
        })
        .collect()
}

/// The full token of a network logon by `id`.
pub fn token_for(st: &DirState, forest: &super::ForestInfo, id: EntryId) -> Vec<Sid> {
    let mut token = Vec::new();
    if let Some(e) = st.store.get(id) {
        if let Some(sid) = e.first("objectSid").and_then(|b| Sid::from_bytes(b).ok()) {
            token.push(sid);
        }
        let u = e.first_i64("userAccountControl").unwrap_or(0) as u32;
        if u & uac::SERVER_TRUST_ACCOUNT != 0 {
            token.push(well_known::enterprise_dcs());
        }
    }
    token.extend(group_sids(st, forest, id));
    token.extend(well_known::authenticated_network_logon());
    let domain = st
        .store
        .get(id)
        .and_then(|e| forest.domain_of(&e.dn))
        .map(|d| d.index);
    add_well_known_groups(st, forest, domain, &mut token);
    token
}

/// Adds the groups the token's well-known SIDs belong to through their
/// foreignSecurityPrincipal objects in `domain` (Authenticated Users in Pre-Windows 2000
/// Compatible Access): the DC adds such domain-local memberships at logon (MS-ADTS 3.1.1.4.2).
pub fn add_well_known_groups(
    st: &DirState,
    forest: &super::ForestInfo,
    domain: Option<usize>,
    token: &mut Vec<Sid>,
) {
    for sid in well_known::authenticated_network_logon() {
        if !token.contains(&sid) {
            continue;
        }
        for fsp in st.store.find_eq("objectsid", &sid.to_bytes()).unwrap_or_default() {
            let in_domain = st
                .store
                .get(fsp)
                .is_some_and(|e| forest.domain_of(&e.dn).map(|d| d.index) == domain);
            if in_domain {
                for g in group_sids(st, forest, fsp) {
                    if !token.contains(&g) {
                        token.push(g);
                    }
                }
            }
        }
    }
}
