//! Add, modify, delete and rename (RFC 4511 §4.6–4.9) with AD's defaults and rules
//! (MS-ADTS 3.1.1.5). Every check runs before the first change: a refused operation changes
//! nothing (the new entry is built aside and swapped in under the write lock).

use super::caller::Caller;
use super::error::{code, win32, DsError, DsResult};
use super::provision::{group_type, object_category_cn, sam_type, uac};
use super::{policy, DirState, Directory};
use crate::model::{Dn, Entry, EntryId};
use crate::schema::Schema;
use crate::security::Sid;
use crate::store::{is_forward_link, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModOp {
    Add,
    Delete,
    Replace,
    Increment,
}

#[derive(Clone, Debug)]
pub struct Modification {
    pub op: ModOp,
    pub attr: String,
    pub values: Vec<Vec<u8>>,
}

/// Attributes only the DC writes (schema systemOnly, MS-ADTS 3.1.1.5.2.2).
const SYSTEM_ONLY: &[&str] = &[
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

/// The structural class among the values a client gives: the most specific concrete class,
/// and its objectClass chain from top down (MS-ADTS 3.1.1.1.4).
fn structural_chain(values: &[Vec<u8>]) -> Option<Vec<&'static str>> {
    let schema = Schema::ad();
    values
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .filter_map(|n| schema.class(n))
        .filter(|c| c.kind.is_concrete())
        .map(|c| schema.object_class_values(c.name))
        .max_by_key(|chain| chain.len())
}

/// The descriptor a new object gets: its class's defaultSecurityDescriptor (MS-ADTS 3.1.3.5.2,
/// without inheritance from the parent), owned by Domain Admins when the default names no owner.
pub(super) fn default_security_descriptor(
    dir: &Directory,
    class: &str,
    domain: Option<usize>,
) -> Option<Vec<u8>> {
    use crate::security::sddl;
    use crate::security::well_known::AliasDomains;
    let d = &dir.forest.domains[domain.unwrap_or(0)];
    let ctx = AliasDomains::child(d.sid.clone(), dir.forest.root().sid.clone());
    let text = Schema::ad()
        .class(class)
        .map(|c| c.default_security_descriptor)
        .unwrap_or("");
    let mut sd = sddl::parse(text, &ctx)
        .or_else(|_| sddl::parse("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPLCLORC;;;AU)", &ctx))
        .ok()?;
    if sd.owner.is_none() {
        sd.owner = Some(d.sid.with_rid(512));
    }
    if sd.group.is_none() {
        sd.group = Some(d.sid.with_rid(512));
    }
    sd.to_bytes().ok()
}

impl From<crate::schema::SchemaViolation> for DsError {
    fn from(v: crate::schema::SchemaViolation) -> DsError {
        DsError::new(v.result_code.clone() as i64 as u32, v.win32, v.wire_message())
    }
}

pub fn is_security_principal_class(structural: &str) -> bool {
    matches!(
        structural.to_ascii_lowercase().as_str(),
        "user" | "computer" | "group" | "inetorgperson" | "msds-groupmanagedserviceaccount"
    )
}

impl Directory {
    pub fn add(&self, caller: &Caller, dn: &str, attrs: Vec<(String, Vec<Vec<u8>>)>) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let mut st = self.write();
        let entry = self.build_new_entry(&mut st, caller, &dn, attrs)?;
        st.store.insert(entry).map_err(store_err)?;
        Ok(())
    }

    pub(super) fn build_new_entry(
        &self,
        st: &mut DirState,
        caller: &Caller,
        dn: &Dn,
        attrs: Vec<(String, Vec<Vec<u8>>)>,
    ) -> DsResult<Entry> {
        if st.store.lookup(dn).is_some() {
            return Err(DsError::dn_exists());
        }
        let parent_dn = dn
            .parent()
            .filter(|p| !p.is_root())
            .ok_or_else(|| DsError::no_such_object(""))?;
        let parent = st
            .store
            .lookup(&parent_dn)
            .ok_or_else(|| DsError::no_such_object(&self.matched_dn(st, dn)))?;
        let domain = self.forest.domain_of(dn).map(|d| d.index);
        let rdn = dn
            .rdn()
            .cloned()
            .ok_or_else(|| DsError::invalid_dn("empty RDN"))?;

        let classes = attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("objectClass"))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| DsError::upd(code::OBJECT_CLASS_VIOLATION, 0x2014, 6002, "OBJ_CLASS_VIOLATION"))?;
        Schema::ad().check_client_add_classes(
            &classes
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>(),
        )?;
        let chain = structural_chain(&classes)
            .ok_or_else(|| DsError::upd(code::OBJECT_CLASS_VIOLATION, 0x2014, 6002, "OBJ_CLASS_VIOLATION"))?;
        let structural = *chain.last().expect("chains are never empty");

        if !policy::may_create(self, st, caller, parent, structural) {
            return Err(DsError::insufficient_access());
        }

        let id = st.store.allocate_id();
        let mut e = Entry::new(id, dn.clone(), Some(parent));
        let mut password: Option<Vec<u8>> = None;
        for (name, values) in attrs {
            let key = name.to_ascii_lowercase();
            if key == "objectclass" {
                continue;
            }
            if SYSTEM_ONLY.contains(&key.as_str()) {
                return Err(DsError::constraint(
                    win32::ERROR_DS_CANT_MOD_SYSTEM_ONLY,
                    0,
                    &name,
                ));
            }
            if key == "unicodepwd" {
                password = Some(self.check_unicode_pwd(caller, &values)?);
                continue;
            }
            if is_forward_link(&key) {
                let targets = self.resolve_links(st, &values)?;
                e.links.insert(key, targets);
                continue;
            }
            if values.is_empty() {
                return Err(DsError::constraint(
                    win32::ERROR_DS_CONSTRAINT_VIOLATION,
                    0,
                    &name,
                ));
            }
            e.set(&name, values);
        }
        if !e.get(&rdn.attr).is_some_and(|a| {
            a.values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(rdn.value.as_bytes()))
        }) {
            e.set(&rdn.attr, vec![rdn.value.clone().into_bytes()]);
        }
        e.set(
            "objectClass",
            chain.iter().map(|c| c.as_bytes().to_vec()).collect(),
        );
        e.set_str("name", &rdn.value);
        let now = self.clock.now();
        let usn = st.store.next_usn();
        e.set(
            "objectGUID",
            vec![Directory::random_guid(st).to_bytes_le().to_vec()],
        );
        e.set_str("instanceType", "4");
        e.set_str("whenCreated", now.to_generalized_time());
        e.set_str("whenChanged", now.to_generalized_time());
        e.set_str("uSNCreated", usn.to_string());
        e.set_str("uSNChanged", usn.to_string());
        if !e.has("objectCategory") {
            let cn = Schema::ad()
                .class(structural)
                .map_or(object_category_cn(structural), |c| c.default_object_category);
            e.set_str(
                "objectCategory",
                self.forest.schema_dn.child("CN", cn).to_string(),
            );
        }
        if !e.has("nTSecurityDescriptor") {
            if let Some(sd) = default_security_descriptor(self, structural, domain) {
                e.set("nTSecurityDescriptor", vec![sd]);
            }
        }

        if is_security_principal_class(structural) {
            let d = domain.ok_or_else(|| DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM))?;
            self.fill_security_principal(st, &mut e, structural, d)?;
            let is_gmsa = structural.eq_ignore_ascii_case(super::gmsa::GMSA_CLASS);
            if is_gmsa {
                if password.is_some() {
                    // The DC owns a gMSA's password (MS-ADTS 3.1.1.4.5.39).
                    return Err(DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM));
                }
                self.init_gmsa(st, &mut e, d)?;
            }
            self.check_uniqueness(st, &e, d)?;
            if is_gmsa {
                self.check_gmsa_name_in_forest(st, &e)?;
            }
            if let Some(pw) = password {
                let realm = self.forest.domains[d].realm.clone();
                self.apply_password(&mut e, &realm, &pw, now);
            }
        } else if password.is_some() {
            return Err(DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM));
        }
        check_against_schema(st, &e)?;
        Ok(e)
    }

    /// SAM defaults on create (MS-SAMR 3.1.1.8; MS-ADTS 3.1.1.5.2.4 and 3.1.1.8.10).
    fn fill_security_principal(
        &self,
        st: &mut DirState,
        e: &mut Entry,
        structural: &str,
        d: usize,
    ) -> DsResult<()> {
        let rid = st.next_rid[d];
        st.next_rid[d] += 1;
        let sid: Sid = self.forest.domains[d].sid.with_rid(rid);
        e.set("objectSid", vec![sid.to_bytes()]);
        let s = structural.to_ascii_lowercase();
        if s == "group" {
            let gt = e
                .first_i64("groupType")
                .unwrap_or((group_type::GLOBAL | group_type::SECURITY) as i32 as i64);
            e.set_str("groupType", (gt as i32).to_string());
            let local = (gt as u32) & (group_type::DOMAIN_LOCAL | group_type::BUILTIN_LOCAL) != 0;
            e.set_str(
                "sAMAccountType",
                if local {
                    sam_type::ALIAS_OBJECT
                } else {
                    sam_type::GROUP_OBJECT
                }
                .to_string(),
            );
        } else {
            let machine = s == "computer" || s == "msds-groupmanagedserviceaccount";
            // Defaults: users are created disabled without a password requirement; computers as
            // workstation trust accounts (MS-SAMR 3.1.1.8.10, inferred for LDAP adds).
            let default_uac = if s == "msds-groupmanagedserviceaccount" {
                uac::WORKSTATION_TRUST_ACCOUNT
            } else if machine {
                uac::WORKSTATION_TRUST_ACCOUNT | uac::PASSWD_NOTREQD
            } else {
                uac::NORMAL_ACCOUNT | uac::ACCOUNTDISABLE | uac::PASSWD_NOTREQD
            };
            let u = e
                .first_i64("userAccountControl")
                .map(|v| v as u32)
                .unwrap_or(default_uac);
            e.set_str("userAccountControl", u.to_string());
            let is_machine = u & (uac::WORKSTATION_TRUST_ACCOUNT | uac::SERVER_TRUST_ACCOUNT) != 0;
            e.set_str(
                "sAMAccountType",
                if is_machine {
                    sam_type::MACHINE_ACCOUNT
                } else {
                    sam_type::USER_OBJECT
                }
                .to_string(),
            );
            let pg = if u & uac::SERVER_TRUST_ACCOUNT != 0 {
                516
            } else if is_machine {
                515
            } else {
                513
            };
            if !e.has("primaryGroupID") {
                e.set_str("primaryGroupID", pg.to_string());
            }
            for (k, v) in [
                ("pwdLastSet", "0"),
                ("badPwdCount", "0"),
                ("logonCount", "0"),
                ("codePage", "0"),
                ("countryCode", "0"),
            ] {
                if !e.has(k) {
                    e.set_str(k, v);
                }
            }
            if !e.has("accountExpires") {
                e.set_str("accountExpires", "9223372036854775807");
            }
        }
        if !e.has("sAMAccountName") && s == "msds-groupmanagedserviceaccount" {
            // New-ADServiceAccount names the account `<name>$`; the DC does the same here.
            let cn = e.dn.rdn().map(|r| r.value.clone()).unwrap_or_default();
            e.set_str("sAMAccountName", format!("{cn}$"));
        }
        if !e.has("sAMAccountName") {
            // MS-SAMR 3.1.1.8.10: a generated name when none is given.
            let n: String = format!("${:06X}-{:08X}", rid, (rid as u64 * 2_654_435_761) as u32);
            e.set_str("sAMAccountName", n);
        }
        Ok(())
    }

    /// sAMAccountName unique in the domain (windows-behaviour.md row 1), UPN and SPN unique in
    /// the forest (row 3).
    fn check_uniqueness(&self, st: &DirState, e: &Entry, d: usize) -> DsResult<()> {
        if let Some(sam) = e.first_str("sAMAccountName") {
            if let Some(other) = self.find_sam(st, d, sam) {
                if other != e.id {
                    return Err(DsError::sam_exists());
                }
            }
        }
        let taken = |attr: &str, v: &[u8]| {
            st.store
                .find_eq(attr, v)
                .unwrap_or_default()
                .iter()
                .any(|o| *o != e.id)
        };
        if e.first("userPrincipalName")
            .is_some_and(|upn| taken("userprincipalname", upn))
        {
            return Err(DsError::constraint(
                win32::ERROR_DS_UPN_VALUE_NOT_UNIQUE_IN_FOREST,
                0x90290,
                "userPrincipalName",
            ));
        }
        if e.values("servicePrincipalName")
            .iter()
            .any(|spn| taken("serviceprincipalname", spn))
        {
            return Err(DsError::constraint(
                win32::ERROR_DS_SPN_VALUE_NOT_UNIQUE_IN_FOREST,
                0x90303,
                "servicePrincipalName",
            ));
        }
        Ok(())
    }

    /// The new password of a modify that touches unicodePwd (MS-ADTS 3.1.1.3.1.5.1): a replace
    /// is a reset and needs the reset right; a delete of the old value with an add of the new
    /// one is a change and must prove the old password (else 19 `00000056 … Att 9005a`).
    fn password_modification(&self, caller: &Caller, e: &Entry, mods: &[Modification]) -> DsResult<Vec<u8>> {
        let pw: Vec<&Modification> = mods
            .iter()
            .filter(|m| m.attr.eq_ignore_ascii_case("unicodePwd"))
            .collect();
        match pw.as_slice() {
            [m] if m.op == ModOp::Replace => {
                if !policy::may_reset_password(self, caller, e) {
                    return Err(DsError::insufficient_access());
                }
                self.check_unicode_pwd(caller, &m.values)
            }
            [old, new] if old.op == ModOp::Delete && new.op == ModOp::Add => {
                let old_pw = self.check_unicode_pwd(caller, &old.values)?;
                let utf16: Vec<u8> = String::from_utf8_lossy(&old_pw)
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect();
                if e.secrets.as_ref().map(|s| s.nt_hash) != Some(crate::keys::nt_hash(&utf16)) {
                    return Err(wrong_old_password());
                }
                self.check_unicode_pwd(caller, &new.values)
            }
            _ => Err(wrong_old_password()),
        }
    }

    /// unicodePwd: one value, the password in double quotes as UTF-16LE, and only over an
    /// encrypted connection (MS-ADTS 3.1.1.3.1.5.1). Returns the password as UTF-8.
    fn check_unicode_pwd(&self, caller: &Caller, values: &[Vec<u8>]) -> DsResult<Vec<u8>> {
        if !caller.encrypted {
            return Err(DsError::svc(
                code::UNWILLING_TO_PERFORM,
                0x1F,
                5003,
                "WILL_NOT_PERFORM",
                0,
            ));
        }
        let [v] = values else {
            return Err(DsError::svc(
                code::CONSTRAINT_VIOLATION,
                win32::ERROR_PASSWORD_RESTRICTION,
                1005,
                "CONSTRAINT_ATT_TYPE",
                0,
            ));
        };
        decode_quoted_utf16(v).map(|s| s.into_bytes()).ok_or_else(|| {
            DsError::svc(
                code::CONSTRAINT_VIOLATION,
                win32::ERROR_PASSWORD_RESTRICTION,
                1005,
                "CONSTRAINT_ATT_TYPE",
                0,
            )
        })
    }

    fn resolve_links(&self, st: &DirState, values: &[Vec<u8>]) -> DsResult<Vec<EntryId>> {
        values
            .iter()
            .map(|v| {
                let dn = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| Dn::parse(s).ok())
                    .ok_or_else(|| DsError::invalid_dn("bad DN value"))?;
                st.store
                    .lookup(&dn)
                    .ok_or_else(|| DsError::no_such_object(&self.matched_dn(st, &dn)))
            })
            .collect()
    }

    pub fn modify(&self, caller: &Caller, dn: &str, mods: Vec<Modification>) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let mut e = (**st.store.get(id).expect("looked up")).clone();
        if !policy::may_modify(self, &st, caller, &e, &mods) {
            return Err(DsError::insufficient_access());
        }
        let rdn_attr =
            e.dn.rdn()
                .map(|r| r.attr.to_ascii_lowercase())
                .unwrap_or_default();
        let domain = self.forest.domain_of(&e.dn).map(|d| d.index);
        let mut password: Option<Vec<u8>> = None;
        for m in &mods {
            let key = m.attr.to_ascii_lowercase();
            if SYSTEM_ONLY.contains(&key.as_str()) || key == "objectclass" {
                return Err(DsError::constraint(
                    win32::ERROR_DS_CANT_MOD_SYSTEM_ONLY,
                    0,
                    &m.attr,
                ));
            }
            if key == rdn_attr || key == "name" {
                return Err(DsError::upd(
                    code::NOT_ALLOWED_ON_RDN,
                    0x2016,
                    6006,
                    "CANT_MOD_RDN",
                ));
            }
            if let Some(rule) = policy::refuse_modify(self, &e, &key) {
                return Err(rule);
            }
            if key == "unicodepwd" {
                if password.is_none() {
                    password = Some(self.password_modification(caller, &e, &mods)?);
                }
                continue;
            }
            if is_forward_link(&key) {
                self.modify_links(&st, &mut e, &key, m)?;
                continue;
            }
            apply_values(&mut e, m)?;
            check_modified_attribute(&e, &m.attr)?;
        }
        let now = self.clock.now();
        if let Some(pw) = password {
            let d = domain.ok_or_else(|| DsError::unwilling(win32::ERROR_DS_UNWILLING_TO_PERFORM))?;
            let realm = self.forest.domains[d].realm.clone();
            self.apply_password(&mut e, &realm, &pw, now);
        }
        if let Some(d) = domain {
            if e.has("objectSid") {
                self.check_uniqueness(&st, &e, d)?;
            }
        }
        if let Some(u) = e.first_i64("userAccountControl") {
            let is_machine = (u as u32) & (uac::WORKSTATION_TRUST_ACCOUNT | uac::SERVER_TRUST_ACCOUNT) != 0;
            if e.has("sAMAccountType") && !e.is_class("group") {
                e.set_str(
                    "sAMAccountType",
                    if is_machine {
                        sam_type::MACHINE_ACCOUNT
                    } else {
                        sam_type::USER_OBJECT
                    }
                    .to_string(),
                );
            }
        }
        let usn = st.store.next_usn();
        e.set_str("whenChanged", now.to_generalized_time());
        e.set_str("uSNChanged", usn.to_string());
        st.store.update(e).map_err(store_err)
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
            ModOp::Increment => {
                return Err(DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, 0, key))
            }
        }
        if cur.is_empty() {
            e.links.remove(key);
        }
        Ok(())
    }

    pub fn delete(&self, caller: &Caller, dn: &str) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let e = st.store.get(id).expect("looked up").clone();
        if !policy::may_delete(self, &st, caller, &e) {
            return Err(DsError::insufficient_access());
        }
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

    pub fn modify_dn(
        &self,
        caller: &Caller,
        dn: &str,
        new_rdn: &str,
        delete_old: bool,
        new_superior: Option<&str>,
    ) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let rdn = Dn::parse(new_rdn).map_err(|e| DsError::invalid_dn(&e.0))?;
        let ava = match rdn.rdns() {
            [a] => a.clone(),
            _ => return Err(DsError::invalid_dn("the new RDN must be one attribute=value")),
        };
        let mut st = self.write();
        let id = self.locate(&st, &dn)?;
        let e = (**st.store.get(id).expect("looked up")).clone();
        if !policy::may_delete(self, &st, caller, &e) {
            return Err(DsError::insufficient_access());
        }
        let parent_dn = match new_superior {
            Some(s) => Dn::parse(s).map_err(|e| DsError::invalid_dn(&e.0))?,
            None => dn.parent().unwrap_or_default(),
        };
        let parent = st
            .store
            .lookup(&parent_dn)
            .ok_or_else(|| DsError::no_such_object(&self.matched_dn(&st, &parent_dn)))?;
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

/// The whole entry against the schema (MS-ADTS 3.1.1.5.2.2 add constraints), links included.
fn check_against_schema(st: &DirState, e: &Entry) -> DsResult<()> {
    let classes: Vec<String> = e
        .values("objectClass")
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let link_values: Vec<(String, Vec<Vec<u8>>)> = e
        .links
        .iter()
        .map(|(k, v)| {
            let dns = v
                .iter()
                .filter_map(|t| st.store.get(*t))
                .map(|t| t.dn.to_string().into_bytes());
            (k.clone(), dns.collect())
        })
        .collect();
    let attrs = e
        .attrs
        .values()
        .map(|a| (a.name.as_str(), a.values.as_slice()))
        .chain(link_values.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
    Schema::ad().check_entry(&classes, attrs)?;
    Ok(())
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
            0,
            at.name,
        ));
    }
    let classes: Vec<String> = e
        .values("objectClass")
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    if !values.is_empty()
        && !schema
            .allowed_attributes(&classes)
            .iter()
            .any(|a| a.eq_ignore_ascii_case(at.name))
    {
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
    let mut cur: Vec<Vec<u8>> = e.get(&key).map(|a| a.values.clone()).unwrap_or_default();
    let same = |a: &[u8], b: &[u8]| super::matching::equal(&key, a, b);
    match m.op {
        ModOp::Add => {
            if m.values.is_empty() {
                return Err(DsError::constraint(
                    win32::ERROR_DS_CONSTRAINT_VIOLATION,
                    0,
                    &m.attr,
                ));
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
                return Err(DsError::constraint(
                    win32::ERROR_DS_CONSTRAINT_VIOLATION,
                    0,
                    &m.attr,
                ));
            };
            let d: i64 = std::str::from_utf8(delta)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, 0, &m.attr))?;
            let [v] = cur.as_slice() else {
                return Err(DsError::no_such_attribute(&m.attr));
            };
            let n: i64 = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, 0, &m.attr))?;
            cur = vec![(n + d).to_string().into_bytes()];
        }
    }
    e.set(&m.attr, cur);
    Ok(())
}

/// `"password"` as UTF-16LE → the password (MS-ADTS 3.1.1.3.1.5.1).
pub fn decode_quoted_utf16(v: &[u8]) -> Option<String> {
    if v.len() < 4 || v.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = v
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16(&units).ok()?;
    s.strip_prefix('"')?.strip_suffix('"').map(str::to_string)
}

/// A password change whose old password is wrong or missing (ERROR_INVALID_PASSWORD, the text
/// AD clients see on a failed self-service change).
fn wrong_old_password() -> DsError {
    DsError::atr(
        code::CONSTRAINT_VIOLATION,
        0x56,
        1005,
        "CONSTRAINT_ATT_TYPE",
        0x9005a,
        "unicodePwd",
    )
}

/// The DN an operation targets, once the caller is known to be bound (anonymous callers may
/// only read the rootDSE).
fn bound_target(caller: &Caller, dn: &str) -> DsResult<Dn> {
    if caller.is_anonymous() {
        return Err(DsError::needs_bind());
    }
    Dn::parse(dn).map_err(|e| DsError::invalid_dn(&e.0))
}

impl Directory {
    /// The entry at `dn`, or noSuchObject with the deepest existing ancestor as matchedDN.
    fn locate(&self, st: &DirState, dn: &Dn) -> DsResult<EntryId> {
        st.store
            .lookup(dn)
            .ok_or_else(|| DsError::no_such_object(&self.matched_dn(st, dn)))
    }
}

fn store_err(e: StoreError) -> DsError {
    match e {
        StoreError::DnExists => DsError::dn_exists(),
        StoreError::NoSuchEntry | StoreError::NoParent => DsError::no_such_object(""),
        StoreError::HasChildren => DsError::not_on_non_leaf(),
    }
}
