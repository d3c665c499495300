//! Distinguished names as AD's DN-valued syntaxes carry them: RFC 4514 string DNs, AD's extended
//! forms `<GUID=…>`/`<SID=…>`/`<WKGUID=…>` (MS-ADTS 3.1.1.3.1.2.4), and the Object(DN-Binary) /
//! Object(DN-String) wrappers `B:<n>:<hex>:<dn>` / `S:<n>:<text>:<dn>` (MS-ADTS 3.1.1.2.2.2).
//! Equality of DNs ignores case in attribute types and values and the spaces around `=`, `,` and
//! `+` (RFC 4514 2.4 / 3; AD compares names case-insensitively).

/// One attribute-value assertion of an RDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    /// The attribute type as written (descriptor or numeric OID).
    pub attr: String,
    /// The value with RFC 4514 escapes resolved; `#hex` values are kept as written.
    pub value: String,
    /// The value was given in the `#hex` (BER) form.
    pub hex: bool,
}

/// One RDN: usually one AVA, several when joined with `+`.
pub type Rdn = Vec<Ava>;

/// Parses an RFC 4514 DN. The empty string is the root DN (no RDNs).
pub fn parse_dn(text: &str) -> Result<Vec<Rdn>, &'static str> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut rdns = Vec::new();
    if text.trim().is_empty() {
        return Ok(rdns);
    }
    loop {
        let mut rdn = vec![parser.ava()?];
        loop {
            match parser.peek() {
                Some('+') => {
                    parser.pos += 1;
                    rdn.push(parser.ava()?);
                }
                Some(',') => {
                    parser.pos += 1;
                    rdns.push(rdn);
                    break;
                }
                None => {
                    rdns.push(rdn);
                    return Ok(rdns);
                }
                Some(_) => return Err("unexpected character after an RDN value"),
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    fn ava(&mut self) -> Result<Ava, &'static str> {
        self.skip_spaces();
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            self.pos += 1;
        }
        let attr: String = self.chars[start..self.pos].iter().collect();
        if attr.is_empty() {
            return Err("empty attribute type in RDN");
        }
        if !(super::syntax::is_descriptor(&attr) || super::syntax::is_numeric_oid(&attr)) {
            return Err("attribute type in RDN is neither a name nor an OID");
        }
        self.skip_spaces();
        if self.peek() != Some('=') {
            return Err("missing '=' in RDN");
        }
        self.pos += 1;
        self.skip_spaces();
        let (value, hex) = if self.peek() == Some('#') {
            (self.hex_value()?, true)
        } else {
            (self.string_value()?, false)
        };
        if value.is_empty() {
            return Err("empty RDN value");
        }
        Ok(Ava { attr, value, hex })
    }

    fn hex_value(&mut self) -> Result<String, &'static str> {
        let start = self.pos;
        self.pos += 1;
        while matches!(self.peek(), Some(c) if c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let digits = self.pos - start - 1;
        if digits == 0 || digits % 2 != 0 {
            return Err("bad #hex RDN value");
        }
        let value = self.chars[start..self.pos].iter().collect();
        self.skip_spaces();
        Ok(value)
    }

    /// Reads up to an unescaped `,` or `+`; unescaped trailing spaces are not part of the value.
    fn string_value(&mut self) -> Result<String, &'static str> {
        let mut value = String::new();
        let mut kept_len = 0; // length up to the last escaped or non-space character
        while let Some(c) = self.peek() {
            match c {
                ',' | '+' => break,
                '\\' => {
                    self.pos += 1;
                    let escaped = self.escape()?;
                    value.push_str(&escaped);
                    kept_len = value.len();
                }
                _ => {
                    self.pos += 1;
                    value.push(c);
                    if c != ' ' {
                        kept_len = value.len();
                    }
                }
            }
        }
        value.truncate(kept_len);
        Ok(value)
    }

    /// After a backslash: a special character, or hex pairs forming UTF-8 bytes.
    fn escape(&mut self) -> Result<String, &'static str> {
        let first = self.peek().ok_or("DN ends in a backslash")?;
        if !first.is_ascii_hexdigit() {
            self.pos += 1;
            return Ok(first.to_string());
        }
        let mut bytes = Vec::new();
        loop {
            let (hi, lo) = match (self.chars.get(self.pos), self.chars.get(self.pos + 1)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => (*h, *l),
                _ => return Err("bad \\hex escape in DN"),
            };
            let byte = (hi.to_digit(16).unwrap_or(0) * 16 + lo.to_digit(16).unwrap_or(0)) as u8;
            bytes.push(byte);
            self.pos += 2;
            // A multi-byte UTF-8 character is written as consecutive escaped pairs.
            if std::str::from_utf8(&bytes).is_ok() {
                break;
            }
            if bytes.len() >= 4 || self.peek() != Some('\\') {
                return Err("escaped bytes in DN are not UTF-8");
            }
            self.pos += 1;
        }
        String::from_utf8(bytes).map_err(|_| "escaped bytes in DN are not UTF-8")
    }
}

/// The canonical form used for equality: lower-case types and values, no optional spaces,
/// minimal RFC 4514 escaping.
pub fn normalize_dn(text: &str) -> Result<String, &'static str> {
    Ok(format_dn(&parse_dn(text)?, true))
}

/// Writes RDNs back as an RFC 4514 string; `fold_case` lower-cases types and values.
pub fn format_dn(rdns: &[Rdn], fold_case: bool) -> String {
    let mut out = String::new();
    for (i, rdn) in rdns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, ava) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            if fold_case {
                out.push_str(&ava.attr.to_ascii_lowercase());
            } else {
                out.push_str(&ava.attr);
            }
            out.push('=');
            let value = if fold_case {
                ava.value.to_lowercase()
            } else {
                ava.value.clone()
            };
            if ava.hex {
                out.push_str(&value);
            } else {
                escape_value(&value, &mut out);
            }
        }
    }
    out
}

/// RFC 4514 2.4: escape the specials, a leading `#` or space and a trailing space.
fn escape_value(value: &str, out: &mut String) {
    let count = value.chars().count();
    for (i, c) in value.chars().enumerate() {
        let leading = i == 0 && (c == '#' || c == ' ');
        let trailing = i + 1 == count && c == ' ';
        if leading || trailing || matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=') {
            out.push('\\');
            out.push(c);
        } else if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
}

/// A DN-syntax attribute value: a non-empty RFC 4514 DN, optionally preceded by (or made only of)
/// extended components `<GUID=…>;<SID=…>;` that name the object by identity.
pub fn validate_dn_value(text: &str) -> Result<(), &'static str> {
    if is_plain_dn(text) {
        return Ok(());
    }
    split_extended(text).map(|_| ())
}

/// A quick yes for the common DN (`CN=Person,CN=Schema,…`: no escapes, no multi-valued RDNs,
/// no `#hex` values, no extended components), checked without building the parsed form: each
/// `,`-separated part is `type = value` with a descriptor or numeric OID as the type and a
/// value that is not only spaces, exactly what [`parse_dn`] accepts for such text. False means
/// "ask the full parser", never "invalid" (objectCategory on every add; issue 12).
fn is_plain_dn(text: &str) -> bool {
    if text.trim().is_empty() || text.bytes().any(|b| matches!(b, b'\\' | b'+' | b'#' | b'<')) {
        return false;
    }
    text.split(',').all(|part| {
        let part = part.trim_start_matches(' ');
        let end = part
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            .unwrap_or(part.len());
        let (attr, rest) = part.split_at(end);
        let valid_type =
            !attr.is_empty() && (super::syntax::is_descriptor(attr) || super::syntax::is_numeric_oid(attr));
        valid_type
            && rest
                .trim_start_matches(' ')
                .strip_prefix('=')
                .is_some_and(|value| !value.trim_matches(' ').is_empty())
    })
}

/// Canonical form of a DN-syntax value (see [`validate_dn_value`]).
pub fn normalize_dn_value(text: &str) -> Result<String, &'static str> {
    let (extended, dn) = split_extended(text)?;
    let mut parts: Vec<String> = extended.iter().map(|c| c.to_ascii_lowercase()).collect();
    if let Some(dn) = dn {
        parts.push(format_dn(&dn, true));
    }
    Ok(parts.join(";"))
}

type ExtendedDn<'a> = (Vec<&'a str>, Option<Vec<Rdn>>);

/// Splits `<GUID=…>;<SID=…>;CN=…` into its extended components and its string DN.
fn split_extended(text: &str) -> Result<ExtendedDn<'_>, &'static str> {
    let mut rest = text.trim_start();
    let mut extended = Vec::new();
    while rest.starts_with('<') {
        let end = rest.find('>').ok_or("unterminated <…> component in DN")?;
        let component = &rest[..=end];
        check_extended_component(component)?;
        extended.push(component);
        rest = rest[end + 1..].trim_start();
        match rest.strip_prefix(';') {
            Some(after) => rest = after.trim_start(),
            None if rest.is_empty() => break,
            None => return Err("extended DN components must be separated by ';'"),
        }
    }
    if rest.trim().is_empty() {
        if extended.is_empty() {
            return Err("empty DN");
        }
        return Ok((extended, None));
    }
    let rdns = parse_dn(rest)?;
    Ok((extended, Some(rdns)))
}

/// MS-ADTS 3.1.1.3.1.2.4: `<GUID=guid>`, `<SID=sid>` (string or hex), `<WKGUID=guid,dn>`.
fn check_extended_component(component: &str) -> Result<(), &'static str> {
    let inner = &component[1..component.len() - 1];
    let (key, value) = inner.split_once('=').ok_or("extended DN component without '='")?;
    let ok = match key.to_ascii_uppercase().as_str() {
        "GUID" => is_guid_text(value),
        "SID" => value.parse::<crate::security::Sid>().is_ok() || is_hex(value),
        "WKGUID" => match value.split_once(',') {
            Some((guid, dn)) => guid.len() == 32 && is_hex(guid) && parse_dn(dn).is_ok(),
            None => false,
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err("malformed <GUID=…>/<SID=…>/<WKGUID=…> component")
    }
}

/// A GUID as 36-character text or 32 hex digits (both accepted by AD).
fn is_guid_text(value: &str) -> bool {
    if value.len() == 32 {
        return is_hex(value);
    }
    value.len() == 36
        && value.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_hex(value: &str) -> bool {
    !value.is_empty() && value.len() % 2 == 0 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A parsed Object(DN-Binary) or Object(DN-String) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDn {
    /// `B` (binary, the payload is hex) or `S` (string).
    pub kind: char,
    pub payload: String,
    pub dn: String,
}

impl WrappedDn {
    /// Canonical form: hex payloads compare without case; the DN is normalised.
    pub fn normalized(&self) -> String {
        let payload = if self.kind == 'B' {
            self.payload.to_ascii_lowercase()
        } else {
            self.payload.clone()
        };
        let dn = normalize_dn_value(&self.dn).unwrap_or_else(|_| self.dn.clone());
        format!(
            "{}:{}:{}:{}",
            self.kind,
            self.payload.chars().count(),
            payload,
            dn
        )
    }
}

/// `B:<char count>:<hex digits>:<dn>` (MS-ADTS 3.1.1.2.2.2.2 Object(DN-Binary)); the count is the
/// number of hex digits and must be even.
pub fn parse_dn_binary(text: &str) -> Result<WrappedDn, &'static str> {
    let v = parse_wrapped(text, 'B')?;
    if v.payload.len() % 2 != 0 || !v.payload.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("DN-Binary payload is not an even number of hex digits");
    }
    Ok(v)
}

/// `S:<char count>:<string>:<dn>` (Object(DN-String)).
pub fn parse_dn_string(text: &str) -> Result<WrappedDn, &'static str> {
    parse_wrapped(text, 'S')
}

fn parse_wrapped(text: &str, kind: char) -> Result<WrappedDn, &'static str> {
    let mut head = text.splitn(3, ':');
    let tag = head.next().ok_or("missing B:/S: tag")?;
    if !tag.eq_ignore_ascii_case(&kind.to_string()) {
        return Err("missing B:/S: tag");
    }
    let count: usize = head
        .next()
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse().ok())
        .ok_or("bad length in DN-Binary/DN-String")?;
    let rest = head.next().ok_or("truncated DN-Binary/DN-String")?;
    let split = rest
        .char_indices()
        .nth(count)
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if rest[..split].chars().count() != count || !rest[split..].starts_with(':') {
        return Err("DN-Binary/DN-String length does not match its payload");
    }
    let payload = rest[..split].to_string();
    let dn = rest[split + 1..].to_string();
    validate_dn_value(&dn)?;
    Ok(WrappedDn { kind, payload, dn })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick path only ever says yes where the full parser does: for every sample, built from
    /// pieces that stress each rule (spaces, types, OIDs, empty values, specials), a `true` from
    /// `is_plain_dn` comes with an `Ok` from the parser, and the common DNs take the quick path.
    #[test]
    fn plain_dn_quick_path_agrees_with_the_parser() {
        let types = [
            "CN",
            "cn",
            " DC ",
            "1.2.840.113556.1.4.1",
            "01.2",
            "c_n",
            "",
            "2cn",
            "o-u",
            "x.",
        ];
        let values = [
            "Users", "", "  ", " a b ", "a=b", "\"q\"", "a;b", "x\\,y", "#04", "a+b=c", "\t", "é",
        ];
        let mut samples = Vec::new();
        for t in types {
            for v in values {
                let rdn = format!("{t}={v}");
                samples.push(rdn.clone());
                samples.push(format!("{rdn},DC=corp"));
                samples.push(format!("CN=x,{rdn}"));
                samples.push(format!("{rdn},"));
                samples.push(format!("{t}{v}"));
            }
        }
        samples.extend(
            [
                "",
                " ",
                ",",
                "CN=a,,DC=b",
                "<GUID=x>",
                "CN=a, DC=b",
                "CN=a ,DC=b",
                "\tCN=a",
            ]
            .map(String::from),
        );
        for s in &samples {
            if is_plain_dn(s) {
                assert!(
                    split_extended(s).is_ok(),
                    "quick path accepted {s:?}, the parser refuses it"
                );
            }
            assert_eq!(validate_dn_value(s).is_ok(), split_extended(s).is_ok(), "{s:?}");
        }
        assert!(is_plain_dn(
            "CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test"
        ));
        assert!(!is_plain_dn("CN=a ,DC=b,CN= "));
    }
}
