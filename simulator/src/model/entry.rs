//! A directory entry as stored: plain attributes by name, and linked attributes (member, …) as
//! entry ids, so that a rename never leaves a stale DN behind (AD stores links by DNT, MS-ADTS 3.1.1.1.6).
//!
//! Storage is compact and shared (issue 12): attribute names are interned `Arc<str>` (one copy
//! per distinct name in the process, however many entries carry it), each attribute sits
//! behind an `Arc` so that copying an entry to modify it copies pointers, not values
//! (copy-on-write per attribute), and identical `nTSecurityDescriptor` values are stored once
//! and shared by every entry that has them — AD's single-instance SD table (MS-ADTS 3.1.1.2.x
//! does not mandate the storage; Windows' ESE keeps each distinct descriptor once in
//! `sd_table`, referenced by id and refcounted). Sharing is by content, so snapshots
//! (`Store::clone`) and later writes keep the refcounts right without any bookkeeping.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Index;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::dn::Dn;

/// Internal, never-reused identity of an entry (AD's DNT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub u64);

/// An attribute name, interned: equal names share one allocation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

/// Most distinct names the interner keeps. Names come from the schema plus the spellings
/// clients used; past this bound (a client inventing case variants) names are still stored,
/// just not shared, so memory stays bounded by the data itself.
const MAX_INTERNED_NAMES: usize = 16_384;

impl Name {
    pub fn new(text: &str) -> Name {
        static NAMES: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
        let mut names = NAMES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = names.get(text) {
            return Name(n.clone());
        }
        let n: Arc<str> = Arc::from(text);
        if names.len() < MAX_INTERNED_NAMES {
            names.insert(n.clone());
        }
        Name(n)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0.to_string()
    }
}

/// One attribute: its name as first written, and its values in insertion order.
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: Name,
    pub values: Vec<Vec<u8>>,
}

impl fmt::Debug for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (unicodePwd, msKds-RootKeyData): print only their count.
        write!(f, "{}({} values)", self.name, self.values.len())
    }
}

/// The single-instance table of security descriptors (and of [`SHARED_BY_CONTENT`]'s
/// attributes): the live shared copy of each distinct attribute, by a hash of its content. Entries hold strong references;
/// the table only weak ones, so a descriptor no entry (and no snapshot) uses any more is freed,
/// and its slot pruned when the table has doubled since the last prune.
struct SdTable {
    by_hash: HashMap<u64, Vec<Weak<Attr>>>,
    slots: usize,
    prune_at: usize,
}

fn share_by_content(attr: Attr) -> Arc<Attr> {
    static TABLE: OnceLock<Mutex<SdTable>> = OnceLock::new();
    // Random keys per process: clients choose some of these values, and must not be able to
    // pile them into one bucket.
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let hash = KEYS
        .get_or_init(Default::default)
        .hash_one((&attr.name, &attr.values));
    let table = TABLE.get_or_init(|| {
        Mutex::new(SdTable {
            by_hash: HashMap::new(),
            slots: 0,
            prune_at: 1024,
        })
    });
    let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = t
        .by_hash
        .get(&hash)
        .into_iter()
        .flatten()
        .filter_map(Weak::upgrade)
        .find(|a| **a == attr)
    {
        return found;
    }
    let shared = Arc::new(attr);
    t.by_hash.entry(hash).or_default().push(Arc::downgrade(&shared));
    t.slots += 1;
    if t.slots >= t.prune_at {
        t.by_hash.retain(|_, v| {
            v.retain(|w| w.strong_count() > 0);
            !v.is_empty()
        });
        t.slots = t.by_hash.values().map(Vec::len).sum();
        t.prune_at = (t.slots * 2).max(1024);
    }
    shared
}

/// Attributes whose values repeat across entries (lower-cased names): the class chain, the
/// SAM defaults every account gets (MS-SAMR 3.1.1.8: `accountExpires`, `badPwdCount`,
/// `pwdLastSet`, … start at the same values), flags, and timestamps of one second. Stored once
/// per distinct value through the same table as descriptors; an attribute with a value per
/// entry (`sAMAccountName`, `objectSid`, `uSNChanged`) would only add a table slot, so is not.
const SHARED_BY_CONTENT: &[&str] = &[
    "ntsecuritydescriptor",
    "objectclass",
    "objectcategory",
    "instancetype",
    "useraccountcontrol",
    "samaccounttype",
    "primarygroupid",
    "accountexpires",
    "pwdlastset",
    "badpwdcount",
    "badpasswordtime",
    "lastlogon",
    "lastlogoff",
    "logoncount",
    "lockouttime",
    "codepage",
    "countrycode",
    "admincount",
    "grouptype",
    "iscriticalsystemobject",
    "showinadvancedviewonly",
    "systemflags",
    "whencreated",
    "whenchanged",
    "msds-supportedencryptiontypes",
];

/// The attribute as stored, sized to fit: descriptors and the attributes of
/// [`SHARED_BY_CONTENT`] through the single-instance table, others as they are.
fn stored(key: &str, mut attr: Attr) -> Arc<Attr> {
    attr.values.shrink_to_fit();
    for v in &mut attr.values {
        v.shrink_to_fit();
    }
    if SHARED_BY_CONTENT.contains(&key) {
        share_by_content(attr)
    } else {
        Arc::new(attr)
    }
}

/// An entry's attributes keyed by the lower-cased name: a vector sorted by key, sized to fit
/// (an entry has ~25 attributes; a `BTreeMap` spent ~1.3 KiB of nodes on them, this ~600 B).
/// Lookups are a binary search; an insert or removal moves at most the ~25 pairs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AttrMap(Vec<(Name, Arc<Attr>)>);

impl AttrMap {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Arc<Attr>> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Arc<Attr>> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&Name, &Arc<Attr>)> {
        self.find(key).ok().map(|i| (&self.0[i].0, &self.0[i].1))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `attr`, returning the attribute it replaces.
    pub fn insert(&mut self, key: Name, attr: Arc<Attr>) -> Option<Arc<Attr>> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, attr)),
            Err(i) => {
                // Grow by one, not by doubling: entries are built once and read many times.
                self.0.reserve_exact(1);
                self.0.insert(i, (key, attr));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Arc<Attr>> {
        let i = self.find(key).ok()?;
        let (_, a) = self.0.remove(i);
        if self.0.capacity() > self.0.len() + 4 {
            self.0.shrink_to_fit();
        }
        Some(a)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (lower-cased name, attribute) pairs in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Name, &Arc<Attr>)> + ExactSizeIterator {
        self.0.iter().map(|(k, a)| (k, a))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Name> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Arc<Attr>> + ExactSizeIterator {
        self.0.iter().map(|(_, a)| a)
    }
}

/// A stored (name, attribute) pair as [`AttrMap`]'s iterators give it.
type AttrRef<'a> = (&'a Name, &'a Arc<Attr>);
type AttrPairs<'a> =
    std::iter::Map<std::slice::Iter<'a, (Name, Arc<Attr>)>, fn(&'a (Name, Arc<Attr>)) -> AttrRef<'a>>;

impl<'a> IntoIterator for &'a AttrMap {
    type Item = AttrRef<'a>;
    type IntoIter = AttrPairs<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, a)| (k, a))
    }
}

impl Index<&str> for AttrMap {
    type Output = Arc<Attr>;
    fn index(&self, key: &str) -> &Arc<Attr> {
        self.get(key).expect("no such attribute")
    }
}

impl fmt::Debug for AttrMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: EntryId,
    pub dn: Dn,
    pub parent: Option<EntryId>,
    /// Keyed by the lower-cased attribute name; each attribute shared until written.
    pub attrs: AttrMap,
    /// Forward links keyed by the lower-cased attribute name (e.g. `member`).
    pub links: BTreeMap<String, Vec<EntryId>>,
    /// Secrets kept beside the entry, never served as attributes (NT hash, Kerberos keys).
    pub secrets: Option<std::sync::Arc<crate::model::secrets::AccountSecrets>>,
}

/// `name` lower-cased, borrowed when it already is (the common case: stored keys, schema names).
fn lower(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

impl Entry {
    pub fn new(id: EntryId, dn: Dn, parent: Option<EntryId>) -> Entry {
        Entry {
            id,
            dn,
            parent,
            attrs: AttrMap::default(),
            links: BTreeMap::new(),
            secrets: None,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.attrs.get(&lower(name)).map(|a| &**a)
    }

    /// The attribute for writing in place (copied first if another entry or snapshot shares it).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Attr> {
        self.attrs.get_mut(&lower(name)).map(Arc::make_mut)
    }

    /// The shared attribute itself (to compare by pointer before comparing values).
    pub fn get_shared(&self, name: &str) -> Option<&Arc<Attr>> {
        self.attrs.get(&lower(name))
    }

    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.get(name).map(|a| a.values.as_slice()).unwrap_or(&[])
    }

    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(|v| v.as_slice())
    }

    pub fn first_str(&self, name: &str) -> Option<&str> {
        self.first(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn first_i64(&self, name: &str) -> Option<i64> {
        self.first_str(name).and_then(|s| s.trim().parse().ok())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attrs.contains_key(&lower(name))
    }

    /// Replaces every value of `name` (removes the attribute when `values` is empty).
    pub fn set(&mut self, name: &str, values: Vec<Vec<u8>>) {
        let key = lower(name);
        if values.is_empty() {
            self.attrs.remove(&key);
            return;
        }
        // A stored attribute keeps its interned key and display name: no interner lookup.
        let (key, display) = match self.attrs.get_key_value(&key) {
            Some((k, a)) => (k.clone(), a.name.clone()),
            None => {
                let k = Name::new(&key);
                let display = if *name == *k { k.clone() } else { Name::new(name) };
                (k, display)
            }
        };
        let attr = stored(
            key.as_str(),
            Attr {
                name: display,
                values,
            },
        );
        self.attrs.insert(key, attr);
    }

    /// Inserts an attribute as read back from storage (a snapshot): its display name as saved.
    pub fn insert_attr(&mut self, attr: Attr) {
        let key = Name::new(&attr.name.to_ascii_lowercase());
        let attr = stored(key.as_str(), attr);
        self.attrs.insert(key, attr);
    }

    pub fn set_str(&mut self, name: &str, value: impl AsRef<str>) {
        self.set(name, vec![value.as_ref().as_bytes().to_vec()]);
    }

    pub fn remove(&mut self, name: &str) -> Option<Attr> {
        self.attrs
            .remove(&lower(name))
            .map(|a| Arc::try_unwrap(a).unwrap_or_else(|a| (*a).clone()))
    }

    /// True when one of the entry's objectClass values is `class` (case-insensitive).
    pub fn is_class(&self, class: &str) -> bool {
        self.values("objectClass")
            .iter()
            .any(|v| v.eq_ignore_ascii_case(class.as_bytes()))
    }

    /// The most specific objectClass (AD lists the chain from top to the structural class).
    pub fn structural_class(&self) -> Option<&str> {
        self.values("objectClass")
            .last()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn link_targets(&self, name: &str) -> &[EntryId] {
        self.links
            .get(&name.to_ascii_lowercase())
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> Entry {
        Entry::new(EntryId(n), Dn::parse(&format!("CN=e{n},DC=x")).unwrap(), None)
    }

    /// Identical descriptors are stored once (AD's SD table); a copy written in place is
    /// unshared first, and names are interned.
    #[test]
    fn descriptors_and_names_are_shared() {
        let sd = vec![1u8, 0, 4, 0x80, 9, 9, 9];
        let (mut a, mut b) = (entry(1), entry(2));
        a.set("nTSecurityDescriptor", vec![sd.clone()]);
        b.set("ntsecuritydescriptor", vec![sd.clone()]);
        let (sa, sb) = (
            a.get_shared("nTSecurityDescriptor").unwrap(),
            b.get_shared("nTSecurityDescriptor").unwrap(),
        );
        assert!(
            !Arc::ptr_eq(sa, sb),
            "a different display name is a different attribute"
        );
        let mut c = entry(3);
        c.set("nTSecurityDescriptor", vec![sd.clone()]);
        assert!(Arc::ptr_eq(
            a.get_shared("ntsecuritydescriptor").unwrap(),
            c.get_shared("nTSecurityDescriptor").unwrap()
        ));

        c.get_mut("nTSecurityDescriptor").unwrap().values[0][4] = 7;
        assert_eq!(a.first("nTSecurityDescriptor"), Some(sd.as_slice()));
        assert_eq!(c.first("nTSecurityDescriptor").unwrap()[4], 7);

        a.set_str("Description", "x");
        c.set_str("description", "y");
        let key = |e: &Entry| {
            e.attrs
                .keys()
                .find(|k| k.as_str() == "description")
                .unwrap()
                .clone()
        };
        assert!(Arc::ptr_eq(&key(&a).0, &key(&c).0));
        assert_eq!(a.get("DESCRIPTION").unwrap().name.as_str(), "Description");
        assert_eq!(a.remove("description").unwrap().values, vec![b"x".to_vec()]);
        assert!(!a.has("description"));
    }
}
