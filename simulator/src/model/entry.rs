//! A directory entry as stored: plain attributes by name, and linked attributes (member, …) as
//! entry ids, so that a rename never leaves a stale DN behind (AD stores links by DNT, MS-ADTS 3.1.1.1.6).
//!
//! Storage is compact and shared (issue 12): attribute names are interned `Arc<str>` (one copy
//! per distinct name in the process, however many entries carry it), identical
//! `nTSecurityDescriptor` values are stored once and shared by every entry that has them —
//! AD's single-instance SD table (MS-ADTS 3.1.1.2.x does not mandate the storage; Windows' ESE
//! keeps each distinct descriptor once in `sd_table`, referenced by id and refcounted) — and so
//! are other values that repeat ([`SHARED_BY_CONTENT`]). A stored entry keeps the rest of its
//! values packed in one buffer beside a shared [`Shape`] ([`AttrMap`]). Sharing is by content,
//! so snapshots (`Store::clone`) and later writes keep the refcounts right without any
//! bookkeeping.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
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

/// Slots of each per-thread memo in front of a process-wide table (names, shared attributes,
/// shapes): a power of two.
const RECENT_SLOTS: usize = 256;

/// A per-thread memo of the values a table handed out last. A bulk load writes the same names,
/// default values and shapes entry after entry: a hit costs a comparison instead of a keyed
/// hash (SipHash) and the table's mutex (issue 12, callgrind). Each hint maps to a set of two
/// slots, the more recently used first; a new value replaces the other one, so the memo stays
/// small whatever the input, and a miss costs what the table alone costs. The schema's
/// attribute look-ups use one too (`Schema::attribute_entry`).
pub(crate) struct Recent<T>(Vec<T>);

impl<T> Recent<T> {
    /// An empty memo; its slots are made on first use.
    pub(crate) const fn new() -> Recent<T> {
        Recent(Vec::new())
    }
}

impl<T: Default> Recent<T> {
    /// The slot of the set for `hint` (a hash or an address) that `is` accepts, moved to the
    /// front of its set, and true; else the set's front slot with the older value in it (for
    /// the caller to overwrite), and false. Sets are picked by Fibonacci hashing: the product's
    /// top bits depend on every bit of the hint.
    pub(crate) fn find(&mut self, hint: usize, is: impl Fn(&T) -> bool) -> (&mut T, bool) {
        if self.0.is_empty() {
            self.0.resize_with(RECENT_SLOTS, T::default);
        }
        let set_bits = (RECENT_SLOTS / 2).trailing_zeros();
        let first = 2 * ((hint as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - set_bits)) as usize;
        let found = is(&self.0[first]);
        if !found {
            self.0.swap(first, first + 1);
        }
        let found = found || is(&self.0[first]);
        (&mut self.0[first], found)
    }
}

/// A recently interned name and, once asked for, its lower-cased form (an attribute's key).
type RecentName = Option<(Name, Option<Name>)>;

impl Name {
    pub fn new(text: &str) -> Name {
        Name::recent(text, |slot| slot.0.clone())
    }

    /// `text` interned and its lower-cased form interned: an attribute's display name and its
    /// key, as [`Entry::set`] stores a new attribute.
    pub fn with_key(text: &str) -> (Name, Name) {
        Name::recent(text, |slot| {
            let key = slot
                .1
                .get_or_insert_with(|| match text.bytes().any(|b| b.is_ascii_uppercase()) {
                    true => Name::intern(&text.to_ascii_lowercase()),
                    false => slot.0.clone(),
                });
            (slot.0.clone(), key.clone())
        })
    }

    /// `read` of the memo slot for `text`, filled from the process-wide table first if it
    /// holds another name.
    fn recent<R>(text: &str, read: impl FnOnce(&mut (Name, Option<Name>)) -> R) -> R {
        thread_local! {
            static RECENT: std::cell::RefCell<Recent<RecentName>> =
                const { std::cell::RefCell::new(Recent(Vec::new())) };
        }
        let mut hasher = crate::schema::NameHasher::default();
        std::hash::Hasher::write(&mut hasher, text.as_bytes());
        let hint = std::hash::Hasher::finish(&hasher) as usize;
        RECENT.with_borrow_mut(|recent| {
            let (slot, found) = recent.find(hint, |slot| {
                slot.as_ref().is_some_and(|(name, _)| name.as_str() == text)
            });
            if !found {
                *slot = Some((Name::intern(text), None));
            }
            read(slot.as_mut().expect("filled above"))
        })
    }

    /// `text` from the process-wide table of names (one copy per distinct name).
    fn intern(text: &str) -> Name {
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

impl Attr {
    /// The attribute as the borrowed view reads give.
    pub fn view(&self) -> AttrRef<'_> {
        AttrRef {
            name: &self.name,
            values: Values(ValuesRepr::List(&self.values)),
        }
    }
}

impl Attr {
    /// True when `attr`'s values passed the schema's checks of values on this thread before
    /// ([`Attr::remember_checked`]): a per-thread memo of the attributes last checked, held
    /// weakly (a held allocation is never another attribute's), so a default every entry of a
    /// bulk load shares is checked once rather than per entry (issue 12). An attribute held in
    /// an `Arc` never changes.
    pub fn values_checked(attr: &Arc<Attr>) -> bool {
        CHECKED.with_borrow_mut(|memo| {
            memo.find(Arc::as_ptr(attr) as usize, |w| w.as_ptr() == Arc::as_ptr(attr))
                .1
        })
    }

    /// Notes that `attr`'s values passed the schema's checks of values.
    pub fn remember_checked(attr: &Arc<Attr>) {
        CHECKED.with_borrow_mut(|memo| {
            let (slot, found) = memo.find(Arc::as_ptr(attr) as usize, |w| w.as_ptr() == Arc::as_ptr(attr));
            if !found {
                *slot = Arc::downgrade(attr);
            }
        })
    }
}

thread_local! {
    /// [`Attr::values_checked`]'s memo.
    static CHECKED: std::cell::RefCell<Recent<Weak<Attr>>> =
        const { std::cell::RefCell::new(Recent(Vec::new())) };
}

impl fmt::Debug for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (unicodePwd, msKds-RootKeyData): print only their count.
        write!(f, "{}({} values)", self.name, self.values.len())
    }
}

/// A single-instance table: the live shared copy of each distinct value, by a hash of its
/// content. Holders keep strong references, the table only weak ones, so a value nobody (no
/// entry, no snapshot) uses any more is freed, and its slot pruned once the table has doubled
/// since the last prune. Serves AD's SD table (descriptors and [`SHARED_BY_CONTENT`]'s
/// attributes) and the table of entry shapes ([`Shape`]).
struct Interner<T> {
    by_hash: HashMap<u64, Vec<Weak<T>>>,
    slots: usize,
    prune_at: usize,
}

impl<T: PartialEq> Interner<T> {
    fn new() -> Mutex<Interner<T>> {
        Mutex::new(Interner {
            by_hash: HashMap::new(),
            slots: 0,
            prune_at: 1024,
        })
    }

    /// The shared copy of `value` (whose content hashes to `hash`), made if there is none.
    fn share(table: &Mutex<Interner<T>>, hash: u64, value: T) -> Arc<T> {
        let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = t
            .by_hash
            .get(&hash)
            .into_iter()
            .flatten()
            .filter_map(Weak::upgrade)
            .find(|a| **a == value)
        {
            return found;
        }
        let shared = Arc::new(value);
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

    /// [`Interner::share`] behind the thread's memo `recent` (slot `hint`): the value the memo
    /// last held there when it is still alive and equal to `value`, else the table's copy, whose
    /// content `hash` hashes only then.
    fn share_recent(
        table: &Mutex<Interner<T>>,
        recent: &'static std::thread::LocalKey<std::cell::RefCell<Recent<Weak<T>>>>,
        hint: usize,
        value: impl Candidate<T>,
        hash: impl FnOnce(&T) -> u64,
    ) -> Arc<T> {
        recent.with_borrow_mut(|recent| {
            let (slot, found) = recent.find(hint, |slot| slot.upgrade().is_some_and(|v| value.is(&v)));
            if let Some(found) = slot.upgrade().filter(|_| found) {
                return found;
            }
            let value = value.make();
            let shared = Interner::share(table, hash(&value), value);
            *slot = Arc::downgrade(&shared);
            shared
        })
    }
}

/// A value to share as it is given: compared with the memo's values as it is, made into the
/// stored form only on a miss (a single value [`Entry::set_str`] writes is copied then).
trait Candidate<T> {
    fn is(&self, stored: &T) -> bool;
    fn make(self) -> T;
}

impl<T: PartialEq> Candidate<T> for T {
    fn is(&self, stored: &T) -> bool {
        self == stored
    }
    fn make(self) -> T {
        self
    }
}

/// An attribute with one value, still borrowed.
struct OneValue<'a> {
    name: Name,
    value: &'a [u8],
}

impl Candidate<Attr> for OneValue<'_> {
    fn is(&self, stored: &Attr) -> bool {
        stored.name == self.name && stored.values.len() == 1 && stored.values[0] == self.value
    }
    fn make(self) -> Attr {
        Attr {
            name: self.name,
            values: vec![self.value.to_vec()],
        }
    }
}

/// The process's random hash keys: clients choose some of the hashed values, and must not be
/// able to pile them into one bucket.
fn content_hash(value: impl std::hash::Hash) -> u64 {
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEYS.get_or_init(Default::default).hash_one(value)
}

/// The shared copy of `attr` (stored under `key`); the thread's memo holds the last one per
/// key, so entries built alike find their defaults without hashing them.
fn share_by_content(key: &Name, attr: impl Candidate<Attr>) -> Arc<Attr> {
    static TABLE: OnceLock<Mutex<Interner<Attr>>> = OnceLock::new();
    thread_local! {
        static RECENT: std::cell::RefCell<Recent<Weak<Attr>>> =
            const { std::cell::RefCell::new(Recent(Vec::new())) };
    }
    let hint = key.0.as_ptr() as usize;
    Interner::share_recent(TABLE.get_or_init(Interner::new), &RECENT, hint, attr, |a| {
        content_hash((&a.name, &a.values))
    })
}

/// Attributes whose values repeat across entries (lower-cased names): the class chain, the
/// SAM defaults every account gets (MS-SAMR 3.1.1.8: `accountExpires`, `codePage`, … start at
/// the same values; the counters of [`SHARED_WHEN_ZERO`] too, while 0), flags, and timestamps
/// of one second. Stored once
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

/// The SAM's per-account counters and logon times: their default (`0`, MS-SAMR 3.1.1.8) repeats
/// across accounts, a value set later (a password set, a logon) is the account's own.
const SHARED_WHEN_ZERO: &[&str] = &[
    "pwdlastset",
    "badpwdcount",
    "badpasswordtime",
    "lastlogon",
    "lastlogoff",
    "logoncount",
    "lockouttime",
];

/// True when the attribute `key` (lower-cased) with its values (the single value `0` or not) is
/// stored once per distinct value and shared ([`SHARED_BY_CONTENT`]): a value unique to the
/// entry would only make the entry's [`Shape`] unique too.
fn shared_by_content(key: &str, values_are_zero: bool) -> bool {
    SHARED_BY_CONTENT.contains(&key) || (values_are_zero && SHARED_WHEN_ZERO.contains(&key))
}

/// True when `values` is the single value `0` (a counter's default, [`SHARED_WHEN_ZERO`]).
fn is_zero(values: &[Vec<u8>]) -> bool {
    values == [b"0"]
}

/// The attribute as held while an entry is built: descriptors and the values
/// [`shared_by_content`] through the single-instance table, others as they are.
fn stored(key: &Name, attr: Attr) -> Arc<Attr> {
    if shared_by_content(key, is_zero(&attr.values)) {
        share_by_content(key, attr)
    } else {
        Arc::new(attr)
    }
}

/// [`stored`] of the attribute `name` with the one value `value`, copied only when no shared
/// copy has it.
fn stored_one(key: &Name, name: Name, value: &[u8]) -> Arc<Attr> {
    let one = OneValue { name, value };
    if shared_by_content(key, value == b"0") {
        share_by_content(key, one)
    } else {
        Arc::new(one.make())
    }
}

/// The bytes [`put_varint`] writes for `n`.
fn varint_len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `n` as an unsigned LEB128 varint: the packed values here, and the compact snapshot
/// file's body (`snapshot::compact`).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A varint at the start of `bytes` and what follows it. Only this module writes the bytes
/// read here, so they are well formed.
fn take_varint(bytes: &[u8]) -> (usize, &[u8]) {
    let (mut n, mut shift) = (0usize, 0);
    for (i, b) in bytes.iter().enumerate() {
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (n, &bytes[i + 1..]);
        }
        shift += 7;
    }
    (n, &[])
}

/// The first own attribute packed in `own` (its length, its count, its values) and the bytes
/// after it.
fn take_own(own: &[u8]) -> (Values<'_>, &[u8]) {
    let (len, r) = take_varint(own);
    let (body, rest) = r.split_at(len.min(r.len()));
    let (count, bytes) = take_varint(body);
    (Values(ValuesRepr::Packed { count, bytes }), rest)
}

/// An attribute's values, borrowed from an entry: a stored list, or the entry's packed bytes.
#[derive(Clone, Copy)]
pub struct Values<'a>(ValuesRepr<'a>);

#[derive(Clone, Copy)]
enum ValuesRepr<'a> {
    List(&'a [Vec<u8>]),
    /// `count` values, each a varint length and its bytes.
    Packed {
        count: usize,
        bytes: &'a [u8],
    },
}

impl<'a> Values<'a> {
    pub const EMPTY: Values<'static> = Values(ValuesRepr::List(&[]));

    pub fn len(self) -> usize {
        match self.0 {
            ValuesRepr::List(l) => l.len(),
            ValuesRepr::Packed { count, .. } => count,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn iter(self) -> ValuesIter<'a> {
        ValuesIter(self.0)
    }

    pub fn first(self) -> Option<&'a [u8]> {
        self.iter().next()
    }

    pub fn last(self) -> Option<&'a [u8]> {
        self.iter().last()
    }

    pub fn get(self, i: usize) -> Option<&'a [u8]> {
        self.iter().nth(i)
    }

    pub fn contains(self, value: &[u8]) -> bool {
        self.iter().any(|v| v == value)
    }

    pub fn to_vec(self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }
}

/// The values of a [`Values`] in order.
pub struct ValuesIter<'a>(ValuesRepr<'a>);

impl<'a> Iterator for ValuesIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        match &mut self.0 {
            ValuesRepr::List(l) => {
                let (first, rest) = l.split_first()?;
                *l = rest;
                Some(first)
            }
            ValuesRepr::Packed { count, bytes } => {
                if *count == 0 {
                    return None;
                }
                *count -= 1;
                let (len, rest) = take_varint(bytes);
                let (v, rest) = rest.split_at(len.min(rest.len()));
                *bytes = rest;
                Some(v)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = Values(self.0).len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for ValuesIter<'_> {}

impl<'a> IntoIterator for Values<'a> {
    type Item = &'a [u8];
    type IntoIter = ValuesIter<'a>;
    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

impl<'a> From<&'a [Vec<u8>]> for Values<'a> {
    fn from(list: &'a [Vec<u8>]) -> Values<'a> {
        Values(ValuesRepr::List(list))
    }
}

impl<'a> IntoIterator for &Values<'a> {
    type Item = &'a [u8];
    type IntoIter = ValuesIter<'a>;
    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

impl PartialEq for Values<'_> {
    fn eq(&self, other: &Values<'_>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl PartialEq<Vec<Vec<u8>>> for Values<'_> {
    fn eq(&self, other: &Vec<Vec<u8>>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().map(Vec::as_slice))
    }
}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (unicodePwd, msKds-RootKeyData): print only their count.
        write!(f, "{} values", self.len())
    }
}

/// One attribute of an entry, borrowed: its name as first written and its values.
#[derive(Clone, Copy, Debug)]
pub struct AttrRef<'a> {
    pub name: &'a Name,
    pub values: Values<'a>,
}

impl AttrRef<'_> {
    pub fn to_attr(self) -> Attr {
        Attr {
            name: self.name.clone(),
            values: self.values.to_vec(),
        }
    }
}

/// What a stored entry's attribute map is made of, bar the values of its own: for each
/// attribute (sorted by lower-cased name), its key and either a value shared with other
/// entries (a descriptor, the class chain, a SAM default, a timestamp) or the display name of a
/// value the entry holds itself, packed. Entries built alike (every user of a bulk load) have
/// the same shape, so it is stored once and shared ([`Interner`]), like the values in it.
#[derive(PartialEq)]
struct Shape {
    slots: Box<[Slot]>,
}

struct Slot {
    key: Name,
    kind: Kind,
}

enum Kind {
    Shared(Arc<Attr>),
    Own(Name),
}

impl PartialEq for Slot {
    fn eq(&self, other: &Slot) -> bool {
        self.key == other.key
            && match (&self.kind, &other.kind) {
                (Kind::Shared(a), Kind::Shared(b)) => Arc::ptr_eq(a, b),
                (Kind::Own(a), Kind::Own(b)) => a.as_str() == b.as_str(),
                _ => false,
            }
    }
}

impl std::hash::Hash for Slot {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key.as_str().hash(h);
        match &self.kind {
            Kind::Shared(a) => (Arc::as_ptr(a) as usize).hash(h),
            Kind::Own(n) => n.as_str().hash(h),
        }
    }
}

impl Shape {
    /// The shared shape with these slots; the thread's memo holds the last one per number of
    /// slots, so the entries of a bulk load find theirs without hashing it.
    fn share(slots: Vec<Slot>) -> Arc<Shape> {
        static TABLE: OnceLock<Mutex<Interner<Shape>>> = OnceLock::new();
        thread_local! {
            static RECENT: std::cell::RefCell<Recent<Weak<Shape>>> =
                const { std::cell::RefCell::new(Recent(Vec::new())) };
        }
        let shape = Shape {
            slots: slots.into_boxed_slice(),
        };
        let hint = shape.slots.len();
        Interner::share_recent(TABLE.get_or_init(Interner::new), &RECENT, hint, shape, |s| {
            content_hash(&s.slots)
        })
    }
}

/// An entry's attributes keyed by the lower-cased name. Two forms:
/// - open, while an entry is built or written: a vector of (key, attribute) sorted by key;
/// - sealed, as the store keeps it (issue 12): a shared [`Shape`] and one buffer with the
///   values of the entry's own attributes packed (per attribute a varint length, a varint
///   count, then each value as a varint length and its bytes). A user is then two heap blocks
///   instead of ~25 attributes with three each.
///
/// Reads work on both; a write opens a sealed map first ([`Store`](crate::store::Store) seals
/// what it stores).
#[derive(Clone)]
pub struct AttrMap(MapRepr);

#[derive(Clone)]
enum MapRepr {
    Open(Vec<(Name, Arc<Attr>)>),
    Sealed(Arc<Shape>, Box<[u8]>),
}

impl Default for AttrMap {
    fn default() -> AttrMap {
        AttrMap(MapRepr::Open(Vec::new()))
    }
}

/// A stored key (lower-cased) against an attribute name in any case, lower-cased on the fly:
/// the keys' order, without a lower-cased copy of the name.
fn cmp_key(key: &str, name: &str) -> std::cmp::Ordering {
    let (key, name) = (key.as_bytes(), name.as_bytes());
    for (k, n) in key.iter().zip(name) {
        let n = n.to_ascii_lowercase();
        if *k != n {
            return k.cmp(&n);
        }
    }
    key.len().cmp(&name.len())
}

impl AttrMap {
    fn find_open(v: &[(Name, Arc<Attr>)], name: &str) -> Result<usize, usize> {
        v.binary_search_by(|(k, _)| cmp_key(k, name))
    }

    fn find_sealed(shape: &Shape, name: &str) -> Option<usize> {
        shape.slots.binary_search_by(|s| cmp_key(&s.key, name)).ok()
    }

    /// The attribute `name` (in any case).
    pub fn get(&self, name: &str) -> Option<AttrRef<'_>> {
        match &self.0 {
            MapRepr::Open(v) => Self::find_open(v, name).ok().map(|i| v[i].1.view()),
            MapRepr::Sealed(shape, own) => {
                let i = Self::find_sealed(shape, name)?;
                Some(Self::sealed_ref(shape, own, i))
            }
        }
    }

    /// The sealed map's `i`-th attribute: the values of an own attribute are found by skipping
    /// the own attributes before it (each starts with its length).
    fn sealed_ref<'a>(shape: &'a Shape, own: &'a [u8], i: usize) -> AttrRef<'a> {
        match &shape.slots[i].kind {
            Kind::Shared(a) => a.view(),
            Kind::Own(name) => {
                let before = shape.slots[..i]
                    .iter()
                    .filter(|s| matches!(s.kind, Kind::Own(_)))
                    .count();
                let mut rest = own;
                for _ in 0..before {
                    rest = take_own(rest).1;
                }
                AttrRef {
                    name,
                    values: take_own(rest).0,
                }
            }
        }
    }

    /// The attribute as an `Arc` when it is one (open maps; shared values of sealed ones), to
    /// share it with another entry or compare by pointer.
    pub fn get_shared(&self, name: &str) -> Option<&Arc<Attr>> {
        match &self.0 {
            MapRepr::Open(v) => Self::find_open(v, name).ok().map(|i| &v[i].1),
            MapRepr::Sealed(shape, _) => match &shape.slots[Self::find_sealed(shape, name)?].kind {
                Kind::Shared(a) => Some(a),
                Kind::Own(_) => None,
            },
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        match &self.0 {
            MapRepr::Open(v) => Self::find_open(v, name).is_ok(),
            MapRepr::Sealed(shape, _) => Self::find_sealed(shape, name).is_some(),
        }
    }

    /// The open vector, made from the sealed form first if need be.
    fn open(&mut self) -> &mut Vec<(Name, Arc<Attr>)> {
        if let MapRepr::Sealed(shape, _) = &self.0 {
            let v = shape
                .slots
                .iter()
                .zip(self.iter())
                .map(|(slot, (key, a))| {
                    let arc = match &slot.kind {
                        Kind::Shared(shared) => shared.clone(),
                        Kind::Own(_) => Arc::new(a.to_attr()),
                    };
                    (key.clone(), arc)
                })
                .collect();
            self.0 = MapRepr::Open(v);
        }
        match &mut self.0 {
            MapRepr::Open(v) => v,
            MapRepr::Sealed(..) => unreachable!("opened above"),
        }
    }

    /// Sets the attribute `name` (in any case) to what `make` makes of its key and display
    /// name: one the map has keeps both, a new one is named `name`.
    fn set_with(&mut self, name: &str, make: impl FnOnce(&Name, Name) -> Arc<Attr>) {
        let v = self.open();
        match Self::find_open(v, name) {
            Ok(i) => {
                let (key, attr) = &mut v[i];
                let display = attr.name.clone();
                *attr = make(key, display);
            }
            Err(i) => {
                let (display, key) = Name::with_key(name);
                let attr = make(&key, display);
                v.insert(i, (key, attr));
            }
        }
    }

    /// Sets `key` to `attr`.
    pub fn insert(&mut self, key: Name, attr: Arc<Attr>) {
        let v = self.open();
        match Self::find_open(v, &key) {
            Ok(i) => v[i].1 = attr,
            Err(i) => v.insert(i, (key, attr)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Attr> {
        let v = self.open();
        let i = Self::find_open(v, name).ok()?;
        let (_, a) = v.remove(i);
        Some(Arc::try_unwrap(a).unwrap_or_else(|a| (*a).clone()))
    }

    /// Puts the map in its sealed form (what the store keeps); a sealed map stays as it is.
    pub fn seal(&mut self) {
        let MapRepr::Open(v) = &mut self.0 else {
            return;
        };
        // Each own attribute is its body's length, then the body: the number of values, then
        // each value's length and bytes. Sized first, so the buffer is allocated once, exactly.
        let body_len = |values: &[Vec<u8>]| {
            values.iter().fold(varint_len(values.len() as u64), |n, v| {
                n + varint_len(v.len() as u64) + v.len()
            })
        };
        let is_own = |key: &Name, attr: &Attr| !shared_by_content(key, is_zero(&attr.values));
        let size = v
            .iter()
            .filter(|(key, attr)| is_own(key, attr))
            .map(|(_, attr)| body_len(&attr.values))
            .fold(0, |n, body| n + varint_len(body as u64) + body);
        let mut own = Vec::with_capacity(size);
        let slots = std::mem::take(v)
            .into_iter()
            .map(|(key, attr)| {
                let kind = if is_own(&key, &attr) {
                    put_varint(&mut own, body_len(&attr.values) as u64);
                    put_varint(&mut own, attr.values.len() as u64);
                    for value in &attr.values {
                        put_varint(&mut own, value.len() as u64);
                        own.extend_from_slice(value);
                    }
                    Kind::Own(attr.name.clone())
                } else {
                    Kind::Shared(attr)
                };
                Slot { key, kind }
            })
            .collect();
        debug_assert_eq!(own.len(), size, "seal: the own values' size");
        self.0 = MapRepr::Sealed(Shape::share(slots), own.into_boxed_slice());
    }

    /// Heap bytes of the sealed form: the packed own values, and the shape's slots with the
    /// number of maps sharing that shape (for the scale bench's breakdown).
    pub fn sealed_footprint(&self) -> Option<(usize, usize, usize)> {
        match &self.0 {
            MapRepr::Sealed(shape, own) => Some((
                own.len(),
                shape.slots.len() * std::mem::size_of::<Slot>(),
                Arc::strong_count(shape),
            )),
            MapRepr::Open(_) => None,
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            MapRepr::Open(v) => v.len(),
            MapRepr::Sealed(shape, _) => shape.slots.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (lower-cased name, attribute) pairs in name order.
    pub fn iter(&self) -> AttrIter<'_> {
        AttrIter {
            map: self,
            next: 0,
            own: match &self.0 {
                MapRepr::Sealed(_, own) => own,
                MapRepr::Open(_) => &[],
            },
        }
    }

    /// Each attribute with the `Arc` it is held in, when it is one (every attribute of an open
    /// map; the shared ones of a sealed map), in key order.
    pub fn iter_arcs(&self) -> impl Iterator<Item = (AttrRef<'_>, Option<&Arc<Attr>>)> {
        let open = match &self.0 {
            MapRepr::Open(v) => v.as_slice(),
            MapRepr::Sealed(..) => &[],
        };
        let shape = match &self.0 {
            MapRepr::Sealed(shape, _) => &shape.slots[..],
            MapRepr::Open(_) => &[],
        };
        self.iter().enumerate().map(move |(i, (_, a))| {
            let arc = match open.get(i) {
                Some((_, arc)) => Some(arc),
                None => shape.get(i).and_then(|slot| match &slot.kind {
                    Kind::Shared(shared) => Some(shared),
                    Kind::Own(_) => None,
                }),
            };
            (a, arc)
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &Name> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = AttrRef<'_>> {
        self.iter().map(|(_, a)| a)
    }
}

/// [`AttrMap::iter`]: walks a sealed map's own values once, in step with its shape.
pub struct AttrIter<'a> {
    map: &'a AttrMap,
    next: usize,
    own: &'a [u8],
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = (&'a Name, AttrRef<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        self.next += 1;
        match &self.map.0 {
            MapRepr::Open(v) => v.get(i).map(|(k, a)| (k, a.view())),
            MapRepr::Sealed(shape, _) => {
                let slot = shape.slots.get(i)?;
                let attr = match &slot.kind {
                    Kind::Shared(a) => a.view(),
                    Kind::Own(name) => {
                        let (values, rest) = take_own(self.own);
                        self.own = rest;
                        AttrRef { name, values }
                    }
                };
                Some((&slot.key, attr))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.map.len() - self.next.min(self.map.len());
        (n, Some(n))
    }
}

impl ExactSizeIterator for AttrIter<'_> {}

impl<'a> IntoIterator for &'a AttrMap {
    type Item = (&'a Name, AttrRef<'a>);
    type IntoIter = AttrIter<'a>;
    fn into_iter(self) -> AttrIter<'a> {
        self.iter()
    }
}

impl PartialEq for AttrMap {
    fn eq(&self, other: &AttrMap) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((k1, a), (k2, b))| k1 == k2 && a.name == b.name && a.values == b.values)
    }
}

impl Eq for AttrMap {}

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

    pub fn get(&self, name: &str) -> Option<AttrRef<'_>> {
        self.attrs.get(name)
    }

    /// The shared attribute itself (to compare by pointer, or share it with another entry);
    /// `None` for a value a stored entry holds itself.
    pub fn get_shared(&self, name: &str) -> Option<&Arc<Attr>> {
        self.attrs.get_shared(name)
    }

    pub fn values(&self, name: &str) -> Values<'_> {
        self.get(name).map(|a| a.values).unwrap_or(Values::EMPTY)
    }

    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first()
    }

    pub fn first_str(&self, name: &str) -> Option<&str> {
        self.first(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn first_i64(&self, name: &str) -> Option<i64> {
        self.first_str(name).and_then(|s| s.trim().parse().ok())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attrs.contains_key(name)
    }

    /// Replaces every value of `name` (removes the attribute when `values` is empty).
    pub fn set(&mut self, name: &str, values: Vec<Vec<u8>>) {
        if values.is_empty() {
            self.attrs.remove(name);
        } else {
            self.attrs.set_with(name, |key, display| {
                stored(
                    key,
                    Attr {
                        name: display,
                        values,
                    },
                )
            });
        }
    }

    /// Inserts an attribute as read back from storage (a snapshot): its display name as saved.
    pub fn insert_attr(&mut self, attr: Attr) {
        let key = Name::with_key(&attr.name).1;
        let attr = stored(&key, attr);
        self.attrs.insert(key, attr);
    }

    pub fn set_str(&mut self, name: &str, value: impl AsRef<str>) {
        let value = value.as_ref().as_bytes();
        self.attrs
            .set_with(name, |key, display| stored_one(key, display, value));
    }

    pub fn remove(&mut self, name: &str) -> Option<Attr> {
        self.attrs.remove(name)
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

    #[test]
    fn varint_len_is_what_put_varint_writes() {
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX >> 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            assert_eq!(varint_len(n), out.len(), "{n}");
        }
    }

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

        let mut changed = sd.clone();
        changed[4] = 7;
        c.set("nTSecurityDescriptor", vec![changed]);
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

    /// A sealed map reads as the open one did; entries built alike share one shape; a write
    /// opens the map again, and sealing it anew keeps what was not written.
    #[test]
    fn sealed_maps_pack_own_values_and_share_shapes() {
        let build = |n: u64, sam: &str| {
            let mut e = entry(n);
            e.set("objectClass", vec![b"top".to_vec(), b"user".to_vec()]);
            e.set_str("sAMAccountName", sam);
            e.set("otherTelephone", vec![b"1".to_vec(), vec![], vec![0x80; 300]]);
            e.set("nTSecurityDescriptor", vec![vec![1, 0, 4, 0x80]]);
            e
        };
        let (mut a, mut b) = (build(1, "alice"), build(2, "bob"));
        let open = a.attrs.clone();
        a.attrs.seal();
        b.attrs.seal();
        assert_eq!(a.attrs, open);
        assert!(open.sealed_footprint().is_none());
        let (own, shape, holders) = a.attrs.sealed_footprint().unwrap();
        assert!(own < 350 && shape > 0 && holders >= 2, "{own} {shape} {holders}");
        assert_eq!(a.first_str("samaccountname"), Some("alice"));
        assert_eq!(b.first_str("sAMAccountName"), Some("bob"));
        assert_eq!(
            a.values("otherTelephone"),
            vec![b"1".to_vec(), vec![], vec![0x80; 300]]
        );
        assert_eq!(a.values("objectClass").last(), Some(&b"user"[..]));
        assert_eq!(a.get("OTHERTELEPHONE").unwrap().name.as_str(), "otherTelephone");
        assert!(a.get_shared("sAMAccountName").is_none());
        assert!(Arc::ptr_eq(
            a.get_shared("nTSecurityDescriptor").unwrap(),
            b.get_shared("nTSecurityDescriptor").unwrap()
        ));
        let names: Vec<&str> = a.attrs.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "ntsecuritydescriptor",
                "objectclass",
                "othertelephone",
                "samaccountname"
            ]
        );

        // A counter set for one account is its own value: the shape stays the shared one.
        let mut c = build(3, "carol");
        c.set_str("pwdLastSet", "134000000000000000");
        let mut d = build(4, "dave");
        d.set_str("pwdLastSet", "134000000000000001");
        c.attrs.seal();
        d.attrs.seal();
        assert_eq!(c.attrs.sealed_footprint().unwrap().2, 2, "c and d share a shape");
        assert!(c.get_shared("pwdLastSet").is_none());
        assert_eq!(d.first_str("pwdlastset"), Some("134000000000000001"));
        d.set_str("pwdLastSet", "0");
        d.attrs.seal();
        assert!(d.get_shared("pwdLastSet").is_some());

        a.set_str("description", "written");
        assert!(a.attrs.sealed_footprint().is_none());
        assert_eq!(a.first_str("sAMAccountName"), Some("alice"));
        a.attrs.seal();
        assert_eq!(a.first_str("description"), Some("written"));
        assert_eq!(a.values("otherTelephone").len(), 3);
        assert_eq!(a.remove("otherTelephone").unwrap().values.len(), 3);
        assert!(!a.has("otherTelephone") && a.has("objectClass"));
    }
}
