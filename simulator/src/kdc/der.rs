//! A small DER reader and writer (X.690) for the Kerberos ASN.1 types.
//!
//! Written here rather than taken from picky-krb because picky's `KerberosString` is an
//! IA5String: a principal such as `j€rg` (UTF-8 bytes 0x80–0xA0, as real AD names contain)
//! fails its charset check, and an OPTIONAL cname is then silently dropped (see
//! `tests/kdc_captures.rs`). Kerberos strings are carried here as UTF-8 bytes, which is what
//! MIT and Windows put on the wire (RFC 4120 §5.2.1 allows implementation-defined encodings).

use thiserror::Error;

/// Nesting limit: Kerberos messages are at most ~10 levels deep; this stops stack abuse.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DerError {
    #[error("DER input truncated")]
    Truncated,
    #[error("DER length form not supported or too large")]
    BadLength,
    #[error("unexpected DER tag {found:#04x}, expected {expected:#04x}")]
    UnexpectedTag { found: u8, expected: u8 },
    #[error("missing mandatory field [{0}]")]
    MissingField(u8),
    #[error("bad DER value: {0}")]
    BadValue(&'static str),
    #[error("DER nesting too deep")]
    TooDeep,
}

pub type DerResult<T> = Result<T, DerError>;

/// Tag bytes used by Kerberos (all tag numbers are below 31, so one identifier octet).
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const GENERAL_STRING: u8 = 0x1b;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;

    /// `[n]` EXPLICIT, context class, constructed.
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }

    /// `[APPLICATION n]`, constructed.
    pub const fn application(n: u8) -> u8 {
        0x60 | n
    }
}

/// One TLV: its identifier octet, its content, and its full encoding (for checksums over
/// the bytes as received: RFC 4120 §3.3.2 and §5.5.1, the TGS authenticator checksum covers
/// the KDC-REQ-BODY encoding).
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads consecutive TLVs from a byte slice.
#[derive(Debug, Clone)]
pub struct DerReader<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> DerReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        DerReader {
            data,
            pos: 0,
            depth: 0,
        }
    }

    fn nested(&self, data: &'a [u8]) -> DerResult<DerReader<'a>> {
        if self.depth >= MAX_DEPTH {
            return Err(DerError::TooDeep);
        }
        Ok(DerReader {
            data,
            pos: 0,
            depth: self.depth + 1,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next TLV (definite lengths only; DER forbids the indefinite form).
    pub fn read_tlv(&mut self) -> DerResult<Tlv<'a>> {
        let start = self.pos;
        let tag = *self.data.get(self.pos).ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            // High tag numbers never occur in Kerberos.
            return Err(DerError::BadValue("high tag number"));
        }
        let mut pos = self.pos + 1;
        let first = *self.data.get(pos).ok_or(DerError::Truncated)?;
        pos += 1;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return Err(DerError::BadLength);
            }
            let bytes = self.data.get(pos..pos + count).ok_or(DerError::Truncated)?;
            pos += count;
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let end = pos.checked_add(len).ok_or(DerError::BadLength)?;
        let content = self.data.get(pos..end).ok_or(DerError::Truncated)?;
        self.pos = end;
        Ok(Tlv {
            tag,
            content,
            raw: &self.data[start..end],
        })
    }

    pub fn expect(&mut self, expected: u8) -> DerResult<Tlv<'a>> {
        let tlv = self.read_tlv()?;
        if tlv.tag != expected {
            return Err(DerError::UnexpectedTag {
                found: tlv.tag,
                expected,
            });
        }
        Ok(tlv)
    }

    /// Enters a constructed value with the given tag, returning a reader over its content.
    pub fn enter(&mut self, expected: u8) -> DerResult<DerReader<'a>> {
        let tlv = self.expect(expected)?;
        self.nested(tlv.content)
    }

    pub fn sequence(&mut self) -> DerResult<DerReader<'a>> {
        self.enter(tag::SEQUENCE)
    }

    /// `[n] EXPLICIT …` if present at the current position.
    pub fn optional_context(&mut self, n: u8) -> DerResult<Option<DerReader<'a>>> {
        if self.peek_tag() == Some(tag::context(n)) {
            self.enter(tag::context(n)).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Mandatory `[n] EXPLICIT …`.
    pub fn context(&mut self, n: u8) -> DerResult<DerReader<'a>> {
        self.optional_context(n)?.ok_or(DerError::MissingField(n))
    }

    pub fn integer(&mut self) -> DerResult<i64> {
        let tlv = self.expect(tag::INTEGER)?;
        decode_integer(tlv.content)
    }

    pub fn int32(&mut self) -> DerResult<i32> {
        i32::try_from(self.integer()?).map_err(|_| DerError::BadValue("Int32 out of range"))
    }

    /// UInt32 (RFC 4120 §5.2.4). Accepts a negative Int32 too and keeps its bit pattern, because
    /// some clients encode nonces that way.
    pub fn uint32(&mut self) -> DerResult<u32> {
        let v = self.integer()?;
        if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) {
            Ok(v as u32)
        } else {
            Err(DerError::BadValue("UInt32 out of range"))
        }
    }

    pub fn boolean(&mut self) -> DerResult<bool> {
        let tlv = self.expect(tag::BOOLEAN)?;
        match tlv.content {
            [b] => Ok(*b != 0),
            _ => Err(DerError::BadValue("BOOLEAN length")),
        }
    }

    pub fn octet_string(&mut self) -> DerResult<Vec<u8>> {
        Ok(self.expect(tag::OCTET_STRING)?.content.to_vec())
    }

    /// KerberosString: GeneralString carrying UTF-8.
    pub fn kerberos_string(&mut self) -> DerResult<String> {
        let tlv = self.expect(tag::GENERAL_STRING)?;
        String::from_utf8(tlv.content.to_vec()).map_err(|_| DerError::BadValue("KerberosString not UTF-8"))
    }

    /// KerberosFlags (BIT STRING, RFC 4120 §5.2.8): bit 0 is the most significant bit of the
    /// first octet. Returns the first 32 bits.
    pub fn flags(&mut self) -> DerResult<u32> {
        let tlv = self.expect(tag::BIT_STRING)?;
        let (unused, bits) = tlv
            .content
            .split_first()
            .ok_or(DerError::BadValue("empty BIT STRING"))?;
        if *unused > 7 {
            return Err(DerError::BadValue("BIT STRING unused bits"));
        }
        let mut word = [0u8; 4];
        for (i, b) in bits.iter().take(4).enumerate() {
            word[i] = *b;
        }
        Ok(u32::from_be_bytes(word))
    }

    /// KerberosTime (GeneralizedTime `YYYYMMDDHHMMSSZ`, RFC 4120 §5.2.3) as Unix seconds.
    pub fn kerberos_time(&mut self) -> DerResult<i64> {
        let tlv = self.expect(tag::GENERALIZED_TIME)?;
        parse_generalized_time(tlv.content)
    }

    /// Reads a `SEQUENCE OF` with `item` applied to each element.
    pub fn sequence_of<T>(
        &mut self,
        mut item: impl FnMut(&mut DerReader<'a>) -> DerResult<T>,
    ) -> DerResult<Vec<T>> {
        let mut inner = self.sequence()?;
        let mut out = Vec::new();
        while !inner.is_empty() {
            out.push(item(&mut inner)?);
        }
        Ok(out)
    }
}

fn decode_integer(content: &[u8]) -> DerResult<i64> {
    if content.is_empty() || content.len() > 9 {
        return Err(DerError::BadValue("INTEGER length"));
    }
    let negative = content[0] & 0x80 != 0;
    let mut value: i128 = if negative { -1 } else { 0 };
    for b in content {
        value = (value << 8) | i128::from(*b);
    }
    i64::try_from(value).map_err(|_| DerError::BadValue("INTEGER too large"))
}

fn parse_generalized_time(s: &[u8]) -> DerResult<i64> {
    // RFC 4120 §5.2.3: no fractional seconds, always Z. Accept fractions leniently.
    let bad = DerError::BadValue("KerberosTime");
    if s.len() < 15 || *s.last().ok_or(bad.clone())? != b'Z' || !s[..14].iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let num =
        |r: std::ops::Range<usize>| -> i64 { s[r].iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')) };
    let month = time::Month::try_from(num(4..6) as u8).map_err(|_| bad.clone())?;
    let date =
        time::Date::from_calendar_date(num(0..4) as i32, month, num(6..8) as u8).map_err(|_| bad.clone())?;
    let time_of_day = time::Time::from_hms(num(8..10) as u8, num(10..12) as u8, num(12..14) as u8)
        .map_err(|_| bad.clone())?;
    Ok(date.with_time(time_of_day).assume_utc().unix_timestamp())
}

/// `YYYYMMDDHHMMSSZ` for Unix seconds, clamped to years 0000–9999.
pub fn format_generalized_time(unix: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(unix.clamp(-62_167_219_200, 253_402_300_799))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Builds DER by nesting closures; each constructed value is length-prefixed when closed.
#[derive(Debug, Default)]
pub struct DerWriter {
    buf: Vec<u8>,
}

impl DerWriter {
    pub fn new() -> Self {
        DerWriter::default()
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    pub fn raw(&mut self, tlv_bytes: &[u8]) {
        self.buf.extend_from_slice(tlv_bytes);
    }

    pub fn tlv(&mut self, tag: u8, content: &[u8]) {
        self.buf.push(tag);
        let len = content.len();
        if len < 0x80 {
            self.buf.push(len as u8);
        } else {
            let bytes = (len as u64).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            self.buf.push(0x80 | (8 - skip) as u8);
            self.buf.extend_from_slice(&bytes[skip..]);
        }
        self.buf.extend_from_slice(content);
    }

    pub fn constructed(&mut self, tag: u8, body: impl FnOnce(&mut DerWriter)) {
        let mut inner = DerWriter::new();
        body(&mut inner);
        self.tlv(tag, &inner.buf);
    }

    pub fn sequence(&mut self, body: impl FnOnce(&mut DerWriter)) {
        self.constructed(tag::SEQUENCE, body);
    }

    pub fn context(&mut self, n: u8, body: impl FnOnce(&mut DerWriter)) {
        self.constructed(tag::context(n), body);
    }

    pub fn integer(&mut self, v: i64) {
        let bytes = v.to_be_bytes();
        // Minimal two's-complement form (X.690 §8.3.2).
        let mut start = 0;
        while start < 7
            && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
        {
            start += 1;
        }
        self.tlv(tag::INTEGER, &bytes[start..]);
    }

    pub fn boolean(&mut self, v: bool) {
        self.tlv(tag::BOOLEAN, &[if v { 0xff } else { 0 }]);
    }

    pub fn octet_string(&mut self, v: &[u8]) {
        self.tlv(tag::OCTET_STRING, v);
    }

    pub fn kerberos_string(&mut self, v: &str) {
        self.tlv(tag::GENERAL_STRING, v.as_bytes());
    }

    /// KerberosFlags as 32 bits (RFC 4120 §5.2.8: "at least 32 bits").
    pub fn flags(&mut self, v: u32) {
        let b = v.to_be_bytes();
        self.tlv(tag::BIT_STRING, &[0, b[0], b[1], b[2], b[3]]);
    }

    pub fn kerberos_time(&mut self, unix: i64) {
        self.tlv(tag::GENERALIZED_TIME, format_generalized_time(unix).as_bytes());
    }

    pub fn sequence_of<T>(&mut self, items: &[T], mut item: impl FnMut(&mut DerWriter, &T)) {
        self.sequence(|w| {
            for i in items {
                item(w, i);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_minimal_form() {
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
            -138,
            i64::from(u32::MAX),
            i64::from(i32::MIN),
        ] {
            let mut w = DerWriter::new();
            w.integer(v);
            let bytes = w.finish();
            assert_eq!(DerReader::new(&bytes).integer().unwrap(), v, "{v}");
        }
        let mut w = DerWriter::new();
        w.integer(128);
        assert_eq!(w.finish(), [0x02, 0x02, 0x00, 0x80]);
    }

    #[test]
    fn long_lengths_round_trip() {
        let content = vec![7u8; 300];
        let mut w = DerWriter::new();
        w.octet_string(&content);
        let bytes = w.finish();
        assert_eq!(&bytes[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(DerReader::new(&bytes).octet_string().unwrap(), content);
    }

    #[test]
    fn times_round_trip() {
        let mut w = DerWriter::new();
        w.kerberos_time(1_700_000_000);
        let bytes = w.finish();
        assert_eq!(&bytes[2..], b"20231114221320Z");
        assert_eq!(DerReader::new(&bytes).kerberos_time().unwrap(), 1_700_000_000);
    }

    #[test]
    fn truncated_and_oversized_lengths_are_errors() {
        assert_eq!(
            DerReader::new(&[0x30]).read_tlv().unwrap_err(),
            DerError::Truncated
        );
        assert_eq!(
            DerReader::new(&[0x30, 0x05, 0x01]).read_tlv().unwrap_err(),
            DerError::Truncated
        );
        assert_eq!(
            DerReader::new(&[0x30, 0x85, 1, 1, 1, 1, 1])
                .read_tlv()
                .unwrap_err(),
            DerError::BadLength
        );
        assert_eq!(
            DerReader::new(&[0x30, 0x80]).read_tlv().unwrap_err(),
            DerError::BadLength
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut bytes = vec![0x05, 0x00];
        for _ in 0..40 {
            let mut w = DerWriter::new();
            w.tlv(tag::SEQUENCE, &bytes);
            bytes = w.finish();
        }
        let mut r = DerReader::new(&bytes);
        let mut result = Ok(());
        let mut current = r.sequence();
        while let Ok(mut inner) = current {
            if inner.peek_tag() != Some(tag::SEQUENCE) {
                break;
            }
            current = inner.sequence();
            if let Err(e) = &current {
                result = Err(e.clone());
            }
        }
        assert_eq!(result, Err(DerError::TooDeep));
    }
}
