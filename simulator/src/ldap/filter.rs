//! The LDAP search filter (RFC 4511 §4.5.1) with binary-safe assertion values, in its BER form
//! (decode/encode) and its string form (RFC 4515: `Display` and `Filter::parse`).
//!
//! Assertion values are raw octets: a binary objectSid or objectGUID in a filter must survive.

use crate::ldap::codec::ber::{self, ident, malformed, BerResult, Fields};
use ldap3_lber::structure::{StructureTag, PL};
use std::fmt;

/// RFC 4511 §4.5.1.7 `Filter`. Attribute descriptions and matching rule ids are LDAPStrings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    EqualityMatch(String, Vec<u8>),
    Substrings {
        attr: String,
        initial: Option<Vec<u8>>,
        any: Vec<Vec<u8>>,
        final_: Option<Vec<u8>>,
    },
    GreaterOrEqual(String, Vec<u8>),
    LessOrEqual(String, Vec<u8>),
    Present(String),
    ApproxMatch(String, Vec<u8>),
    ExtensibleMatch {
        rule: Option<String>,
        attr: Option<String>,
        value: Vec<u8>,
        dn_attributes: bool,
    },
}

/// Why a filter string (RFC 4515) was refused; `position` is a byte offset into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad filter at byte {position}: {reason}")]
pub struct FilterParseError {
    pub position: usize,
    pub reason: &'static str,
}

// Context tags of the Filter CHOICE (RFC 4511 §4.5.1).
const AND: u8 = 0;
const OR: u8 = 1;
const NOT: u8 = 2;
const EQUALITY: u8 = 3;
const SUBSTRINGS: u8 = 4;
const GREATER_OR_EQUAL: u8 = 5;
const LESS_OR_EQUAL: u8 = 6;
const PRESENT: u8 = 7;
const APPROX: u8 = 8;
const EXTENSIBLE: u8 = 9;

impl Filter {
    /// Decodes a BER-encoded Filter (one element, nothing after it).
    pub fn from_ber(bytes: &[u8]) -> Result<Filter, crate::ldap::codec::CodecError> {
        ber::parse_exactly_one(bytes)
            .and_then(|tag| Filter::from_tag(tag, ber::MAX_DEPTH))
            .map_err(crate::ldap::codec::CodecError::from)
    }

    /// Decodes a Filter from an already-parsed element; `depth` bounds the And/Or/Not nesting.
    pub(crate) fn from_tag(tag: StructureTag, depth: usize) -> BerResult<Filter> {
        if depth == 0 {
            return malformed("filter nested too deeply");
        }
        let id = ber::ident_of(&tag);
        match (id, tag.payload) {
            (i, PL::C(children)) if i == ident::context_constructed(AND) => {
                Ok(Filter::And(Self::from_set(children, depth)?))
            }
            (i, PL::C(children)) if i == ident::context_constructed(OR) => {
                Ok(Filter::Or(Self::from_set(children, depth)?))
            }
            (i, PL::C(mut children)) if i == ident::context_constructed(NOT) => {
                // `not [2] Filter`: a CHOICE is tagged explicitly, so exactly one inner Filter.
                match (children.pop(), children.is_empty()) {
                    (Some(inner), true) => Ok(Filter::Not(Box::new(Self::from_tag(inner, depth - 1)?))),
                    _ => malformed("not filter must hold exactly one filter"),
                }
            }
            (i, PL::C(children)) if i == ident::context_constructed(EQUALITY) => {
                let (attr, value) = ava(children, "equalityMatch")?;
                Ok(Filter::EqualityMatch(attr, value))
            }
            (i, PL::C(children)) if i == ident::context_constructed(SUBSTRINGS) => substrings(children),
            (i, PL::C(children)) if i == ident::context_constructed(GREATER_OR_EQUAL) => {
                let (attr, value) = ava(children, "greaterOrEqual")?;
                Ok(Filter::GreaterOrEqual(attr, value))
            }
            (i, PL::C(children)) if i == ident::context_constructed(LESS_OR_EQUAL) => {
                let (attr, value) = ava(children, "lessOrEqual")?;
                Ok(Filter::LessOrEqual(attr, value))
            }
            (i, PL::P(content)) if i == ident::context(PRESENT) => {
                Ok(Filter::Present(ber::utf8(content, "present filter")?))
            }
            (i, PL::C(children)) if i == ident::context_constructed(APPROX) => {
                let (attr, value) = ava(children, "approxMatch")?;
                Ok(Filter::ApproxMatch(attr, value))
            }
            (i, PL::C(children)) if i == ident::context_constructed(EXTENSIBLE) => extensible(children),
            (i, _) => malformed(format!("unknown filter choice 0x{i:02x}")),
        }
    }

    /// `and`/`or` are `SET SIZE (1..MAX) OF Filter`; the empty set is accepted as the absolute
    /// true/false filter of RFC 4526.
    fn from_set(children: Vec<StructureTag>, depth: usize) -> BerResult<Vec<Filter>> {
        children
            .into_iter()
            .map(|c| Self::from_tag(c, depth - 1))
            .collect()
    }

    /// The BER encoding of this filter.
    pub fn to_ber(&self) -> Vec<u8> {
        match self {
            Filter::And(list) => set_tlv(AND, list),
            Filter::Or(list) => set_tlv(OR, list),
            Filter::Not(inner) => ber::tlv(ident::context_constructed(NOT), &inner.to_ber()),
            Filter::EqualityMatch(attr, value) => ava_tlv(EQUALITY, attr, value),
            Filter::Substrings {
                attr,
                initial,
                any,
                final_,
            } => {
                let mut parts = Vec::new();
                if let Some(v) = initial {
                    parts.push(ber::tlv(ident::context(0), v));
                }
                parts.extend(any.iter().map(|v| ber::tlv(ident::context(1), v)));
                if let Some(v) = final_ {
                    parts.push(ber::tlv(ident::context(2), v));
                }
                ber::tlv_parts(
                    ident::context_constructed(SUBSTRINGS),
                    &[
                        ber::tlv(ident::OCTET_STRING, attr.as_bytes()),
                        ber::tlv_parts(ident::SEQUENCE, &parts),
                    ],
                )
            }
            Filter::GreaterOrEqual(attr, value) => ava_tlv(GREATER_OR_EQUAL, attr, value),
            Filter::LessOrEqual(attr, value) => ava_tlv(LESS_OR_EQUAL, attr, value),
            Filter::Present(attr) => ber::tlv(ident::context(PRESENT), attr.as_bytes()),
            Filter::ApproxMatch(attr, value) => ava_tlv(APPROX, attr, value),
            Filter::ExtensibleMatch {
                rule,
                attr,
                value,
                dn_attributes,
            } => {
                let mut parts = Vec::new();
                if let Some(rule) = rule {
                    parts.push(ber::tlv(ident::context(1), rule.as_bytes()));
                }
                if let Some(attr) = attr {
                    parts.push(ber::tlv(ident::context(2), attr.as_bytes()));
                }
                parts.push(ber::tlv(ident::context(3), value));
                if *dn_attributes {
                    // DEFAULT FALSE: only TRUE is sent.
                    parts.push(ber::boolean_tlv(ident::context(4), true));
                }
                ber::tlv_parts(ident::context_constructed(EXTENSIBLE), &parts)
            }
        }
    }

    /// Parses the RFC 4515 string form, e.g. `(&(objectClass=user)(cn=a\2ab*))`.
    ///
    /// As a convenience (OpenLDAP's tools do the same), a lone item without the outer
    /// parentheses, such as `objectClass=*`, is accepted too.
    pub fn parse(text: &str) -> Result<Filter, FilterParseError> {
        let mut parser = Parser {
            input: text.as_bytes(),
            pos: 0,
        };
        let filter = if parser.peek() == Some(b'(') {
            parser.filter(ber::MAX_DEPTH)?
        } else {
            parser.item(text.len())?
        };
        if parser.pos != text.len() {
            return parser.fail("unexpected text after the filter");
        }
        Ok(filter)
    }
}

fn set_tlv(choice: u8, list: &[Filter]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = list.iter().map(Filter::to_ber).collect();
    ber::tlv_parts(ident::context_constructed(choice), &parts)
}

fn ava_tlv(choice: u8, attr: &str, value: &[u8]) -> Vec<u8> {
    ber::tlv_parts(
        ident::context_constructed(choice),
        &[
            ber::tlv(ident::OCTET_STRING, attr.as_bytes()),
            ber::tlv(ident::OCTET_STRING, value),
        ],
    )
}

/// RFC 4511 §4.1.8 AttributeValueAssertion ::= SEQUENCE { attributeDesc, assertionValue }.
fn ava(children: Vec<StructureTag>, what: &'static str) -> BerResult<(String, Vec<u8>)> {
    let mut fields = Fields::new(children, what);
    let attr = fields.string("attributeDesc")?;
    let value = fields.octets("assertionValue")?;
    fields.finish()?;
    Ok((attr, value))
}

/// RFC 4511 §4.5.1.7.2 SubstringFilter: `initial` at most once and first, `final` at most once
/// and last, at least one component.
fn substrings(children: Vec<StructureTag>) -> BerResult<Filter> {
    let mut fields = Fields::new(children, "substrings filter");
    let attr = fields.string("type")?;
    let parts = ber::constructed(fields.next("substrings")?, ident::SEQUENCE, "substrings")?;
    fields.finish()?;
    if parts.is_empty() {
        return malformed("substrings filter has no substring");
    }
    let (mut initial, mut any, mut final_) = (None, Vec::new(), None);
    let count = parts.len();
    for (index, part) in parts.into_iter().enumerate() {
        let id = ber::ident_of(&part);
        let Some(value) = part.expect_primitive() else {
            return malformed("substring must be primitive");
        };
        match id {
            i if i == ident::context(0) && index == 0 => initial = Some(value),
            i if i == ident::context(1) => any.push(value),
            i if i == ident::context(2) && index + 1 == count => final_ = Some(value),
            _ => return malformed("substring out of order or of unknown kind"),
        }
    }
    Ok(Filter::Substrings {
        attr,
        initial,
        any,
        final_,
    })
}

/// RFC 4511 §4.5.1.7.7 MatchingRuleAssertion; if `matchingRule` is absent `type` must be present.
fn extensible(children: Vec<StructureTag>) -> BerResult<Filter> {
    let mut fields = Fields::new(children, "extensibleMatch");
    let rule = match fields.next_if(ident::context(1)) {
        Some(t) => Some(ber::utf8(
            ber::primitive(t, ident::context(1), "matchingRule")?,
            "matchingRule",
        )?),
        None => None,
    };
    let attr = match fields.next_if(ident::context(2)) {
        Some(t) => Some(ber::utf8(ber::primitive(t, ident::context(2), "type")?, "type")?),
        None => None,
    };
    let value = fields.primitive(ident::context(3), "matchValue")?;
    let dn_attributes = match fields.next_if(ident::context(4)) {
        Some(t) => ber::boolean(
            &ber::primitive(t, ident::context(4), "dnAttributes")?,
            "dnAttributes",
        )?,
        None => false,
    };
    fields.finish()?;
    if rule.is_none() && attr.is_none() {
        return malformed("extensibleMatch needs a matching rule or an attribute");
    }
    Ok(Filter::ExtensibleMatch {
        rule,
        attr,
        value,
        dn_attributes,
    })
}

// ---- string form (RFC 4515) ------------------------------------------------------------------

/// Writes an assertion value with the escapes of RFC 4515 §3: `*`, `(`, `)`, `\` and NUL always;
/// control characters too, and every non-ASCII octet when the value is not UTF-8 (binary
/// values such as a SID read as `\01\05\00…`).
fn write_value(f: &mut fmt::Formatter<'_>, value: &[u8]) -> fmt::Result {
    match std::str::from_utf8(value) {
        Ok(text) => {
            for ch in text.chars() {
                match ch {
                    '*' | '(' | ')' | '\\' => write!(f, "\\{:02x}", ch as u32)?,
                    c if c.is_control() => {
                        let mut buf = [0u8; 4];
                        for b in c.encode_utf8(&mut buf).bytes() {
                            write!(f, "\\{b:02x}")?;
                        }
                    }
                    c => write!(f, "{c}")?,
                }
            }
        }
        Err(_) => {
            for &b in value {
                if (b.is_ascii_graphic() && !matches!(b, b'*' | b'(' | b')' | b'\\')) || b == b' ' {
                    write!(f, "{}", b as char)?;
                } else {
                    write!(f, "\\{b:02x}")?;
                }
            }
        }
    }
    Ok(())
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(list) | Filter::Or(list) => {
                f.write_str(if matches!(self, Filter::And(_)) {
                    "(&"
                } else {
                    "(|"
                })?;
                for item in list {
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            Filter::Not(inner) => write!(f, "(!{inner})"),
            Filter::EqualityMatch(attr, value) => simple(f, attr, "=", value),
            Filter::GreaterOrEqual(attr, value) => simple(f, attr, ">=", value),
            Filter::LessOrEqual(attr, value) => simple(f, attr, "<=", value),
            Filter::ApproxMatch(attr, value) => simple(f, attr, "~=", value),
            Filter::Present(attr) => write!(f, "({attr}=*)"),
            Filter::Substrings {
                attr,
                initial,
                any,
                final_,
            } => {
                write!(f, "({attr}=")?;
                if let Some(v) = initial {
                    write_value(f, v)?;
                }
                f.write_str("*")?;
                for v in any {
                    write_value(f, v)?;
                    f.write_str("*")?;
                }
                if let Some(v) = final_ {
                    write_value(f, v)?;
                }
                f.write_str(")")
            }
            Filter::ExtensibleMatch {
                rule,
                attr,
                value,
                dn_attributes,
            } => {
                f.write_str("(")?;
                if let Some(attr) = attr {
                    f.write_str(attr)?;
                }
                if *dn_attributes {
                    f.write_str(":dn")?;
                }
                if let Some(rule) = rule {
                    write!(f, ":{rule}")?;
                }
                f.write_str(":=")?;
                write_value(f, value)?;
                f.write_str(")")
            }
        }
    }
}

fn simple(f: &mut fmt::Formatter<'_>, attr: &str, op: &str, value: &[u8]) -> fmt::Result {
    write!(f, "({attr}{op}")?;
    write_value(f, value)?;
    f.write_str(")")
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, FilterParseError> {
        Err(FilterParseError {
            position: self.pos,
            reason,
        })
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), FilterParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(reason)
        }
    }

    /// filter = LPAREN filtercomp RPAREN
    fn filter(&mut self, depth: usize) -> Result<Filter, FilterParseError> {
        if depth == 0 {
            return self.fail("filter nested too deeply");
        }
        self.expect(b'(', "expected '('")?;
        let filter = match self.peek() {
            Some(b'&') => {
                self.pos += 1;
                Filter::And(self.filter_list(depth)?)
            }
            Some(b'|') => {
                self.pos += 1;
                Filter::Or(self.filter_list(depth)?)
            }
            Some(b'!') => {
                self.pos += 1;
                Filter::Not(Box::new(self.filter(depth - 1)?))
            }
            _ => {
                let end = self.item_end()?;
                self.item(end)?
            }
        };
        self.expect(b')', "expected ')'")?;
        Ok(filter)
    }

    /// filterlist = 1*filter; the empty list is RFC 4526's absolute true `(&)` / false `(|)`.
    fn filter_list(&mut self, depth: usize) -> Result<Vec<Filter>, FilterParseError> {
        let mut list = Vec::new();
        while self.peek() == Some(b'(') {
            list.push(self.filter(depth - 1)?);
        }
        Ok(list)
    }

    /// Where the current item ends: the next unescaped ')' (values escape their parentheses).
    fn item_end(&self) -> Result<usize, FilterParseError> {
        match self.input[self.pos..].iter().position(|&b| b == b')') {
            Some(offset) => Ok(self.pos + offset),
            None => self.fail("missing ')'"),
        }
    }

    /// item = simple / present / substring / extensible, spanning `self.pos..end`.
    fn item(&mut self, end: usize) -> Result<Filter, FilterParseError> {
        let text = &self.input[self.pos..end];
        let Some(eq) = text.iter().position(|&b| b == b'=') else {
            return self.fail("expected an operator");
        };
        let (lhs, value_start) = (&text[..eq], self.pos + eq + 1);
        let filter = match lhs.last() {
            Some(b':') => self.extensible(&lhs[..lhs.len() - 1], value_start, end)?,
            Some(b'>') => {
                let attr = self.attr(&lhs[..lhs.len() - 1])?;
                Filter::GreaterOrEqual(attr, self.value(value_start, end)?)
            }
            Some(b'<') => {
                let attr = self.attr(&lhs[..lhs.len() - 1])?;
                Filter::LessOrEqual(attr, self.value(value_start, end)?)
            }
            Some(b'~') => {
                let attr = self.attr(&lhs[..lhs.len() - 1])?;
                Filter::ApproxMatch(attr, self.value(value_start, end)?)
            }
            _ => {
                let attr = self.attr(lhs)?;
                self.equality_or_substrings(attr, value_start, end)?
            }
        };
        self.pos = end;
        Ok(filter)
    }

    /// attr = attributedescription: a descr or numeric OID with `;options`.
    fn attr(&self, text: &[u8]) -> Result<String, FilterParseError> {
        let valid = !text.is_empty()
            && text
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b';'));
        if !valid {
            return self.fail("bad attribute description");
        }
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    /// extensible = ( attr [dnattrs] [matchingrule] COLON EQUALS assertionvalue )
    ///            / ( [dnattrs] matchingrule COLON EQUALS assertionvalue )
    fn extensible(&self, lhs: &[u8], value_start: usize, end: usize) -> Result<Filter, FilterParseError> {
        let mut pieces = lhs.split(|&b| b == b':');
        let attr = match pieces.next() {
            Some([]) | None => None,
            Some(text) => Some(self.attr(text)?),
        };
        let mut dn_attributes = false;
        let mut rule = None;
        for (index, piece) in pieces.enumerate() {
            if index == 0 && piece.eq_ignore_ascii_case(b"dn") {
                dn_attributes = true;
            } else if rule.is_none() && !piece.is_empty() {
                rule = Some(self.attr(piece)?);
            } else {
                return self.fail("bad extensible match");
            }
        }
        if attr.is_none() && rule.is_none() {
            return self.fail("extensible match needs an attribute or a matching rule");
        }
        Ok(Filter::ExtensibleMatch {
            rule,
            attr,
            value: self.value(value_start, end)?,
            dn_attributes,
        })
    }

    /// `attr=*` is presence; unescaped `*` splits a substring filter; otherwise equality.
    fn equality_or_substrings(
        &self,
        attr: String,
        start: usize,
        end: usize,
    ) -> Result<Filter, FilterParseError> {
        let text = &self.input[start..end];
        if !text.contains(&b'*') {
            return Ok(Filter::EqualityMatch(attr, self.value(start, end)?));
        }
        let mut pieces = Vec::new();
        let mut piece_start = start;
        for (offset, &b) in text.iter().enumerate() {
            if b == b'*' {
                pieces.push(self.value(piece_start, start + offset)?);
                piece_start = start + offset + 1;
            }
        }
        pieces.push(self.value(piece_start, end)?);
        let final_ = pieces.pop().filter(|v| !v.is_empty());
        let mut rest = pieces.into_iter();
        let initial = rest.next().filter(|v| !v.is_empty());
        // Empty `any` pieces (as in `a**b`) constrain nothing; RFC 4511 wants no empty substring.
        let any: Vec<Vec<u8>> = rest.filter(|v| !v.is_empty()).collect();
        if initial.is_none() && any.is_empty() && final_.is_none() {
            return Ok(Filter::Present(attr));
        }
        Ok(Filter::Substrings {
            attr,
            initial,
            any,
            final_,
        })
    }

    /// assertionvalue = valueencoding: UTF-8 octets with `\XX` escapes; `(`, `)`, `*` and NUL
    /// must be escaped.
    fn value(&self, start: usize, end: usize) -> Result<Vec<u8>, FilterParseError> {
        let text = &self.input[start..end];
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'\\' => {
                    let digit = |at: usize| text.get(at).and_then(|&b| (b as char).to_digit(16));
                    let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                        return Err(FilterParseError {
                            position: start + i,
                            reason: "bad escape: expected \\ and two hex digits",
                        });
                    };
                    out.push((high * 16 + low) as u8);
                    i += 3;
                }
                b'(' | b')' | b'*' | 0 => {
                    return Err(FilterParseError {
                        position: start + i,
                        reason: "unescaped special character in value",
                    })
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(attr: &str, v: &[u8]) -> Filter {
        Filter::EqualityMatch(attr.into(), v.to_vec())
    }

    #[test]
    fn parses_every_kind() {
        let f = Filter::parse("(&(objectClass=user)(!(cn~=bob))(|(a>=1)(b<=2))(c=*)(d=x*y*z))").unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                eq("objectClass", b"user"),
                Filter::Not(Box::new(Filter::ApproxMatch("cn".into(), b"bob".to_vec()))),
                Filter::Or(vec![
                    Filter::GreaterOrEqual("a".into(), b"1".to_vec()),
                    Filter::LessOrEqual("b".into(), b"2".to_vec())
                ]),
                Filter::Present("c".into()),
                Filter::Substrings {
                    attr: "d".into(),
                    initial: Some(b"x".to_vec()),
                    any: vec![b"y".to_vec()],
                    final_: Some(b"z".to_vec())
                },
            ])
        );
    }

    #[test]
    fn parses_extensible_forms() {
        let f = Filter::parse("(userAccountControl:1.2.840.113556.1.4.803:=2)").unwrap();
        assert_eq!(
            f,
            Filter::ExtensibleMatch {
                rule: Some("1.2.840.113556.1.4.803".into()),
                attr: Some("userAccountControl".into()),
                value: b"2".to_vec(),
                dn_attributes: false
            }
        );
        let f = Filter::parse("(ou:dn:=People)").unwrap();
        assert_eq!(
            f,
            Filter::ExtensibleMatch {
                rule: None,
                attr: Some("ou".into()),
                value: b"People".to_vec(),
                dn_attributes: true
            }
        );
        let f = Filter::parse("(:dn:2.4.6.8.10:=Dino)").unwrap();
        assert_eq!(f.to_string(), "(:dn:2.4.6.8.10:=Dino)");
        assert!(Filter::parse("(:=x)").is_err());
        assert!(Filter::parse("(:dn:=x)").is_err());
        assert!(Filter::parse("(a:b:c:=x)").is_err());
    }

    #[test]
    fn escapes_round_trip_binary_values() {
        let sid = [
            1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x2a, 0x28, 0x29, 0x5c, 0xff,
        ];
        let f = eq("objectSid", &sid);
        let text = f.to_string();
        assert_eq!(
            text,
            "(objectSid=\\01\\05\\00\\00\\00\\00\\00\\05\\15\\00\\00\\00\\2a\\28\\29\\5c\\ff)"
        );
        assert_eq!(Filter::parse(&text).unwrap(), f);
        assert_eq!(eq("cn", b"a*b").to_string(), "(cn=a\\2ab)");
        assert_eq!(eq("cn", "José".as_bytes()).to_string(), "(cn=José)");
        assert_eq!(
            Filter::parse("(cn=Jos\\C3\\A9)").unwrap(),
            eq("cn", "José".as_bytes())
        );
    }

    #[test]
    fn refuses_malformed_strings() {
        for bad in [
            "",
            "(",
            "()",
            "(cn=a",
            "cn=a)",
            "(cn=a))",
            "(cn=a(b)",
            "(=a)",
            "(cn=\\4)",
            "(cn=\\zz)",
            "(c n=a)",
            "(&(a=b)",
            "(!)",
            "(!(a=b)(c=d))",
            "(cn>a)",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn bare_item_and_absolute_filters() {
        assert_eq!(
            Filter::parse("objectClass=*").unwrap(),
            Filter::Present("objectClass".into())
        );
        assert_eq!(Filter::parse("(&)").unwrap(), Filter::And(vec![]));
        assert_eq!(Filter::parse("(|)").unwrap().to_string(), "(|)");
        assert_eq!(Filter::parse("(a=**)").unwrap(), Filter::Present("a".into()));
    }

    #[test]
    fn ber_round_trip_and_strictness() {
        let f = Filter::parse("(&(objectSid=\\01\\02)(x:dn:1.2.3:=v)(s=a*b*c)(s=*e)(!(p=*)))").unwrap();
        assert_eq!(Filter::from_ber(&f.to_ber()).unwrap(), f);
        // Substrings with `final` before `any`.
        let bad = ber::tlv_parts(
            ident::context_constructed(SUBSTRINGS),
            &[
                ber::tlv(ident::OCTET_STRING, b"cn"),
                ber::tlv_parts(
                    ident::SEQUENCE,
                    &[
                        ber::tlv(ident::context(2), b"z"),
                        ber::tlv(ident::context(1), b"y"),
                    ],
                ),
            ],
        );
        assert!(Filter::from_ber(&bad).is_err());
        // Not with two inner filters.
        let two = ber::tlv_parts(
            ident::context_constructed(NOT),
            &[
                Filter::Present("a".into()).to_ber(),
                Filter::Present("b".into()).to_ber(),
            ],
        );
        assert!(Filter::from_ber(&two).is_err());
        // Extensible match with neither rule nor type.
        let ext = ber::tlv_parts(
            ident::context_constructed(EXTENSIBLE),
            &[ber::tlv(ident::context(3), b"v")],
        );
        assert!(Filter::from_ber(&ext).is_err());
    }
}
