//! Deterministic LDIF output: records, attributes and values are written in the order given,
//! every value that is not a SAFE-STRING is base64-encoded, and lines are folded at 76 columns.
//!
//! Callers must pass valid attribute descriptions and numeric control OIDs (see
//! [`super::is_valid_attribute_description`]); the writer does not check them. A content record's
//! first attribute must not be named `changetype` or `control`, which would read back as a change
//! record, and a content or add record needs at least one attribute to read back at all.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{AttrValue, LdifChange, LdifControl, LdifRecord};

/// Longest output line. RFC 2849 only says lines "SHOULD" be folded; 76 is the conventional
/// width (the same as base64 in MIME, RFC 2045 §6.8).
const MAX_LINE: usize = 76;

/// Whether a value (or DN) must be written as `attr:: base64` rather than `attr: value`:
/// RFC 2849 SAFE-STRING excludes NUL, CR, LF and bytes above 0x7F anywhere, and a leading space,
/// colon or `<`; its note 8 asks that a trailing space be base64-encoded too.
pub fn needs_base64(value: &[u8]) -> bool {
    let unsafe_start = matches!(value.first(), Some(b' ' | b':' | b'<'));
    let unsafe_end = value.last() == Some(&b' ');
    unsafe_start
        || unsafe_end
        || value
            .iter()
            .any(|b| matches!(*b, 0 | b'\n' | b'\r' | 0x80..=0xFF))
}

/// One content record (`dn:` and its `attr: value` lines), ending with a newline.
pub fn write_content(dn: &str, attrs: &[AttrValue]) -> String {
    let mut out = String::new();
    push_content(&mut out, dn, attrs);
    out
}

/// One record, ending with a newline.
pub fn write_record(record: &LdifRecord) -> String {
    let mut out = String::new();
    push_record(&mut out, record);
    out
}

/// A whole LDIF file: `version: 1`, then each record preceded by a blank line.
pub fn write_all(records: &[LdifRecord]) -> String {
    let mut out = String::from("version: 1\n");
    for record in records {
        out.push('\n');
        push_record(&mut out, record);
    }
    out
}

fn push_record(out: &mut String, record: &LdifRecord) {
    match record {
        LdifRecord::Content { dn, attrs } => push_content(out, dn, attrs),
        LdifRecord::Change { dn, controls, change } => {
            push_value_line(out, "dn", dn.as_bytes());
            for control in controls {
                push_control(out, control);
            }
            push_change(out, change);
        }
    }
}

fn push_content(out: &mut String, dn: &str, attrs: &[AttrValue]) {
    push_value_line(out, "dn", dn.as_bytes());
    for (attr, value) in attrs {
        push_value_line(out, attr, value);
    }
}

fn push_change(out: &mut String, change: &LdifChange) {
    match change {
        LdifChange::Add(attrs) => {
            push_folded(out, "changetype: add");
            for (attr, value) in attrs {
                push_value_line(out, attr, value);
            }
        }
        LdifChange::Delete => push_folded(out, "changetype: delete"),
        LdifChange::Modify(mods) => {
            push_folded(out, "changetype: modify");
            for m in mods {
                push_folded(out, &format!("{}: {}", m.op.keyword(), m.attr));
                for value in &m.values {
                    push_value_line(out, &m.attr, value);
                }
                push_folded(out, "-");
            }
        }
        LdifChange::ModDn {
            new_rdn,
            delete_old_rdn,
            new_superior,
        } => {
            push_folded(out, "changetype: modrdn");
            push_value_line(out, "newrdn", new_rdn.as_bytes());
            push_folded(
                out,
                if *delete_old_rdn {
                    "deleteoldrdn: 1"
                } else {
                    "deleteoldrdn: 0"
                },
            );
            if let Some(superior) = new_superior {
                push_value_line(out, "newsuperior", superior.as_bytes());
            }
        }
    }
}

/// `control: oid[ true][value-spec]`; criticality defaults to false, so only `true` is written.
fn push_control(out: &mut String, control: &LdifControl) {
    let mut line = format!("control: {}", control.oid);
    if control.critical {
        line.push_str(" true");
    }
    if let Some(value) = &control.value {
        line.push_str(&value_spec(value));
    }
    push_folded(out, &line);
}

fn push_value_line(out: &mut String, attr: &str, value: &[u8]) {
    push_folded(out, &format!("{attr}{}", value_spec(value)));
}

/// `: value`, `:: base64`, or a bare `:` for the empty value.
fn value_spec(value: &[u8]) -> String {
    if value.is_empty() {
        ":".to_string()
    } else if needs_base64(value) {
        format!(":: {}", STANDARD.encode(value))
    } else {
        // needs_base64 rejected every byte above 0x7F, so this is ASCII.
        format!(": {}", String::from_utf8_lossy(value))
    }
}

/// Appends `line` and a newline, folded so that no output line exceeds [`MAX_LINE`] bytes:
/// each continuation line is one space plus the next piece (RFC 2849 note 2).
fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    let mut width = MAX_LINE;
    loop {
        if rest.len() <= width {
            out.push_str(rest);
            out.push('\n');
            return;
        }
        // Output is ASCII when callers follow the rules above; still never split a character.
        let mut cut = width;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\n ");
        rest = &rest[cut..];
        width = MAX_LINE - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_string_rules() {
        assert!(!needs_base64(b"plain value"));
        assert!(!needs_base64(b"a:b<c"));
        assert!(!needs_base64(b""));
        for unsafe_value in [
            &b" lead"[..],
            b":colon",
            b"<lt",
            b"trail ",
            b"a\0b",
            b"a\rb",
            b"a\nb",
            "é".as_bytes(),
        ] {
            assert!(needs_base64(unsafe_value), "{unsafe_value:?}");
        }
    }

    #[test]
    fn folds_at_76_columns() {
        let mut out = String::new();
        let line = "x".repeat(76 + 75 + 10);
        push_folded(&mut out, &line);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), 76);
        assert_eq!(lines[1].len(), 76);
        assert_eq!(lines[2], format!(" {}", "x".repeat(10)));
        let mut exact = String::new();
        push_folded(&mut exact, &"y".repeat(76));
        assert_eq!(exact.lines().count(), 1);
    }

    #[test]
    fn folding_never_splits_a_character() {
        let mut out = String::new();
        push_folded(&mut out, &"é".repeat(100));
        let joined: String = out.split("\n ").collect::<String>();
        assert_eq!(joined.trim_end(), "é".repeat(100));
    }
}
