//! A strict BER reader producing ldap3_lber's `StructureTag` tree, and a small BER writer.
//!
//! ldap3_lber's own parser accepts indefinite lengths (as length 0), silently wraps lengths longer
//! than 8 octets and drops a truncated child inside a constructed element; RFC 4511 §5.1 allows
//! only definite lengths, and a truncated child must be an error. So reading is done here, and the
//! tree type stays ldap3_lber's so that ldap3_proto's conversions can take over where they are
//! binary safe.

use ldap3_lber::common::TagClass;
use ldap3_lber::structure::{StructureTag, PL};
use std::iter::Peekable;
use std::vec::IntoIter;

/// Deepest nesting accepted. A filter nests one level per And/Or/Not, and the envelope, the
/// operation and the SearchRequest add three; ldap3_proto's default limit is 128 as well.
pub(crate) const MAX_DEPTH: usize = 128;

/// Most elements one PDU may hold. Each becomes a tree node of a few dozen bytes, so without a
/// bound a PDU of two-byte elements would weigh twenty times its size once decoded; with it,
/// the tree of the largest PDU (MaxReceiveBuffer, 10 MB) stays near that size. A filter of
/// 80,000 equality terms or an add of 200,000 values still fits.
pub(crate) const MAX_ELEMENTS: usize = 250_000;

/// Why some bytes are not acceptable BER/LDAP; the text is short and safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

pub(crate) type BerResult<T> = Result<T, Malformed>;

pub(crate) fn malformed<T>(reason: impl Into<String>) -> BerResult<T> {
    Err(Malformed(reason.into()))
}

/// Identifier octets used by LDAP (X.690 8.1.2: class in bits 8-7, constructed bit 6, number 5-1).
pub(crate) mod ident {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const ENUMERATED: u8 = 0x0a;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    pub const fn application_constructed(n: u8) -> u8 {
        0x60 | n
    }
    pub const fn context(n: u8) -> u8 {
        0x80 | n
    }
    pub const fn context_constructed(n: u8) -> u8 {
        0xa0 | n
    }
}

/// The identifier octet, the content length and the header length of the element at the start
/// of `buf`; `None` while the header itself is incomplete.
pub(crate) fn read_header(buf: &[u8]) -> BerResult<Option<(u8, usize, usize)>> {
    let Some(&id) = buf.first() else {
        return Ok(None);
    };
    if id & 0x1f == 0x1f {
        // X.690 8.1.2.4: high tag numbers; no LDAP type (RFC 4511 Appendix B) uses them.
        return malformed("high-tag-number form is not used by LDAP");
    }
    let Some(&first) = buf.get(1) else {
        return Ok(None);
    };
    if first < 0x80 {
        return Ok(Some((id, usize::from(first), 2)));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 {
        // RFC 4511 §5.1: only the definite form of length encoding is used.
        return malformed("indefinite length is not allowed in LDAP");
    }
    if count > 4 {
        return malformed("length of length exceeds 4 octets");
    }
    let Some(octets) = buf.get(2..2 + count) else {
        return Ok(None);
    };
    let len = octets.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let Ok(len) = usize::try_from(len) else {
        return malformed("length does not fit in memory");
    };
    Ok(Some((id, len, 2 + count)))
}

/// Parses `input`, which must hold exactly one element.
pub(crate) fn parse_exactly_one(input: &[u8]) -> BerResult<StructureTag> {
    parse_exactly_one_within(input, MAX_ELEMENTS)
}

/// [`parse_exactly_one`] holding at most `max_elements` elements.
pub(crate) fn parse_exactly_one_within(input: &[u8], max_elements: usize) -> BerResult<StructureTag> {
    let mut budget = max_elements;
    let (tag, rest) = parse_element(input, MAX_DEPTH, &mut budget)?;
    if !rest.is_empty() {
        return malformed("trailing bytes after the element");
    }
    Ok(tag)
}

fn parse_element<'a>(
    input: &'a [u8],
    depth: usize,
    budget: &mut usize,
) -> BerResult<(StructureTag, &'a [u8])> {
    let Some(left) = budget.checked_sub(1) else {
        return malformed("too many elements in one message");
    };
    *budget = left;
    let Some((id, len, header_len)) = read_header(input)? else {
        return malformed("truncated element header");
    };
    let Some(content) = input.get(header_len..).and_then(|rest| rest.get(..len)) else {
        return malformed("element length runs past its container");
    };
    let rest = &input[header_len + len..];
    let class = match id >> 6 {
        0 => TagClass::Universal,
        1 => TagClass::Application,
        2 => TagClass::Context,
        _ => TagClass::Private,
    };
    let payload = if id & 0x20 != 0 {
        if depth == 0 {
            return malformed("elements nested too deeply");
        }
        let mut children = Vec::new();
        let mut remaining = content;
        while !remaining.is_empty() {
            let (child, after) = parse_element(remaining, depth - 1, budget)?;
            children.push(child);
            remaining = after;
        }
        PL::C(children)
    } else {
        PL::P(content.to_vec())
    };
    let tag = StructureTag {
        class,
        id: u64::from(id & 0x1f),
        payload,
    };
    Ok((tag, rest))
}

/// The identifier octet that `tag` was read from (the reader never yields high tag numbers).
pub(crate) fn ident_of(tag: &StructureTag) -> u8 {
    let class = (tag.class as u8) << 6;
    let constructed = if matches!(tag.payload, PL::C(_)) { 0x20 } else { 0 };
    class | constructed | (tag.id as u8 & 0x1f)
}

/// The content of a primitive element with identifier `id`.
pub(crate) fn primitive(tag: StructureTag, id: u8, what: &str) -> BerResult<Vec<u8>> {
    if ident_of(&tag) != id {
        return malformed(format!("{what}: unexpected tag 0x{:02x}", ident_of(&tag)));
    }
    match tag.payload {
        PL::P(bytes) => Ok(bytes),
        PL::C(_) => malformed(format!("{what}: expected a primitive element")),
    }
}

/// The children of a constructed element with identifier `id`.
pub(crate) fn constructed(tag: StructureTag, id: u8, what: &str) -> BerResult<Vec<StructureTag>> {
    if ident_of(&tag) != id {
        return malformed(format!("{what}: unexpected tag 0x{:02x}", ident_of(&tag)));
    }
    match tag.payload {
        PL::C(children) => Ok(children),
        PL::P(_) => malformed(format!("{what}: expected a constructed element")),
    }
}

/// X.690 8.3: two's complement, big-endian. Redundant leading octets are tolerated (BER senders
/// are not all minimal), values beyond 64 bits are not.
pub(crate) fn integer(content: &[u8], what: &str) -> BerResult<i64> {
    let Some(&first) = content.first() else {
        return malformed(format!("{what}: empty INTEGER"));
    };
    let sign_fill = if first & 0x80 != 0 { 0xff } else { 0x00 };
    let mut significant = content;
    while significant.len() > 1
        && significant[0] == sign_fill
        && (significant[1] & 0x80) == (sign_fill & 0x80)
    {
        significant = &significant[1..];
    }
    if significant.len() > 8 {
        return malformed(format!("{what}: INTEGER out of range"));
    }
    let mut value: i64 = if sign_fill == 0xff { -1 } else { 0 };
    for &b in significant {
        value = (value << 8) | i64::from(b);
    }
    Ok(value)
}

/// An INTEGER in `0..=i32::MAX` (RFC 4511 §4.1.1: `INTEGER (0 .. maxInt)`).
pub(crate) fn int_0_max(content: &[u8], what: &str) -> BerResult<i32> {
    let v = integer(content, what)?;
    i32::try_from(v)
        .ok()
        .filter(|v| *v >= 0)
        .map_or_else(|| malformed(format!("{what}: not in 0..maxInt")), Ok)
}

/// X.690 8.2: one content octet, any non-zero value is TRUE.
pub(crate) fn boolean(content: &[u8], what: &str) -> BerResult<bool> {
    match content {
        [b] => Ok(*b != 0),
        _ => malformed(format!("{what}: BOOLEAN must have one content octet")),
    }
}

/// RFC 4511 §4.1.2: LDAPString is UTF-8.
pub(crate) fn utf8(content: Vec<u8>, what: &str) -> BerResult<String> {
    String::from_utf8(content).or_else(|_| malformed(format!("{what}: not valid UTF-8")))
}

/// Walks the children of a SEQUENCE in order.
pub(crate) struct Fields {
    items: Peekable<IntoIter<StructureTag>>,
    what: &'static str,
}

impl Fields {
    pub(crate) fn new(children: Vec<StructureTag>, what: &'static str) -> Self {
        Fields {
            items: children.into_iter().peekable(),
            what,
        }
    }

    pub(crate) fn next(&mut self, field: &str) -> BerResult<StructureTag> {
        self.items
            .next()
            .map_or_else(|| malformed(format!("{}: missing {field}", self.what)), Ok)
    }

    /// The next child if its identifier is `id` (an OPTIONAL or DEFAULT component).
    pub(crate) fn next_if(&mut self, id: u8) -> Option<StructureTag> {
        self.items.next_if(|t| ident_of(t) == id)
    }

    pub(crate) fn primitive(&mut self, id: u8, field: &str) -> BerResult<Vec<u8>> {
        let tag = self.next(field)?;
        primitive(tag, id, &format!("{} {field}", self.what))
    }

    pub(crate) fn string(&mut self, field: &str) -> BerResult<String> {
        let bytes = self.primitive(ident::OCTET_STRING, field)?;
        utf8(bytes, &format!("{} {field}", self.what))
    }

    pub(crate) fn octets(&mut self, field: &str) -> BerResult<Vec<u8>> {
        self.primitive(ident::OCTET_STRING, field)
    }

    pub(crate) fn finish(mut self) -> BerResult<()> {
        match self.items.next() {
            None => Ok(()),
            Some(_) => malformed(format!("{}: unexpected extra component", self.what)),
        }
    }
}

// ---- writer ----------------------------------------------------------------------------------

/// X.690 8.1.3: definite length, short form below 128, else the fewest length octets.
fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// One element: identifier, length, content.
pub(crate) fn tlv(id: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(id);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed element whose content is the concatenation of already-encoded `parts`.
pub(crate) fn tlv_parts(id: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let len = parts.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(id);
    push_length(&mut out, len);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// X.690 8.3: the fewest two's-complement octets.
pub(crate) fn integer_tlv(id: u8, value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    tlv(id, &bytes[start..])
}

/// RFC 4511 §5.1: TRUE is encoded as 0xFF.
pub(crate) fn boolean_tlv(id: u8, value: bool) -> Vec<u8> {
    tlv(id, &[if value { 0xff } else { 0x00 }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_round_trips_at_the_edges() {
        for v in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let enc = integer_tlv(ident::INTEGER, v);
            let (_, len, hl) = read_header(&enc).unwrap().unwrap();
            assert_eq!(len + hl, enc.len());
            assert_eq!(integer(&enc[2..], "t").unwrap(), v, "value {v}");
        }
        assert_eq!(integer_tlv(ident::INTEGER, 128), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer_tlv(ident::INTEGER, -129), vec![0x02, 0x02, 0xff, 0x7f]);
    }

    #[test]
    fn non_minimal_integers_are_tolerated_but_not_overlong_ones() {
        assert_eq!(integer(&[0x00, 0x00, 0x05], "t").unwrap(), 5);
        assert_eq!(integer(&[0xff, 0xff, 0x80], "t").unwrap(), -128);
        assert!(integer(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0], "t").is_err());
        assert!(integer(&[], "t").is_err());
    }

    #[test]
    fn long_lengths_use_the_fewest_octets() {
        let enc = tlv(ident::OCTET_STRING, &[0u8; 300]);
        assert_eq!(&enc[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(
            parse_exactly_one(&enc).unwrap().expect_primitive().unwrap().len(),
            300
        );
    }

    #[test]
    fn reader_rejects_bad_lengths_and_truncation() {
        assert!(parse_exactly_one(&[0x30, 0x80, 0x00, 0x00]).is_err());
        assert!(parse_exactly_one(&[0x04, 0x85, 0, 0, 0, 0, 1, 0]).is_err());
        assert!(parse_exactly_one(&[0x30, 0x03, 0x04, 0x05, 0x00]).is_err());
        assert!(parse_exactly_one(&[0x1f, 0x01, 0x00]).is_err());
        assert!(parse_exactly_one(&[0x04, 0x00, 0x00]).is_err());
    }

    #[test]
    fn reader_limits_the_element_count() {
        let item = tlv(ident::OCTET_STRING, b"");
        let seq = |n: usize| tlv(ident::SEQUENCE, &item.repeat(n));
        assert!(parse_exactly_one_within(&seq(9), 10).is_ok());
        let err = parse_exactly_one_within(&seq(10), 10).unwrap_err();
        assert!(err.0.contains("too many elements"), "{err:?}");
    }

    #[test]
    fn reader_limits_depth() {
        let mut enc = tlv(ident::OCTET_STRING, b"x");
        for _ in 0..MAX_DEPTH + 1 {
            enc = tlv(ident::SEQUENCE, &enc);
        }
        assert!(parse_exactly_one(&enc).is_err());
    }
}
