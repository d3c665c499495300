//! LDIF (RFC 2849): parsing and writing of content and change records, written by hand.
//!
//! * [`parse`] / [`parse_bytes`] / [`parse_with`] / [`parse_file`] read a whole LDIF file into
//!   [`LdifRecord`]s; [`parse_each`] hands them over one at a time as they are parsed. Malformed
//!   input gives an [`LdifError`] with the line number, never a panic.
//! * [`write_content`] / [`write_record`] / [`write_all`] produce deterministic LDIF: the writer
//!   never reorders records, attributes or values, base64-encodes every value that is not a
//!   SAFE-STRING and folds lines at 76 columns, so `parse(write_all(r)) == r`.
//! * [`generate_users`] makes a population of user entries for benchmarks and paged-search tests.
//!
//! Leniencies of the parser (all accepted by common tools such as OpenLDAP's ldapmodify):
//! `version: 1` may be omitted; content and change records may be mixed in one file;
//! keywords (`dn`, `changetype`, `add`, …) are matched case-insensitively (ABNF literals are
//! case-insensitive, RFC 5234 §2.3); plain values may hold UTF-8 (RFC 2849 wants it base64);
//! the final `-` of a modify record may be omitted.

mod generate;
mod lines;
mod parse;
mod url;
mod write;

use std::fmt;

pub use generate::{generate_user_records, generate_users, upn_suffix_of};
pub use parse::{
    is_valid_attribute_description, parse, parse_bytes, parse_each, parse_file, parse_with, read_file,
    ParseOptions,
};
pub use write::{needs_base64, write_all, write_content, write_record};

/// One attribute description (type plus options, e.g. `userCertificate;binary`) and one value.
pub type AttrValue = (String, Vec<u8>);

/// One record of an LDIF file.
#[derive(Clone, PartialEq, Eq)]
pub enum LdifRecord {
    /// `ldif-attrval-record`: an entry with its attribute values, in file order.
    Content { dn: String, attrs: Vec<AttrValue> },
    /// `ldif-change-record`: an update to apply, with its LDAP controls.
    Change {
        dn: String,
        controls: Vec<LdifControl>,
        change: LdifChange,
    },
}

impl LdifRecord {
    /// The record's distinguished name.
    pub fn dn(&self) -> &str {
        match self {
            LdifRecord::Content { dn, .. } | LdifRecord::Change { dn, .. } => dn,
        }
    }
}

/// A `control:` line (RFC 2849 `control` production).
#[derive(Clone, PartialEq, Eq)]
pub struct LdifControl {
    pub oid: String,
    pub critical: bool,
    pub value: Option<Vec<u8>>,
}

/// The operation of a change record.
#[derive(Clone, PartialEq, Eq)]
pub enum LdifChange {
    /// `changetype: add` with the new entry's attribute values.
    Add(Vec<AttrValue>),
    /// `changetype: delete`.
    Delete,
    /// `changetype: modify` with its modifications in order.
    Modify(Vec<LdifMod>),
    /// `changetype: modrdn` or `changetype: moddn` (the two are synonyms in RFC 2849).
    ModDn {
        new_rdn: String,
        delete_old_rdn: bool,
        new_superior: Option<String>,
    },
}

/// One `add:` / `delete:` / `replace:` / `increment:` block of a modify record.
#[derive(Clone, PartialEq, Eq)]
pub struct LdifMod {
    pub op: ModOp,
    /// The attribute description named on the `add:`/`delete:`/… line.
    pub attr: String,
    pub values: Vec<Vec<u8>>,
}

/// Modification kinds: RFC 2849 `mod-spec`, plus `increment` from RFC 4525 §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModOp {
    Add,
    Delete,
    Replace,
    Increment,
}

impl ModOp {
    /// The LDIF keyword for this operation.
    pub fn keyword(self) -> &'static str {
        match self {
            ModOp::Add => "add",
            ModOp::Delete => "delete",
            ModOp::Replace => "replace",
            ModOp::Increment => "increment",
        }
    }
}

/// A parse failure. `line` is the 1-based physical line where the offending (possibly folded)
/// line starts; 0 when the failure is not tied to a line (e.g. the file cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LDIF line {line}: {message}")]
pub struct LdifError {
    pub line: usize,
    pub message: String,
}

impl LdifError {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> LdifError {
        LdifError {
            line,
            message: message.into(),
        }
    }
}

/// Attributes whose values are password material: their values never appear in Debug output.
/// (unicodePwd, userPassword and clearTextPassword carry passwords written by clients, MS-SAMR
/// 3.1.1.3; the others hold stored secrets, e.g. MS-ADA3 2.287 supplementalCredentials "neither
/// readable nor writable", trust and LSA secret values, gMSA passwords and KDS root keys.)
const SECRET_ATTRIBUTES: &[&str] = &[
    "unicodePwd",
    "userPassword",
    "clearTextPassword",
    "dBCSPwd",
    "ntPwdHistory",
    "lmPwdHistory",
    "supplementalCredentials",
    "currentValue",
    "priorValue",
    "trustAuthIncoming",
    "trustAuthOutgoing",
    "initialAuthIncoming",
    "initialAuthOutgoing",
    "msDS-ManagedPassword",
    "msKds-RootKeyData",
];

fn is_secret(attr: &str) -> bool {
    let ty = attr.split(';').next().unwrap_or(attr);
    SECRET_ATTRIBUTES.iter().any(|s| s.eq_ignore_ascii_case(ty))
}

/// Debug view of one value: text when it is UTF-8, hex otherwise, redacted for secrets.
struct ValueDebug<'a> {
    attr: &'a str,
    value: &'a [u8],
}

impl fmt::Debug for ValueDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_secret(self.attr) {
            return write!(f, "<redacted {} bytes>", self.value.len());
        }
        match std::str::from_utf8(self.value) {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => {
                f.write_str("0x")?;
                self.value.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

struct AttrsDebug<'a>(&'a [AttrValue]);

impl fmt::Debug for AttrsDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(a, v)| (a, ValueDebug { attr: a, value: v })))
            .finish()
    }
}

impl fmt::Debug for LdifRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LdifRecord::Content { dn, attrs } => f
                .debug_struct("Content")
                .field("dn", dn)
                .field("attrs", &AttrsDebug(attrs))
                .finish(),
            LdifRecord::Change { dn, controls, change } => f
                .debug_struct("Change")
                .field("dn", dn)
                .field("controls", controls)
                .field("change", change)
                .finish(),
        }
    }
}

impl fmt::Debug for LdifControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdifControl")
            .field("oid", &self.oid)
            .field("critical", &self.critical)
            .field(
                "value",
                &self.value.as_deref().map(|v| ValueDebug { attr: "", value: v }),
            )
            .finish()
    }
}

impl fmt::Debug for LdifChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LdifChange::Add(attrs) => f.debug_tuple("Add").field(&AttrsDebug(attrs)).finish(),
            LdifChange::Delete => f.write_str("Delete"),
            LdifChange::Modify(mods) => f.debug_tuple("Modify").field(mods).finish(),
            LdifChange::ModDn {
                new_rdn,
                delete_old_rdn,
                new_superior,
            } => f
                .debug_struct("ModDn")
                .field("new_rdn", new_rdn)
                .field("delete_old_rdn", delete_old_rdn)
                .field("new_superior", new_superior)
                .finish(),
        }
    }
}

impl fmt::Debug for LdifMod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<_> = self
            .values
            .iter()
            .map(|v| ValueDebug {
                attr: &self.attr,
                value: v,
            })
            .collect();
        f.debug_struct("LdifMod")
            .field("op", &self.op)
            .field("attr", &self.attr)
            .field("values", &values)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_password_values() {
        let record = LdifRecord::Content {
            dn: "CN=a".into(),
            attrs: vec![
                ("unicodePwd".into(), b"\"Secret1!\"".to_vec()),
                ("cn".into(), b"a".to_vec()),
                ("jpegPhoto".into(), vec![0xff, 0x00]),
            ],
        };
        let text = format!("{record:?}");
        assert!(!text.contains("Secret1"), "{text}");
        assert!(text.contains("<redacted 10 bytes>"), "{text}");
        assert!(text.contains("0xff00"), "{text}");
        let modify = LdifChange::Modify(vec![LdifMod {
            op: ModOp::Replace,
            attr: "UNICODEPWD;x".into(),
            values: vec![b"hunter2".to_vec()],
        }]);
        assert!(!format!("{modify:?}").contains("hunter2"));
    }
}
