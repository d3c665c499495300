//! Schema constraints on the entry an add or modify would produce (MS-ADTS 3.1.1.5.1.1 "Enforce
//! Schema Constraints", plus the objectClass rules of 3.1.1.5.2.2). The order follows Windows: the
//! LDAP front end first converts names and values (unknown names, syntax), then the DSA checks
//! classes, mustContain/mayContain, single-valuedness and ranges.

use std::sync::Arc;

use super::syntax::Syntax;
use super::types::{AttributeType, ClassKind, ObjectClass};
use super::violation::SchemaViolation;
use super::Schema;
use crate::model::entry::Recent;
use crate::model::Values;

impl Schema {
    /// Checks a complete entry: its objectClass values and every attribute with its values.
    /// Attribute names may carry options (`;binary`); they are ignored. The directory layer calls
    /// this after adding the values the DSA itself supplies (objectSid, instanceType, …), since
    /// AD checks the object as it will be stored.
    pub fn check_entry<'a, N>(
        &self,
        object_classes: &[N],
        attrs: impl IntoIterator<Item = (&'a str, Values<'a>)>,
    ) -> Result<(), SchemaViolation>
    where
        N: AsRef<str>,
    {
        self.check_entry_memo(object_classes, attrs.into_iter().map(|(n, v)| (n, v, false)))
    }

    /// [`Schema::check_entry`] where an attribute may come marked as having passed the checks
    /// of its values alone (syntax, single value, range, distinct values) in an earlier check:
    /// those depend on nothing but the attribute and its values, so they are skipped for it
    /// (the directory's memo of shared attributes, `Attr::values_checked`; issue 12). Every
    /// check of the entry as a whole still applies to it.
    pub fn check_entry_memo<'a, N>(
        &self,
        object_classes: &[N],
        attrs: impl IntoIterator<Item = (&'a str, Values<'a>, bool)>,
    ) -> Result<(), SchemaViolation>
    where
        N: AsRef<str>,
    {
        // LDAP conversion: names, then values.
        let classes = self.resolve_classes(object_classes)?;
        let attrs = attrs.into_iter();
        let mut present: Vec<(usize, &AttributeType, Values<'a>, bool)> =
            Vec::with_capacity(attrs.size_hint().0);
        for (name, values, checked) in attrs {
            let (i, attr) = self
                .attribute_entry(name)
                .ok_or_else(SchemaViolation::no_such_attribute)?;
            if values.is_empty() {
                return Err(SchemaViolation::no_values());
            }
            if !checked && values.iter().any(|v| attr.syntax.validate(v).is_err()) {
                return Err(SchemaViolation::invalid_syntax());
            }
            if present.iter().any(|(seen, ..)| *seen == i) {
                return Err(SchemaViolation::attribute_exists(attr));
            }
            present.push((i, attr, values, checked));
        }

        // Classes: one structural chain, plus auxiliary classes.
        if classes.is_empty() {
            return Err(SchemaViolation::object_class_required());
        }
        let set = self.class_set(&classes);
        if !set.valid {
            // Not a valid combination: the same walk again, for its error.
            self.effective_classes(&classes)?;
        }

        // mustContain / mayContain over the structural chain and every auxiliary class.
        for must in &set.must {
            let found = must.is_some_and(|m| present.iter().any(|(i, ..)| *i == m));
            if !found {
                let attr = must
                    .map(|m| &self.attributes[m])
                    .ok_or_else(SchemaViolation::no_such_attribute)?;
                return Err(SchemaViolation::missing_required(attr));
            }
        }
        for (i, attr, ..) in &present {
            if !set.allows(*i) {
                return Err(SchemaViolation::not_allowed(attr));
            }
        }

        // Value constraints.
        for (_, attr, values, _) in present.iter().filter(|(.., checked)| !checked) {
            if attr.single_valued && values.len() > 1 {
                return Err(SchemaViolation::single_valued(attr));
            }
            // Each value normalised once (objectClass's five values were normalised 14 times).
            let mut earlier: Vec<Vec<u8>> = Vec::new();
            for value in values.iter() {
                if !in_range(attr, value) {
                    return Err(SchemaViolation::range(attr));
                }
                if values.len() == 1 {
                    continue;
                }
                let normalized = self.normalize_value(attr, value);
                if earlier.contains(&normalized) {
                    return Err(SchemaViolation::value_exists(attr));
                }
                earlier.push(normalized);
            }
        }
        Ok(())
    }

    /// Extra rule for classes a client names in an add (MS-ADTS 3.1.1.5.2.2): a systemOnly class
    /// (configuration, dMD, rIDManager, …) can only be instantiated by the system itself.
    pub fn check_client_add_classes<N: AsRef<str>>(
        &self,
        object_classes: &[N],
    ) -> Result<(), SchemaViolation> {
        for class in self.resolve_classes(object_classes)? {
            if class.system_only && class.kind.is_concrete() {
                return Err(SchemaViolation::cant_add_system_only());
            }
        }
        Ok(())
    }

    fn resolve_classes<N: AsRef<str>>(
        &self,
        names: &[N],
    ) -> Result<Vec<&'static ObjectClass>, SchemaViolation> {
        names
            .iter()
            .map(|n| self.class(n.as_ref()).ok_or_else(SchemaViolation::unknown_class))
            .collect()
    }

    /// The classes whose must/may apply to an object with these objectClass values: the chain of
    /// its most specific structural class, plus each auxiliary class (given, or attached to a class
    /// of the chain) with its own superclasses.
    pub(super) fn effective_classes(
        &self,
        given: &[&'static ObjectClass],
    ) -> Result<Vec<&'static ObjectClass>, SchemaViolation> {
        let concrete: Vec<&ObjectClass> = given.iter().copied().filter(|c| c.kind.is_concrete()).collect();
        let Some(most_specific) = concrete.iter().copied().find(|candidate| {
            let chain = self.chain(candidate.name);
            concrete
                .iter()
                .all(|c| chain.iter().any(|link| link.name == c.name))
        }) else {
            return Err(if concrete.is_empty() {
                SchemaViolation::class_must_be_concrete()
            } else {
                SchemaViolation::class_not_subclass()
            });
        };

        let mut effective = self.class_chain(most_specific.name);
        let mut aux_queue: Vec<&'static ObjectClass> = given
            .iter()
            .copied()
            .filter(|c| c.kind == ClassKind::Auxiliary)
            .collect();
        for class in effective.clone() {
            aux_queue.extend(class.aux_classes.iter().filter_map(|name| self.class(name)));
        }
        while let Some(aux) = aux_queue.pop() {
            for &link in self.chain(aux.name) {
                if !effective.iter().any(|c| c.name == link.name) {
                    aux_queue.extend(link.aux_classes.iter().filter_map(|name| self.class(name)));
                    effective.push(link);
                }
            }
        }
        // An abstract class must be a superclass of something the object is.
        if given.iter().any(|g| !effective.iter().any(|c| c.name == g.name)) {
            return Err(SchemaViolation::class_not_subclass());
        }
        Ok(effective)
    }
}

/// How many distinct class combinations [`Schema::class_set`] remembers (the schema has a
/// few hundred classes; clients name a handful of combinations, so the bound is never reached
/// in practice and only keeps a hostile client from growing it).
const CLASS_SETS_MAX: usize = 4096;

/// The cache of [`ClassSet`]s, keyed by the classes as given (resolved, in the given order).
pub(super) type ClassSets = std::collections::HashMap<Vec<&'static str>, Arc<ClassSet>>;

/// What a combination of objectClass values resolves to, for the add and modify checks: a
/// user's classes allow ~500 attributes, and resolving the effective classes, their
/// mustContain and the allowed set for every add was most of the schema check's time in a bulk
/// load (issue 12, callgrind).
#[derive(Debug)]
pub(super) struct ClassSet {
    /// Whether the combination is valid (`effective_classes` succeeds).
    pub(super) valid: bool,
    /// mustContain of the effective classes, in order, as positions in the attribute table
    /// (None: a name the table lacks).
    pub(super) must: Vec<Option<usize>>,
    /// mustContain ∪ mayContain of the effective classes (of each class's own chain for an
    /// invalid combination), one bit per position in the attribute table.
    allowed: Vec<u64>,
}

impl ClassSet {
    pub(super) fn allows(&self, attribute: usize) -> bool {
        self.allowed
            .get(attribute / 64)
            .is_some_and(|w| w & (1 << (attribute % 64)) != 0)
    }
}

impl Schema {
    /// An attribute and its position in the table, by lDAPDisplayName (any case) or attributeID;
    /// options are ignored.
    pub(super) fn attribute_entry(&self, name_or_oid: &str) -> Option<(usize, &'static AttributeType)> {
        // Kept per thread by the text's address and the schema's: entries name their attributes
        // with shared (interned) names, so a bulk load asks for the same few dozen addresses
        // again and again. A hit is confirmed by comparing the name, so an address that now
        // holds another text only misses.
        type Slot = Option<(usize, usize, usize)>;
        thread_local! {
            static RECENT: std::cell::RefCell<Recent<Slot>> = const { std::cell::RefCell::new(Recent::new()) };
        }
        let key = (name_or_oid.as_ptr() as usize, self.attributes.as_ptr() as usize);
        let i = RECENT.with_borrow_mut(|recent| {
            let (slot, found) = recent.find(key.0, |slot| {
                slot.is_some_and(|(text, table, i)| {
                    (text, table) == key && self.attributes[i].name.eq_ignore_ascii_case(name_or_oid)
                })
            });
            if !found {
                let i = super::lookup_lower(&self.attribute_index, super::without_options(name_or_oid))?;
                *slot = Some((key.0, key.1, i));
            }
            slot.map(|(.., i)| i)
        })?;
        Some((i, &self.attributes[i]))
    }

    /// The [`ClassSet`] of these (resolved) objectClass values, built once per combination.
    pub(super) fn class_set(&self, given: &[&'static ObjectClass]) -> Arc<ClassSet> {
        let key: Vec<&'static str> = given.iter().map(|c| c.name).collect();
        if let Some(set) = self
            .class_sets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return set.clone();
        }
        let effective = self.effective_classes(given);
        let valid = effective.is_ok();
        let classes = effective.unwrap_or_else(|_| self.effective_or_chains_of(given));
        let position = |name: &str| self.attribute_entry(name).map(|(i, _)| i);
        let must = if valid {
            classes
                .iter()
                .flat_map(|c| c.must.iter())
                .map(|m| position(m))
                .collect()
        } else {
            Vec::new()
        };
        let mut allowed = vec![0u64; self.attributes.len().div_ceil(64)];
        for i in classes
            .iter()
            .flat_map(|c| c.must.iter().chain(c.may.iter()))
            .filter_map(|name| position(name))
        {
            allowed[i / 64] |= 1 << (i % 64);
        }
        let set = Arc::new(ClassSet { valid, must, allowed });
        let mut sets = self.class_sets.lock().unwrap_or_else(|p| p.into_inner());
        if sets.len() < CLASS_SETS_MAX {
            sets.insert(key, set.clone());
        }
        set
    }
}

/// rangeLower/rangeUpper (MS-ADTS 3.1.1.2.3): the value for numbers, the length in characters
/// (UTF-16 code units, as AD stores strings) for strings, the length in bytes for binary values.
fn in_range(attr: &AttributeType, value: &[u8]) -> bool {
    if attr.range_lower.is_none() && attr.range_upper.is_none() {
        return true;
    }
    let measure: Option<i128> = match attr.syntax {
        Syntax::Integer | Syntax::Enumeration | Syntax::LargeInteger => std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<i128>().ok()),
        Syntax::UnicodeString
        | Syntax::CaseIgnoreString
        | Syntax::CaseExactString
        | Syntax::PrintableString
        | Syntax::Ia5String
        | Syntax::NumericString => std::str::from_utf8(value)
            .ok()
            .map(|s| s.encode_utf16().count() as i128),
        Syntax::OctetString | Syntax::Sid | Syntax::NtSecurityDescriptor | Syntax::ReplicaLink => {
            Some(value.len() as i128)
        }
        _ => None,
    };
    let Some(measure) = measure else {
        return true;
    };
    attr.range_lower.is_none_or(|lo| measure >= i128::from(lo))
        && attr.range_upper.is_none_or(|hi| measure <= i128::from(hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-thread memo of `attribute_entry` is keyed by the text's address: a fresh text at a
    /// freed one's address (same length, so glibc hands the chunk back) must still resolve by its
    /// own content.
    #[test]
    fn recent_attribute_names_are_confirmed_by_their_text() {
        let schema = Schema::ad();
        let expected = |text: &str| {
            super::super::lookup_lower(&schema.attribute_index, super::super::without_options(text))
                .map(|i| schema.attributes[i].name)
        };
        for round in 0..100 {
            for name in [
                "cn",
                "sn",
                "CN",
                "c",
                "objectSid",
                "objectGUID",
                "nosuchattribute",
                "cn;binary",
            ] {
                let text = name.to_string();
                let got = schema.attribute_entry(&text).map(|(_, a)| a.name);
                assert_eq!(got, expected(&text), "{text} in round {round}");
                assert_eq!(got.is_some(), name != "nosuchattribute");
            }
        }
    }
}
