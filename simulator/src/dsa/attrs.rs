//! What a search returns for an entry: stored attributes, links rendered as DNs, constructed
//! attributes (MS-ADTS 3.1.1.4.5), and what is never returned (secrets) or only to some.

use super::access::{self, ManagedPasswordRead};
use super::caller::Caller;
use super::error::{DsError, DsResult};
use super::request::{Scope, SearchEntry, SearchRequest, View};
use super::{token, DirState, Directory};
use crate::model::{Entry, EntryId, Values};
use crate::store::LINKED_ATTRIBUTES;

/// Constructed attributes returned only when named (MS-ADTS 3.1.1.4.5; never for `*`).
const CONSTRUCTED_ON_REQUEST: &[&str] = &[
    "tokengroups",
    "canonicalname",
    "createtimestamp",
    "modifytimestamp",
    "subschemasubentry",
    "primarygrouptoken",
    "msds-keyversionnumber",
    "msds-managedpassword",
    "allowedattributes",
    "structuralobjectclass",
    "attributetypes",
    "objectclasses",
    "ditcontentrules",
];

/// Operational attributes returned for `+` (RFC 3673).
const OPERATIONAL: &[&str] = &[
    "createtimestamp",
    "modifytimestamp",
    "subschemasubentry",
    "canonicalname",
];

/// The attribute description without options (`member;range=0-*` → `member`).
pub fn base_name(desc: &str) -> &str {
    desc.split(';').next().unwrap_or(desc)
}

/// Values of an attribute as a filter sees them: stored values, and links as DNs.
pub fn filter_values(dir: &Directory, st: &DirState, e: &Entry, attr_lower: &str) -> Vec<Vec<u8>> {
    if !access::visible_to_filters(attr_lower) {
        return Vec::new();
    }
    if let Some(a) = e.attrs.get(attr_lower) {
        return a.values.to_vec();
    }
    if attr_lower == "distinguishedname" {
        return vec![e.dn.to_string().into_bytes()];
    }
    link_values(st, e, attr_lower).unwrap_or_else(|| {
        let _ = dir;
        Vec::new()
    })
}

/// Forward links and back links rendered as DNs; `None` when `attr_lower` is not linked.
fn link_values(st: &DirState, e: &Entry, attr_lower: &str) -> Option<Vec<Vec<u8>>> {
    for (fwd, back) in LINKED_ATTRIBUTES {
        if fwd.eq_ignore_ascii_case(attr_lower) {
            return Some(dns(st, e.link_targets(attr_lower)));
        }
        if back.eq_ignore_ascii_case(attr_lower) {
            return Some(dns(st, &st.store.backlinks(e.id, fwd)));
        }
    }
    None
}

fn dns(st: &DirState, ids: &[EntryId]) -> Vec<Vec<u8>> {
    ids.iter()
        .filter_map(|id| st.store.get(*id))
        .map(|t| t.dn.to_string().into_bytes())
        .collect()
}

/// Renders entries for one search request.
pub struct ReadContext<'a> {
    dir: &'a Directory,
    st: &'a DirState,
    caller: &'a Caller,
    req: &'a SearchRequest,
    all_user: bool,
    operational: bool,
    named: Vec<String>,
}

impl<'a> ReadContext<'a> {
    pub fn new(dir: &'a Directory, st: &'a DirState, caller: &'a Caller, req: &'a SearchRequest) -> Self {
        let all_user = req.attrs.is_empty() || req.attrs.iter().any(|a| a == "*");
        let operational = req.attrs.iter().any(|a| a == "+");
        let named = req
            .attrs
            .iter()
            .filter(|a| *a != "*" && *a != "+" && *a != "1.1")
            .map(|a| a.to_string())
            .collect();
        ReadContext {
            dir,
            st,
            caller,
            req,
            all_user,
            operational,
            named,
        }
    }

    pub fn render(&mut self, e: &Entry) -> DsResult<SearchEntry> {
        // The entry's descriptor is parsed once for all its attributes.
        let guard = access::Guard::of(self.caller, e);
        self.render_with(e, &guard)
    }

    /// [`ReadContext::render`] with the entry's guard already built (by the filter's check).
    pub fn render_with(&mut self, e: &Entry, guard: &access::Guard) -> DsResult<SearchEntry> {
        let mut out: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
        let only_dn = self.req.attrs.len() == 1 && self.req.attrs[0] == "1.1";
        if !only_dn {
            if self.all_user {
                for (key, a) in &e.attrs {
                    if self.readable(guard, key) && self.in_partial_set(key) && !hidden_from_star(key) {
                        out.push((a.name.to_string(), self.values_read(key, a.values)));
                    }
                }
                out.push(("distinguishedName".into(), vec![e.dn.to_string().into_bytes()]));
                if e.is_class("subSchema") {
                    for (name, key) in [
                        ("attributeTypes", "attributetypes"),
                        ("objectClasses", "objectclasses"),
                        ("dITContentRules", "ditcontentrules"),
                    ] {
                        out.push((name.to_string(), subschema_values(key).to_vec()));
                    }
                }
                for (fwd, back) in LINKED_ATTRIBUTES {
                    for name in [fwd, back] {
                        let vals = link_values(self.st, e, &name.to_ascii_lowercase()).unwrap_or_default();
                        if !vals.is_empty() {
                            out.push((name.to_string(), vals));
                        }
                    }
                }
            }
            if self.operational {
                for name in OPERATIONAL {
                    if let Some(v) = self.constructed(e, name)? {
                        push_unique(&mut out, display_name(name), v);
                    }
                }
            }
            for desc in self.named.clone() {
                let name = base_name(&desc).to_string();
                let key = name.to_ascii_lowercase();
                if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                    continue;
                }
                if let Some(a) = e.attrs.get(key.as_str()) {
                    if self.readable(guard, &key) && self.in_partial_set(&key) {
                        out.push((a.name.to_string(), self.values_read(&key, a.values)));
                    }
                    continue;
                }
                if key == "distinguishedname" {
                    out.push(("distinguishedName".into(), vec![e.dn.to_string().into_bytes()]));
                    continue;
                }
                if let Some(vals) = link_values(self.st, e, &key) {
                    if !vals.is_empty() {
                        out.push((name.clone(), vals));
                    }
                    continue;
                }
                if CONSTRUCTED_ON_REQUEST.contains(&key.as_str()) {
                    if let Some(v) = self.constructed(e, &key)? {
                        out.push((name.clone(), v));
                    }
                }
            }
        }
        if self.req.types_only {
            for (_, v) in out.iter_mut() {
                v.clear();
            }
        }
        Ok(SearchEntry {
            dn: e.dn.to_string(),
            attrs: out,
        })
    }

    pub fn readable(&self, guard: &access::Guard, key: &str) -> bool {
        access::may_read_attribute(self.dir, self.caller, guard, key)
    }

    /// Stored values as read: nTSecurityDescriptor keeps only the parts the SD flags
    /// control names (MS-ADTS 3.1.1.3.4.1.11).
    fn values_read(&self, key: &str, values: Values<'_>) -> Vec<Vec<u8>> {
        if key == "ntsecuritydescriptor" {
            return values
                .iter()
                .map(|v| access::descriptor_parts(v, self.caller.sd_flags))
                .collect();
        }
        values.to_vec()
    }

    fn in_partial_set(&self, key: &str) -> bool {
        match self.req.view {
            View::GlobalCatalog => in_partial_attribute_set(key),
            _ => true,
        }
    }

    /// MS-ADTS 3.1.1.4.5 constructed attributes.
    fn constructed(&mut self, e: &Entry, key: &str) -> DsResult<Option<Vec<Vec<u8>>>> {
        let v = match key {
            "createtimestamp" => e.get("whenCreated").map(|a| a.values.to_vec()),
            "modifytimestamp" => e.get("whenChanged").map(|a| a.values.to_vec()),
            "subschemasubentry" => Some(vec![self.dir.subschema_dn().into_bytes()]),
            "canonicalname" => Some(vec![canonical_name(self.dir, e).into_bytes()]),
            "structuralobjectclass" => e.structural_class().map(|c| vec![c.as_bytes().to_vec()]),
            // MS-ADTS 3.1.1.4.5.3: tokenGroups only for a base-scope search.
            "tokengroups" if self.req.scope == Scope::Base && e.has("objectSid") => Some(
                token::group_sids(self.st, &self.dir.forest, e.id)
                    .iter()
                    .map(|s| s.to_bytes())
                    .collect(),
            ),
            "primarygrouptoken" if e.is_class("group") => e
                .first("objectSid")
                .and_then(|b| crate::security::Sid::from_bytes(b).ok())
                .and_then(|s| s.rid())
                .map(|r| vec![r.to_string().into_bytes()]),
            "msds-managedpassword" => match access::managed_password_read(self.caller, e) {
                ManagedPasswordRead::Allowed => self.dir.managed_password_blob(self.st, e).map(|b| vec![b]),
                ManagedPasswordRead::NotAllowed => None,
                // docs/notes/gmsa-gkdi.md §5 step 1: the confidentiality check fails the whole search.
                ManagedPasswordRead::ConfidentialityRequired => {
                    return Err(DsError::confidentiality_required())
                }
            },
            "msds-keyversionnumber" => e.secrets.as_ref().map(|s| vec![s.kvno.to_string().into_bytes()]),
            "attributetypes" | "objectclasses" | "ditcontentrules" if e.is_class("subSchema") => {
                Some(subschema_values(key).to_vec())
            }
            _ => None,
        };
        Ok(v)
    }
}

/// Attributes a Global Catalog holds for every object (isMemberOfPartialAttributeSet).
pub fn in_partial_attribute_set(key: &str) -> bool {
    key == "distinguishedname"
        || crate::schema::Schema::ad()
            .attribute(key)
            .is_some_and(|a| a.in_partial_attribute_set)
}

fn push_unique(out: &mut Vec<(String, Vec<Vec<u8>>)>, name: &str, v: Vec<Vec<u8>>) {
    if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
        out.push((name.to_string(), v));
    }
}

fn display_name(key: &str) -> &'static str {
    match key {
        "createtimestamp" => "createTimeStamp",
        "modifytimestamp" => "modifyTimeStamp",
        "subschemasubentry" => "subSchemaSubEntry",
        "canonicalname" => "canonicalName",
        _ => "unknown",
    }
}

/// `corp.example.test/Users/Administrator` (MS-ADTS 3.1.1.4.5.12).
pub fn canonical_name(dir: &Directory, e: &Entry) -> String {
    let nc = dir
        .forest
        .naming_contexts()
        .into_iter()
        .filter(|nc| e.dn.is_within(nc))
        .max_by_key(|nc| nc.len());
    let Some(nc) = nc else { return e.dn.to_string() };
    let dns = if nc.rdns().iter().all(|a| a.attr.eq_ignore_ascii_case("dc")) {
        nc.dns_name()
    } else {
        let mut parts: Vec<String> = nc
            .rdns()
            .iter()
            .take_while(|a| !a.attr.eq_ignore_ascii_case("dc"))
            .map(|a| a.value.clone())
            .collect();
        parts.reverse();
        format!("{}/{}", nc.dns_name(), parts.join("/"))
    };
    let below = e.dn.len() - nc.len();
    let mut parts: Vec<&str> = e.dn.rdns()[..below].iter().map(|a| a.value.as_str()).collect();
    parts.reverse();
    if parts.is_empty() {
        format!("{dns}/")
    } else {
        format!("{dns}/{}", parts.join("/"))
    }
}

/// The rendered schema definitions, built once per process.
fn subschema_values(key: &str) -> &'static [Vec<u8>] {
    use std::sync::OnceLock;
    static RENDERED: OnceLock<[Vec<Vec<u8>>; 3]> = OnceLock::new();
    let r = RENDERED.get_or_init(|| {
        let s = crate::schema::Schema::ad();
        let bytes = |v: Vec<String>| v.into_iter().map(String::into_bytes).collect::<Vec<_>>();
        [
            bytes(s.render_attribute_types()),
            bytes(s.render_object_classes()),
            bytes(s.render_dit_content_rules()),
        ]
    });
    match key {
        "attributetypes" => &r[0],
        "objectclasses" => &r[1],
        _ => &r[2],
    }
}

/// Attributes `*` leaves out: the schema's constructed and operational ones (nTSecurityDescriptor
/// among them) must be asked for by name.
fn hidden_from_star(key: &str) -> bool {
    crate::schema::Schema::ad()
        .attribute(key)
        .is_some_and(|a| a.hidden_from_star())
}
