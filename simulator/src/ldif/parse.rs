//! The LDIF record grammar (RFC 2849 §"Formal Syntax Definition of LDIF") over the logical
//! lines produced by [`super::lines`].

use std::path::{Path, PathBuf};

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::lines::{for_each_block, LogicalLine};
use super::url::{file_url_to_path, shorten};
use super::{AttrValue, LdifChange, LdifControl, LdifError, LdifMod, LdifRecord, ModOp};

/// How `attr:< URL` values are resolved.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Directory that relative `file:` URLs (`file:photo.jpg`) are resolved against. `None`
    /// refuses relative URLs; absolute ones (`file:///srv/photo.jpg`) are read either way.
    pub base_dir: Option<PathBuf>,
    /// Whether `attr:< file:…` values are read at all; when false they are an error.
    pub allow_file_urls: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            base_dir: None,
            allow_file_urls: true,
        }
    }
}

/// Parses LDIF text with the default [`ParseOptions`].
pub fn parse(text: &str) -> Result<Vec<LdifRecord>, LdifError> {
    parse_with(text.as_bytes(), &ParseOptions::default())
}

/// Parses LDIF bytes with the default [`ParseOptions`]. Folding is undone on bytes, so a fold
/// may fall inside a UTF-8 sequence.
pub fn parse_bytes(input: &[u8]) -> Result<Vec<LdifRecord>, LdifError> {
    parse_with(input, &ParseOptions::default())
}

/// Reads and parses an LDIF file; relative `file:` URLs resolve against the file's directory.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Vec<LdifRecord>, LdifError> {
    let (bytes, options) = read_file(path)?;
    parse_with(&bytes, &options)
}

/// An LDIF file's bytes, and the options its `file:` URLs resolve with (relative ones against
/// the file's directory).
pub fn read_file(path: impl AsRef<Path>) -> Result<(Vec<u8>, ParseOptions), LdifError> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| LdifError::at(0, format!("cannot read {}: {e}", path.display())))?;
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let options = ParseOptions {
        base_dir: Some(base_dir),
        allow_file_urls: true,
    };
    Ok((bytes, options))
}

/// Parses LDIF bytes.
pub fn parse_with(input: &[u8], options: &ParseOptions) -> Result<Vec<LdifRecord>, LdifError> {
    let mut records = Vec::new();
    parse_each(input, options, |r| {
        records.push(r);
        true
    })?;
    Ok(records)
}

/// Parses LDIF bytes and hands each record to `sink` as soon as it is parsed, in file order, so
/// that a bulk load applies each record while it is fresh and reuses its memory for the next
/// one. Stops at the first error (records before it have been handed over), or when `sink`
/// returns false.
pub fn parse_each(
    input: &[u8],
    options: &ParseOptions,
    mut sink: impl FnMut(LdifRecord) -> bool,
) -> Result<(), LdifError> {
    // Editors on Windows like to start UTF-8 files with a byte order mark.
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let parser = Parser { options };
    let mut first = true;
    for_each_block(input, |block| {
        let lines = if std::mem::take(&mut first) {
            parser.skip_version(block)?
        } else {
            block
        };
        Ok(lines.is_empty() || sink(parser.record(lines)?))
    })
}

/// True for an RFC 4512 attribute description: `descr` (letter, then letters, digits,
/// hyphens) or `numericoid`, then zero or more `;option`s of letters, digits and hyphens.
pub fn is_valid_attribute_description(text: &str) -> bool {
    let mut parts = text.split(';');
    let attr_type = parts.next().unwrap_or_default();
    let is_keychar = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let is_descr = attr_type.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && attr_type.bytes().all(is_keychar);
    (is_descr || is_numeric_oid(attr_type)) && parts.all(|opt| !opt.is_empty() && opt.bytes().all(is_keychar))
}

/// RFC 4512 §1.4 `numericoid = number 1*( DOT number )`, numbers without leading zeros.
fn is_numeric_oid(text: &str) -> bool {
    let mut count = 0;
    let all_numbers = text.split('.').all(|n| {
        count += 1;
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
    });
    all_numbers && count >= 2
}

/// The value part of a line, after the attribute description's colon.
#[derive(Clone, Copy)]
enum Raw<'a> {
    /// `attr: value` (leading FILL already skipped).
    Plain(&'a [u8]),
    /// `attr:: base64`
    Base64(&'a [u8]),
    /// `attr:< url`
    Url(&'a [u8]),
}

/// One `name: value` line.
struct Field<'a> {
    number: usize,
    name: &'a str,
    raw: Raw<'a>,
}

fn skip_fill(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let bytes = skip_fill(bytes);
    let end = bytes.iter().rposition(|b| *b != b' ').map_or(0, |p| p + 1);
    &bytes[..end]
}

/// `value-spec` without its first colon.
fn raw_value(after_colon: &[u8]) -> Raw<'_> {
    match after_colon.first() {
        Some(b':') => Raw::Base64(trim_spaces(&after_colon[1..])),
        Some(b'<') => Raw::Url(trim_spaces(&after_colon[1..])),
        _ => Raw::Plain(skip_fill(after_colon)),
    }
}

/// Bytes shown in an error message.
fn shown(bytes: &[u8]) -> String {
    shorten(&String::from_utf8_lossy(bytes))
}

fn field<'a>(line: &'a LogicalLine<'_>) -> Result<Field<'a>, LdifError> {
    let bytes = &line.bytes;
    let Some(colon) = bytes.iter().position(|b| *b == b':') else {
        return Err(LdifError::at(
            line.number,
            format!("expected `attribute: value`, found `{}` (no colon)", shown(bytes)),
        ));
    };
    let name = std::str::from_utf8(&bytes[..colon])
        .ok()
        .filter(|name| is_valid_attribute_description(name))
        .ok_or_else(|| {
            LdifError::at(
                line.number,
                format!(
                    "invalid attribute description `{}`: expected a name (a letter, then letters, digits \
                     or hyphens) or a numeric OID, optionally followed by `;options`",
                    shown(&bytes[..colon])
                ),
            )
        })?;
    Ok(Field {
        number: line.number,
        name,
        raw: raw_value(&bytes[colon + 1..]),
    })
}

/// Whether `line` is `keyword: …` (case-insensitive, RFC 5234 §2.3).
fn named(line: &LogicalLine, keyword: &str) -> bool {
    line.bytes.len() > keyword.len()
        && line.bytes[keyword.len()] == b':'
        && line.bytes[..keyword.len()].eq_ignore_ascii_case(keyword.as_bytes())
}

/// The `-` line that ends one modification of a modify record.
fn is_mod_separator(line: &LogicalLine) -> bool {
    line.bytes.first() == Some(&b'-') && line.bytes[1..].iter().all(|b| *b == b' ')
}

fn base64_engine() -> GeneralPurpose {
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(&base64::alphabet::STANDARD, config)
}

/// The line at `index` of a record body, which must be `keyword: …`.
fn expect_line<'b>(
    body: &'b [LogicalLine],
    index: usize,
    keyword: &str,
    what: &str,
    end_line: usize,
) -> Result<Field<'b>, LdifError> {
    match body.get(index) {
        Some(line) if named(line, keyword) => field(line),
        Some(line) => Err(LdifError::at(
            line.number,
            format!("expected {what}, found `{}`", shown(&line.bytes)),
        )),
        None => Err(LdifError::at(
            end_line,
            format!("expected {what}, found the end of the record"),
        )),
    }
}

struct Parser<'o> {
    options: &'o ParseOptions,
}

impl Parser<'_> {
    /// Drops a leading `version: 1` (optional in practice, though RFC 2849 requires it).
    fn skip_version<'b, 'i>(&self, block: &'b [LogicalLine<'i>]) -> Result<&'b [LogicalLine<'i>], LdifError> {
        match block.first() {
            Some(first) if named(first, "version") => {
                let f = field(first)?;
                let version = self.keyword(&f)?;
                if version != "1" {
                    return Err(LdifError::at(
                        f.number,
                        format!(
                            "unsupported LDIF version `{}`: expected `version: 1`",
                            shorten(version)
                        ),
                    ));
                }
                Ok(&block[1..])
            }
            _ => Ok(block),
        }
    }

    fn record(&self, lines: &[LogicalLine]) -> Result<LdifRecord, LdifError> {
        let first = field(&lines[0])?;
        if first.name.eq_ignore_ascii_case("version") {
            return Err(LdifError::at(
                first.number,
                "`version:` may only appear on the first line of the file",
            ));
        }
        if !first.name.eq_ignore_ascii_case("dn") {
            return Err(LdifError::at(
                first.number,
                format!("expected `dn:` to start a record, found `{}:`", first.name),
            ));
        }
        let dn = self.text(&first)?;
        let mut rest = &lines[1..];
        let mut controls = Vec::new();
        while let Some(line) = rest.first().filter(|l| named(l, "control")) {
            controls.push(self.control(line)?);
            rest = &rest[1..];
        }
        match rest.first() {
            Some(line) if named(line, "changetype") => {
                let change = self.change(line, &rest[1..])?;
                Ok(LdifRecord::Change { dn, controls, change })
            }
            Some(line) if !controls.is_empty() => Err(LdifError::at(
                line.number,
                format!(
                    "expected `changetype:` after the `control:` lines, found `{}`",
                    shown(&line.bytes)
                ),
            )),
            None if !controls.is_empty() => Err(LdifError::at(
                lines[lines.len() - 1].number,
                "expected `changetype:` after the `control:` lines, found the end of the record",
            )),
            None => Err(LdifError::at(
                first.number,
                "record has no attributes: expected `attribute: value` lines or `changetype:` after `dn:`",
            )),
            Some(_) => Ok(LdifRecord::Content {
                dn,
                attrs: self.attr_values(rest)?,
            }),
        }
    }

    fn attr_values(&self, lines: &[LogicalLine]) -> Result<Vec<AttrValue>, LdifError> {
        lines
            .iter()
            .map(|line| {
                let f = field(line)?;
                Ok((f.name.to_string(), self.value(&f)?))
            })
            .collect()
    }

    /// `control: oid [true|false] [value-spec]`
    fn control(&self, line: &LogicalLine) -> Result<LdifControl, LdifError> {
        let f = field(line)?;
        let expected = "expected `control: <numeric OID> [true|false] [: value]`";
        let Raw::Plain(text) = f.raw else {
            return Err(LdifError::at(f.number, expected));
        };
        let oid_end = text
            .iter()
            .position(|b| *b == b' ' || *b == b':')
            .unwrap_or(text.len());
        let oid = std::str::from_utf8(&text[..oid_end])
            .ok()
            .filter(|oid| is_numeric_oid(oid))
            .ok_or_else(|| {
                LdifError::at(
                    f.number,
                    format!("{expected}, found OID `{}`", shown(&text[..oid_end])),
                )
            })?;
        let mut rest = skip_fill(&text[oid_end..]);
        let mut critical = false;
        for (word, flag) in [("true", true), ("false", false)] {
            let len = word.len();
            if rest.len() >= len
                && rest[..len].eq_ignore_ascii_case(word.as_bytes())
                && matches!(rest.get(len), None | Some(b' ') | Some(b':'))
            {
                critical = flag;
                rest = skip_fill(&rest[len..]);
                break;
            }
        }
        let value = match rest.first() {
            None => None,
            Some(b':') => {
                let value_field = Field {
                    number: f.number,
                    name: "control",
                    raw: raw_value(&rest[1..]),
                };
                Some(self.value(&value_field)?)
            }
            Some(_) => {
                return Err(LdifError::at(
                    f.number,
                    format!("{expected}: found `{}` after the OID", shown(rest)),
                ))
            }
        };
        Ok(LdifControl {
            oid: oid.to_string(),
            critical,
            value,
        })
    }

    fn change(&self, line: &LogicalLine, body: &[LogicalLine]) -> Result<LdifChange, LdifError> {
        let f = field(line)?;
        let kind = self.keyword(&f)?;
        match kind.to_ascii_lowercase().as_str() {
            "add" => {
                if body.is_empty() {
                    return Err(LdifError::at(
                        f.number,
                        "`changetype: add` needs at least one `attribute: value` line",
                    ));
                }
                Ok(LdifChange::Add(self.attr_values(body)?))
            }
            "delete" => match body.first() {
                Some(extra) => Err(LdifError::at(
                    extra.number,
                    format!(
                        "expected the end of the record after `changetype: delete`, found `{}`",
                        shown(&extra.bytes)
                    ),
                )),
                None => Ok(LdifChange::Delete),
            },
            "modify" => Ok(LdifChange::Modify(self.modifications(body)?)),
            "modrdn" | "moddn" => self.moddn(&f, body),
            _ => Err(LdifError::at(
                f.number,
                format!(
                    "unknown changetype `{}`: expected add, delete, modify, modrdn or moddn",
                    shorten(kind)
                ),
            )),
        }
    }

    /// `*mod-spec`, each `op: attr`, values of that attribute, then `-`.
    fn modifications(&self, body: &[LogicalLine]) -> Result<Vec<LdifMod>, LdifError> {
        let mut mods = Vec::new();
        let mut index = 0;
        while let Some(head_line) = body.get(index) {
            let expected = "expected `add:`, `delete:`, `replace:` or `increment:` to start a modification";
            if is_mod_separator(head_line) {
                return Err(LdifError::at(head_line.number, format!("{expected}, found `-`")));
            }
            let head = field(head_line)?;
            let op = match head.name.to_ascii_lowercase().as_str() {
                "add" => ModOp::Add,
                "delete" => ModOp::Delete,
                "replace" => ModOp::Replace,
                // RFC 4525 §3 adds `increment:` to LDIF's mod-spec.
                "increment" => ModOp::Increment,
                _ => {
                    return Err(LdifError::at(
                        head.number,
                        format!("{expected}, found `{}:`", head.name),
                    ))
                }
            };
            let attr = self.keyword(&head)?;
            if !is_valid_attribute_description(attr) {
                return Err(LdifError::at(
                    head.number,
                    format!(
                        "expected an attribute description after `{}:`, found `{}`",
                        op.keyword(),
                        shorten(attr)
                    ),
                ));
            }
            index += 1;
            let mut values = Vec::new();
            // The closing `-` is required by RFC 2849; a missing one at the end of the record
            // is tolerated.
            while let Some(line) = body.get(index) {
                index += 1;
                if is_mod_separator(line) {
                    break;
                }
                let f = field(line)?;
                if !f.name.eq_ignore_ascii_case(attr) {
                    return Err(LdifError::at(
                        f.number,
                        format!(
                            "expected a value of `{attr}` or `-` to end the `{}: {attr}` modification, found `{}:`",
                            op.keyword(),
                            f.name
                        ),
                    ));
                }
                values.push(self.value(&f)?);
            }
            mods.push(LdifMod {
                op,
                attr: attr.to_string(),
                values,
            });
        }
        Ok(mods)
    }

    /// `newrdn:`, `deleteoldrdn: 0|1`, optional `newsuperior:`.
    fn moddn(&self, changetype: &Field<'_>, body: &[LogicalLine]) -> Result<LdifChange, LdifError> {
        let end_line = body.last().map_or(changetype.number, |l| l.number);
        let new_rdn = self.text(&expect_line(body, 0, "newrdn", "`newrdn:`", end_line)?)?;
        let delete_old_what = "`deleteoldrdn: 0` or `deleteoldrdn: 1`";
        let delete_old = expect_line(body, 1, "deleteoldrdn", delete_old_what, end_line)?;
        let delete_old_rdn = match self.keyword(&delete_old)? {
            "0" => false,
            "1" => true,
            other => {
                return Err(LdifError::at(
                    delete_old.number,
                    format!("expected {delete_old_what}, found `{}`", shorten(other)),
                ))
            }
        };
        let new_superior = match body.get(2) {
            Some(line) if named(line, "newsuperior") => Some(self.text(&field(line)?)?),
            _ => None,
        };
        let consumed = 2 + usize::from(new_superior.is_some());
        if let Some(extra) = body.get(consumed) {
            return Err(LdifError::at(
                extra.number,
                format!(
                    "expected `newsuperior:` or the end of the modrdn record, found `{}`",
                    shown(&extra.bytes)
                ),
            ));
        }
        Ok(LdifChange::ModDn {
            new_rdn,
            delete_old_rdn,
            new_superior,
        })
    }

    /// A value as bytes, whichever of the three value-spec forms it uses.
    fn value(&self, f: &Field<'_>) -> Result<Vec<u8>, LdifError> {
        match f.raw {
            Raw::Plain(bytes) => {
                // SAFE-CHAR excludes NUL, CR and LF (RFC 2849); such values must be base64.
                if let Some(bad) = bytes.iter().find(|b| **b == 0 || **b == b'\r') {
                    let what = if *bad == 0 { "NUL" } else { "CR" };
                    return Err(LdifError::at(
                        f.number,
                        format!(
                            "value of `{}` contains a {what} byte, which a plain value cannot hold: \
                             expected it base64-encoded (`{}:: …`)",
                            f.name, f.name
                        ),
                    ));
                }
                Ok(bytes.to_vec())
            }
            Raw::Base64(text) => base64_engine().decode(text).map_err(|e| {
                LdifError::at(
                    f.number,
                    format!("value of `{}::` is not valid base64 ({e})", f.name),
                )
            }),
            Raw::Url(url) => self.read_url(f, url),
        }
    }

    /// A DN or RDN: `name: text` or `name:: base64`, UTF-8 either way (RFC 2849 `dn-spec`).
    fn text(&self, f: &Field<'_>) -> Result<String, LdifError> {
        if let Raw::Url(_) = f.raw {
            return Err(LdifError::at(
                f.number,
                format!(
                    "`{}:<` is not allowed: expected `{0}: text` or `{0}:: base64`",
                    f.name
                ),
            ));
        }
        String::from_utf8(self.value(f)?)
            .map_err(|_| LdifError::at(f.number, format!("value of `{}` is not valid UTF-8", f.name)))
    }

    /// A keyword-valued line (`changetype: add`, `deleteoldrdn: 1`, `replace: mail`).
    fn keyword<'f>(&self, f: &Field<'f>) -> Result<&'f str, LdifError> {
        let Raw::Plain(bytes) = f.raw else {
            return Err(LdifError::at(
                f.number,
                format!("expected a plain `{}: …` line", f.name),
            ));
        };
        std::str::from_utf8(trim_spaces(bytes))
            .map_err(|_| LdifError::at(f.number, format!("value of `{}` is not valid UTF-8", f.name)))
    }

    fn read_url(&self, f: &Field<'_>, url: &[u8]) -> Result<Vec<u8>, LdifError> {
        if !self.options.allow_file_urls {
            return Err(LdifError::at(
                f.number,
                format!(
                    "`{}:<` URL values are disabled (ParseOptions::allow_file_urls)",
                    f.name
                ),
            ));
        }
        let url = std::str::from_utf8(url)
            .map_err(|_| LdifError::at(f.number, format!("URL of `{}:<` is not valid UTF-8", f.name)))?;
        let path = file_url_to_path(url, self.options.base_dir.as_deref())
            .map_err(|m| LdifError::at(f.number, m))?;
        std::fs::read(&path).map_err(|e| {
            LdifError::at(
                f.number,
                format!("cannot read {} for `{}:<`: {e}", path.display(), f.name),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse_each` hands records over as they are parsed: those before a bad one arrive, then
    /// the error with its line; a sink that says stop ends the parse.
    #[test]
    fn records_are_handed_over_before_a_later_error() {
        let text = b"version: 1\n\ndn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\ncn: b\n\ndn: CN=c,DC=x\ncn:: !!\n\ndn: CN=d,DC=x\n";
        let mut seen = Vec::new();
        let err = parse_each(text, &ParseOptions::default(), |r| {
            seen.push(r.dn().to_string());
            true
        })
        .unwrap_err();
        assert_eq!(seen, ["CN=a,DC=x", "CN=b,DC=x"]);
        assert_eq!(err.line, 10);
        let mut first = Vec::new();
        parse_each(text, &ParseOptions::default(), |r| {
            first.push(r.dn().to_string());
            false
        })
        .unwrap();
        assert_eq!(first, ["CN=a,DC=x"]);
        assert_eq!(
            parse_with(&text[..52], &ParseOptions::default()).unwrap().len(),
            2
        );
    }

    #[test]
    fn attribute_descriptions() {
        for ok in [
            "cn",
            "userCertificate;binary",
            "msDS-ManagedPassword",
            "2.5.4.3",
            "cn;lang-ja;x-1",
            "0.1",
        ] {
            assert!(is_valid_attribute_description(ok), "{ok}");
        }
        for bad in [
            "", "1cn", "cn;", "c n", "cn;a;", "-cn", "2", "2.05.4", "2..4", "cn_x", "é",
        ] {
            assert!(!is_valid_attribute_description(bad), "{bad}");
        }
    }
}
