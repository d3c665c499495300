//! What a step observed, and how reports show values.

use adsim_simulator::gmsa::ManagedPasswordBlob;
use adsim_simulator::security::Sid;
use sha2::{Digest, Sha256};

use super::super::duration::format_seconds;
use super::super::ldap::{result_name, Outcome};

/// A fingerprint of a secret for reports: enough to tell two apart, nothing to recover it.
pub(super) fn fingerprint(secret_hex: &str) -> String {
    let d = Sha256::digest(secret_hex.as_bytes());
    format!("password#{}", hex::encode(&d[..4]))
}

/// How a step's answer is judged when `expect` says nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An LDAP-shaped result: success expected.
    Ldap,
    /// compareTrue expected.
    Compare,
    /// A ticket expected.
    Kerberos,
    /// Clock, snapshot, restore: no answer to judge.
    Control,
}

/// What a step observed.
pub(super) struct Observed {
    pub(super) kind: Kind,
    pub(super) summary: String,
    pub(super) lines: Vec<String>,
    pub(super) ldap: Option<Outcome>,
    pub(super) blob: Option<ManagedPasswordBlob>,
    pub(super) krb_error: Option<i32>,
    /// The client's domain SID and the PAC's group SIDs, when decoded.
    pub(super) pac_groups: Option<(Sid, Vec<Sid>)>,
    /// The domain a ticket's client belongs to (for group names).
    pub(super) ticket_domain: usize,
    /// The step's main value for `capture`.
    pub(super) value: Option<String>,
}

impl Observed {
    pub(super) fn new(kind: Kind, summary: String) -> Observed {
        Observed {
            kind,
            summary,
            lines: Vec::new(),
            ldap: None,
            blob: None,
            krb_error: None,
            pac_groups: None,
            ticket_domain: 0,
            value: None,
        }
    }

    pub(super) fn with_ldap(mut self, o: Outcome) -> Observed {
        self.lines.insert(0, describe_outcome(&o));
        self.ldap = Some(o);
        self
    }
}

pub(super) fn describe_code(code: u32) -> String {
    match result_name(code) {
        "" => code.to_string(),
        n => format!("{code} ({n})"),
    }
}

pub(super) fn describe_outcome(o: &Outcome) -> String {
    let mut s = String::new();
    if o.bind_failed {
        s.push_str("bind failed: ");
    }
    s.push_str(&describe_code(o.code));
    if !o.diagnostic.is_empty() {
        s.push_str(&format!(" \"{}\"", o.diagnostic));
    }
    if !o.entries.is_empty() {
        s.push_str(&format!(", {} entries", o.entries.len()));
    }
    s
}

/// A value as a report or a `values` expectation shows it: SIDs as S-1-…, GUIDs as text,
/// UTF-8 as is, anything else as hex.
pub(super) fn render_value(attr: &str, v: &[u8]) -> String {
    let a = attr.to_ascii_lowercase();
    if matches!(
        a.as_str(),
        "objectsid"
            | "sidhistory"
            | "tokengroups"
            | "tokengroupsglobalanduniversal"
            | "tokengroupsnogcacceptable"
    ) {
        if let Ok(sid) = Sid::from_bytes(v) {
            return sid.to_string();
        }
    }
    if a == "objectguid" && v.len() == 16 {
        if let Ok(b) = <[u8; 16]>::try_from(v) {
            return uuid::Uuid::from_bytes_le(b).to_string();
        }
    }
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(|c| c.is_control()) => s.to_string(),
        _ => format!("hex:{}", hex::encode(v)),
    }
}

/// A client clock offset: `in sync`, `+6m`, `-4m`.
pub(super) fn format_offset(secs: i64) -> String {
    match secs {
        0 => "in sync".into(),
        s if s > 0 => format!("+{}", format_seconds(s)),
        s => format_seconds(s),
    }
}

pub(super) fn utf16_hex(units_le: &[u8]) -> String {
    hex::encode(units_le)
}
