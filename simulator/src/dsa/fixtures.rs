//! Loading LDIF fixtures into a forest and exporting a forest as LDIF.
//!
//! Fixtures are applied as the DC itself (SYSTEM over an encrypted channel), through the same
//! directory operations LDAP clients use: every default and rule applies, and `unicodePwd`
//! values set passwords.

use std::path::Path;

use super::request::{ModOp as DsModOp, Modification};
use super::{Caller, DirState, Directory, DsError};
use crate::model::{Dn, Entry};
use crate::store::LINKED_ATTRIBUTES;

use crate::ldif::{self, LdifChange, LdifRecord, ModOp};

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error(transparent)]
    Ldif(#[from] ldif::LdifError),
    #[error("{dn}: {error}")]
    Directory { dn: String, error: DsError },
}

/// Applies LDIF records in order; stops at the first failure (records before it stay applied).
pub fn apply(dir: &Directory, records: &[LdifRecord]) -> Result<usize, FixtureError> {
    let system = Caller::system();
    for r in records {
        let dn = r.dn().to_string();
        let fail = |error| FixtureError::Directory {
            dn: dn.clone(),
            error,
        };
        match r {
            LdifRecord::Content { attrs, .. }
            | LdifRecord::Change {
                change: LdifChange::Add(attrs),
                ..
            } => dir.add(&system, &dn, group(attrs)).map_err(fail)?,
            LdifRecord::Change {
                change: LdifChange::Delete,
                ..
            } => dir.delete(&system, &dn).map_err(fail)?,
            LdifRecord::Change {
                change: LdifChange::Modify(mods),
                ..
            } => {
                let mods = mods
                    .iter()
                    .map(|m| Modification {
                        op: match m.op {
                            ModOp::Add => DsModOp::Add,
                            ModOp::Delete => DsModOp::Delete,
                            ModOp::Replace => DsModOp::Replace,
                            ModOp::Increment => DsModOp::Increment,
                        },
                        attr: m.attr.clone(),
                        values: m.values.clone(),
                    })
                    .collect();
                dir.modify(&system, &dn, mods).map_err(fail)?
            }
            LdifRecord::Change {
                change:
                    LdifChange::ModDn {
                        new_rdn,
                        delete_old_rdn,
                        new_superior,
                    },
                ..
            } => dir
                .modify_dn(&system, &dn, new_rdn, *delete_old_rdn, new_superior.as_deref())
                .map_err(fail)?,
        }
    }
    Ok(records.len())
}

/// Reads and applies an LDIF file (`file:` URLs resolve against its directory).
pub fn apply_file(dir: &Directory, path: &Path) -> Result<usize, FixtureError> {
    let records = ldif::parse_file(path)?;
    apply(dir, &records)
}

/// Collects `(attr, value)` pairs into attributes with all their values, keeping first-seen order.
fn group(pairs: &[(String, Vec<u8>)]) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut out: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (name, value) in pairs {
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, v)) => v.push(value.clone()),
            None => out.push((name.clone(), vec![value.clone()])),
        }
    }
    out
}

/// The whole forest as LDIF content records: every naming context, parents before children,
/// children in DN order, attributes in stored order, links as DNs; secrets are not exported.
/// Deterministic: the same state always gives the same bytes.
pub fn export(dir: &Directory) -> String {
    let st = dir.read();
    let mut records = Vec::new();
    for nc in dir.forest.naming_contexts() {
        let Some(head) = st.store.lookup(&nc) else {
            continue;
        };
        let mut stack = vec![head];
        while let Some(id) = stack.pop() {
            let Some(e) = st.store.get(id) else { continue };
            records.push(LdifRecord::Content {
                dn: e.dn.to_string(),
                attrs: entry_attrs(&st, e),
            });
            let mut kids: Vec<(String, _)> = st
                .store
                .children(id)
                .filter_map(|c| st.store.get(c).map(|k| (k.dn.norm(), c)))
                .collect();
            kids.sort_by(|a, b| b.0.cmp(&a.0));
            stack.extend(kids.into_iter().map(|(_, c)| c));
        }
    }
    ldif::write_all(&records)
}

fn entry_attrs(st: &DirState, e: &Entry) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (key, a) in &e.attrs {
        // Exports go to whoever asks the control API: no secrets, no root key data.
        if super::access::SECRET_ATTRIBUTES.contains(&key.as_str())
            || super::access::ADMIN_ONLY_ATTRIBUTES.contains(&key.as_str())
        {
            continue;
        }
        for v in &a.values {
            out.push((a.name.clone(), v.clone()));
        }
    }
    for (fwd, _) in LINKED_ATTRIBUTES {
        for t in e.link_targets(fwd) {
            if let Some(target) = st.store.get(*t) {
                out.push((fwd.to_string(), target.dn.to_string().into_bytes()));
            }
        }
    }
    out
}

/// The DN of the entry at `dn`, if present (a convenience for tests).
pub fn exists(dir: &Directory, dn: &str) -> bool {
    Dn::parse(dn)
        .ok()
        .is_some_and(|d| dir.read().store.lookup(&d).is_some())
}
