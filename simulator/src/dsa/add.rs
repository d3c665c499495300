//! Add (RFC 4511 §4.7) with AD's defaults and rules (MS-ADTS 3.1.1.5.2): structural class,
//! create-child right, system-only attributes, SAM defaults for security principals, the gMSA
//! creation rules, uniqueness and the schema. The new entry is built aside and inserted only
//! when every check passed: a refused add changes nothing.

use std::sync::Arc;

use super::access::{self, Right};
use super::caller::Caller;
use super::error::{code, win32, DsError, DsResult};
use super::prologue::{bound_target, store_err, SYSTEM_ONLY};
use super::provision::{group_type, object_category_cn, sam_type, uac};
use super::{DirState, Directory};

use crate::model::{Attr, Dn, Entry};
use crate::schema::Schema;
use crate::security::Sid;
use crate::store::is_forward_link;

/// The structural class among the values a client gives: the most specific concrete class,
/// and its objectClass chain from top down (MS-ADTS 3.1.1.1.4).
fn structural_chain(values: &[Vec<u8>]) -> Option<Vec<&'static str>> {
    let schema = Schema::ad();
    let chain = values
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .filter_map(|n| schema.class(n))
        .filter(|c| c.kind.is_concrete())
        .map(|c| schema.chain(c.name))
        .max_by_key(|chain| chain.len())?;
    Some(chain.iter().map(|c| c.name).collect())
}

/// The objectCategory value of a new entry whose class's defaultObjectCategory is `cn`: the DN
/// of that class's schema object as text. Kept per thread for the last schema container and class
/// (a bulk load writes the same value into every entry); the memo holds the container's DN, so a
/// pointer match is the same container.
fn category_dn(schema_dn: &Dn, cn: &'static str) -> std::rc::Rc<str> {
    type Last = Option<(Dn, &'static str, std::rc::Rc<str>)>;
    thread_local! {
        static LAST: std::cell::RefCell<Last> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((dn, c, text)) if dn.ptr_eq(schema_dn) && *c == cn => text.clone(),
        _ => {
            let text: std::rc::Rc<str> = schema_dn.child("CN", cn).to_string().into();
            *last = Some((schema_dn.clone(), cn, text.clone()));
            text
        }
    })
}

pub fn is_security_principal_class(structural: &str) -> bool {
    [
        "user",
        "computer",
        "group",
        "inetorgperson",
        "msds-groupmanagedserviceaccount",
        "msds-managedserviceaccount",
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(structural))
}

impl Directory {
    pub fn add(&self, caller: &Caller, dn: &str, attrs: Vec<(String, Vec<Vec<u8>>)>) -> DsResult<()> {
        let dn = bound_target(caller, dn)?;
        let mut st = self.write();
        let (entry, norm) = self.build_new_entry(&mut st, caller, &dn, attrs)?;
        st.store.insert_normed(entry, &norm).map_err(store_err)?;
        st.commit()
    }

    /// The entry an add of `attrs` at `dn` stores, and its DN's norm (for
    /// [`Store::insert_normed`](crate::store::Store::insert_normed)).
    pub(super) fn build_new_entry(
        &self,
        st: &mut DirState,
        caller: &Caller,
        dn: &Dn,
        attrs: Vec<(String, Vec<Vec<u8>>)>,
    ) -> DsResult<(Entry, String)> {
        // The DN and its parent from one normalised text (`Dn::norm` allocates per RDN).
        let (norm, starts) = dn.norm_with_suffixes();
        if st.store.lookup_norm(&norm).is_some() {
            return Err(DsError::dn_exists());
        }
        if dn.parent().is_none_or(|p| p.is_root()) {
            return Err(DsError::no_such_object(""));
        }
        let parent = st
            .store
            .lookup_norm(&norm[starts[1]..])
            .ok_or_else(|| self.no_such_object(st, dn))?;
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
                .map(|c| String::from_utf8_lossy(c))
                .collect::<Vec<_>>(),
        )?;
        let chain = structural_chain(&classes)
            .ok_or_else(|| DsError::upd(code::OBJECT_CLASS_VIOLATION, 0x2014, 6002, "OBJ_CLASS_VIOLATION"))?;
        let structural = *chain.last().expect("chains are never empty");

        let parent_entry = st
            .store
            .get(parent)
            .cloned()
            .ok_or_else(|| DsError::no_such_object(""))?;
        access::check(
            self,
            caller,
            &parent_entry,
            Right::CreateChild { class: structural },
        )?;

        let id = st.store.allocate_id();
        let mut e = Entry::new(id, dn.clone(), Some(parent));
        let mut password: Option<Vec<u8>> = None;
        for (name, values) in attrs {
            let key = name.to_ascii_lowercase();
            if key == "objectclass" {
                continue;
            }
            if SYSTEM_ONLY.contains(&key.as_str()) {
                return Err(DsError::constraint(win32::ERROR_DS_CANT_MOD_SYSTEM_ONLY, &name));
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
                return Err(DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, &name));
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
        let when = now.to_generalized_time();
        e.set_str("whenCreated", &when);
        e.set_str("whenChanged", when);
        let mut usn_text = itoa::Buffer::new();
        let usn = usn_text.format(usn);
        e.set_str("uSNCreated", usn);
        e.set_str("uSNChanged", usn);
        if !e.has("objectCategory") {
            let cn = Schema::ad()
                .class(structural)
                .map_or_else(|| object_category_cn(structural), |c| c.default_object_category);
            e.set_str("objectCategory", category_dn(&self.forest.schema_dn, cn));
        }
        // MS-ADTS 3.1.1.5.2.1: the supplied descriptor (else the class default) merged with
        // the parent's inheritable ACEs (MS-DTYP 2.5.3.4).
        let supplied = match e.first("nTSecurityDescriptor") {
            Some(raw) => Some(crate::security::SecurityDescriptor::from_bytes(raw).map_err(|_| {
                DsError::constraint(win32::ERROR_DS_CONSTRAINT_VIOLATION, "nTSecurityDescriptor")
            })?),
            None => None,
        };
        if let Some(sd) =
            super::inherit::new_descriptor(self, caller, Some(&parent_entry), structural, supplied, domain)
        {
            e.set("nTSecurityDescriptor", vec![sd]);
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
        Ok((e, norm))
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
        let s = |class: &str| structural.eq_ignore_ascii_case(class);
        if s("group") {
            let gt = e
                .first_i64("groupType")
                .unwrap_or((group_type::GLOBAL | group_type::SECURITY) as i32 as i64);
            e.set_str("groupType", (gt as i32).to_string());
            e.set_str("sAMAccountType", sam_type::of_group(gt as u32).to_string());
        } else {
            // A standalone MSA (msDS-ManagedServiceAccount, a subclass of computer) is a
            // machine account like a gMSA: MS-ADTS 3.1.1.5.2.4 (Service Accounts step-by-step).
            let machine =
                s("computer") || s("msds-groupmanagedserviceaccount") || s("msds-managedserviceaccount");
            // Defaults: users are created disabled without a password requirement; computers as
            // workstation trust accounts (MS-SAMR 3.1.1.8.10, inferred for LDAP adds).
            let default_uac = if s("msds-groupmanagedserviceaccount") || s("msds-managedserviceaccount") {
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
            let mut text = itoa::Buffer::new();
            e.set_str("userAccountControl", text.format(u));
            let sam_account_type = sam_type::of_account(u);
            let is_machine = sam_account_type == sam_type::MACHINE_ACCOUNT;
            e.set_str("sAMAccountType", text.format(sam_account_type));
            let pg = if u & uac::SERVER_TRUST_ACCOUNT != 0 {
                516
            } else if is_machine {
                515
            } else {
                513
            };
            if !e.has("primaryGroupID") {
                e.set_str("primaryGroupID", text.format(pg));
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
        if !e.has("sAMAccountName")
            && (s("msds-groupmanagedserviceaccount") || s("msds-managedserviceaccount"))
        {
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

    /// sAMAccountName unique in the domain (docs/notes/windows-behaviour.md row 1), UPN and SPN unique in
    /// the forest (row 3).
    pub(super) fn check_uniqueness(&self, st: &DirState, e: &Entry, d: usize) -> DsResult<()> {
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
                "userPrincipalName",
            ));
        }
        if e.values("servicePrincipalName")
            .iter()
            .any(|spn| taken("serviceprincipalname", spn))
        {
            return Err(DsError::constraint(
                win32::ERROR_DS_SPN_VALUE_NOT_UNIQUE_IN_FOREST,
                "servicePrincipalName",
            ));
        }
        Ok(())
    }
}

/// The whole entry against the schema (MS-ADTS 3.1.1.5.2.2 add constraints), links included.
fn check_against_schema(st: &DirState, e: &Entry) -> DsResult<()> {
    let classes: Vec<std::borrow::Cow<'_, str>> = e
        .values("objectClass")
        .iter()
        .map(|v| String::from_utf8_lossy(v))
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
    // Shared values a check on this thread passed before are not checked again (bulk loads).
    let attrs = e
        .attrs
        .iter_arcs()
        .map(|(a, arc)| (a.name.as_str(), a.values, arc.is_some_and(Attr::values_checked)))
        .chain(
            link_values
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice().into(), false)),
        );
    Schema::ad().check_entry_memo(&classes, attrs)?;
    // Only values other entries hold too: the entry's own ones would crowd the memo out.
    e.attrs
        .iter_arcs()
        .filter_map(|(_, arc)| arc.filter(|arc| Arc::strong_count(arc) > 1))
        .for_each(Attr::remember_checked);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::testing::*;

    /// The attributes of an add.
    type Attrs = Vec<(String, Vec<Vec<u8>>)>;

    fn user(sam: &str) -> Attrs {
        vec![
            ("objectClass".into(), s("user")),
            ("sAMAccountName".into(), s(sam)),
        ]
    }

    /// Users created alike under one container share one stored descriptor (the single-instance
    /// SD table), and the memo of the last built descriptor follows the parent: after the
    /// container's DACL gains an inheritable ACE, the next user inherits it.
    #[test]
    fn new_descriptors_are_shared_and_follow_the_parent() {
        let dir = forest();
        let system = Caller::system();
        let ou = format!("OU=Bulk,{BASE}");
        dir.add(
            &system,
            &ou,
            vec![("objectClass".into(), s("organizationalUnit"))],
        )
        .unwrap();
        let add = |name: &str| {
            let dn = format!("CN={name},{ou}");
            dir.add(&system, &dn, user(name)).unwrap();
            entry(&dir, &dn)
        };
        let (u1, u2) = (add("u1"), add("u2"));
        let sd = |e: &Entry| e.get_shared("nTSecurityDescriptor").unwrap().clone();
        assert!(std::sync::Arc::ptr_eq(&sd(&u1), &sd(&u2)));

        let marker = Sid::new(5, &[21, 1, 2, 3, 4444]);
        let sddl = "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;CI;RP;;;S-1-5-21-1-2-3-4444)";
        let records = crate::ldif::parse(&format!(
            "dn: {ou}\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: {sddl}\n-\n"
        ))
        .unwrap();
        crate::dsa::fixtures::apply(&dir, &records).unwrap();
        let u3 = add("u3");
        let has_marker = |e: &Entry| {
            e.first("nTSecurityDescriptor")
                .unwrap()
                .windows(marker.to_bytes().len())
                .any(|w| w == marker.to_bytes().as_slice())
        };
        assert!(has_marker(&u3), "the new user inherits the container's new ACE");
        assert!(!has_marker(&u2));
        assert!(!std::sync::Arc::ptr_eq(&sd(&u2), &sd(&u3)));
    }

    /// The memo of checked shared values (bulk loads) vouches for those values only: after many
    /// users with the default countryCode 0, one with a countryCode that is not an integer is
    /// still refused (invalidAttributeSyntax), and one with another valid value is stored.
    #[test]
    fn checked_shared_values_vouch_only_for_themselves() {
        let dir = forest();
        let system = Caller::system();
        let add = |name: &str, more: &[(&str, Vec<Vec<u8>>)]| {
            let mut attrs = user(name);
            attrs.extend(more.iter().map(|(n, v)| (n.to_string(), v.clone())));
            dir.add(&system, &format!("CN={name},CN=Users,{BASE}"), attrs)
        };
        for i in 0..3 {
            add(&format!("bulk{i}"), &[]).unwrap();
        }
        refused(&dir, 21, "", || add("bad", &[("countryCode", s("abc"))]));
        add("other", &[("countryCode", s("33"))]).unwrap();
        let e = entry(&dir, &format!("CN=other,CN=Users,{BASE}"));
        assert_eq!(e.first_str("countryCode"), Some("33"));
        refused(&dir, 21, "", || add("bad2", &[("countryCode", s("abc"))]));
    }

    #[test]
    fn adds_a_user_with_sam_defaults() {
        let dir = forest();
        let dn = format!("CN=bob,CN=Users,{BASE}");
        let mut attrs = user("bob");
        attrs.push(("unicodePwd".into(), quoted("Bob-Passw0rd!")));
        dir.add(&caller(&dir, OPS), &dn, attrs).unwrap();
        let e = entry(&dir, &dn);
        assert_eq!(
            e.first_str("sAMAccountType"),
            Some(sam_type::USER_OBJECT.to_string().as_str())
        );
        assert_eq!(e.first_str("primaryGroupID"), Some("513"));
        assert_eq!(e.first_str("name"), Some("bob"));
        let sid = Sid::from_bytes(e.first("objectSid").unwrap()).unwrap();
        assert_eq!(sid.parent(), Some(dir.forest.root().sid.clone()));
        assert!(e.secrets.is_some());
        assert!(e.has("nTSecurityDescriptor") && e.has("objectGUID"));
    }

    /// objectClass `class` and the given attributes.
    fn attrs_of(class: &str, more: &[(&str, Vec<Vec<u8>>)]) -> Attrs {
        let mut attrs = vec![("objectClass".to_string(), s(class))];
        attrs.extend(more.iter().map(|(n, v)| (n.to_string(), v.clone())));
        attrs
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let (admin, ops, alice) = (admin(&dir), caller(&dir, OPS), caller(&dir, ALICE));
        let (anonymous, system) = (Caller::anonymous(), Caller::system());
        let plain = admin.clone().with_encryption(false);
        let upn = ("userPrincipalName", s("x@corp.example.test"));
        dir.add(
            &admin,
            &format!("CN=carol,CN=Users,{BASE}"),
            attrs_of("user", std::slice::from_ref(&upn)),
        )
        .unwrap();
        let bob = format!("CN=bob,CN=Users,{BASE}");
        let (nowhere, builtin) = (
            format!("CN=bob,OU=Nowhere,{BASE}"),
            format!("CN=bob,CN=Builtin,{BASE}"),
        );
        let (ou, msa) = (
            format!("OU=Web,{BASE}"),
            format!("CN=svc-db,CN=Managed Service Accounts,{BASE}"),
        );
        let child_msa = format!("CN=svc-web,CN=Managed Service Accounts,{CHILD_BASE}");
        let new_msa = format!("CN=svc-new,CN=Managed Service Accounts,{BASE}");
        let gmsa = "msDS-GroupManagedServiceAccount";
        let pw = ("unicodePwd", quoted("Bob-Passw0rd!"));
        let sam = |v: &str| ("sAMAccountName", s(v));
        #[rustfmt::skip]
        let cases: Vec<(u32, &str, &Caller, &str, Attrs)> = vec![
            (1, "000004DC:", &anonymous, &bob, user("bob")),
            (34, "00002081:", &admin, "not a DN", user("bob")),
            (68, "00002071:", &admin, ALICE, user("alice2")),
            (32, "0000208D:", &admin, &nowhere, user("bob")),
            (65, "00002014:", &admin, &bob, vec![("sAMAccountName".into(), s("bob"))]),
            (50, "00002098:", &ops, &builtin, user("bob")),
            (50, "00002098:", &alice, &bob, user("bob")),
            (19, "000020F1:", &admin, &bob, attrs_of("user", &[sam("bob"), ("objectSid", s("x"))])),
            (19, "0000202F:", &admin, &bob, attrs_of("user", &[sam("bob"), ("description", vec![])])),
            (68, "00000524:", &admin, &bob, user("alice")),
            (19, "000021C8:", &admin, &bob, attrs_of("user", &[sam("bob"), upn])),
            (53, "0000001F:", &plain, &bob, attrs_of("user", &[sam("bob"), pw.clone()])),
            (53, "000020EF:", &admin, &ou, attrs_of("organizationalUnit", std::slice::from_ref(&pw))),
            (53, "000020EF:", &admin, &msa, attrs_of(gmsa, &[pw])),
            (68, "0000217B:", &system, &child_msa, attrs_of(gmsa, &[("msDS-ManagedPasswordInterval", s("30"))])),
            // The class's systemMustContain (MS-ADSC 2.140).
            (65, "0000207C:", &admin, &new_msa, attrs_of(gmsa, &[sam("svc-new$")])),
        ];
        for (code, prefix, who, dn, attrs) in cases {
            let e = refused(&dir, code, prefix, || dir.add(who, dn, attrs));
            if code == 32 {
                assert_eq!(e.matched_dn, BASE);
            }
        }
    }
}
