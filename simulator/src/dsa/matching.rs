//! How attribute values compare in filters: per-syntax equality and ordering, AD's string-SID
//! and objectCategory conveniences, and the AD matching rules (bit and/or, in-chain).

use std::cmp::Ordering;

use crate::model::Dn;
use crate::schema::Schema;
use crate::security::Sid;

/// LDAP_MATCHING_RULE_BIT_AND (MS-ADTS 3.1.1.3.4.4.1).
pub const RULE_BIT_AND: &str = "1.2.840.113556.1.4.803";
/// LDAP_MATCHING_RULE_BIT_OR.
pub const RULE_BIT_OR: &str = "1.2.840.113556.1.4.804";
/// LDAP_MATCHING_RULE_TRANSITIVE_EVAL ("in chain", MS-ADTS 3.1.1.3.4.4.3).
pub const RULE_IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Compared byte for byte (SIDs, GUIDs, octet strings).
    Binary,
    /// Signed decimal integers (Integer, LargeInteger, Enumeration).
    Integer,
    /// DNs, compared by normalised form.
    Dn,
    /// Case-insensitive strings (the default for AD's string syntaxes).
    CaseIgnore,
    /// GeneralizedTime: ordered as text once normalised.
    Time,
}

/// The comparison kind of an attribute, from its schema syntax.
pub fn kind_of(attr: &str) -> ValueKind {
    use crate::schema::Syntax as S;
    match Schema::ad().attribute(attr).map(|a| a.syntax) {
        Some(S::OctetString | S::Sid | S::NtSecurityDescriptor | S::ReplicaLink) => ValueKind::Binary,
        Some(S::Integer | S::LargeInteger | S::Enumeration | S::Boolean) => ValueKind::Integer,
        Some(S::DsDn | S::DnBinary | S::DnString | S::OrName | S::AccessPoint | S::PresentationAddress) => {
            ValueKind::Dn
        }
        Some(S::GeneralizedTime | S::UtcTime) => ValueKind::Time,
        _ => ValueKind::CaseIgnore,
    }
}

/// Equality of a stored value and an assertion value (RFC 4517 per syntax).
pub fn equal(attr: &str, stored: &[u8], assertion: &[u8]) -> bool {
    let schema = Schema::ad();
    if let Some(at) = schema.attribute(attr) {
        if kind_of(attr) != ValueKind::Binary && kind_of(attr) != ValueKind::Integer {
            return schema.normalize_value(at, stored) == schema.normalize_value(at, assertion);
        }
    }
    match kind_of(attr) {
        ValueKind::Binary => {
            if stored == assertion {
                return true;
            }
            // AD accepts the string form of a SID in a filter (docs/notes/client-interop.md §5).
            if attr.eq_ignore_ascii_case("objectSid") || attr.eq_ignore_ascii_case("sIDHistory") {
                if let Some(sid) = std::str::from_utf8(assertion)
                    .ok()
                    .and_then(|s| s.parse::<Sid>().ok())
                {
                    return sid.to_bytes() == stored;
                }
            }
            false
        }
        ValueKind::Integer => match (int(stored), int(assertion)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        ValueKind::Dn => match (
            str_of(stored).and_then(|s| Dn::parse(s).ok()),
            str_of(assertion).and_then(|s| Dn::parse(s).ok()),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        ValueKind::CaseIgnore | ValueKind::Time => fold(stored) == fold(assertion),
    }
}

pub fn compare(attr: &str, stored: &[u8], assertion: &[u8]) -> Option<Ordering> {
    if let Some(at) = Schema::ad().attribute(attr) {
        if let Some(o) = at.syntax.compare(stored, assertion) {
            return Some(o);
        }
    }
    match kind_of(attr) {
        ValueKind::Integer => Some(int(stored)?.cmp(&int(assertion)?)),
        ValueKind::Binary => Some(stored.cmp(assertion)),
        ValueKind::Dn | ValueKind::CaseIgnore | ValueKind::Time => Some(fold(stored).cmp(&fold(assertion))),
    }
}

pub fn substrings(stored: &[u8], initial: Option<&[u8]>, any: &[Vec<u8>], final_: Option<&[u8]>) -> bool {
    let hay = fold(stored);
    let mut pos = 0usize;
    if let Some(i) = initial {
        let i = fold(i);
        if !hay.starts_with(&i) {
            return false;
        }
        pos = i.len();
    }
    for a in any {
        let a = fold(a);
        match hay[pos..].find(&a) {
            Some(p) => pos += p + a.len(),
            None => return false,
        }
    }
    if let Some(f) = final_ {
        let f = fold(f);
        return hay.len() >= pos + f.len() && hay.ends_with(&f);
    }
    true
}

/// Bitwise rules on an integer attribute: AND means every asserted bit is set, OR means any.
pub fn bitwise(rule: &str, stored: &[u8], assertion: &[u8]) -> Option<bool> {
    // Negative values (groupType) compare by their two's-complement bits, as AD does.
    let v = int(stored)? as u64;
    let m = int(assertion)? as u64;
    Some(if rule == RULE_BIT_AND {
        v & m == m
    } else {
        v & m != 0
    })
}

fn int(v: &[u8]) -> Option<i64> {
    let s = str_of(v)?.trim();
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<u64>().ok().map(|u| u as i64))
}

fn str_of(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok()
}

fn fold(v: &[u8]) -> String {
    String::from_utf8_lossy(v).to_lowercase()
}
