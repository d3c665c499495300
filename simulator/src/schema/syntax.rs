//! AD attribute syntaxes (MS-ADTS 3.1.1.2.2.2): the attributeSyntax/oMSyntax pair that defines
//! each, the LDAP syntax OID AD publishes for it in the subschema, and the value rules adsim applies:
//! validation (what an add/modify accepts), equality normalisation (what filters and duplicate
//! checks compare) and ordering (what `>=`/`<=` filters and server-side sort use).

use std::cmp::Ordering;

use super::dn;
use super::time;
use crate::security::Sid;

/// One AD syntax. The variant names follow the MS-ADTS / adschema "Syntaxes" names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// Boolean, 2.5.5.8 / 1.
    Boolean,
    /// Integer, 2.5.5.9 / 2 (32-bit).
    Integer,
    /// Enumeration, 2.5.5.9 / 10.
    Enumeration,
    /// LargeInteger (and Interval), 2.5.5.16 / 65 (64-bit).
    LargeInteger,
    /// String(Object-Identifier), 2.5.5.2 / 6.
    ObjectIdentifier,
    /// Object(DS-DN), 2.5.5.1 / 127.
    DsDn,
    /// Object(DN-Binary), 2.5.5.7 / 127 / 1.2.840.113556.1.1.1.11: `B:<n>:<hex>:<dn>`.
    DnBinary,
    /// Object(OR-Name), 2.5.5.7 / 127 / 2.6.6.1.2.5.11.29.
    OrName,
    /// Object(DN-String), 2.5.5.14 / 127 / 1.2.840.113556.1.1.1.12: `S:<n>:<string>:<dn>`.
    DnString,
    /// Object(Access-Point), 2.5.5.14 / 127 / 1.3.12.2.1011.28.0.702.
    AccessPoint,
    /// Object(Presentation-Address), 2.5.5.13 / 127.
    PresentationAddress,
    /// Object(Replica-Link), 2.5.5.10 / 127 / 1.2.840.113556.1.1.1.6.
    ReplicaLink,
    /// String(Octet), 2.5.5.10 / 4.
    OctetString,
    /// String(Sid), 2.5.5.17 / 4.
    Sid,
    /// String(NT-Sec-Desc), 2.5.5.15 / 66: a self-relative security descriptor.
    NtSecurityDescriptor,
    /// String(Unicode) / Directory String, 2.5.5.12 / 64.
    UnicodeString,
    /// String(Teletex) / case-ignore string, 2.5.5.4 / 20.
    CaseIgnoreString,
    /// String(Case), 2.5.5.3 / 27.
    CaseExactString,
    /// String(Printable), 2.5.5.5 / 19.
    PrintableString,
    /// String(IA5), 2.5.5.5 / 22.
    Ia5String,
    /// String(Numeric), 2.5.5.6 / 18.
    NumericString,
    /// String(Generalized-Time), 2.5.5.11 / 24.
    GeneralizedTime,
    /// String(UTC-Time), 2.5.5.11 / 23.
    UtcTime,
}

/// A value that the syntax rejects; AD answers invalidAttributeSyntax (21).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value is not a valid {syntax:?}: {reason}")]
pub struct SyntaxError {
    pub syntax: Syntax,
    pub reason: &'static str,
}

impl Syntax {
    /// attributeSyntax of attributeSchema objects with this syntax.
    pub fn attribute_syntax(self) -> &'static str {
        use Syntax::*;
        match self {
            DsDn => "2.5.5.1",
            ObjectIdentifier => "2.5.5.2",
            CaseExactString => "2.5.5.3",
            CaseIgnoreString => "2.5.5.4",
            PrintableString | Ia5String => "2.5.5.5",
            NumericString => "2.5.5.6",
            DnBinary | OrName => "2.5.5.7",
            Boolean => "2.5.5.8",
            Integer | Enumeration => "2.5.5.9",
            OctetString | ReplicaLink => "2.5.5.10",
            GeneralizedTime | UtcTime => "2.5.5.11",
            UnicodeString => "2.5.5.12",
            PresentationAddress => "2.5.5.13",
            DnString | AccessPoint => "2.5.5.14",
            NtSecurityDescriptor => "2.5.5.15",
            LargeInteger => "2.5.5.16",
            Sid => "2.5.5.17",
        }
    }

    /// oMSyntax of attributeSchema objects with this syntax.
    pub fn om_syntax(self) -> u32 {
        use Syntax::*;
        match self {
            Boolean => 1,
            Integer => 2,
            OctetString | Sid => 4,
            ObjectIdentifier => 6,
            Enumeration => 10,
            NumericString => 18,
            PrintableString => 19,
            CaseIgnoreString => 20,
            Ia5String => 22,
            UtcTime => 23,
            GeneralizedTime => 24,
            CaseExactString => 27,
            UnicodeString => 64,
            LargeInteger => 65,
            NtSecurityDescriptor => 66,
            DsDn | DnBinary | OrName | DnString | AccessPoint | PresentationAddress | ReplicaLink => 127,
        }
    }

    /// oMObjectClass for the object syntaxes (oMSyntax 127), as a dotted OID.
    pub fn om_object_class(self) -> Option<&'static str> {
        use Syntax::*;
        match self {
            DsDn => Some("1.3.12.2.1011.28.0.714"),
            DnBinary => Some("1.2.840.113556.1.1.1.11"),
            OrName => Some("2.6.6.1.2.5.11.29"),
            DnString => Some("1.2.840.113556.1.1.1.12"),
            AccessPoint => Some("1.3.12.2.1011.28.0.702"),
            PresentationAddress => Some("1.3.12.2.1011.28.0.732"),
            ReplicaLink => Some("1.2.840.113556.1.1.1.6"),
            _ => None,
        }
    }

    /// The SYNTAX that AD writes for this syntax in the subschema's attributeTypes (checked
    /// against a Windows Server 2012 R2 subschema capture). Replica-Link really is published as the
    /// bare word `OctetString`.
    pub fn ldap_syntax_oid(self) -> &'static str {
        use Syntax::*;
        match self {
            Boolean => "1.3.6.1.4.1.1466.115.121.1.7",
            Integer | Enumeration => "1.3.6.1.4.1.1466.115.121.1.27",
            LargeInteger => "1.2.840.113556.1.4.906",
            ObjectIdentifier => "1.3.6.1.4.1.1466.115.121.1.38",
            DsDn => "1.3.6.1.4.1.1466.115.121.1.12",
            DnBinary => "1.2.840.113556.1.4.903",
            OrName => "1.2.840.113556.1.4.1221",
            DnString => "1.2.840.113556.1.4.904",
            AccessPoint => "1.3.6.1.4.1.1466.115.121.1.2",
            PresentationAddress => "1.3.6.1.4.1.1466.115.121.1.43",
            ReplicaLink => "OctetString",
            OctetString | Sid => "1.3.6.1.4.1.1466.115.121.1.40",
            NtSecurityDescriptor => "1.2.840.113556.1.4.907",
            UnicodeString => "1.3.6.1.4.1.1466.115.121.1.15",
            CaseIgnoreString => "1.2.840.113556.1.4.905",
            CaseExactString => "1.2.840.113556.1.4.1362",
            PrintableString => "1.3.6.1.4.1.1466.115.121.1.44",
            Ia5String => "1.3.6.1.4.1.1466.115.121.1.26",
            NumericString => "1.3.6.1.4.1.1466.115.121.1.36",
            GeneralizedTime => "1.3.6.1.4.1.1466.115.121.1.24",
            UtcTime => "1.3.6.1.4.1.1466.115.121.1.53",
        }
    }

    /// The syntax an attributeSchema object declares, if AD defines that combination.
    pub fn from_schema(
        attribute_syntax: &str,
        om_syntax: u32,
        om_object_class: Option<&str>,
    ) -> Option<Syntax> {
        ALL.iter().copied().find(|s| {
            s.attribute_syntax() == attribute_syntax
                && s.om_syntax() == om_syntax
                && (om_syntax != 127 || s.om_object_class() == om_object_class)
        })
    }

    /// DN-valued syntaxes whose values name directory objects.
    pub fn is_dn(self) -> bool {
        matches!(
            self,
            Syntax::DsDn | Syntax::DnBinary | Syntax::DnString | Syntax::OrName
        )
    }

    /// Syntaxes whose equality ignores case (MS-ADTS 3.1.1.2.2.2; String(Case), String(IA5) and
    /// String(Printable) are case-sensitive in AD).
    pub fn is_case_insensitive(self) -> bool {
        use Syntax::*;
        matches!(
            self,
            UnicodeString
                | CaseIgnoreString
                | ObjectIdentifier
                | DsDn
                | OrName
                | DnBinary
                | DnString
                | AccessPoint
                | PresentationAddress
        )
    }

    fn err(self, reason: &'static str) -> SyntaxError {
        SyntaxError { syntax: self, reason }
    }

    /// Checks one value as an add or modify carries it. AD stores no empty values: a zero-length
    /// value is a syntax error for every syntax (observed: empty string -> invalidAttributeSyntax).
    pub fn validate(self, value: &[u8]) -> Result<(), SyntaxError> {
        use Syntax::*;
        if value.is_empty() {
            return Err(self.err("empty value"));
        }
        match self {
            Boolean => parse_boolean(value)
                .map(|_| ())
                .ok_or(self.err("expected TRUE or FALSE")),
            Integer | Enumeration => parse_i32(value)
                .map(|_| ())
                .ok_or(self.err("not a 32-bit integer")),
            LargeInteger => parse_i64(value)
                .map(|_| ())
                .ok_or(self.err("not a 64-bit integer")),
            ObjectIdentifier => {
                let s = self.utf8(value)?;
                if is_numeric_oid(s) || is_descriptor(s) {
                    Ok(())
                } else {
                    Err(self.err("not an OID or attribute/class name"))
                }
            }
            DsDn | OrName => dn::validate_dn_value(self.utf8(value)?).map_err(|r| self.err(r)),
            DnBinary => dn::parse_dn_binary(self.utf8(value)?)
                .map(|_| ())
                .map_err(|r| self.err(r)),
            DnString => dn::parse_dn_string(self.utf8(value)?)
                .map(|_| ())
                .map_err(|r| self.err(r)),
            UnicodeString | CaseIgnoreString | CaseExactString | AccessPoint | PresentationAddress => {
                self.utf8(value).map(|_| ())
            }
            PrintableString => {
                if value.iter().all(|&b| is_printable_char(b)) {
                    Ok(())
                } else {
                    Err(self.err("character outside PrintableString"))
                }
            }
            Ia5String => {
                if value.is_ascii() {
                    Ok(())
                } else {
                    Err(self.err("character outside IA5"))
                }
            }
            NumericString => {
                if value.iter().all(|&b| b.is_ascii_digit() || b == b' ') {
                    Ok(())
                } else {
                    Err(self.err("character outside NumericString"))
                }
            }
            GeneralizedTime => time::parse_generalized_time(self.utf8(value)?)
                .map(|_| ())
                .map_err(|r| self.err(r)),
            UtcTime => time::parse_utc_time(self.utf8(value)?)
                .map(|_| ())
                .map_err(|r| self.err(r)),
            Sid => crate::security::Sid::from_bytes(value)
                .map(|_| ())
                .map_err(|_| self.err("not a binary SID")),
            NtSecurityDescriptor => validate_self_relative_sd(value).map_err(|r| self.err(r)),
            OctetString | ReplicaLink => Ok(()),
        }
    }

    fn utf8(self, value: &[u8]) -> Result<&str, SyntaxError> {
        std::str::from_utf8(value).map_err(|_| self.err("not UTF-8"))
    }

    /// The form equality compares: two values are equal under this syntax iff their normalised
    /// forms are byte-equal. Strings that ignore case are lower-cased (Unicode), DNs are put in
    /// canonical form, numbers and times in canonical text. A value that does not validate is
    /// returned unchanged (it can then only match itself).
    pub fn normalize(self, value: &[u8]) -> Vec<u8> {
        use Syntax::*;
        let text = std::str::from_utf8(value).ok();
        let normalized: Option<String> = match self {
            Boolean => parse_boolean(value).map(|b| if b { "TRUE" } else { "FALSE" }.to_string()),
            Integer | Enumeration => parse_i32(value).map(|n| n.to_string()),
            LargeInteger => parse_i64(value).map(|n| n.to_string()),
            ObjectIdentifier | UnicodeString | CaseIgnoreString | AccessPoint | PresentationAddress => {
                text.map(str::to_lowercase)
            }
            DsDn | OrName => text.and_then(|t| dn::normalize_dn_value(t).ok()),
            DnBinary => text
                .and_then(|t| dn::parse_dn_binary(t).ok())
                .map(|v| v.normalized()),
            DnString => text
                .and_then(|t| dn::parse_dn_string(t).ok())
                .map(|v| v.normalized()),
            NumericString => text.map(|t| t.chars().filter(|c| *c != ' ').collect()),
            GeneralizedTime => text
                .and_then(|t| time::parse_generalized_time(t).ok())
                .map(time::format_generalized_time),
            UtcTime => text
                .and_then(|t| time::parse_utc_time(t).ok())
                .map(time::format_utc_time),
            CaseExactString | PrintableString | Ia5String | OctetString | Sid | NtSecurityDescriptor
            | ReplicaLink => None,
        };
        normalized
            .map(String::into_bytes)
            .unwrap_or_else(|| value.to_vec())
    }

    /// Ordering for `>=`/`<=` filters and server-side sort: numeric for integers, chronological
    /// for times, by normalised text for strings, bytewise for octet strings. None when the syntax
    /// has no ordering rule (DNs, booleans, security descriptors, …) or a value does not parse.
    pub fn compare(self, a: &[u8], b: &[u8]) -> Option<Ordering> {
        use Syntax::*;
        match self {
            Integer | Enumeration => Some(parse_i32(a)?.cmp(&parse_i32(b)?)),
            LargeInteger => Some(parse_i64(a)?.cmp(&parse_i64(b)?)),
            GeneralizedTime => {
                let (x, y) = (std::str::from_utf8(a).ok()?, std::str::from_utf8(b).ok()?);
                Some(
                    time::parse_generalized_time(x)
                        .ok()?
                        .cmp(&time::parse_generalized_time(y).ok()?),
                )
            }
            UtcTime => {
                let (x, y) = (std::str::from_utf8(a).ok()?, std::str::from_utf8(b).ok()?);
                Some(time::parse_utc_time(x).ok()?.cmp(&time::parse_utc_time(y).ok()?))
            }
            UnicodeString | CaseIgnoreString | CaseExactString | PrintableString | Ia5String
            | NumericString => {
                std::str::from_utf8(a).ok()?;
                std::str::from_utf8(b).ok()?;
                Some(self.normalize(a).cmp(&self.normalize(b)))
            }
            OctetString | Sid => Some(a.cmp(b)),
            Boolean | ObjectIdentifier | DsDn | DnBinary | OrName | DnString | AccessPoint
            | PresentationAddress | ReplicaLink | NtSecurityDescriptor => None,
        }
    }
}

/// Every syntax, for lookups by schema triple.
pub const ALL: [Syntax; 23] = [
    Syntax::Boolean,
    Syntax::Integer,
    Syntax::Enumeration,
    Syntax::LargeInteger,
    Syntax::ObjectIdentifier,
    Syntax::DsDn,
    Syntax::DnBinary,
    Syntax::OrName,
    Syntax::DnString,
    Syntax::AccessPoint,
    Syntax::PresentationAddress,
    Syntax::ReplicaLink,
    Syntax::OctetString,
    Syntax::Sid,
    Syntax::NtSecurityDescriptor,
    Syntax::UnicodeString,
    Syntax::CaseIgnoreString,
    Syntax::CaseExactString,
    Syntax::PrintableString,
    Syntax::Ia5String,
    Syntax::NumericString,
    Syntax::GeneralizedTime,
    Syntax::UtcTime,
];

/// RFC 4517 3.3.3: exactly `TRUE` or `FALSE` (Samba, which is tested against Windows, is
/// case-sensitive here too).
fn parse_boolean(value: &[u8]) -> Option<bool> {
    match value {
        b"TRUE" => Some(true),
        b"FALSE" => Some(false),
        _ => None,
    }
}

/// Decimal digits with an optional leading `-`; no `+`, no spaces.
fn parse_decimal(value: &[u8]) -> Option<i128> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A 32-bit Integer. Values in (i32::MAX, u32::MAX] are taken as their two's-complement i32, the
/// form AD returns (groupType 0x80000002 reads back as -2147483646); tagged inferred: clients
/// commonly write flags unsigned.
fn parse_i32(value: &[u8]) -> Option<i32> {
    let n = parse_decimal(value)?;
    if (i32::MIN as i128..=i32::MAX as i128).contains(&n) {
        Some(n as i32)
    } else if (0..=u32::MAX as i128).contains(&n) {
        Some(n as u32 as i32)
    } else {
        None
    }
}

fn parse_i64(value: &[u8]) -> Option<i64> {
    i64::try_from(parse_decimal(value)?).ok()
}

/// RFC 4512 1.4 numericoid: number 1*( DOT number ), numbers without leading zeros.
pub fn is_numeric_oid(s: &str) -> bool {
    let mut arcs = 0;
    for arc in s.split('.') {
        if arc.is_empty()
            || !arc.bytes().all(|b| b.is_ascii_digit())
            || (arc.len() > 1 && arc.starts_with('0'))
        {
            return false;
        }
        arcs += 1;
    }
    arcs >= 2
}

/// RFC 4512 1.4 descr: ALPHA *( ALPHA / DIGIT / HYPHEN ).
pub fn is_descriptor(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// RFC 4517 3.2 PrintableCharacter.
fn is_printable_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

/// MS-DTYP 2.4.6 SECURITY_DESCRIPTOR in self-relative form: revision 1, the SE_SELF_RELATIVE
/// control bit, and owner/group/SACL/DACL offsets inside the buffer.
fn validate_self_relative_sd(value: &[u8]) -> Result<(), &'static str> {
    const HEADER: usize = 20;
    const SE_SELF_RELATIVE: u16 = 0x8000;
    if value.len() < HEADER {
        return Err("security descriptor shorter than its header");
    }
    if value[0] != 1 {
        return Err("security descriptor revision is not 1");
    }
    let control = u16::from_le_bytes([value[2], value[3]]);
    if control & SE_SELF_RELATIVE == 0 {
        return Err("security descriptor is not self-relative");
    }
    for at in [4usize, 8, 12, 16] {
        let offset = u32::from_le_bytes([value[at], value[at + 1], value[at + 2], value[at + 3]]) as usize;
        if offset != 0 && (offset < HEADER || offset >= value.len()) {
            return Err("security descriptor offset outside the buffer");
        }
    }
    Ok(())
}

/// The Sid syntax also accepts the string form in filters (AD matches `(objectSid=S-1-5-…)`);
/// this turns such an assertion value into the binary form the directory stores.
pub fn sid_assertion_to_binary(value: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?;
    if !text.get(..2)?.eq_ignore_ascii_case("S-") {
        return None;
    }
    text.to_ascii_uppercase()
        .parse::<Sid>()
        .ok()
        .map(|sid| sid.to_bytes())
}
