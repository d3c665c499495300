//! Modify (RFC 4511 §4.6): the write right, system-only and RDN attributes, attribute rules,
//! linked attributes, value semantics of add/delete/replace/increment, the schema, and
//! uniqueness. Every check runs on a copy of the entry, swapped in at the end: a refused
//! modify changes nothing. unicodePwd is handled by `dsa::password`.

use super::access::{self, Right};
use super::caller::Caller;
use super::error::{code, win32, DsError, DsResult};
use super::prologue::{bound_target, store_err, SYSTEM_ONLY};
use super::provision::sam_type;
use super::request::{ModOp, Modification};
use super::{DirState, Directory};
use crate::model::Entry;
use crate::schema::Schema;
use crate::store::is_forward_link;

impl Directory {
    pub fn modify(&self, caller: &Caller, dn: &str, mods: Vec<Modification>) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let mut e = (**st.store.get(id).expect("looked up")).clone();
        access::check(self, caller, &e, Right::Write { mods: &mods })?;
        let rdn_attr =
            e.dn.rdn()
                .map(|r| r.attr.to_ascii_lowercase())
                .unwrap_or_default();
        let domain = self.forest.domain_of(&e.dn).map(|d| d.index);
        let mut password = None;
        let mut descriptor_written = false;
        let mut pwd_last_set: Option<i64> = None;
        for m in &mods {
            let key = m.attr.to_ascii_lowercase();
            if SYSTEM_ONLY.contains(&key.as_str()) || key == "objectclass" {
                return Err(DsError::constraint(win32::ERROR_DS_CANT_MOD_SYSTEM_ONLY, &m.attr));
            }
            if key == rdn_attr || key == "name" {
                return Err(DsError::upd(
                    code::NOT_ALLOWED_ON_RDN,
                    0x2016,
                    6006,
                    "CANT_MOD_RDN",
                ));
            }
            if let Some(rule) = refuse_attribute_change(&e, &key) {
                return Err(rule);
            }
            if key == "unicodepwd" {
                if password.is_none() {
                    password = Some(self.password_modification(caller, &e, &mods)?);
                }
                continue;
            }
            if key == "pwdlastset" {
                check_modified_attribute(&e, &m.attr)?;
                pwd_last_set = Some(pwd_last_set_write(m)?);
                continue;
            }
            if is_forward_link(&key) {
                self.modify_links(&st, &mut e, &key, m)?;
                continue;
            }
            if key == "ntsecuritydescriptor" {
                write_descriptor(&st, &mut e, m, caller.sd_flags)?;
                descriptor_written = true;
                continue;
            }
            apply_values(&mut e, m)?;
            check_modified_attribute(&e, &m.attr)?;
            // Unlocking (lockoutTime = 0) also clears the bad-password count (Samba
            // samldb_lockout_time).
            if key == "lockouttime" && e.first_i64("lockoutTime") == Some(0) {
                e.set_str("badPwdCount", "0");
            }
        }
        let now = self.clock.now();
        let password_changed = password.is_some();
        if let Some((pw, write)) = password {
            self.enforce_password_policy(&st, caller, &e, &pw, write)?;
            let d = domain.ok_or_else(|| DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM))?;
            let realm = self.forest.domains[d].realm.clone();
            self.apply_password(&mut e, &realm, &pw, now);
        }
        match pwd_last_set {
            // "User must change password at next logon".
            Some(0) => e.set_str("pwdLastSet", "0"),
            // -1: now, but only where it changes something: from 0, or with a new password
            // (a -1 on a set pwdLastSet is a no-op; Samba setup_last_set_field, which
            // follows Windows).
            Some(_) if !password_changed && e.first_i64("pwdLastSet").unwrap_or(0) == 0 => {
                e.set_str("pwdLastSet", now.0.to_string())
            }
            _ => {}
        }
        // Uniqueness is checked for the names this modify writes, as AD checks a write of
        // them (Samba samldb_modify: the sAMAccountName, UPN and SPN checks run only when the
        // request carries the attribute); the entry's other names were checked when written.
        if let Some(d) = domain {
            if e.has("objectSid") && mods.iter().any(|m| writes_unique_name(&m.attr)) {
                self.check_uniqueness(&st, &e, d)?;
            }
        }
        if let Some(u) = e.first_i64("userAccountControl") {
            if e.has("sAMAccountType") && !e.is_class("group") {
                let sam_type = sam_type::of_account(u as u32).to_string();
                if e.first_str("sAMAccountType") != Some(sam_type.as_str()) {
                    e.set_str("sAMAccountType", sam_type);
                }
            }
        }
        let usn = st.store.next_usn();
        e.set_str("whenChanged", now.to_generalized_time());
        e.set_str("uSNChanged", usn.to_string());
        st.store.update(e).map_err(store_err)?;
        if descriptor_written {
            // A changed DACL reaches the subtree's inherited ACEs (MS-DTYP 2.5.3.4).
            super::inherit::propagate(&mut st, id);
        }
        st.commit()
    }

    fn modify_links(&self, st: &DirState, e: &mut Entry, key: &str, m: &Modification) -> DsResult<()> {
        let targets = self.resolve_links(st, &m.values)?;
        let cur = e.links.entry(key.to_string()).or_default();
        match m.op {
            ModOp::Add => {
                for t in targets {
                    if cur.contains(&t) {
                        // ERROR_MEMBER_IN_ALIAS / ENTRY_EXISTS, as AD answers a duplicate member.
                        return Err(DsError::upd(
                            code::ENTRY_ALREADY_EXISTS,
                            0x562,
                            6005,
                            "ENTRY_EXISTS",
                        ));
                    }
                    cur.push(t);
                }
            }
            ModOp::Delete if m.values.is_empty() => cur.clear(),
            ModOp::Delete => {
                for t in targets {
                    if !cur.contains(&t) {
                        // ERROR_MEMBER_NOT_IN_ALIAS.
                        return Err(DsError::svc(
                            code::UNWILLING_TO_PERFORM,
                            0x561,
                            5003,
                            "WILL_NOT_PERFORM",
                            0,
                        ));
                    }
                    cur.retain(|x| *x != t);
                }
            }
            ModOp::Replace => *cur = targets,
            ModOp::Increment => return Err(DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, key)),
        }
        if cur.is_empty() {
            e.links.remove(key);
        }
        Ok(())
    }
}

/// Whether a modification writes a name that must be unique ([`Directory::check_uniqueness`]).
fn writes_unique_name(attr: &str) -> bool {
    ["sAMAccountName", "userPrincipalName", "servicePrincipalName"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attr))
}

/// A write of pwdLastSet: only 0 ("must change at next logon") and -1 ("now") are accepted, as
/// one value of a replace or add (Samba's
/// `setup_last_set_field` answers other values with LDAP other (80) and
/// WERR_INVALID_PARAMETER — its tests pass against Windows; the text is inferred).
fn pwd_last_set_write(m: &Modification) -> DsResult<i64> {
    let refused = || DsError::svc(code::OTHER, 0x57, 5003, "WILL_NOT_PERFORM", 0);
    let [v] = m.values.as_slice() else {
        return Err(refused());
    };
    if !matches!(m.op, ModOp::Replace | ModOp::Add) {
        return Err(refused());
    }
    match std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        Some(n @ (0 | -1)) => Ok(n),
        _ => Err(refused()),
    }
}

/// Attribute rules that refuse a modify regardless of rights.
fn refuse_attribute_change(target: &Entry, key: &str) -> Option<DsError> {
    // "The password change interval can only be set during creation" (MS gMSA docs;
    // docs/notes/windows-behaviour.md row 6; result code inferred).
    if key == "msds-managedpasswordinterval" && target.is_class(super::gmsa::GMSA_CLASS) {
        return Some(DsError::constraint(
            win32::ERROR_DS_CANT_MOD_SYSTEM_ONLY,
            "msDS-ManagedPasswordInterval",
        ));
    }
    None
}

/// One modified attribute against the schema: known, valid syntax, value count.
fn check_modified_attribute(e: &Entry, attr: &str) -> DsResult<()> {
    use crate::schema::SchemaViolation;
    let schema = Schema::ad();
    let Some(at) = schema.attribute(attr) else {
        return Err(SchemaViolation::no_such_attribute().into());
    };
    let values = e.values(attr);
    if values.iter().any(|v| at.syntax.validate(v).is_err()) {
        return Err(SchemaViolation::invalid_syntax().into());
    }
    if at.single_valued && values.len() > 1 {
        return Err(DsError::atr(
            code::ATTRIBUTE_OR_VALUE_EXISTS,
            0x2083,
            1006,
            "ATT_OR_VALUE_EXISTS",
            at.name,
        ));
    }
    let classes: Vec<&str> = e
        .values("objectClass")
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .collect();
    if !values.is_empty() && !schema.allows(&classes, at) {
        return Err(DsError::new(
            code::OBJECT_CLASS_VIOLATION,
            0x207D,
            format!(
                "0000207D: UpdErr: DSID-03151E9A, problem 6002 (OBJ_CLASS_VIOLATION), data {:x}\n{}",
                at.attribute_id().unwrap_or(0),
                "\u{0}"
            ),
        ));
    }
    Ok(())
}

fn apply_values(e: &mut Entry, m: &Modification) -> DsResult<()> {
    let key = m.attr.to_ascii_lowercase();
    let mut cur: Vec<Vec<u8>> = e.values(&key).to_vec();
    let same = |a: &[u8], b: &[u8]| super::matching::equal(&key, a, b);
    match m.op {
        ModOp::Add => {
            if m.values.is_empty() {
                return Err(DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, &m.attr));
            }
            for v in &m.values {
                if cur.iter().any(|c| same(c, v)) {
                    return Err(DsError::value_exists(&m.attr));
                }
                cur.push(v.clone());
            }
        }
        ModOp::Delete if m.values.is_empty() => {
            if cur.is_empty() {
                return Err(DsError::no_such_attribute(&m.attr));
            }
            cur.clear();
        }
        ModOp::Delete => {
            for v in &m.values {
                let before = cur.len();
                cur.retain(|c| !same(c, v));
                if cur.len() == before {
                    return Err(DsError::no_such_attribute(&m.attr));
                }
            }
        }
        ModOp::Replace => cur = m.values.clone(),
        ModOp::Increment => {
            let [delta] = m.values.as_slice() else {
                return Err(DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, &m.attr));
            };
            let d: i64 = std::str::from_utf8(delta)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, &m.attr))?;
            let [v] = cur.as_slice() else {
                return Err(DsError::no_such_attribute(&m.attr));
            };
            let n: i64 = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, &m.attr))?;
            cur = vec![(n + d).to_string().into_bytes()];
        }
    }
    e.set(&m.attr, cur);
    Ok(())
}

/// nTSecurityDescriptor written by a modify (MS-ADTS 3.1.1.3.4.1.11 SD flags; 3.1.1.5.3.2):
/// one binary value; the parts the SD flags name replace the current ones, the inherited
/// ACEs are recomputed from the parent.
fn write_descriptor(st: &DirState, e: &mut Entry, m: &Modification, sd_flags: Option<u32>) -> DsResult<()> {
    use crate::security::SecurityDescriptor;
    let bad = || DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, "nTSecurityDescriptor");
    let ([raw], ModOp::Replace | ModOp::Add) = (m.values.as_slice(), m.op) else {
        return Err(bad());
    };
    let written = SecurityDescriptor::from_bytes(raw).map_err(|_| bad())?;
    let current = super::access::descriptor_of(e);
    let merged = super::access::merge_descriptor(current.as_ref(), &written, sd_flags);
    let parent_sd = e
        .parent
        .and_then(|p| st.store.get(p))
        .and_then(|p| super::access::descriptor_of(p));
    let sd =
        crate::security::inherit::reinherit(parent_sd.as_ref(), &merged, &super::inherit::class_guids(e));
    e.set("nTSecurityDescriptor", vec![sd.to_bytes().map_err(|_| bad())?]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::testing::*;

    fn desc(v: &str) -> Vec<Modification> {
        vec![m(ModOp::Replace, "description", s(v))]
    }

    #[test]
    fn modifies_values_and_links() {
        let dir = forest();
        let ops = caller(&dir, OPS);
        dir.modify(&ops, ALICE, desc("first")).unwrap();
        dir.modify(
            &ops,
            ALICE,
            vec![
                m(ModOp::Add, "otherTelephone", s("1")),
                m(ModOp::Add, "otherTelephone", s("2")),
            ],
        )
        .unwrap();
        dir.modify(&ops, ALICE, vec![m(ModOp::Delete, "otherTelephone", s("1"))])
            .unwrap();
        let group = format!("CN=Account Operators,CN=Builtin,{BASE}");
        dir.modify(&admin(&dir), &group, vec![m(ModOp::Add, "member", s(ALICE))])
            .unwrap();
        let e = entry(&dir, ALICE);
        assert_eq!(e.first_str("description"), Some("first"));
        assert_eq!(e.values("otherTelephone"), vec![b"2".to_vec()]);
        let g = entry(&dir, &group);
        assert!(g.link_targets("member").contains(&e.id));
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let admin = admin(&dir);
        let group = format!("CN=Account Operators,CN=Builtin,{BASE}");
        let nobody = format!("CN=nobody,CN=Users,{BASE}");
        let (anonymous, alice) = (Caller::anonymous(), caller(&dir, ALICE));
        let replace = |attr: &str, v: &str| vec![m(ModOp::Replace, attr, s(v))];
        let op = |op, attr: &str, values: Vec<Vec<u8>>| vec![m(op, attr, values)];
        let two = vec![b"a".to_vec(), b"b".to_vec()];
        let ops_sd = entry(&dir, OPS).first("nTSecurityDescriptor").unwrap().to_vec();
        #[rustfmt::skip]
        let cases: Vec<(u32, &str, &Caller, &str, Vec<Modification>)> = vec![
            (1, "000004DC:", &anonymous, ALICE, desc("x")),
            (32, "0000208D:", &admin, &nobody, desc("x")),
            (50, "00002098:", &alice, ALICE, desc("x")),
            (50, "00002098:", &alice, OPS, desc("x")),
            (50, "00002098:", &alice, ALICE, replace("userAccountControl", "514")),
            // The security descriptor's own path answers ERROR_ACCESS_DENIED (skelsec/msldap#34).
            (50, "00000005:", &alice, OPS, op(ModOp::Replace, "nTSecurityDescriptor", vec![ops_sd])),
            (19, "000020F1:", &admin, ALICE, replace("objectSid", "x")),
            (19, "000020F1:", &admin, ALICE, replace("objectClass", "user")),
            (67, "00002016:", &admin, ALICE, replace("cn", "alicia")),
            (19, "000020F1:", &admin, SVC_WEB, replace("msDS-ManagedPasswordInterval", "10")),
            (16, "00000057:", &admin, ALICE, replace("noSuchAttr", "x")),
            (21, "00000057:", &admin, ALICE, replace("logonCount", "x")),
            (20, "00002083:", &admin, ALICE, op(ModOp::Add, "sAMAccountName", s("alice"))),
            (16, "00002077:", &admin, ALICE, op(ModOp::Delete, "description", vec![])),
            (16, "00002077:", &admin, ALICE, op(ModOp::Delete, "sAMAccountName", s("bob"))),
            (19, "0000202F:", &admin, ALICE, op(ModOp::Add, "description", vec![])),
            (20, "00002083:", &admin, ALICE, op(ModOp::Replace, "sAMAccountName", two)),
            (68, "00000562:", &admin, &group, op(ModOp::Add, "member", s(OPS))),
            (53, "00000561:", &admin, &group, op(ModOp::Delete, "member", s(ALICE))),
            (32, "0000208D:", &admin, &group, op(ModOp::Add, "member", s(&nobody))),
            (68, "00000524:", &admin, ALICE, replace("sAMAccountName", "ops")),
            // A later modification failing undoes the earlier ones of the same request.
            (67, "00002016:", &admin, ALICE, [desc("y"), replace("cn", "z")].concat()),
        ];
        for (code, prefix, who, target, mods) in cases {
            refused(&dir, code, prefix, || dir.modify(who, target, mods));
        }
    }

    /// Uniqueness is a check of the names a modify writes: with two accounts already holding
    /// the same userPrincipalName (which no write path makes; put in the store here), a modify
    /// of the description goes through, and a write of the name is still refused.
    #[test]
    fn only_a_write_of_a_name_checks_its_uniqueness() {
        let dir = forest();
        let admin = admin(&dir);
        const UPN: &str = "same@corp.example.test";
        {
            let mut st = dir.write();
            for dn in [ALICE, OPS] {
                let id = st.store.lookup(&crate::model::Dn::parse(dn).unwrap()).unwrap();
                let mut e = (**st.store.get(id).unwrap()).clone();
                e.set_str("userPrincipalName", UPN);
                st.store.update(e).unwrap();
            }
            st.commit().unwrap();
        }
        dir.modify(&admin, ALICE, desc("still writable")).unwrap();
        assert_eq!(
            entry(&dir, ALICE).first_str("description"),
            Some("still writable")
        );
        for attr in ["userPrincipalName", "userprincipalname"] {
            refused(&dir, 19, "000021C8:", || {
                dir.modify(&admin, ALICE, vec![m(ModOp::Replace, attr, s(UPN))])
            });
        }
    }

    #[test]
    fn increments_integers() {
        let dir = forest();
        let admin = admin(&dir);
        dir.modify(&admin, ALICE, vec![m(ModOp::Increment, "logonCount", s("5"))])
            .unwrap();
        let e = entry(&dir, ALICE);
        assert_eq!(e.first_str("logonCount"), Some("5"));
        refused(&dir, 19, "0000202F:", || {
            dir.modify(&admin, ALICE, vec![m(ModOp::Increment, "logonCount", s("x"))])
        });
    }
}
