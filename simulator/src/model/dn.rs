//! Distinguished names (RFC 4514) as AD compares them: attribute types and values are matched
//! case-insensitively, and spaces around separators are insignificant.

use std::fmt;
use std::sync::Arc;

use super::entry::Name;

/// One `type=value` pair of an RDN (multi-valued RDNs are not used by AD). The type is an
/// interned name: a forest has a handful of RDN types (CN, OU, DC), stored once each.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ava {
    pub attr: Name,
    pub value: String,
}

/// A parsed DN. `Dn::root()` is the empty DN (the rootDSE).
///
/// Stored as a persistent list from the RDN up (issue 12): each node holds one RDN and a
/// shared pointer to its parent's DN, so a million users below `CN=Users,DC=…` hold one copy of
/// that suffix between them (the store links an entry's DN to its parent's, see
/// `Store::insert`). Cloning is a reference-count increment and `parent()` is O(1); the
/// comparison rules (case-insensitive, RFC 4514 escaping) are unchanged.
#[derive(Clone, Default)]
pub struct Dn(Option<Arc<Node>>);

struct Node {
    ava: Ava,
    parent: Dn,
    len: usize,
}

/// Most RDNs a DN may have. AD publishes no figure; this bounds the work one DN can cause
/// (every DN operation is linear in the DN, lookups of its ancestors are bounded by this times
/// [`MAX_RDN_VALUE_CHARS`]). docs/fidelity.md, "DN limits" (inferred).
pub const MAX_DN_COMPONENTS: usize = 255;

/// Longest RDN value in characters: the value is held in `name`, whose rangeUpper is 255
/// (MS-ADA3 `name`), and MS-ADTS 3.1.1.5.1.2 bounds the RDN size by 255 characters.
pub const MAX_RDN_VALUE_CHARS: usize = 255;

/// Which of AD's name limits a DN broke (winerror.h ERROR_DS_NAME_TOO_MANY_PARTS 8347 and
/// ERROR_DS_NAME_VALUE_TOO_LONG 8349).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnLimit {
    TooManyParts,
    ValueTooLong,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN syntax: {reason}")]
pub struct DnError {
    pub reason: String,
    /// Set when the DN is well formed but larger than AD accepts.
    pub limit: Option<DnLimit>,
}

/// A DN that does not parse.
fn bad(reason: impl Into<String>) -> DnError {
    DnError {
        reason: reason.into(),
        limit: None,
    }
}

impl Dn {
    pub fn root() -> Dn {
        Dn(None)
    }

    pub fn parse(text: &str) -> Result<Dn, DnError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Dn::root());
        }
        // The parent part of the DN parsed last on this thread is kept: entries are added
        // below the same container one after another (a bulk load parses one DN per entry), and
        // then only the first RDN is parsed. The suffix is compared as text, so the result is
        // what the whole parse would give; anything unusual takes the whole parse.
        type LastParent = Option<(String, Dn)>;
        thread_local! {
            static LAST_PARENT: std::cell::RefCell<LastParent> = const { std::cell::RefCell::new(None) };
        }
        let split = first_separator(text);
        if let Some(at) = split {
            let parent = LAST_PARENT.with_borrow(|last| match last {
                Some((suffix, dn)) if *suffix == text[at + 1..] => Some(dn.clone()),
                _ => None,
            });
            if let Some(parent) = parent.filter(|p| p.len() + 1 < MAX_DN_COMPONENTS) {
                return Ok(parent.push(parse_rdn(&text[..at])?));
            }
        }
        let parts = split_rdns(text)?;
        let mut rdns = Vec::with_capacity(parts.len());
        for part in parts {
            rdns.push(parse_rdn(part)?);
        }
        let dn = Dn::from_avas(rdns, Dn::root());
        if let (Some(at), Some(parent)) = (split, dn.parent()) {
            LAST_PARENT.with_borrow_mut(|last| *last = Some((text[at + 1..].to_string(), parent)));
        }
        Ok(dn)
    }

    /// `avas` (leaf first) below `base`.
    fn from_avas(avas: Vec<Ava>, base: Dn) -> Dn {
        avas.into_iter().rev().fold(base, |dn, ava| dn.push(ava))
    }

    /// The DN made of `ava` below this one (shares this DN).
    pub fn push(&self, ava: Ava) -> Dn {
        Dn(Some(Arc::new(Node {
            ava,
            parent: self.clone(),
            len: self.len() + 1,
        })))
    }

    /// A DN made of `rdn` below `parent`.
    pub fn child(&self, attr: &str, value: &str) -> Dn {
        self.push(Ava {
            attr: Name::new(attr),
            value: value.to_string(),
        })
    }

    /// `DC=corp,DC=example,DC=test` for `corp.example.test`.
    pub fn from_dns_name(dns: &str) -> Dn {
        let dc = Name::new("DC");
        Dn::from_avas(
            dns.split('.')
                .map(|l| Ava {
                    attr: dc.clone(),
                    value: l.to_string(),
                })
                .collect(),
            Dn::root(),
        )
    }

    pub fn is_root(&self) -> bool {
        self.0.is_none()
    }

    pub fn rdn(&self) -> Option<&Ava> {
        self.0.as_ref().map(|n| &n.ava)
    }

    /// The RDNs from the leaf up.
    pub fn iter(&self) -> DnIter<'_> {
        DnIter(self.0.as_deref())
    }

    /// The RDNs from the leaf up, collected.
    pub fn rdns(&self) -> Vec<&Ava> {
        self.iter().collect()
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |n| n.len)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn parent(&self) -> Option<Dn> {
        self.0.as_ref().map(|n| n.parent.clone())
    }

    /// True when both are the same stored list (a clone of one another): equal, cheaply.
    pub fn ptr_eq(&self, other: &Dn) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// True when both are spelled the same, byte for byte (not only equal as AD compares).
    pub fn same_spelling(&self, other: &Dn) -> bool {
        let (mut a, mut b) = (self, other);
        loop {
            if a.ptr_eq(b) {
                return true;
            }
            match (&a.0, &b.0) {
                (Some(x), Some(y)) if x.len == y.len && x.ava == y.ava => {
                    a = &x.parent;
                    b = &y.parent;
                }
                _ => return false,
            }
        }
    }

    /// True when `self` equals `ancestor` or lies below it.
    pub fn is_within(&self, ancestor: &Dn) -> bool {
        let n = ancestor.len();
        n <= self.len() && self.suffix_ref(self.len() - n) == ancestor
    }

    /// The ancestor `i` levels up, borrowed.
    fn suffix_ref(&self, i: usize) -> &Dn {
        let mut cur = self;
        for _ in 0..i {
            match &cur.0 {
                Some(n) => cur = &n.parent,
                None => break,
            }
        }
        cur
    }

    /// The comparison key: lower-cased types and values, canonical escaping.
    pub fn norm(&self) -> String {
        let mut out = String::new();
        self.write_norm(&mut out, |_| {})
            .expect("a String takes every write");
        out
    }

    /// [`Dn::norm`] and, for each RDN, the byte offset where the suffix starting with it begins
    /// in that text: `&norm[starts[i]..]` is the norm of the ancestor with `len() - i` RDNs.
    /// One pass, so walking the ancestors costs no copies of the DN.
    pub fn norm_with_suffixes(&self) -> (String, Vec<usize>) {
        let mut out = String::new();
        let mut starts = Vec::with_capacity(self.len());
        let written = std::cell::Cell::new(0usize);
        let mut counting = Counting(&mut out, &written);
        self.write_norm(&mut counting, |_| starts.push(written.get()))
            .expect("a String takes every write");
        (out, starts)
    }

    /// True when [`Dn::norm`] would be `norm`, compared as it is produced: no text is built
    /// (the store confirms every DN lookup this way, issue 12).
    pub fn has_norm(&self, norm: &str) -> bool {
        let mut rest = Matching(norm);
        self.write_norm(&mut rest, |_| {}).is_ok() && rest.0.is_empty()
    }

    /// Writes the norm to `out`, calling `at_rdn(i)` before the i-th RDN; stops at the first
    /// error `out` returns. ASCII values (nearly all) are lower-cased and escaped char by char;
    /// others are lower-cased whole first (`str::to_lowercase` has context rules, final sigma).
    fn write_norm(&self, out: &mut impl fmt::Write, mut at_rdn: impl FnMut(usize)) -> fmt::Result {
        for (i, ava) in self.iter().enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            at_rdn(i);
            for c in ava.attr.chars() {
                out.write_char(c.to_ascii_lowercase())?;
            }
            out.write_char('=')?;
            if ava.value.is_ascii() {
                write_escaped(
                    out,
                    ava.value.chars().map(|c| c.to_ascii_lowercase()),
                    ava.value.len(),
                )?;
            } else {
                let lower = ava.value.to_lowercase();
                write_escaped(out, lower.chars(), lower.chars().count())?;
            }
        }
        Ok(())
    }

    /// The ancestor made of the RDNs from index `i` on (`suffix(0)` is the DN itself).
    pub fn suffix(&self, i: usize) -> Dn {
        self.suffix_ref(i).clone()
    }

    /// The DNS name of a domain DN (`DC=a,DC=b` → `a.b`), taking only the trailing DC components.
    pub fn dns_name(&self) -> String {
        let rdns = self.rdns();
        let labels: Vec<&str> = rdns
            .iter()
            .rev()
            .take_while(|a| a.attr.eq_ignore_ascii_case("dc"))
            .map(|a| a.value.as_str())
            .collect();
        labels.into_iter().rev().collect::<Vec<_>>().join(".")
    }

    /// Replaces the RDN, keeping the parent.
    pub fn with_rdn(&self, attr: &str, value: &str) -> Dn {
        self.parent().unwrap_or_default().child(attr, value)
    }

    /// Moves this DN from below `old_base` to below `new_base` (sharing `new_base`).
    pub fn rebase(&self, old_base: &Dn, new_base: &Dn) -> Option<Dn> {
        if !self.is_within(old_base) {
            return None;
        }
        let keep = self.len() - old_base.len();
        Some(Dn::from_avas(
            self.iter().take(keep).cloned().collect(),
            new_base.clone(),
        ))
    }
}

/// The RDNs of a [`Dn`] from the leaf up.
pub struct DnIter<'a>(Option<&'a Node>);

impl<'a> Iterator for DnIter<'a> {
    type Item = &'a Ava;
    fn next(&mut self) -> Option<&'a Ava> {
        let n = self.0?;
        self.0 = n.parent.0.as_deref();
        Some(&n.ava)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.map_or(0, |n| n.len);
        (n, Some(n))
    }
}

impl ExactSizeIterator for DnIter<'_> {}

fn ava_eq(a: &Ava, b: &Ava) -> bool {
    a.attr.eq_ignore_ascii_case(&b.attr)
        && (a.value == b.value || a.value.to_lowercase() == b.value.to_lowercase())
}

impl PartialEq for Dn {
    fn eq(&self, other: &Dn) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let (mut a, mut b) = (self, other);
        loop {
            if a.ptr_eq(b) {
                return true;
            }
            match (&a.0, &b.0) {
                (Some(x), Some(y)) if ava_eq(&x.ava, &y.ava) => {
                    a = &x.parent;
                    b = &y.parent;
                }
                _ => return false,
            }
        }
    }
}
impl Eq for Dn {}

impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dn({:?})", self.to_string())
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ava) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&ava.attr)?;
            f.write_str("=")?;
            write_value(f, &ava.value)?;
        }
        Ok(())
    }
}

/// One RDN, `attr=value` (RFC 4514 §3), as it appears between separators.
fn parse_rdn(part: &str) -> Result<Ava, DnError> {
    let (attr, value) = part
        .split_once('=')
        .ok_or_else(|| bad(format!("RDN without '=': {}", part.trim())))?;
    let attr = attr.trim();
    if attr.is_empty()
        || !attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(bad(format!("bad attribute type in RDN: {attr}")));
    }
    let value = unescape_value(value.trim())?;
    if value.chars().count() > MAX_RDN_VALUE_CHARS {
        return Err(DnError {
            reason: format!("RDN value longer than {MAX_RDN_VALUE_CHARS} characters"),
            limit: Some(DnLimit::ValueTooLong),
        });
    }
    Ok(Ava {
        attr: Name::new(attr),
        value,
    })
}

/// The unescaped `,` and `+` of a DN's text with their positions, in order (RFC 4514 §3: a
/// backslash escapes the character after it). Once exhausted, `escaped` tells whether the text
/// ended with a lone backslash.
struct Separators<'a> {
    chars: std::str::CharIndices<'a>,
    escaped: bool,
}

fn separators(text: &str) -> Separators<'_> {
    Separators {
        chars: text.char_indices(),
        escaped: false,
    }
}

impl Iterator for Separators<'_> {
    type Item = (usize, char);
    fn next(&mut self) -> Option<(usize, char)> {
        for (i, c) in self.chars.by_ref() {
            if std::mem::take(&mut self.escaped) {
                continue;
            }
            match c {
                '\\' => self.escaped = true,
                ',' | '+' => return Some((i, c)),
                _ => {}
            }
        }
        None
    }
}

/// Where the first RDN of `text` ends: its first unescaped `,`. None when there is none, or when
/// a `+` (a multi-valued RDN) comes first: the whole parse then gives the answer.
fn first_separator(text: &str) -> Option<usize> {
    separators(text).next().filter(|(_, c)| *c == ',').map(|(i, _)| i)
}

/// Splits at the unescaped `,`; a `+` (a multi-valued RDN, which AD refuses) is an error.
fn split_rdns(text: &str) -> Result<Vec<&str>, DnError> {
    // Room for a typical DN at once (a bulk load parses one per entry).
    let mut parts = Vec::with_capacity(8);
    let mut start = 0;
    let mut found = separators(text);
    for (i, c) in found.by_ref() {
        if c == '+' {
            return Err(bad("multi-valued RDNs are not supported"));
        }
        if parts.len() + 1 >= MAX_DN_COMPONENTS {
            // Stop at once: the rest of the text is not even split.
            return Err(DnError {
                reason: format!("more than {MAX_DN_COMPONENTS} RDNs"),
                limit: Some(DnLimit::TooManyParts),
            });
        }
        parts.push(&text[start..i]);
        start = i + 1;
    }
    if found.escaped {
        return Err(bad("DN ends with a lone backslash"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// RFC 4514 §3: `\` followed by a special character or two hex digits.
fn unescape_value(v: &str) -> Result<String, DnError> {
    if v.starts_with('#') {
        // A BER-encoded value: keep the text form, AD never produces these for naming attributes.
        return Ok(v.to_string());
    }
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let next = *bytes.get(i + 1).ok_or_else(|| bad("dangling escape"))?;
            if next.is_ascii_hexdigit() && bytes.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit()) {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|_| bad("bad escape"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad("bad hex escape"))?);
                i += 3;
            } else {
                out.push(next);
                i += 2;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("escaped value is not UTF-8"))
}

/// RFC 4514 §2.4 escaping of an attribute value.
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    write_value(&mut out, v).expect("a String takes every write");
    out
}

/// [`escape_value`] of `v`, written to `out`: in one piece when nothing in it needs escaping
/// (nearly every value), else char by char.
fn write_value(out: &mut impl fmt::Write, v: &str) -> fmt::Result {
    if needs_escaping(v) {
        write_escaped(out, v.chars(), v.chars().count())
    } else {
        out.write_str(v)
    }
}

/// True when [`write_escaped`] would change `v`.
fn needs_escaping(v: &str) -> bool {
    v.bytes()
        .any(|b| matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' | b'=' | 0))
        || v.starts_with([' ', '#'])
        || v.ends_with(' ')
}

/// [`escape_value`] of the `count` chars `chars`, written to `out`.
fn write_escaped(out: &mut impl fmt::Write, chars: impl Iterator<Item = char>, count: usize) -> fmt::Result {
    let last = count.saturating_sub(1);
    for (i, c) in chars.enumerate() {
        let needs = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if c == '\0' {
            out.write_str("\\00")?;
        } else {
            if needs {
                out.write_char('\\')?;
            }
            out.write_char(c)?;
        }
    }
    Ok(())
}

/// A writer that counts the bytes it passes on (for [`Dn::norm_with_suffixes`]'s offsets).
struct Counting<'a, W>(&'a mut W, &'a std::cell::Cell<usize>);

impl<W: fmt::Write> fmt::Write for Counting<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.1.set(self.1.get() + s.len());
        self.0.write_str(s)
    }
}

/// A writer that checks what is written against the text still expected, and fails at the
/// first difference.
struct Matching<'a>(&'a str);

impl fmt::Write for Matching<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
        Ok(())
    }

    fn write_char(&mut self, c: char) -> fmt::Result {
        let mut cs = self.0.chars();
        if cs.next() != Some(c) {
            return Err(fmt::Error);
        }
        self.0 = cs.as_str();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DN below the parent part parsed last on this thread takes the short way; it must give
    /// what the whole parse gives on a thread that never saw the parent, errors included.
    #[test]
    fn parsing_below_the_last_parent_gives_the_whole_parse() {
        let parent = "CN=Users,DC=corp,DC=example,DC=test";
        let texts: Vec<String> = [
            "CN=a",
            "cn = b ",
            "CN=c\\,d",
            "CN=e\\",
            "CN=f+sn=g",
            "=h",
            "CN",
            "CN=#41",
            "OU=i\\2Cj",
            "CN=ümlaut",
            "CN=",
            "C N=k",
        ]
        .iter()
        .map(|rdn| format!("{rdn},{parent}"))
        .chain([
            format!(" CN=l , {parent} "),
            format!("CN=m,{parent},"),
            parent.to_string(),
        ])
        .collect();
        let whole = |text: &String| {
            let text = text.clone();
            std::thread::spawn(move || Dn::parse(&text)).join().unwrap()
        };
        Dn::parse(parent).unwrap();
        for text in &texts {
            // Warm the memo with the parent part, then parse.
            Dn::parse(&format!("CN=warm,{parent}")).unwrap();
            let short = Dn::parse(text);
            match (short, whole(text)) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{text}");
                    assert_eq!(a.norm(), b.norm(), "{text}");
                    assert_eq!(a.len(), b.len(), "{text}");
                }
                (Err(a), Err(b)) => {
                    assert_eq!((a.reason, a.limit), (b.reason, b.limit), "{text}");
                }
                (a, b) => panic!("{text}: {a:?} vs {b:?}"),
            }
        }
        // At the bound on RDNs: the short way never takes a DN past it.
        let deep: Vec<String> = (0..MAX_DN_COMPONENTS - 1).map(|i| format!("OU=o{i}")).collect();
        let deep = deep.join(",");
        Dn::parse(&format!("OU=warm,{deep}")).unwrap();
        assert_eq!(
            Dn::parse(&format!("OU=x,{deep}")).unwrap().len(),
            MAX_DN_COMPONENTS
        );
        let deeper = format!("OU=y,{deep}");
        Dn::parse(&format!("OU=warm,{deeper}")).unwrap_err();
        let err = Dn::parse(&format!("OU=z,{deeper}")).unwrap_err();
        assert_eq!(err.limit, Some(DnLimit::TooManyParts));
    }

    #[test]
    fn parse_compare_and_print() {
        let a = Dn::parse("CN=Administrator, CN=Users,DC=corp,DC=example,DC=test").unwrap();
        let b = Dn::parse("cn=administrator,cn=users,dc=CORP,dc=example,dc=test").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.norm(), b.norm());
        assert_eq!(
            a.to_string(),
            "CN=Administrator,CN=Users,DC=corp,DC=example,DC=test"
        );
        assert!(a.is_within(&Dn::from_dns_name("corp.example.test")));
        assert_eq!(a.parent().unwrap().dns_name(), "corp.example.test");
    }

    #[test]
    fn escapes_round_trip() {
        assert!(Dn::parse("CN=a+UID=b,DC=x")
            .unwrap_err()
            .reason
            .contains("multi-valued"));
        assert_eq!(Dn::parse(r"CN=A\+B,DC=x").unwrap().rdn().unwrap().value, "A+B");
        let dn = Dn::parse(r"CN=Smith\, John,OU=A\2cB,DC=x").unwrap();
        assert_eq!(dn.rdn().unwrap().value, "Smith, John");
        assert_eq!(dn.rdns()[1].value, "A,B");
        assert_eq!(Dn::parse(&dn.to_string()).unwrap(), dn);
    }

    #[test]
    fn suffixes_are_the_ancestors_norms() {
        let dn = Dn::parse(r"CN=A\,b,OU=X,DC=corp").unwrap();
        let (norm, starts) = dn.norm_with_suffixes();
        assert_eq!(norm, dn.norm());
        for (i, start) in starts.iter().enumerate() {
            assert_eq!(&norm[*start..], dn.suffix(i).norm());
        }
        assert!(dn.suffix(3).is_root());
    }

    /// `has_norm` agrees with `norm` without building it: escapes, case, non-ASCII values.
    #[test]
    fn has_norm_compares_as_norm_would() {
        for text in [
            r"CN=A\,b,OU=X,DC=corp",
            r"CN=\ Lead\#,DC=x",
            "CN=ÄÖ Σ,DC=Ünï",
            "DC=x",
            "",
        ] {
            let dn = Dn::parse(text).unwrap();
            let norm = dn.norm();
            assert!(dn.has_norm(&norm), "{text}");
            assert!(!dn.has_norm(&format!("{norm},dc=y")), "{text}");
            if let Some((cut, _)) = norm.char_indices().last() {
                assert!(!dn.has_norm(&norm[..cut]), "{text}");
            }
            assert!(!dn.has_norm(&norm.to_uppercase()) || norm == norm.to_uppercase());
        }
        assert_eq!(Dn::parse("CN=ÄÖ Σ,DC=x").unwrap().norm(), "cn=äö σ,dc=x");
    }

    /// The list form: a child and a rebased DN share their base, parents and suffixes are
    /// views of the same nodes, and equality ignores case but `same_spelling` does not.
    #[test]
    fn children_share_their_parent() {
        let base = Dn::parse("OU=a,DC=corp,DC=test").unwrap();
        let child = base.child("CN", "x");
        assert!(child.parent().unwrap().ptr_eq(&base));
        assert_eq!(child.len(), 4);
        assert_eq!(child.to_string(), "CN=x,OU=a,DC=corp,DC=test");
        assert_eq!(format!("{child:?}"), "Dn(\"CN=x,OU=a,DC=corp,DC=test\")");
        assert!(child.suffix(2).ptr_eq(&base.parent().unwrap()));
        assert!(child.is_within(&Dn::parse("dc=CORP,dc=test").unwrap()));
        assert!(!child.is_within(&Dn::parse("DC=other,DC=test").unwrap()));
        assert!(!base.is_within(&child));

        let other = Dn::parse("ou=B,dc=corp,dc=test").unwrap();
        let moved = child.rebase(&base, &other).unwrap();
        assert_eq!(moved.to_string(), "CN=x,ou=B,dc=corp,dc=test");
        assert!(moved.parent().unwrap().ptr_eq(&other));
        assert_eq!(child.rebase(&other, &base), None);

        let shouted = Dn::parse("CN=X,OU=A,DC=CORP,DC=TEST").unwrap();
        assert_eq!(shouted, child);
        assert!(!shouted.same_spelling(&child));
        assert!(Dn::parse(&child.to_string()).unwrap().same_spelling(&child));
        assert_ne!(child, base);
        assert_eq!(Dn::root(), Dn::parse("").unwrap());
        assert_eq!(
            child.rdns().iter().map(|a| a.value.as_str()).collect::<Vec<_>>(),
            ["x", "a", "corp", "test"]
        );
    }

    #[test]
    fn limits_are_refused_with_their_kind() {
        let deep = "CN=a,".repeat(MAX_DN_COMPONENTS) + "DC=x";
        assert_eq!(Dn::parse(&deep).unwrap_err().limit, Some(DnLimit::TooManyParts));
        let ok = "CN=a,".repeat(MAX_DN_COMPONENTS - 1) + "DC=x";
        assert_eq!(Dn::parse(&ok).unwrap().len(), MAX_DN_COMPONENTS);
        let long = format!("CN={},DC=x", "v".repeat(MAX_RDN_VALUE_CHARS + 1));
        assert_eq!(Dn::parse(&long).unwrap_err().limit, Some(DnLimit::ValueTooLong));
        let ok = format!("CN={},DC=x", "é".repeat(MAX_RDN_VALUE_CHARS));
        assert!(Dn::parse(&ok).is_ok());
        assert_eq!(Dn::parse("x").unwrap_err().limit, None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Dn::parse("no equals sign").is_err());
        assert!(Dn::parse("CN=x\\").is_err());
        assert!(Dn::parse("=x").is_err());
    }
}
