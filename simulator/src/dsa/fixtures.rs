//! Loading LDIF fixtures into a forest and exporting a forest as LDIF.
//!
//! Fixtures are applied as the DC itself (SYSTEM over an encrypted channel), through the same
//! directory operations LDAP clients use: every default and rule applies, and `unicodePwd`
//! values set passwords.
//!
//! `nTSecurityDescriptor` may be given as SDDL text (`nTSecurityDescriptor: O:DAG:DAD:(A;;RP;;;AU)`,
//! MS-DTYP 2.5.1; domain aliases such as DA resolve in the entry's domain) or, as `ldifde`
//! exports it, as the binary self-relative descriptor in base64 (`nTSecurityDescriptor:: AQAEjB…`).
//! A binary descriptor starts with its revision byte 1, never with a letter, so the two cannot
//! be confused. A modify writes the parts the SDDL text has (as the SD flags control would).

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
    #[error("{dn}: nTSecurityDescriptor: {error}")]
    Sddl {
        dn: String,
        error: crate::security::SddlError,
    },
}

/// An nTSecurityDescriptor value of a fixture: SDDL text converted to the binary form (and
/// the SD flags naming its parts), binary kept as it is (all parts).
fn descriptor_value(dir: &Directory, dn: &str, value: &[u8]) -> Result<(Vec<u8>, Option<u32>), FixtureError> {
    let text = match std::str::from_utf8(value) {
        Ok(t) if t.trim_start().starts_with(['O', 'G', 'D', 'S']) => t.trim(),
        _ => return Ok((value.to_vec(), None)),
    };
    let sddl_error = |error| FixtureError::Sddl {
        dn: dn.to_string(),
        error,
    };
    let domain = Dn::parse(dn)
        .ok()
        .and_then(|d| dir.forest.domain_of(&d).map(|x| x.index))
        .unwrap_or(0);
    let ctx = crate::security::AliasDomains::child(
        dir.forest.domains[domain].sid.clone(),
        dir.forest.root().sid.clone(),
    );
    let sd = crate::security::sddl::parse(text, &ctx).map_err(sddl_error)?;
    let parts = [
        (sd.owner.is_some(), super::access::sd_flags::OWNER),
        (sd.group.is_some(), super::access::sd_flags::GROUP),
        (sd.dacl.is_some(), super::access::sd_flags::DACL),
        (sd.sacl.is_some(), super::access::sd_flags::SACL),
    ]
    .iter()
    .filter(|(has, _)| *has)
    .fold(0, |acc, (_, bit)| acc | bit);
    let bytes = sd.to_bytes().map_err(|e| FixtureError::Sddl {
        dn: dn.to_string(),
        error: crate::security::SddlError::NotRepresentable(e.to_string()),
    })?;
    Ok((bytes, Some(parts)))
}

fn is_descriptor(attr: &str) -> bool {
    attr.eq_ignore_ascii_case("nTSecurityDescriptor")
}

/// Applies LDIF records in order; stops at the first failure (records before it stay applied).
///
/// Each record is copied into its add (the slice is borrowed). Moving the values of a whole
/// parsed file instead freed the parse's memory piecemeal between the new entries, and the
/// fragmented heap made later searches ~3× slower at 100,000 users and kept 14 MiB more
/// resident (issue 12, docs/benchmarks.md); [`apply_file`] streams instead.
pub fn apply(dir: &Directory, records: &[LdifRecord]) -> Result<usize, FixtureError> {
    let system = Caller::system();
    for r in records {
        apply_one(dir, &system, r.clone())?;
    }
    Ok(records.len())
}

fn apply_one(dir: &Directory, system: &Caller, r: LdifRecord) -> Result<(), FixtureError> {
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
        } => {
            let mut attrs = group(attrs);
            for (_, values) in attrs.iter_mut().filter(|(n, _)| is_descriptor(n)) {
                for v in values.iter_mut() {
                    *v = descriptor_value(dir, &dn, v)?.0;
                }
            }
            dir.add(system, &dn, attrs).map_err(fail)?
        }
        LdifRecord::Change {
            change: LdifChange::Delete,
            ..
        } => dir.delete(system, &dn).map_err(fail)?,
        LdifRecord::Change {
            change: LdifChange::Modify(mods),
            ..
        } => {
            let mut sd_flags = None;
            let mut out = Vec::with_capacity(mods.len());
            for m in mods {
                let mut values = m.values;
                if is_descriptor(&m.attr) {
                    for v in values.iter_mut() {
                        let (bytes, parts) = descriptor_value(dir, &dn, v)?;
                        *v = bytes;
                        sd_flags = parts.or(sd_flags);
                    }
                }
                out.push(Modification {
                    op: match m.op {
                        ModOp::Add => DsModOp::Add,
                        ModOp::Delete => DsModOp::Delete,
                        ModOp::Replace => DsModOp::Replace,
                        ModOp::Increment => DsModOp::Increment,
                    },
                    attr: m.attr,
                    values,
                });
            }
            dir.modify(&system.clone().with_sd_flags(sd_flags), &dn, out)
                .map_err(fail)?
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
            .modify_dn(system, &dn, &new_rdn, delete_old_rdn, new_superior.as_deref())
            .map_err(fail)?,
    }
    Ok(())
}

/// Reads and applies an LDIF file (`file:` URLs resolve against its directory), in order, and
/// stops at the first record that does not parse or does not apply (records before it stay
/// applied, as with [`apply`]).
///
/// Streams: each record is parsed, applied (its values moved into the add) and freed before the
/// next is parsed, so the next record reuses its memory, no copy of the whole file's records is
/// ever held, and the record is still in the cache when it is applied (issue 12: bulk load).
pub fn apply_file(dir: &Directory, path: &Path) -> Result<usize, FixtureError> {
    let (bytes, options) = ldif::read_file(path)?;
    let system = Caller::system();
    let mut applied = 0;
    let mut failed = None;
    ldif::parse_each(&bytes, &options, |r| match apply_one(dir, &system, r) {
        Ok(()) => {
            applied += 1;
            true
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    failed.map_or(Ok(applied), Err)
}

/// Collects `(attr, value)` pairs into attributes with all their values, keeping first-seen order.
fn group(pairs: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut out: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (name, value) in pairs {
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            Some((_, v)) => v.push(value),
            None => out.push((name, vec![value])),
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
        for v in a.values {
            out.push((a.name.to_string(), v.to_vec()));
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
