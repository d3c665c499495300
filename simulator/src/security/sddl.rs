//! SDDL text form of security descriptors (MS-DTYP 2.5.1): parse and canonical format.
//!
//! Grammar (MS-DTYP 2.5.1.1): `O:sid G:sid D:flags(ace)… S:flags(ace)…`, each section at most
//! once. ACE: `(type;flags;rights;object_guid;inherit_object_guid;sid)`. Supported ACE types are
//! the six of [`AceType`]; conditional, callback, label and resource-attribute ACEs are refused.
//!
//! Format follows what Windows' ConvertSecurityDescriptorToStringSecurityDescriptor prints:
//! sections in O G D S order, ACL flags P AR AI, ACE flags and right letters in ascending bit
//! order (`CCDCLCSWRPWPDTLOCRSDRCWDWO`), a named composite (FA, FR, FW, FX, KA, KR, KW) only
//! when the mask equals it, lower-case `0x…` hex when a bit has no letter, lower-case GUIDs,
//! and a SID alias wherever one exists for the domains given.

use std::fmt::Write as _;

use uuid::Uuid;

use super::acl::{Ace, AceFlags, AceType, Acl, StandardAce};
use super::descriptor::{control, SecurityDescriptor};
use super::guid;
use super::rights::*;
use super::sid::Sid;
use super::well_known::{AliasDomains, AliasError};

/// The domains that domain-relative aliases (DA, EA, …) resolve against.
pub type SddlContext = AliasDomains;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SddlError {
    #[error("SDDL syntax error at byte {at}: {what}")]
    Syntax { at: usize, what: String },
    #[error(transparent)]
    Alias(#[from] AliasError),
    #[error("bad SID {0:?} in SDDL")]
    BadSid(String),
    #[error("bad GUID {0:?} in SDDL")]
    BadGuid(String),
    #[error("SDDL cannot express {0}")]
    NotRepresentable(String),
}

fn syntax(at: usize, what: impl Into<String>) -> SddlError {
    SddlError::Syntax {
        at,
        what: what.into(),
    }
}

const ACE_TYPES: [(&str, AceType); 6] = [
    ("A", AceType::AccessAllowed),
    ("D", AceType::AccessDenied),
    ("AU", AceType::SystemAudit),
    ("OA", AceType::AccessAllowedObject),
    ("OD", AceType::AccessDeniedObject),
    ("OU", AceType::SystemAuditObject),
];

/// MS-DTYP 2.5.1.1 ace-flag-string, in bit order.
const ACE_FLAGS: [(&str, u8); 7] = [
    ("OI", 0x01),
    ("CI", 0x02),
    ("NP", 0x04),
    ("IO", 0x08),
    ("ID", 0x10),
    ("SA", 0x40),
    ("FA", 0x80),
];

/// Single-bit rights in ascending bit order (MS-DTYP 2.5.1.1 text-rights-string).
const RIGHT_BITS: [(&str, u32); 17] = [
    ("CC", RIGHT_DS_CREATE_CHILD),
    ("DC", RIGHT_DS_DELETE_CHILD),
    ("LC", RIGHT_DS_LIST),
    ("SW", RIGHT_DS_SELF),
    ("RP", RIGHT_DS_READ_PROPERTY),
    ("WP", RIGHT_DS_WRITE_PROPERTY),
    ("DT", RIGHT_DS_DELETE_TREE),
    ("LO", RIGHT_DS_LIST_OBJECT),
    ("CR", RIGHT_DS_CONTROL_ACCESS),
    ("SD", DELETE),
    ("RC", READ_CONTROL),
    ("WD", WRITE_DAC),
    ("WO", WRITE_OWNER),
    ("GA", GENERIC_ALL),
    ("GX", GENERIC_EXECUTE),
    ("GW", GENERIC_WRITE),
    ("GR", GENERIC_READ),
];

/// File and registry composites (MS-DTYP 2.5.1.1; values from winnt.h FILE_* / KEY_*).
/// KX equals KR, so formatting prints KR.
const RIGHT_COMPOSITES: [(&str, u32); 8] = [
    ("FA", 0x001f_01ff),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00a0),
    ("KA", 0x000f_003f),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
];

/// Parses SDDL into a descriptor in Windows' binary layout (SACL, DACL, owner, group).
pub fn parse(text: &str, ctx: &SddlContext) -> Result<SecurityDescriptor, SddlError> {
    let mut sd = SecurityDescriptor::new(None, None, None, None);
    let mut seen = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let tag = text[at..].chars().next().unwrap_or(' ');
        if !matches!(tag, 'O' | 'G' | 'D' | 'S') || text.as_bytes().get(at + 1) != Some(&b':') {
            return Err(syntax(at, "expected O:, G:, D: or S:"));
        }
        if seen.contains(&tag) {
            return Err(syntax(at, format!("{tag}: appears twice")));
        }
        seen.push(tag);
        let start = at + 2;
        let end = section_end(text, start);
        let value = &text[start..end];
        match tag {
            'O' => sd.owner = Some(parse_sid(value, start, ctx)?),
            'G' => sd.group = Some(parse_sid(value, start, ctx)?),
            'D' => {
                let (flags, acl) = parse_acl(value, start, ctx)?;
                sd.control |= control::DACL_PRESENT
                    | pick(
                        flags,
                        control::DACL_PROTECTED,
                        control::DACL_AUTO_INHERIT_REQ,
                        control::DACL_AUTO_INHERITED,
                    );
                sd.dacl = acl;
            }
            _ => {
                let (flags, acl) = parse_acl(value, start, ctx)?;
                sd.control |= control::SACL_PRESENT
                    | pick(
                        flags,
                        control::SACL_PROTECTED,
                        control::SACL_AUTO_INHERIT_REQ,
                        control::SACL_AUTO_INHERITED,
                    );
                sd.sacl = acl;
            }
        }
        at = end;
    }
    Ok(sd)
}

/// ACL flag letters seen, as bits: 1 = P, 2 = AR, 4 = AI.
const FLAG_P: u8 = 1;
const FLAG_AR: u8 = 2;
const FLAG_AI: u8 = 4;

fn pick(flags: u8, protected: u16, auto_inherit_req: u16, auto_inherited: u16) -> u16 {
    let mut out = 0;
    if flags & FLAG_P != 0 {
        out |= protected;
    }
    if flags & FLAG_AR != 0 {
        out |= auto_inherit_req;
    }
    if flags & FLAG_AI != 0 {
        out |= auto_inherited;
    }
    out
}

/// Where the section starting at `from` ends: at the next `X:` tag outside parentheses. A tag
/// letter is always the character right before the colon, so an owner such as `SY` followed by
/// `D:` splits as `SY` | `D:`.
fn section_end(text: &str, from: usize) -> usize {
    let b = text.as_bytes();
    let mut depth = 0i32;
    for i in from..b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'O' | b'G' | b'D' | b'S' if depth == 0 && b.get(i + 1) == Some(&b':') => return i,
            _ => {}
        }
    }
    b.len()
}

fn parse_sid(value: &str, at: usize, ctx: &SddlContext) -> Result<Sid, SddlError> {
    if value.starts_with("S-") || value.starts_with("s-") {
        // MS-DTYP 2.4.2.1 string form; a lower-case "s" is accepted as Windows does.
        let upper = format!("S{}", &value[1..]);
        return upper.parse().map_err(|_| SddlError::BadSid(value.to_string()));
    }
    if value.len() != 2 {
        return Err(syntax(
            at,
            format!("{value:?} is neither a SID nor a two-letter alias"),
        ));
    }
    Ok(ctx.resolve(value)?)
}

/// Parses `flags(ace)(ace)…`; returns the flag bits and the ACL (`None` for NO_ACCESS_CONTROL).
fn parse_acl(value: &str, at: usize, ctx: &SddlContext) -> Result<(u8, Option<Acl>), SddlError> {
    let aces_start = value.find('(').unwrap_or(value.len());
    let mut flags = 0u8;
    let mut null_acl = false;
    let mut rest = &value[..aces_start];
    while !rest.is_empty() {
        let (bit, len) = if rest.starts_with("NO_ACCESS_CONTROL") {
            null_acl = true;
            (0, "NO_ACCESS_CONTROL".len())
        } else if rest.starts_with("AR") {
            (FLAG_AR, 2)
        } else if rest.starts_with("AI") {
            (FLAG_AI, 2)
        } else if rest.starts_with('P') {
            (FLAG_P, 1)
        } else {
            return Err(syntax(
                at + aces_start - rest.len(),
                format!("unknown ACL flag in {rest:?}"),
            ));
        };
        flags |= bit;
        rest = &rest[len..];
    }
    let mut aces = Vec::new();
    let mut pos = aces_start;
    while pos < value.len() {
        if !value[pos..].starts_with('(') {
            return Err(syntax(at + pos, "expected '(' to start an ACE"));
        }
        let close = value[pos..]
            .find(')')
            .map(|c| pos + c)
            .ok_or_else(|| syntax(at + pos, "ACE without ')'"))?;
        aces.push(Ace::Standard(parse_ace(
            &value[pos + 1..close],
            at + pos + 1,
            ctx,
        )?));
        pos = close + 1;
    }
    if null_acl {
        if !aces.is_empty() {
            return Err(syntax(at, "NO_ACCESS_CONTROL with ACEs"));
        }
        return Ok((flags, None));
    }
    Ok((flags, Some(Acl::new(aces))))
}

fn parse_ace(body: &str, at: usize, ctx: &SddlContext) -> Result<StandardAce, SddlError> {
    let fields: Vec<&str> = body.split(';').collect();
    if fields.len() != 6 {
        return Err(syntax(at, format!("an ACE has 6 fields, found {}", fields.len())));
    }
    let ace_type = ACE_TYPES
        .iter()
        .find(|(code, _)| *code == fields[0])
        .map(|(_, t)| *t)
        .ok_or_else(|| syntax(at, format!("unsupported ACE type {:?}", fields[0])))?;
    let flags = parse_letters(fields[1], &ACE_FLAGS.map(|(c, f)| (c, u32::from(f))))
        .ok_or_else(|| syntax(at, format!("bad ACE flags {:?}", fields[1])))? as u8;
    let mask = parse_rights(fields[2]).ok_or_else(|| syntax(at, format!("bad rights {:?}", fields[2])))?;
    let object_type = parse_opt_guid(fields[3])?;
    let inherited_object_type = parse_opt_guid(fields[4])?;
    if !ace_type.is_object() && (object_type.is_some() || inherited_object_type.is_some()) {
        return Err(syntax(at, "object GUIDs on a non-object ACE"));
    }
    Ok(StandardAce {
        ace_type,
        flags: AceFlags(flags),
        mask,
        object_type,
        inherited_object_type,
        sid: parse_sid(fields[5], at, ctx)?,
        extra: Vec::new(),
    })
}

/// A run of two-letter codes from `table`, OR-ed together. Empty gives 0.
fn parse_letters(s: &str, table: &[(&str, u32)]) -> Option<u32> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).try_fold(0u32, |acc, i| {
        let code = &s[i..i + 2];
        table.iter().find(|(c, _)| *c == code).map(|(_, v)| acc | v)
    })
}

/// MS-DTYP 2.5.1.1 ace-rights: letters, `0x` hex, `0` octal or decimal.
fn parse_rights(s: &str) -> Option<u32> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        // from_str_radix would also take a sign; SDDL allows hex digits only.
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return u32::from_str_radix(hex, 16).ok();
    }
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return if s.len() > 1 && s.starts_with('0') {
            u32::from_str_radix(&s[1..], 8).ok()
        } else {
            s.parse().ok()
        };
    }
    let table: Vec<(&str, u32)> = RIGHT_BITS
        .iter()
        .chain(RIGHT_COMPOSITES.iter())
        .copied()
        .collect();
    parse_letters(s, &table)
}

fn parse_opt_guid(s: &str) -> Result<Option<Uuid>, SddlError> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() != 36 {
        return Err(SddlError::BadGuid(s.to_string()));
    }
    guid::parse_text(s)
        .map(Some)
        .map_err(|_| SddlError::BadGuid(s.to_string()))
}

/// Canonical SDDL for `sd`. Control bits SDDL has no letters for (…_DEFAULTED, RM_CONTROL_VALID,
/// …) and unused ACL space are dropped, as Windows does; ACL content SDDL cannot express
/// (opaque ACE types, ACE flag 0x20, bytes after an ACE's SID) is an error.
pub fn format(sd: &SecurityDescriptor, ctx: &SddlContext) -> Result<String, SddlError> {
    let mut out = String::new();
    if let Some(owner) = &sd.owner {
        out.push_str("O:");
        out.push_str(&format_sid(owner, ctx));
    }
    if let Some(group) = &sd.group {
        out.push_str("G:");
        out.push_str(&format_sid(group, ctx));
    }
    if sd.has_control(control::DACL_PRESENT) {
        out.push_str("D:");
        push_acl_flags(
            &mut out,
            sd.control,
            control::DACL_PROTECTED,
            control::DACL_AUTO_INHERIT_REQ,
            control::DACL_AUTO_INHERITED,
        );
        push_acl(&mut out, sd.dacl.as_ref(), ctx)?;
    }
    if sd.has_control(control::SACL_PRESENT) {
        out.push_str("S:");
        push_acl_flags(
            &mut out,
            sd.control,
            control::SACL_PROTECTED,
            control::SACL_AUTO_INHERIT_REQ,
            control::SACL_AUTO_INHERITED,
        );
        push_acl(&mut out, sd.sacl.as_ref(), ctx)?;
    }
    Ok(out)
}

fn push_acl_flags(out: &mut String, ctl: u16, protected: u16, req: u16, inherited: u16) {
    for (bit, text) in [(protected, "P"), (req, "AR"), (inherited, "AI")] {
        if ctl & bit != 0 {
            out.push_str(text);
        }
    }
}

fn push_acl(out: &mut String, acl: Option<&Acl>, ctx: &SddlContext) -> Result<(), SddlError> {
    let Some(acl) = acl else {
        out.push_str("NO_ACCESS_CONTROL");
        return Ok(());
    };
    for ace in &acl.aces {
        let Ace::Standard(ace) = ace else {
            return Err(SddlError::NotRepresentable(format!(
                "ACE type {:#04x}",
                ace.type_code()
            )));
        };
        push_ace(out, ace, ctx)?;
    }
    Ok(())
}

fn push_ace(out: &mut String, ace: &StandardAce, ctx: &SddlContext) -> Result<(), SddlError> {
    if !ace.extra.is_empty() {
        return Err(SddlError::NotRepresentable("data after an ACE's SID".into()));
    }
    let type_code = ACE_TYPES
        .iter()
        .find(|(_, t)| *t == ace.ace_type)
        .map(|(c, _)| *c)
        .unwrap_or("A");
    out.push('(');
    out.push_str(type_code);
    out.push(';');
    let mut flags = ace.flags.0;
    for (code, bit) in ACE_FLAGS {
        if flags & bit != 0 {
            out.push_str(code);
            flags &= !bit;
        }
    }
    if flags != 0 {
        return Err(SddlError::NotRepresentable(format!("ACE flags {flags:#04x}")));
    }
    out.push(';');
    out.push_str(&format_rights(ace.mask));
    out.push(';');
    if let Some(g) = &ace.object_type {
        out.push_str(&guid::to_text(g));
    }
    out.push(';');
    if let Some(g) = &ace.inherited_object_type {
        out.push_str(&guid::to_text(g));
    }
    out.push(';');
    out.push_str(&format_sid(&ace.sid, ctx));
    out.push(')');
    Ok(())
}

/// Rights text: a composite name on exact match, else the bit letters, else hex.
pub fn format_rights(mask: u32) -> String {
    if let Some((name, _)) = RIGHT_COMPOSITES.iter().find(|(_, v)| *v == mask) {
        return (*name).to_string();
    }
    let lettered: u32 = RIGHT_BITS.iter().map(|(_, v)| v).fold(0, |a, v| a | v);
    if mask & !lettered != 0 {
        return format!("0x{mask:x}");
    }
    let mut out = String::new();
    for (code, bit) in RIGHT_BITS {
        if mask & bit != 0 {
            let _ = write!(out, "{code}");
        }
    }
    out
}

/// A SID as its alias when there is one, otherwise `S-1-…`.
pub fn format_sid(sid: &Sid, ctx: &SddlContext) -> String {
    match ctx.alias_of(sid) {
        Some(alias) => alias.to_string(),
        None => sid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_text() {
        assert_eq!(format_rights(0x000f_01ff), "CCDCLCSWRPWPDTLOCRSDRCWDWO");
        assert_eq!(format_rights(0x0002_0094), "LCRPLORC");
        assert_eq!(format_rights(0x001f_01ff), "FA");
        assert_eq!(format_rights(0x0012_019f), "0x12019f");
        assert_eq!(format_rights(0), "");
        assert_eq!(parse_rights("FRFW"), Some(0x0012_019f));
        assert_eq!(parse_rights("0x0f01ff"), Some(0x000f_01ff));
        assert_eq!(parse_rights("010"), Some(8));
        assert_eq!(parse_rights("16"), Some(16));
        assert_eq!(parse_rights(""), Some(0));
        assert_eq!(parse_rights("RPX"), None);
        assert_eq!(parse_rights("ZZ"), None);
        assert_eq!(parse_rights("0x1ffffffff"), None);
        assert_eq!(parse_rights("09"), None);
        assert_eq!(parse_rights("0x+1f"), None);
        assert_eq!(parse_rights("0x"), None);
    }

    #[test]
    fn section_splitting_around_aliases() {
        let ctx = SddlContext::single("S-1-5-21-1-2-3".parse().unwrap());
        let sd = parse("O:DAG:DGD:(A;;RP;;;WD)", &ctx).unwrap();
        assert_eq!(sd.owner.unwrap().to_string(), "S-1-5-21-1-2-3-512");
        assert_eq!(sd.group.unwrap().to_string(), "S-1-5-21-1-2-3-514");
        let sd = parse("O:ASS:(AU;SA;RP;;;WD)", &ctx).unwrap();
        assert_eq!(sd.owner.unwrap().to_string(), "S-1-18-1");
        assert!(sd.sacl.is_some());
    }
}
