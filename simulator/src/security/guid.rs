//! GUIDs in Microsoft byte order over `uuid::Uuid` (MS-DTYP 2.3.4).
//!
//! On the wire and in every binary AD structure (object ACEs, objectGUID, KDSK ids) a GUID is
//! Data1 as u32 LE, Data2 as u16 LE, Data3 as u16 LE, then Data4 as 8 raw bytes
//! (MS-DTYP 2.3.4.2). `Uuid` keeps the RFC 4122 big-endian order, so conversions go through
//! `to_bytes_le`/`from_bytes_le`. The text form (MS-DTYP 2.3.4.3) is the same in both worlds.

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuidError {
    #[error("a binary GUID is exactly 16 bytes, got {0}")]
    BadLength(usize),
    #[error("not a GUID in 8-4-4-4-12 hex form: {0:?}")]
    BadText(String),
}

/// The 16 bytes of `g` in Microsoft (mixed-endian) order, as stored in ACEs and attributes.
pub fn to_ms_bytes(g: &Uuid) -> [u8; 16] {
    g.to_bytes_le()
}

/// The GUID whose Microsoft-order bytes are `b`.
pub fn from_ms_bytes(b: &[u8; 16]) -> Uuid {
    Uuid::from_bytes_le(*b)
}

/// Like [`from_ms_bytes`] for a slice that must hold exactly 16 bytes.
pub fn from_ms_slice(b: &[u8]) -> Result<Uuid, GuidError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| GuidError::BadLength(b.len()))?;
    Ok(from_ms_bytes(&arr))
}

/// Lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, the form SDDL and AD tools print
/// (and the RDN form of KDS root keys).
pub fn to_text(g: &Uuid) -> String {
    g.hyphenated().to_string()
}

/// `{xxxxxxxx-…}` as written by COM/PowerShell and in some LDAP tools.
pub fn to_braced_text(g: &Uuid) -> String {
    g.braced().to_string()
}

/// Parses the 36-character hyphenated form, optionally inside braces, any hex case.
/// The 32-digit and URN forms `Uuid::parse_str` would also take are refused: AD text never
/// uses them and accepting them would let typos through.
pub fn parse_text(s: &str) -> Result<Uuid, GuidError> {
    let bad = || GuidError::BadText(s.to_string());
    let inner = match s.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or_else(bad)?,
        None => s,
    };
    let hyphens_ok = inner.len() == 36
        && inner
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    if !hyphens_ok {
        return Err(bad());
    }
    Uuid::parse_str(inner).map_err(|_| bad())
}

/// The Microsoft-order bytes as an LDAP filter value (`\xx` per byte, RFC 4515 §3), the way a
/// client searches on `objectGUID` or `schemaIDGUID`.
pub fn to_ldap_filter_escaped(g: &Uuid) -> String {
    to_ms_bytes(g).iter().map(|b| format!("\\{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // MS-DTYP 2.3.4.2 layout: Data1 = 0x00112233 is stored as 33 22 11 00.
    #[test]
    fn ms_byte_order_swaps_the_first_three_fields() {
        let g = parse_text("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        assert_eq!(hex::encode(to_ms_bytes(&g)), "33221100554477668899aabbccddeeff");
        assert_eq!(from_ms_bytes(&to_ms_bytes(&g)), g);
        assert_eq!(from_ms_slice(&to_ms_bytes(&g)).unwrap(), g);
    }

    #[test]
    fn text_forms() {
        // The User-Force-Change-Password extended right as written in SDDL.
        let g = parse_text("{00299570-246D-11D0-A768-00AA006E0529}").unwrap();
        assert_eq!(to_text(&g), "00299570-246d-11d0-a768-00aa006e0529");
        assert_eq!(to_braced_text(&g), "{00299570-246d-11d0-a768-00aa006e0529}");
        assert_eq!(
            to_ldap_filter_escaped(&g),
            "\\70\\95\\29\\00\\6d\\24\\d0\\11\\a7\\68\\00\\aa\\00\\6e\\05\\29"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(from_ms_slice(&[0u8; 15]), Err(GuidError::BadLength(15)));
        for bad in [
            "",
            "00299570246d11d0a76800aa006e0529",
            "{00299570-246d-11d0-a768-00aa006e0529",
            "00299570-246d-11d0-a768-00aa006e052",
            "00299570-246d-11d0-a768-00aa006e05zz",
            "0029957-0246d-11d0-a768-00aa006e0529",
            "urn:uuid:00299570-246d-11d0-a768-00aa006e0529",
        ] {
            assert!(parse_text(bad).is_err(), "{bad:?} accepted");
        }
    }
}
