//! A directory entry as stored: plain attributes by name, and linked attributes (member, …) as
//! entry ids, so that a rename never leaves a stale DN behind (AD stores links by DNT, MS-ADTS 3.1.1.1.6).

use std::collections::BTreeMap;
use std::fmt;

use super::dn::Dn;

/// Internal, never-reused identity of an entry (AD's DNT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(pub u64);

/// One attribute: its name as first written, and its values in insertion order.
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub values: Vec<Vec<u8>>,
}

impl fmt::Debug for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets (unicodePwd, msKds-RootKeyData): print only their count.
        write!(f, "{}({} values)", self.name, self.values.len())
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: EntryId,
    pub dn: Dn,
    pub parent: Option<EntryId>,
    /// Keyed by the lower-cased attribute name.
    pub attrs: BTreeMap<String, Attr>,
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
            attrs: BTreeMap::new(),
            links: BTreeMap::new(),
            secrets: None,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.attrs.get(&name.to_ascii_lowercase())
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
        self.attrs.contains_key(&name.to_ascii_lowercase())
    }

    /// Replaces every value of `name` (removes the attribute when `values` is empty).
    pub fn set(&mut self, name: &str, values: Vec<Vec<u8>>) {
        let key = name.to_ascii_lowercase();
        if values.is_empty() {
            self.attrs.remove(&key);
        } else {
            let display = self
                .attrs
                .get(&key)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| name.to_string());
            self.attrs.insert(
                key,
                Attr {
                    name: display,
                    values,
                },
            );
        }
    }

    pub fn set_str(&mut self, name: &str, value: impl AsRef<str>) {
        self.set(name, vec![value.as_ref().as_bytes().to_vec()]);
    }

    pub fn remove(&mut self, name: &str) -> Option<Attr> {
        self.attrs.remove(&name.to_ascii_lowercase())
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
