//! The values of one attribute in a SearchResultEntry PDU (RFC 4511 §4.5.2:
//! `[APPLICATION 4] SEQUENCE { objectName, attributes SEQUENCE OF SEQUENCE { type, vals SET } }`).

use crate::wire::{op, read_tlv};
use anyhow::{bail, Result};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// The values of `attr` (case-insensitive) in the entry `pdu` (a whole LDAPMessage); empty when
/// the entry does not carry it.
pub fn values<'a>(pdu: &'a [u8], attr: &str) -> Result<Vec<&'a [u8]>> {
    let (id, message, _) = read_tlv(pdu)?;
    if id != SEQUENCE {
        bail!("LDAPMessage is not a SEQUENCE");
    }
    let (_, _msgid, rest) = read_tlv(message)?;
    let (id, entry, _) = read_tlv(rest)?;
    if id != op::SEARCH_RESULT_ENTRY {
        bail!("not a SearchResultEntry (0x{id:02x})");
    }
    let (_, _dn, rest) = read_tlv(entry)?;
    let (id, mut attributes, _) = read_tlv(rest)?;
    if id != SEQUENCE {
        bail!("attributes are not a SEQUENCE");
    }
    while !attributes.is_empty() {
        let (_, attribute, next) = read_tlv(attributes)?;
        attributes = next;
        let (_, name, rest) = read_tlv(attribute)?;
        if !name.eq_ignore_ascii_case(attr.as_bytes()) {
            continue;
        }
        let (id, mut set, _) = read_tlv(rest)?;
        if id != SET {
            bail!("vals of {attr} are not a SET");
        }
        let mut found = Vec::new();
        while !set.is_empty() {
            let (_, value, next) = read_tlv(set)?;
            found.push(value);
            set = next;
        }
        return Ok(found);
    }
    Ok(Vec::new())
}

/// The one value of `attr`, or an error naming what came instead.
pub fn single<'a>(pdu: &'a [u8], attr: &str) -> Result<&'a [u8]> {
    match values(pdu, attr)?.as_slice() {
        [one] => Ok(one),
        other => bail!("{attr}: {} values, expected 1", other.len()),
    }
}
