//! The entry store of one forest: entries by id, a DN map, the parent/child tree, equality
//! indexes on the attributes AD indexes, and back-link maps for linked attributes.
//!
//! Every map is a persistent (`imbl`) structure, so `Store::clone()` is an O(1) point-in-time
//! snapshot and a restore is an assignment.

pub mod durable;

use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

use imbl::{OrdMap, OrdSet};

use crate::model::entry::Values;
use crate::model::{with_ascii_lowercase, Dn, Entry, EntryId, Name};

/// Attributes with an equality index (lower-cased names). AD indexes these (MS-ADTS 3.1.1.2.3
/// searchFlags fATTINDEX) and clients search by them constantly.
pub const INDEXED_ATTRIBUTES: &[&str] = &[
    "samaccountname",
    "userprincipalname",
    "serviceprincipalname",
    "dnshostname",
    "objectsid",
    "objectguid",
    "objectclass",
    "cn",
    "name",
    "mskds-version",
];

/// Linked attribute pairs (forward, back) as in the AD schema (linkID n and n+1).
pub const LINKED_ATTRIBUTES: &[(&str, &str)] = &[
    ("member", "memberOf"),
    ("managedBy", "managedObjects"),
    ("manager", "directReports"),
    ("msDS-HostServiceAccount", "msDS-HostServiceAccountBL"),
];

pub fn is_indexed(attr_lower: &str) -> bool {
    index_slot(attr_lower).is_some()
}

fn index_slot(attr_lower: &str) -> Option<usize> {
    INDEXED_ATTRIBUTES.iter().position(|a| *a == attr_lower)
}

/// The position of objectClass in [`INDEXED_ATTRIBUTES`].
const OBJECT_CLASS_SLOT: usize = 6;
const _: () = assert!(matches!(
    INDEXED_ATTRIBUTES[OBJECT_CLASS_SLOT].as_bytes(),
    b"objectclass"
));

/// The objectClass index keeps one pair per entry and most specific class, not one per value:
/// a user's `top, person, organizationalPerson, user` is posted under `user` alone (issue 12:
/// three pairs of ~40 B less per entry). A value is posted, under its class's lDAPDisplayName,
/// unless another of the entry's values is a class below it; a value that names no class of
/// the schema is posted as it is. A look-up of a class walks the postings of the class and of
/// every class below it ([`subclass_keys`]) and confirms each candidate against its values.
fn class_index_keys(values: Values<'_>) -> Vec<u64> {
    let schema = crate::schema::Schema::ad();
    let table = class_table();
    let positions: Vec<Option<usize>> = values
        .iter()
        .map(|v| std::str::from_utf8(v).ok().and_then(|v| schema.class_position(v)))
        .collect();
    let below_another = |p: usize| {
        positions
            .iter()
            .flatten()
            .any(|q| table[*q].ancestors.contains(&p))
    };
    values
        .iter()
        .zip(&positions)
        .filter_map(|(v, p)| match p {
            None => Some(index_key_hash("objectclass", v)),
            Some(p) => (!below_another(*p)).then_some(table[*p].key),
        })
        .collect()
}

/// Per class of the schema (same positions as `Schema::classes`): the hash its postings are
/// filed under, the positions of its ancestors (its chain without itself) and the hashes of
/// itself and every class below it. Built once per process.
struct ClassKeys {
    key: u64,
    ancestors: Vec<usize>,
    below: Vec<u64>,
}

fn class_table() -> &'static [ClassKeys] {
    static TABLE: OnceLock<Vec<ClassKeys>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let schema = crate::schema::Schema::ad();
        let mut table: Vec<ClassKeys> = schema
            .classes()
            .map(|c| ClassKeys {
                key: index_key_hash("objectclass", c.name.as_bytes()),
                ancestors: schema
                    .chain(c.name)
                    .iter()
                    .filter(|a| a.name != c.name)
                    .filter_map(|a| schema.class_position(a.name))
                    .collect(),
                below: Vec::new(),
            })
            .collect();
        for i in 0..table.len() {
            let key = table[i].key;
            table[i].below.push(key);
            for a in table[i].ancestors.clone() {
                table[a].below.push(key);
            }
        }
        table
    })
}

/// The objectClass postings a look-up of the class `key` (an index key: lower case) walks: the
/// class's own and those of every class whose chain passes through it; `key` alone when it
/// names no class.
fn subclass_keys(key: &[u8]) -> Vec<u64> {
    let schema = crate::schema::Schema::ad();
    match std::str::from_utf8(key)
        .ok()
        .and_then(|k| schema.class_position(k))
    {
        Some(p) => class_table()[p].below.clone(),
        None => vec![key_hash(key)],
    }
}

/// The ascending union of ascending id sequences, each id once.
fn union<I: Iterator<Item = EntryId>>(sequences: impl Iterator<Item = I>) -> impl Iterator<Item = EntryId> {
    use std::cmp::Reverse;
    let mut sequences: Vec<I> = sequences.collect();
    let mut heads: std::collections::BinaryHeap<Reverse<(EntryId, usize)>> = sequences
        .iter_mut()
        .enumerate()
        .filter_map(|(i, s)| Some(Reverse((s.next()?, i))))
        .collect();
    let mut last = None;
    std::iter::from_fn(move || loop {
        let Reverse((id, i)) = heads.pop()?;
        if let Some(next) = sequences[i].next() {
            heads.push(Reverse((next, i)));
        }
        if last != Some(id) {
            last = Some(id);
            return Some(id);
        }
    })
}

/// A keyed hash of a normalised DN or an index key, with the process's random keys (no client
/// can aim collisions at it). The maps keep this 8-byte hash, not the text; every look-up
/// confirms its candidates against the entries, so a collision costs a comparison, never a
/// wrong answer.
fn key_hash(text: &[u8]) -> u64 {
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEYS.get_or_init(Default::default).hash_one(text)
}

/// The pairs of `set` whose first half is `k`, second half ascending from `after` on
/// (excluded; all of them for `None`): O(log n) to the first.
fn range_of<K: Ord + Clone>(
    set: &OrdSet<(K, EntryId)>,
    k: K,
    after: Option<EntryId>,
) -> impl Iterator<Item = EntryId> + '_ {
    let first = match after {
        Some(a) => a.0.checked_add(1).map(|next| (k.clone(), EntryId(next))),
        None => Some((k.clone(), EntryId(0))),
    };
    // One seek settles the common case of no pair at all (an add's uniqueness and DN checks);
    // a range seeks both of its ends.
    let first = first.filter(|f| set.get_next(f).is_some_and(|(h, _)| *h == k));
    first
        .map(|f| set.range((Bound::Included(f), Bound::Included((k, EntryId(u64::MAX))))))
        .into_iter()
        .flatten()
        .map(|(_, id)| *id)
}

/// The forward link attribute whose back link is `name`, if `name` is a back link.
pub fn forward_of_backlink(name: &str) -> Option<&'static str> {
    LINKED_ATTRIBUTES
        .iter()
        .find(|(_, b)| b.eq_ignore_ascii_case(name))
        .map(|(f, _)| *f)
}

pub fn is_forward_link(name: &str) -> bool {
    LINKED_ATTRIBUTES
        .iter()
        .any(|(f, _)| f.eq_ignore_ascii_case(name))
}

/// How a value is keyed in an equality index: binary attributes as they are, others case-folded.
pub fn index_key(attr_lower: &str, value: &[u8]) -> Vec<u8> {
    match attr_lower {
        "objectsid" | "objectguid" => value.to_vec(),
        _ => match std::str::from_utf8(value) {
            Ok(s) => s.to_lowercase().into_bytes(),
            Err(_) => value.to_vec(),
        },
    }
}

/// The hash an index files the key `key` of `attr_lower` under. An objectSid's is ordered by
/// its last sub-authority (the RID) within its domain: RIDs are handed out in sequence, so each
/// new account's pair lands next to the last one's instead of in a cold part of the index (a
/// bulk load's cache misses, issue 12); the domain part still goes through the keyed hash.
fn posting_hash(attr_lower: &str, key: &[u8]) -> u64 {
    match (attr_lower, key.len().checked_sub(4)) {
        ("objectsid", Some(domain)) if domain >= 8 => {
            let rid = u32::from_le_bytes(key[domain..].try_into().expect("four bytes"));
            (key_hash(&key[..domain]) & !0xFFFF_FFFF) | u64::from(rid)
        }
        _ => key_hash(key),
    }
}

/// `posting_hash(attr_lower, &index_key(attr_lower, value))`, without building the key (every
/// indexed value of every add and write goes through here).
fn index_key_hash(attr_lower: &str, value: &[u8]) -> u64 {
    match attr_lower {
        "objectsid" | "objectguid" => posting_hash(attr_lower, value),
        _ if value.is_ascii() => with_ascii_lowercase(value, key_hash),
        _ => key_hash(&index_key(attr_lower, value)),
    }
}

/// True when `index_key(attr_lower, value)` is `key`; ASCII values are compared without
/// building the key (a paged walk over a large posting confirms every candidate).
fn has_index_key(attr_lower: &str, value: &[u8], key: &[u8]) -> bool {
    match attr_lower {
        "objectsid" | "objectguid" => value == key,
        _ if value.is_ascii() => value.eq_ignore_ascii_case(key) && !key.iter().any(u8::is_ascii_uppercase),
        _ => index_key(attr_lower, value) == key,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("an entry with this DN already exists")]
    DnExists,
    #[error("no such entry")]
    NoSuchEntry,
    #[error("the parent entry does not exist")]
    NoParent,
    #[error("the entry has children")]
    HasChildren,
}

/// Every map is an ordered persistent set of small fixed-size pairs (issue 12): a B-tree node
/// holds ~16 pairs, ~30-40 B per pair at any size, where a persistent hash map of 100,000 keys
/// spent ~200 B per key on sparse nodes, and a posting of many ids is a range of pairs rather
/// than a set per value.
#[derive(Clone, Default)]
pub struct Store {
    entries: OrdMap<EntryId, Arc<Entry>>,
    /// ([`key_hash`] of each entry's normalised DN, id).
    by_dn: OrdSet<(u64, EntryId)>,
    /// (parent, child).
    children: OrdSet<(EntryId, EntryId)>,
    /// One equality index per [`INDEXED_ATTRIBUTES`] entry (same position): ([`key_hash`] of
    /// the index key, id).
    index: [OrdSet<(u64, EntryId)>; INDEXED_ATTRIBUTES.len()],
    /// (target, lower-cased forward attribute, source): the sources that link to a target.
    backlinks: OrdSet<(EntryId, Name, EntryId)>,
    next_id: u64,
    usn: u64,
    /// Ids inserted, updated or removed since [`Store::take_touched`] last ran: what a durable
    /// data directory writes at the end of a directory write (`store::durable`). Not part of
    /// the state: snapshots are taken between writes, when it is empty.
    touched: Vec<EntryId>,
}

impl Store {
    pub fn new() -> Store {
        Store {
            next_id: 1,
            usn: 4096,
            ..Default::default()
        }
    }

    /// Rebuilds a store from its entries and counters (a snapshot file): the DN map, tree,
    /// indexes and back-links are derived again. Parents may come in any order; ids must be
    /// distinct and below `next_id` (the caller checks), and every link must name an entry.
    pub fn from_entries(entries: Vec<Entry>, next_id: u64, usn: u64) -> Result<Store, StoreError> {
        let mut store = Store {
            next_id,
            usn,
            ..Default::default()
        };
        let mut entries = entries;
        // A parent's DN is a proper suffix of its child's, so shorter DNs go in first.
        entries.sort_by_key(|e| (e.dn.len(), e.id));
        for e in entries {
            store.insert(e)?;
        }
        // Links name entries by id: each must exist.
        let dangling = store
            .entries
            .values()
            .flat_map(|e| e.links.values().flatten())
            .any(|t| !store.entries.contains_key(t));
        if dangling {
            return Err(StoreError::NoSuchEntry);
        }
        store.touched.clear();
        Ok(store)
    }

    /// The ids inserted, updated or removed since the last call, each once, in first-touch
    /// order; the list starts again empty.
    pub fn take_touched(&mut self) -> Vec<EntryId> {
        let mut ids = std::mem::take(&mut self.touched);
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        ids.retain(|id| seen.insert(*id));
        ids
    }

    /// The id the next entry will get (saved with snapshots: ids are never reused).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn allocate_id(&mut self) -> EntryId {
        let id = EntryId(self.next_id);
        self.next_id += 1;
        id
    }

    /// The next update sequence number (uSNCreated / uSNChanged).
    pub fn next_usn(&mut self) -> u64 {
        self.usn += 1;
        self.usn
    }

    pub fn highest_usn(&self) -> u64 {
        self.usn
    }

    pub fn get(&self, id: EntryId) -> Option<&Arc<Entry>> {
        self.entries.get(&id)
    }

    pub fn lookup(&self, dn: &Dn) -> Option<EntryId> {
        self.lookup_norm(&dn.norm())
    }

    /// The entry whose [`Dn::norm`] is `norm` (for walks over a DN's ancestors without copies).
    /// Each candidate with the hash is confirmed against its entry's DN without building text.
    pub fn lookup_norm(&self, norm: &str) -> Option<EntryId> {
        self.lookup_hashed(key_hash(norm.as_bytes()), norm)
    }

    /// [`Store::lookup_norm`] with the norm's [`key_hash`] already taken.
    fn lookup_hashed(&self, hash: u64, norm: &str) -> Option<EntryId> {
        range_of(&self.by_dn, hash, None).find(|id| self.entries.get(id).is_some_and(|e| e.dn.has_norm(norm)))
    }

    fn dn_taken(&self, norm: &str) -> bool {
        self.lookup_norm(norm).is_some()
    }

    fn map_dn(&mut self, norm: &str, id: EntryId, add: bool) {
        self.map_dn_hashed(key_hash(norm.as_bytes()), id, add);
    }

    fn map_dn_hashed(&mut self, hash: u64, id: EntryId, add: bool) {
        let pair = (hash, id);
        if add {
            self.by_dn.insert(pair);
        } else {
            self.by_dn.remove(&pair);
        }
    }

    /// `dn` sharing its parent entry's stored DN when it is spelled the same below its RDN
    /// (the common case: a child named below its parent as the parent is stored). Then every
    /// entry of a container holds only its own RDN. A differently spelled parent part (another
    /// case) is kept as written, as before.
    fn linked(&self, dn: Dn, parent: Option<EntryId>) -> Dn {
        let (Some(p), Some(rdn), Some(dn_parent)) =
            (parent.and_then(|p| self.entries.get(&p)), dn.rdn(), dn.parent())
        else {
            return dn;
        };
        if p.dn.ptr_eq(&dn_parent) || !p.dn.same_spelling(&dn_parent) {
            return dn;
        }
        p.dn.push(rdn.clone())
    }

    pub fn get_by_dn(&self, dn: &Dn) -> Option<&Arc<Entry>> {
        self.lookup(dn).and_then(|id| self.get(id))
    }

    pub fn children(&self, id: EntryId) -> impl Iterator<Item = EntryId> + '_ {
        self.children_after(id, None)
    }

    /// The children of `id` after the child `after` (all of them for `None`), ascending: a
    /// paged walk resumes in O(log n) however many children came before.
    pub fn children_after(&self, id: EntryId, after: Option<EntryId>) -> impl Iterator<Item = EntryId> + '_ {
        range_of(&self.children, id, after)
    }

    pub fn has_children(&self, id: EntryId) -> bool {
        self.children(id).next().is_some()
    }

    /// `id` and every entry below it, parents before children.
    pub fn subtree(&self, id: EntryId) -> Vec<EntryId> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i];
            out.extend(self.children(cur));
            i += 1;
        }
        out
    }

    /// Entries whose indexed attribute `attr_lower` has a value with this index key.
    /// `None` when the attribute has no index.
    pub fn find_eq(&self, attr_lower: &str, value: &[u8]) -> Option<Vec<EntryId>> {
        self.find_eq_after(attr_lower, value, None, usize::MAX)
    }

    /// [`Store::find_eq`] from the id after `after` on, at most `limit` ids: a paged walk over
    /// a posting of a million ids resumes in O(log n + limit). Candidates with the key's hash
    /// are confirmed against their entry's values.
    pub fn find_eq_after(
        &self,
        attr_lower: &str,
        value: &[u8],
        after: Option<EntryId>,
        limit: usize,
    ) -> Option<Vec<EntryId>> {
        let slot = index_slot(attr_lower)?;
        let key = index_key(attr_lower, value);
        let confirmed = |id: &EntryId| {
            self.entries.get(id).is_some_and(|e| {
                e.values(attr_lower)
                    .iter()
                    .any(|v| has_index_key(attr_lower, v, &key))
            })
        };
        if slot == OBJECT_CLASS_SLOT {
            // Entries of the class and of every class below it (see `class_index_keys`).
            let postings = subclass_keys(&key)
                .into_iter()
                .map(|k| range_of(&self.index[slot], k, after));
            return Some(union(postings).filter(confirmed).take(limit).collect());
        }
        Some(
            range_of(&self.index[slot], posting_hash(attr_lower, &key), after)
                .filter(confirmed)
                .take(limit)
                .collect(),
        )
    }

    /// Sources linking to `target` through the forward attribute `forward` (e.g. the groups
    /// whose `member` names the target).
    pub fn backlinks(&self, target: EntryId, forward: &str) -> Vec<EntryId> {
        let attr = Name::new(&forward.to_ascii_lowercase());
        let lower = Bound::Included((target, attr.clone(), EntryId(0)));
        let upper = Bound::Included((target, attr, EntryId(u64::MAX)));
        self.backlinks
            .range((lower, upper))
            .map(|(_, _, src)| *src)
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.entries.values()
    }

    /// Stores a new entry (its attributes sealed: see [`AttrMap`](crate::model::entry::AttrMap)).
    pub fn insert(&mut self, entry: Entry) -> Result<EntryId, StoreError> {
        let norm = entry.dn.norm();
        self.insert_normed(entry, &norm)
    }

    /// [`Store::insert`] of an entry whose DN's [`Dn::norm`] the caller has already made
    /// (an add checks its DN and parent with it): `norm` must be `entry.dn.norm()`.
    pub fn insert_normed(&mut self, mut entry: Entry, norm: &str) -> Result<EntryId, StoreError> {
        debug_assert!(entry.dn.has_norm(norm), "insert_normed: the norm of another DN");
        let hash = key_hash(norm.as_bytes());
        if self.lookup_hashed(hash, norm).is_some() {
            return Err(StoreError::DnExists);
        }
        entry.dn = self.linked(entry.dn, entry.parent);
        if let Some(p) = entry.parent {
            if !self.entries.contains_key(&p) {
                return Err(StoreError::NoParent);
            }
            self.children.insert((p, entry.id));
        }
        let id = entry.id;
        entry.attrs.seal();
        self.touched.push(id);
        self.map_dn_hashed(hash, id, true);
        self.index_entry(&entry, true);
        self.entries.insert(id, Arc::new(entry));
        Ok(id)
    }

    /// Replaces an entry's attributes and links (same id, same DN).
    pub fn update(&mut self, mut entry: Entry) -> Result<(), StoreError> {
        entry.attrs.seal();
        let old = self
            .entries
            .get(&entry.id)
            .cloned()
            .ok_or(StoreError::NoSuchEntry)?;
        self.reindex(&old, &entry);
        self.touched.push(entry.id);
        self.entries.insert(entry.id, Arc::new(entry));
        Ok(())
    }

    /// Removes a leaf entry and every link that points to it (MS-ADTS 3.1.1.5.5: links to a
    /// deleted object disappear).
    pub fn remove(&mut self, id: EntryId) -> Result<Entry, StoreError> {
        if self.has_children(id) {
            return Err(StoreError::HasChildren);
        }
        let entry = self.entries.get(&id).cloned().ok_or(StoreError::NoSuchEntry)?;
        let lowest = Name::new("");
        let incoming: Vec<(Name, EntryId)> = self
            .backlinks
            .range((
                Bound::Included((id, lowest.clone(), EntryId(0))),
                Bound::Excluded((EntryId(id.0 + 1), lowest, EntryId(0))),
            ))
            .map(|(_, attr, src)| (attr.clone(), *src))
            .collect();
        for (attr, src) in incoming {
            if let Some(s) = self.entries.get(&src).cloned() {
                let mut s = (*s).clone();
                if let Some(v) = s.links.get_mut(attr.as_str()) {
                    v.retain(|t| *t != id);
                    if v.is_empty() {
                        s.links.remove(attr.as_str());
                    }
                }
                self.update(s)?;
            }
        }
        self.index_entry(&entry, false);
        self.map_dn(&entry.dn.norm(), id, false);
        if let Some(p) = entry.parent {
            self.children.remove(&(p, id));
        }
        self.entries.remove(&id);
        self.touched.push(id);
        Ok((*entry).clone())
    }

    /// Gives `id` a new DN under `new_parent`, and rewrites the DNs of its whole subtree.
    pub fn rename(&mut self, id: EntryId, new_dn: Dn, new_parent: Option<EntryId>) -> Result<(), StoreError> {
        if self.dn_taken(&new_dn.norm()) {
            return Err(StoreError::DnExists);
        }
        let entry = self.entries.get(&id).cloned().ok_or(StoreError::NoSuchEntry)?;
        let old_dn = entry.dn.clone();
        if let Some(p) = entry.parent {
            self.children.remove(&(p, id));
        }
        if let Some(p) = new_parent {
            self.children.insert((p, id));
        }
        // Parents before children: each child's new DN is linked to its parent's new one.
        for eid in self.subtree(id) {
            let mut e = (**self.entries.get(&eid).ok_or(StoreError::NoSuchEntry)?).clone();
            self.map_dn(&e.dn.norm(), eid, false);
            let dn = e.dn.rebase(&old_dn, &new_dn).ok_or(StoreError::NoSuchEntry)?;
            if eid == id {
                e.parent = new_parent;
            }
            e.dn = self.linked(dn, e.parent);
            self.map_dn(&e.dn.norm(), eid, true);
            self.update(e)?;
        }
        Ok(())
    }

    fn index_entry(&mut self, entry: &Entry, add: bool) {
        for (slot, name) in INDEXED_ATTRIBUTES.iter().enumerate() {
            if let Some(attr) = entry.attrs.get(name) {
                self.index_values(slot, entry.id, attr.values, add);
            }
        }
        for (attr, targets) in &entry.links {
            self.index_links(entry.id, attr, targets, add);
        }
    }

    /// Moves the index and back-link entries from `old` to `new` (the same entry): only the
    /// indexed attributes and links that changed are touched, so a write of an unindexed
    /// attribute (description, whenChanged) costs no index work.
    fn reindex(&mut self, old: &Entry, new: &Entry) {
        for (slot, name) in INDEXED_ATTRIBUTES.iter().enumerate() {
            let (o, n) = (old.attrs.get(name), new.attrs.get(name));
            let same = match (o, n) {
                (Some(o), Some(n)) => o.values == n.values,
                (None, None) => true,
                _ => false,
            };
            if !same {
                if let Some(o) = o {
                    self.index_values(slot, old.id, o.values, false);
                }
                if let Some(n) = n {
                    self.index_values(slot, new.id, n.values, true);
                }
            }
        }
        if old.links != new.links {
            for (attr, targets) in &old.links {
                if new.links.get(attr) != Some(targets) {
                    self.index_links(old.id, attr, targets, false);
                }
            }
            for (attr, targets) in &new.links {
                if old.links.get(attr) != Some(targets) {
                    self.index_links(new.id, attr, targets, true);
                }
            }
        }
    }

    /// Adds or removes the index pairs of `values` (values with the same key share one pair;
    /// [`Store::reindex`] removes the old values' pairs before adding the new ones', so a key
    /// both have stays).
    fn index_values(&mut self, slot: usize, id: EntryId, values: Values<'_>, add: bool) {
        let name = INDEXED_ATTRIBUTES[slot];
        let index = &mut self.index[slot];
        let mut post = |hash: u64| {
            let pair = (hash, id);
            if add {
                index.insert(pair);
            } else {
                index.remove(&pair);
            }
        };
        if slot == OBJECT_CLASS_SLOT {
            class_index_keys(values).into_iter().for_each(post);
        } else {
            values.iter().for_each(|v| post(index_key_hash(name, v)));
        }
    }

    fn index_links(&mut self, id: EntryId, attr: &str, targets: &[EntryId], add: bool) {
        let attr = Name::new(attr);
        for t in targets {
            let triple = (*t, attr.clone(), id);
            if add {
                self.backlinks.insert(triple);
            } else {
                self.backlinks.remove(&triple);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(store: &mut Store, dn: &str, parent: Option<EntryId>) -> EntryId {
        let id = store.allocate_id();
        let mut e = Entry::new(id, Dn::parse(dn).unwrap(), parent);
        e.set_str("cn", Dn::parse(dn).unwrap().rdn().unwrap().value.clone());
        store.insert(e).unwrap()
    }

    #[test]
    fn snapshot_is_isolated_and_links_follow_renames() {
        let mut s = Store::new();
        let root = add(&mut s, "DC=x", None);
        let ou = add(&mut s, "OU=a,DC=x", Some(root));
        let user = add(&mut s, "CN=u,OU=a,DC=x", Some(ou));
        let group = add(&mut s, "CN=g,DC=x", Some(root));
        let mut g = (**s.get(group).unwrap()).clone();
        g.links.insert("member".into(), vec![user]);
        s.update(g).unwrap();
        let snap = s.clone();

        s.rename(ou, Dn::parse("OU=b,DC=x").unwrap(), Some(root)).unwrap();
        assert_eq!(s.get(user).unwrap().dn.to_string(), "CN=u,OU=b,DC=x");
        assert_eq!(s.backlinks(user, "member"), vec![group]);
        assert_eq!(s.find_eq("cn", b"U").unwrap(), vec![user]);
        assert!(snap.lookup(&Dn::parse("cn=u,ou=a,dc=x").unwrap()).is_some());

        s.remove(user).unwrap();
        assert!(!s.get(group).unwrap().links.contains_key("member"));
        assert_eq!(s.remove(ou).map(|_| ()), Ok(()));
        assert_eq!(s.remove(root).map(|_| ()), Err(StoreError::HasChildren));
    }

    /// Postings go from one inline id to a set and back, a snapshot keeps its own, and an
    /// update moves only the keys of the indexed attributes that changed.
    #[test]
    fn index_postings_and_updates() {
        let mut s = Store::new();
        let root = add(&mut s, "DC=x", None);
        let a = add(&mut s, "CN=same,DC=x", Some(root));
        let b = add(&mut s, "OU=o,DC=x", Some(root));
        let c = add(&mut s, "CN=same,OU=o,DC=x", Some(b));
        assert_eq!(s.find_eq("cn", b"SAME").unwrap(), vec![a, c]);
        let snap = s.clone();
        s.remove(c).unwrap();
        assert_eq!(s.find_eq("cn", b"same").unwrap(), vec![a]);
        assert_eq!(snap.find_eq("cn", b"same").unwrap(), vec![a, c]);

        let mut e = (**s.get(a).unwrap()).clone();
        e.set_str("description", "unindexed");
        e.set_str("sAMAccountName", "first");
        s.update(e).unwrap();
        assert_eq!(s.find_eq("samaccountname", b"first").unwrap(), vec![a]);
        let mut e = (**s.get(a).unwrap()).clone();
        e.set_str("sAMAccountName", "second");
        e.set_str("description", "changed");
        s.update(e).unwrap();
        assert_eq!(
            s.find_eq("samaccountname", b"first").unwrap(),
            Vec::<EntryId>::new()
        );
        assert_eq!(s.find_eq("samaccountname", b"second").unwrap(), vec![a]);
        assert_eq!(s.find_eq("cn", b"same").unwrap(), vec![a]);
        assert_eq!(s.find_eq("description", b"changed"), None);
        s.remove(a).unwrap();
        assert_eq!(s.find_eq("cn", b"same").unwrap(), Vec::<EntryId>::new());
        assert_eq!(
            s.find_eq("samaccountname", b"second").unwrap(),
            Vec::<EntryId>::new()
        );
    }

    /// DNs below a container share the container's stored DN; a move rewrites every
    /// descendant's DN (each linked to its parent's new one), and a snapshot keeps the old ones.
    #[test]
    fn shared_dns_follow_moves() {
        let mut s = Store::new();
        let root = add(&mut s, "DC=x", None);
        let a = add(&mut s, "OU=a,DC=x", Some(root));
        let b = add(&mut s, "OU=b,DC=x", Some(root));
        let mid = add(&mut s, "OU=mid,OU=a,DC=x", Some(a));
        let leaf = add(&mut s, "CN=leaf,OU=mid,OU=a,DC=x", Some(mid));
        // Spelled differently from the stored parent: kept as written, not linked.
        let odd = add(&mut s, "CN=odd,ou=A,DC=x", Some(a));
        let dn = |s: &Store, id| s.get(id).unwrap().dn.clone();
        assert!(dn(&s, leaf).parent().unwrap().ptr_eq(&dn(&s, mid)));
        assert!(dn(&s, mid).parent().unwrap().ptr_eq(&dn(&s, a)));
        assert!(!dn(&s, odd).parent().unwrap().ptr_eq(&dn(&s, a)));
        assert_eq!(dn(&s, odd).to_string(), "CN=odd,ou=A,DC=x");
        let snap = s.clone();

        s.rename(mid, Dn::parse("OU=moved,OU=b,DC=x").unwrap(), Some(b))
            .unwrap();
        assert_eq!(dn(&s, mid).to_string(), "OU=moved,OU=b,DC=x");
        assert_eq!(dn(&s, leaf).to_string(), "CN=leaf,OU=moved,OU=b,DC=x");
        assert!(dn(&s, leaf).parent().unwrap().ptr_eq(&dn(&s, mid)));
        assert!(dn(&s, mid).parent().unwrap().ptr_eq(&dn(&s, b)));
        assert_eq!(
            s.lookup(&Dn::parse("cn=LEAF,ou=moved,ou=b,dc=x").unwrap()),
            Some(leaf)
        );
        assert_eq!(s.lookup(&Dn::parse("CN=leaf,OU=mid,OU=a,DC=x").unwrap()), None);
        assert_eq!(snap.get(leaf).unwrap().dn.to_string(), "CN=leaf,OU=mid,OU=a,DC=x");
        assert_eq!(
            snap.lookup(&Dn::parse("CN=leaf,OU=mid,OU=a,DC=x").unwrap()),
            Some(leaf)
        );

        // Renaming the parent in place re-links the children too.
        s.rename(b, Dn::parse("OU=c,DC=x").unwrap(), Some(root)).unwrap();
        assert_eq!(dn(&s, leaf).to_string(), "CN=leaf,OU=moved,OU=c,DC=x");
        assert!(dn(&s, mid).parent().unwrap().ptr_eq(&dn(&s, b)));
        assert_eq!(
            s.rename(leaf, Dn::parse("OU=a,DC=x").unwrap(), Some(root)),
            Err(StoreError::DnExists)
        );
        s.remove(leaf).unwrap();
        assert_eq!(s.lookup(&Dn::parse("CN=leaf,OU=moved,OU=c,DC=x").unwrap()), None);
        assert_eq!(s.lookup(&Dn::parse("OU=moved,OU=c,DC=x").unwrap()), Some(mid));
    }

    /// objectClass is posted under each entry's most specific classes only, and a look-up of a
    /// class finds the entries of every class below it, in id order, each once.
    #[test]
    fn object_class_postings_hold_the_most_specific_classes() {
        let mut s = Store::new();
        let root = add(&mut s, "DC=x", None);
        let with_classes = |s: &mut Store, cn: &str, classes: &[&str]| {
            let id = add(s, &format!("CN={cn},DC=x"), Some(root));
            let mut e = (**s.get(id).unwrap()).clone();
            e.set(
                "objectClass",
                classes.iter().map(|c| c.as_bytes().to_vec()).collect(),
            );
            s.update(e).unwrap();
            id
        };
        let chain = ["top", "person", "organizationalPerson", "user"];
        let alice = with_classes(&mut s, "alice", &chain);
        let host = with_classes(&mut s, "host", &[&chain[..], &["computer"]].concat());
        let posix = with_classes(&mut s, "bob", &[&chain[..], &["posixAccount"]].concat());
        let odd = with_classes(&mut s, "odd", &["top", "noSuchClass"]);
        let group = with_classes(&mut s, "g", &["top", "group"]);
        // One pair per most specific class: user; computer; user and posixAccount; top and
        // noSuchClass (no known class below top); group.
        assert_eq!(s.index[OBJECT_CLASS_SLOT].len(), 7);
        fn find_in(s: &Store, c: &str) -> Vec<EntryId> {
            s.find_eq("objectclass", c.as_bytes()).unwrap()
        }
        let find = |c: &str| find_in(&s, c);
        assert_eq!(find("user"), vec![alice, host, posix]);
        assert_eq!(find("PERSON"), vec![alice, host, posix]);
        assert_eq!(find("computer"), vec![host]);
        assert_eq!(find("posixAccount"), vec![posix]);
        assert_eq!(find("top"), vec![alice, host, posix, odd, group]);
        assert_eq!(find("nosuchclass"), vec![odd]);
        assert_eq!(find("msDS-GroupManagedServiceAccount"), Vec::<EntryId>::new());
        assert_eq!(
            s.find_eq_after("objectclass", b"top", Some(host), 2).unwrap(),
            vec![posix, odd]
        );
        // A value that is not the entry's (an ancestor it does not list) is no match.
        let thin = with_classes(&mut s, "thin", &["top", "user"]);
        let find = |c: &str| find_in(&s, c);
        assert_eq!(find("organizationalPerson"), vec![alice, host, posix]);
        assert_eq!(find("user"), vec![alice, host, posix, thin]);
        // Rewriting and removing an entry moves its pairs.
        let mut e = (**s.get(host).unwrap()).clone();
        e.set(
            "objectClass",
            chain.iter().map(|c| c.as_bytes().to_vec()).collect(),
        );
        s.update(e).unwrap();
        assert_eq!(find_in(&s, "computer"), Vec::<EntryId>::new());
        s.remove(posix).unwrap();
        assert_eq!(find_in(&s, "person"), vec![alice, host]);
        assert_eq!(s.index[OBJECT_CLASS_SLOT].len(), 6);
    }

    #[test]
    fn index_key_hashes_agree_with_the_keys() {
        for (attr, v) in [
            ("cn", &b"Alice"[..]),
            ("cn", "Ålice".as_bytes()),
            ("objectsid", &b"AB"[..]),
            (
                "objectsid",
                &[1, 4, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 2, 3, 4, 0x51, 4, 0, 0][..],
            ),
            ("objectguid", &[7; 16][..]),
            ("cn", &[b'X'; 300][..]),
            ("cn", &[0xff, b'A'][..]),
        ] {
            assert_eq!(
                index_key_hash(attr, v),
                posting_hash(attr, &index_key(attr, v)),
                "{attr} {v:?}"
            );
        }
    }

    /// SIDs of one domain are filed in RID order, so consecutive accounts sit side by side;
    /// another domain's SID with the same RID is filed elsewhere, and look-ups still find them.
    #[test]
    fn sids_are_filed_in_rid_order_within_their_domain() {
        let domain: crate::security::Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let other: crate::security::Sid = "S-1-5-21-4-5-6".parse().unwrap();
        let key = |sid: &crate::security::Sid| index_key_hash("objectsid", &sid.to_bytes());
        let (a, b) = (key(&domain.with_rid(1104)), key(&domain.with_rid(1105)));
        assert_eq!(b, a + 1);
        assert_ne!(key(&other.with_rid(1104)) >> 32, a >> 32);
        let mut store = Store::new();
        for (id, sid) in [
            (1, domain.with_rid(1104)),
            (2, other.with_rid(1104)),
            (3, domain.with_rid(1105)),
        ] {
            let mut e = Entry::new(EntryId(id), Dn::parse(&format!("CN=e{id},DC=x")).unwrap(), None);
            e.set("objectSid", vec![sid.to_bytes()]);
            store.index_entry(&e, true);
        }
        for (sid, id) in [
            (domain.with_rid(1104), 1),
            (other.with_rid(1104), 2),
            (domain.with_rid(1105), 3),
        ] {
            let pairs: Vec<_> =
                range_of(&store.index[index_slot("objectsid").unwrap()], key(&sid), None).collect();
            assert_eq!(pairs, [EntryId(id)]);
        }
    }

    /// A paged walk resumes after the last child or posting it returned.
    #[test]
    fn walks_resume_after_a_position() {
        let mut s = Store::new();
        let root = add(&mut s, "DC=x", None);
        let kids: Vec<EntryId> = (0..50)
            .map(|i| add(&mut s, &format!("CN=k{i},DC=x"), Some(root)))
            .collect();
        assert_eq!(s.children_after(root, None).collect::<Vec<_>>(), kids);
        assert_eq!(
            s.children_after(root, Some(kids[9])).collect::<Vec<_>>(),
            kids[10..]
        );
        assert_eq!(s.children_after(root, Some(kids[49])).count(), 0);
        assert_eq!(s.children_after(kids[0], None).count(), 0);

        for &k in &kids {
            let mut e = (**s.get(k).unwrap()).clone();
            e.set_str("objectClass", "user");
            s.update(e).unwrap();
        }
        let page = |after, n| s.find_eq_after("objectclass", b"USER", after, n).unwrap();
        assert_eq!(page(None, 5), kids[..5]);
        assert_eq!(page(Some(kids[4]), 5), kids[5..10]);
        assert_eq!(page(Some(kids[47]), 5), kids[48..]);
        assert_eq!(page(Some(kids[0]), 0), Vec::<EntryId>::new());
        assert_eq!(s.find_eq_after("cn", b"k3", None, 5).unwrap(), vec![kids[3]]);
        assert_eq!(
            s.find_eq_after("cn", b"k3", Some(kids[3]), 5).unwrap(),
            Vec::<EntryId>::new()
        );
        assert_eq!(
            s.find_eq_after("cn", b"none", None, 5).unwrap(),
            Vec::<EntryId>::new()
        );
        assert_eq!(s.find_eq_after("description", b"x", None, 5), None);
    }
}
