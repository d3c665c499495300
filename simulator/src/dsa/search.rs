//! Search (RFC 4511 §4.5): candidate selection by scope (with an equality index where the
//! filter allows), three-valued filter evaluation (§4.5.1.7), and the view of a domain DC or
//! of the Global Catalog (MS-ADTS 3.1.1.1.8: a GC holds every domain's partial replica).

use super::caller::Caller;
use super::error::{DsError, DsResult};
use super::matching::{self, RULE_BIT_AND, RULE_BIT_OR, RULE_IN_CHAIN};
use super::{attrs, DirState, Directory};
use crate::model::filter::Filter;
use crate::model::{Dn, Entry, EntryId};

pub use super::request::{AttributeList, Scope, SearchEntry, SearchOutput, SearchRequest, View};

/// Three-valued logic of RFC 4511 §4.5.1.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Truth {
    True,
    False,
    Undefined,
}

impl Directory {
    /// The whole result of a search at once (the control API, tests, the harness); LDAP
    /// connections step the cursor instead ([`Directory::open_search`]).
    pub fn search(&self, caller: &Caller, req: &SearchRequest) -> DsResult<SearchOutput> {
        let mut cur = self.open_search(caller, req)?;
        let mut out = SearchOutput::default();
        while !cur.is_done() {
            out.entries.extend(self.search_step(&mut cur, usize::MAX)?);
        }
        out.references = std::mem::take(&mut cur.references);
        out.size_limit_exceeded = cur.size_limit_exceeded;
        Ok(out)
    }

    pub(super) fn referral_to(&self, domain: usize, base: &Dn) -> DsError {
        let d = &self.forest.domains[domain];
        let mut e = DsError::new(
            super::error::code::REFERRAL,
            super::error::win32::ERROR_DS_REFERRAL,
            format!(
                "0000202B: RefErr: DSID-0310084A, data 0, 1 access points\n\tref 1: '{}'\n",
                d.dns_name
            ),
        );
        e.referrals = vec![format!("ldap://{}/{}", d.dns_name, base)];
        e
    }

    pub(super) fn in_view(&self, entry: &Entry, view: View) -> bool {
        match view {
            View::GlobalCatalog => true,
            View::Dc { domain } => self.forest.domain_of(&entry.dn).is_none_or(|d| d.index == domain),
        }
    }

    pub(super) fn same_nc(&self, a: &Dn, b: &Dn) -> bool {
        self.nc_of(a) == self.nc_of(b)
    }

    fn nc_of(&self, dn: &Dn) -> Option<Dn> {
        self.forest
            .naming_contexts()
            .into_iter()
            .filter(|nc| dn.is_within(nc))
            .max_by_key(|nc| nc.len())
    }

    /// NC heads stored as separate trees below `base`. On a GC they are searched; on a DC they
    /// become continuation references (RFC 4511 §4.5.3).
    pub(super) fn nc_heads_below(
        &self,
        st: &DirState,
        base: &Dn,
        direct_only: bool,
        req: &SearchRequest,
        references: &mut Vec<Dn>,
    ) -> Vec<EntryId> {
        let mut heads = Vec::new();
        let all = self.forest.naming_contexts();
        for nc in all.iter().cloned() {
            if nc == *base || !nc.is_within(base) {
                continue;
            }
            // Only the nearest subordinate NCs: Schema sits below Configuration.
            let nested = all.iter().any(|o| {
                *o != nc
                    && nc.is_within(o)
                    && o.is_within(base)
                    && *o != *base
                    && req.view != View::GlobalCatalog
            });
            if nested {
                continue;
            }
            if direct_only && nc.parent().as_ref() != Some(base) {
                continue;
            }
            let Some(id) = st.store.lookup(&nc) else { continue };
            let held = match req.view {
                View::GlobalCatalog => true,
                View::Dc { domain } => self.forest.domain_of(&nc).is_none_or(|d| d.index == domain),
            };
            if held && req.view == View::GlobalCatalog {
                heads.push(id);
            } else {
                references.push(nc);
            }
        }
        heads
    }
}

/// LIST_CHILDREN (MS-ADTS 5.1.3.3.1 / 3.1.1.4.2? "Search", object visibility): below the
/// base, an entry is returned only when the caller holds RIGHT_DS_LIST on its parent and that
/// parent is itself visible; a container that refuses listing hides its whole subtree from
/// one-level and subtree searches (the base itself is always considered; with dSHeuristics
/// fDoListObject unset, LIST_OBJECT grants nothing more). One access check per parent.
pub(super) struct Listing<'a> {
    st: &'a DirState,
    caller: &'a Caller,
    base: EntryId,
    /// Whether the children of an entry are listed to the caller.
    listed: std::collections::HashMap<EntryId, bool>,
}

impl<'a> Listing<'a> {
    pub(super) fn new(st: &'a DirState, caller: &'a Caller, base: EntryId) -> Self {
        Listing {
            st,
            caller,
            base,
            listed: std::collections::HashMap::new(),
        }
    }

    pub(super) fn visible(&mut self, e: &Entry) -> bool {
        if self.caller.system || e.id == self.base {
            return true;
        }
        e.parent.is_none_or(|p| self.children_listed(p))
    }

    fn children_listed(&mut self, id: EntryId) -> bool {
        if let Some(v) = self.listed.get(&id) {
            return *v;
        }
        let Some(parent) = self.st.store.get(id) else {
            return true;
        };
        let own =
            super::access::Guard::of(self.caller, parent).object(crate::security::access::RIGHT_DS_LIST);
        let ok = own && (id == self.base || parent.parent.is_none_or(|pp| self.children_listed(pp)));
        self.listed.insert(id, ok);
        ok
    }
}

pub(super) fn heads_contain(st: &DirState, heads: &[EntryId], dn: &Dn) -> bool {
    heads
        .iter()
        .any(|h| st.store.get(*h).is_some_and(|e| dn.is_within(&e.dn)))
}

/// The index key to walk when the filter is, or is an AND containing, an indexed equality:
/// the attribute (lower case) and the asserted value.
pub(super) fn indexed_key(filter: &Filter) -> Option<(String, Vec<u8>)> {
    match filter {
        Filter::EqualityMatch(attr, value) => {
            let a = attr.to_ascii_lowercase();
            if a == "objectclass" || !crate::store::is_indexed(&a) {
                return None;
            }
            if a == "objectsid" {
                // The string form of a SID is matched too (docs/notes/client-interop.md §5).
                if let Some(sid) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<crate::security::Sid>().ok())
                {
                    return Some((a, sid.to_bytes()));
                }
            }
            Some((a, value.clone()))
        }
        Filter::And(parts) => parts.iter().find_map(indexed_key),
        _ => None,
    }
}

/// `readable` answers whether the caller may read an attribute (lower case) of `e`: a filter
/// item on an attribute it may not read is Undefined, as if the entry had no value
/// (MS-ADTS 3.1.1.3.1.9 / 5.1.3.3.3: RIGHT_DS_READ_PROPERTY is checked on every attribute a
/// search filter names; the entry is not returned when the filter is not True).
type Readable<'a> = &'a dyn Fn(&str) -> bool;

pub(super) fn eval(dir: &Directory, st: &DirState, e: &Entry, f: &Filter, readable: Readable<'_>) -> Truth {
    let hidden = |attr: &str| {
        let a = attr.to_ascii_lowercase();
        a != "distinguishedname" && !readable(&a)
    };
    match f {
        Filter::And(parts) => {
            let mut acc = Truth::True;
            for p in parts {
                match eval(dir, st, e, p, readable) {
                    Truth::False => return Truth::False,
                    Truth::Undefined => acc = Truth::Undefined,
                    Truth::True => {}
                }
            }
            acc
        }
        Filter::Or(parts) => {
            let mut acc = Truth::False;
            for p in parts {
                match eval(dir, st, e, p, readable) {
                    Truth::True => return Truth::True,
                    Truth::Undefined => acc = Truth::Undefined,
                    Truth::False => {}
                }
            }
            acc
        }
        Filter::Not(inner) => match eval(dir, st, e, inner, readable) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Undefined => Truth::Undefined,
        },
        Filter::Present(attr)
        | Filter::EqualityMatch(attr, _)
        | Filter::ApproxMatch(attr, _)
        | Filter::GreaterOrEqual(attr, _)
        | Filter::LessOrEqual(attr, _)
        | Filter::Substrings { attr, .. }
            if hidden(attr) =>
        {
            Truth::Undefined
        }
        Filter::ExtensibleMatch { attr: Some(attr), .. } if hidden(attr) => Truth::Undefined,
        Filter::Present(attr) => {
            let a = attr.to_ascii_lowercase();
            if a == "objectclass"
                || a == "distinguishedname"
                || !attrs::filter_values(dir, st, e, &a).is_empty()
            {
                Truth::True
            } else {
                Truth::False
            }
        }
        Filter::EqualityMatch(attr, v) | Filter::ApproxMatch(attr, v) => {
            let a = attr.to_ascii_lowercase();
            let assertion = normalise_assertion(dir, &a, v);
            any(attrs::filter_values(dir, st, e, &a), |s| {
                matching::equal(&a, s, &assertion)
            })
        }
        Filter::GreaterOrEqual(attr, v) => {
            let a = attr.to_ascii_lowercase();
            any(attrs::filter_values(dir, st, e, &a), |s| {
                matching::compare(&a, s, v).is_some_and(|o| o.is_ge())
            })
        }
        Filter::LessOrEqual(attr, v) => {
            let a = attr.to_ascii_lowercase();
            any(attrs::filter_values(dir, st, e, &a), |s| {
                matching::compare(&a, s, v).is_some_and(|o| o.is_le())
            })
        }
        Filter::Substrings {
            attr,
            initial,
            any: middle,
            final_,
        } => {
            let a = attr.to_ascii_lowercase();
            any(attrs::filter_values(dir, st, e, &a), |s| {
                matching::substrings(s, initial.as_deref(), middle, final_.as_deref())
            })
        }
        Filter::ExtensibleMatch {
            rule, attr, value, ..
        } => {
            let (Some(rule), Some(attr)) = (rule.as_deref(), attr.as_deref()) else {
                return Truth::Undefined;
            };
            let a = attr.to_ascii_lowercase();
            match rule {
                RULE_BIT_AND | RULE_BIT_OR => {
                    let vals = attrs::filter_values(dir, st, e, &a);
                    if vals.is_empty() {
                        return Truth::Undefined;
                    }
                    if vals
                        .iter()
                        .any(|s| matching::bitwise(rule, s, value) == Some(true))
                    {
                        Truth::True
                    } else {
                        Truth::False
                    }
                }
                RULE_IN_CHAIN => in_chain(dir, st, e, &a, value),
                _ => Truth::Undefined,
            }
        }
    }
}

fn any(values: Vec<Vec<u8>>, pred: impl Fn(&[u8]) -> bool) -> Truth {
    if values.is_empty() {
        Truth::Undefined
    } else if values.iter().any(|v| pred(v)) {
        Truth::True
    } else {
        Truth::False
    }
}

/// `(objectCategory=person)`: when the value is not a DN but the lDAPDisplayName of a class,
/// AD replaces it by that class's defaultObjectCategory (MS-ADTS 3.1.1.3.1.3.5). A name that is
/// no class's (sssd's `(objectCategory=sudoRole)` on a forest without the sudo schema) stays
/// as it is, and no objectCategory DN equals it: the clause matches nothing.
fn normalise_assertion(dir: &Directory, attr: &str, v: &[u8]) -> Vec<u8> {
    if attr == "objectcategory" {
        if let Ok(s) = std::str::from_utf8(v) {
            if !s.contains('=') {
                if let Some(class) = crate::schema::Schema::ad().class(s) {
                    let cn = class.default_object_category;
                    return dir.forest.schema_dn.child("CN", cn).to_string().into_bytes();
                }
            }
        }
    }
    v.to_vec()
}

/// LDAP_MATCHING_RULE_IN_CHAIN on a linked attribute: follows `attr` links transitively from
/// the entry and tests whether the asserted DN is reached.
fn in_chain(dir: &Directory, st: &DirState, e: &Entry, attr: &str, value: &[u8]) -> Truth {
    let Some(target) = std::str::from_utf8(value)
        .ok()
        .and_then(|s| Dn::parse(s).ok())
        .and_then(|d| st.store.lookup(&d))
    else {
        return Truth::False;
    };
    let _ = dir;
    let forward = crate::store::forward_of_backlink(attr);
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = vec![e.id];
    while let Some(cur) = queue.pop() {
        let next: Vec<EntryId> = match forward {
            // memberOf chain: the groups whose member links name `cur`.
            Some(fwd) => st.store.backlinks(cur, fwd),
            None => st
                .store
                .get(cur)
                .map(|x| x.link_targets(attr).to_vec())
                .unwrap_or_default(),
        };
        for n in next {
            if n == target {
                return Truth::True;
            }
            if seen.insert(n) {
                queue.push(n);
            }
        }
    }
    Truth::False
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::testing::*;

    fn request(base: &str, scope: Scope, filter: Filter, attrs: &[&str]) -> SearchRequest {
        SearchRequest {
            base: base.into(),
            scope,
            filter,
            attrs: attrs.iter().map(|a| a.to_string()).collect(),
            types_only: false,
            size_limit: 0,
            view: View::Dc { domain: 0 },
        }
    }

    fn read(dir: &Directory, who: &Caller, dn: &str, attrs: &[&str]) -> DsResult<AttributeList> {
        let req = request(dn, Scope::Base, Filter::Present("objectClass".into()), attrs);
        Ok(dir.search(who, &req)?.entries.remove(0).attrs)
    }

    fn has(attrs: &AttributeList, name: &str) -> bool {
        attrs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    #[test]
    fn an_object_category_names_a_class_s_default_category_or_nothing() {
        let dir = forest();
        let count = |category: &str| {
            let f = Filter::EqualityMatch("objectCategory".into(), category.as_bytes().to_vec());
            dir.search(&admin(&dir), &request(BASE, Scope::Subtree, f, &["cn"]))
                .unwrap()
                .entries
                .len()
        };
        let people = count(&format!("CN=Person,CN=Schema,CN=Configuration,{BASE}"));
        assert!(people > 0);
        assert_eq!(count("user"), people);
        // contact's defaultObjectCategory is Person too (MS-ADTS 3.1.1.3.1.3.5's example).
        assert_eq!(count("contact"), people);
        assert!(count("container") > 0);
        // No class is named sudoRole in AD's schema: nothing matches (not the containers).
        assert_eq!(count("sudoRole"), 0);
    }

    #[test]
    fn any_user_reads_the_subschema() {
        let dir = forest();
        let dn = format!("CN=Aggregate,CN=Schema,CN=Configuration,{BASE}");
        let attrs = read(
            &dir,
            &caller(&dir, ALICE),
            &dn,
            &["attributeTypes", "objectClasses"],
        )
        .unwrap();
        assert!(
            has(&attrs, "attributeTypes") && has(&attrs, "objectClasses"),
            "{attrs:?}"
        );
    }

    #[test]
    fn a_container_without_list_children_hides_its_subtree() {
        let dir = forest();
        let sys = Caller::system();
        let ctx = crate::security::AliasDomains::single(dir.forest.domains[0].sid.clone());
        // An OU whose DACL lets Authenticated Users read but not list (no LC).
        let sd = crate::security::sddl::parse("O:DAG:DAD:P(A;;GA;;;DA)(A;;RPLORC;;;AU)", &ctx).unwrap();
        let ou = format!("OU=Hidden,{BASE}");
        dir.add(
            &sys,
            &ou,
            vec![
                ("objectClass".into(), s("organizationalUnit")),
                ("nTSecurityDescriptor".into(), vec![sd.to_bytes().unwrap()]),
            ],
        )
        .unwrap();
        let child = format!("CN=carol,{ou}");
        dir.add(
            &sys,
            &child,
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s("carol")),
            ],
        )
        .unwrap();
        let find = |who: &Caller, base: &str, scope| {
            let f = Filter::EqualityMatch("sAMAccountName".into(), b"carol".to_vec());
            dir.search(who, &request(base, scope, f, &["cn"]))
                .unwrap()
                .entries
                .len()
        };
        let alice = caller(&dir, ALICE);
        assert_eq!(find(&admin(&dir), BASE, Scope::Subtree), 1);
        assert_eq!(find(&admin(&dir), &ou, Scope::OneLevel), 1);
        assert_eq!(find(&alice, BASE, Scope::Subtree), 0);
        assert_eq!(find(&alice, &ou, Scope::OneLevel), 0);
        assert_eq!(find(&alice, &ou, Scope::Subtree), 0);
        // The OU itself is listed by the domain (LC for Authenticated Users there), and a base
        // search names the child directly.
        let ou_found = dir
            .search(
                &alice,
                &request(
                    BASE,
                    Scope::OneLevel,
                    Filter::Present("objectClass".into()),
                    &["cn"],
                ),
            )
            .unwrap()
            .entries
            .iter()
            .any(|e| e.dn == ou);
        assert!(ou_found);
        assert_eq!(find(&alice, &child, Scope::Base), 1);
    }

    #[test]
    fn a_filter_on_an_attribute_the_caller_cannot_read_is_undefined() {
        use crate::dsa::request::ModOp;
        let dir = forest();
        // msPKIRoamingTimeStamp is confidential (searchFlags 0x80): reading it needs
        // CONTROL_ACCESS, which Alice does not have on ops.
        dir.modify(
            &Caller::system(),
            OPS,
            vec![m(ModOp::Replace, "msPKIRoamingTimeStamp", vec![vec![1; 8]])],
        )
        .unwrap();
        let count = |who: &Caller, f: Filter| {
            dir.search(who, &request(OPS, Scope::Base, f, &["cn"]))
                .unwrap()
                .entries
                .len()
        };
        let present = Filter::Present("msPKIRoamingTimeStamp".into());
        let not_present = Filter::Not(Box::new(present.clone()));
        assert_eq!(count(&admin(&dir), present.clone()), 1);
        assert_eq!(count(&admin(&dir), not_present.clone()), 0);
        let alice = caller(&dir, ALICE);
        // Undefined, and NOT Undefined is Undefined: neither form finds the entry, so the
        // value cannot be probed through filters.
        assert_eq!(count(&alice, present), 0);
        assert_eq!(count(&alice, not_present), 0);
        let or = Filter::Or(vec![
            Filter::Present("msPKIRoamingTimeStamp".into()),
            Filter::Present("cn".into()),
        ]);
        assert_eq!(count(&alice, or), 1);
    }

    #[test]
    fn finds_entries_by_filter_and_scope() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        let eq = Filter::EqualityMatch("sAMAccountName".into(), b"alice".to_vec());
        let out = dir
            .search(&alice, &request(BASE, Scope::Subtree, eq.clone(), &["cn"]))
            .unwrap();
        assert_eq!(out.entries.len(), 1);
        assert_eq!(out.entries[0].dn, ALICE);
        let [(name, values)] = out.entries[0].attrs.as_slice() else {
            panic!("one attribute: {:?}", out.entries[0].attrs)
        };
        assert!(name.eq_ignore_ascii_case("cn") && *values == s("alice"));
        let one = dir
            .search(&alice, &request(BASE, Scope::OneLevel, eq, &["cn"]))
            .unwrap();
        assert!(one.entries.is_empty());
        let mut limited = request(
            BASE,
            Scope::Subtree,
            Filter::Present("objectClass".into()),
            &["1.1"],
        );
        limited.size_limit = 2;
        let out = dir.search(&alice, &limited).unwrap();
        assert!(out.size_limit_exceeded && out.entries.len() == 2);
    }

    #[test]
    fn secrets_and_root_keys_are_read_as_access_decides() {
        let dir = forest();
        let (alice, admin) = (caller(&dir, ALICE), admin(&dir));
        assert!(!has(
            &read(&dir, &admin, ALICE, &["unicodePwd", "*"]).unwrap(),
            "unicodePwd"
        ));
        let keys = dir.root_key_container();
        let out = dir
            .search(
                &admin,
                &request(
                    &keys.to_string(),
                    Scope::OneLevel,
                    Filter::Present("objectClass".into()),
                    &[],
                ),
            )
            .unwrap();
        let key_dn = out.entries[0].dn.clone();
        assert!(has(&out.entries[0].attrs, "msKds-RootKeyData"));
        // msKds-ProvRootKey's default SD grants nothing to plain users (only DA, EA, SYSTEM):
        // not even objectClass, so `(objectClass=*)` is Undefined and the entry is not returned.
        let req = request(
            &key_dn,
            Scope::Base,
            Filter::Present("objectClass".into()),
            &["msKds-Version"],
        );
        assert!(dir.search(&alice, &req).unwrap().entries.is_empty());
    }

    #[test]
    fn managed_password_is_read_as_access_decides() {
        let dir = forest();
        let (web01, web02) = (caller(&dir, WEB01), caller(&dir, WEB02));
        let attrs = ["msDS-ManagedPassword", "sAMAccountName"];
        let got = read(&dir, &web01, SVC_WEB, &attrs).unwrap();
        assert!(has(&got, "msDS-ManagedPassword"));
        let omitted = read(&dir, &web02, SVC_WEB, &attrs).unwrap();
        assert!(!has(&omitted, "msDS-ManagedPassword") && has(&omitted, "sAMAccountName"));
        let e = refused(&dir, 1, "0000202D:", || {
            read(&dir, &web01.clone().with_encryption(false), SVC_WEB, &attrs)
        });
        assert_eq!(e, DsError::confidentiality_required());
        // Not a gMSA: the attribute is simply absent, encrypted or not.
        assert!(!has(
            &read(&dir, &web01.with_encryption(false), ALICE, &attrs).unwrap(),
            "msDS-ManagedPassword"
        ));
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = forest();
        let alice = caller(&dir, ALICE);
        refused(&dir, 1, "000004DC:", || {
            read(&dir, &Caller::anonymous(), ALICE, &[])
        });
        refused(&dir, 34, "00002081:", || read(&dir, &alice, "not a DN", &[]));
        let e = refused(&dir, 32, "0000208D:", || {
            read(&dir, &alice, &format!("CN=nobody,CN=Users,{BASE}"), &[])
        });
        assert_eq!(e.matched_dn, format!("CN=Users,{BASE}"));
        let e = refused(&dir, 10, "0000202B:", || read(&dir, &alice, CHILD_BASE, &[]));
        assert_eq!(
            e.referrals,
            vec![format!("ldap://child.corp.example.test/{CHILD_BASE}")]
        );
    }
}
